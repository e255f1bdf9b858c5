//! Bounds-checked little-endian reads over the index's bytes: every read that would leave
//! the slice is `None`, so a corrupt file can never cause a panic or an out-of-bounds access.

/// A forward reader over a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn at(bytes: &'a [u8], pos: usize) -> Self {
        Cursor { bytes, pos }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    /// An unsigned LEB128 number of at most 32 bits.
    pub fn varint(&mut self) -> Option<u32> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            let bits = u32::from(b & 0x7f);
            if shift == 28 && bits > 0x0f {
                return None;
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

/// The little-endian u16 at byte `offset`.
pub fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let b = bytes.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian u32 at byte `offset`.
pub fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Appends `value` as unsigned LEB128.
#[cfg(feature = "alloc")]
pub fn push_varint(out: &mut alloc::vec::Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong_input() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX - 1, u32::MAX] {
            let mut out = alloc::vec::Vec::new();
            push_varint(&mut out, v);
            let mut c = Cursor::at(&out, 0);
            assert_eq!(c.varint(), Some(v));
            assert!(c.is_empty());
        }
        assert_eq!(Cursor::at(&[0x80, 0x80], 0).varint(), None, "truncated");
        assert_eq!(Cursor::at(&[0xff, 0xff, 0xff, 0xff, 0x1f], 0).varint(), None, "more than 32 bits");
        assert_eq!(Cursor::at(&[0x80; 6], 0).varint(), None, "too long");
    }

    #[test]
    fn reads_stop_at_the_end() {
        assert_eq!(u32_at(&[1, 0, 0, 0], 0), Some(1));
        assert_eq!(u32_at(&[1, 0, 0, 0], 1), None);
        assert_eq!(u16_at(&[1, 2], usize::MAX), None);
        assert_eq!(Cursor::at(&[1, 2, 3], 2).take(2), None);
    }
}
