//! The toolbox's command lines and what it prints: kmod's `depmod`, `insmod`, `modinfo`,
//! `modprobe` and `rmmod`, util-linux's `dmesg`, read and printed byte for byte as they do;
//! modinit's own `blame`.
//! The binary's applets (src/applets/) are these plus the system calls.

pub mod applets;
pub mod blame_output;
pub mod depmod_args;
pub mod dmesg;
pub mod getopt;
pub mod insmod_args;
pub mod modinfo_args;
pub mod modinfo_output;
pub mod modprobe_args;
pub mod rmmod_args;
#[cfg(feature = "alloc")]
pub mod show_config;
