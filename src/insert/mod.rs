//! Inserting modules: a module file's image (decompressed when it must be), the load itself
//! (`finit_module`, its failures), a probe list's steps with each module's options, the worker
//! processes that run inserts side by side, a module's state in /sys/module, and what became
//! of each module in the boot record.

pub mod load;
pub mod module_image;
pub mod probe;
pub mod record;
pub mod sysfs_module;
pub mod workers;
