//! Handing over to the real init: `init=` first, then the kernel's own fallbacks.

use crate::io::clock::Instant;
use crate::io::log::{error, say};
use crate::io::path::{PATH_MAX, c_path};
use crate::sys::start::StartArgs;
use crate::sys::syscall::execve;
use core::ffi::CStr;
use modinit::kernel::errno::Describe;
use modinit::line::Bytes;
use rustix::fs::{Access, FileType, access, stat};
use rustix::io::Errno;

/// What the kernel tries when `init=` is not given (init/main.c, kernel_init()).
pub const FALLBACK_INITS: [&CStr; 4] = [c"/sbin/init", c"/etc/init", c"/bin/init", c"/bin/sh"];

/// The kernel passes init at most 32 arguments and 32 environment strings
/// (MAX_INIT_ARGS, MAX_INIT_ENVS); room for those, the path and the terminating NULL.
const MAX_ARGS: usize = 34;

/// Execs `init` (the `init=` path) if given, else the first fallback that exists. Returns only
/// when none could be run; each failure has been reported.
pub fn exec_real_init(init: Option<&[u8]>, args: StartArgs, started: Instant) {
    if let Some(path) = init {
        let mut buf = [0u8; PATH_MAX];
        match c_path(&mut buf, &[path]) {
            Some(path) => match exec(path, args, started) {
                Errno::NOENT => error!("init={}: no such file; trying the default inits", Bytes(path.to_bytes())),
                e => error!(
                    "cannot run init={}: {}; trying the default inits",
                    Bytes(path.to_bytes()),
                    Describe(e.raw_os_error())
                ),
            },
            None => error!("init={} is not a usable path; trying the default inits", Bytes(path)),
        }
    }
    for path in FALLBACK_INITS {
        match exec(path, args, started) {
            Errno::NOENT => {}
            e => error!("cannot run {}: {}", Bytes(path.to_bytes()), Describe(e.raw_os_error())),
        }
    }
}

/// Runs `path` with the arguments and environment the kernel gave /init. Returns why not.
fn exec(path: &CStr, args: StartArgs, started: Instant) -> Errno {
    if let Err(e) = check_runnable(path) {
        return e;
    }
    let mut argv = [core::ptr::null(); MAX_ARGS];
    let mut envp = [core::ptr::null(); MAX_ARGS];
    argv[0] = path.as_ptr().cast();
    for (slot, &arg) in argv[1..MAX_ARGS - 1].iter_mut().zip(args.argv.iter().skip(1)) {
        *slot = arg;
    }
    for (slot, &var) in envp[..MAX_ARGS - 1].iter_mut().zip(args.envp) {
        *slot = var;
    }
    say!("exec {} after {} ms", Bytes(path.to_bytes()), started.elapsed_ms());
    execve(path, &argv, &envp)
}

/// A regular, executable file? Checked first so that a missing fallback stays quiet and a
/// directory or a non-executable file gets a clear reason.
fn check_runnable(path: &CStr) -> Result<(), Errno> {
    let st = stat(path)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => access(path, Access::EXEC_OK),
        FileType::Directory => Err(Errno::ISDIR),
        _ => Err(Errno::ACCESS),
    }
}
