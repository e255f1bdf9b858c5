//! XFS: the superblock at byte 0, checked as libblkid's `xfs_verify_sb()` does.

use super::checksum::region_crc;
use super::{FsIdentity, FsType};
use crate::root::read::{ReadAt, ReadError, array, be32, read_exact};

const MAGIC: &[u8; 4] = b"XFSB";
/// The fields up to and with sb_crc.
const SIZE: usize = 228;
const SB_UUID: usize = 32;
const SB_FNAME: usize = 108;
const SB_CRC: usize = 224;
const VERSION_MOREBITS: u16 = 0x8000;
const VERSION2_CRC: u32 = 0x100;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(b, at))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(b, at))
}

pub(super) fn probe<R: ReadAt + ?Sized>(dev: &mut R) -> Result<Option<FsIdentity>, ReadError> {
    let mut sb = [0u8; SIZE];
    if !read_exact(dev, 0, &mut sb)? || &sb[..4] != MAGIC || !plausible(&sb) {
        return Ok(None);
    }
    let version = be16(&sb, 100);
    if version & 0x0f == 5 {
        if version & VERSION_MOREBITS == 0 || be32(&sb, 200) & VERSION2_CRC == 0 {
            return Ok(None);
        }
        let crc = region_crc(dev, 0, usize::from(be16(&sb, 102)), SB_CRC)?;
        // sb_crc holds the standard CRC-32C, little-endian.
        if crc.map(|c| !c) != Some(u32::from_le_bytes(array(&sb, SB_CRC))) {
            return Ok(None);
        }
    }
    let mut id = FsIdentity::new(FsType::Xfs);
    id.set_label(&array::<12>(&sb, SB_FNAME));
    id.set_uuid(&array(&sb, SB_UUID));
    Ok(Some(id))
}

/// The sanity checks that keep a stray "XFSB" from passing for a filesystem.
fn plausible(sb: &[u8; SIZE]) -> bool {
    let (blocksize, dblocks) = (be32(sb, 4), be64(sb, 8));
    let (rextsize, agblocks, agcount) = (be32(sb, 80), be32(sb, 84), be32(sb, 88));
    let (sectsize, inodesize) = (be16(sb, 102), be16(sb, 104));
    let (blocklog, sectlog, inodelog, inopblog, imax_pct) = (sb[120], sb[121], sb[122], sb[123], sb[127]);
    let log2_is =
        |size: u64, log: u8, range: core::ops::RangeInclusive<u8>| range.contains(&log) && size == 1u64 << log;
    // blkid multiplies these in 32 bits.
    let rtext = rextsize.wrapping_mul(blocksize);
    agcount != 0
        && log2_is(sectsize.into(), sectlog, 9..=15)
        && log2_is(blocksize.into(), blocklog, 9..=16)
        && log2_is(inodesize.into(), inodelog, 8..=11)
        && i32::from(blocklog) - i32::from(inodelog) == i32::from(inopblog)
        && (4096..=1 << 30).contains(&rtext)
        && imax_pct <= 100
        && dblocks != 0
        && dblocks <= u64::from(agcount) * u64::from(agblocks)
        && dblocks >= u64::from(agcount - 1) * u64::from(agblocks) + 64
}
