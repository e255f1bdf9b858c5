//! A module file's ELF image in memory, for reading it: the file mapped, or for a `.ko.gz`,
//! `.ko.zst` or `.ko.xz` file decompressed into anonymous memory (loading goes through [`super::load`]).

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
/// (zstd's buffers, xz's dictionary) against the arena's room.
pub fn decompressed_into(
    file: &[u8],
    make: impl FnOnce(usize) -> Result<Mapping<ReadWrite>, Errno>,
) -> Result<Mapping<ReadWrite>, ImageError> {
    let size = decompress::decompressed_size(file, MAX_MODULE_BYTES).map_err(ImageError::Decompress)?;
    // A full arena would be fatal: refuse what might not fit before decoding.
    decompress::heap_needed(file, crate::sys::arena::available()).map_err(ImageError::Decompress)?;
    let mut image = make(size).map_err(ImageError::Memory)?;
    // In a scope: depmod decodes module after module while the facts of the others stay live;
    // the scope gives back the zstd decoder's buffers and the xz dictionary.
    crate::sys::arena::scoped(|| decompress::decompress_into(file, image.bytes_mut()))
        .map_err(ImageError::Decompress)?;
    Ok(image)
}
