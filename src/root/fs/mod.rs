//! Which filesystem a device holds, with its UUID and label, read from its superblock the
//! way blkid (util-linux libblkid) reads it, so `UUID=` and `LABEL=` mean what `blkid` shows.

mod btrfs;
mod checksum;
mod erofs;
mod ext;
mod squashfs;
mod vfat;
mod xfs;

use super::read::{ReadAt, ReadError};
use super::text::{Text, push_uuid};

/// The filesystems modinit recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsType {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,
    /// FAT12, FAT16 and FAT32, all mounted as vfat.
    Vfat,
    Squashfs,
    Erofs,
}

impl FsType {
    /// Every type, in no particular order.
    pub const ALL: [FsType; 8] = [
        FsType::Ext2,
        FsType::Ext3,
        FsType::Ext4,
        FsType::Xfs,
        FsType::Btrfs,
        FsType::Vfat,
        FsType::Squashfs,
        FsType::Erofs,
    ];

    /// The name blkid reports as TYPE, which is also the type mount(2) takes.
    pub fn name(self) -> &'static str {
        match self {
            FsType::Ext2 => "ext2",
            FsType::Ext3 => "ext3",
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
            FsType::Btrfs => "btrfs",
            FsType::Vfat => "vfat",
            FsType::Squashfs => "squashfs",
            FsType::Erofs => "erofs",
        }
    }

    /// The module alias that loads this filesystem's driver (`fs-ext4`).
    pub fn module_alias(self) -> ModuleAlias {
        ModuleAlias::for_fstype(self.name().as_bytes()).unwrap_or_default()
    }
}

/// `fs-TYPE`: the alias of the module that registers filesystem TYPE (`MODULE_ALIAS_FS`),
/// what the kernel's `request_module("fs-%s")` asks for when mount(2) meets an unknown type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModuleAlias(Text<{ 3 + FSTYPE_MAX }>);

/// The longest filesystem type name taken for an alias.
pub const FSTYPE_MAX: usize = 32;

impl ModuleAlias {
    /// The alias for the type `fstype` (as `rootfstype=` or [`FsType::name`] gives it); None
    /// for an empty or overlong name, or one with bytes an alias cannot hold.
    pub fn for_fstype(fstype: &[u8]) -> Option<ModuleAlias> {
        let valid = !fstype.is_empty()
            && fstype.len() <= FSTYPE_MAX
            && fstype.iter().all(|&b| b.is_ascii_graphic() && b != b'/');
        valid.then(|| {
            let mut alias = Text::from_bytes(b"fs-");
            alias.push_bytes(fstype);
            ModuleAlias(alias)
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The longest label kept: btrfs's 256 bytes (ext4 has 16, xfs 12, vfat 11, erofs 16).
pub const LABEL_MAX: usize = 256;
/// The longest UUID text: 36 for the 8-4-4-4-12 form.
pub const UUID_MAX: usize = 36;

/// A filesystem's type, UUID and label, as `blkid -p` would show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsIdentity {
    pub fstype: FsType,
    /// blkid's UUID: lower-case 8-4-4-4-12 for most, `XXXX-XXXX` for vfat; empty when the
    /// filesystem has none (squashfs) or it is all zeros.
    pub uuid: Text<UUID_MAX>,
    /// blkid's LABEL: the bytes on disk up to the first NUL, trailing whitespace removed;
    /// empty when there is none.
    pub label: Text<LABEL_MAX>,
}

impl FsIdentity {
    fn new(fstype: FsType) -> FsIdentity {
        FsIdentity { fstype, uuid: Text::new(), label: Text::new() }
    }

    /// Sets the label from an on-disk field, as blkid's `blkid_probe_set_label()`: up to
    /// the first NUL, without trailing whitespace (C's `isspace`, vertical tab included).
    fn set_label(&mut self, field: &[u8]) {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let text = &field[..end];
        let trimmed = text.iter().rposition(|&b| !matches!(b, b' ' | b'\t'..=b'\r')).map_or(0, |i| i + 1);
        self.label = Text::from_bytes(&text[..trimmed]);
    }

    /// Sets the UUID from 16 bytes, as blkid's `blkid_probe_set_uuid()`: none if all zero.
    fn set_uuid(&mut self, bytes: &[u8; 16]) {
        self.uuid = Text::new();
        if bytes.iter().any(|&b| b != 0) {
            push_uuid(&mut self.uuid, bytes);
        }
    }
}

/// A superblock parser: the identity if the device holds its filesystem.
type Probe<R> = fn(&mut R) -> Result<Option<FsIdentity>, ReadError>;

/// Reads the filesystem identity of `dev`; Ok(None) when it holds none of [`FsType`]s.
///
/// The superblocks are tried in the order of blkid's list; the first that is valid wins
/// (where `blkid -p` finds two, it reports neither).
pub fn identify<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let probes: [Probe<R>; 6] = [vfat::probe, xfs::probe, ext::probe, squashfs::probe, btrfs::probe, erofs::probe];
    for probe in probes {
        if let Some(id) = probe(dev)? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device whose reads fail past `from`.
    struct Failing {
        from: u64,
    }

    impl ReadAt for Failing {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
            if offset >= self.from { Err(5) } else { Ok(buf.len().min((self.from - offset) as usize)) }
        }
    }

    #[test]
    fn read_errors_are_reported_with_their_offset() {
        assert_eq!(identify(&mut Failing { from: 0 }), Err(ReadError { offset: 0, errno: 5 }));
        assert_eq!(identify(&mut Failing { from: 1000 }), Err(ReadError { offset: 1024, errno: 5 }), "ext at 1024");
        assert_eq!(identify(&mut &[0u8; 100][..]), Ok(None), "a device too small for any superblock");
    }

    #[test]
    fn module_aliases() {
        assert_eq!(FsType::Ext4.module_alias().as_bytes(), b"fs-ext4");
        assert_eq!(ModuleAlias::for_fstype(b"f2fs").unwrap().as_bytes(), b"fs-f2fs");
        assert_eq!(ModuleAlias::for_fstype(b""), None);
        assert_eq!(ModuleAlias::for_fstype(b"a/b"), None);
        assert_eq!(ModuleAlias::for_fstype(&[b'x'; FSTYPE_MAX + 1]), None);
    }

    #[test]
    fn uuids_and_labels_are_set_as_blkid_sets_them() {
        let mut id = FsIdentity::new(FsType::Ext4);
        id.set_uuid(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(id.uuid.as_bytes(), b"12345678-9abc-def0-0102-030405060708");
        id.set_uuid(&[0; 16]);
        assert!(id.uuid.is_empty());
        id.set_label(b"root \x0b\0junk");
        assert_eq!(id.label.as_bytes(), b"root");
        id.set_label(b"   ");
        assert!(id.label.is_empty());
    }
}
