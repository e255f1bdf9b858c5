//! Hotplug: kernel uevents for devices that appear while modinit runs.
//!
//! The socket is opened before the coldplug walk, so a device added during the walk is
//! either seen by the walk or queued here (or both; the alias set removes duplicates).

use crate::io::log::{error, warning};
use modinit::kernel::errno::Describe;
use modinit::kernel::uevent::Uevent;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType, bind, recv, socket_with};

/// The kernel's multicast group for uevents.
const KERNEL_GROUP: u32 = 1;
/// Room for bursts (a USB hub with many devices) before the kernel drops messages.
const RECEIVE_BUFFER: usize = 4 << 20;
/// A uevent is at most UEVENT_BUFFER_SIZE (2048) bytes.
const MESSAGE_MAX: usize = 4096;

pub struct UeventSocket {
    fd: OwnedFd,
}

/// What one `receive` found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Received {
    pub events: usize,
    /// The socket overflowed and events were dropped: only a rescan can find them now.
    pub overflowed: bool,
}

impl UeventSocket {
    pub fn open() -> Option<UeventSocket> {
        let opened = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::KOBJECT_UEVENT),
        )
        .and_then(|fd| {
            bind(&fd, &SocketAddrNetlink::new(0, KERNEL_GROUP))?;
            Ok(fd)
        });
        match opened {
            Ok(fd) => {
                // Without the force variant (CAP_NET_ADMIN, which PID 1 has) rmem_max caps it.
                let _ = rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, RECEIVE_BUFFER);
                Some(UeventSocket { fd })
            }
            Err(e) => {
                error!(
                    "cannot listen to uevents: {}; only devices present now get drivers",
                    Describe(e.raw_os_error())
                );
                None
            }
        }
    }

    /// Reads every queued uevent, handing the modalias of each added device to `found`.
    pub fn receive(&self, mut found: impl FnMut(&[u8])) -> Received {
        let mut got = Received::default();
        let mut buf = [0u8; MESSAGE_MAX];
        loop {
            match recv(&self.fd, &mut buf, RecvFlags::DONTWAIT) {
                Ok((_, n)) => {
                    got.events += 1;
                    if let Some(alias) = Uevent::parse(&buf[..n.min(buf.len())]).and_then(|e| e.added_modalias()) {
                        found(alias);
                    }
                }
                Err(Errno::AGAIN) => return got,
                Err(Errno::INTR) => {}
                Err(Errno::NOBUFS) => got.overflowed = true,
                Err(e) => {
                    warning!("cannot read uevents: {}", Describe(e.raw_os_error()));
                    return got;
                }
            }
        }
    }

    /// The socket, to poll beside other files.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Waits up to `ms` milliseconds for a uevent; true when one is ready.
    pub fn wait(&self, ms: u64) -> bool {
        let timeout = crate::io::clock::timespec_of_ms(ms);
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
    }
}
