//! Reading a block device at an offset: the one I/O the identity parsers need.

use crate::kernel::errno::Describe;
use core::fmt;

/// A device (or an image in memory) read by byte offset, like pread(2).
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at `offset` and returns how many it read: fewer only at
    /// the end of the device (0 at or past it). An error is the errno of the failed read.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32>;
}

/// A byte slice is a device of its length: images in tests and fuzz targets.
impl ReadAt for &[u8] {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        let start = usize::try_from(offset).map_or(self.len(), |o| o.min(self.len()));
        let available = &self[start..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        Ok(n)
    }
}

/// A read that failed, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadError {
    /// The byte offset the read started at.
    pub offset: u64,
    pub errno: i32,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read at byte {}: {}", self.offset, Describe(self.errno))
    }
}

/// Fills `buf` from `offset`. `Ok(false)`: the device ends before `buf` is full (the
/// structure sought is not there); the bytes past its end are zero.
pub(crate) fn read_exact<R: ReadAt + ?Sized>(dev: &mut R, offset: u64, buf: &mut [u8]) -> Result<bool, ReadError> {
    let mut done = 0;
    while done < buf.len() {
        let at = offset.checked_add(done as u64).ok_or(ReadError { offset, errno: EOVERFLOW })?;
        match dev.read_at(at, &mut buf[done..]) {
            Ok(0) => {
                buf[done..].fill(0);
                return Ok(false);
            }
            Ok(n) => done += n.min(buf.len() - done),
            Err(EINTR) => {}
            Err(errno) => return Err(ReadError { offset: at, errno }),
        }
    }
    Ok(true)
}

const EINTR: i32 = 4;
const EOVERFLOW: i32 = 75;

/// Little-endian fields of an on-disk structure; out-of-range offsets read as zero, so a
/// parser that checked the structure's length first needs no further checks.
pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array(b, at))
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(b, at))
}

pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(b, at))
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(b, at))
}

/// `N` bytes of `b` at `at`, zero where `b` ends.
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = b.get(at..) {
        let n = src.len().min(N);
        out[..n].copy_from_slice(&src[..n]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_reads_short_at_its_end() {
        let mut dev: &[u8] = b"abcdef";
        let mut buf = [0xffu8; 4];
        assert_eq!(dev.read_at(4, &mut buf), Ok(2));
        assert_eq!(dev.read_at(9, &mut buf), Ok(0));
        assert_eq!(read_exact(&mut dev, 1, &mut buf), Ok(true));
        assert_eq!(&buf, b"bcde");
        assert_eq!(read_exact(&mut dev, 4, &mut buf), Ok(false));
        assert_eq!(&buf, b"ef\0\0");
    }

    #[test]
    fn fields_past_the_end_read_as_zero() {
        assert_eq!(le32(&[1, 2], 0), 0x0201);
        assert_eq!(le16(&[1, 2], 5), 0);
        assert_eq!(be32(&[0, 0, 1, 2], 0), 0x0102);
    }
}
