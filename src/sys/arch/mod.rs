//! The architecture seam: everything in the boot binary that differs between CPUs.
//!
//! One file per architecture, each providing the same items:
//! - `_start`, the ELF entry point: it passes the initial stack pointer, aligned for a call, to
//!   [`rust_start`](super::start::rust_start);
//! - `syscall1_noreturn`, `syscall2`, `syscall3`, `syscall5`: the system call instruction with a
//!   number and that many arguments, returning the kernel's raw result;
//! - `copy_forward`, `copy_backward`, `fill`: the loops behind memcpy, memmove and memset.
//!
//! The system call numbers are not here: linux-raw-sys already has each architecture's table.
//! What another architecture needs is in docs/porting.md.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "the modinit boot binary is written for x86_64 only: docs/porting.md says what another architecture needs"
);
