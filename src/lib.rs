//! modinit's pure logic: everything that can be decided from bytes alone, with no syscalls.
//!
//! The boot binary (`src/main.rs`) does the I/O and calls into this library. The library is
//! `no_std` so the boot binary can use it, and is unit-tested on the host with std.
#![cfg_attr(not(test), no_std)]
// The library decides from bytes alone: the unsafe code (syscalls, the entry point, the arena)
// is the binary's. Tests may call C references (glibc's fnmatch) and measure allocations.
#![cfg_attr(not(test), forbid(unsafe_code))]

// The zstd decoder allocates in every build: ruzstd its buffers (the boot binary's arena serves
// them). `alloc` gates the code that keeps what it allocates.
extern crate alloc;

pub mod absent;
pub mod bump;
pub mod cmdline;
#[cfg(feature = "alloc")]
pub mod config;
pub mod crc32;
pub mod crc64;
pub mod decimal;
pub mod decompress;
pub mod fnmatch;
pub mod index;
pub mod kernel;
pub mod kmod_files;
pub mod line;
pub mod loading;
pub mod module_file;
pub mod name;
pub mod record;
pub mod resolve;
pub mod root;
pub mod sort;
pub mod string_set;
pub mod sysfs;
pub mod toolbox;
