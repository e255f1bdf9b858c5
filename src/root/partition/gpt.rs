//! GUID partition tables as the kernel reads them (block/partitions/efi.c): a valid
//! protective or hybrid MBR, then the primary header and its entry array, both checked by
//! CRC-32. (The kernel reads the backup GPT only with the `gpt` boot option; so do we not.)

use super::{DiskGeometry, NAME_UNITS, PARTITION_LIMIT, Partition, mbr};
use crate::crc32;
use crate::root::read::{ReadAt, ReadError, array, le16, le32, le64, read_exact};
use crate::root::text::{Text, push_uuid};
use core::ops::ControlFlow;

const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The header fields the kernel knows (sizeof(gpt_header) without its reserved tail).
const HEADER_MIN: usize = 92;
const ENTRY_SIZE: usize = 128;
/// The kernel refuses entry arrays larger than KMALLOC_MAX_SIZE (4 MiB on x86-64).
const ARRAY_MAX: u64 = 4 << 20;

/// Where the checked entry array lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entries {
    /// Byte offset of the first entry.
    offset: u64,
    count: u32,
    /// The last logical block (entries beyond it are invalid).
    last_lba: u64,
    block_size: u64,
}

/// The kernel's `is_pmbr_valid()`: the boot signature and an entry of type 0xEE starting at
/// LBA 1 (other entries may be there too: a hybrid MBR).
fn has_protective_mbr(sector0: &[u8; 512]) -> bool {
    mbr::has_boot_signature(sector0)
        && (0..4).any(|slot| {
            let at = 0x1be + 16 * slot;
            sector0[at + 4] == 0xee && le32(sector0, at + 8) == 1
        })
}

/// The disk GUID and the entries of a valid GPT on `disk`; None if it has none.
pub(super) fn read<R: ReadAt + ?Sized>(
    disk: &mut R,
    geometry: DiskGeometry,
    sector0: &[u8; 512],
) -> Result<Option<(Text<36>, Entries)>, ReadError> {
    let Some(block_size) = geometry.block_size() else { return Ok(None) };
    let Some(last_lba) = (geometry.size / block_size).checked_sub(1) else { return Ok(None) };
    if !has_protective_mbr(sector0) {
        return Ok(None);
    }
    let mut header = [0u8; 4096];
    let header = &mut header[..block_size as usize];
    if !read_exact(disk, block_size, header)? {
        return Ok(None);
    }
    let header_size = le32(header, 12) as usize;
    if header[..8] != SIGNATURE[..] || !(HEADER_MIN..=header.len()).contains(&header_size) {
        return Ok(None);
    }
    let stored_crc = le32(header, 16);
    header[16..20].fill(0);
    let (my_lba, first_usable, last_usable) = (le64(header, 24), le64(header, 40), le64(header, 48));
    if crc32::checksum(&header[..header_size]) != stored_crc
        || my_lba != 1
        || first_usable > last_lba
        || last_usable > last_lba
        || last_usable < first_usable
        || le32(header, 84) as usize != ENTRY_SIZE
    {
        return Ok(None);
    }
    let (entries_lba, count, array_crc) = (le64(header, 72), le32(header, 80), le32(header, 88));
    let array_size = u64::from(count) * ENTRY_SIZE as u64;
    if count == 0 || array_size > ARRAY_MAX || entries_lba > last_lba {
        return Ok(None);
    }
    let Some(offset) = entries_lba.checked_mul(block_size) else { return Ok(None) };
    let entries = Entries { offset, count, last_lba, block_size };
    let mut crc = 0;
    let mut chunk = [0u8; 512];
    let mut done = 0;
    while done < array_size {
        let n = (array_size - done).min(chunk.len() as u64) as usize;
        if !read_exact(disk, offset + done, &mut chunk[..n])? {
            return Ok(None);
        }
        crc = crc32::update(crc, &chunk[..n]);
        done += n as u64;
    }
    if crc != array_crc {
        return Ok(None);
    }
    Ok(Some((guid_text(&array(header, 56)), entries)))
}

/// A GUID as the kernel's `%pUl` and blkid print it: the first three fields little-endian.
fn guid_text(guid: &[u8; 16]) -> Text<36> {
    let g = guid;
    let mut text = Text::new();
    let big_endian =
        [g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]];
    push_uuid(&mut text, &big_endian);
    text
}

impl Entries {
    /// Visits the valid entries (a type GUID, start and end on the disk) of the first 255.
    pub(super) fn for_each<R: ReadAt + ?Sized>(
        &self,
        disk: &mut R,
        f: &mut dyn FnMut(&Partition) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        let mut entry = [0u8; ENTRY_SIZE];
        for index in 0..self.count.min(PARTITION_LIMIT - 1) {
            if !read_exact(disk, self.offset + u64::from(index) * ENTRY_SIZE as u64, &mut entry)? {
                return Ok(());
            }
            if let Some(p) = self.partition(index + 1, &entry)
                && f(&p).is_break()
            {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The kernel's `is_pte_valid()` and the partition it makes.
    fn partition(&self, number: u32, entry: &[u8; ENTRY_SIZE]) -> Option<Partition> {
        let (first, last) = (le64(entry, 32), le64(entry, 40));
        if entry[..16].iter().all(|&b| b == 0) || first > self.last_lba || last > self.last_lba {
            return None;
        }
        // Like the kernel, an end before the start is not refused (the size wraps).
        let blocks = last.wrapping_sub(first).wrapping_add(1);
        let mut p = Partition::new(number, first * self.block_size, blocks.wrapping_mul(self.block_size));
        p.uuid = guid_text(&array(entry, 16));
        for i in 0..NAME_UNITS {
            let unit = le16(entry, 56 + 2 * i);
            if unit == 0 {
                break;
            }
            p.name[i] = unit;
            p.name_len = i + 1;
        }
        Some(p)
    }
}
