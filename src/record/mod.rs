//! The boot record: a plain-text account of the driver phase that modinit leaves in
//! [`PATH`] (moved with /run onto the real root), one line per event, for people, for
//! `modinit blame` and for the bench's timeline ([docs/boot-record.md](../../docs/boot-record.md)
//! gives the format field by field). `entry.rs` writes and reads one line; `blame.rs` finds
//! the slowest inserts and the critical chain in a whole record.

pub mod blame;
pub mod entry;

use core::ffi::CStr;

/// Where the boot writes its record (and where `modinit blame` reads it by default).
pub const PATH: &CStr = c"/run/modinit/boot-record";

/// The directory [`PATH`] is in, created at the start of the phase.
pub const DIR: &CStr = c"/run/modinit";
