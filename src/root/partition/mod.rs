//! A disk's partition table (GPT or MBR) and its partitions, numbered, with the PARTUUID and
//! PARTLABEL the kernel gives them (block/partitions/efi.c and msdos.c, 6.1), so
//! `root=PARTUUID=` and `root=PARTLABEL=` match the partitions the kernel would pick.
//!
//! The kernel tries GPT first, then MBR: a disk whose MBR is protective (holds a type 0xEE
//! entry) has no MBR partitions even when its GPT is invalid. BSD, Solaris and other nested
//! labels inside MBR partitions are not read.

mod gpt;
mod mbr;

use super::read::{ReadAt, ReadError};
use super::text::Text;
use core::ops::ControlFlow;

/// What the partition parsers need to know about a disk (its /sys/block/NAME/size and
/// queue/logical_block_size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskGeometry {
    /// The logical block size in bytes: a power of two from 512 to 4096 (GPT's LBA unit).
    pub logical_block_size: u32,
    /// The disk's size in bytes.
    pub size: u64,
}

impl DiskGeometry {
    /// The geometry from sysfs's `size` (always in 512-byte sectors) and logical block size.
    pub fn from_sysfs(sectors: u64, logical_block_size: u32) -> DiskGeometry {
        DiskGeometry { logical_block_size, size: sectors.saturating_mul(512) }
    }

    /// The logical block size if it is one the kernel supports (512 to 4096, a power of two).
    fn block_size(&self) -> Option<u64> {
        let lbs = self.logical_block_size;
        (lbs.is_power_of_two() && (512..=4096).contains(&lbs)).then_some(u64::from(lbs))
    }
}

/// The kind of partition table, with the disk's own identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// An MBR ("dos") table and its disk signature (the PARTUUIDs' first half).
    Mbr { signature: u32 },
    /// A GPT and its disk GUID, in the lower-case 8-4-4-4-12 form.
    Gpt { disk_guid: Text<36> },
}

/// The longest GPT partition name, in UTF-16 code units.
pub const NAME_UNITS: usize = 36;

/// One partition of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// The kernel's partition number: the GPT entry's index + 1; for MBR the primary slot
    /// 1-4, logical partitions from 5 in the order of their chain.
    pub number: u32,
    /// Where it starts on the disk, and its length, in bytes.
    pub start: u64,
    pub size: u64,
    /// The PARTUUID the kernel gives it: the GPT entry's unique GUID (lower case), or for
    /// MBR `SSSSSSSS-NN`, the disk signature and the number in hex (`%08x-%02x`). Empty for
    /// an extended MBR partition, which the kernel gives none.
    pub uuid: Text<36>,
    /// The GPT entry's name, UTF-16LE code units up to the first 0 (none for MBR).
    pub name: [u16; NAME_UNITS],
    pub name_len: usize,
    /// Whether this is an MBR extended partition (the kernel's 1 KiB stub of it).
    pub extended: bool,
}

impl Partition {
    pub(crate) fn new(number: u32, start: u64, size: u64) -> Partition {
        Partition { number, start, size, uuid: Text::new(), name: [0; NAME_UNITS], name_len: 0, extended: false }
    }

    /// The name as the kernel keeps it for `PARTLABEL=` (block/partitions/efi.c): the low
    /// byte of each code unit, `!` for one that is not printable in the kernel's Latin-1
    /// ctype, up to the first unit whose low byte is 0.
    pub fn kernel_name(&self) -> Text<NAME_UNITS> {
        let mut out = Text::new();
        for &unit in &self.name[..self.name_len] {
            let c = (unit & 0xff) as u8;
            if c == 0 {
                break;
            }
            out.push(if kernel_isprint(c) { c } else { b'!' });
        }
        out
    }
}

/// The kernel's `isprint()` (lib/ctype.c): ASCII 0x20-0x7e and Latin-1 0xa0-0xff.
fn kernel_isprint(c: u8) -> bool {
    (0x20..0x7f).contains(&c) || c >= 0xa0
}

/// A disk's partition table, checked once; its partitions are read from the disk on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionTable {
    kind: TableKind,
    geometry: DiskGeometry,
    layout: Layout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Mbr,
    Gpt(gpt::Entries),
}

/// The kernel's highest partition number + 1 (DISK_MAX_PARTS).
const PARTITION_LIMIT: u32 = 256;

impl PartitionTable {
    /// Reads the table of the disk `disk`: Ok(None) when it has none the kernel would use.
    pub fn read<R: ReadAt + ?Sized>(disk: &mut R, geometry: DiskGeometry) -> Result<Option<PartitionTable>, ReadError> {
        if geometry.block_size().is_none() {
            return Ok(None);
        }
        let mut sector0 = [0u8; 512];
        if !super::read::read_exact(disk, 0, &mut sector0)? {
            return Ok(None);
        }
        if let Some((disk_guid, entries)) = gpt::read(disk, geometry, &sector0)? {
            return Ok(Some(PartitionTable { kind: TableKind::Gpt { disk_guid }, geometry, layout: Layout::Gpt(entries) }));
        }
        Ok(mbr::signature(&sector0)
            .map(|signature| PartitionTable { kind: TableKind::Mbr { signature }, geometry, layout: Layout::Mbr }))
    }

    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// Calls `f` with each partition in number order until it returns `Break`.
    pub fn for_each<R: ReadAt + ?Sized>(
        &self,
        disk: &mut R,
        mut f: impl FnMut(&Partition) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        match (&self.layout, self.kind) {
            (Layout::Gpt(entries), _) => entries.for_each(disk, &mut f),
            (Layout::Mbr, TableKind::Mbr { signature }) => mbr::for_each(disk, self.geometry, signature, &mut f),
            (Layout::Mbr, TableKind::Gpt { .. }) => Ok(()),
        }
    }

    /// The partition numbered `number`, if the table has it.
    pub fn partition<R: ReadAt + ?Sized>(&self, disk: &mut R, number: u32) -> Result<Option<Partition>, ReadError> {
        let mut found = None;
        self.for_each(disk, |p| {
            if p.number == number {
                found = Some(*p);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }
}
