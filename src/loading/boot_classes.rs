//! Which modules a boot needs before the real init, by where they live in the tree: the table
//! behind `--select most` and `--select host` when images are made, and behind
//! `modinit.async_probe` at boot (a module a boot needs is inserted as kmod inserts it; the
//! others probe their devices asynchronously, so that they do not wait for the storage
//! adapters' bus scans).

/// Why a [`MOST`] entry is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Every boot may need it: storage, block, filesystems, USB host and storage, HID and
    /// keyboards, virtio and hypervisor buses.
    Boot,
    /// A network card: needed before the real init only when the root is on the network.
    Nic,
}

/// What a generic bootable image needs, by path under the tree's `kernel/` (an entry ending in
/// `/` takes everything below it, another names one module file without its compression
/// suffix): the entry, its class, and what it brings. The crypto and checksum modules these
/// need come with them as dependencies and softdeps.
pub const MOST: &[(&str, Class, &str)] = &[
    ("drivers/ata/", Class::Boot, "SATA and PATA controllers"),
    ("drivers/scsi/", Class::Boot, "SCSI disks and CD-ROMs, SAS/FC HBAs, virtio-scsi, VMware/Hyper-V storage"),
    ("drivers/nvme/", Class::Boot, "NVMe"),
    ("drivers/block/", Class::Boot, "virtio-blk, Xen block, loop, NBD"),
    ("drivers/md/", Class::Boot, "software RAID and device-mapper (LVM, dm-crypt)"),
    ("drivers/mmc/", Class::Boot, "SD and eMMC"),
    ("drivers/cdrom/", Class::Boot, "CD-ROMs"),
    ("drivers/usb/host/", Class::Boot, "USB host controllers"),
    ("drivers/usb/storage/", Class::Boot, "USB mass storage and UAS"),
    ("drivers/hid/", Class::Boot, "keyboards (USB and I2C HID)"),
    ("drivers/input/keyboard/", Class::Boot, "other keyboards"),
    ("drivers/input/serio/", Class::Boot, "PS/2"),
    ("drivers/virtio/", Class::Boot, "virtio transports"),
    ("drivers/hv/", Class::Boot, "Hyper-V bus"),
    ("drivers/xen/", Class::Boot, "Xen"),
    ("drivers/nvdimm/", Class::Boot, "persistent memory"),
    ("drivers/net/virtio_net.ko", Class::Nic, "virtio network"),
    ("drivers/net/vmxnet3/", Class::Nic, "VMware network"),
    ("drivers/net/hyperv/", Class::Nic, "Hyper-V network"),
    ("drivers/net/xen-netfront.ko", Class::Nic, "Xen network"),
    ("drivers/net/ethernet/intel/", Class::Nic, "Intel NICs (e1000, e1000e, igb, ixgbe, ...)"),
    ("drivers/net/ethernet/realtek/", Class::Nic, "Realtek NICs"),
    ("drivers/net/ethernet/broadcom/", Class::Nic, "Broadcom NICs (tg3, bnx2, bnxt)"),
    ("drivers/net/ethernet/amazon/", Class::Nic, "AWS ENA"),
    ("fs/", Class::Boot, "filesystems"),
];

/// The class of the [`MOST`] entry that takes the module file at `path` (relative to the
/// modules directory, as the index gives it, e.g. `kernel/drivers/ata/ahci.ko.xz`); None when
/// no entry does.
pub fn class_of(path: &[u8]) -> Option<Class> {
    let rel = path.strip_prefix(b"kernel/")?;
    let ko = rel.windows(3).rposition(|w| w == b".ko").map_or(rel, |at| &rel[..at + 3]);
    MOST.iter()
        .find(|(entry, _, _)| {
            let entry = entry.as_bytes();
            if entry.ends_with(b"/") { rel.starts_with(entry) } else { ko == entry }
        })
        .map(|&(_, class, _)| class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_take_what_is_below_them_and_files_take_themselves_in_any_compression() {
        assert_eq!(class_of(b"kernel/drivers/ata/ahci.ko"), Some(Class::Boot));
        assert_eq!(class_of(b"kernel/drivers/scsi/megaraid/megaraid_sas.ko.xz"), Some(Class::Boot));
        assert_eq!(class_of(b"kernel/drivers/net/virtio_net.ko.zst"), Some(Class::Nic));
        assert_eq!(class_of(b"kernel/drivers/net/virtio_net_extra.ko"), None);
        assert_eq!(class_of(b"kernel/drivers/acpi/button.ko"), None);
        assert_eq!(class_of(b"drivers/ata/ahci.ko"), None, "paths are under kernel/");
        assert_eq!(class_of(b"updates/dkms/zfs.ko"), None);
    }
}
