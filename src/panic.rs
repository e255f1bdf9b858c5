//! The panic handler: a bug in modinit is reported on the console and then handled like any
//! other fatal error, never by letting PID 1 die.

use crate::boot::on_error::fatal;
use crate::io::log::error;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Ordering::Relaxed) {
        // A panic while handling a panic: nothing more can be trusted to work.
        error!("panic while handling a panic; sleeping forever");
        loop {
            core::hint::spin_loop();
        }
    }
    if crate::insert::workers::in_worker() {
        // A worker inserting a module: PID 1 reports the module as failed and goes on.
        error!("bug: panic in a worker process: {}", info.message());
        crate::sys::syscall::exit_group(crate::insert::load::PANICKED);
    }
    match info.location() {
        Some(at) => fatal(format_args!("bug: panic at {}:{}: {}", at.file(), at.line(), info.message())),
        None => fatal(format_args!("bug: panic: {}", info.message())),
    }
}
