//! Reading sysfs over a read-only directory tree the caller provides: the devices' modaliases
//! (coldplug) and the USB hubs still at work here, the block devices in
//! `crate::root::block_devices`.
//!
//! The walking and deciding is here, in the library, generic over [`Dir`]; the boot binary
//! implements [`Dir`] over `openat(2)`, `getdents64(2)` and `read(2)` from a descriptor of
//! `/sys`, and the tests over `std::fs` from a small fake tree under `tests/fixtures/trees/`
//! (as kmod's testsuite runs its tools over a fake root). The trait keeps to what the boot
//! needs: no heap, names as bytes, files read into the caller's buffer.

pub mod coldplug;
#[cfg(test)]
pub(crate) mod host;
pub mod usb;

use core::ops::ControlFlow;

/// A directory of a read-only tree (sysfs, or a copy of one). Paths are relative to it, made
/// of names separated by `/`; errors are errno values.
pub trait Dir: Sized {
    /// The directory at `path`, not following a symlink as its last component (O_NOFOLLOW).
    fn open_dir(&self, path: &[u8]) -> Result<Self, i32>;

    /// Calls `each` for its entries, as listed (`.` and `..` may be among them), until it
    /// breaks: `Ok(Some(value))` then, `Ok(None)` when all were listed, `Err` when listing
    /// failed before the end.
    fn entries<B>(&self, each: impl FnMut(Entry<'_>) -> ControlFlow<B>) -> Result<Option<B>, i32>;

    /// The start of the file at `path` (symlinks on the way followed), as much as `buf` holds,
    /// in one read: sysfs hands out a whole attribute, at most a page, at once.
    fn read_file<'b>(&self, path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], i32>;
}

/// A directory entry, with its type as listed (a symlink is a symlink, whatever it points to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'n> {
    pub name: &'n [u8],
    pub kind: EntryKind,
    pub inode: u64,
}

/// The types of entry the walks tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File,
    Symlink,
    /// Anything else, or a type the listing does not give.
    Other,
}
