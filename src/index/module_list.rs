//! Finding modules without the index, the last resort when modinit.idx is missing or corrupt:
//! a module's file through modules.order (the kernel build's list, one `kernel/DIR/NAME.ko`
//! per line) and its dependencies through its own `.modinfo` `depends=`, which the kernel
//! build (modpost) writes from the symbols the module needs.
//!
//! No aliases, no modprobe.d: those live in the index only.

use crate::module_file::modinfo::Modinfo;
use crate::name::same_module_name;

/// The line of the modules.order-style `list` that names module `name`: the module's path
/// relative to the modules dir, without compression suffix. Lines whose path could leave
/// the modules dir are never returned.
pub fn find<'l>(list: &'l [u8], name: &[u8]) -> Option<&'l [u8]> {
    list.split(|&b| b == b'\n').find(|line| {
        let file = line.rsplit(|&b| b == b'/').next().unwrap_or(line);
        let named = file.strip_suffix(b".ko").is_some_and(|stem| !stem.is_empty() && same_module_name(stem, name));
        named && stays_inside(line)
    })
}

/// A relative path without `.`, `..` or empty components: it names a file inside the
/// directory it is relative to.
pub fn stays_inside(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').all(|part| !part.is_empty() && !crate::index::format::is_dot_or_dot_dot(part))
}

/// The module names of `modinfo`'s `depends=` (comma-separated; empty for none), in order.
pub fn dependencies<'a>(modinfo: &Modinfo<'a>) -> impl Iterator<Item = &'a [u8]> + use<'a> {
    modinfo.values(b"depends").flat_map(|v| v.split(|&b| b == b',')).filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const ORDER: &[u8] =
        b"kernel/fs/fat/fat.ko\nkernel/fs/fat/vfat.ko\nkernel/sound/pci/hda/snd-hda-intel.ko\n../evil.ko\nkernel/.ko\n";

    #[test]
    fn finds_a_module_by_its_normalized_name() {
        assert_eq!(find(ORDER, b"vfat"), Some(&b"kernel/fs/fat/vfat.ko"[..]));
        assert_eq!(find(ORDER, b"snd_hda_intel"), Some(&b"kernel/sound/pci/hda/snd-hda-intel.ko"[..]));
        assert_eq!(find(ORDER, b"fa"), None);
        assert_eq!(find(ORDER, b"evil"), None, "a path leaving the modules dir");
        assert_eq!(find(ORDER, b""), None);
    }

    #[test]
    fn paths_inside_have_no_dot_dot_or_empty_parts() {
        assert!(stays_inside(b"kernel/fs/x.ko") && stays_inside(b"x.ko") && stays_inside(b"kernel/..x/.y.ko"));
        for bad in [&b"/abs.ko"[..], b"../x.ko", b"a/../../x.ko", b"a/./x.ko", b"a//x.ko", b""] {
            assert!(!stays_inside(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    /// Against the real tree: modules.order names every module's file, and `depends=` gives
    /// what kmod's modules.dep (built from symbols) lists first-level.
    #[test]
    fn the_real_tree_lists_vfat_and_its_dependency() {
        let Some(tree) = modinit_test_fixtures::real_module_tree() else { return };
        let order = std::fs::read(tree.join("modules.order")).unwrap();
        let path = find(&order, b"vfat").unwrap();
        assert_eq!(path, b"kernel/fs/fat/vfat.ko");
        let image = std::fs::read(tree.join(String::from_utf8_lossy(path).as_ref())).unwrap();
        let modinfo = Modinfo::from_elf(&image).unwrap();
        assert_eq!(dependencies(&modinfo).collect::<Vec<_>>(), [b"fat"]);
        let ipip = std::fs::read(tree.join(String::from_utf8_lossy(find(&order, b"ipip").unwrap()).as_ref())).unwrap();
        let mut deps: Vec<&[u8]> = dependencies(&Modinfo::from_elf(&ipip).unwrap()).collect();
        deps.sort();
        assert_eq!(deps, [&b"ip_tunnel"[..], b"tunnel4"]);
        let dummy =
            std::fs::read(tree.join(String::from_utf8_lossy(find(&order, b"dummy").unwrap()).as_ref())).unwrap();
        assert_eq!(dependencies(&Modinfo::from_elf(&dummy).unwrap()).count(), 0, "depends= is empty");
    }
}
