//! `modinit.absent`, written (by the image builder, `xtask/src/initramfs.rs`): the device
//! aliases of every loadable module of the tree that the image lacks. The format is in
//! `table.rs`; the builder compresses the text as one zstd frame.

use super::table::{MAGIC, VERSION};
use crate::index::{Index, ModuleId};
use alloc::vec::Vec;

/// The table for an image whose index is `image`, from `tree`, the index of the whole tree the
/// image was taken from: each loadable module of `tree` that `image` has no module of that name
/// for, in `tree`'s priority order, with its aliases that a device can have
/// ([`super::is_device_alias`]), by literal prefix. Modules without such aliases are left out.
pub fn write(tree: &Index<'_>, image: &Index<'_>) -> Vec<u8> {
    let mut aliases: Vec<Vec<Vec<u8>>> = (0..tree.module_count()).map(|_| Vec::new()).collect();
    tree.module_aliases().for_each(|prefix, rest, module| {
        let pattern = [prefix, rest].concat();
        if super::is_device_alias(&pattern)
            && let Some(list) = aliases.get_mut(usize::from(module))
        {
            list.push(pattern);
        }
    });
    let mut out = [MAGIC, b" ", VERSION, b" ", tree.kernel_release(), b"\n"].concat();
    for (id, patterns) in aliases.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let Some(module) = tree.module(ModuleId(id as u16)).filter(|m| !m.builtin) else { continue };
        let name: Vec<u8> = module.name().collect();
        if image.find(&name, false).is_some() {
            continue;
        }
        out.extend_from_slice(&name);
        out.push(b'\n');
        for pattern in patterns {
            out.push(b'\t');
            out.extend_from_slice(pattern);
            out.push(b'\n');
        }
    }
    out
}
