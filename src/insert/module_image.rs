//! A module file's ELF image in memory, for reading it: the file mapped, or for a `.ko.gz`,
//! `.ko.zst` or `.ko.xz` file decompressed into anonymous memory (loading goes through [`super::load`]);
//! and [`ImageReader`], which reads module after module into one buffer.

use crate::io::mapping::{Mapping, ReadOnly, ReadWrite};
use core::ffi::CStr;
use core::fmt;
use modinit::decompress::{self, Compression, DecompressError};
use modinit::kernel::errno::Strerror;
use rustix::io::Errno;

/// Largest decompressed module accepted (the biggest in Debian's tree are ~30 MiB).
const MAX_MODULE_BYTES: usize = 256 << 20;

/// A module's image, until dropped.
pub struct ModuleImage {
    file: Mapping<ReadOnly>,
    decompressed: Option<Mapping<ReadWrite>>,
}

/// Why a module file could not be read.
#[derive(Debug, Clone, Copy)]
pub enum ImageError {
    /// It could not be opened or mapped.
    File(Errno),
    Decompress(DecompressError),
    /// No memory for the decompressed image.
    Memory(Errno),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::File(e) | ImageError::Memory(e) => write!(f, "{}", Strerror(e.raw_os_error())),
            ImageError::Decompress(e) => write!(f, "{e}"),
        }
    }
}

impl ModuleImage {
    /// The image of the module file `path`.
    pub fn read(path: &CStr) -> Result<ModuleImage, ImageError> {
        let file = Mapping::of_path(path).map_err(ImageError::File)?;
        let compression = Compression::detect(file.bytes());
        let decompressed = match compression {
            Compression::None => None,
            Compression::Gzip | Compression::Zstd | Compression::Xz => {
                Some(decompressed_into(file.bytes(), Mapping::anonymous)?)
            }
        };
        Ok(ModuleImage { file, decompressed })
    }

    /// The ELF image (with its signature, if any).
    pub fn bytes(&self) -> &[u8] {
        self.decompressed.as_ref().map_or(self.file.bytes(), Mapping::bytes)
    }

    /// The file as stored, compressed or not.
    pub fn file(&self) -> &[u8] {
        self.file.bytes()
    }
}

/// The compressed `file` decompressed into the mapping `make` gives for its size (anonymous
/// memory to read it, a memfd to load it), after checking the size and the heap decoding needs
/// (zstd's buffers) against the arena's room.
pub fn decompressed_into(
    file: &[u8],
    make: impl FnOnce(usize) -> Result<Mapping<ReadWrite>, Errno>,
) -> Result<Mapping<ReadWrite>, ImageError> {
    let mut image = make(decompressed_size(file)?).map_err(ImageError::Memory)?;
    decode(file, image.bytes_mut())?;
    Ok(image)
}

/// What `file` decompresses to, once its size and the heap decoding needs have been checked: a
/// full arena would be fatal, so what might not fit is refused before decoding.
fn decompressed_size(file: &[u8]) -> Result<usize, ImageError> {
    let size = decompress::decompressed_size(file, MAX_MODULE_BYTES).map_err(ImageError::Decompress)?;
    decompress::heap_needed(file, crate::sys::arena::available()).map_err(ImageError::Decompress)?;
    Ok(size)
}

/// Decompresses `file` into `out`, its size. In an arena scope: depmod decodes module after
/// module while the facts of the others stay live; the scope gives back the zstd decoder's
/// buffers.
fn decode(file: &[u8], out: &mut [u8]) -> Result<(), ImageError> {
    crate::sys::arena::scoped(|| decompress::decompress_into(file, out)).map_err(ImageError::Decompress)?;
    Ok(())
}

/// Reads module after module, decompressing into one mapping that grows to the largest image:
/// its pages are faulted in and zeroed once, not once per module (Debian 13's tree decompresses
/// to half a GB).
#[cfg(feature = "depmod")]
#[derive(Default)]
pub struct ImageReader {
    buffer: Option<Mapping<ReadWrite>>,
}

#[cfg(feature = "depmod")]
impl ImageReader {
    /// `with` the ELF image of the module file `path` (mapped, or decompressed into the buffer).
    pub fn read<T>(&mut self, path: &CStr, with: impl FnOnce(&[u8]) -> T) -> Result<T, ImageError> {
        let file = Mapping::of_path(path).map_err(ImageError::File)?;
        if Compression::detect(file.bytes()) == Compression::None {
            return Ok(with(file.bytes()));
        }
        let size = decompressed_size(file.bytes())?;
        let room = self.buffer.as_ref().map_or(0, |b| b.bytes().len());
        if room < size {
            // The old buffer goes first: both at once could be more than the machine has.
            self.buffer = None;
            self.buffer = Some(Mapping::anonymous(size.max(room * 2)).map_err(ImageError::Memory)?);
        }
        let out = self.buffer.as_mut().map(|b| &mut b.bytes_mut()[..size]).unwrap_or_default();
        decode(file.bytes(), out)?;
        Ok(with(out))
    }
}
