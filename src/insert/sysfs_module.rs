//! What /sys/module/NAME says about a module, read as libkmod reads it: its init state
//! (`kmod_module_get_initstate`), use count, holders and size. Names are normalized first
//! (`snd-pcm` is /sys/module/snd_pcm).

use crate::io::file::read_into;
use crate::io::path::c_path;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use modinit::name::normalize_module_name;
use rustix::fs::{CWD, Mode, OFlags, RawDir, openat};
use rustix::io::Errno;

/// A module's state in the kernel, for a module /sys/module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitState {
    Live,
    /// Initializing; also what a directory without `initstate` means (a builtin with
    /// parameters, or a module too early in its load to have the file).
    Coming,
    Going,
}

/// `/sys/module/NAME/ATTR` paths of one module, as C strings.
struct SysfsPath {
    /// The normalized name.
    name: [u8; NAME_MAX],
    name_len: usize,
    buf: [u8; 320],
}

/// The longest module name taken (the kernel's are at most 55 bytes).
const NAME_MAX: usize = 244;

impl SysfsPath {
    fn new(name: &[u8]) -> Result<SysfsPath, Errno> {
        let mut path = SysfsPath { name: [0; NAME_MAX], name_len: 0, buf: [0; 320] };
        path.name_len = normalize_module_name(name, &mut path.name).ok_or(Errno::NAMETOOLONG)?;
        Ok(path)
    }

    /// The module's directory (`attr` empty) or one of its files.
    fn with(&mut self, attr: &[u8]) -> Result<&CStr, Errno> {
        let name = self.name.get(..self.name_len).unwrap_or_default();
        let slash: &[u8] = if attr.is_empty() { b"" } else { b"/" };
        c_path(&mut self.buf, &[b"/sys/module/", name, slash, attr]).ok_or(Errno::NAMETOOLONG)
    }
}

/// The module's state; ENOENT when the kernel does not have it.
pub fn initstate(name: &[u8]) -> Result<InitState, Errno> {
    let mut path = SysfsPath::new(name)?;
    let mut buf = [0u8; 16];
    match read_into(path.with(b"initstate")?, &mut buf) {
        Ok(state) => match state.trim_ascii_end() {
            b"live" => Ok(InitState::Live),
            b"coming" => Ok(InitState::Coming),
            b"going" => Ok(InitState::Going),
            _ => Err(Errno::INVAL),
        },
        Err(e) => match rustix::fs::stat(path.with(b"")?) {
            Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() => Ok(InitState::Coming),
            _ => Err(e),
        },
    }
}

/// `refcnt`: how many users the module has; ENOENT when it cannot be unloaded (or is
/// not loaded).
pub fn refcnt(name: &[u8]) -> Result<i64, Errno> {
    number(name, b"refcnt")
}

/// `coresize`: the bytes of the module's core part.
pub fn coresize(name: &[u8]) -> Result<i64, Errno> {
    number(name, b"coresize")
}

fn number(name: &[u8], attr: &[u8]) -> Result<i64, Errno> {
    let mut path = SysfsPath::new(name)?;
    let mut buf = [0u8; 32];
    let text = read_into(path.with(attr)?, &mut buf)?;
    core::str::from_utf8(text.trim_ascii()).ok().and_then(|t| t.parse().ok()).ok_or(Errno::INVAL)
}

/// The modules holding `name` (`holders/`), in the directory's order, one per line in `out`.
/// Names that do not fit are left out.
pub fn holders<'b>(name: &[u8], out: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let mut path = SysfsPath::new(name)?;
    let dir = openat(CWD, path.with(b"holders")?, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&dir, &mut buf);
    let mut len = 0;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let holder = entry.file_name().to_bytes();
        if holder == b"." || holder == b".." {
            continue;
        }
        if let Some(dst) = out.get_mut(len..len + holder.len() + 1) {
            dst[..holder.len()].copy_from_slice(holder);
            dst[holder.len()] = b'\n';
            len += holder.len() + 1;
        }
    }
    Ok(&out[..len])
}

/// The names [`holders`] wrote.
pub fn holder_names(list: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    list.split(|&b| b == b'\n').filter(|n| !n.is_empty())
}
