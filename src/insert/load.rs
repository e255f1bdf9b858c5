//! Loading one module file into the kernel.
//!
//! A plain `.ko` goes to `finit_module` as it is. A compressed one (`.ko.gz`, `.ko.zst`,
//! `.ko.xz`) goes to the kernel as it is when the kernel decompresses that format itself
//! (Linux >= 6.4 with CONFIG_MODULE_DECOMPRESS: `/sys/module/compression` names it, spelled
//! `gzip`, `zstd` or `xz` as kernel/module/decompress.c prints MODULE_COMPRESSION). Otherwise,
//! or when the kernel refuses the compressed file as one it cannot decompress (EINVAL,
//! EOPNOTSUPP: [`LoadError::may_be_decompression`]), it is decompressed here, straight into a
//! memfd's pages (sized from the gzip trailer, the zstd frame header or the xz index, so nothing
//! is copied twice), and that memfd goes to `finit_module`; kernels without it get
//! `init_module` on the same pages. The heap the zstd decoder needs (its buffers; gzip's
//! and xz's dictionaries are the output) comes from the arena (`sys::arena`, 64 MiB of address space), checked with
//! `heap_needed` before decoding. Forcing (ignoring the module's vermagic or symbol versions)
//! happens only when an applet is asked for it, as kmod 30 does it: a plain file goes to
//! `finit_module` with the force flags; a compressed one is decompressed here (never by the
//! kernel), stripped (`modinit::module_file::strip`) and given to `init_module`. On a kernel
//! without `finit_module` (Linux < 3.8) a forced plain file fails with ENOSYS, where kmod strips
//! a copy.

use super::module_image::{ImageError, decompressed_into};
use crate::io::file::read_into;
use crate::io::log::warning;
use crate::io::mapping::{Mapping, ReadOnly, ReadWrite};
use core::ffi::CStr;
use core::fmt;
use modinit::decompress::{Compression, DecompressError};
use modinit::kernel::errno::Describe;
use modinit::kernel::init_flags::{Force, ModuleInitFlags};
use modinit::kernel::module_error::LoadError;
use modinit::line::Bytes;
use modinit::module_file::strip::strip;
use rustix::fd::OwnedFd;
use rustix::fs::{MemfdFlags, Mode, OFlags, fstat, ftruncate, memfd_create, open};
use rustix::io::Errno;
use rustix::system::{finit_module, init_module};

/// Why a module did not load.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// The file could not be opened, mapped or read.
    File(Errno),
    Decompress(DecompressError),
    /// No memory for the decompressed image (memfd, mmap).
    Memory(Errno),
    /// The kernel refused it.
    Kernel(LoadError),
    /// Its path or its options do not fit modinit's buffers.
    TooLong,
    /// The worker process inserting it ended without an answer.
    Worker(WorkerEnd),
    /// Given up after `ms` while still loading: the driver phase made no progress for
    /// `modinit.timeout_ms` (`insert::workers`).
    Stalled {
        ms: u64,
    },
}

/// The exit status of a worker that panicked (the panic handler's, after its message).
pub const PANICKED: i32 = 101;

/// How a worker process (`insert::workers`) ended when it gave no answer.
#[derive(Debug, Clone, Copy)]
pub enum WorkerEnd {
    Status(i32),
    Signal(i32),
    /// PID 1 had no such child left to wait for.
    Lost,
}

impl Failure {
    /// The kernel's answer when the module needs symbols nobody exports (or it has no device).
    pub fn may_be_unknown_symbols(&self) -> bool {
        matches!(self, Failure::Kernel(e) if e.may_be_unknown_symbols())
    }

    /// EPERM: module loading is disabled, locked down, or the module is on `module_blacklist=`.
    pub fn is_not_permitted(&self) -> bool {
        matches!(self, Failure::Kernel(e) if e.is_not_permitted())
    }

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
            Failure::Kernel(e) => write!(f, "{e}"),
            Failure::TooLong => write!(f, "its path or options are longer than modinit's buffers"),
            Failure::Worker(WorkerEnd::Status(PANICKED)) => {
                write!(f, "the worker process inserting it panicked (a bug in modinit: see the message above)")
            }
            Failure::Worker(WorkerEnd::Status(code)) => {
                write!(f, "the worker process inserting it exited with status {code}")
            }
            Failure::Worker(WorkerEnd::Signal(signal)) => {
                write!(f, "the worker process inserting it was killed by signal {signal}")
            }
            Failure::Worker(WorkerEnd::Lost) => write!(f, "the worker process inserting it was lost"),
            Failure::Stalled { ms } => write!(f, "has not finished loading after {ms} ms (modinit.timeout_ms)"),
        }
    }
}

/// Loads the module file `path`, stored with `compression`, with `params`, asking the kernel
/// to ignore what `force` says. When the kernel
/// refuses a compressed file it was given to decompress, the file is decompressed here and
/// given again, after one line that says so.
pub fn load(path: &CStr, compression: Compression, params: &CStr, force: Force) -> Result<(), Failure> {
    let image = match (force, compression) {
        (Force::NONE, _) | (_, Compression::None) => Image::open(path, compression, false)?,
        // kmod 30 decompresses a compressed module itself, and strips it when forced.
        _ => Image::decompressed(open_file(path)?, compression)?,
    };
    let image = image.forcing(force);
    let compressed = image.flags == ModuleInitFlags::CompressedFile;
    match image.insert(params) {
        Err(Failure::Kernel(e)) if compressed && e.may_be_decompression() => {
            warning!(
                "the kernel refused {} compressed ({}): decompressing it here",
                Bytes(path.to_bytes()),
                Describe(e.0)
            );
            Image::decompressed(open_file(path)?, compression)?.forcing(force).insert(params)
        }
        result => result,
    }
}

/// A module ready for the kernel: the file itself, or its decompressed image in a memfd.
pub struct Image {
    fd: OwnedFd,
    /// The ELF image's bytes, when decompressed or asked for.
    bytes: Option<ImageBytes>,
    flags: ModuleInitFlags,
    force: Force,
}

impl Image {
    /// Opens `path`: a plain module, or a compressed one the kernel decompresses itself, as it
    /// is; any other compressed one decompressed into a memfd. `map` also maps a plain module,
    /// so that [`Image::elf`] has its bytes.
    pub fn open(path: &CStr, compression: Compression, map: bool) -> Result<Image, Failure> {
        let file = open_file(path)?;
        match compression {
            Compression::None => {
                let bytes = if map { Some(ImageBytes::File(map_file(&file, compression)?)) } else { None };
                Ok(Image { fd: file, bytes, flags: ModuleInitFlags::Plain, force: Force::NONE })
            }
            _ if kernel_decompresses(compression) => {
                Ok(Image { fd: file, bytes: None, flags: ModuleInitFlags::CompressedFile, force: Force::NONE })
            }
            _ => Image::decompressed(file, compression),
        }
    }

    /// The compressed module `file` decompressed into a memfd.
    fn decompressed(file: OwnedFd, compression: Compression) -> Result<Image, Failure> {
        let compressed = map_file(&file, compression)?;
        let memfd = memfd_create(c"modinit-module", MemfdFlags::CLOEXEC).map_err(Failure::Memory)?;
        let image = decompressed_into(compressed.bytes(), |size| {
            ftruncate(&memfd, size as u64)?;
            Mapping::writable(&memfd, size)
        })
        .map_err(|e| match e {
            ImageError::File(e) => Failure::File(e),
            ImageError::Decompress(e) => Failure::Decompress(e),
            ImageError::Memory(e) => Failure::Memory(e),
        })?;
        let bytes = Some(ImageBytes::Decompressed(image));
        Ok(Image { fd: memfd, bytes, flags: ModuleInitFlags::Plain, force: Force::NONE })
    }

    /// The same image, to be inserted with the kernel told to ignore what `force` says.
    pub fn forcing(self, force: Force) -> Image {
        Image { force, ..self }
    }

    /// The module's ELF bytes; None for a file the kernel decompresses itself.
    pub fn elf(&self) -> Option<&[u8]> {
        self.bytes.as_ref().map(ImageBytes::bytes)
    }

    /// Hands the module to the kernel with `params`, forced as [`Image::forcing`] says: a file
    /// with `finit_module`'s force flags, an image decompressed here stripped, to
    /// `init_module`. Without `finit_module`, `init_module` gets the image as it is, unless
    /// forced (kmod strips a copy of the file then; here the ENOSYS stands).
    pub fn insert(mut self, params: &CStr) -> Result<(), Failure> {
        let kernel = |e: Errno| Failure::Kernel(LoadError(e.raw_os_error()));
        if let (true, Some(ImageBytes::Decompressed(image))) = (self.force != Force::NONE, &mut self.bytes) {
            strip(image.bytes_mut(), self.force);
            return init_module(image.bytes(), params).map_err(kernel);
        }
        match (finit_module(&self.fd, params, self.flags.bits() | self.force.bits()), self.elf()) {
            (Err(Errno::NOSYS), Some(image)) if self.force == Force::NONE => init_module(image, params).map_err(kernel),
            (result, _) => result.map_err(kernel),
        }
    }
}

/// Whether /sys/module/compression names `compression` (Linux >= 6.4, CONFIG_MODULE_DECOMPRESS):
/// the kernel prints `gzip`, `xz` or `zstd`, the names [`Compression::name`] gives.
fn kernel_decompresses(compression: Compression) -> bool {
    let mut buf = [0u8; 16];
    read_into(c"/sys/module/compression", &mut buf).is_ok_and(|s| s.trim_ascii_end() == compression.name().as_bytes())
}

fn open_file(path: &CStr) -> Result<OwnedFd, Failure> {
    open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(Failure::File)
}

/// An [`Image`]'s ELF bytes: the plain file mapped, or the memfd it was decompressed into.
enum ImageBytes {
    File(Mapping<ReadOnly>),
    Decompressed(Mapping<ReadWrite>),
}

impl ImageBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            ImageBytes::File(m) => m.bytes(),
            ImageBytes::Decompressed(m) => m.bytes(),
        }
    }
}

/// The whole module file `fd`, mapped to be read.
fn map_file(fd: &OwnedFd, compression: Compression) -> Result<Mapping<ReadOnly>, Failure> {
    let len = fstat(fd).map_err(Failure::File)?.st_size as usize;
    if len == 0 {
        return Err(Failure::Decompress(DecompressError::Truncated(compression)));
    }
    Mapping::read_only(fd, len).map_err(Failure::File)
}
