//! `modinit::root::PartitionTable` on any disk contents, GPT and MBR, 512-byte to 4 KiB
//! logical blocks.
//!
//! The first input byte chooses the logical block size and how far zeros extend the disk;
//! the rest is the disk from byte 0. Partition numbers must be the kernel's (GPT 1-255
//! increasing; MBR primary 1-4 increasing, logical ones increasing from 5, below 256),
//! PARTUUIDs its forms, `partition(n)` what `for_each` gave for n, and the reads' sizes must
//! not matter.

use crate::device::Device;
use modinit::root::{DiskGeometry, Partition, PartitionTable, TableKind};
use std::ops::ControlFlow;

pub fn fuzz(data: &[u8]) {
    let Some((&choice, disk)) = data.split_first() else { return };
    let logical_block_size = 512 << (choice & 3);
    let size = disk.len() as u64 + (u64::from(choice >> 2) << 16);
    let geometry = DiskGeometry { logical_block_size, size };
    let table = PartitionTable::read(&mut Device::new(disk, size), geometry).expect("no failure");
    let chunked = PartitionTable::read(&mut Device { piece: 5, ..Device::new(disk, size) }, geometry);
    assert_eq!(chunked.expect("no failure"), table, "the table depends on the read sizes");
    let Some(table) = table else { return };

    let mut parts: Vec<Partition> = Vec::new();
    table
        .for_each(&mut Device::new(disk, size), |p| {
            parts.push(*p);
            ControlFlow::Continue(())
        })
        .expect("no failure");
    // MBR primary and logical partitions interleave (an extended slot's logical ones come
    // before the next slot); each kind on its own is in increasing order.
    for primary in [true, false] {
        let numbers: Vec<u32> = parts.iter().map(|p| p.number).filter(|&n| (n <= 4) == primary).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "numbers {numbers:?}");
    }
    if let TableKind::Gpt { .. } = table.kind() {
        assert!(parts.windows(2).all(|w| w[0].number < w[1].number), "GPT entries out of order");
    }
    for p in &parts {
        assert!((1..256).contains(&p.number), "number {}", p.number);
        check(table.kind(), p);
        let again = table.partition(&mut Device::new(disk, size), p.number).expect("no failure");
        assert_eq!(again.as_ref(), Some(p));
    }
    // Stopping early visits a prefix.
    let mut first = None;
    table
        .for_each(&mut Device::new(disk, size), |p| {
            first = Some(*p);
            ControlFlow::Break(())
        })
        .expect("no failure");
    assert_eq!(first.as_ref(), parts.first());
}

fn check(kind: TableKind, p: &Partition) {
    let uuid = p.uuid.as_bytes();
    match kind {
        TableKind::Gpt { .. } => {
            assert!(!p.extended && uuid.len() == 36 && p.name_len <= 36 && !p.name[..p.name_len].contains(&0));
            assert!(!p.kernel_name().as_bytes().contains(&0));
        }
        TableKind::Mbr { signature } => {
            assert!(p.name_len == 0);
            if p.extended {
                assert!(uuid.is_empty() && p.number <= 4);
            } else {
                assert_eq!(uuid, format!("{signature:08x}-{:02x}", p.number).as_bytes());
            }
        }
    }
}
