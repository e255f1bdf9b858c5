//! Mounting the kernel's virtual filesystems: /proc, /sys, /dev and /run.

use crate::io::log::{error, say};
use modinit::kernel::errno::Describe;
use modinit::line::Bytes;
use rustix::fs::{Mode, mkdir};
use rustix::io::Errno;
use rustix::mount::{MountFlags, mount};

struct Mount {
    fstype: &'static core::ffi::CStr,
    target: &'static core::ffi::CStr,
    flags: MountFlags,
    data: &'static core::ffi::CStr,
    /// Why the kernel might not support it, for the error message.
    needs: &'static str,
}

const EARLY_MOUNTS: [Mount; 4] = [
    Mount {
        fstype: c"proc",
        target: c"/proc",
        flags: MountFlags::NOSUID.union(MountFlags::NODEV).union(MountFlags::NOEXEC),
        data: c"",
        needs: "CONFIG_PROC_FS",
    },
    Mount {
        fstype: c"sysfs",
        target: c"/sys",
        flags: MountFlags::NOSUID.union(MountFlags::NODEV).union(MountFlags::NOEXEC),
        data: c"",
        needs: "CONFIG_SYSFS",
    },
    Mount {
        fstype: c"devtmpfs",
        target: c"/dev",
        flags: MountFlags::NOSUID,
        data: c"mode=0755",
        needs: "CONFIG_DEVTMPFS",
    },
    Mount {
        fstype: c"tmpfs",
        target: c"/run",
        flags: MountFlags::NOSUID.union(MountFlags::NODEV),
        data: c"mode=0755",
        needs: "CONFIG_TMPFS",
    },
];

/// Mounts proc, sysfs, devtmpfs and a tmpfs on /run, creating the mount points.
///
/// Something already mounted there (by an init wrapper that ran first) is kept: mounting
/// again would stack a second proc or sysfs, and a fresh /run would hide what the wrapper
/// put there. Any failure is reported and the boot goes on: whatever still works is better
/// than a kernel panic.
pub fn mount_early_filesystems() {
    let root_dev = rustix::fs::stat(c"/").map(|st| st.st_dev).ok();
    for m in &EARLY_MOUNTS {
        let (fstype, target) = (Bytes(m.fstype.to_bytes()), Bytes(m.target.to_bytes()));
        if let Err(e) = mkdir(m.target, Mode::from_raw_mode(0o755))
            && e != Errno::EXIST
        {
            error!("cannot create {target}: {}", Describe(e.raw_os_error()));
        }
        // A mount point is on another device than the root it is in.
        if rustix::fs::stat(m.target).is_ok_and(|st| Some(st.st_dev) != root_dev) {
            say!("{target} is mounted already: keeping it");
            continue;
        }
        match mount(m.fstype, m.target, m.fstype, m.flags, m.data) {
            Ok(()) | Err(Errno::BUSY) => {}
            Err(Errno::NODEV) => {
                error!("cannot mount {fstype} on {target}: the kernel has no {fstype} ({} is off)", m.needs)
            }
            Err(e) => error!("cannot mount {fstype} on {target}: {}", Describe(e.raw_os_error())),
        }
    }
}

/// Character devices modinit and the real init cannot do without: (path, major, minor).
const ESSENTIAL_NODES: [(&core::ffi::CStr, u32, u32); 3] =
    [(c"/dev/console", 5, 1), (c"/dev/kmsg", 1, 11), (c"/dev/null", 1, 3)];

/// Creates /dev/console, /dev/kmsg and /dev/null when /dev lacks them: devtmpfs could not be
/// mounted (a kernel without CONFIG_DEVTMPFS), or an init wrapper mounted something else
/// there. With devtmpfs they exist and nothing is done.
pub fn ensure_essential_nodes() {
    for (path, major, minor) in ESSENTIAL_NODES {
        if rustix::fs::access(path, rustix::fs::Access::EXISTS).is_ok() {
            continue;
        }
        let shown = Bytes(path.to_bytes());
        let mode = Mode::from_raw_mode(0o600);
        match rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::CharacterDevice,
            mode,
            rustix::fs::makedev(major, minor),
        ) {
            Ok(()) => say!("{shown} was missing (no devtmpfs on /dev): created it"),
            Err(e) => error!("{shown} is missing and cannot be created: {}", Describe(e.raw_os_error())),
        }
    }
}
