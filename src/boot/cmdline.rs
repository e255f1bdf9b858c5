//! Reading the kernel command line from /proc/cmdline.

use crate::io::file::read_into;
use crate::io::log::error;
use modinit::kernel::errno::Describe;

/// Reads /proc/cmdline into `buf` and returns it. Without /proc the command line is empty,
/// so modinit runs with its defaults.
pub fn read(buf: &mut [u8]) -> &[u8] {
    match read_into(c"/proc/cmdline", buf) {
        Ok(cmdline) => cmdline,
        Err(e) => {
            error!("cannot read /proc/cmdline: {}; using default options", Describe(e.raw_os_error()));
            &[]
        }
    }
}
