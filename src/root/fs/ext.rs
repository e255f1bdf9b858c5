//! ext2, ext3 and ext4: which of them a superblock is, as libblkid's `probe_ext2/3/4` decide.

use super::{FsIdentity, FsType};
use crate::root::crc32c;
use crate::root::read::{ReadAt, ReadError, array, le16, le32, read_exact};

/// The superblock starts 1024 bytes in and is 1024 bytes long.
const OFFSET: u64 = 1024;
const SIZE: usize = 1024;
const MAGIC: u16 = 0xef53;

// Field offsets inside the superblock.
const S_LOG_BLOCK_SIZE: usize = 0x18;
const S_MAGIC: usize = 0x38;
const S_FEATURE_COMPAT: usize = 0x5c;
const S_FEATURE_INCOMPAT: usize = 0x60;
const S_FEATURE_RO_COMPAT: usize = 0x64;
const S_UUID: usize = 0x68;
const S_VOLUME_NAME: usize = 0x78;
const S_FLAGS: usize = 0x160;
const S_CHECKSUM: usize = 0x3fc;

const COMPAT_HAS_JOURNAL: u32 = 0x0004;
const INCOMPAT_FILETYPE: u32 = 0x0002;
const INCOMPAT_RECOVER: u32 = 0x0004;
const INCOMPAT_JOURNAL_DEV: u32 = 0x0008;
const INCOMPAT_META_BG: u32 = 0x0010;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x0001;
const RO_COMPAT_LARGE_FILE: u32 = 0x0002;
const RO_COMPAT_BTREE_DIR: u32 = 0x0004;
const RO_COMPAT_METADATA_CSUM: u32 = 0x0400;
/// s_flags: "OK for use by development code" (blkid calls it ext4dev then).
const FLAGS_TEST_FILESYS: u32 = 0x0004;

/// The features ext2 and ext3 know; any other makes a filesystem ext4 (blkid's
/// EXT2/EXT3_FEATURE_*_SUPP).
const RO_COMPAT_EXT23: u32 = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR;
const INCOMPAT_EXT2: u32 = INCOMPAT_FILETYPE | INCOMPAT_META_BG;
const INCOMPAT_EXT3: u32 = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG;

pub(super) fn probe<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let mut sb = [0u8; SIZE];
    if !read_exact(dev, OFFSET, &mut sb)? || le16(&sb, S_MAGIC) != MAGIC {
        return Ok(None);
    }
    let ro_compat = le32(&sb, S_FEATURE_RO_COMPAT);
    let valid = if ro_compat & RO_COMPAT_METADATA_CSUM != 0 {
        crc32c::update(!0, &sb[..S_CHECKSUM]) == le32(&sb, S_CHECKSUM)
    } else {
        // Without a checksum, blkid wants a block size below 2^(10+256) at least.
        le32(&sb, S_LOG_BLOCK_SIZE) < 256
    };
    if !valid {
        return Ok(None);
    }
    let Some(fstype) = kind(le32(&sb, S_FEATURE_COMPAT), le32(&sb, S_FEATURE_INCOMPAT), ro_compat, le32(&sb, S_FLAGS))
    else {
        return Ok(None);
    };
    let mut id = FsIdentity::new(fstype);
    id.set_uuid(&array(&sb, S_UUID));
    id.set_label(&array::<16>(&sb, S_VOLUME_NAME));
    Ok(Some(id))
}

/// blkid's probes in its order: an external journal (jbd) and a test filesystem (blkid's
/// ext4dev, whatever its features) are not supported; then ext4 if it has a feature ext3
/// lacks, else ext3 if it has a journal, else ext2. None also for the one combination no
/// probe takes (RECOVER without a journal).
fn kind(compat: u32, incompat: u32, ro_compat: u32, flags: u32) -> Option<FsType> {
    if incompat & INCOMPAT_JOURNAL_DEV != 0 || flags & FLAGS_TEST_FILESYS != 0 {
        return None;
    }
    if ro_compat & !RO_COMPAT_EXT23 != 0 || incompat & !INCOMPAT_EXT3 != 0 {
        return Some(FsType::Ext4);
    }
    if compat & COMPAT_HAS_JOURNAL != 0 {
        return Some(FsType::Ext3);
    }
    // Without a journal, RECOVER is beyond ext2 but not beyond ext3: blkid calls it nothing.
    (incompat & !INCOMPAT_EXT2 == 0).then_some(FsType::Ext2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_follows_the_feature_bits() {
        assert_eq!(kind(0, INCOMPAT_FILETYPE, RO_COMPAT_SPARSE_SUPER, 0), Some(FsType::Ext2));
        assert_eq!(kind(COMPAT_HAS_JOURNAL, INCOMPAT_FILETYPE, 0, 0), Some(FsType::Ext3));
        assert_eq!(kind(COMPAT_HAS_JOURNAL, 0x40 /* extents */, 0, 0), Some(FsType::Ext4));
        assert_eq!(kind(0, 0x40, 0, 0), Some(FsType::Ext4), "ext4 without a journal");
        assert_eq!(kind(0, 0x40, 0, FLAGS_TEST_FILESYS), None, "ext4dev");
        assert_eq!(kind(0, 0, 0, FLAGS_TEST_FILESYS), None, "ext4dev too, for blkid");
        assert_eq!(kind(COMPAT_HAS_JOURNAL, INCOMPAT_JOURNAL_DEV, 0, 0), None, "an external journal");
        assert_eq!(kind(0, INCOMPAT_RECOVER, 0, 0), None);
    }
}
