//! The running system's filesystem as the tree readers take it (`modinit::index::tree::TreeFs`):
//! directory listings and whole files through raw system calls, for `depmod` and for the
//! applets that read modprobe.d and kmod's files at every call.

use alloc::ffi::CString;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use modinit::index::tree::{DirEntry, EntryKind, TreeFs};
use modinit::kernel::errno::Strerror;
use rustix::fd::AsFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, fstat, open, readlinkat_raw, statat};
use rustix::io::{Errno, read};

/// An error of the system, as kmod words it.
fn sys(e: Errno) -> Strerror {
    Strerror(e.raw_os_error())
}

fn c_string(path: &[u8]) -> Result<CString, Errno> {
    CString::new(path).map_err(|_| Errno::INVAL)
}

/// The running system's filesystem, through raw system calls.
pub struct TargetFs;

impl TreeFs for TargetFs {
    type Error = Strerror;

    fn list(&mut self, path: &[u8]) -> Result<Option<Vec<DirEntry>>, Strerror> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = match open(c_string(path).map_err(sys)?.as_c_str(), flags, Mode::empty()) {
            Ok(dir) => dir,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(sys(e)),
        };
        let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
        let mut listing = RawDir::new(&dir, &mut buf);
        let mut entries = Vec::new();
        while let Some(entry) = listing.next() {
            let entry = entry.map_err(sys)?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::RegularFile => EntryKind::File,
                FileType::Directory => EntryKind::Directory,
                FileType::Symlink | FileType::Unknown => kind_of_link(&dir, name),
                _ => EntryKind::Other,
            };
            entries.push(DirEntry { name: name.to_bytes().to_vec(), kind });
        }
        Ok(Some(entries))
    }

    fn read(&mut self, path: &[u8]) -> Result<Option<Vec<u8>>, Strerror> {
        let file = match open(c_string(path).map_err(sys)?.as_c_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        {
            Ok(file) => file,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(sys(e)),
        };
        // One byte more than its size, so that the read that finds the end needs no growing.
        let size = fstat(&file).map_err(sys)?.st_size as usize;
        let mut bytes = alloc::vec![0u8; size + 1];
        let mut len = 0;
        loop {
            if len == bytes.len() {
                bytes.resize(2 * len, 0);
            }
            match read(&file, &mut bytes[len..]) {
                Ok(0) => {
                    bytes.truncate(len);
                    return Ok(Some(bytes));
                }
                Ok(n) => len += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(sys(e)),
            }
        }
    }
}

/// What the symlink (or entry of unknown type) `name` in `dir` is: /dev/null, else what it
/// points to.
fn kind_of_link(dir: &impl AsFd, name: &core::ffi::CStr) -> EntryKind {
    let mut target = [0u8; 16];
    if readlinkat_raw(dir, name, &mut target[..]).is_ok_and(|n| &target[..n] == b"/dev/null") {
        return EntryKind::DevNull;
    }
    match statat(dir, name, AtFlags::empty()).map(|st| FileType::from_raw_mode(st.st_mode)) {
        Ok(FileType::RegularFile) => EntryKind::File,
        Ok(FileType::Directory) => EntryKind::Directory,
        _ => EntryKind::Other,
    }
}
