//! The boot record's file ([`modinit::record`]): PID 1 creates it as it starts, once /run is
//! mounted, and the modprobe applet adds to it when the kernel runs it meanwhile. Each line is one
//! write(2) of a stack buffer to a file opened with O_APPEND, so lines from several processes
//! never mix, and the boot never waits for anything but a tmpfs write. A record that cannot be
//! written (read-only /run, no space left) turns itself off: the caller says so once
//! (`io::log`), and the boot goes on without it.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicI32, Ordering};
use modinit::line::Line;
use modinit::record::entry::{Header, Stamp};
use modinit::record::{DIR, PATH};
use rustix::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags, mkdir, open};
use rustix::io::Errno;

/// The longest line: a module line with a probe list of 64 modules, its key and its reason.
const LINE_MAX: usize = 8192;

/// The record opened for appending, or -1: not opened, or turned off after a failed write.
static FD: AtomicI32 = AtomicI32::new(-1);

/// Starts this boot's record (replacing any older one) with its first line.
pub fn create() -> Result<(), Errno> {
    match mkdir(DIR, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e),
    }
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::APPEND | OFlags::CLOEXEC;
    attach(open(PATH, flags, Mode::from_raw_mode(0o644))?);
    append(now(), &Header)
}

/// Adds to the record this boot started, if there is one (the modprobe applet, run by the
/// kernel during the boot); false when there is none.
pub fn join() -> bool {
    open(PATH, OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC, Mode::empty()).map(attach).is_ok()
}

/// Keeps `fd` for [`append`] (for the life of the process: it is opened once).
fn attach(fd: OwnedFd) {
    FD.store(fd.into_raw_fd(), Ordering::Relaxed);
}

/// The kernel's clock now, as the record writes it.
pub fn now() -> Stamp {
    Stamp(crate::io::clock::Instant::now().micros())
}

/// Appends `TIME ENTRY` as one line. The first write that fails (or writes part of the line:
/// no space) turns the record off and returns the error; nothing is written after it, and a
/// record that is off takes every line silently.
pub fn append(at: Stamp, entry: &dyn fmt::Display) -> Result<(), Errno> {
    let fd = FD.load(Ordering::Relaxed);
    if fd < 0 {
        return Ok(());
    }
    let mut line = Line::<LINE_MAX>::new();
    // A Line cuts what does not fit; it never fails.
    let _ = write!(line, "{at} {entry}");
    let bytes = line.finish();
    // SAFETY: a valid fd stored by `attach`, closed only after it is swapped out below.
    let written = rustix::io::write(unsafe { BorrowedFd::borrow_raw(fd) }, bytes);
    let error = match written {
        Ok(n) if n == bytes.len() => return Ok(()),
        Ok(_) => Errno::NOSPC,
        Err(e) => e,
    };
    if FD.compare_exchange(fd, -1, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        // SAFETY: swapped out above, so this is its last use.
        drop(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) });
    }
    Err(error)
}
