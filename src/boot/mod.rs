//! The steps of the boot, one file each, in the order `main` runs them.

pub mod autoload;
pub mod block_devices;
pub mod clock;
pub mod cmdline;
pub mod coldplug;
pub mod console;
pub mod exec;
pub mod file;
pub mod index_file;
pub mod kernel_log;
pub mod load;
pub mod log;
pub mod mapping;
pub mod module_image;
pub mod mount;
pub mod on_error;
pub mod path;
pub mod probe;
pub mod root_device;
pub mod root_mount;
pub mod switch_root;
pub mod sysfs_dir;
pub mod sysfs_module;
pub mod uevents;
pub mod without_index;
pub mod workers;
