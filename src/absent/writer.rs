//! `modinit.absent`, written (by the image builder, `xtask/src/initramfs.rs`): an index, in
//! `modinit.idx`'s format, of the loadable modules of the tree that the image lacks, with their
//! device aliases and nothing else (no files, dependencies or configuration).

use crate::decompress::Compression;
use crate::index::writer::{IndexContents, ModuleEntry};
use crate::index::{Index, ModuleId};
use alloc::vec::Vec;

/// The table's contents for an image whose index is `image`, from `tree`, the index of the
/// whole tree the image was taken from: each loadable module of `tree` that `image` has no
/// module of that name for, in `tree`'s priority order (so a lookup gives kmod's order), with
/// its aliases that a device can have ([`super::is_device_alias`]). Modules without such
/// aliases are left out. Each module's stem is its name: it has no file.
pub fn contents(tree: &Index<'_>, image: &Index<'_>) -> IndexContents {
    let mut aliases: Vec<Vec<Vec<u8>>> = (0..tree.module_count()).map(|_| Vec::new()).collect();
    tree.module_aliases().for_each(|prefix, rest, module| {
        let pattern = [prefix, rest].concat();
        if super::is_device_alias(&pattern)
            && let Some(list) = aliases.get_mut(usize::from(module))
        {
            list.push(pattern);
        }
    });
    let mut out = IndexContents { kernel_release: tree.kernel_release().to_vec(), ..IndexContents::default() };
    for (id, patterns) in aliases.into_iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let Some(module) = tree.module(ModuleId(id as u16)).filter(|m| !m.builtin) else { continue };
        let name: Vec<u8> = module.name().collect();
        if image.find(&name, false).is_some() {
            continue;
        }
        let new_id = out.modules.len() as u16;
        out.module_aliases.extend(patterns.into_iter().map(|p| (p, new_id)));
        out.modules.push(ModuleEntry {
            stem: name,
            dir: None,
            compression: Compression::None,
            builtin: false,
            deps: Vec::new(),
        });
    }
    out
}
