//! The steps of the boot, one file each, in the order `main` runs them.

pub mod autoload;
pub mod clock;
pub mod coldplug;
pub mod cmdline;
pub mod console;
pub mod exec;
pub mod file;
pub mod index_file;
pub mod kernel_log;
pub mod load;
pub mod log;
pub mod mount;
pub mod on_error;
pub mod probe;
pub mod sysfs_module;
pub mod uevents;
