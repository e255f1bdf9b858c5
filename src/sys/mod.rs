//! The boot binary's runtime: what libc and the Rust runtime would otherwise provide.
//!
//! `start` is the process entry, `mem` the memory functions the compiler calls, `panic` the
//! panic handler, `arena` the heap, `syscall` the few system calls rustix does not offer. Nothing
//! else in the binary uses inline assembly or raw system call numbers.

pub mod arena;
pub mod mem;
pub mod start;
pub mod syscall;
