//! modinit's own messages: one line each, `modinit: ` first, one write() per line.

use core::fmt::{self, Write};
use modinit::line::Line;
use rustix::stdio::stderr;

/// The longest message; longer ones are cut with `...`.
const MAX_LINE: usize = 512;

/// Writes `modinit: MESSAGE\n` to the console (fd 2) in one write().
///
/// Before the console is open there may be no fd 2; the message is then lost, which is all
/// anyone could do with it.
pub fn say_line(message: fmt::Arguments<'_>) {
    let mut line = Line::<MAX_LINE>::new();
    // Formatting into a Line cannot fail: it cuts what does not fit.
    let _ = write!(line, "modinit: {message}");
    // SAFETY: fd 2 is either the console we opened or closed; writing to a closed fd is EBADF.
    let console = unsafe { stderr() };
    let _ = rustix::io::write(console, line.finish());
}

/// `say!("format", args...)`: prints one modinit line on the console.
macro_rules! say {
    ($($arg:tt)*) => { $crate::boot::log::say_line(format_args!($($arg)*)) };
}
pub(crate) use say;
