//! What happens when booting cannot go on: `modinit.on_error=shell|poweroff|reboot|halt`.
//!
//! PID 1 must never exit (the kernel would panic and the machine is lost with whatever it
//! printed scrolling away), so every fatal path ends here, and nothing here returns.

use crate::io::clock::sleep_ms;
use crate::io::log::{error, say};
use crate::sys::syscall::{Forked, execve, exit_group, fork};
use core::sync::atomic::{AtomicU8, Ordering};
use modinit::cmdline::options::OnError;
use modinit::kernel::errno::Describe;
use rustix::system::{RebootCommand, reboot};

/// Time to read the message before the machine powers off or reboots.
const GRACE_MS: u64 = 5000;
const RESCUE_SHELL: &core::ffi::CStr = c"/bin/sh";

static ACTION: AtomicU8 = AtomicU8::new(OnError::Shell as u8);

/// Sets the action for later fatal errors (and panics).
pub fn set_action(action: OnError) {
    ACTION.store(action as u8, Ordering::Relaxed);
}

fn action() -> OnError {
    match ACTION.load(Ordering::Relaxed) {
        x if x == OnError::Poweroff as u8 => OnError::Poweroff,
        x if x == OnError::Reboot as u8 => OnError::Reboot,
        x if x == OnError::Halt as u8 => OnError::Halt,
        _ => OnError::Shell,
    }
}

/// Reports `reason` and carries out the on_error action.
pub fn fatal(reason: core::fmt::Arguments<'_>) -> ! {
    error!("{reason}");
    let action = action();
    say!("on_error={}", action.name());
    match action {
        OnError::Shell => {
            rescue_shell();
            stop(RebootCommand::Halt, "halting")
        }
        OnError::Halt => stop(RebootCommand::Halt, "halting"),
        OnError::Poweroff => {
            say!("powering off in {} s", GRACE_MS / 1000);
            sleep_ms(GRACE_MS);
            stop(RebootCommand::PowerOff, "powering off")
        }
        OnError::Reboot => {
            say!("rebooting in {} s", GRACE_MS / 1000);
            sleep_ms(GRACE_MS);
            stop(RebootCommand::Restart, "rebooting")
        }
    }
}

/// Runs /bin/sh on the console, if there is one, and waits until it exits.
fn rescue_shell() {
    if rustix::fs::access(RESCUE_SHELL, rustix::fs::Access::EXEC_OK).is_err() {
        say!("no rescue shell at /bin/sh");
        return;
    }
    say!("starting a rescue shell on the console; exit it to halt");
    match fork() {
        Ok(Forked::Child) => {
            // A session of its own with the console as controlling terminal, for job control
            // and Ctrl-C. Failing that, the shell still works without them.
            let _ = rustix::process::setsid();
            // SAFETY: fd 0 is the console (or closed, and the ioctl fails harmlessly).
            let _ = rustix::process::ioctl_tiocsctty(unsafe { rustix::stdio::stdin() });
            let argv = [RESCUE_SHELL.as_ptr().cast(), core::ptr::null()];
            let envp = [
                c"PATH=/sbin:/bin:/usr/sbin:/usr/bin".as_ptr().cast(),
                c"HOME=/".as_ptr().cast(),
                c"TERM=linux".as_ptr().cast(),
                core::ptr::null(),
            ];
            let e = execve(RESCUE_SHELL, &argv, &envp);
            error!("cannot exec /bin/sh: {}", Describe(e.raw_os_error()));
            exit_group(127)
        }
        Ok(Forked::Parent { child }) => {
            // Reap until the shell itself is gone (orphans re-parented to us end here too).
            while let Ok(Some((pid, _))) = rustix::process::wait(rustix::process::WaitOptions::empty()) {
                if pid == child {
                    break;
                }
            }
            say!("rescue shell exited");
        }
        Err(e) => error!("cannot start a rescue shell: {}", Describe(e.raw_os_error())),
    }
}

/// Syncs and asks the kernel to stop the machine; if even that fails, sleeps forever.
fn stop(command: RebootCommand, what: &str) -> ! {
    say!("{what}");
    rustix::fs::sync();
    if let Err(e) = reboot(command) {
        error!("{what} failed: {}; sleeping forever", Describe(e.raw_os_error()));
    }
    loop {
        sleep_ms(u64::MAX / 2_000_000);
    }
}
