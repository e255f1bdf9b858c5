//! [`Dir`] over `std::fs`, for the tests: the fake sysfs trees under `tests/fixtures/trees/`.

use super::{Dir, Entry, EntryKind};
use core::ops::ControlFlow;
use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirEntryExt;
use std::path::PathBuf;

/// A directory of the host's filesystem, by its path.
pub(crate) struct HostDir(PathBuf);

/// The committed fake tree `tests/fixtures/trees/NAME`, as the root of a sysfs.
pub(crate) fn fixture_tree(name: &str) -> HostDir {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trees").join(name);
    assert!(path.is_dir(), "no fixture tree {}", path.display());
    HostDir(path)
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(5)
}

impl Dir for HostDir {
    fn open_dir(&self, path: &[u8]) -> Result<HostDir, i32> {
        let path = self.0.join(OsStr::from_bytes(path));
        let metadata = std::fs::symlink_metadata(&path).map_err(errno)?;
        match metadata.file_type() {
            t if t.is_symlink() => Err(40), // ELOOP, as O_NOFOLLOW
            t if t.is_dir() => Ok(HostDir(path)),
            _ => Err(20), // ENOTDIR
        }
    }

    fn entries<B>(&self, mut each: impl FnMut(Entry<'_>) -> ControlFlow<B>) -> Result<Option<B>, i32> {
        for entry in std::fs::read_dir(&self.0).map_err(errno)? {
            let entry = entry.map_err(errno)?;
            let kind = match entry.file_type().map_err(errno)? {
                t if t.is_dir() => EntryKind::Directory,
                t if t.is_file() => EntryKind::File,
                t if t.is_symlink() => EntryKind::Symlink,
                _ => EntryKind::Other,
            };
            let name = entry.file_name();
            if let ControlFlow::Break(value) = each(Entry { name: name.as_bytes(), kind, inode: entry.ino() }) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn read_file<'b>(&self, path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], i32> {
        let mut file = std::fs::File::open(self.0.join(OsStr::from_bytes(path))).map_err(errno)?;
        loop {
            match file.read(buf) {
                Ok(n) => return Ok(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(errno(e)),
            }
        }
    }
}
