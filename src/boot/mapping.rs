//! Memory mappings that unmap themselves: of module files and for decompressed images.

use core::ffi::CStr;
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags, fstat, open};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags, mmap, mmap_anonymous, munmap};

/// A mapping of `len` bytes, unmapped when dropped; an empty one maps nothing.
pub struct Mapping {
    ptr: *mut core::ffi::c_void,
    len: usize,
}

impl Mapping {
    /// `len` bytes of `fd` from its start.
    pub fn map(fd: impl AsFd, len: usize, prot: ProtFlags, flags: MapFlags) -> Result<Mapping, Errno> {
        // SAFETY: a new mapping at an address the kernel picks: it aliases no Rust object.
        let ptr = unsafe { mmap(core::ptr::null_mut(), len, prot, flags, fd.as_fd(), 0)? };
        Ok(Mapping { ptr, len })
    }

    /// The whole file at `path`, read-only (empty for an empty file).
    pub fn of_path(path: &CStr) -> Result<Mapping, Errno> {
        let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let len = usize::try_from(fstat(&fd)?.st_size).map_err(|_| Errno::FBIG)?;
        if len == 0 {
            return Ok(Mapping { ptr: core::ptr::null_mut(), len: 0 });
        }
        Self::map(&fd, len, ProtFlags::READ, MapFlags::PRIVATE)
    }

    /// `len` bytes of zeroed private memory.
    pub fn anonymous(len: usize) -> Result<Mapping, Errno> {
        if len == 0 {
            return Ok(Mapping { ptr: core::ptr::null_mut(), len: 0 });
        }
        let (prot, flags) = (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE);
        // SAFETY: a new anonymous mapping at an address the kernel picks: it aliases no Rust object.
        let ptr = unsafe { mmap_anonymous(core::ptr::null_mut(), len, prot, flags)? };
        Ok(Mapping { ptr, len })
    }

    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `len` readable bytes mapped by `map` or `anonymous`, alive until `drop`; the
        // borrow of self keeps them alive for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    /// The bytes, writable: only for mappings made writable (PROT_WRITE).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as `bytes`; the callers only ask this of the writable mappings they made, and
        // `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: unmaps exactly the mapping `map` or `anonymous` made; no slice of it outlives `self`.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}
