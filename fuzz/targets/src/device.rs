//! Fuzzer bytes as a block device for the root-device parsers: the bytes, then zeros up to
//! a chosen size; read whole, in small pieces, or failing past an offset.

use modinit::root::ReadAt;

/// `data` followed by zeros up to `size` bytes.
pub struct Device<'a> {
    pub data: &'a [u8],
    pub size: u64,
    /// The most one read returns (0: no limit), to exercise the readers' loops.
    pub piece: usize,
    /// Reads at or past this offset fail with EIO.
    pub fail_from: u64,
}

pub const EIO: i32 = 5;

impl<'a> Device<'a> {
    pub fn new(data: &'a [u8], size: u64) -> Self {
        Device { data, size: size.max(data.len() as u64), piece: 0, fail_from: u64::MAX }
    }
}

impl ReadAt for Device<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        if offset >= self.fail_from {
            return Err(EIO);
        }
        let left = self.size.saturating_sub(offset);
        let mut n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if self.piece > 0 {
            n = n.min(self.piece);
        }
        let start = usize::try_from(offset).map_or(self.data.len(), |o| o.min(self.data.len()));
        let from_data = (self.data.len() - start).min(n);
        buf[..from_data].copy_from_slice(&self.data[start..start + from_data]);
        buf[from_data..n].fill(0);
        Ok(n)
    }
}
