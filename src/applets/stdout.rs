//! An applet's stdout, buffered: output made of many small pieces goes out in few write()s.

/// Bytes for fd 1, written when the buffer fills and on [`Stdout::flush`].
pub struct Stdout {
    buf: [u8; 16384],
    len: usize,
}

impl Stdout {
    pub fn new() -> Stdout {
        Stdout { buf: [0; 16384], len: 0 }
    }

    /// Not inlined: output is written piece by piece from many places.
    #[inline(never)]
    pub fn write(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
        }
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => write_all(bytes),
        }
    }

    /// Writes what is buffered (before a message on stderr, and at the end).
    pub fn flush(&mut self) {
        write_all(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }
}

/// Writes all of `bytes` to fd 1; stops at the first error (a closed pipe: nobody reads).
fn write_all(bytes: &[u8]) {
    // SAFETY: fd 1 is the applet's stdout, or closed (then EBADF).
    let stdout = unsafe { rustix::fd::BorrowedFd::borrow_raw(1) };
    let _ = super::write_all(stdout, bytes);
}
