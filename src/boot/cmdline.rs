//! Reading the kernel command line from /proc/cmdline.

use super::log::say;
use modinit::errno::Describe;
use rustix::fs::{Mode, OFlags, open};

/// Reads /proc/cmdline into `buf` and returns it. Without /proc the command line is empty,
/// so modinit runs with its defaults.
pub fn read(buf: &mut [u8]) -> &[u8] {
    let fd = match open(c"/proc/cmdline", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            say!("cannot read /proc/cmdline: {}; using default options", Describe(e.raw_os_error()));
            return &[];
        }
    };
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                say!("cannot read /proc/cmdline: {}; using what was read", Describe(e.raw_os_error()));
                break;
            }
        }
    }
    &buf[..len]
}
