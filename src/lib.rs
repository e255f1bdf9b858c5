//! modinit's pure logic: everything that can be decided from bytes alone, with no syscalls.
//!
//! The boot binary (`src/main.rs`) does the I/O and calls into this library. The library is
//! `no_std` so the boot binary can use it, and is unit-tested on the host with std.
#![cfg_attr(not(test), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod bump;
pub mod cmdline;
pub mod crc32;
pub mod decompress;
pub mod errno;
pub mod kmsg;
pub mod line;
pub mod module_error;
pub mod options;
pub mod string_set;
pub mod uevent;
