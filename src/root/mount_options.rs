//! The flags and data of the root's mount(2), from `ro`/`rw` and `rootflags=`.
//!
//! The kernel passes `rootflags=` to the filesystem as mount data, whole. Filesystems reject
//! the generic options that mount(8) users write there (`noatime`, `nodev`, ...), since
//! mount(8) turns those into MS_* flags before they reach the kernel. modinit does what
//! mount(8) (libmount's linux_flags_map) does: each generic option of `rootflags=` sets or
//! clears its flag, `defaults` is dropped, and every other option goes on, in order, as the
//! filesystem's data. The options apply after `ro`/`rw`, so `rootflags=rw` mounts
//! read-write. Commas inside double quotes (`context="a,b"`) do not separate options.

use core::ffi::CStr;
use core::fmt;

/// mount(2)'s MS_* flags (include/uapi/linux/mount.h).
pub mod flags {
    pub const RDONLY: u64 = 1;
    pub const NOSUID: u64 = 2;
    pub const NODEV: u64 = 4;
    pub const NOEXEC: u64 = 8;
    pub const SYNCHRONOUS: u64 = 16;
    pub const MANDLOCK: u64 = 64;
    pub const DIRSYNC: u64 = 128;
    pub const NOSYMFOLLOW: u64 = 256;
    pub const NOATIME: u64 = 1024;
    pub const NODIRATIME: u64 = 2048;
    pub const SILENT: u64 = 32768;
    pub const RELATIME: u64 = 1 << 21;
    pub const I_VERSION: u64 = 1 << 23;
    pub const STRICTATIME: u64 = 1 << 24;
    pub const LAZYTIME: u64 = 1 << 25;
}

/// The generic options: name, flag, and whether the option sets (true) or clears it.
const GENERIC: &[(&[u8], u64, bool)] = &[
    (b"ro", flags::RDONLY, true),
    (b"rw", flags::RDONLY, false),
    (b"nosuid", flags::NOSUID, true),
    (b"suid", flags::NOSUID, false),
    (b"nodev", flags::NODEV, true),
    (b"dev", flags::NODEV, false),
    (b"noexec", flags::NOEXEC, true),
    (b"exec", flags::NOEXEC, false),
    (b"sync", flags::SYNCHRONOUS, true),
    (b"async", flags::SYNCHRONOUS, false),
    (b"mand", flags::MANDLOCK, true),
    (b"nomand", flags::MANDLOCK, false),
    (b"dirsync", flags::DIRSYNC, true),
    (b"nosymfollow", flags::NOSYMFOLLOW, true),
    (b"noatime", flags::NOATIME, true),
    (b"atime", flags::NOATIME, false),
    (b"nodiratime", flags::NODIRATIME, true),
    (b"diratime", flags::NODIRATIME, false),
    (b"silent", flags::SILENT, true),
    (b"loud", flags::SILENT, false),
    (b"relatime", flags::RELATIME, true),
    (b"norelatime", flags::RELATIME, false),
    (b"iversion", flags::I_VERSION, true),
    (b"noiversion", flags::I_VERSION, false),
    (b"strictatime", flags::STRICTATIME, true),
    (b"nostrictatime", flags::STRICTATIME, false),
    (b"lazytime", flags::LAZYTIME, true),
    (b"nolazytime", flags::LAZYTIME, false),
];

/// The most mount data kept, NUL included (the kernel copies at most a page of it).
pub const DATA_MAX: usize = 1024;

/// mount(2)'s `mountflags` and `data` for the root.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags (see [`flags`]).
    pub flags: u64,
    data: [u8; DATA_MAX],
    /// Length of the data without its NUL.
    len: usize,
}

/// `rootflags=` holds more filesystem options than [`DATA_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountOptionsError;

impl fmt::Display for MountOptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rootflags= holds more than {} bytes of filesystem options", DATA_MAX - 1)
    }
}

impl MountOptions {
    /// The options for a mount read-only or not, with the comma list `rootflags`.
    pub fn new(read_only: bool, rootflags: &[u8]) -> Result<MountOptions, MountOptionsError> {
        let mut options =
            MountOptions { flags: if read_only { flags::RDONLY } else { 0 }, data: [0; DATA_MAX], len: 0 };
        for option in split_options(rootflags) {
            if option.is_empty() || option == b"defaults" {
                continue;
            }
            match GENERIC.iter().find(|(name, _, _)| *name == option) {
                Some(&(_, flag, true)) => options.flags |= flag,
                Some(&(_, flag, false)) => options.flags &= !flag,
                None => options.push_data(option)?,
            }
        }
        Ok(options)
    }

    fn push_data(&mut self, option: &[u8]) -> Result<(), MountOptionsError> {
        let comma = usize::from(self.len > 0);
        let end = self.len + comma + option.len();
        if end >= DATA_MAX {
            return Err(MountOptionsError);
        }
        if comma == 1 {
            self.data[self.len] = b',';
        }
        self.data[self.len + comma..end].copy_from_slice(option);
        self.len = end;
        Ok(())
    }

    /// The filesystem's own options, comma-separated (empty if none).
    pub fn data(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// [`MountOptions::data`] with its NUL, for mount(2).
    pub fn data_cstr(&self) -> &CStr {
        // The buffer is zeroed and `len < DATA_MAX`, so a NUL follows the data; an option
        // holding a NUL (from a command line that had one) would end it early, harmlessly.
        CStr::from_bytes_until_nul(&self.data[..=self.len]).unwrap_or_default()
    }

    /// Whether the root is mounted read-only.
    pub fn read_only(&self) -> bool {
        self.flags & flags::RDONLY != 0
    }
}

impl fmt::Debug for MountOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountOptions")
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("data", &self.data().escape_ascii())
            .finish()
    }
}

/// The comma-separated options of `list`; a comma between double quotes is part of one.
fn split_options(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(list);
    core::iter::from_fn(move || {
        let s = rest?;
        let mut quoted = false;
        let end = s.iter().position(|&b| {
            quoted ^= b == b'"';
            b == b',' && !quoted
        });
        match end {
            Some(end) => {
                rest = Some(&s[end + 1..]);
                Some(&s[..end])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_the_kernels() {
        use linux_raw_sys::general as k;
        let ours = [
            flags::RDONLY,
            flags::NOSUID,
            flags::NODEV,
            flags::NOEXEC,
            flags::SYNCHRONOUS,
            flags::MANDLOCK,
            flags::DIRSYNC,
            flags::NOSYMFOLLOW,
            flags::NOATIME,
            flags::NODIRATIME,
            flags::SILENT,
            flags::RELATIME,
            flags::I_VERSION,
            flags::STRICTATIME,
            flags::LAZYTIME,
        ];
        let kernel = [
            k::MS_RDONLY,
            k::MS_NOSUID,
            k::MS_NODEV,
            k::MS_NOEXEC,
            k::MS_SYNCHRONOUS,
            k::MS_MANDLOCK,
            k::MS_DIRSYNC,
            k::MS_NOSYMFOLLOW,
            k::MS_NOATIME,
            k::MS_NODIRATIME,
            k::MS_SILENT,
            k::MS_RELATIME,
            k::MS_I_VERSION,
            k::MS_STRICTATIME,
            k::MS_LAZYTIME,
        ];
        assert_eq!(ours, kernel.map(u64::from));
    }

    #[test]
    fn generic_options_become_flags_and_the_rest_data() {
        let o = MountOptions::new(true, b"noatime,data=journal,,defaults,nodev,errors=remount-ro").unwrap();
        assert_eq!(o.flags, flags::RDONLY | flags::NOATIME | flags::NODEV);
        assert_eq!(o.data(), b"data=journal,errors=remount-ro");
        assert_eq!(o.data_cstr(), c"data=journal,errors=remount-ro");
        assert!(o.read_only());
    }

    #[test]
    fn rootflags_come_after_ro_and_rw() {
        assert!(!MountOptions::new(true, b"rw").unwrap().read_only());
        assert!(MountOptions::new(false, b"ro").unwrap().read_only());
        assert_eq!(MountOptions::new(false, b"noatime,atime").unwrap().flags, 0);
        let none = MountOptions::new(false, b"").unwrap();
        assert_eq!((none.flags, none.data(), none.data_cstr()), (0, &b""[..], c""));
    }

    #[test]
    fn quoted_commas_stay_in_one_option() {
        let o = MountOptions::new(false, br#"context="a,b",ro"#).unwrap();
        assert_eq!((o.data(), o.read_only()), (&br#"context="a,b""#[..], true));
    }

    #[test]
    fn too_much_data_is_an_error() {
        let long = vec![b'x'; DATA_MAX];
        assert_eq!(MountOptions::new(false, &long), Err(MountOptionsError));
        assert!(MountOptions::new(false, &long[1..]).is_ok());
    }
}
