//! CRC-32C (Castagnoli), the checksum of ext4, btrfs, xfs and erofs superblocks.
//!
//! Bit by bit, without tables: it only checks a few superblocks of at most 4 KiB.

/// The polynomial 0x1EDC6F41, bit-reversed.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// Shifts `bytes` into the register `crc` with no initial or final inversion: the kernel's
/// `crc32c(crc, p, len)`, which ext4 and erofs use as is.
pub fn update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { POLYNOMIAL ^ (crc >> 1) } else { crc >> 1 };
        }
    }
    crc
}

/// The standard CRC-32C of `bytes` (initial and final inversion), as btrfs and xfs store it.
pub fn checksum(bytes: &[u8]) -> u32 {
    !update(!0, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // The catalogue's check value for CRC-32/ISCSI.
        assert_eq!(checksum(b"123456789"), 0xe306_9283);
        assert_eq!(update(!0, b"123456789"), !0xe306_9283);
    }
}
