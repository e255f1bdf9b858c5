//! MBR ("dos") partition tables as the kernel reads them (block/partitions/msdos.c).

use super::{PARTITION_LIMIT, Partition};
use crate::root::read::{ReadAt, ReadError, le32, read_exact};
use crate::root::text::push_hex;
use core::ops::ControlFlow;

const ENTRIES: usize = 0x1be;
const SIGNATURE: usize = 0x1b8;
const TYPE_GPT_PROTECTIVE: u8 = 0xee;
/// The kernel stops following a chain of extended boot records after this many without data.
const CHAIN_LIMIT: u32 = 100;

/// One of the four entries of a boot record.
struct Entry {
    boot_indicator: u8,
    kind: u8,
    /// In logical blocks.
    start: u64,
    sectors: u64,
}

fn entry(record: &[u8; 512], slot: usize) -> Entry {
    let at = ENTRIES + 16 * slot;
    Entry {
        boot_indicator: record[at],
        kind: record[at + 4],
        start: le32(record, at + 8).into(),
        sectors: le32(record, at + 12).into(),
    }
}

fn entries(record: &[u8; 512]) -> impl Iterator<Item = Entry> + '_ {
    (0..4).map(|slot| entry(record, slot))
}

/// DOS, Windows and Linux extended partition types (the kernel's `is_extended_partition`).
fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

pub(super) fn has_boot_signature(record: &[u8; 512]) -> bool {
    record[510..] == [0x55, 0xaa]
}

/// The disk signature if `sector0` is an MBR the kernel reads partitions from: the 0x55AA
/// signature, boot indicators 0 or 0x80 (else it is a FAT boot sector or garbage), and no
/// GPT protective entry.
pub(super) fn signature(sector0: &[u8; 512]) -> Option<u32> {
    if !has_boot_signature(sector0) {
        return None;
    }
    if entries(sector0).any(|e| !matches!(e.boot_indicator, 0 | 0x80) || e.kind == TYPE_GPT_PROTECTIVE) {
        return None;
    }
    Some(le32(sector0, SIGNATURE))
}

/// Visits the partitions: primary slots 1-4 (extended ones as the kernel's stub, without a
/// PARTUUID), then each extended partition's chain of logical partitions from 5.
pub(super) fn for_each<R: ReadAt + ?Sized>(
    disk: &mut R,
    logical_block_size: u32,
    signature: u32,
    f: &mut dyn FnMut(&Partition) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let mut sector0 = [0u8; 512];
    if !read_exact(disk, 0, &mut sector0)? {
        return Ok(());
    }
    // The kernel counts in 512-byte sectors; the table in logical blocks.
    let scale = u64::from(logical_block_size / 512);
    let mut next_logical = 5;
    for (slot, e) in entries(&sector0).enumerate() {
        let (start, size) = (e.start * scale, e.sectors * scale);
        if size == 0 {
            continue;
        }
        let number = slot as u32 + 1;
        if is_extended(e.kind) {
            // "leave room for LILO": the kernel's device covers one block at most 2 sectors.
            let mut stub = Partition::new(number, start * 512, size.min(scale.max(2)) * 512);
            stub.extended = true;
            if f(&stub).is_break() {
                return Ok(());
            }
            if logical_partitions(disk, scale, (start, size), signature, &mut next_logical, f)?.is_break() {
                return Ok(());
            }
            continue;
        }
        if f(&data_partition(number, start, size, signature)).is_break() {
            return Ok(());
        }
    }
    Ok(())
}

/// A partition with its PARTUUID `%08x-%02x`; `start` and `size` in 512-byte sectors.
fn data_partition(number: u32, start: u64, size: u64, signature: u32) -> Partition {
    let mut p = Partition::new(number, start * 512, size * 512);
    push_hex(&mut p.uuid, &signature.to_be_bytes(), false);
    p.uuid.push(b'-');
    // %02x: two digits at least; partition numbers stay below 256.
    push_hex(&mut p.uuid, &[number as u8], false);
    p
}

/// The kernel's `parse_extended()`: follows the chain of extended boot records of the
/// extended partition `(first, first_size)` (512-byte sectors), numbering data partitions
/// from `next`.
fn logical_partitions<R: ReadAt + ?Sized>(
    disk: &mut R,
    scale: u64,
    (first, first_size): (u64, u64),
    signature: u32,
    next: &mut u32,
    f: &mut dyn FnMut(&Partition) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, ReadError> {
    let (mut this, mut this_size) = (first, first_size);
    let mut links_without_data = 0;
    let mut record = [0u8; 512];
    loop {
        links_without_data += 1;
        if links_without_data > CHAIN_LIMIT || *next >= PARTITION_LIMIT {
            return Ok(ControlFlow::Continue(()));
        }
        let Some(offset) = this.checked_mul(512) else { return Ok(ControlFlow::Continue(())) };
        if !read_exact(disk, offset, &mut record)? || !has_boot_signature(&record) {
            return Ok(ControlFlow::Continue(()));
        }
        for (i, e) in entries(&record).enumerate() {
            if e.sectors == 0 || is_extended(e.kind) {
                continue;
            }
            let (offs, size) = (e.start * scale, e.sectors * scale);
            let start = this + offs;
            // The third and fourth entries sometimes hold garbage: only take them inside.
            if i >= 2 && (offs + size > this_size || start < first || start + size > first + first_size) {
                continue;
            }
            if f(&data_partition(*next, start, size, signature)).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            links_without_data = 0;
            *next += 1;
            if *next >= PARTITION_LIMIT {
                return Ok(ControlFlow::Continue(()));
            }
        }
        // The first extended entry links to the next record, relative to the first one.
        let Some(link) = entries(&record).find(|e| e.sectors != 0 && is_extended(e.kind)) else {
            return Ok(ControlFlow::Continue(()));
        };
        this = first + link.start * scale;
        this_size = link.sectors * scale;
    }
}
