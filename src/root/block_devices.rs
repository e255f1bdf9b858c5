//! The block devices of a sysfs's `class/block/`: each one's name, number and partition
//! number from its `uevent` file, the disk a partition is on, a disk's geometry.

use crate::decimal::decimal;
use crate::kernel::uevent::uevent_file_field;
use crate::root::{DevNum, DiskGeometry, Text};
use crate::sysfs::Dir;
use core::ops::ControlFlow;

/// Disk names are at most 31 bytes (DISK_NAME_LEN); a partition's adds its number.
pub const NAME_MAX: usize = 48;
/// The floppy driver's major.
const FLOPPY_MAJOR: u32 = 2;
/// Room for a path under `class/block/`: an entry's name and a file below it.
const PATH_MAX: usize = 110;

/// One block device: a whole disk or a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDevice {
    name: Text<NAME_MAX>,
    pub number: DevNum,
    /// The partition's number (PARTN) for a partition, None for a whole disk.
    pub partition: Option<u32>,
    /// Tells what the device holds now from what it held when it was read before: the inode
    /// of its `class/block/` entry (a device made again, as partitions are after a rescan,
    /// has a new one) and a disk's DISKSEQ (raised on a media change, and sent in the
    /// uevent saying so). 0 where not known.
    pub version: (u64, u64),
}

impl BlockDevice {
    /// Its node's name under /dev (DEVNAME), e.g. `sda1` or `cciss/c0d0`.
    pub fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The kernel's name for it, as its directory in `class/block/`: [`Self::name`] with
    /// `/` as `!` (`cciss!c0d0`).
    pub fn kernel_name(&self) -> Text<NAME_MAX> {
        let mut name = Text::new();
        self.name().iter().for_each(|&b| name.push(if b == b'/' { b'!' } else { b }));
        name
    }

    /// Whether its node may be opened to read it: not for floppies, whose drive waits for the
    /// hardware when opened without a disk (udev does not probe floppies either).
    pub fn may_be_read(&self) -> bool {
        self.number.major != FLOPPY_MAJOR
    }
}

/// A sysfs's `class/block/` directory, whose entries are links to the block devices.
pub struct ClassBlock<D>(D);

impl<D: Dir> ClassBlock<D> {
    /// `class/block/` of the sysfs whose root is `sys`.
    pub fn open(sys: &D) -> Result<ClassBlock<D>, i32> {
        sys.open_dir(b"class/block").map(ClassBlock)
    }

    /// Calls `each` for every block device until it breaks with a value, which is returned.
    /// Devices whose uevent file cannot be read (one that is going away) are skipped.
    pub fn find<T>(&self, mut each: impl FnMut(&BlockDevice) -> ControlFlow<T>) -> Option<T> {
        let found = self.0.entries(|entry| match entry.name.starts_with(b".") {
            true => ControlFlow::Continue(()),
            false => self.read(entry.name, entry.inode).map_or(ControlFlow::Continue(()), |device| each(&device)),
        });
        found.ok().flatten()
    }

    /// The whole disk `partition` is on (its sysfs parent directory).
    pub fn disk(&self, partition: &BlockDevice) -> Option<BlockDevice> {
        self.read(joined(&[partition.kernel_name().as_bytes(), b"/.."])?.as_bytes(), 0)
    }

    /// A whole disk's size and logical block size, for reading its partition table.
    pub fn geometry(&self, disk: &BlockDevice) -> Option<DiskGeometry> {
        let name = disk.kernel_name();
        let number = |file: &[u8]| {
            let mut buf = [0u8; 32];
            let text = self.0.read_file(joined(&[name.as_bytes(), file])?.as_bytes(), &mut buf).ok()?;
            decimal(text.trim_ascii_end())
        };
        let block_size = u32::try_from(number(b"/queue/logical_block_size")?).ok()?;
        Some(DiskGeometry::from_sysfs(number(b"/size")?, block_size))
    }

    /// The device whose directory is `class/block/DIR` (a name, or a name with `/..` for its
    /// parent), from its `uevent` file.
    fn read(&self, dir: &[u8], inode: u64) -> Option<BlockDevice> {
        let mut buf = [0u8; 1024];
        let text = self.0.read_file(joined(&[dir, b"/uevent"])?.as_bytes(), &mut buf).ok()?;
        let number = |key| uevent_file_field(text, key).and_then(decimal).and_then(|n| u32::try_from(n).ok());
        let name = uevent_file_field(text, b"DEVNAME").filter(|n| n.len() <= NAME_MAX)?;
        Some(BlockDevice {
            name: Text::from_bytes(name),
            number: DevNum { major: number(b"MAJOR")?, minor: number(b"MINOR")? },
            partition: match uevent_file_field(text, b"DEVTYPE") {
                Some(b"partition") => Some(number(b"PARTN")?),
                _ => None,
            },
            version: (inode, uevent_file_field(text, b"DISKSEQ").and_then(decimal).unwrap_or(0)),
        })
    }
}

/// `parts` joined into a path; None when it is longer than [`PATH_MAX`].
fn joined(parts: &[&[u8]]) -> Option<Text<PATH_MAX>> {
    let mut path = Text::new();
    parts.iter().for_each(|part| path.push_bytes(part));
    (parts.iter().map(|part| part.len()).sum::<usize>() <= PATH_MAX).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::host::fixture_tree;

    fn class_block() -> ClassBlock<crate::sysfs::host::HostDir> {
        ClassBlock::open(&fixture_tree("sys-block")).expect("class/block")
    }

    /// `name major:minor partition diskseq` of a device.
    fn described(device: &BlockDevice) -> String {
        let partition = device.partition.map_or("disk".into(), |n| format!("part{n}"));
        format!("{} {} {partition} {}", String::from_utf8_lossy(device.name()), device.number, device.version.1)
    }

    #[test]
    fn block_devices_are_listed_with_their_numbers_and_skip_a_vanished_one() {
        let class = class_block();
        let mut listed = Vec::new();
        let found: Option<()> = class.find(|device| {
            assert_ne!(device.version.0, 0, "{}: its entry's inode", described(device));
            listed.push(described(device));
            ControlFlow::Continue(())
        });
        assert_eq!(found, None);
        listed.sort();
        // sda's link points to a device that is gone: skipped.
        assert_eq!(
            listed,
            ["fd0 2:0 disk 2", "sr0 11:0 disk 3", "vda 254:0 disk 1", "vda1 254:1 part1 0", "vda2 254:2 part2 0"]
        );
    }

    #[test]
    fn block_devices_find_stops_at_the_first_break() {
        let class = class_block();
        let found = class.find(|device| match device.partition {
            Some(_) => ControlFlow::Break(device.number.minor),
            None => ControlFlow::Continue(()),
        });
        assert!(matches!(found, Some(1 | 2)), "{found:?}");
    }

    #[test]
    fn a_partitions_disk_and_the_disks_geometry() {
        let class = class_block();
        let vda2 = class.find(|d| if d.name() == b"vda2" { ControlFlow::Break(*d) } else { ControlFlow::Continue(()) });
        let disk = class.disk(&vda2.expect("vda2")).expect("its disk");
        assert_eq!(described(&disk), "vda 254:0 disk 1");
        assert_eq!(class.geometry(&disk), Some(DiskGeometry::from_sysfs(8192, 512)));
        assert_eq!(disk.kernel_name().as_bytes(), b"vda");
    }
}
