//! Paths for the syscalls, built in a caller's fixed buffer without a heap.

use core::ffi::CStr;

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
