//! Opening the module index at boot: without it, no device gets a driver, so problems are said
//! on the console.

use crate::io::log::{error, warning};
use crate::io::modules_dir::{ModulesDir, open_index};
use modinit::index::Index;
use modinit::line::Bytes;

/// The index of `dir`, as the boot uses it ([`open_index`]): problems on the console, and a
/// warning when the index was built for another kernel.
pub fn open_boot_index(dir: &ModulesDir) -> Option<Index<'static>> {
    let path = dir.index_file();
    match open_index(dir) {
        Ok(index) => {
            let release = dir.release();
            if index.kernel_release() != release {
                warning!("{} was built for kernel {}, this is {}", path, Bytes(index.kernel_release()), Bytes(release));
            }
            Some(index)
        }
        Err(e) => {
            error!("cannot use the module index {path}: {e}; no device drivers or modules-load.d lists are loaded");
            None
        }
    }
}
