//! `modinit::root::identify` on any device contents: superblocks of ext2/3/4, xfs, btrfs,
//! vfat, squashfs and erofs.
//!
//! The device is the input followed by zeros up to 2 MiB (btrfs wants 1 MiB at least).
//! The identity must not depend on how the device splits its reads; a device failing at
//! some offset gives that error or the same identity; UUIDs have blkid's forms and labels
//! no NUL and no trailing whitespace.

use crate::device::{Device, EIO};
use modinit::root::{FsIdentity, FsType, identify};

const SIZE: u64 = 2 << 20;

pub fn fuzz(data: &[u8]) {
    let whole = identify(&mut Device::new(data, SIZE)).expect("an in-memory device never fails");
    let pieces = identify(&mut Device { piece: 7, ..Device::new(data, SIZE) }).expect("no failure");
    assert_eq!(whole, pieces, "the identity depends on the read sizes");
    if let Some(id) = &whole {
        check(id);
    }
    // A failure somewhere in the first 128 KiB: the error, or the identity regardless.
    let fail_from = data.first().map_or(0, |&b| u64::from(b) << 9);
    match identify(&mut Device { fail_from, ..Device::new(data, SIZE) }) {
        Ok(id) => assert_eq!(id, whole, "a failing read changed the identity"),
        Err(e) => assert!(e.errno == EIO && e.offset >= fail_from, "{e:?}"),
    }
}

fn check(id: &FsIdentity) {
    let uuid = id.uuid.as_bytes();
    let hex = |s: &[u8], upper: bool| {
        s.iter().all(|&b| b.is_ascii_digit() || if upper { matches!(b, b'A'..=b'F') } else { matches!(b, b'a'..=b'f') })
    };
    match (id.fstype, uuid.len()) {
        (_, 0) => {}
        (FsType::Vfat, 9) => assert!(uuid[4] == b'-' && hex(&uuid[..4], true) && hex(&uuid[5..], true)),
        (FsType::Vfat | FsType::Squashfs, _) => panic!("{:?} UUID {uuid:?}", id.fstype),
        (_, 36) => {
            for (i, &b) in uuid.iter().enumerate() {
                assert!(if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { hex(&[b], false) }, "UUID {uuid:?}");
            }
            assert!(uuid.iter().any(|&b| b != b'0' && b != b'-'), "an all-zero UUID is none");
        }
        _ => panic!("UUID {uuid:?}"),
    }
    let label = id.label.as_bytes();
    assert!(!label.contains(&0), "NUL in label {label:?}");
    assert!(!label.last().is_some_and(|&b| matches!(b, b' ' | b'\t'..=b'\r')), "trailing space in {label:?}");
    assert_eq!(id.fstype == FsType::Squashfs, id.fstype.name() == "squashfs");
    assert_eq!(id.fstype.module_alias().as_bytes(), format!("fs-{}", id.fstype.name()).as_bytes());
}
