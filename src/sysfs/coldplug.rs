//! Coldplug: the `modalias` of every device the kernel found before /init started (from its
//! `modalias` file, or its `uevent` file's `MODALIAS=` when it has no such file), under a
//! sysfs's `devices/`, with the device's name and whether a driver took it.

use super::{Dir, EntryKind};
use crate::kernel::uevent::modalias_in_uevent_file;
use core::ops::ControlFlow;

/// How many directories below `devices/` the walk goes: sysfs nests devices about a dozen
/// levels deep, and the bound keeps the walk's stack use bounded.
pub const MAX_DEPTH: usize = 32;
/// A sysfs attribute is at most a page: the longest modalias (DMI's, made of the firmware's
/// strings) fits whole, as kmod's lookup takes it (`crate::resolve::KEY_MAX`).
const MODALIAS_MAX: usize = 4096;

/// A device directory under `devices/` with a modalias, as [`scan_devices`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device<'w> {
    /// The directory's name: the device's name as the kernel shows it (`0000:00:1f.3`,
    /// `1-1:1.0`, `virtio0`).
    pub name: &'w [u8],
    pub modalias: &'w [u8],
    /// It has a `driver` link: a driver took it.
    pub bound: bool,
    /// It has a `physical_node` link: an ACPI node whose device is elsewhere in the tree
    /// (drivers bind to that one).
    pub describes_another: bool,
}

/// Reads every `modalias` file under `sys`'s `devices/` and hands each non-empty one to
/// `found`, with its device's name and links; `Err` (an errno) when `devices/` cannot be
/// opened. Directories below it that cannot be opened (a device can vanish while it is
/// walked) are skipped quietly; symlinks are never followed.
pub fn scan_devices<D: Dir>(sys: &D, mut found: impl FnMut(&Device<'_>)) -> Result<(), i32> {
    let devices = sys.open_dir(b"devices")?;
    walk(&devices, b"devices", 0, &mut found);
    Ok(())
}

fn walk<D: Dir>(dir: &D, name: &[u8], depth: usize, found: &mut impl FnMut(&Device<'_>)) {
    let (mut has_modalias, mut has_uevent, mut bound, mut describes_another) = (false, false, false, false);
    let listed = dir.entries(|entry| {
        match (entry.kind, entry.name) {
            (EntryKind::Directory, b"." | b"..") => {}
            (EntryKind::Directory, child) if depth < MAX_DEPTH => {
                if let Ok(child_dir) = dir.open_dir(child) {
                    walk(&child_dir, child, depth + 1, found);
                }
            }
            (EntryKind::File, b"modalias") => has_modalias = true,
            (EntryKind::File, b"uevent") => has_uevent = true,
            (EntryKind::Symlink, b"driver") => bound = true,
            (EntryKind::Symlink, b"physical_node") => describes_another = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    let mut text = [0u8; MODALIAS_MAX];
    let modalias = if has_modalias {
        first_line(dir, b"modalias", &mut text)
    } else if listed.is_ok() && has_uevent {
        // A listing cut short leaves the directory's other entries, and its uevent, unread.
        dir.read_file(b"uevent", &mut text).ok().and_then(modalias_in_uevent_file)
    } else {
        None
    };
    if let Some(modalias) = modalias {
        found(&Device { name, modalias, bound, describes_another });
    }
}

/// The first line of the small file `name`, without its newline; None when it cannot be read
/// or is empty.
fn first_line<'b, D: Dir>(dir: &D, name: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let text = dir.read_file(name, buf).ok()?;
    text.split(|&b| b == b'\n').next().filter(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::host::fixture_tree;

    fn scanned(tree: &str) -> Result<Vec<String>, i32> {
        let mut found = Vec::new();
        scan_devices(&fixture_tree(tree), |d| found.push(String::from_utf8_lossy(d.modalias).into_owned()))?;
        found.sort();
        Ok(found)
    }

    #[test]
    fn coldplug_finds_each_modalias_of_the_pc_tree_once() {
        // tests/fixtures/trees/README.md: the files and uevents of sys-pc/devices.
        let expected = [
            // An ACPI node and the platform device it describes.
            "acpi:QEMU0002:",
            "acpi:QEMU0002:",
            "mmc:block", // only in its uevent, as MMC cards have it
            "nest:depth32",
            "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
            "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
            "pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01",
            "pci:v00008086d00007020sv00001AF4sd00001100bc0Csc03i00",
            "platform:serial8250",
            // The root hub and its interface have the same alias.
            "usb:v1D6Bp0001d0601dc09dsc00dp00ic09isc00ip00in00",
            "usb:v1D6Bp0001d0601dc09dsc00dp00ic09isc00ip00in00",
            "virtio:d00000001v00001AF4",
            "virtio:d00000002v00001AF4",
        ];
        // Once each: vda's `device` link back to virtio1 is not followed, nor `subsystem`;
        // the nest's `33` is one level past MAX_DEPTH.
        assert_eq!(MAX_DEPTH, 32);
        assert_eq!(scanned("sys-pc"), Ok(expected.map(String::from).to_vec()));
    }

    #[test]
    fn each_device_comes_with_its_name_and_links() {
        let mut found = Vec::new();
        scan_devices(&fixture_tree("sys-pc"), |d| {
            let name = String::from_utf8_lossy(d.name).into_owned();
            found.push((name, String::from_utf8_lossy(d.modalias).into_owned(), d.bound, d.describes_another));
        })
        .unwrap();
        found.sort();
        let device = |name: &str| found.iter().find(|d| d.0 == name).cloned();
        let entry = |name: &str, alias: &str, bound, describes| Some((name.into(), alias.into(), bound, describes));
        let virtio_net = "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00";
        assert_eq!(device("0000:00:03.0"), entry("0000:00:03.0", virtio_net, true, false));
        assert_eq!(device("virtio0"), entry("virtio0", "virtio:d00000001v00001AF4", true, false));
        assert_eq!(device("virtio1"), entry("virtio1", "virtio:d00000002v00001AF4", false, false));
        assert_eq!(device("mmc0:4567"), entry("mmc0:4567", "mmc:block", false, false));
        let qemu = |d: &&(String, String, bool, bool)| d.0 == "QEMU0002:00";
        let acpi: Vec<bool> = found.iter().filter(qemu).map(|d| d.3).collect();
        assert_eq!(acpi, [false, true], "the platform device, and the ACPI node describing it");
    }

    #[test]
    fn coldplug_without_devices_is_an_error() {
        assert_eq!(scanned("sys-block/class"), Err(2), "ENOENT");
    }
}
