//! `modinit::index::from_kmod_files`, what the applets read on a tree only kmod's depmod
//! indexed, on any modules.dep, modules.alias, modules.builtin and modules.builtin.modinfo: the
//! index it computes must be written, open and read without panicking, and hold a module for
//! each distinct module path of modules.dep and nothing else.
//!
//! Input: the four files in that order, separated by 0xff bytes (which they do not hold).

use modinit::index::Index;
use modinit::index::from_kmod_files::{KmodFiles, contents_from_kmod_files};
use modinit::index::writer::{WriteError, write};

/// Separates the parts of an input.
pub const SEPARATOR: u8 = 0xff;

pub fn fuzz(data: &[u8]) {
    let mut parts = data.split(|&b| b == SEPARATOR);
    let mut part = || parts.next().map(<[u8]>::to_vec);
    let files = KmodFiles {
        kernel_release: b"6.1.0-fuzz".to_vec(),
        modules_dep: part().unwrap_or_default(),
        modules_alias: part(),
        modules_builtin: part(),
        modules_builtin_modinfo: part(),
    };
    let contents = contents_from_kmod_files(&files, &mut |_| {});
    let mut paths: Vec<&[u8]> =
        files.modules_dep.split(|&b| b == b'\n').filter_map(|l| l.split(|&b| b == b':').next()).collect();
    paths.sort();
    paths.dedup();
    let loadable = contents.modules.iter().filter(|m| !m.builtin).count();
    assert!(loadable <= paths.len(), "{loadable} modules from {} paths", paths.len());
    match write(&contents) {
        Ok(file) => {
            let opened = Index::open(&file);
            let index =
                opened.unwrap_or_else(|e| panic!("the index of kmod's files does not open: {e}\n{contents:#?}"));
            for m in index.modules().filter(|m| !m.builtin) {
                let mut buf = [0u8; 4096];
                let path = m.path(&mut buf).expect("a loadable module has a path");
                assert!(paths.binary_search(&path).is_ok(), "{} is no modules.dep path", path.escape_ascii());
            }
            crate::index::exercise(&index, &file);
        }
        Err(WriteError::NulInString(_)) => {}
        Err(e) => panic!("the index of kmod's files cannot be written: {e}\n{contents:#?}"),
    }
}
