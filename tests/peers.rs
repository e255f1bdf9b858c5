//! The peers of `cargo xtask bench`'s root-disk comparison: initramfs-tools' and dracut's
//! images are built for the real kernel on this machine (xtask/src/peers.rs), and what they
//! hold as modules are files of that kernel's tree, byte for byte, storage and root
//! filesystem drivers among them. Their contents are listed by initramfs-tools'
//! `unmkinitramfs`, which also splits dracut's images. Needs root (a mount namespace) and the
//! packages initramfs-tools-core and dracut-core; skips with a note without root or a tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::peers::{self, Generator};

/// Drivers a generic image needs to reach a root on virtio, SATA or NVMe disks, and ext4.
const EXPECTED: &[&str] = &["virtio_blk.ko", "virtio_pci.ko", "ahci.ko", "nvme.ko", "sd_mod.ko", "ext4.ko"];

/// The module files under `dir` (an unpacked image), by path under lib/modules/`version`/.
fn unpacked_modules(dir: &Path, version: &str, found: &mut BTreeMap<String, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            unpacked_modules(&path, version, found);
            continue;
        }
        let text = path.to_str().unwrap();
        if let Some((_, rel)) = text.split_once(&format!("lib/modules/{version}/"))
            && entry.file_type().unwrap().is_file()
            && rel.ends_with(".ko")
        {
            found.insert(rel.to_string(), path.clone());
        }
    }
}

#[test]
fn peer_images_hold_the_kernels_own_modules() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    if !xtask::tools::is_root() {
        println!("skipped: building the peers' images needs root (a private mount namespace)");
        return;
    }
    let root = tree.ancestors().nth(3).unwrap();
    let kernel = xtask::kernel::from_root(root).unwrap().expect("the tree's package root holds the kernel image");
    for generator in Generator::ALL {
        let image = peers::image(generator, &kernel).unwrap_or_else(|e| panic!("{e:#}"));
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("unmkinitramfs").arg(&image).arg(dir.path()).status().expect("unmkinitramfs");
        assert!(status.success(), "unmkinitramfs {}", image.display());
        let mut modules = BTreeMap::new();
        unpacked_modules(dir.path(), &kernel.version, &mut modules);
        let name = generator.name();
        assert!(modules.len() > 100, "{name}: only {} modules", modules.len());
        for expected in EXPECTED {
            assert!(modules.keys().any(|rel| rel.ends_with(&format!("/{expected}"))), "{name}: no {expected}");
        }
        for (rel, file) in &modules {
            let original =
                std::fs::read(tree.join(rel)).unwrap_or_else(|e| panic!("{name}: {rel}: not in the tree: {e}"));
            // Both copy the modules as the tree has them (Debian ships them uncompressed).
            assert!(std::fs::read(file).unwrap() == original, "{name}: {rel} differs from the tree's");
        }
    }
}
