//! A builtin module's `.modinfo` entries, read from `modules.builtin.modinfo` as kmod 30 reads
//! them (libkmod-builtin.c) for `modinfo NAME` of a module built into the kernel.
//!
//! The file holds the kernel's builtin `.modinfo` strings, NUL-terminated, each as
//! `MODNAME.KEY=VALUE`. kmod walks it in blocks of consecutive strings with the same MODNAME and
//! takes the first block of the module's name; a string without a `.` ends its walk (then the
//! module has no entries).

use crate::module_file::modinfo::Entries;

/// The entries of the first block of `name` (a normalized module name) in `file`; None when
/// there is none before the first string without a `.`.
pub fn builtin_entries<'a>(file: &'a [u8], name: &[u8]) -> Option<Entries<'a>> {
    let mut block: Option<(&[u8], usize)> = None;
    let (mut at, mut end) = (0, file.len());
    for string in strings(file) {
        let Some(dot) = string.iter().position(|&b| b == b'.') else {
            end = at;
            break;
        };
        let module = string.get(..dot).unwrap_or_default();
        match block {
            Some((current, _)) if current == module => {}
            Some((current, _)) if current == name => {
                end = at;
                break;
            }
            _ => block = Some((module, at)),
        }
        // Where the next string starts: after this one's NUL.
        at += string.len() + 1;
    }
    let (_, first) = block.filter(|&(current, _)| current == name)?;
    Some(Entries::new(file.get(first..end)?, name.len() + 1))
}

/// The NUL-terminated strings of `file` (a last one without its NUL counts too).
fn strings(file: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = file.strip_suffix(b"\0").unwrap_or(file);
    body.split(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const FILE: &[u8] = b"ahci.license=GPL\0ahci.parm=x:y\0libata.author=A\0libata.intree\0ahci.license=again\0";

    fn entries(file: &[u8], name: &str) -> Option<Vec<(&'static str, &'static str)>> {
        let leak = |b: &[u8]| -> &'static str { Box::leak(String::from_utf8(b.to_vec()).unwrap().into_boxed_str()) };
        builtin_entries(file, name.as_bytes()).map(|e| e.map(|(k, v)| (leak(k), leak(v))).collect())
    }

    #[test]
    fn the_first_block_of_the_name() {
        assert_eq!(entries(FILE, "ahci").unwrap(), [("license", "GPL"), ("parm", "x:y")]);
        assert_eq!(entries(FILE, "libata").unwrap(), [("author", "A"), ("intree", "")]);
        assert_eq!(entries(FILE, "ahc"), None);
        assert_eq!(entries(b"", "ahci"), None);
        assert_eq!(entries(b"x.a=1", "x").unwrap(), [("a", "1")], "a last string without its NUL");
    }

    #[test]
    fn a_string_without_a_dot_ends_the_walk() {
        let file = b"a.k=1\0broken\0b.k=2\0";
        assert_eq!(entries(file, "a").unwrap(), [("k", "1")]);
        assert_eq!(entries(file, "b"), None);
        assert_eq!(entries(b"a.k=1\0\0b.k=2\0", "b"), None, "an empty string has no dot either");
    }

    /// Every block of the real tree's file gives back its strings.
    #[test]
    fn the_real_trees_file() {
        let Some(tree) = modinit_test_fixtures::real_module_tree() else { return };
        let path = tree.join("modules.builtin.modinfo");
        let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut names: Vec<&[u8]> =
            file.split(|&b| b == 0).filter(|s| !s.is_empty()).filter_map(|s| s.split(|&b| b == b'.').next()).collect();
        names.dedup();
        let mut total = 0;
        for name in &names {
            let found = builtin_entries(&file, name).unwrap();
            total += found.clone().count();
            assert!(found.clone().all(|(k, _)| !k.is_empty()), "{}", String::from_utf8_lossy(name));
        }
        assert!(total >= file.split(|&b| b == 0).count() / 2, "{total} entries");
    }
}
