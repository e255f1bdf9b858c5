//! The module directory (`/lib/modules/RELEASE`, or under another root) and its index,
//! `modinit.idx`, mapped once.

use super::mapping::Mapping;
use super::path::{Joined, PATH_MAX, TooLong, c_path};
use core::ffi::CStr;
use modinit::index::{Index, IndexError, Module};
use modinit::kernel::errno::Describe;
use rustix::io::Errno;

/// The module directory of the running kernel, `/lib/modules/RELEASE`, or of a tree under
/// another root (`modprobe -d ROOT`), which may be as long as [`PATH_MAX`] allows.
pub struct ModulesDir {
    buf: [u8; PATH_MAX],
    len: usize,
    /// Where RELEASE starts in `buf`.
    release_at: usize,
}

impl ModulesDir {
    pub fn of_running_kernel() -> ModulesDir {
        let uname = rustix::system::uname();
        // A release is at most 64 bytes (`__NEW_UTS_LEN`): the path fits.
        Self::new(b"", uname.release().to_bytes()).unwrap_or(ModulesDir { buf: [0; PATH_MAX], len: 0, release_at: 0 })
    }

    /// `ROOT/lib/modules/RELEASE` (or `ROOT/usr/lib/modules/RELEASE`, see [`parent_of`]); Err
    /// naming it when it does not fit in [`PATH_MAX`].
    pub fn new<'p>(root: &'p [u8], release: &'p [u8]) -> Result<ModulesDir, TooLong<'p, 3>> {
        let parts = [root, parent_of(root, release), release];
        let mut buf = [0; PATH_MAX];
        let len = c_path(&mut buf, &parts).ok_or(TooLong(Joined(parts)))?.count_bytes();
        Ok(ModulesDir { buf, len, release_at: len - release.len() })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The kernel release the directory is for.
    pub fn release(&self) -> &[u8] {
        &self.buf[self.release_at..self.len]
    }

    /// `DIR/rel` as a C string in `out`; None when it does not fit.
    pub fn join<'b>(&self, rel: &[u8], out: &'b mut [u8; PATH_MAX]) -> Option<&'b CStr> {
        c_path(out, &[self.as_bytes(), b"/", rel])
    }

    /// The file of `module` in the directory, as a C string in `out`; None for a builtin, or
    /// when it does not fit.
    pub fn module_file<'b>(&self, module: &Module<'_>, out: &'b mut [u8; PATH_MAX]) -> Option<&'b CStr> {
        let dir_len = self.as_bytes().len() + 1;
        c_path(out, &[self.as_bytes(), b"/"])?;
        let len = dir_len + module.path(&mut out[dir_len..])?.len();
        *out.get_mut(len)? = 0;
        CStr::from_bytes_with_nul(&out[..=len]).ok()
    }

    /// The index file's path, `DIR/modinit.idx`, for messages.
    pub fn index_file(&self) -> Joined<'_, 3> {
        Joined([self.as_bytes(), b"/", INDEX])
    }
}

/// Where `root` keeps the tree of `release`: `/lib/modules/`, or `/usr/lib/modules/` when only
/// that holds it (a merged-/usr tree without the /lib link, as Debian 13's kernel package
/// unpacks). On a running system /lib links to /usr/lib, and the first is found.
pub fn parent_of(root: &[u8], release: &[u8]) -> &'static [u8] {
    const LIB: &[u8] = b"/lib/modules/";
    const USR_LIB: &[u8] = b"/usr/lib/modules/";
    let mut buf = [0; PATH_MAX];
    let mut is_dir = |parent: &[u8]| {
        c_path(&mut buf, &[root, parent, release]).is_some_and(|path| {
            rustix::fs::stat(path).is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
        })
    };
    if !is_dir(LIB) && is_dir(USR_LIB) { USR_LIB } else { LIB }
}

/// The index's file name in the module directory.
const INDEX: &[u8] = b"modinit.idx";

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

/// Maps and checks the index of `dir`. It is never unmapped, hence 'static.
pub fn open_index(dir: &ModulesDir) -> Result<Index<'static>, OpenError> {
    let mut buf = [0u8; PATH_MAX];
    let path = dir.join(INDEX, &mut buf).ok_or(OpenError::Open(Errno::NAMETOOLONG))?;
    Index::open(map_whole_file(path)?).map_err(OpenError::Invalid)
}

/// Maps the whole file at `path` read-only, for the life of the process.
pub fn map_whole_file(path: &CStr) -> Result<&'static [u8], OpenError> {
    match Mapping::of_path(path).map_err(OpenError::Open)?.leak() {
        [] => Err(OpenError::Empty),
        bytes => Ok(bytes),
    }
}
