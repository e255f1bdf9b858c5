//! The I/O layer the boot and the applets share: files read and written whole, paths in fixed
//! buffers, memory mappings, the monotonic clock, modinit's log lines and the boot record they
//! also go to, the module directory with its index file, and /sys as the library's walks read
//! it (`modinit::sysfs::Dir`).

pub mod clock;
pub mod file;
pub mod log;
pub mod mapping;
pub mod modules_dir;
pub mod path;
pub mod record;
pub mod sysfs_dir;
#[cfg(feature = "alloc")]
pub mod tree_fs;
