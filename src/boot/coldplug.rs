//! Coldplug: the `modalias` of every device the kernel found before /init started (from its
//! `modalias` file, or its `uevent` file's `MODALIAS=` when it has no such file).

use crate::io::log::error;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use modinit::kernel::errno::Describe;
use modinit::kernel::uevent::modalias_in_uevent_file;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{CWD, FileType, Mode, OFlags, RawDir, openat};
use rustix::io::{Errno, read};

/// sysfs nests devices about a dozen levels deep; this bounds the walk's stack use.
const MAX_DEPTH: usize = 32;
/// A sysfs attribute is at most a page: the longest modalias (DMI's, made of the firmware's
/// strings) fits whole, as kmod's lookup takes it (`modinit::resolve::KEY_MAX`).
const MODALIAS_MAX: usize = 4096;

/// Reads every `modalias` file under /sys/devices and hands each non-empty one to `found`.
/// Directories it cannot open are reported and skipped; symlinks are never followed.
pub fn scan(mut found: impl FnMut(&[u8])) {
    match open_dir(CWD, c"/sys/devices") {
        Ok(root) => walk(&root, 0, &mut found),
        Err(e) => error!("cannot read /sys/devices: {}; no devices found", Describe(e.raw_os_error())),
    }
}

fn walk(dir: &OwnedFd, depth: usize, found: &mut impl FnMut(&[u8])) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(dir, &mut buf);
    let (mut has_modalias, mut has_uevent) = (false, false);
    while let Some(entry) = entries.next() {
        let Ok(entry) = entry else { return };
        let name = entry.file_name();
        match entry.file_type() {
            FileType::Directory if name != c"." && name != c".." && depth < MAX_DEPTH => {
                // A device can vanish while we walk: skip it quietly.
                if let Ok(child) = open_dir(dir, name) {
                    walk(&child, depth + 1, found);
                }
            }
            FileType::RegularFile if name == c"modalias" => {
                has_modalias = true;
                let mut alias = [0u8; MODALIAS_MAX];
                if let Ok(alias) = read_line(dir, name, &mut alias) {
                    found(alias);
                }
            }
            FileType::RegularFile if name == c"uevent" => has_uevent = true,
            _ => {}
        }
    }
    if has_uevent && !has_modalias {
        let mut text = [0u8; 4096];
        let alias = read_file(dir, c"uevent", &mut text).ok().and_then(modalias_in_uevent_file);
        if let Some(alias) = alias {
            found(alias);
        }
    }
}

fn open_dir(parent: impl AsFd, name: &CStr) -> Result<OwnedFd, Errno> {
    openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}

/// The first line of a small sysfs file, without its newline; empty lines are errors.
fn read_line<'b>(dir: &OwnedFd, name: &CStr, buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let line = read_file(dir, name, buf)?.split(|&b| b == b'\n').next().unwrap_or_default();
    if line.is_empty() { Err(Errno::NODATA) } else { Ok(line) }
}

/// A small sysfs file (one read: sysfs hands out whole files up to a page).
fn read_file<'b>(dir: &OwnedFd, name: &CStr, buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let fd = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = read(&fd, &mut *buf)?;
    Ok(&buf[..n])
}
