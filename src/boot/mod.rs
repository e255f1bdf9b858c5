//! The steps of the boot, in the order `main` runs them: mount the early filesystems and
//! attach the console (`mount`, `console`), start the boot record (`record`), read the command
//! line (`cmdline`), set the action for fatal errors (`on_error`), open the kernel log
//! (`kernel_log`) and the index
//! (`open_index`), load the drivers (`without_index`, or `autoload` with its `coldplug` walk
//! and `uevents`), find and mount the root (`root_device` over `block_devices`, `root_mount`,
//! `switch_root`) and exec the real init (`exec`).

pub mod autoload;
pub mod block_devices;
pub mod cmdline;
pub mod coldplug;
pub mod console;
pub mod exec;
pub mod kernel_log;
pub mod missing_drivers;
pub mod mount;
pub mod on_error;
pub mod open_index;
pub mod record;
pub mod root_device;
pub mod root_mount;
pub mod switch_root;
pub mod uevents;
pub mod without_index;
