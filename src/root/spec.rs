//! The `root=` value: which block device holds the root filesystem.
//!
//! The forms and their meaning follow the kernel's `name_to_dev_t()` (init/do_mounts.c, 6.1),
//! plus the filesystem `UUID=` and `LABEL=` that initramfs tools (dracut, booster) add:
//!
//! | form | the device | compared |
//! |---|---|---|
//! | `PARTUUID=U[/PARTNROFF=N]` | the partition whose table entry has UUID `U` (N partitions further on) | case-insensitive prefix, as the kernel's `strncasecmp` |
//! | `PARTLABEL=L` | the partition whose GPT name is `L` (in the kernel's 7-bit form) | exactly |
//! | `UUID=U` | the filesystem with UUID `U` as blkid prints it | case-insensitive (hex digits) |
//! | `LABEL=L` | the filesystem labelled `L` | exactly, as blkid |
//! | `/dev/disk/by-uuid/U`, `/dev/disk/by-partuuid/U` | as `UUID=U`, `PARTUUID=U` (udev's links, which initramfs tools accept) | |
//! | `/dev/NAME` | the block device the kernel calls NAME (`/` in NAME is `!`, as in `cciss!c0d0`) | exactly |
//! | `MAJ:MIN`, `MAJ:MIN:N` | that device number | |
//! | `HEX`, `0xHEX` | the old `huge_encode_dev` number, e.g. `801` is 8:1 | |

use crate::decimal::decimal;
use core::fmt;

/// A block device number, as /sys/class/block/NAME/dev shows it (`MAJ:MIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

/// The kernel's dev_t holds a 12-bit major and a 20-bit minor (MINORBITS).
const MAJOR_LIMIT: u32 = 1 << 12;
const MINOR_LIMIT: u32 = 1 << 20;

impl DevNum {
    /// `major:minor` if the kernel's dev_t can hold it.
    fn checked(major: u64, minor: u64) -> Option<DevNum> {
        let major = u32::try_from(major).ok().filter(|&m| m < MAJOR_LIMIT)?;
        let minor = u32::try_from(minor).ok().filter(|&m| m < MINOR_LIMIT)?;
        Some(DevNum { major, minor })
    }

    /// The kernel's `new_decode_dev()`: minor bits 0-7 and 20-31, major bits 8-19.
    fn from_encoded(dev: u32) -> DevNum {
        DevNum { major: (dev & 0xfff00) >> 8, minor: (dev & 0xff) | ((dev >> 12) & 0xfff00) }
    }
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// Which device `root=` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSpec<'a> {
    /// `/dev/NAME`: the kernel's name for the device, with `/` turned into `!`, as the
    /// directory names under /sys/class/block (kept as given here, see [`RootSpec::matches`]).
    Name(&'a [u8]),
    /// `MAJ:MIN` or a hex device number.
    Number(DevNum),
    /// `UUID=`: a filesystem UUID as blkid prints it.
    Uuid(&'a [u8]),
    /// `LABEL=`: a filesystem label.
    Label(&'a [u8]),
    /// `PARTUUID=`: a partition-table entry's UUID (or its start), and the partition-number
    /// offset from that entry to the root (`/PARTNROFF=`, 0 without it).
    PartUuid { uuid: &'a [u8], offset: i32 },
    /// `PARTLABEL=`: a GPT partition name, in the kernel's 7-bit form (see
    /// [`Partition::kernel_name`](super::Partition::kernel_name)).
    PartLabel(&'a [u8]),
}

/// Why a `root=` value names no device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSpecError {
    /// `PARTUUID=` without a UUID, or with something other than `/PARTNROFF=N` after it.
    BadPartUuid,
    /// `UUID=`, `LABEL=`, `PARTLABEL=`, `/dev/` (or a `/dev/disk/by-*/`) with nothing after it.
    Empty,
    /// A `/dev/` name longer than the kernel's 31 bytes.
    NameTooLong,
    /// Neither a known form nor a device number (or a number too big for a dev_t, or 0).
    BadNumber,
    /// `/dev/nfs`, `/dev/cifs`, `mtd*`, `ubi*`: roots that are no block device, not supported.
    Unsupported,
}

impl RootSpecError {
    /// What the value should have been, e.g. for a warning about it.
    pub fn expected(self) -> &'static str {
        match self {
            RootSpecError::BadPartUuid => "PARTUUID=UUID or PARTUUID=UUID/PARTNROFF=N",
            RootSpecError::Empty => "a name after UUID=, LABEL=, PARTLABEL= or /dev/",
            RootSpecError::NameTooLong => "a /dev/ name of at most 31 bytes",
            RootSpecError::BadNumber => {
                "/dev/NAME, UUID=, LABEL=, PARTUUID=, PARTLABEL=, MAJ:MIN or a hex device number"
            }
            RootSpecError::Unsupported => "a block device (network, MTD and UBI roots are not supported)",
        }
    }
}

impl fmt::Display for RootSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}", self.expected())
    }
}

/// What the kernel's `root=` takes for a `/dev/` name (`char s[32]`, NUL included).
const NAME_MAX: usize = 31;

impl<'a> RootSpec<'a> {
    /// Reads a `root=` value.
    pub fn parse(value: &'a [u8]) -> Result<RootSpec<'a>, RootSpecError> {
        if let Some(rest) = value.strip_prefix(b"PARTUUID=") {
            return parse_partuuid(rest);
        }
        if let Some(label) = value.strip_prefix(b"PARTLABEL=") {
            return non_empty(label).map(RootSpec::PartLabel);
        }
        if let Some(uuid) = value.strip_prefix(b"UUID=") {
            return non_empty(uuid).map(RootSpec::Uuid);
        }
        if let Some(label) = value.strip_prefix(b"LABEL=") {
            return non_empty(label).map(RootSpec::Label);
        }
        if let Some(uuid) = value.strip_prefix(b"/dev/disk/by-uuid/") {
            return non_empty(uuid).map(RootSpec::Uuid);
        }
        if let Some(uuid) = value.strip_prefix(b"/dev/disk/by-partuuid/") {
            return non_empty(uuid).map(|uuid| RootSpec::PartUuid { uuid, offset: 0 });
        }
        if value.starts_with(b"mtd") || value.starts_with(b"ubi") {
            return Err(RootSpecError::Unsupported);
        }
        match value.strip_prefix(b"/dev/") {
            Some(b"nfs" | b"cifs") => Err(RootSpecError::Unsupported),
            Some(name) if name.len() > NAME_MAX => Err(RootSpecError::NameTooLong),
            Some(name) => non_empty(name).map(RootSpec::Name),
            None => parse_number(value).map(RootSpec::Number).ok_or(RootSpecError::BadNumber),
        }
    }

    /// Whether matching needs the device's filesystem identity ([`identify`](super::identify)).
    pub fn needs_filesystem(&self) -> bool {
        matches!(self, RootSpec::Uuid(_) | RootSpec::Label(_))
    }

    /// For a partition numbered `partition`, the number of the entry of its disk's partition
    /// table that decides whether it is the root: its own, or with `/PARTNROFF=N` the one N
    /// before it. None: the table does not matter (or no entry can make it the root).
    pub fn entry_to_check(&self, partition: u32) -> Option<u32> {
        match *self {
            RootSpec::PartUuid { offset, .. } => {
                let number = i64::from(partition) - i64::from(offset);
                u32::try_from(number).ok().filter(|&n| n > 0)
            }
            RootSpec::PartLabel(_) => Some(partition),
            _ => None,
        }
    }
}

fn non_empty(s: &[u8]) -> Result<&[u8], RootSpecError> {
    if s.is_empty() { Err(RootSpecError::Empty) } else { Ok(s) }
}

/// `UUID[/PARTNROFF=N]` as the kernel's `devt_from_partuuid()` reads it.
fn parse_partuuid(s: &[u8]) -> Result<RootSpec<'_>, RootSpecError> {
    let (uuid, offset) = match s.iter().position(|&b| b == b'/') {
        None => (s, 0),
        Some(slash) => {
            let attrs = &s[slash + 1..];
            let n = attrs.strip_prefix(b"PARTNROFF=").ok_or(RootSpecError::BadPartUuid)?;
            (&s[..slash], scan_int(n).ok_or(RootSpecError::BadPartUuid)?)
        }
    };
    if uuid.is_empty() {
        return Err(RootSpecError::BadPartUuid);
    }
    Ok(RootSpec::PartUuid { uuid, offset })
}

/// The whole of `s` as the kernel's sscanf `%d` with nothing after it: leading whitespace,
/// an optional `-` (the kernel takes no `+`), decimal digits.
fn scan_int(s: &[u8]) -> Option<i32> {
    let s = s.trim_ascii_start();
    let (negative, digits) = match s.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let magnitude = i64::try_from(decimal(digits)?).ok()?;
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `MAJ:MIN`, `MAJ:MIN:N` (N ignored, as the kernel does) or a hex number; never 0:0, which
/// the kernel takes for "no device".
fn parse_number(s: &[u8]) -> Option<DevNum> {
    let dev = if s.contains(&b':') {
        // sscanf(s, "%u:%u%c") == 2 || sscanf(s, "%u:%u:%u:%c") == 3
        let (major, rest) = scan_u32(s)?;
        let (minor, rest) = scan_u32(rest.strip_prefix(b":")?)?;
        if let Some(rest) = rest.strip_prefix(b":") {
            let (_, rest) = scan_u32(rest)?;
            if rest.first() == Some(&b':') && rest.len() > 1 {
                return None;
            }
        } else if !rest.is_empty() {
            return None;
        }
        DevNum::checked(major.into(), minor.into())?
    } else {
        DevNum::from_encoded(hex(s)? as u32)
    };
    (dev != DevNum { major: 0, minor: 0 }).then_some(dev)
}

/// The kernel's sscanf `%u` at the start of `s`: whitespace, then decimal digits; the value
/// and what follows it.
fn scan_u32(s: &[u8]) -> Option<(u32, &[u8])> {
    let s = s.trim_ascii_start();
    let end = s.iter().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    Some((u32::try_from(decimal(&s[..end])?).ok()?, &s[end..]))
}

/// The kernel's `simple_strtoul(s, &end, 16)` that must reach the end of `s`: an optional
/// `0x`, hex digits (the value wraps as the kernel's does); empty is 0.
fn hex(s: &[u8]) -> Option<u64> {
    let digits = match s {
        [b'0', b'x' | b'X', rest @ ..] if rest.first().is_some_and(u8::is_ascii_hexdigit) => rest,
        _ => s,
    };
    digits.iter().try_fold(0u64, |n, &d| Some(n.wrapping_mul(16).wrapping_add(u64::from(hex_digit(d)?))))
}

fn hex_digit(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<RootSpec<'_>, RootSpecError> {
        RootSpec::parse(s.as_bytes())
    }

    fn dev(major: u32, minor: u32) -> Result<RootSpec<'static>, RootSpecError> {
        Ok(RootSpec::Number(DevNum { major, minor }))
    }

    #[test]
    fn reads_every_form() {
        assert_eq!(parse("/dev/vda1"), Ok(RootSpec::Name(b"vda1")));
        assert_eq!(parse("UUID=0a1b"), Ok(RootSpec::Uuid(b"0a1b")));
        assert_eq!(parse("LABEL=my root"), Ok(RootSpec::Label(b"my root")));
        assert_eq!(parse("PARTLABEL=system"), Ok(RootSpec::PartLabel(b"system")));
        assert_eq!(parse("PARTUUID=1234abcd-02"), Ok(RootSpec::PartUuid { uuid: b"1234abcd-02", offset: 0 }));
        assert_eq!(
            parse("PARTUUID=1234abcd-02/PARTNROFF=-1"),
            Ok(RootSpec::PartUuid { uuid: b"1234abcd-02", offset: -1 })
        );
        assert_eq!(parse("PARTUUID=u/PARTNROFF= 3"), Ok(RootSpec::PartUuid { uuid: b"u", offset: 3 }));
        assert_eq!(parse("8:1"), dev(8, 1));
        assert_eq!(parse("259:0:7"), dev(259, 0));
        assert_eq!(parse("/dev/disk/by-uuid/0a1b-2c3d"), Ok(RootSpec::Uuid(b"0a1b-2c3d")));
        assert_eq!(
            parse("/dev/disk/by-partuuid/0badcafe-01"),
            Ok(RootSpec::PartUuid { uuid: b"0badcafe-01", offset: 0 })
        );
        assert_eq!(parse("/dev/disk/by-uuid/"), Err(RootSpecError::Empty));
    }

    #[test]
    fn hex_numbers_decode_as_the_kernels_new_decode_dev() {
        assert_eq!(parse("801"), dev(8, 1));
        assert_eq!(parse("0x801"), dev(8, 1));
        assert_eq!(parse("fe00"), dev(254, 0));
        // Minor bits above the low 8 sit above the major: 0x1_003_01 is 3:(1 | 0x100).
        assert_eq!(parse("100301"), dev(3, 0x101));
        assert_eq!(parse("10301"), dev(259, 1));
        assert_eq!(parse("0x"), Err(RootSpecError::BadNumber), "0x alone is the hex number 0");
    }

    #[test]
    fn rejects_what_the_kernel_rejects() {
        for bad in [
            "PARTUUID=",
            "PARTUUID=/PARTNROFF=1",
            "PARTUUID=u/PARTNROFF=1x",
            "PARTUUID=u/OTHER=1",
            "PARTUUID=u/PARTNROFF=+1",
        ] {
            assert_eq!(parse(bad), Err(RootSpecError::BadPartUuid), "{bad}");
        }
        for bad in [
            "",
            "0",
            "0:0",
            "8:",
            ":1",
            "8:1x",
            "4096:0",
            "0:1048576",
            "sda1",
            "8:1:2:3",
            "-1:1",
            "+8:1",
            "8:1:",
            "8:1:x",
        ] {
            assert_eq!(parse(bad), Err(RootSpecError::BadNumber), "{bad}");
        }
        assert_eq!(parse("/dev/"), Err(RootSpecError::Empty));
        assert_eq!(parse("LABEL="), Err(RootSpecError::Empty));
        assert_eq!(
            parse("/dev/0123456789012345678901234567890"),
            Ok(RootSpec::Name(b"0123456789012345678901234567890"))
        );
        assert_eq!(parse("/dev/01234567890123456789012345678901"), Err(RootSpecError::NameTooLong));
        for unsupported in ["/dev/nfs", "/dev/cifs", "mtd0", "ubi0:rootfs"] {
            assert_eq!(parse(unsupported), Err(RootSpecError::Unsupported), "{unsupported}");
        }
    }

    #[test]
    fn major_minor_takes_sscanf_whitespace_and_the_third_field_loosely() {
        assert_eq!(parse(" 8: 2"), dev(8, 2));
        assert_eq!(parse("8:2:5:"), dev(8, 2));
        assert_eq!(parse("8:2:5x"), dev(8, 2), "sscanf stops matching at the x after the third number");
    }

    #[test]
    fn the_entry_to_check_goes_back_by_partnroff() {
        let spec = RootSpec::PartUuid { uuid: b"x", offset: 2 };
        assert_eq!((spec.entry_to_check(3), spec.entry_to_check(2)), (Some(1), None));
        let spec = RootSpec::PartUuid { uuid: b"x", offset: -1 };
        assert_eq!(spec.entry_to_check(3), Some(4));
        assert_eq!(RootSpec::PartLabel(b"l").entry_to_check(3), Some(3));
        assert_eq!(RootSpec::Name(b"sda").entry_to_check(3), None);
        assert!(RootSpec::Uuid(b"u").needs_filesystem() && !RootSpec::Name(b"sda").needs_filesystem());
    }

    #[test]
    fn device_numbers_display_as_major_colon_minor() {
        assert_eq!(DevNum { major: 8, minor: 16 }.to_string(), "8:16");
    }
}
