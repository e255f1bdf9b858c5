//! Memory mappings that unmap themselves: of module files and for decompressed images.

use core::ffi::CStr;
use core::marker::PhantomData;
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags, fstat, open};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags, mmap, mmap_anonymous, munmap};

/// A mapping of `len` bytes, unmapped when dropped; an empty one maps nothing. `Access` says
/// whether it may be written: [`ReadOnly`] or [`ReadWrite`].
pub struct Mapping<Access> {
    ptr: *mut core::ffi::c_void,
    len: usize,
    access: PhantomData<Access>,
}

/// Mapped with PROT_READ only.
pub struct ReadOnly;
/// Mapped with PROT_READ | PROT_WRITE.
pub struct ReadWrite;

impl Mapping<ReadOnly> {
    /// `len` bytes of `fd` from its start, private and read-only.
    pub fn read_only(fd: impl AsFd, len: usize) -> Result<Self, Errno> {
        Self::map(fd, len, ProtFlags::READ, MapFlags::PRIVATE)
    }

    /// The whole file at `path`, read-only (empty for an empty file).
    pub fn of_path(path: &CStr) -> Result<Self, Errno> {
        let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let len = usize::try_from(fstat(&fd)?.st_size).map_err(|_| Errno::FBIG)?;
        if len == 0 {
            return Ok(Self::empty());
        }
        Self::read_only(&fd, len)
    }

    /// The mapped bytes for the rest of the process: the mapping is never unmapped.
    pub fn leak(self) -> &'static [u8] {
        let (ptr, len) = (self.ptr, self.len);
        core::mem::forget(self);
        if len == 0 {
            return &[];
        }
        // SAFETY: `len` readable bytes mapped by `map`, never unmapped now that `self` is
        // forgotten and never written (read-only, and the files of the modules dir are not
        // changed while modinit runs), so the slice is valid for the whole process.
        unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), len) }
    }
}

impl Mapping<ReadWrite> {
    /// `len` bytes of `fd` from its start, shared and writable (a memfd being filled).
    pub fn writable(fd: impl AsFd, len: usize) -> Result<Self, Errno> {
        Self::map(fd, len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED)
    }

    /// `len` bytes of zeroed private memory.
    pub fn anonymous(len: usize) -> Result<Self, Errno> {
        Self::map_anonymous(len, MapFlags::PRIVATE)
    }

    /// `len` bytes of zeroed memory that the processes forked from this one share.
    pub fn shared(len: usize) -> Result<Self, Errno> {
        Self::map_anonymous(len, MapFlags::SHARED)
    }

    fn map_anonymous(len: usize, flags: MapFlags) -> Result<Self, Errno> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let prot = ProtFlags::READ | ProtFlags::WRITE;
        // SAFETY: a new anonymous mapping at an address the kernel picks: it aliases no Rust object.
        let ptr = unsafe { mmap_anonymous(core::ptr::null_mut(), len, prot, flags)? };
        Ok(Mapping { ptr, len, access: PhantomData })
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: `len` bytes mapped writable by `writable` or `map_anonymous`, alive until `drop`;
        // `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
    }
}

impl<Access> Mapping<Access> {
    fn map(fd: impl AsFd, len: usize, prot: ProtFlags, flags: MapFlags) -> Result<Self, Errno> {
        // SAFETY: a new mapping at an address the kernel picks: it aliases no Rust object.
        let ptr = unsafe { mmap(core::ptr::null_mut(), len, prot, flags, fd.as_fd(), 0)? };
        Ok(Mapping { ptr, len, access: PhantomData })
    }

    fn empty() -> Self {
        Mapping { ptr: core::ptr::null_mut(), len: 0, access: PhantomData }
    }

    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `len` readable bytes mapped by `map` or `map_anonymous`, alive until `drop`; the
        // borrow of self keeps them alive for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl<Access> Drop for Mapping<Access> {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: unmaps exactly the mapping `map` or `map_anonymous` made; no slice of it outlives `self`.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}
