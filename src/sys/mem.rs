//! memcpy, memmove, memset, memcmp, bcmp and strlen: the compiler emits calls to them, and without
//! libc nobody else defines them.
//!
//! The copies and fills are the architecture's loops ([`arch`]): written in Rust, LLVM would
//! recognize them as memcpy and memset and compile them into calls to themselves. The comparisons
//! are plain loops, which LLVM does not rewrite into calls.

use super::arch;

/// # Safety
/// `dest` and `src` are valid for `n` bytes and do not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid and do not overlap.
    unsafe { arch::copy_forward(dest, src, n) };
    dest
}

/// # Safety
/// `dest` and `src` are valid for `n` bytes; they may overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // dest is before src, or after the end of it: a forward copy never reads a byte it
        // already overwrote.
        // SAFETY: the caller guarantees both ranges are valid; the direction is right for this
        // overlap.
        unsafe { arch::copy_forward(dest, src, n) };
    } else {
        // dest overlaps the tail of src: a backward copy, from the last byte, never reads a
        // byte it already overwrote.
        // SAFETY: the caller guarantees both ranges are valid; the direction is right for this
        // overlap.
        unsafe { arch::copy_backward(dest, src, n) };
    }
    dest
}

/// # Safety
/// `dest` is valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees dest is valid for n bytes.
    unsafe { arch::fill(dest, c as u8, n) };
    dest
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n and both ranges are valid for n bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// `s` points to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees a NUL before the end of the allocation.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

/// Never called: with `panic = "abort"` nothing unwinds, but the precompiled `core` still
/// names the personality routine.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// Never called, like `rust_eh_personality`: the precompiled `alloc` names it in the landing
/// pads of code the applets that allocate use (`alloc::fmt::format`).
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    crate::sys::syscall::exit_group(134)
}
