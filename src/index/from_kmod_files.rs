//! An index for a tree that kmod's depmod indexed and modinit's did not: the modules, their
//! dependencies and aliases as modules.dep and modules.alias list them, the builtins from
//! modules.builtin and modules.builtin.modinfo. The applets build it in memory when the module
//! directory has no `modinit.idx`; kmod's answers depend on nothing else these files leave out
//! (its modprobe.d, with modules.softdep among its files, is read apart, as for any index).
//!
//! The lines' order is kmod's priority order (depmod writes the modules sorted by
//! modules.order), and a modules.dep line lists the dependencies in the order kmod loads
//! them from the end: both carry over as they are, with no module file read.

use super::builder::{BuildWarning, TreeFiles, add_builtins, lossy, normalized_alias, normalized_name};
use super::writer::{IndexContents, ModuleEntry};
use crate::decompress::Compression;
use crate::index::module_list::stays_inside;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;

/// The files of a module directory this reads (each optional but modules.dep).
#[derive(Debug, Clone, Default)]
pub struct KmodFiles {
    /// The modules dir's name, e.g. `6.1.0-57-amd64`.
    pub kernel_release: Vec<u8>,
    pub modules_dep: Vec<u8>,
    pub modules_alias: Option<Vec<u8>>,
    pub modules_builtin: Option<Vec<u8>>,
    pub modules_builtin_modinfo: Option<Vec<u8>>,
}

/// The index contents kmod's files describe, with no configuration. Lines kmod would not
/// use either (no `:`, a path leaving the directory, an alias of a module modules.dep lacks)
/// are left out with a warning naming them.
pub fn contents_from_kmod_files(files: &KmodFiles, warn: &mut dyn FnMut(BuildWarning)) -> IndexContents {
    let mut contents = IndexContents { kernel_release: files.kernel_release.clone(), ..IndexContents::default() };
    // (path, its dependencies' paths, the file it names), in file order.
    let mut lines = Vec::new();
    for (number, line) in files.modules_dep.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        match module_file(&line[..colon]) {
            Some(file) => lines.push((&line[..colon], line.get(colon + 1..).unwrap_or_default(), file)),
            None => warn(BuildWarning(format!("modules.dep line {}: not a module file: {}", number + 1, lossy(line)))),
        }
    }
    // Each path's first line, numbered as the module it becomes.
    let mut ids: BTreeMap<&[u8], u16> = BTreeMap::new();
    let mut by_name: BTreeMap<Vec<u8>, u16> = BTreeMap::new();
    let mut kept: Vec<(&[u8], &[u8])> = Vec::new();
    for (path, deps, (dir, stem, compression)) in lines {
        if ids.contains_key(path) {
            warn(BuildWarning(format!("modules.dep lists {} twice: the first line counts", lossy(path))));
            continue;
        }
        let id = kept.len() as u16;
        ids.insert(path, id);
        by_name.entry(normalized_name(stem)).or_insert(id);
        kept.push((path, deps));
        let (dir, deps) = (Some(dir.to_vec()), Vec::new());
        contents.modules.push(ModuleEntry { stem: stem.to_vec(), dir, compression, builtin: false, deps });
    }
    for (entry, (path, deps)) in contents.modules.iter_mut().zip(&kept) {
        // kmod loads a line's dependencies from its end.
        for dep in deps.split(|b| b.is_ascii_whitespace()).filter(|d| !d.is_empty()).rev() {
            match ids.get(dep) {
                Some(&id) => entry.deps.push(id),
                None => warn(BuildWarning(format!(
                    "modules.dep: {} needs {}, which has no line of its own",
                    lossy(path),
                    lossy(dep)
                ))),
            }
        }
    }
    for line in files.modules_alias.as_deref().unwrap_or_default().split(|&b| b == b'\n') {
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (Some(b"alias"), Some(pattern), Some(name), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        match (normalized_alias(pattern), by_name.get(normalized_name(name).as_slice())) {
            (Some(pattern), Some(&id)) => contents.module_aliases.push((pattern, id)),
            (None, _) => warn(BuildWarning(format!("Unmatched bracket in {}", lossy(pattern)))),
            (_, None) => warn(BuildWarning(format!("modules.alias: {} is not in modules.dep", lossy(name)))),
        }
    }
    let builtins = TreeFiles {
        modules_builtin: files.modules_builtin.clone(),
        modules_builtin_modinfo: files.modules_builtin_modinfo.clone(),
        ..TreeFiles::default()
    };
    add_builtins(&mut contents, &builtins, warn);
    contents
}

/// A modules.dep path's directory, stem and compression; None unless it names a module file
/// inside the directory (kmod's depmod writes absolute paths for modules outside it, which
/// an index cannot hold).
fn module_file(path: &[u8]) -> Option<(&[u8], &[u8], Compression)> {
    if !stays_inside(path) {
        return None;
    }
    let (dir, file) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    let (stem, compression) = Compression::of_file_name(file)?;
    Some((dir, stem, compression))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;
    use crate::index::writer::write;
    use std::string::String;
    use std::vec;

    fn names(index: &Index<'_>, deps: impl Iterator<Item = crate::index::ModuleId>) -> Vec<String> {
        deps.map(|id| String::from_utf8(index.module(id).unwrap().stem.to_vec()).unwrap()).collect()
    }

    #[test]
    fn kmods_files_become_the_index_depmod_would_have_written() {
        let files = KmodFiles {
            kernel_release: b"6.1.0-test".to_vec(),
            modules_dep: b"kernel/drivers/ata/ahci.ko.xz: kernel/drivers/ata/libahci.ko.xz kernel/drivers/ata/libata.ko.xz\n\
                kernel/drivers/ata/libahci.ko.xz: kernel/drivers/ata/libata.ko.xz\n\
                kernel/drivers/ata/libata.ko.xz:\n\
                kernel/drivers/net/e1000.ko:\n"
                .to_vec(),
            modules_alias: Some(
                b"# Aliases extracted from modules themselves.\nalias pci:v*d*sv*sd*bc01sc06i01* ahci\nalias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\nalias my-alias e1000\n"
                    .to_vec(),
            ),
            modules_builtin: Some(b"kernel/crypto/crc32c_generic.ko\n".to_vec()),
            modules_builtin_modinfo: Some(b"crc32c_generic.alias=crypto-crc32c\0".to_vec()),
        };
        let c = contents_from_kmod_files(&files, &mut |w| panic!("{w}"));
        let bytes = write(&c).unwrap();
        let index = Index::open(&bytes).unwrap();
        let ahci = index.find(b"ahci", false).unwrap();
        assert_eq!(names(&index, ahci.deps()), ["libata", "libahci"], "load order: the line read from its end");
        let mut buf = [0u8; 64];
        assert_eq!(ahci.path(&mut buf), Some(&b"kernel/drivers/ata/ahci.ko.xz"[..]));
        assert_eq!(ahci.compression, Compression::Xz);
        assert!(index.find(b"crc32c_generic", true).is_some());
        let mut hits = vec![];
        index.module_aliases().for_each_match(b"my_alias", |h| hits.push(h.module));
        assert_eq!(hits, [3], "aliases normalized as depmod's .bin index holds them");
        let mut builtin = vec![];
        index.builtin_aliases().for_each_match(b"crypto_crc32c", |h| builtin.push(h.module));
        assert_eq!(builtin, [index.find(b"crc32c_generic", true).unwrap().id.0]);
    }

    #[test]
    fn lines_kmod_would_not_use_are_named() {
        let files = KmodFiles {
            modules_dep: b"/opt/extra/outside.ko:\nkernel/a.ko: kernel/gone.ko\nkernel/a.ko:\nnot a line\n".to_vec(),
            modules_alias: Some(b"alias x nobody\nalias bad[ a\n".to_vec()),
            ..KmodFiles::default()
        };
        let mut warnings = vec![];
        let c = contents_from_kmod_files(&files, &mut |w| warnings.push(w.0));
        assert_eq!(c.modules.len(), 1);
        assert_eq!(
            warnings,
            [
                "modules.dep line 1: not a module file: /opt/extra/outside.ko:",
                "modules.dep line 4: not a module file: not a line",
                "modules.dep lists kernel/a.ko twice: the first line counts",
                "modules.dep: kernel/a.ko needs kernel/gone.ko, which has no line of its own",
                "modules.alias: nobody is not in modules.dep",
                "Unmatched bracket in bad[",
            ]
        );
    }
}
