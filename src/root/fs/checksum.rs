//! The CRC-32C of a superblock region read from the device, its stored checksum counted as
//! zeros, in fixed chunks (xfs and erofs checksum up to 64 KiB).

use crate::root::crc32c;
use crate::root::read::{ReadAt, ReadError, read_exact};

/// `crc32c::update(!0, ...)` of the `len` bytes at `offset`, the 4 bytes at `field` (from
/// `offset`) read as zeros; None if the device ends first.
pub(super) fn region_crc<R: ReadAt + ?Sized>(
    dev: &mut R,
    offset: u64,
    len: usize,
    field: usize,
) -> Result<Option<u32>, ReadError> {
    let mut chunk = [0u8; 512];
    let mut crc = !0;
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        if !read_exact(dev, offset + done as u64, &mut chunk[..n])? {
            return Ok(None);
        }
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            if (field..field + 4).contains(&(done + i)) {
                *b = 0;
            }
        }
        crc = crc32c::update(crc, &chunk[..n]);
        done += n;
    }
    Ok(Some(crc))
}
