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
    /// Whether this is an MBR extended partition: the kernel's device for it is a stub of its
    /// first 1 KiB (one block on a 4 KiB disk), with no PARTUUID.
    pub extended: bool,
}

impl Partition {
    pub(crate) fn new(number: u32, start: u64, size: u64) -> Partition {
        Partition { number, start, size, uuid: Text::new(), name: [0; NAME_UNITS], name_len: 0, extended: false }
    }

    /// The name as the kernel keeps it for `PARTLABEL=` (`utf16_le_to_7bit()` in
    /// block/partitions/efi.c): the low 7 bits of each code unit, `!` for a control
    /// character, up to the first unit whose low 7 bits are 0. ASCII names are kept as
    /// they are; `é` (U+00E9) becomes `i`.
    pub fn kernel_name(&self) -> Text<NAME_UNITS> {
        let mut out = Text::new();
        for &unit in &self.name[..self.name_len] {
            let c = (unit & 0x7f) as u8;
            if c == 0 {
                break;
            }
            out.push(if (0x20..0x7f).contains(&c) { c } else { b'!' });
        }
        out
    }
}

/// A disk's partition table, checked once; its partitions are read from the disk on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionTable {
    layout: Layout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Mbr { signature: u32, logical_block_size: u32 },
    Gpt { disk_guid: Text<36>, entries: gpt::Entries },
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
            return Ok(Some(PartitionTable { layout: Layout::Gpt { disk_guid, entries } }));
        }
        let logical_block_size = geometry.logical_block_size;
        Ok(mbr::signature(&sector0)
            .map(|signature| PartitionTable { layout: Layout::Mbr { signature, logical_block_size } }))
    }

    pub fn kind(&self) -> TableKind {
        match self.layout {
            Layout::Mbr { signature, .. } => TableKind::Mbr { signature },
            Layout::Gpt { disk_guid, .. } => TableKind::Gpt { disk_guid },
        }
    }

    /// Calls `f` with each partition until it returns `Break`, in the kernel's order: GPT
    /// entries by number; MBR primary slots 1-4, each extended one followed by its logical
    /// partitions (so `5` may come before `4`).
    pub fn for_each<R: ReadAt + ?Sized>(
        &self,
        disk: &mut R,
        mut f: impl FnMut(&Partition) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        match &self.layout {
            Layout::Gpt { entries, .. } => entries.for_each(disk, &mut f),
            &Layout::Mbr { signature, logical_block_size } => {
                mbr::for_each(disk, logical_block_size, signature, &mut f)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc32;

    /// A disk image being built: MBR records and GPTs written into zeros.
    struct Disk(Vec<u8>);

    impl Disk {
        fn new(size: usize) -> Disk {
            Disk(vec![0; size])
        }

        fn put(&mut self, at: usize, bytes: &[u8]) {
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }

        /// An MBR entry in the boot record at 512-byte sector `record`.
        fn entry(&mut self, record: usize, slot: usize, kind: u8, start: u32, sectors: u32) -> &mut Disk {
            let at = record * 512 + 0x1be + 16 * slot;
            self.put(at + 4, &[kind]);
            self.put(at + 8, &start.to_le_bytes());
            self.put(at + 12, &sectors.to_le_bytes());
            self.put(record * 512 + 510, &[0x55, 0xaa]);
            self
        }

        /// A protective MBR and a GPT with `entries` (type byte, first LBA, last LBA) in
        /// an array of `count` entries at LBA 2.
        fn gpt(&mut self, block: usize, count: u32, entries: &[(u8, u64, u64)]) -> &mut Disk {
            self.entry(0, 0, 0xee, 1, u32::MAX);
            let mut array = vec![0u8; count as usize * 128];
            for (i, &(kind, first, last)) in entries.iter().enumerate() {
                let e = &mut array[i * 128..];
                e[..16].fill(kind);
                e[16..32].fill(0x10 + i as u8);
                e[32..40].copy_from_slice(&first.to_le_bytes());
                e[40..48].copy_from_slice(&last.to_le_bytes());
                e[56..58].copy_from_slice(&u16::from(b'a' + i as u8).to_le_bytes());
            }
            self.put(2 * block, &array);
            let last_lba = (self.0.len() / block - 1) as u64;
            let mut h = [0u8; 92];
            h[..8].copy_from_slice(b"EFI PART");
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[24..32].copy_from_slice(&1u64.to_le_bytes());
            h[32..40].copy_from_slice(&last_lba.to_le_bytes());
            h[40..48].copy_from_slice(&3u64.to_le_bytes());
            h[48..56].copy_from_slice(&(last_lba - 1).to_le_bytes());
            h[56..72].fill(0x99);
            h[72..80].copy_from_slice(&2u64.to_le_bytes());
            h[80..84].copy_from_slice(&count.to_le_bytes());
            h[84..88].copy_from_slice(&128u32.to_le_bytes());
            h[88..92].copy_from_slice(&crc32::checksum(&array).to_le_bytes());
            self.header(block, h)
        }

        /// Writes GPT header `h` at LBA 1 with its CRC.
        fn header(&mut self, block: usize, mut h: [u8; 92]) -> &mut Disk {
            h[16..20].fill(0);
            let crc = crc32::checksum(&h);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
            self.put(block, &h);
            self
        }

        /// (number, start sector, sectors, PARTUUID) of each partition, 512-byte sectors.
        fn partitions(&self, block: u32) -> Option<Vec<(u32, u64, u64, String)>> {
            let mut dev = self.0.as_slice();
            let geometry = DiskGeometry { logical_block_size: block, size: self.0.len() as u64 };
            let table = PartitionTable::read(&mut dev, geometry).unwrap()?;
            let mut all = Vec::new();
            table
                .for_each(&mut dev, |p| {
                    all.push((p.number, p.start / 512, p.size / 512, p.uuid.to_string()));
                    ControlFlow::Continue(())
                })
                .unwrap();
            Some(all)
        }
    }

    fn numbers(parts: Option<Vec<(u32, u64, u64, String)>>) -> Vec<u32> {
        parts.expect("a table").iter().map(|p| p.0).collect()
    }

    #[test]
    fn mbr_logical_partitions_follow_the_chain_and_count_from_5() {
        let mut disk = Disk::new(1 << 20);
        disk.put(0x1b8, &0x0bad_cafeu32.to_le_bytes());
        disk.entry(0, 0, 0x83, 2048, 100).entry(0, 2, 0x0f, 100, 700);
        // Six logical partitions in a chain of records every 100 sectors from 100.
        for i in 0..6 {
            let record = 100 + 100 * i;
            disk.entry(record, 0, 0x83, 10, 50);
            if i < 5 {
                disk.entry(record, 1, 0x05, 100 * (i as u32 + 1), 100);
            }
        }
        let parts = disk.partitions(512).unwrap();
        assert_eq!(parts.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 3, 5, 6, 7, 8, 9, 10]);
        assert_eq!(parts[1], (3, 100, 2, String::new()), "the extended partition's 1 KiB stub, no PARTUUID");
        assert_eq!(parts[2], (5, 110, 50, "0badcafe-05".to_string()));
        assert_eq!(parts[7].3, "0badcafe-0a", "the number in hex, as the kernel's %02x");
    }

    #[test]
    fn logical_partitions_come_right_after_their_extended_slot() {
        let mut disk = Disk::new(1 << 20);
        disk.entry(0, 0, 0x05, 100, 100).entry(100, 0, 0x83, 1, 10).entry(0, 3, 0x83, 300, 10);
        assert_eq!(numbers(disk.partitions(512)), [1, 5, 4], "the kernel's order of discovery");
        let mut dev = disk.0.as_slice();
        let table = PartitionTable::read(&mut dev, DiskGeometry { logical_block_size: 512, size: 1 << 20 });
        let p4 = table.unwrap().unwrap().partition(&mut dev, 4).unwrap().unwrap();
        assert_eq!((p4.start, p4.uuid.as_bytes()), (300 * 512, &b"00000000-04"[..]));
    }

    #[test]
    fn mbr_chains_that_loop_end_and_garbage_in_the_last_entries_is_skipped() {
        let mut disk = Disk::new(1 << 20);
        disk.entry(0, 0, 0x05, 100, 200);
        // The record links to itself; its third entry lies outside the extended partition.
        disk.entry(100, 0, 0x83, 1, 10).entry(100, 1, 0x05, 0, 200).entry(100, 2, 0x83, 500, 10);
        let parts = disk.partitions(512).unwrap();
        assert_eq!(parts.len(), 1 + 251, "the stub, then the looping record's data partition up to number 255");
        assert!(parts[1..].iter().zip(5..).all(|(p, n)| p.0 == n && p.1 == 101), "the third entry is never taken");
        let mut disk = Disk::new(1 << 20);
        disk.entry(0, 0, 0x05, 100, 200).entry(100, 1, 0x05, 0, 200);
        assert_eq!(numbers(disk.partitions(512)), [1], "100 links without data end the chain");
    }

    #[test]
    fn mbr_on_4k_blocks_counts_in_blocks() {
        let mut disk = Disk::new(1 << 20);
        disk.entry(0, 0, 0x83, 1, 10).entry(0, 1, 0x05, 20, 40).entry(160, 0, 0x83, 1, 4);
        let parts = disk.partitions(4096).unwrap();
        assert_eq!(parts[0].1..parts[0].1 + parts[0].2, 8..88);
        assert_eq!((parts[1].1, parts[1].2), (160, 8), "the stub is one 4 KiB block");
        assert_eq!((parts[2].0, parts[2].1, parts[2].2), (5, 168, 32));
    }

    #[test]
    fn boot_sectors_and_protective_mbrs_are_no_mbr() {
        let mut disk = Disk::new(64 << 10);
        disk.entry(0, 0, 0x83, 1, 10);
        assert!(disk.partitions(512).is_some());
        disk.put(0x1be, &[0x12]);
        assert_eq!(disk.partitions(512), None, "a boot indicator other than 0 and 0x80");
        let mut disk = Disk::new(64 << 10);
        disk.entry(0, 0, 0xee, 1, 100).entry(0, 1, 0x83, 200, 10);
        assert_eq!(disk.partitions(512), None, "a protective entry without a GPT: no partitions at all");
        assert_eq!(Disk::new(4096).partitions(512), None);
    }

    #[test]
    fn gpt_entries_are_numbered_by_index_and_checked_against_the_disk() {
        let mut disk = Disk::new(1 << 20);
        // Entry 2 is unused, entry 4 ends past the disk.
        disk.gpt(512, 128, &[(1, 34, 99), (0, 100, 199), (2, 200, 299), (3, 300, 100_000)]);
        let parts = disk.partitions(512).unwrap();
        assert_eq!(parts.iter().map(|p| (p.0, p.1, p.2)).collect::<Vec<_>>(), [(1, 34, 66), (3, 200, 100)]);
        assert_eq!(parts[0].3, "10101010-1010-1010-1010-101010101010");
        // A hybrid MBR (another entry beside the protective one) still leads to the GPT.
        disk.entry(0, 1, 0x0c, 34, 66);
        assert_eq!(numbers(disk.partitions(512)), [1, 3]);
        let mut dev = disk.0.as_slice();
        let table =
            PartitionTable::read(&mut dev, DiskGeometry { logical_block_size: 512, size: 1 << 20 }).unwrap().unwrap();
        assert_eq!(
            table.kind(),
            TableKind::Gpt { disk_guid: Text::from_bytes(b"99999999-9999-9999-9999-999999999999") }
        );
        let p = table.partition(&mut dev, 3).unwrap().unwrap();
        assert_eq!((p.kernel_name().as_bytes(), p.name_len), (&b"c"[..], 1));
        let mut named = p;
        for (i, unit) in
            [u16::from(b'R'), 0x00e9, 0x03b1, 0x0007, 0x007f, 0x0100, u16::from(b'x')].into_iter().enumerate()
        {
            named.name[i] = unit;
            named.name_len = i + 1;
        }
        assert_eq!(named.kernel_name().as_bytes(), b"Ri1!!", "7 bits a unit; U+0100 ends the name");
        assert_eq!(table.partition(&mut dev, 2).unwrap(), None);
    }

    #[test]
    fn gpt_on_4k_blocks_is_read_at_4k_lbas() {
        let mut disk = Disk::new(1 << 20);
        disk.gpt(4096, 4, &[(1, 6, 9)]);
        assert_eq!(disk.partitions(4096).unwrap(), [(1, 48, 32, "10101010-1010-1010-1010-101010101010".to_string())]);
        assert_eq!(disk.partitions(512), None, "no header at LBA 1 of 512 bytes");
    }

    #[test]
    fn damaged_gpt_headers_are_refused_as_the_kernel_refuses_them() {
        let mut good = Disk::new(1 << 20);
        good.gpt(512, 4, &[(1, 34, 99)]);
        let header = || -> [u8; 92] { good.0[512..604].try_into().unwrap() };
        let field = |at: usize, value: &[u8]| {
            let mut h = header();
            h[at..at + value.len()].copy_from_slice(value);
            h
        };
        for (what, h) in [
            ("my_lba", field(24, &2u64.to_le_bytes())),
            ("first usable past the end", field(40, &5000u64.to_le_bytes())),
            ("last usable before first usable", field(48, &2u64.to_le_bytes())),
            ("entry size", field(84, &256u32.to_le_bytes())),
            ("no entries", field(80, &0u32.to_le_bytes())),
            ("an entry array beyond 4 MiB", field(80, &40_000u32.to_le_bytes())),
            ("entries' CRC", field(88, &1u32.to_le_bytes())),
            ("header size", field(12, &600u32.to_le_bytes())),
        ] {
            let mut disk = Disk(good.0.clone());
            disk.header(512, h);
            assert_eq!(disk.partitions(512), None, "{what}");
        }
        let mut disk = Disk(good.0.clone());
        disk.0[512 + 40] ^= 1;
        assert_eq!(disk.partitions(512), None, "the header's CRC");
        assert!(good.partitions(512).is_some());
        assert_eq!(good.partitions(1000), None, "not a logical block size");
    }
}
