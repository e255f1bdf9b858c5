//! Finding and opening the module index: `/lib/modules/RELEASE/modinit.idx`, mapped once.

use super::log::{error, warning};
use super::mapping::Mapping;
use super::path::c_path;
use core::ffi::CStr;
use modinit::errno::Describe;
use modinit::index::{Index, IndexError};
use modinit::line::Bytes;
use rustix::io::Errno;

/// Room for `/lib/modules/` + a release (at most 64 bytes, `__NEW_UTS_LEN`) + a file name.
pub const PATH_MAX: usize = 128;

/// The module directory of the running kernel, `/lib/modules/RELEASE`, with room after it.
pub struct ModulesDir {
    buf: [u8; PATH_MAX],
    len: usize,
    /// Where RELEASE starts in `buf`.
    release_at: usize,
}

impl ModulesDir {
    pub fn of_running_kernel() -> ModulesDir {
        let uname = rustix::system::uname();
        Self::new(b"", uname.release().to_bytes()).unwrap_or(ModulesDir { buf: [0; PATH_MAX], len: 0, release_at: 0 })
    }

    /// `ROOT/lib/modules/RELEASE`; None when it does not fit.
    pub fn new(root: &[u8], release: &[u8]) -> Option<ModulesDir> {
        let mut buf = [0; PATH_MAX];
        let len = c_path(&mut buf, &[root, b"/lib/modules/", release])?.count_bytes();
        Some(ModulesDir { buf, len, release_at: len - release.len() })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The kernel release the directory is for.
    pub fn release(&self) -> &[u8] {
        &self.buf[self.release_at..self.len]
    }

    /// `DIR/rel` as a C string in `out`; None when it does not fit.
    pub fn join<'b>(&self, rel: &[u8], out: &'b mut [u8]) -> Option<&'b CStr> {
        c_path(out, &[self.as_bytes(), b"/", rel])
    }
}

/// Why the index could not be used.
#[derive(Debug, Clone, Copy)]
pub enum OpenError {
    /// Opening or mapping it failed.
    Open(Errno),
    Empty,
    Invalid(IndexError),
}

impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OpenError::Open(e) => write!(f, "{}", Describe(e.raw_os_error())),
            OpenError::Empty => write!(f, "empty file"),
            OpenError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// The index file of `dir`, `DIR/modinit.idx`, as a C string in `buf`.
pub fn index_path<'b>(dir: &ModulesDir, buf: &'b mut [u8; PATH_MAX + 16]) -> &'b CStr {
    dir.join(b"modinit.idx", buf).unwrap_or(c"/lib/modules/modinit.idx")
}

/// Maps and checks the index of `dir`. It is never unmapped, hence 'static.
pub fn open_index(dir: &ModulesDir) -> Result<Index<'static>, OpenError> {
    let mut buf = [0u8; PATH_MAX + 16];
    Index::open(map_whole_file(index_path(dir, &mut buf))?).map_err(OpenError::Invalid)
}

/// Maps the whole file at `path` read-only, for the life of the process.
pub fn map_whole_file(path: &CStr) -> Result<&'static [u8], OpenError> {
    match Mapping::of_path(path).map_err(OpenError::Open)?.leak() {
        [] => Err(OpenError::Empty),
        bytes => Ok(bytes),
    }
}

/// The boot's use of [`open_index`]: problems on the console, and a warning when the index
/// was built for another kernel.
pub fn open_boot_index(dir: &ModulesDir) -> Option<Index<'static>> {
    let mut buf = [0u8; PATH_MAX + 16];
    let path = index_path(dir, &mut buf).to_bytes();
    match open_index(dir) {
        Ok(index) => {
            let release = dir.release();
            if index.kernel_release() != release {
                warning!(
                    "{} was built for kernel {}, this is {}",
                    Bytes(path),
                    Bytes(index.kernel_release()),
                    Bytes(release)
                );
            }
            Some(index)
        }
        Err(e) => {
            error!(
                "cannot use the module index {}: {e}; no device drivers or modules-load.d lists are loaded",
                Bytes(path)
            );
            None
        }
    }
}
