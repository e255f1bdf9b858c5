//! CRC-64 as xz checks a block with `--check=crc64` (CRC-64/XZ: ECMA-182's polynomial,
//! reflected), a byte a step: modules are checked with CRC-32, so this one need not be fast.

/// The polynomial 0x42F0E1EBA9EA3693, bit-reversed: the CRC's register shifts right.
const POLYNOMIAL: u64 = 0xC96C_5795_D787_0F42;

/// `TABLE[b]` is the register after shifting in byte `b`; built when first needed (2 KiB of
/// zeroed memory rather than of the binary).
static TABLE: spin::Once<[u64; 256]> = spin::Once::new();

fn table() -> [u64; 256] {
    let mut table = [0u64; 256];
    for (byte, entry) in table.iter_mut().enumerate() {
        let mut crc = byte as u64;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { POLYNOMIAL ^ (crc >> 1) } else { crc >> 1 };
        }
        *entry = crc;
    }
    table
}

/// The CRC-64 of `bytes`.
pub fn checksum(bytes: &[u8]) -> u64 {
    let table = TABLE.call_once(table);
    !bytes.iter().fold(!0u64, |crc, &byte| table[usize::from(crc as u8 ^ byte)] ^ (crc >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_of_the_catalogue() {
        // CRC-64/XZ's check value (the CRC of the ASCII digits 1 to 9).
        assert_eq!(checksum(b"123456789"), 0x995D_C9BB_DF19_39FA);
        assert_eq!(checksum(b""), 0);
    }
}
