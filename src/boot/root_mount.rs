//! Mounting the root device on /root: as `rootfstype=` says, else as its superblock says,
//! else trying every filesystem the kernel has, as the kernel's mount_block_root() does. A
//! filesystem the kernel lacks is loaded through the index by its `fs-TYPE` alias first.

use super::autoload::Autoload;
use super::root_device::RootDevice;
use super::switch_root::NEW_ROOT;
use crate::io::file::read_into;
use crate::io::log::{say, warning};
use crate::io::path::c_path;
use core::ffi::CStr;
use modinit::kernel::errno::Describe;
use modinit::line::Bytes;
use modinit::loading::named::{Named, Origin};
use modinit::root::fs::FSTYPE_MAX;
use modinit::root::{ModuleAlias, MountOptions, RootOptions, identify};
use rustix::io::Errno;
use rustix::mount::{MountFlags, mount};

/// /proc/filesystems lists a few dozen types, one short line each.
const FILESYSTEMS_MAX: usize = 4096;

/// Why the root could not be mounted.
pub enum MountError {
    /// `rootflags=` does not fit.
    Options(modinit::root::mount_options::MountOptionsError),
    /// Every type tried failed; the last type and its error.
    Failed { fstype: FsTypeName, errno: Errno },
    /// No type to try: nothing recognized on the device and the kernel lists none.
    NoType,
}

/// A filesystem type's name, NUL-terminated for mount(2).
#[derive(Clone, Copy)]
pub struct FsTypeName([u8; FSTYPE_MAX + 1]);

impl FsTypeName {
    /// None when `name` is too long or holds a NUL.
    fn new(name: &[u8]) -> Option<FsTypeName> {
        let mut buf = [0; FSTYPE_MAX + 1];
        c_path(&mut buf, &[name])?;
        Some(FsTypeName(buf))
    }

    fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.0).unwrap_or_default()
    }
}

impl core::fmt::Display for MountError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MountError::Options(e) => write!(f, "{e}"),
            MountError::Failed { fstype, errno } => {
                write!(
                    f,
                    "mounting it as {} failed: {}",
                    Bytes(fstype.as_cstr().to_bytes()),
                    Describe(errno.raw_os_error())
                )
            }
            MountError::NoType => write!(f, "it holds no filesystem modinit knows and the kernel lists none to try"),
        }
    }
}

/// Mounts `root` on /root as `options` say; `drivers` loads filesystem modules.
pub fn mount_root(root: &RootDevice, options: &RootOptions<'_>, drivers: &mut Autoload) -> Result<(), MountError> {
    let mut flags = options.mount_options().map_err(MountError::Options)?;
    let node = root.device.node();
    let source = node.as_cstr();
    if let Err(e) = rustix::fs::mkdir(NEW_ROOT, rustix::fs::Mode::from_raw_mode(0o755))
        && e != Errno::EXIST
    {
        warning!("cannot create {}: {}", Bytes(NEW_ROOT.to_bytes()), Describe(e.raw_os_error()));
    }
    loop {
        match mount_as_any(root, source, options, &flags, drivers) {
            // The kernel's fallback: a device that refuses to be written is mounted read-only.
            Err(MountError::Failed { errno: Errno::ACCESS | Errno::ROFS, .. }) if !flags.read_only() => {
                warning!("{} cannot be mounted read-write: mounting it read-only", Bytes(source.to_bytes()));
                flags = MountOptions::new(true, options.flags.unwrap_or_default()).map_err(MountError::Options)?;
            }
            done => return done,
        }
    }
}

/// Tries each candidate type in turn; the first mount that works wins.
fn mount_as_any(
    root: &RootDevice,
    source: &CStr,
    options: &RootOptions<'_>,
    flags: &MountOptions,
    drivers: &mut Autoload,
) -> Result<(), MountError> {
    let mut last = MountError::NoType;
    let mut kernel = Filesystems::read();
    // `kernel` is None for a type the kernel lists.
    let mut attempt = |fstype: &[u8], kernel: Option<&mut Filesystems>, drivers: &mut Autoload| {
        let Some(fstype) = FsTypeName::new(fstype) else { return false };
        if let Some(kernel) = kernel {
            kernel.ensure(fstype.as_cstr().to_bytes(), drivers);
        }
        // Every MS_* flag is below 1 << 26: the cast keeps them all.
        let mount_flags = MountFlags::from_bits_retain(flags.flags as u32);
        match mount(source, NEW_ROOT, fstype.as_cstr(), mount_flags, flags.data_cstr()) {
            Ok(()) => {
                let mode = if flags.read_only() { "read-only" } else { "read-write" };
                say!(
                    "mounted {} ({}) on {} {mode}",
                    Bytes(source.to_bytes()),
                    Bytes(fstype.as_cstr().to_bytes()),
                    Bytes(NEW_ROOT.to_bytes())
                );
                true
            }
            Err(errno) => {
                last = MountError::Failed { fstype, errno };
                false
            }
        }
    };
    if options.fstype.is_some() {
        for fstype in options.fstypes() {
            if attempt(fstype, Some(&mut kernel), drivers) {
                return Ok(());
            }
        }
        return Err(last);
    }
    let detected = root.fs.or_else(|| root.device.open()?.ok().and_then(|mut f| identify(&mut f).ok().flatten()));
    if let Some(fs) = detected {
        return if attempt(fs.fstype.name().as_bytes(), Some(&mut kernel), drivers) { Ok(()) } else { Err(last) };
    }
    // Unrecognized: every block filesystem the kernel has, in its order.
    for fstype in kernel.block() {
        if attempt(fstype, None, drivers) {
            return Ok(());
        }
    }
    Err(last)
}

/// The kernel's filesystems as /proc/filesystems lists them, read once and again only after
/// a filesystem module was loaded.
struct Filesystems {
    buf: [u8; FILESYSTEMS_MAX],
    len: usize,
}

impl Filesystems {
    fn read() -> Filesystems {
        let mut list = Filesystems { buf: [0; FILESYSTEMS_MAX], len: 0 };
        list.reread();
        list
    }

    fn reread(&mut self) {
        self.len = read_into(c"/proc/filesystems", &mut self.buf).map_or(0, |text| text.len());
    }

    /// The filesystems that need a device (lines without `nodev`).
    fn block(&self) -> impl Iterator<Item = &[u8]> {
        let text = self.buf.get(..self.len).unwrap_or_default();
        text.split(|&b| b == b'\n').filter_map(|line| line.strip_prefix(b"\t")).filter(|t| !t.is_empty())
    }

    /// Loads the module of filesystem `fstype` unless the kernel has it already.
    fn ensure(&mut self, fstype: &[u8], drivers: &mut Autoload) {
        if self.block().any(|known| known == fstype) {
            return;
        }
        if let Some(alias) = ModuleAlias::for_fstype(fstype) {
            drivers.load(Named { name: alias.as_bytes(), origin: Origin::RootFilesystem });
            self.reread();
        }
    }
}
