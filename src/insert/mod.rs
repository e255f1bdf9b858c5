//! Inserting modules: a module file's image (decompressed when it must be), the load itself
//! (`finit_module`, its failures), a probe list's steps with each module's options, the worker
//! processes that run inserts side by side, and a module's state in /sys/module.

pub mod load;
pub mod module_image;
pub mod probe;
pub mod sysfs_module;
pub mod workers;
