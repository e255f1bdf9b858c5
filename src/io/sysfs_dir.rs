//! sysfs as the library's read-only tree ([`modinit::sysfs::Dir`]): directories by
//! descriptor, paths relative to them, read with `openat(2)`, `getdents64(2)` and `read(2)`.

use super::path::{PATH_MAX, c_path};
use core::ffi::CStr;
use core::mem::MaybeUninit;
use core::ops::ControlFlow;
use modinit::sysfs::{Dir, Entry, EntryKind};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{CWD, FileType, Mode, OFlags, RawDir, openat};
use rustix::io::{Errno, read};

/// A directory of sysfs, opened for reading.
pub struct SysfsDir(OwnedFd);

impl SysfsDir {
    /// `/sys`, the root the library's walks start from.
    pub fn root() -> Result<SysfsDir, Errno> {
        open_dir(CWD, c"/sys").map(SysfsDir)
    }
}

impl Dir for SysfsDir {
    fn open_dir(&self, path: &[u8]) -> Result<SysfsDir, i32> {
        let mut buf = [0u8; PATH_MAX];
        let path = c_path(&mut buf, &[path]).ok_or(Errno::NAMETOOLONG.raw_os_error())?;
        open_dir(&self.0, path).map(SysfsDir).map_err(|e| e.raw_os_error())
    }

    fn entries<B>(&self, mut each: impl FnMut(Entry<'_>) -> ControlFlow<B>) -> Result<Option<B>, i32> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut entries = RawDir::new(&self.0, &mut buf);
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(|e| e.raw_os_error())?;
            let kind = match entry.file_type() {
                FileType::Directory => EntryKind::Directory,
                FileType::RegularFile => EntryKind::File,
                FileType::Symlink => EntryKind::Symlink,
                _ => EntryKind::Other,
            };
            if let ControlFlow::Break(value) =
                each(Entry { name: entry.file_name().to_bytes(), kind, inode: entry.ino() })
            {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn read_file<'b>(&self, path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], i32> {
        let mut name = [0u8; PATH_MAX];
        let path = c_path(&mut name, &[path]).ok_or(Errno::NAMETOOLONG.raw_os_error())?;
        let fd =
            openat(&self.0, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| e.raw_os_error())?;
        let n = read(&fd, &mut *buf).map_err(|e| e.raw_os_error())?;
        Ok(&buf[..n])
    }
}

/// The directory `path` (relative to `parent`), not following a symlink as its last component.
fn open_dir(parent: impl AsFd, path: &CStr) -> Result<OwnedFd, Errno> {
    openat(parent, path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}
