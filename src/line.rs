//! A fixed-size line buffer that `core::fmt` can write into.
//!
//! modinit formats each message completely before it writes it, so that one message is one
//! write(): lines from the kernel and from modinit never interleave mid-line on the console,
//! and each write to /dev/kmsg is one record. A message longer than the buffer is cut and
//! ends in `...`, it never fails.

use core::fmt;

/// A line of at most `N` bytes, always ending in `\n` once finished.
pub struct Line<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

const ELLIPSIS: &[u8] = b"...";

impl<const N: usize> Line<N> {
    pub const fn new() -> Self {
        assert!(N > ELLIPSIS.len() + 1, "a line must hold at least the ellipsis and a newline");
        Line { buf: [0; N], len: 0, truncated: false }
    }

    /// Appends raw bytes (not necessarily UTF-8, e.g. a path from the kernel).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        // Keep room for the ellipsis and the final newline.
        let room = N - 1 - self.len;
        if bytes.len() > room || self.truncated {
            let keep = room.saturating_sub(ELLIPSIS.len()).min(bytes.len());
            if !self.truncated {
                self.buf[self.len..self.len + keep].copy_from_slice(&bytes[..keep]);
                self.len += keep;
                self.buf[self.len..self.len + ELLIPSIS.len()].copy_from_slice(ELLIPSIS);
                self.len += ELLIPSIS.len();
                self.truncated = true;
            }
            return;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The bytes written so far, followed by a newline.
    pub fn finish(&mut self) -> &[u8] {
        if self.buf[..self.len].last() != Some(&b'\n') {
            self.buf[self.len] = b'\n';
            self.len += 1;
        }
        &self.buf[..self.len]
    }
}

impl<const N: usize> Default for Line<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for Line<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

/// Displays bytes that are probably text (paths, cmdline values) without failing on non-UTF-8.
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn formats_and_ends_in_newline() {
        let mut l = Line::<64>::new();
        write!(l, "modinit: exec {} after {} ms", Bytes(b"/sbin/init"), 42).unwrap();
        assert_eq!(l.finish(), b"modinit: exec /sbin/init after 42 ms\n");
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        let mut l = Line::<16>::new();
        l.push_bytes(b"0123456789");
        l.push_bytes(b"abcdefghij");
        l.push_bytes(b"more");
        let out = l.finish();
        assert_eq!(out, b"0123456789ab...\n");
        assert_eq!(out.len(), 16);
    }

    #[test]
    fn exact_fit_is_not_cut() {
        let mut l = Line::<8>::new();
        l.push_bytes(b"1234567");
        assert_eq!(l.finish(), b"1234567\n");
    }

    #[test]
    fn invalid_utf8_is_escaped() {
        let mut l = Line::<32>::new();
        write!(l, "{}", Bytes(b"a\xffb")).unwrap();
        assert_eq!(l.finish(), b"a\\xffb\n");
    }
}
