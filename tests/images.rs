//! Images people ship (`--select`, `--add`, `--omit`, firmware), built from the real Debian
//! tree: what goes in is what kmod's modprobe would load for the same names and devices, the
//! image's own index covers exactly its modules, and rebuilding gives the same bytes.

use modinit::index::Index;
use modinit::loading::boot_classes::{Class, MOST};
use modinit_tests::kmod_oracle::Kmod;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::cpio::Archive;
use xtask::initramfs::{self, ImageSpec, ModuleCompression};
use xtask::select::{ModuleChoice, RUNTIME_REQUESTS, Selection};

/// The real tree and kmod over a depmod'd copy of it (no configuration).
struct Tree {
    modules: PathBuf,
    kmod_modules: PathBuf,
    kmod: Kmod,
}

fn tree() -> Option<Tree> {
    let modules = modinit_tests::real_module_tree()?;
    let kmod_modules = xtask::kmod::indexed_tree(&modules).unwrap();
    let kmod = Kmod::without_configuration(&kmod_modules);
    Some(Tree { modules, kmod_modules, kmod })
}

impl Tree {
    /// The module files (relative to the tree) kmod's `modprobe --show-depends` inserts for
    /// each of `keys`.
    fn kmod_closure<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> BTreeSet<String> {
        let prefix = format!("{}/", self.kmod_modules.display());
        keys.into_iter()
            .flat_map(|key| self.kmod.show_depends(key))
            .filter_map(|(_, path, _)| Some(path?.strip_prefix(&prefix)?.to_string()))
            .collect()
    }

    fn image(&self, choice: ModuleChoice, compression: ModuleCompression) -> Archive {
        initramfs::assemble(&self.spec(choice, compression)).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn spec(&self, choice: ModuleChoice, compression: ModuleCompression) -> ImageSpec {
        // Not booted: any file serves as /init.
        let init = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        ImageSpec { select: choice, ..ImageSpec::new(init, None, Some(self.modules.clone()), compression) }
    }
}

/// The module files of `image`, relative to its modules dir.
fn modules_in(image: &Archive) -> BTreeSet<String> {
    image.paths().filter(|p| p.contains(".ko")).map(|p| p.splitn(4, '/').nth(3).unwrap_or(p).to_string()).collect()
}

fn index_of(image: &Archive) -> Vec<u8> {
    let path = image.paths().find(|p| p.ends_with("/modinit.idx")).expect("the image has an index").to_string();
    image.file(&path).expect("the index is a file").to_vec()
}

fn list_file(dir: &Path, lines: &str) -> PathBuf {
    let file = dir.join("modules.list");
    std::fs::write(&file, lines).unwrap();
    file
}

fn assert_same_set(what: &str, ours: &BTreeSet<String>, kmod: &BTreeSet<String>) {
    let only_ours: Vec<_> = ours.difference(kmod).collect();
    let only_kmod: Vec<_> = kmod.difference(ours).collect();
    assert!(
        only_ours.is_empty() && only_kmod.is_empty(),
        "{what}: only modinit: {only_ours:?}; only kmod: {only_kmod:?}"
    );
}

/// The real devices of the QEMU machines (their modalias corpus) as `--select host` or
/// `host-all` with an ext4 root, or a root given otherwise by `choice`'s other fields.
fn host_image(tree: &Tree, selection: Selection, choice: ModuleChoice) -> BTreeSet<String> {
    let choice = ModuleChoice {
        selection,
        modaliases: Some(corpus(tree)),
        rootfs: choice.rootfs.or(Some("ext4".into())),
        ..choice
    };
    modules_in(&tree.image(choice, ModuleCompression::None))
}

fn corpus(tree: &Tree) -> PathBuf {
    xtask::paths::modalias_corpus(tree.modules.file_name().unwrap().to_str().unwrap())
}

fn corpus_lines(tree: &Tree) -> Vec<String> {
    let text = std::fs::read_to_string(corpus(tree)).unwrap();
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(str::to_string).collect()
}

/// [`Tree::kmod_closure`] of `keys`, plus that of what its modules ask the kernel for when
/// they start ([`RUNTIME_REQUESTS`]).
fn kmod_closure_with_requests(tree: &Tree, keys: &[String]) -> BTreeSet<String> {
    let mut kmod = tree.kmod_closure(keys.iter().map(String::as_str));
    let asked = RUNTIME_REQUESTS
        .iter()
        .filter(|(module, _)| kmod.iter().any(|p| p.contains(&format!("/{}.ko", module.replace('_', "-")))));
    kmod.extend(tree.kmod_closure(asked.map(|(_, key)| *key).collect::<Vec<_>>()));
    kmod
}

/// Module names (as kmod spells them) of module files.
fn names_of(paths: &BTreeSet<String>) -> BTreeSet<String> {
    paths.iter().map(|p| p.rsplit('/').next().unwrap().split(".ko").next().unwrap().replace('-', "_")).collect()
}

#[test]
fn host_all_selection_holds_what_kmod_loads_for_those_devices() {
    let Some(tree) = tree() else { return };
    let image = host_image(&tree, Selection::HostAll, ModuleChoice::default());
    let mut keys = corpus_lines(&tree);
    keys.push("fs-ext4".into());
    let kmod = kmod_closure_with_requests(&tree, &keys);
    assert!(kmod.len() > 50, "the QEMU machines' devices need drivers: {kmod:?}");
    assert_same_set("host-all image of the QEMU machines' modaliases", &image, &kmod);
}

/// Whether the module file `path` is under one of `MOST`'s entries of `classes`, read from
/// the table as a user reads it: a directory takes what is below it, a file itself.
fn in_classes(path: &str, classes: &[Class]) -> bool {
    let Some(rel) = path.strip_prefix("kernel/") else { return false };
    MOST.iter().filter(|(_, class, _)| classes.contains(class)).any(|(entry, _, _)| match entry.strip_suffix(".ko") {
        Some(file) => rel.strip_prefix(file).is_some_and(|rest| rest.starts_with(".ko")),
        None => rel.starts_with(entry),
    })
}

/// Of the drivers kmod finds for the devices (`modprobe -R`), those of `classes`, the root
/// filesystem's, and what kmod loads along with them (`--show-depends`).
fn kmod_host_closure(tree: &Tree, classes: &[Class], rootfs: &str) -> BTreeSet<String> {
    let prefix = format!("{}/", tree.kmod_modules.display());
    let mut drivers = BTreeSet::new();
    for alias in corpus_lines(tree) {
        for name in tree.kmod.lookup(&alias) {
            let file = tree.kmod.show_depends(&name).into_iter().find(|(n, _, _)| *n == name).and_then(|(_, f, _)| f);
            if file.and_then(|f| f.strip_prefix(&prefix).map(str::to_string)).is_some_and(|f| in_classes(&f, classes)) {
                drivers.insert(name);
            }
        }
    }
    drivers.insert(format!("fs-{rootfs}"));
    kmod_closure_with_requests(tree, &drivers.into_iter().collect::<Vec<_>>())
}

/// `--select host` keeps of the machines' drivers those a boot needs: storage, USB, HID,
/// virtio; not graphics, KVM, the parallel port, the PS/2 mouse, evdev or sound, which
/// `host-all` takes; NICs only for a network root, named by `--network-root` or `--rootfs`.
#[test]
fn host_selection_takes_the_drivers_a_boot_needs_and_host_all_every_one() {
    let Some(tree) = tree() else { return };
    let host = host_image(&tree, Selection::Host, ModuleChoice::default());
    assert_same_set("host image", &host, &kmod_host_closure(&tree, &[Class::Boot], "ext4"));
    let all = names_of(&host_image(&tree, Selection::HostAll, ModuleChoice::default()));
    let boot = names_of(&host);
    let needed = ["ahci", "nvme", "virtio_blk", "virtio_scsi", "virtio_pci", "sd_mod", "sr_mod", "xhci_pci"];
    for name in needed.iter().chain(&["usb_storage", "uas", "usbhid", "hid_generic", "ext4"]) {
        assert!(boot.contains(*name) && all.contains(*name), "{name}: host {boot:?}, host-all {all:?}");
    }
    let unwanted = ["bochs", "drm", "kvm", "kvm_amd", "parport_pc", "psmouse", "evdev", "snd_hda_intel", "e1000"];
    for name in unwanted.iter().chain(&["virtio_net", "virtio_rng", "pcspkr"]) {
        assert!(!boot.contains(*name), "host has {name}: {boot:?}");
        assert!(all.contains(*name), "host-all lacks {name}: {all:?}");
    }
    assert!(!boot.iter().any(|n| n.starts_with("snd_")), "host has sound: {boot:?}");

    let nics = [Class::Boot, Class::Nic];
    let network = ModuleChoice { network_root: true, ..ModuleChoice::default() };
    let on_network = host_image(&tree, Selection::Host, network);
    assert_same_set("host image, --network-root", &on_network, &kmod_host_closure(&tree, &nics, "ext4"));
    let nfs = ModuleChoice { rootfs: Some("nfs".into()), ..ModuleChoice::default() };
    let on_nfs = host_image(&tree, Selection::Host, nfs);
    assert_same_set("host image, --rootfs nfs", &on_nfs, &kmod_host_closure(&tree, &nics, "nfs"));
    let on_nfs = names_of(&on_nfs);
    for name in ["e1000", "e1000e", "virtio_net", "nfs"] {
        assert!(on_nfs.contains(name), "--rootfs nfs: no {name}: {on_nfs:?}");
    }
    assert!(!on_nfs.contains("bochs") && !on_nfs.contains("ext4"), "{on_nfs:?}");
}

#[test]
fn a_list_with_additions_and_omissions_and_an_index_of_exactly_the_image() {
    let Some(tree) = tree() else { return };
    let dir = tempfile::tempdir().unwrap();
    let choice = ModuleChoice {
        selection: Selection::List(list_file(dir.path(), "# filesystems\nvfat\nfs-btrfs\n\n")),
        add: vec!["e1000e".into()],
        // btrfs needs it: btrfs is left out, with what only it needed.
        omit: vec!["libcrc32c".into()],
        ..ModuleChoice::default()
    };
    let image = tree.image(choice, ModuleCompression::None);
    let ours = modules_in(&image);
    assert!(!ours.iter().any(|p| p.contains("btrfs") || p.contains("libcrc32c")), "{ours:?}");
    assert_same_set("vfat + e1000e", &ours, &tree.kmod_closure(["vfat", "e1000e"]));

    let index_bytes = index_of(&image);
    let index = Index::open(&index_bytes).unwrap();
    let mut buf = [0u8; 4096];
    let indexed: BTreeSet<String> =
        index.modules().filter_map(|m| m.path(&mut buf).map(|p| String::from_utf8(p.to_vec()).unwrap())).collect();
    assert_same_set("the image's index", &indexed, &ours);
}

#[test]
fn most_holds_a_generic_machines_drivers_closed_over_what_they_need() {
    let Some(tree) = tree() else { return };
    let image =
        tree.image(ModuleChoice { selection: Selection::Most, ..ModuleChoice::default() }, ModuleCompression::None);
    let ours = modules_in(&image);
    let names: BTreeSet<&str> =
        ours.iter().map(|p| p.rsplit('/').next().unwrap().split(".ko").next().unwrap()).collect();
    for needed in [
        "ahci",
        "nvme",
        "virtio_blk",
        "virtio_scsi",
        "sd_mod",
        "sr_mod",
        "xhci-pci",
        "usb-storage",
        "uas",
        "hid-generic",
        "usbhid",
        "e1000e",
        "virtio_net",
        "ext4",
        "xfs",
        "btrfs",
        "vfat",
        "dm-crypt",
        "raid1",
        "mmc_block",
    ] {
        assert!(names.contains(needed), "most lacks {needed}");
    }
    for not_wanted in ["amdgpu", "snd-hda-intel", "iwlwifi", "bluetooth"] {
        assert!(!names.contains(not_wanted), "most has {not_wanted}");
    }
    // Whatever kmod would insert along with a module of the image is in the image.
    let names: Vec<&str> = names.into_iter().collect();
    let missing: Vec<_> = tree.kmod_closure(names).difference(&ours).cloned().collect();
    assert!(missing.is_empty(), "kmod would also load {missing:?}");
}

/// The `firmware=` lines of `module`, as kmod's modinfo prints them.
fn kmod_firmware(tree: &Tree, module: &str) -> Vec<String> {
    let version = tree.modules.file_name().unwrap();
    let root = tree.kmod_modules.parent().unwrap().parent().unwrap().parent().unwrap();
    let out =
        Command::new("modinfo").arg("-b").arg(root).arg("-k").arg(version).args(["-F", "firmware", module]).output();
    let out = out.expect("kmod's modinfo");
    assert!(out.status.success(), "modinfo {module}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn firmware_of_the_modules_comes_along_and_rebuilds_are_byte_identical() {
    let Some(tree) = tree() else { return };
    let dir = tempfile::tempdir().unwrap();
    let firmware = kmod_firmware(&tree, "tg3");
    assert!(firmware.len() >= 3, "tg3 names its firmware: {firmware:?}");
    let store = dir.path().join("firmware");
    // One as it is, one compressed (the kernel tries NAME.xz and NAME.zst too), the rest missing.
    let stored = [firmware[0].clone(), format!("{}.zst", firmware[1])];
    for name in &stored {
        let path = store.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("firmware {name}")).unwrap();
    }
    let choice = ModuleChoice { selection: Selection::List(list_file(dir.path(), "tg3\n")), ..ModuleChoice::default() };
    let spec = ImageSpec {
        firmware: Some(store.clone()),
        mtime: Some(1_700_000_000),
        ..tree.spec(choice, ModuleCompression::Zst)
    };
    let image = initramfs::assemble(&spec).unwrap();
    let added: BTreeSet<&str> =
        image.paths().filter_map(|p| p.strip_prefix("lib/firmware/")).filter(|p| p.contains('.')).collect();
    assert_eq!(added, stored.iter().map(String::as_str).collect(), "the firmware files present, no others");

    let (first, second) = (dir.path().join("1.cpio"), dir.path().join("2.cpio"));
    initramfs::write(&image, &first, ModuleCompression::None).unwrap();
    initramfs::write(&initramfs::assemble(&spec).unwrap(), &second, ModuleCompression::None).unwrap();
    let bytes = std::fs::read(&first).unwrap();
    assert!(bytes == std::fs::read(&second).unwrap(), "two builds of the same spec differ");
    // newc header: magic, then ino, mode, uid, gid, nlink, mtime as 8 hex digits each.
    assert_eq!(&bytes[6 + 5 * 8..6 + 6 * 8], format!("{:08x}", 1_700_000_000).as_bytes(), "the given mtime");
}
