//! The root filesystem's boot options: `root=`, `rootfstype=`, `rootflags=`, `ro`, `rw`,
//! `rootwait`, `rootdelay=` (init/do_mounts.c) and `modinit.root_timeout_s=`.
//!
//! As in the kernel, the last of each wins and the root is mounted read-only unless `rw` is
//! given. The kernel gives up at once without `rootwait`; modinit loads the disk's driver
//! itself, so it always waits, for `modinit.root_timeout_s` seconds (30 by default), or
//! forever with `rootwait`, or `rootwait=N` seconds (Linux 6.5's form); an explicit
//! `modinit.root_timeout_s` wins over `rootwait`.

use super::mount_options::{MountOptions, MountOptionsError};
use super::spec::{RootSpec, RootSpecError};
use crate::decimal::decimal;

/// How long to wait for the root device to appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootWait {
    Forever,
    Seconds(u32),
}

/// The default of `modinit.root_timeout_s`.
pub const DEFAULT_TIMEOUT_S: u32 = 30;

/// The root filesystem's settings from the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootOptions<'a> {
    /// `root=` as given; None (or empty): boot the initramfs's own init.
    pub root: Option<&'a [u8]>,
    /// `rootfstype=`: a comma list of types to try (see [`RootOptions::fstypes`]).
    pub fstype: Option<&'a [u8]>,
    /// `rootflags=`: mount options (see [`RootOptions::mount_options`]).
    pub flags: Option<&'a [u8]>,
    /// Read-only unless `rw` (the kernel's default).
    pub read_only: bool,
    /// `rootdelay=`: seconds to sleep before looking for the root device.
    pub delay_s: u32,
    pub wait: RootWait,
    /// Whether `modinit.root_timeout_s` set [`RootOptions::wait`] (then `rootwait` does not).
    timeout_given: bool,
}

impl Default for RootOptions<'_> {
    fn default() -> Self {
        RootOptions {
            root: None,
            fstype: None,
            flags: None,
            read_only: true,
            delay_s: 0,
            wait: RootWait::Seconds(DEFAULT_TIMEOUT_S),
            timeout_given: false,
        }
    }
}

/// Why a root option's value was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootOptionError {
    /// A `root=` value that names no device.
    Root(RootSpecError),
    /// Not a number of seconds (`rootdelay=`, `rootwait=`, `modinit.root_timeout_s=`).
    Seconds,
}

impl RootOptionError {
    /// What the value should have been, for the warning.
    pub fn expected(self) -> &'static str {
        match self {
            RootOptionError::Root(e) => e.expected(),
            RootOptionError::Seconds => "a number of seconds",
        }
    }
}

fn seconds(value: Option<&[u8]>) -> Result<u32, RootOptionError> {
    // At most nine digits.
    let seconds = value.and_then(decimal).filter(|&s| s < 1_000_000_000);
    seconds.and_then(|s| u32::try_from(s).ok()).ok_or(RootOptionError::Seconds)
}

impl<'a> RootOptions<'a> {
    /// Takes the parameter `key[=value]` if it is a root option: Some(result) then, None
    /// for any other parameter. On an error the option is still recorded when it can be
    /// (an invalid `root=` is kept, so the boot stops with its error instead of booting the
    /// initramfs's init).
    pub fn apply(&mut self, key: &[u8], value: Option<&'a [u8]>) -> Option<Result<(), RootOptionError>> {
        let result = match (key, value) {
            (b"root", Some(v)) => {
                self.root = Some(v).filter(|v| !v.is_empty());
                self.root.map_or(Ok(()), |v| RootSpec::parse(v).map(drop).map_err(RootOptionError::Root))
            }
            (b"rootfstype", Some(v)) => {
                self.fstype = Some(v).filter(|v| !v.is_empty());
                Ok(())
            }
            (b"rootflags", Some(v)) => {
                self.flags = Some(v).filter(|v| !v.is_empty());
                Ok(())
            }
            (b"ro", None) => {
                self.read_only = true;
                Ok(())
            }
            (b"rw", None) => {
                self.read_only = false;
                Ok(())
            }
            (b"rootwait", None) => {
                if !self.timeout_given {
                    self.wait = RootWait::Forever;
                }
                Ok(())
            }
            (b"rootwait", value) => seconds(value).map(|s| {
                if !self.timeout_given {
                    self.wait = RootWait::Seconds(s);
                }
            }),
            (b"rootdelay", value) => seconds(value).map(|s| self.delay_s = s),
            (b"modinit.root_timeout_s", value) => seconds(value).map(|s| {
                self.wait = RootWait::Seconds(s);
                self.timeout_given = true;
            }),
            _ => return None,
        };
        Some(result)
    }

    /// The device `root=` names: None without `root=`.
    pub fn spec(&self) -> Option<Result<RootSpec<'a>, RootSpecError>> {
        self.root.map(RootSpec::parse)
    }

    /// The filesystem types of `rootfstype=`, in order (empty items skipped).
    pub fn fstypes(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.fstype.unwrap_or_default().split(|&b| b == b',').filter(|t| !t.is_empty())
    }

    /// The flags and data for mount(2): `ro`/`rw`, then the options of `rootflags=`.
    pub fn mount_options(&self) -> Result<MountOptions, MountOptionsError> {
        MountOptions::new(self.read_only, self.flags.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline;

    fn parse(line: &str) -> (RootOptions<'_>, Vec<RootOptionError>) {
        let mut opts = RootOptions::default();
        let mut errors = Vec::new();
        for p in cmdline::params(line.as_bytes()) {
            if let Some(Err(e)) = opts.apply(p.key, p.value) {
                errors.push(e);
            }
        }
        (opts, errors)
    }

    #[test]
    fn defaults_are_the_kernels_plus_a_timeout() {
        let (opts, errors) = parse("console=ttyS0 quiet");
        assert_eq!(opts, RootOptions::default());
        assert_eq!((opts.root, opts.read_only, opts.wait, opts.delay_s), (None, true, RootWait::Seconds(30), 0));
        assert!(errors.is_empty() && opts.spec().is_none());
    }

    #[test]
    fn reads_every_option_and_the_last_wins() {
        let (opts, errors) = parse("root=/dev/sda1 root=LABEL=r rootfstype=ext4,xfs rootflags=noatime rw rootdelay=2");
        assert!(errors.is_empty());
        assert_eq!(opts.spec(), Some(Ok(RootSpec::Label(b"r"))));
        assert_eq!(opts.fstypes().collect::<Vec<_>>(), [&b"ext4"[..], b"xfs"]);
        assert_eq!((opts.flags, opts.read_only, opts.delay_s), (Some(&b"noatime"[..]), false, 2));
        assert!(parse("rw ro").0.read_only);
        assert_eq!(parse("root=/dev/sda root=").0.root, None, "an empty root= clears it, as the kernel's");
    }

    #[test]
    fn rootwait_waits_forever_unless_a_timeout_is_given() {
        assert_eq!(parse("rootwait").0.wait, RootWait::Forever);
        assert_eq!(parse("rootwait=5").0.wait, RootWait::Seconds(5));
        assert_eq!(parse("modinit.root_timeout_s=7 rootwait").0.wait, RootWait::Seconds(7));
        assert_eq!(parse("rootwait modinit.root_timeout_s=7").0.wait, RootWait::Seconds(7));
        assert_eq!(parse("modinit.root_timeout_s=0").0.wait, RootWait::Seconds(0));
    }

    #[test]
    fn bad_values_are_reported_and_a_bad_root_is_kept() {
        let (opts, errors) = parse("root=PARTUUID= rootdelay=soon modinit.root_timeout_s=-1 ro=1");
        assert_eq!(
            errors,
            [RootOptionError::Root(RootSpecError::BadPartUuid), RootOptionError::Seconds, RootOptionError::Seconds]
        );
        assert_eq!(opts.spec(), Some(Err(RootSpecError::BadPartUuid)));
        assert_eq!((opts.delay_s, opts.wait), (0, RootWait::Seconds(30)));
    }
}
