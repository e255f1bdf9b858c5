//! A short string in a fixed buffer: labels, UUIDs and partition names, without a heap.

use core::fmt;

/// At most `N` bytes of text (not necessarily UTF-8: labels are what the disk holds).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    /// The empty text.
    pub const fn new() -> Self {
        Text { bytes: [0; N], len: 0 }
    }

    /// `bytes`, cut to `N`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut text = Text::new();
        text.push_bytes(bytes);
        text
    }

    /// Appends what fits of `bytes`.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(N - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Appends one byte if it fits.
    pub fn push(&mut self, byte: u8) {
        self.push_bytes(&[byte]);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for Text<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

impl<const N: usize> fmt::Display for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::line::Bytes(self.as_bytes()).fmt(f)
    }
}

/// The hex digits of `bytes` (upper or lower case) appended to `out`.
pub(crate) fn push_hex<const N: usize>(out: &mut Text<N>, bytes: &[u8], upper: bool) {
    let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    for &b in bytes {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
}

/// A UUID as blkid and the kernel's `%pU` print it, appended to `out`: 16 bytes in lowercase
/// hex, in the order given, grouped 4-2-2-2-6 by dashes.
pub(crate) fn push_uuid(out: &mut Text<36>, bytes: &[u8; 16]) {
    for (i, &byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        push_hex(out, &[byte], false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_grouped_4_2_2_2_6() {
        let mut text = Text::new();
        push_uuid(&mut text, &[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 0xff]);
        assert_eq!(text.as_bytes(), b"12345678-9abc-def0-0102-0304050607ff");
    }

    #[test]
    fn text_is_cut_at_its_capacity() {
        let mut t = Text::<4>::from_bytes(b"abc");
        t.push_bytes(b"de");
        assert_eq!(t.as_bytes(), b"abcd");
        let mut hex = Text::<8>::new();
        push_hex(&mut hex, &[0xab, 0x01], false);
        push_hex(&mut hex, &[0xcd], true);
        assert_eq!(hex.as_bytes(), b"ab01CD");
    }
}
