//! The boot binary's runtime: what libc and the Rust runtime would otherwise provide.
//!
//! `arch` is everything that differs between CPUs (the entry trampoline, the system call
//! instruction, the loops behind memcpy and memset); nothing else in the binary uses inline
//! assembly. `start` is the rest of the process entry and [`entry!`], with which main.rs names its
//! `main`; `mem` the memory functions the compiler calls, `panic` the panic handler, `arena` the
//! heap, `syscall` the few system calls rustix does not offer.

mod arch;
pub mod arena;
pub mod mem;
pub mod start;
pub mod syscall;

pub(crate) use start::entry;
