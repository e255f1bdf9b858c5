//! The boot record's start (docs/boot-record.md): created as soon as /run is mounted, so that
//! every line modinit prints reaches it, with a line for each module already loaded then. Those
//! were loaded before /init ran, by the kernel's own requests (the initramfs's /sbin/modprobe,
//! which is modinit's applet, runs for `request_module()` as soon as the image is unpacked), or
//! by an init wrapper: with them the record's `loaded` modules are all of /proc/modules.

use crate::insert::record::already_loaded;
use crate::io::file::read_into;
use crate::io::log::start_record;
use modinit::kernel::proc_modules::loaded_modules;

/// /proc/modules this early holds a few modules (about 100 bytes each).
const PROC_MODULES_MAX: usize = 64 << 10;

/// Starts the record and records the modules already loaded.
pub fn start() {
    start_record();
    let mut buf = [0u8; PROC_MODULES_MAX];
    let text = read_into(c"/proc/modules", &mut buf).unwrap_or_default();
    // The oldest first, as they were loaded.
    let names: heapless::Vec<&[u8], 256> = loaded_modules(text).map(|m| m.name).take(256).collect();
    names.iter().rev().for_each(|name| already_loaded(name));
}
