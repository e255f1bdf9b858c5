//! Paths for the syscalls, built in a caller's fixed buffer without a heap.

use core::ffi::CStr;
use core::fmt;
use modinit::line::Bytes;

/// The longest path the kernel takes, its NUL included (`PATH_MAX` of linux/limits.h): the one
/// capacity of every path buffer of the boot and the applets. A buffer this size belongs on the
/// stack once, not in arrays.
pub const PATH_MAX: usize = linux_raw_sys::general::PATH_MAX as usize;

/// `parts` joined in `buf` and NUL-terminated; None when they do not fit or hold a NUL.
pub fn c_path<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b CStr> {
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        buf.get_mut(len..end)?.copy_from_slice(part);
        len = end;
    }
    *buf.get_mut(len)? = 0;
    CStr::from_bytes_with_nul(buf.get(..=len)?).ok()
}

/// A path shown from its parts, for messages about a path that may not fit in a buffer.
pub struct Joined<'p, const N: usize>(pub [&'p [u8]; N]);

impl<const N: usize> fmt::Display for Joined<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|part| write!(f, "{}", Bytes(part)))
    }
}

/// A path longer than [`PATH_MAX`], named by its message (after the reason, which a line cut
/// short keeps).
pub struct TooLong<'p, const N: usize>(pub Joined<'p, N>);

impl<const N: usize> fmt::Display for TooLong<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "path longer than PATH_MAX ({PATH_MAX} bytes): {}", self.0)
    }
}
