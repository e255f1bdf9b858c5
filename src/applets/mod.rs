//! The toolbox in the same binary: chosen by the name it runs as (a symlink such as
//! /sbin/modprobe) or by a first argument (`modinit modprobe ...`). An applet is an ordinary
//! process: it writes to stdout/stderr and exits with kmod's codes.

mod blame;
#[cfg(feature = "depmod")]
mod depmod;
mod dmesg;
mod insmod;
mod live_index;
mod lsmod;
mod modinfo;
mod modprobe;
mod modprobe_exports;
mod modprobe_remove;
mod modules_symbols;
mod rmmod;
mod stdout;

use crate::io::path::PATH_MAX;
use crate::sys::start::StartArgs;
use core::ffi::CStr;
use core::fmt::{Display, Write};
use modinit::line::{Bytes, Line};
use modinit::toolbox::applets::Applet;
use modinit::toolbox::getopt::Refusal;

/// An applet's entry: its argv (its name first) to an exit code.
pub type Main = fn(&[&[u8]]) -> i32;

/// The entry of `applet`.
fn main_of(applet: Applet) -> Main {
    match applet {
        Applet::Modprobe => modprobe::main,
        Applet::Lsmod => lsmod::main,
        Applet::Insmod => insmod::main,
        Applet::Rmmod => rmmod::main,
        Applet::Dmesg => dmesg::main,
        Applet::Modinfo => modinfo::main,
        Applet::Blame => blame::main,
        #[cfg(feature = "depmod")]
        Applet::Depmod => depmod::main,
        #[cfg(not(feature = "depmod"))]
        Applet::Depmod => not_built,
    }
}

/// `depmod` in a binary built without it (`--no-default-features`).
#[cfg(not(feature = "depmod"))]
fn not_built(_: &[&[u8]]) -> i32 {
    err!("depmod: not in this modinit (built without the `depmod` feature); index the tree with a full build");
    1
}

/// The applet `args` ask for, and where its argv starts; None for the boot.
pub fn chosen(args: StartArgs) -> Option<(Main, usize)> {
    let arg = |i: usize| -> Option<&[u8]> {
        let ptr = *args.argv.get(i)?;
        // SAFETY: argv entries are NUL-terminated strings the kernel put on our stack.
        (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr.cast()) }.to_bytes())
    };
    let basename = |s: &'static [u8]| s.rsplit(|&b| b == b'/').next().unwrap_or(s);
    let find = |name: &[u8]| Applet::named(name).map(main_of);
    // PID 1 is the boot, whatever its name.
    if rustix::process::getpid().is_init() {
        return None;
    }
    // Any other process runs an applet, never the boot (which would mount over the system's
    // /proc and /run): an unknown name gets `unknown`.
    let argv0 = basename(arg(0).unwrap_or_default());
    match find(argv0) {
        Some(f) => Some((f, 0)),
        None => Some((arg(1).and_then(find).unwrap_or(unknown), 1)),
    }
}

/// What a process other than PID 1 runs when it names no applet.
fn unknown(argv: &[&[u8]]) -> i32 {
    match argv.first() {
        Some(name) => {
            err!("modinit: no applet '{}' (modinit boots only as PID 1); the applets are:", modinit::line::Bytes(name))
        }
        None => err!("modinit: no applet named (modinit boots only as PID 1); the applets are:"),
    }
    for applet in Applet::ALL {
        err!("  {}", applet.name());
    }
    1
}

/// Runs an applet on argv[first..] and returns its exit code.
pub fn run(applet: Main, first: usize, args: StartArgs) -> i32 {
    // 64 KiB of stack: `modinfo` and `modprobe -a` take many names (applets never run as PID 1).
    const MAX_ARGS: usize = 4096;
    let mut argv: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let mut n = 0;
    for &ptr in args.argv.iter().skip(first).take(MAX_ARGS) {
        // SAFETY: as in `chosen`.
        argv[n] = unsafe { CStr::from_ptr(ptr.cast()) }.to_bytes();
        n += 1;
    }
    applet(&argv[..n])
}

/// Whose words an applet's refusals are in.
#[derive(Clone, Copy)]
enum Convention {
    /// kmod's: `NAME: ERROR: ...`.
    Kmod,
    /// util-linux's: `NAME: ...`, and after getopt's refusals its "Try 'NAME --help' ..." line.
    UtilLinux { try_help: &'static str },
}

/// The exit code of an applet whose command line is `refusal`: 0 after the usage on stdout for
/// `--help`, else 1 after the reason on stderr. getopt's refusals start with the program as
/// it was called (argv[0]), the applet's own with its name.
fn refused<E: Display>(argv: &[&[u8]], convention: Convention, usage: &dyn Display, refusal: Refusal<'_, E>) -> i32 {
    report(argv, convention, usage, refusal.as_dyn())
}

/// [`refused`] with the applet's reason as a `dyn Display`: one copy in the binary, not one
/// per applet.
fn report(argv: &[&[u8]], convention: Convention, usage: &dyn Display, refusal: Refusal<'_, &dyn Display>) -> i32 {
    let program = argv.first().copied().unwrap_or_default();
    let name = Bytes(program.rsplit(|&b| b == b'/').next().unwrap_or(program));
    let error = match convention {
        Convention::Kmod => "ERROR: ",
        Convention::UtilLinux { .. } => "",
    };
    match (refusal, convention) {
        (Refusal::Help, _) => {
            out!("{usage}");
            return 0;
        }
        (Refusal::Getopt(e), Convention::Kmod) => err!("{}: {e}", Bytes(program)),
        (Refusal::Getopt(e), Convention::UtilLinux { try_help }) => err!("{}: {e}\n{try_help}", Bytes(program)),
        (Refusal::Unsupported(option), _) => err!("{name}: {error}{option} is not supported by modinit's {name}"),
        (Refusal::Quiet, _) => {}
        (Refusal::Tool(e), _) => err!("{name}: {error}{e}"),
    }
    1
}

/// The longest line an applet prints whole: room for a path of [`PATH_MAX`] bytes and a
/// module's parameters (`modprobe -v`'s `insmod PATH PARAMS`), or for a message about a path.
const LINE_MAX: usize = 2 * PATH_MAX + 256;

/// Writes one formatted line to `fd` (1 or 2) in one write().
fn print(fd: i32, message: core::fmt::Arguments<'_>) {
    let mut line = Line::<LINE_MAX>::new();
    let _ = line.write_fmt(message);
    // SAFETY: fd 1 and 2 are the applet's stdout and stderr, or closed (then EBADF).
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    let _ = rustix::io::write(fd, line.finish());
}

/// Writes all of `bytes` to `fd`.
fn write_all(fd: rustix::fd::BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), rustix::io::Errno> {
    use rustix::io::Errno;
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `out!(...)`: a line on stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::applets::print(1, format_args!($($arg)*)) };
}
/// `err!(...)`: a line on stderr.
macro_rules! err {
    ($($arg:tt)*) => { $crate::applets::print(2, format_args!($($arg)*)) };
}
use {err, out};
