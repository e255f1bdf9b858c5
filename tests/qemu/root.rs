//! Booting a real root filesystem: `root=` finds an ext4 disk whose driver modinit loaded,
//! mounts it, switches root and execs the guest test init from the disk.
//!
//! Each boot attaches the root disk on another bus (virtio-blk, SATA, NVMe, USB storage) and
//! names it another way (/dev name, UUID, LABEL, PARTUUID), next to a decoy disk with another
//! identity where the name alone would not tell them apart. The guest test init on the disk
//! reports the root mount (source, type, flags) and whether it can write to it.

use modinit_tests::{assert_exec_line, boot, expect_clean, missing_driver_line};
use std::path::PathBuf;
use xtask::cpio::{Archive, Node};
use xtask::disk_image::{self, Identity};
use xtask::initramfs::{ImageSpec, ModuleCompression};
use xtask::machine::{DiskBus, Machine};
use xtask::qemu::End;
use xtask::scenario::{Report, Scenario, guest_commands, guest_report, modinit_image, setup, work_dir};
use xtask::select::{ModuleChoice, Selection};

/// The drivers the four buses and ext4 need; the image holds only these (and their dependencies).
const MODULES: &[&str] =
    &["virtio_pci", "virtio_blk", "ahci", "sd_mod", "nvme", "xhci_pci", "usb_storage", "ext4", "crc32c_generic"];

const ROOT_UUID: &str = "6d0c7a4e-5f3b-4c2a-9e1d-2b7f8a9c0d31";
const ROOT_LABEL: &str = "modinit-root";
const ROOT_PARTUUID: &str = "3f1e2d4c-7b6a-4958-8a7b-6c5d4e3f2a1b";

fn root_disk() -> Identity {
    Identity { uuid: ROOT_UUID.into(), label: ROOT_LABEL.into(), partition: None }
}

fn partitioned(id: Identity, partuuid: &str) -> Identity {
    Identity { partition: Some((partuuid.into(), "modinit-part".into())), ..id }
}

fn decoy_disk() -> Identity {
    Identity { uuid: "0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e".into(), label: "decoy".into(), partition: None }
}

/// What the disks hold: the guest test init as /sbin/init, its shell, the mount points, a
/// marker the guest reports, and a write the guest tries (its exit status tells ro from rw).
fn root_tree(marker: &str) -> Archive {
    let mut a = Archive::new();
    for dir in ["dev", "proc", "sys", "run", "tmp"] {
        a.insert(dir, Node::Dir, 0o755);
    }
    a.insert("sbin/init", Node::File(std::fs::read(xtask::paths::guest_init()).unwrap()), 0o755);
    let busybox = std::fs::read(xtask::tools::BUSYBOX_STATIC).unwrap();
    a.insert(xtask::initramfs::GUEST_BUSYBOX, Node::File(busybox), 0o755);
    a.insert("etc/marker", Node::File(marker.as_bytes().to_vec()), 0o644);
    guest_report(&mut a, &["/etc/marker"]);
    guest_commands(&mut a, &["/bin/busybox touch /written"]);
    a
}

/// A disk image holding `tree` in the scenario's directory.
fn disk(scenario: &str, file: &str, id: &Identity, tree: &Archive) -> PathBuf {
    let path = work_dir(scenario).join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    disk_image::ext4(tree, id, 24, &path).unwrap_or_else(|e| panic!("{e:#}"));
    path
}

/// Boots with the root disk on `bus` (and a decoy on virtio-blk unless the root is there).
fn boot_root(name: &str, bus: DiskBus, root: Identity, append: &str) -> Report {
    boot_root_tree(name, bus, root, &root_tree("root"), append)
}

fn boot_root_tree(name: &str, bus: DiskBus, root: Identity, tree: &Archive, append: &str) -> Report {
    let s = Scenario::with_module_subset(name, ModuleCompression::Zst, MODULES).unwrap();
    boot_root_scenario(s, bus, root, tree, append)
}

/// Boots `s` with the root disk holding `tree` on `bus` (and a decoy on virtio-blk unless the
/// root is there).
fn boot_root_scenario(mut s: Scenario, bus: DiskBus, root: Identity, tree: &Archive, append: &str) -> Report {
    let name = s.name.clone();
    s.disks.push((bus, disk(&name, "root.img", &root, tree)));
    if bus != DiskBus::VirtioBlk {
        let decoy = match &root.partition {
            Some(_) => partitioned(decoy_disk(), "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"),
            None => decoy_disk(),
        };
        s.disks.push((DiskBus::VirtioBlk, disk(&name, "decoy.img", &decoy, &root_tree("decoy"))));
    }
    s.append = format!("modinit_test_arg {append}");
    let r = boot(&s);
    expect_clean(&r);
    r
}

/// The guest test init ran from the root disk, as PID 1 with the kernel's arguments, on a
/// root mounted from `source`, with the early mounts moved along and the initramfs freed.
fn assert_booted_from_disk(r: &Report, source: &str) {
    let log = r.outcome.log.display();
    assert_eq!(r.guest("file./etc/marker"), Some("root"), "the real init runs from the root disk; see {log}");
    assert_eq!(r.guest("pid"), Some("1"));
    assert_eq!(r.guest("args"), Some("modinit_test_arg"), "the kernel's arguments reach the real init");
    let root = r.guest("root").unwrap_or_default();
    assert!(root.starts_with(&format!("{source} ext4 ")), "root mount: {root:?}; see {log}");
    for (dir, fstype) in [("/proc", "proc"), ("/sys", "sysfs"), ("/dev", "devtmpfs"), ("/run", "tmpfs")] {
        assert_eq!(r.guest(&format!("mount.{dir}")), Some(fstype), "{dir} moved onto the root; see {log}");
    }
    let lines = r.modinit_lines();
    let freed = lines.iter().find_map(|l| l.strip_prefix("freed the initramfs: "));
    let files = freed.and_then(|f| f.split_once(" files")).and_then(|(n, _)| n.parse::<u64>().ok());
    assert!(files.is_some_and(|n| n > 10), "the initramfs's files are deleted: {freed:?}; see {log}");
    assert_exec_line(r, "/sbin/init");
    assert_eq!(r.outcome.end, End::Exited, "the guest init powers off");
}

/// `ro` gives a read-only mount the guest cannot write to; `rw` one it can.
fn assert_mounted(r: &Report, writable: bool) {
    let root = r.guest("root").unwrap_or_default();
    let flags = root.split(' ').nth(2).unwrap_or_default();
    let first = flags.split(',').next();
    assert_eq!(first, Some(if writable { "rw" } else { "ro" }), "root mount: {root:?}");
    let touched = r.guest("command.1");
    assert_eq!(touched == Some("0"), writable, "writing to the root: exit status {touched:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn root_by_dev_name_on_virtio_blk_honours_ro_and_rootdelay() {
    let r = boot_root("root-virtio-devname", DiskBus::VirtioBlk, root_disk(), "root=/dev/vda ro rootdelay=1");
    assert_booted_from_disk(&r, "/dev/vda");
    assert_mounted(&r, false);
    let lines = r.modinit_lines();
    assert!(lines.contains(&"waiting 1 s before looking for the root device (rootdelay)"), "{lines:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn root_by_uuid_on_sata_mounted_rw_with_rootflags() {
    let append = format!("root=UUID={ROOT_UUID} rw rootflags=noatime,errors=remount-ro");
    let r = boot_root("root-sata-uuid", DiskBus::Sata, root_disk(), &append);
    assert_booted_from_disk(&r, "/dev/sda");
    assert_mounted(&r, true);
    // noatime is a mount flag (as mount(8) makes it), errors= goes to ext4 as data.
    let root = r.guest("root").unwrap_or_default();
    let flags: Vec<&str> = root.split(' ').nth(2).unwrap_or_default().split(',').collect();
    assert!(flags.contains(&"noatime") && flags.contains(&"errors=remount-ro"), "root mount: {root:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn root_by_label_on_nvme_tries_each_rootfstype_and_is_read_only_by_default() {
    // The image has no btrfs module: that mount fails, and ext4's module is loaded for the next.
    let append = format!("root=LABEL={ROOT_LABEL} rootfstype=btrfs,ext4");
    let r = boot_root("root-nvme-label", DiskBus::Nvme, root_disk(), &append);
    assert_booted_from_disk(&r, "/dev/nvme0n1");
    assert_mounted(&r, false);
    let lines = r.modinit_lines();
    assert!(lines.contains(&"mounted /dev/nvme0n1 (ext4) on /root read-only"), "{lines:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn root_by_partuuid_on_usb_storage_after_two_driver_loads() {
    let root = partitioned(root_disk(), ROOT_PARTUUID);
    let r = boot_root("root-usb-partuuid", DiskBus::Usb, root, &format!("root=PARTUUID={ROOT_PARTUUID} rw rootwait"));
    assert_booted_from_disk(&r, "/dev/sda1");
    assert_mounted(&r, true);
    let lines = r.modinit_lines();
    for module in ["xhci_pci", "usb_storage", "sd_mod"] {
        assert!(lines.iter().any(|l| l.starts_with(&format!("loaded {module} "))), "{module} loaded: {lines:?}");
    }
}

/// `--select host` for the QEMU machines' devices and an ext4 root boots the PC of
/// `cargo xtask bench --only root` from its virtio-blk root disk named by UUID, with the
/// drivers a boot needs loaded (the disk's, the root filesystem's, the controllers' the first
/// walk finds) and none of those it leaves to the real system (graphics, KVM, the parallel
/// port, the PS/2 mouse, evdev, the NIC). The driver phase ends once the root disk is there
/// (`modinit.until=root`, the default): the USB keyboard, enumerated later, is the real
/// system's.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_host_image_boots_the_pc_from_its_root_disk_without_the_drivers_a_boot_does_not_need() {
    let r = boot_host_image("root-host-image", "");
    let listed = r.guest("modules").unwrap_or_default();
    let loaded: Vec<&str> = listed.split_whitespace().collect();
    let log = r.outcome.log.display();
    let ended = "the root device is there: driver loading ends, the real system loads the rest (modinit.until=root)";
    assert!(r.modinit_lines().contains(&ended), "the phase ends at the root; see {log}");
    for needed in ["virtio_blk", "ext4", "ahci", "xhci_pci"] {
        assert!(loaded.contains(&needed), "{needed} not loaded: {loaded:?}; see {log}");
    }
    for unwanted in ["bochs", "drm", "kvm", "parport_pc", "psmouse", "evdev", "pcspkr", "e1000", "virtio_net"] {
        assert!(!loaded.contains(&unwanted), "{unwanted} loaded: {loaded:?}; see {log}");
    }
}

/// With `modinit.until=all` the driver phase waits for every device, the USB keyboard
/// enumerated after its controller's driver loaded included, before the root is mounted.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn until_all_loads_every_devices_driver_before_the_root() {
    let r = boot_host_image("root-host-image-until-all", "modinit.until=all");
    let listed = r.guest("modules").unwrap_or_default();
    let loaded: Vec<&str> = listed.split_whitespace().collect();
    for needed in ["virtio_blk", "ext4", "xhci_pci", "usbhid", "hid_generic"] {
        assert!(loaded.contains(&needed), "{needed} not loaded: {loaded:?}; see {}", r.outcome.log.display());
    }
    assert!(!r.modinit_lines().iter().any(|l| l.starts_with("the root device is there")));
}

/// The PC booted with a `host` image of the test machines' devices from its second virtio disk,
/// named by UUID; `append` added to the command line.
fn boot_host_image(name: &str, append: &str) -> Report {
    let modules = setup().unwrap().kernel.modules.clone();
    let select = ModuleChoice {
        selection: Selection::Host,
        modaliases: Some(xtask::paths::modalias_corpus(&setup().unwrap().kernel.version)),
        rootfs: Some("ext4".into()),
        ..ModuleChoice::default()
    };
    let spec = ImageSpec { select, ..modinit_image(Some(modules), ModuleCompression::Zst).unwrap() };
    let mut s = Scenario::with_image(name, &spec).unwrap();
    s.machine = Machine::Pc;
    let append = format!("root=UUID={ROOT_UUID} {append}");
    let r = boot_root_scenario(s, DiskBus::VirtioBlk, root_disk(), &root_tree("root"), append.trim_end());
    // The PC's own virtio disk is vda.
    assert_booted_from_disk(&r, "/dev/vdb");
    r
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn root_with_a_wrong_uuid_times_out_into_on_error() {
    let wrong = "00000000-1111-2222-3333-444444444444";
    let r = boot_root(
        "root-wrong-uuid",
        DiskBus::VirtioBlk,
        root_disk(),
        &format!("root=UUID={wrong} modinit.root_timeout_s=3 modinit.on_error=poweroff"),
    );
    let lines = r.modinit_lines();
    let complaint = lines.iter().find(|l| l.contains("not found"));
    assert!(
        complaint.is_some_and(|l| {
            l.starts_with(&format!("root device UUID={wrong} not found after 3 s"))
                && l.contains("modinit.root_timeout_s")
                && l.ends_with("the block devices are vda")
        }),
        "a clear timeout message naming the device, the wait, its setting and the devices seen: {complaint:?}"
    );
    assert!(lines.contains(&"on_error=poweroff") && lines.contains(&"powering off"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("exec ")), "nothing was exec'd: {lines:?}");
    assert_eq!(r.outcome.end, End::Exited, "poweroff ends QEMU");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn root_without_an_init_keeps_the_initramfs_for_on_error() {
    let mut tree = root_tree("root");
    tree.remove("sbin/init");
    let r = boot_root_tree(
        "root-no-init",
        DiskBus::VirtioBlk,
        root_disk(),
        &tree,
        "root=/dev/vda modinit.on_error=poweroff",
    );
    let lines = r.modinit_lines();
    assert!(lines.iter().any(|l| l.starts_with("mounted /dev/vda (ext4) on /root")), "{lines:?}");
    let complaint = lines.iter().find(|l| l.contains("cannot find init="));
    assert!(complaint.is_some_and(|l| l.contains("/sbin/init")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("freed the initramfs")), "the initramfs stays: {lines:?}");
    assert!(lines.contains(&"on_error=poweroff") && lines.contains(&"powering off"), "{lines:?}");
    assert_eq!(r.outcome.end, End::Exited, "poweroff ends QEMU");
}

/// QEMU's AHCI controller (`ahci`, the ICH9's: hw/ide/ich.c), as its modalias spells it: Intel
/// 2922, QEMU's subsystem ids, class 01 06 01 (SATA, AHCI). Placed at slot 0x10, it is
/// 0000:00:10.0 in /sys.
const AHCI: (&str, &str) = ("0000:00:10.0", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01");

/// A host image made on another machine: the root disk is behind an AHCI controller, and the
/// image has every driver of the other disks but not ahci. The root never appears; before its
/// error the boot names the storage controllers without a driver (only those), among them the
/// AHCI one with the module kmod's lookup over the whole tree gives for it.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_root_behind_a_controller_without_its_driver_names_both_before_the_error() {
    let name = "root-missing-driver";
    let modules: Vec<&str> = MODULES.iter().copied().filter(|m| *m != "ahci").collect();
    let mut s = Scenario::with_module_subset(name, ModuleCompression::Zst, &modules).unwrap();
    let root = disk(name, "root.img", &root_disk(), &root_tree("root"));
    s.qemu_args = [
        "-drive",
        &format!("if=none,id=root,format=raw,file={}", root.display()),
        "-device",
        "ahci,id=ahci0,addr=0x10",
        "-device",
        "ide-hd,drive=root,bus=ahci0.0",
    ]
    .map(String::from)
    .into();
    s.disks.push((DiskBus::VirtioBlk, disk(name, "decoy.img", &decoy_disk(), &root_tree("decoy"))));
    s.append = format!("root=UUID={ROOT_UUID} modinit.root_timeout_s=3 modinit.on_error=poweroff");
    let r = boot(&s);
    expect_clean(&r);
    let log = r.outcome.log.display();

    let (device, modalias) = AHCI;
    let (expected, _) = missing_driver_line(&xtask::scenario::setup().unwrap().kernel.modules, device, modalias);
    let lines = r.modinit_lines();
    let error = lines.iter().position(|l| l.starts_with(&format!("root device UUID={ROOT_UUID} not found after 3 s")));
    let Some(error) = error else { panic!("no root error line; see {log}") };
    assert!(lines[error].ends_with("the block devices are vda"), "{}", lines[error]);
    // The phase's own report ends with the count; the root's follows it.
    let count = lines.iter().position(|l| l.starts_with("devices without a driver: "));
    let Some(count) = count.filter(|&c| c < error) else { panic!("no count before the error; see {log}") };
    let named = &lines[count + 1..error];
    assert!(named.contains(&expected.as_str()), "no line {expected:?} before the error, got {named:?}; see {log}");
    for line in named.iter().filter(|l| l.starts_with("no driver for ")) {
        assert!(line.contains("bc01sc"), "only storage controllers (PCI class 01) are named: {line}");
    }
    assert!(lines.contains(&"on_error=poweroff"), "{lines:?}");
    assert_eq!(r.outcome.end, End::Exited, "poweroff ends QEMU");
}
