//! The peers of `cargo xtask bench`'s root-disk comparison: initramfs-tools' and dracut's
//! images are built for the real kernel on this machine (xtask/src/peers.rs), and what they
//! hold as modules are files of that kernel's tree, byte for byte, storage and root
//! filesystem drivers among them (listed by initramfs-tools' `unmkinitramfs`, which also
//! splits dracut's images); in QEMU, they and modinit's `most` image reach the bench's real
//! init on its root disk. Needs root (a mount namespace) and the packages initramfs-tools-core
//! and dracut-core; skips with a note without root or a tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::bench_root;
use xtask::initramfs::DEFAULT_COMPRESSION;
use xtask::peers::{self, Generator};
use xtask::select::{ModuleChoice, Selection};

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

/// Whether this process may build the peers' images; prints why not.
fn can_build_peers() -> bool {
    let root = xtask::tools::is_root();
    if !root {
        modinit_test_fixtures::unavailable("root (building the peers' images needs a private mount namespace)");
    }
    root
}

#[test]
fn peer_images_hold_the_kernels_own_modules() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    if !can_build_peers() {
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
    let dracut = peers::image(Generator::Dracut, &kernel).unwrap();
    let features = peers::dracut_modules(&dracut);
    assert!(features.iter().any(|f| f == "kernel-modules"), "dracut's modules, from its log: {features:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn modinit_most_and_the_peers_reach_the_real_init_on_the_root_disk() {
    if !can_build_peers() {
        return;
    }
    let dir = xtask::scenario::work_dir("peers-root");
    let disk = bench_root::root_disk(&dir).unwrap();
    let most =
        bench_root::modinit_image(ModuleChoice { selection: Selection::Most, ..ModuleChoice::default() }).unwrap();
    let mut systems = vec![bench_root::write(&dir, "most", "modinit most", &most, DEFAULT_COMPRESSION).unwrap()];
    systems.extend(Generator::ALL.map(|g| bench_root::peer(&dir, g).unwrap_or_else(|e| panic!("{e:#}"))));
    for m in &mut systems {
        // Only the root disk has the bench's real init: a sample means the boot got there.
        m.boot_once(&mut |m| bench_root::boot(m, &disk)).unwrap_or_else(|e| panic!("{e:#}"));
        let sample = &m.samples[0];
        for module in ["virtio_blk", "ext4"] {
            assert!(sample.modules.contains(module), "{}: {module} not loaded; see {}", m.name, m.log.display());
        }
        assert!(0.0 < sample.init_ms && sample.init_ms < sample.boot_ms, "{}: {sample:?}", m.name);
    }
}
