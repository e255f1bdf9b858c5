//! EROFS: the superblock at 1 KiB, with its optional CRC-32C, as libblkid reads it.

use super::checksum::region_crc;
use super::{FsIdentity, FsType};
use crate::root::read::{ReadAt, ReadError, array, le32, read_exact};

const OFFSET: u64 = 1024;
const MAGIC: u32 = 0xe0f5_e1e2;
const CHECKSUM: usize = 4;
const FEATURE_COMPAT: usize = 8;
const BLKSZBITS: usize = 12;
const UUID: usize = 48;
const VOLUME_NAME: usize = 64;
const COMPAT_SB_CHKSUM: u32 = 1;

pub(super) fn probe<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let mut sb = [0u8; 128];
    if !read_exact(dev, OFFSET, &mut sb)? || le32(&sb, 0) != MAGIC {
        return Ok(None);
    }
    let blkszbits = sb[BLKSZBITS];
    if !(9..=16).contains(&blkszbits) {
        return Ok(None);
    }
    if le32(&sb, FEATURE_COMPAT) & COMPAT_SB_CHKSUM != 0 {
        // The checksum covers the rest of the first block, from the superblock on.
        let Some(len) = (1usize << blkszbits).checked_sub(OFFSET as usize).filter(|&l| l > 0) else {
            return Ok(None);
        };
        if region_crc(dev, OFFSET, len, CHECKSUM)? != Some(le32(&sb, CHECKSUM)) {
            return Ok(None);
        }
    }
    let mut id = FsIdentity::new(FsType::Erofs);
    id.set_label(&array::<16>(&sb, VOLUME_NAME));
    id.set_uuid(&array(&sb, UUID));
    Ok(Some(id))
}
