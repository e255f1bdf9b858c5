//! x86_64: the entry trampoline, the `syscall` instruction, and the memory functions' loops.

use core::arch::{asm, naked_asm};

/// The ELF entry point. The kernel jumps here with `rsp` pointing at argc; we hand that
/// pointer to Rust with the stack aligned as the System V ABI requires for a call.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {rust_start}",
        "ud2",
        rust_start = sym crate::sys::start::rust_start,
    )
}

// System calls. The Linux x86_64 convention: the number in rax, the arguments in rdi, rsi, rdx,
// r10, r8, r9; the result in rax (-4095..=-1 is an error); rcx and r11 are clobbered.

/// System call `nr` with one argument, for a call that never returns.
///
/// # Safety
/// `nr` is a call that does not return, and `a0` is an argument it accepts.
#[inline]
pub unsafe fn syscall1_noreturn(nr: u32, a0: usize) -> ! {
    // SAFETY: the caller vouches for the call; `noreturn` holds because the call does not return.
    unsafe { asm!("syscall", in("rax") nr as usize, in("rdi") a0, options(noreturn, nostack)) }
}

/// System call `nr` with two arguments; the kernel's raw result.
///
/// # Safety
/// The arguments are what call `nr` requires: every pointer among them valid for what the
/// kernel reads or writes through it.
#[inline]
pub unsafe fn syscall2(nr: u32, a0: usize, a1: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call; the clobbered registers are declared.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a0, in("rsi") a1,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call `nr` with three arguments; the kernel's raw result.
///
/// # Safety
/// As [`syscall2`].
#[inline]
pub unsafe fn syscall3(nr: u32, a0: usize, a1: usize, a2: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call; the clobbered registers are declared.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret, in("rdi") a0, in("rsi") a1, in("rdx") a2,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call `nr` with five arguments; the kernel's raw result.
///
/// # Safety
/// As [`syscall2`].
#[inline]
pub unsafe fn syscall5(nr: u32, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call; the clobbered registers are declared.
    unsafe {
        asm!("syscall", inlateout("rax") nr as isize => ret,
             in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3, in("r8") a4,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

// Memory. `rep movsb` / `rep stosb` are fast on every x86_64 with ERMS, and the optimizer cannot
// turn them back into calls to the memcpy and memset they implement.

/// Copies `n` bytes from `src` to `dest`, lowest address first.
///
/// # Safety
/// `dest` and `src` are valid for `n` bytes, and a forward copy never reads a byte it already
/// wrote: the ranges do not overlap, or `dest` is at or below `src`.
#[inline]
pub unsafe fn copy_forward(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller guarantees both ranges are valid and the direction is right; `rep movsb`
    // copies exactly n bytes forward (the direction flag is clear, as the ABI requires at function
    // entry).
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
}

/// Copies `n` bytes from `src` to `dest`, highest address first.
///
/// # Safety
/// `dest` and `src` are valid for `n` bytes, and a backward copy never reads a byte it already
/// wrote: the ranges do not overlap, or `dest` is at or above `src`.
#[inline]
pub unsafe fn copy_backward(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller guarantees both ranges are valid and the direction is right; with the
    // direction flag set, `rep movsb` walks from the given last bytes down, and we clear the flag
    // again before returning.
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _, inout("rdi") dest.add(n).wrapping_sub(1) => _,
             inout("rsi") src.add(n).wrapping_sub(1) => _, options(nostack));
    }
}

/// Sets `n` bytes at `dest` to `byte`.
///
/// # Safety
/// `dest` is valid for `n` bytes.
#[inline]
pub unsafe fn fill(dest: *mut u8, byte: u8, n: usize) {
    // SAFETY: the caller guarantees dest is valid for n bytes.
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dest => _, in("al") byte,
             options(nostack, preserves_flags));
    }
}
