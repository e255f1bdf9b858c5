//! modinit's pure logic: everything that can be decided from bytes alone, with no syscalls.
//!
//! The boot binary (`src/main.rs`) does the I/O and calls into this library. The library is
//! `no_std` so the boot binary can use it, and is unit-tested on the host with std.
#![cfg_attr(not(test), no_std)]
// The library decides from bytes alone: the unsafe code (syscalls, the entry point, the arena)
// is the binary's. Tests may call C references (glibc's fnmatch) and measure allocations.
#![cfg_attr(not(test), forbid(unsafe_code))]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod builtin_modinfo;
pub mod bump;
pub mod cmdline;
#[cfg(feature = "alloc")]
pub mod config;
pub mod crc32;
pub mod decimal;
pub mod decompress;
pub mod depmod_args;
pub mod der;
pub mod dmesg;
pub mod elf;
pub mod elf_symbols;
pub mod errno;
pub mod fnmatch;
pub mod getopt;
pub mod index;
pub mod insmod_args;
pub mod kcmdline;
pub mod kmsg;
pub mod line;
pub mod modinfo;
pub mod modinfo_args;
pub mod modinfo_output;
pub mod modprobe_args;
pub mod module_error;
pub mod module_init_flags;
pub mod module_list;
pub mod module_signature;
pub mod name;
pub mod options;
pub mod probe_chain;
pub mod proc_modules;
pub mod proc_status;
pub mod resolve;
pub mod rmmod_args;
pub mod root;
#[cfg(feature = "alloc")]
pub mod show_config;
pub mod sort;
pub mod stall;
pub mod string_set;
pub mod uevent;
