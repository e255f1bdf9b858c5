//! Loading one module file into the kernel.
//!
//! A plain `.ko` goes to `finit_module` as it is. A `.ko.gz` or `.ko.zst` is decompressed
//! straight into a memfd's pages (sized from the gzip trailer or the zstd frame header, so
//! nothing is copied twice) and that memfd goes to `finit_module`; kernels without it get
//! `init_module` on the same pages. A `.ko.xz` is handed to the kernel compressed when it
//! decompresses xz itself (Linux >= 6.4 with CONFIG_MODULE_DECOMPRESS), else refused.
//! The force flags (ignore vermagic or modversions) are never passed.

use super::file::read_into;
use core::ffi::CStr;
use core::fmt;
use modinit::decompress::{self, Compression, DecompressError};
use modinit::errno::Describe;
use modinit::module_error::LoadError;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{MemfdFlags, Mode, OFlags, fstat, ftruncate, memfd_create, open};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use rustix::system::{finit_module, init_module};

/// Largest decompressed module accepted (the biggest in Debian's tree are ~30 MiB).
pub const MAX_MODULE_BYTES: usize = 256 << 20;

/// `MODULE_INIT_COMPRESSED_FILE`: the kernel decompresses the file itself.
const MODULE_INIT_COMPRESSED_FILE: i32 = 4;

/// Why a module did not load.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// The file could not be opened, mapped or read.
    File(Errno),
    Decompress(DecompressError),
    /// No memory for the decompressed image (memfd, mmap).
    Memory(Errno),
    /// An xz module on a kernel that does not decompress modules itself.
    XzUnsupported,
    /// The kernel refused it.
    Kernel(LoadError),
    /// Its path or its options do not fit modinit's buffers.
    TooLong,
}

impl Failure {
    /// A failure that is part of normal operation: loaded already, or no device for it.
    pub fn is_quiet(&self) -> bool {
        matches!(self, Failure::Kernel(e) if e.is_no_device())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::File(e) => write!(f, "{}", Describe(e.raw_os_error())),
            Failure::Decompress(e) => write!(f, "{e}"),
            Failure::Memory(e) => write!(f, "no memory for the decompressed module: {}", Describe(e.raw_os_error())),
            Failure::XzUnsupported => write!(f, "xz-compressed, and this kernel does not decompress modules itself"),
            Failure::Kernel(e) => write!(f, "{e}"),
            Failure::TooLong => write!(f, "its path or options are longer than modinit's buffers"),
        }
    }
}

/// Loads the module file `path`, stored with `compression`, with `params`.
pub fn load(path: &CStr, compression: Compression, params: &CStr) -> Result<(), Failure> {
    let file = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(Failure::File)?;
    match compression {
        Compression::None => insert(&file, params, 0),
        Compression::Xz if kernel_decompresses(b"xz") => insert(&file, params, MODULE_INIT_COMPRESSED_FILE),
        Compression::Xz => Err(Failure::XzUnsupported),
        Compression::Gzip | Compression::Zstd => {
            let (memfd, image) = decompressed(&file, compression)?;
            match insert(&memfd, params, 0) {
                Err(Failure::Kernel(LoadError(e))) if e == Errno::NOSYS.raw_os_error() => {
                    init_module(image.bytes(), params).map_err(|e| Failure::Kernel(LoadError(e.raw_os_error())))
                }
                other => other,
            }
        }
    }
}

/// A module file's ELF image in memory, for reading it (`depmod`): the file itself mapped, or
/// a gzip or zstd file decompressed as [`load`] does. Unmapped when dropped.
pub enum Image {
    Plain(Mapping<ReadOnly>),
    /// The memfd is closed: the mapping keeps its pages.
    Decompressed(Mapping<ReadWrite>),
}

impl Image {
    /// The image of the module file `path`, stored with `compression`.
    pub fn of(path: &CStr, compression: Compression) -> Result<Image, Failure> {
        let file = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(Failure::File)?;
        match compression {
            Compression::None => Ok(Image::Plain(Mapping::of_file(&file, compression)?)),
            Compression::Gzip | Compression::Zstd => {
                let (_memfd, pages) = decompressed(&file, compression)?;
                Ok(Image::Decompressed(pages))
            }
            Compression::Xz => Err(Failure::Decompress(DecompressError::Unsupported(Compression::Xz))),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Image::Plain(m) => m.bytes(),
            Image::Decompressed(m) => m.bytes(),
        }
    }
}

/// The gzip or zstd module `file` decompressed straight into a memfd's pages, and those pages.
fn decompressed(file: &OwnedFd, compression: Compression) -> Result<(OwnedFd, Mapping<ReadWrite>), Failure> {
    let compressed = Mapping::of_file(file, compression)?;
    let size = decompress::decompressed_size(compressed.bytes(), MAX_MODULE_BYTES).map_err(Failure::Decompress)?;
    // A full arena would be fatal: refuse what might not fit before decoding.
    decompress::heap_needed(compressed.bytes(), crate::sys::arena::available()).map_err(Failure::Decompress)?;
    let memfd = memfd_create(c"modinit-module", MemfdFlags::CLOEXEC).map_err(Failure::Memory)?;
    ftruncate(&memfd, size as u64).map_err(Failure::Memory)?;
    let mut image = Mapping::writable(&memfd, size)?;
    let decoded = crate::sys::arena::scoped(|| decompress::decompress_into(compressed.bytes(), image.bytes_mut()));
    decoded.map_err(Failure::Decompress)?;
    Ok((memfd, image))
}

fn insert(fd: &OwnedFd, params: &CStr, flags: i32) -> Result<(), Failure> {
    finit_module(fd, params, flags).map_err(|e| Failure::Kernel(LoadError(e.raw_os_error())))
}

/// Whether /sys/module/compression names `algorithm` (Linux >= 6.4, CONFIG_MODULE_DECOMPRESS).
fn kernel_decompresses(algorithm: &[u8]) -> bool {
    let mut buf = [0u8; 16];
    read_into(c"/sys/module/compression", &mut buf).is_ok_and(|s| s.trim_ascii_end() == algorithm)
}

/// A mapping of a whole file, unmapped when dropped; `Access` says whether it can be written.
pub struct Mapping<Access> {
    ptr: *mut core::ffi::c_void,
    len: usize,
    access: core::marker::PhantomData<Access>,
}

/// A file's bytes mapped to be read.
pub struct ReadOnly;
/// A memfd mapped shared, to be written.
pub struct ReadWrite;

impl Mapping<ReadOnly> {
    fn of_file(fd: &OwnedFd, compression: Compression) -> Result<Self, Failure> {
        let len = fstat(fd).map_err(Failure::File)?.st_size as usize;
        if len == 0 {
            return Err(Failure::Decompress(DecompressError::Truncated(compression)));
        }
        Self::map(fd, len, ProtFlags::READ, MapFlags::PRIVATE).map_err(Failure::File)
    }
}

impl Mapping<ReadWrite> {
    fn writable(fd: &OwnedFd, len: usize) -> Result<Self, Failure> {
        Self::map(fd, len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED).map_err(Failure::Memory)
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes mapped writable by `writable`, alive until `drop`; `&mut self`
        // makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
    }
}

impl<Access> Mapping<Access> {
    fn map(fd: &OwnedFd, len: usize, prot: ProtFlags, flags: MapFlags) -> Result<Self, Errno> {
        // SAFETY: a new mapping at an address the kernel picks: it aliases no Rust object.
        let ptr = unsafe { mmap(core::ptr::null_mut(), len, prot, flags, fd.as_fd(), 0)? };
        Ok(Mapping { ptr, len, access: core::marker::PhantomData })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes mapped by `map`, alive until `drop`; the borrow of
        // self keeps them alive for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl<Access> Drop for Mapping<Access> {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made; no slice of it outlives `self`.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}
