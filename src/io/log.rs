//! modinit's own messages: one line each, `modinit: ` first, one write() per line.
//!
//! Once the kernel log is open for writing ([`write_to_kernel_log`]) each line also becomes
//! a /dev/kmsg record (`<LEVEL>modinit: ...`), so it reaches the real system's journal. A line
//! is printed on the console exactly once: by the kernel, when its console shows records of
//! that level, otherwise by us. While a boot record is open (`io::record`) each line goes
//! into it too, and [`start_record`] and [`to_record`] say, once, when the record cannot be
//! written.

use super::record;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use modinit::kernel::errno::Describe;
use modinit::kernel::kmsg::Level;
use modinit::line::{Bytes, Line};
use modinit::record::entry::{ConsoleLine, Stamp};
use rustix::fd::BorrowedFd;

/// The longest message; longer ones are cut with `...`.
const MAX_LINE: usize = 512;

/// /dev/kmsg opened for writing, or -1.
static KMSG: AtomicI32 = AtomicI32::new(-1);
/// Records of a level below this are printed on the console by the kernel itself.
static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(0);

/// From now on, lines also go to the kernel log through `kmsg` (a /dev/kmsg fd, O_CLOEXEC,
/// kept open for the life of the process), and the kernel prints those of a level below
/// `console_loglevel` on the console.
pub fn write_to_kernel_log(kmsg: rustix::fd::OwnedFd, console_loglevel: u8) {
    CONSOLE_LOGLEVEL.store(console_loglevel, Ordering::Relaxed);
    let old = KMSG.swap(rustix::fd::IntoRawFd::into_raw_fd(kmsg), Ordering::Relaxed);
    debug_assert_eq!(old, -1, "the kernel log is attached once");
}

/// Writes `modinit: MESSAGE` at `level`; see the module docs for where it goes.
pub fn log(level: Level, message: fmt::Arguments<'_>) {
    let mut line = Line::<MAX_LINE>::new();
    // Formatting into a Line cannot fail: it cuts what does not fit.
    let _ = write!(line, "<{}>modinit: {message}", level as u8);
    let kmsg_record = line.finish();
    let text = &kmsg_record[kmsg_record.iter().position(|&b| b == b'>').map_or(0, |i| i + 1)..];
    let kmsg = KMSG.load(Ordering::Relaxed);
    // SAFETY: a valid fd stored by write_to_kernel_log and never closed.
    let written = kmsg >= 0 && rustix::io::write(unsafe { BorrowedFd::borrow_raw(kmsg) }, kmsg_record).is_ok();
    if !written || (level as u8) >= CONSOLE_LOGLEVEL.load(Ordering::Relaxed) {
        // SAFETY: fd 2 is either the console we opened or closed; writing to a closed fd is
        // EBADF, and before the console is open there is nobody to tell.
        let _ = rustix::io::write(unsafe { rustix::stdio::stderr() }, text);
    }
    let message = text.get(PREFIX.len()..text.len() - 1).unwrap_or_default();
    to_record(record::now(), &ConsoleLine { level, text: message });
}

/// What every line starts with.
const PREFIX: &[u8] = b"modinit: ";

/// Starts this boot's record (`io::record`); says so, once, when it cannot.
pub fn start_record() {
    if let Err(e) = record::create() {
        record_failed(e);
    }
}

/// Adds `entry` to the boot record, at `at`, if one is open; the first write that fails
/// turns the record off, and is said once.
pub fn to_record(at: Stamp, entry: &dyn fmt::Display) {
    if let Err(e) = record::append(at, entry) {
        record_failed(e);
    }
}

/// Says that the record cannot be written: in PID 1 only, so that it is said once. A worker
/// (or the modprobe applet) that meets the failure first turns only its own copy off; PID 1's
/// next line meets it too.
fn record_failed(e: rustix::io::Errno) {
    if !rustix::process::getpid().is_init() {
        return;
    }
    let path = Bytes(modinit::record::PATH.to_bytes());
    let why = Describe(e.raw_os_error());
    log(Level::Warn, format_args!("cannot write the boot record {path}: {why}; the boot goes on without it"));
}

/// `say!("format", args...)`: an informational line.
macro_rules! say {
    ($($arg:tt)*) => { $crate::io::log::log(modinit::kernel::kmsg::Level::Info, format_args!($($arg)*)) };
}

/// `error!("format", args...)`: something failed; the boot goes on or on_error takes over.
macro_rules! error {
    ($($arg:tt)*) => { $crate::io::log::log(modinit::kernel::kmsg::Level::Err, format_args!($($arg)*)) };
}
/// `warning!("format", args...)`: something is off but has a safe default.
macro_rules! warning {
    ($($arg:tt)*) => { $crate::io::log::log(modinit::kernel::kmsg::Level::Warn, format_args!($($arg)*)) };
}
pub(crate) use {error, say, warning};
