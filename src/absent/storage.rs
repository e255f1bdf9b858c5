//! Which devices are storage controllers or disks, from their modalias: what the boot names
//! when the root device never appears.

/// Hyper-V's synthetic SCSI and IDE controllers (storvsc), as their `vmbus:` modalias spells
/// their class GUIDs (ba6163d9-04a1-4d29-b605-72e2ffb1dc7f, 32412632-86cb-44a2-9b5c-50d1417354f5),
/// bytes in memory order.
const HYPERV_STORAGE: [&[u8]; 2] =
    [b"vmbus:d96361baa104294db60572e2ffb1dc7f", b"vmbus:32264132cb86a2449b5c50d1417354f5"];

/// Whether a device with `modalias` holds or reaches disks: a PCI mass storage controller
/// (class 01: SATA, NVMe, SCSI, RAID, IDE), a USB mass storage interface (class 08), virtio's
/// block and SCSI devices, a SCSI disk, CD-ROM or reduced block device, an MMC card, Xen's
/// and Hyper-V's virtual disks.
pub fn is_storage(modalias: &[u8]) -> bool {
    if let Some(ids) = modalias.strip_prefix(b"pci:") {
        return field(ids, b"bc") == Some(b"01");
    }
    if let Some(ids) = modalias.strip_prefix(b"usb:") {
        return field(ids, b"ic") == Some(b"08");
    }
    [&b"virtio:d00000002v"[..], b"virtio:d00000008v", b"scsi:t-0x00", b"scsi:t-0x05", b"scsi:t-0x0e"]
        .iter()
        .any(|p| modalias.starts_with(p))
        || [&b"mmc:block"[..], b"xen:vbd"].contains(&modalias)
        || HYPERV_STORAGE.contains(&modalias)
}

/// The two hex digits after the lowercase `tag` in a PCI or USB modalias (their ids are
/// uppercase hex, so a lowercase tag is never part of one).
fn field<'m>(ids: &'m [u8], tag: &[u8]) -> Option<&'m [u8]> {
    let at = ids.windows(tag.len()).position(|w| w == tag)? + tag.len();
    ids.get(at..at + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_told_from_the_modalias() {
        for alias in [
            "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01",
            "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02",
            "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00",
            "virtio:d00000002v00001AF4",
            "virtio:d00000008v00001AF4",
            "scsi:t-0x00",
            "mmc:block",
        ] {
            assert!(is_storage(alias.as_bytes()), "{alias}");
        }
        for alias in [
            "pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00",
            "usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip01in00",
            "virtio:d00000001v00001AF4",
            "platform:pcspkr",
            "pci:",
        ] {
            assert!(!is_storage(alias.as_bytes()), "{alias}");
        }
    }
}
