//! Putting the console on fds 0, 1 and 2.

use crate::io::log::{error, say};
use modinit::kernel::errno::Describe;
use rustix::fs::{Mode, OFlags, open};
use rustix::stdio::{dup2_stderr, dup2_stdin, dup2_stdout};

/// Opens /dev/console (from the devtmpfs just mounted) as stdin, stdout and stderr.
///
/// The kernel already gave /init the initramfs's /dev/console if it had one; reopening it
/// after mounting devtmpfs makes sure the fds work whether or not the image carried the node.
/// Without a console, the fds the kernel gave us stay as they were.
pub fn attach_console() {
    // SAFETY: only asks whether fd 2 is open.
    let had_console = rustix::io::fcntl_getfd(unsafe { rustix::stdio::stderr() }).is_ok();
    let console = match open(c"/dev/console", OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            error!("cannot open /dev/console: {}; messages go to the kernel's initial fds", Describe(e.raw_os_error()));
            return;
        }
    };
    // dup2 clears CLOEXEC on the copies, so the real init inherits 0, 1 and 2; the original
    // fd closes when `console` is dropped.
    for dup in [dup2_stdin, dup2_stdout, dup2_stderr] {
        if let Err(e) = dup(&console) {
            error!("cannot put /dev/console on a standard fd: {}", Describe(e.raw_os_error()));
        }
    }
    if !had_console {
        say!("/init started without a console (no /dev/console in the image?): using devtmpfs's");
    }
}
