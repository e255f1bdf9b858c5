//! Reading and writing the small files of /proc and /sys in one go, into caller buffers.

use core::ffi::CStr;
use rustix::fs::{Mode, OFlags, open};
use rustix::io::{Errno, read, write};

/// Reads `path` into `buf` (at most `buf.len()` bytes) and returns what was read.
pub fn read_into<'b>(path: &CStr, buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut len = 0;
    while len < buf.len() {
        match read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(&buf[..len])
}

/// Writes `bytes` to the existing file `path` in one write() (sysctl and sysfs files take
/// their value from a single write).
pub fn write_once(path: &CStr, bytes: &[u8]) -> Result<(), Errno> {
    let fd = open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    match write(&fd, bytes)? {
        n if n == bytes.len() => Ok(()),
        _ => Err(Errno::IO),
    }
}
