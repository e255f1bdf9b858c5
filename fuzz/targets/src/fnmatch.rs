//! `modinit::fnmatch::fnmatch` against the host glibc's `fnmatch(pattern, string, 0)` in the
//! C locale (a Rust program never calls `setlocale`), and kmod's alias rule built on it.
//!
//! Input: the pattern, a NUL, the string. Both end at their first NUL for glibc, as C strings.

use modinit::fnmatch::fnmatch;
use modinit::index::kmod_alias_match;
use modinit_test_fixtures::fnmatch_literal_prefix_len as literal_prefix_len;
use std::ffi::{CString, c_char, c_int};

unsafe extern "C" {
    #[link_name = "fnmatch"]
    fn glibc_fnmatch(pattern: *const c_char, string: *const c_char, flags: c_int) -> c_int;
}

/// glibc's answer for `pattern` and `string`, each cut at its first NUL.
pub fn glibc(pattern: &[u8], string: &[u8]) -> bool {
    let c_string = |s: &[u8]| CString::new(s.split(|&b| b == 0).next().unwrap_or_default()).expect("cut at the NUL");
    let (pattern, string) = (c_string(pattern), c_string(string));
    // SAFETY: both are NUL-terminated strings that outlive the call; fnmatch only reads them.
    let result = unsafe { glibc_fnmatch(pattern.as_ptr(), string.as_ptr(), 0) };
    assert!(result == 0 || result == 1, "glibc fnmatch returned {result}");
    result == 0
}

pub fn fuzz(data: &[u8]) {
    assert!(std::env::var_os("POSIXLY_CORRECT").is_none(), "POSIXLY_CORRECT changes what glibc's `[^` means");
    let (pattern, string) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &b""[..]),
    };
    let expected = glibc(pattern, string);
    let show = |s: &[u8]| s.escape_ascii().to_string();
    let (p, s) = (show(pattern), show(string));
    assert_eq!(fnmatch(pattern, string), expected, "fnmatch({p:?}, {s:?}): glibc says {expected}");
    if expected {
        assert!(string.starts_with(&pattern[..literal_prefix_len(pattern)]), "a match without the literal prefix");
    }
    // kmod's rule: bytes compared literally up to the first wildcard, fnmatch for the rest.
    let literal = pattern.iter().position(|b| matches!(b, b'*' | b'?' | b'[')).unwrap_or(pattern.len());
    let kmod = string.starts_with(&pattern[..literal]) && glibc(&pattern[literal..], &string[literal..]);
    assert_eq!(kmod_alias_match(pattern, string), kmod, "kmod_alias_match({p:?}, {s:?})");
}
