//! The system calls rustix does not wrap for us (without alloc): execve, fork, exit_group, getcwd.
//!
//! Each is one raw system call through the architecture's instruction ([`arch`]), with its number
//! from linux-raw-sys, which has each architecture's table. This file says what the calls mean.

use super::arch;
use linux_raw_sys::general::{__NR_clone, __NR_execve, __NR_exit_group, __NR_getcwd, SIGCHLD};
use rustix::io::Errno;

/// `execve(2)`: replaces this process with `path`. Returns only on failure.
///
/// `argv` and `envp` must each end with a null pointer.
pub fn execve(path: &core::ffi::CStr, argv: &[*const u8], envp: &[*const u8]) -> Errno {
    assert!(argv.last().is_some_and(|p| p.is_null()) && envp.last().is_some_and(|p| p.is_null()));
    // SAFETY: path is NUL-terminated; argv and envp are NULL-terminated arrays (checked above)
    // of pointers to NUL-terminated strings that outlive the call. execve only reads them.
    let ret =
        unsafe { arch::syscall3(__NR_execve, path.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize) };
    Errno::from_raw_os_error(-ret as i32)
}

/// The result of `fork`, seen from each side.
pub enum Forked {
    Child,
    Parent { child: rustix::process::Pid },
}

/// `fork(2)` as `clone(SIGCHLD, 0)`. The boot binary is single-threaded and holds no locks,
/// so the child may run any code the parent could.
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: clone with a null stack behaves as fork: the child gets a copy of our address
    // space and continues here with a result of 0. No pointers are passed: the other three
    // arguments (parent_tid, child_tid and tls, in an order that differs by architecture) are 0.
    let ret = unsafe { arch::syscall5(__NR_clone, SIGCHLD as usize, 0, 0, 0, 0) };
    match ret {
        0 => Ok(Forked::Child),
        // A pid past i32 cannot come from the kernel; refused rather than trusted.
        pid if pid > 0 => rustix::process::Pid::from_raw(i32::try_from(pid).map_err(|_| Errno::RANGE)?)
            .map(|child| Forked::Parent { child })
            .ok_or(Errno::RANGE),
        err => Err(Errno::from_raw_os_error(-err as i32)),
    }
}

/// `exit_group(2)`: ends this process. Only for children; PID 1 never exits.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an integer and does not return.
    unsafe { arch::syscall1_noreturn(__NR_exit_group, code as usize) }
}

/// `getcwd(2)`: the current directory's path, without its NUL, in `buf`.
pub fn getcwd(buf: &mut [u8]) -> Result<&[u8], Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own mutably.
    let ret = unsafe { arch::syscall2(__NR_getcwd, buf.as_mut_ptr() as usize, buf.len()) };
    // The length returned counts the NUL; an error is -4095..=-1.
    match ret {
        1.. => buf.get(..ret as usize - 1).ok_or(Errno::RANGE),
        -4095..=-1 => Err(Errno::from_raw_os_error(-ret as i32)),
        _ => Err(Errno::IO),
    }
}
