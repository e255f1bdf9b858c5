//! switch_root: the root filesystem mounted on /root becomes `/`, taking /dev, /proc, /sys
//! and /run along, and the initramfs's own files are deleted to give their memory back.
//!
//! As busybox's switch_root does: the deletion never crosses into another mount (entries on
//! another device are left alone) and only runs on a RAM filesystem, then `chdir /root`,
//! `mount --move . /`, `chroot .`.

use super::exec::FALLBACK_INITS;
use crate::io::log::{error, say};
use crate::io::path::{PATH_MAX, c_path};
use core::ffi::CStr;
use core::mem::MaybeUninit;
use modinit::kernel::errno::Describe;
use modinit::line::Bytes;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RawDir, ResolveFlags, openat, openat2, statat, unlinkat};
use rustix::io::Errno;
use rustix::mount::mount_move;

/// Where the root filesystem is mounted before it becomes `/`.
pub const NEW_ROOT: &CStr = c"/root";

/// The early mounts and their places under [`NEW_ROOT`].
const CARRIED: [(&CStr, &CStr); 4] =
    [(c"/dev", c"/root/dev"), (c"/proc", c"/root/proc"), (c"/sys", c"/root/sys"), (c"/run", c"/root/run")];

/// The filesystems an initramfs is unpacked into (statfs f_type).
const RAMFS_MAGIC: i64 = 0x8584_58f6;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The initramfs is shallow (the module tree is about ten levels deep); deeper directories
/// are left in place rather than growing the stack without bound.
const MAX_DEPTH: usize = 32;

/// What a step of the switch could not do.
#[derive(Debug, Clone, Copy)]
pub struct Failed {
    pub what: &'static str,
    pub errno: Errno,
}

impl core::fmt::Display for Failed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "cannot {}: {}", self.what, Describe(self.errno.raw_os_error()))
    }
}

/// Makes [`NEW_ROOT`] the root directory, if it has an init to run (`init=` or one of the
/// kernel's fallbacks): otherwise nothing changes, so that on_error's rescue shell still has
/// the initramfs. Mounts that cannot move and files that cannot be deleted are reported and
/// left; failing to move the root itself is an error.
pub fn switch_root(init: Option<&[u8]>) -> Result<(), Failed> {
    if !has_init(init) {
        return Err(Failed {
            what: "find init=, /sbin/init, /etc/init, /bin/init or /bin/sh on it",
            errno: Errno::NOENT,
        });
    }
    for (from, to) in CARRIED {
        if let Err(e) = mount_move(from, to) {
            error!(
                "cannot move {} to {}: {}",
                Bytes(from.to_bytes()),
                Bytes(to.to_bytes()),
                Describe(e.raw_os_error())
            );
        }
    }
    free_initramfs();
    let step = |what, result: rustix::io::Result<()>| result.map_err(|errno| Failed { what, errno });
    step("enter /root", rustix::process::chdir(NEW_ROOT))?;
    step("move /root onto /", mount_move(c".", c"/"))?;
    step("chroot into /root", rustix::process::chroot(c"."))?;
    step("enter the new /", rustix::process::chdir(c"/"))
}

/// Whether the new root holds `init` or a fallback init, resolved inside it (an absolute
/// symlink such as /sbin/init -> /lib/systemd/systemd included). Without openat2 (before
/// Linux 5.6) it cannot tell and says yes.
fn has_init(init: Option<&[u8]>) -> bool {
    let Ok(root) = open_dir(CWD, NEW_ROOT) else { return true };
    let mut buf = [0u8; PATH_MAX];
    let given = init.and_then(|path| c_path(&mut buf, &[path]));
    given.into_iter().chain(FALLBACK_INITS).any(|path| {
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        match openat2(&root, path, flags, Mode::empty(), ResolveFlags::IN_ROOT) {
            Ok(_) | Err(Errno::NOSYS) => true,
            Err(_) => false,
        }
    })
}

/// What the deletion freed.
#[derive(Debug, Default, Clone, Copy)]
struct Freed {
    files: u64,
    bytes: u64,
    /// Entries that could not be deleted.
    kept: u64,
}

/// Deletes everything on the initramfs's filesystem, reporting what it freed.
fn free_initramfs() {
    let root = match open_dir(CWD, c"/") {
        Ok(fd) => fd,
        Err(e) => {
            error!("cannot open / to free the initramfs: {}", Describe(e.raw_os_error()));
            return;
        }
    };
    let magic = rustix::fs::fstatfs(&root).map(|s| s.f_type);
    if !matches!(magic, Ok(RAMFS_MAGIC | TMPFS_MAGIC)) {
        error!("/ is not an initramfs (ramfs or tmpfs): its files are kept");
        return;
    }
    let Ok(device) = rustix::fs::fstat(&root).map(|s| s.st_dev) else { return };
    let mut freed = Freed::default();
    delete_contents(&root, device, 0, &mut freed);
    say!("freed the initramfs: {} files, {} KiB", freed.files, freed.bytes.div_ceil(1024));
    if freed.kept > 0 {
        error!("{} entries of the initramfs could not be deleted", freed.kept);
    }
}

/// Deletes the entries of `dir` that are on `device`, directories after their contents.
fn delete_contents(dir: &OwnedFd, device: u64, depth: usize, freed: &mut Freed) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(dir, &mut buf);
    while let Some(entry) = entries.next() {
        let Ok(entry) = entry else {
            freed.kept += 1;
            return;
        };
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let Ok(st) = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            freed.kept += 1;
            continue;
        };
        if st.st_dev != device {
            continue; // A mount point: another filesystem's, never ours to delete.
        }
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if is_dir {
            match open_dir(dir, name) {
                Ok(child) if depth < MAX_DEPTH => delete_contents(&child, device, depth + 1, freed),
                _ => {}
            }
        }
        let flags = if is_dir { AtFlags::REMOVEDIR } else { AtFlags::empty() };
        match unlinkat(dir, name, flags) {
            Ok(()) if is_dir => {}
            Ok(()) => {
                freed.files += 1;
                freed.bytes += u64::try_from(st.st_size).unwrap_or(0);
            }
            Err(_) => freed.kept += 1,
        }
    }
}

fn open_dir(parent: impl AsFd, name: &CStr) -> Result<OwnedFd, Errno> {
    openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}
