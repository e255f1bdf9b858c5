//! The kernel's interfaces, as bytes: /dev/kmsg records, uevents, /proc files, error numbers
//! and what a failed module load means, the flags `finit_module` takes.

pub mod errno;
pub mod init_flags;
pub mod kmsg;
pub mod module_error;
pub mod proc_modules;
pub mod proc_stat;
pub mod proc_status;
pub mod uevent;
