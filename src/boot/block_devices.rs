//! The block devices the kernel has now, as the library reads them from /sys/class/block
//! ([`modinit::root::block_devices`]), and their nodes in /dev (devtmpfs), read for the root's identity.

use crate::io::path::c_path;
use crate::io::sysfs_dir::SysfsDir;
use core::ffi::CStr;
use core::ops::ControlFlow;
use modinit::root::block_devices::{self, ClassBlock, NAME_MAX};
use modinit::root::{DeviceNodes, ReadAt};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::{Errno, pread};

/// One block device: a whole disk or a partition.
#[derive(Clone, Copy)]
pub struct BlockDevice(block_devices::BlockDevice);

impl From<block_devices::BlockDevice> for BlockDevice {
    fn from(device: block_devices::BlockDevice) -> BlockDevice {
        BlockDevice(device)
    }
}

impl BlockDevice {
    /// Its node's name under /dev (DEVNAME), e.g. `sda1` or `cciss/c0d0`.
    pub fn name(&self) -> &[u8] {
        self.0.name()
    }

    /// Its node in devtmpfs, `/dev/NAME`.
    pub fn node(&self) -> NodePath {
        let mut path = NodePath([0; NODE_MAX]);
        // Fits: a name has at most NAME_MAX bytes.
        let _ = c_path(&mut path.0, &[b"/dev/", self.name()]);
        path
    }

    /// Opens /dev/NAME to read it; None for the devices not to be read (floppies).
    pub fn open(&self) -> Option<Result<DeviceFile, Errno>> {
        self.0.may_be_read().then(|| DeviceFile::open(&self.node()))
    }
}

/// /sys/class/block, None when it cannot be opened.
pub fn class_block() -> Option<ClassBlock<SysfsDir>> {
    ClassBlock::open(&SysfsDir::root().ok()?).ok()
}

/// Calls `each` for every block device until it breaks with a value, which is returned.
/// Devices whose uevent file cannot be read (one that is going away) are skipped.
pub fn find<T>(mut each: impl FnMut(&BlockDevice) -> ControlFlow<T>) -> Option<T> {
    class_block()?.find(|device| each(&BlockDevice(*device)))
}

/// The nodes devtmpfs makes in /dev, as the library's root search reads them.
pub struct DevNodes;

impl DeviceNodes for DevNodes {
    type File = DeviceFile;

    fn open(&mut self, device: &block_devices::BlockDevice) -> Result<DeviceFile, i32> {
        DeviceFile::open(&BlockDevice(*device).node()).map_err(|e| e.raw_os_error())
    }

    fn exists(&mut self, device: &block_devices::BlockDevice) -> bool {
        rustix::fs::stat(BlockDevice(*device).node().as_cstr()).is_ok()
    }
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

impl DeviceFile {
    fn open(node: &NodePath) -> Result<DeviceFile, Errno> {
        rustix::fs::open(node.as_cstr(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map(DeviceFile)
    }
}

impl ReadAt for DeviceFile {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        pread(&self.0, buf, offset).map_err(|e| e.raw_os_error())
    }
}
