//! btrfs: the primary superblock at 64 KiB (not zoned devices), checked by its CRC-32C.

use super::{FsIdentity, FsType};
use crate::root::crc32c;
use crate::root::read::{ReadAt, ReadError, array, le16, le32, read_exact};

const OFFSET: u64 = 64 << 10;
const SIZE: usize = 4096;
const MAGIC: &[u8; 8] = b"_BHRfS_M";
/// blkid does not look for btrfs on devices smaller than this.
const MIN_DEVICE: u64 = 1 << 20;
const FSID: usize = 0x20;
const MAGIC_AT: usize = 0x40;
const SECTORSIZE: usize = 0x90;
const CSUM_TYPE: usize = 0xc4;
const LABEL: usize = 0x12b;
const LABEL_SIZE: usize = 256;
const CSUM_CRC32C: u16 = 0;

pub(super) fn probe<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let mut sb = [0u8; SIZE];
    if !read_exact(dev, OFFSET, &mut sb)? || &sb[MAGIC_AT..MAGIC_AT + 8] != MAGIC {
        return Ok(None);
    }
    if !read_exact(dev, MIN_DEVICE - 1, &mut [0])? {
        return Ok(None);
    }
    // Other checksums (xxhash64, sha256, blake2b) are not verified, as blkid skips
    // types it does not know.
    if le16(&sb, CSUM_TYPE) == CSUM_CRC32C && crc32c::checksum(&sb[32..]) != le32(&sb, 0) {
        return Ok(None);
    }
    if le32(&sb, SECTORSIZE) == 0 {
        return Ok(None);
    }
    let mut id = FsIdentity::new(FsType::Btrfs);
    id.set_label(&sb[LABEL..LABEL + LABEL_SIZE]);
    id.set_uuid(&array(&sb, FSID));
    Ok(Some(id))
}
