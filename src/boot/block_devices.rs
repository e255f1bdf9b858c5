//! The block devices the kernel has now: the entries of /sys/class/block with their `uevent`
//! files, and their first bytes read from /dev (devtmpfs) for the root's identity.

use crate::io::file::read_into;
use crate::io::path::c_path;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use core::ops::ControlFlow;
use modinit::decimal::decimal;
use modinit::kernel::uevent::uevent_file_field;
use modinit::root::{DevNum, DiskGeometry, ReadAt, Text};
use rustix::fd::OwnedFd;
use rustix::fs::{CWD, Mode, OFlags, RawDir, openat};
use rustix::io::{Errno, pread};

const CLASS_BLOCK: &CStr = c"/sys/class/block";
/// Disk names are at most 31 bytes (DISK_NAME_LEN); a partition's adds its number.
const NAME_MAX: usize = 48;
/// The floppy driver's major: opening a drive without a disk waits for the hardware, and udev
/// does not probe floppies either.
const FLOPPY_MAJOR: u32 = 2;

/// One block device: a whole disk or a partition.
#[derive(Clone, Copy)]
pub struct BlockDevice {
    name: Text<NAME_MAX>,
    pub number: DevNum,
    /// The partition's number (PARTN) for a partition, None for a whole disk.
    pub partition: Option<u32>,
    /// Tells what the device holds now from what it held when it was read before: the inode
    /// of its /sys/class/block entry (a device made again, as partitions are after a rescan,
    /// has a new one) and a disk's DISKSEQ (raised on a media change, and sent in the
    /// uevent saying so). 0 where not known.
    pub version: (u64, u64),
}

impl BlockDevice {
    /// Its node's name under /dev (DEVNAME), e.g. `sda1` or `cciss/c0d0`.
    pub fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The kernel's name for it, as its directory in /sys/class/block: [`Self::name`] with
    /// `/` as `!` (`cciss!c0d0`).
    pub fn kernel_name(&self) -> Text<NAME_MAX> {
        let mut name = Text::new();
        self.name().iter().for_each(|&b| name.push(if b == b'/' { b'!' } else { b }));
        name
    }

    /// The device whose sysfs directory is /sys/class/block/`dir` (a name, or a name with
    /// `/..` for its parent).
    fn read(dir: &[u8], inode: u64) -> Option<BlockDevice> {
        let (mut path, mut buf) = ([0u8; SYSFS_PATH_MAX], [0u8; 1024]);
        let text = read_into(sysfs_path(&mut path, dir, b"/uevent")?, &mut buf).ok()?;
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

    /// The whole disk a partition is on (its sysfs parent directory).
    pub fn disk(&self) -> Option<BlockDevice> {
        let mut dir = [0u8; SYSFS_PATH_MAX];
        BlockDevice::read(c_path(&mut dir, &[self.kernel_name().as_bytes(), b"/.."])?.to_bytes(), 0)
    }

    /// A whole disk's size and logical block size, for reading its partition table.
    pub fn geometry(&self) -> Option<DiskGeometry> {
        let number = |file: &[u8]| {
            let (mut path, mut buf) = ([0u8; SYSFS_PATH_MAX], [0u8; 32]);
            let text = read_into(sysfs_path(&mut path, self.kernel_name().as_bytes(), file)?, &mut buf).ok()?;
            decimal(text.trim_ascii_end())
        };
        let block_size = u32::try_from(number(b"/queue/logical_block_size")?).ok()?;
        Some(DiskGeometry::from_sysfs(number(b"/size")?, block_size))
    }

    /// Its node in devtmpfs, `/dev/NAME`.
    pub fn node(&self) -> NodePath {
        let mut path = NodePath([0; NODE_MAX]);
        // Fits: a name has at most NAME_MAX bytes.
        let _ = c_path(&mut path.0, &[b"/dev/", self.name()]);
        path
    }

    /// Opens /dev/NAME to read it; None for floppies (see [`FLOPPY_MAJOR`]).
    pub fn open(&self) -> Option<Result<DeviceFile, Errno>> {
        if self.number.major == FLOPPY_MAJOR {
            return None;
        }
        let node = self.node();
        Some(rustix::fs::open(node.as_cstr(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map(DeviceFile))
    }
}

/// Calls `each` for every block device until it breaks with a value, which is returned.
/// Devices whose uevent file cannot be read (one that is going away) are skipped.
pub fn find<T>(mut each: impl FnMut(&BlockDevice) -> ControlFlow<T>) -> Option<T> {
    let class = open_dir(CLASS_BLOCK).ok()?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&class, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name().to_bytes();
        if name.starts_with(b".") {
            continue;
        }
        if let Some(device) = BlockDevice::read(name, entry.ino())
            && let ControlFlow::Break(found) = each(&device)
        {
            return Some(found);
        }
    }
    None
}

/// Room for `/dev/`, a name and the NUL.
const NODE_MAX: usize = 5 + NAME_MAX + 1;

/// A device node's path, NUL-terminated.
pub struct NodePath([u8; NODE_MAX]);

impl NodePath {
    pub fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or_default()
    }
}

/// A block device opened for reading its first bytes.
pub struct DeviceFile(OwnedFd);

impl ReadAt for DeviceFile {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        pread(&self.0, buf, offset).map_err(|e| e.raw_os_error())
    }
}

/// Room for `/sys/class/block/DIR/FILE`.
const SYSFS_PATH_MAX: usize = 128;

/// `/sys/class/block/DIR/FILE` in `buf`.
fn sysfs_path<'b>(buf: &'b mut [u8; SYSFS_PATH_MAX], dir: &[u8], file: &[u8]) -> Option<&'b CStr> {
    c_path(buf, &[CLASS_BLOCK.to_bytes(), b"/", dir, file])
}

fn open_dir(path: &CStr) -> Result<OwnedFd, Errno> {
    openat(CWD, path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
}
