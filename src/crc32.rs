//! CRC-32 as gzip and zlib compute it (ISO-HDLC: reflected polynomial 0x04C11DB7), eight bytes a step.
//!
//! Slicing-by-8 (Kounavis and Berry, 2008): eight 256-entry tables, built on first use, fold
//! eight input bytes into the CRC with eight independent lookups instead of eight dependent ones.
//! Byte by byte, checking a gzip file's CRC would take as long as inflating it.

/// The polynomial, bit-reversed: the CRC's register shifts right.
const POLYNOMIAL: u32 = 0xEDB8_8320;

/// `TABLES[0][b]` is the CRC register after shifting in byte `b`; `TABLES[k][b]` the same byte
/// followed by `k` zero bytes, so eight table lookups advance the register by eight bytes.
/// Built when first needed rather than at compile time: 8 KiB of zeroed memory, not 8 KiB of
/// the binary.
static TABLES: spin::Once<[[u32; 256]; 8]> = spin::Once::new();

fn tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { POLYNOMIAL ^ (crc >> 1) } else { crc >> 1 };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        let mut k = 1;
        while k < 8 {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            k += 1;
        }
        byte += 1;
    }
    tables
}

/// The CRC-32 of `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    update(0, bytes)
}

/// The CRC-32 of some earlier bytes, whose CRC-32 is `crc`, followed by `bytes` (zlib's
/// `crc32(crc, buf, len)`; 0 is the CRC-32 of no bytes).
pub fn update(crc: u32, bytes: &[u8]) -> u32 {
    let tables = TABLES.call_once(tables);
    let lookup = |table: usize, byte: u32| tables[table][usize::from(byte as u8)];
    let mut register = !crc;
    let (words, tail) = bytes.as_chunks::<8>();
    for word in words {
        let low = u32::from_le_bytes([word[0], word[1], word[2], word[3]]) ^ register;
        let high = u32::from_le_bytes([word[4], word[5], word[6], word[7]]);
        register = lookup(7, low)
            ^ lookup(6, low >> 8)
            ^ lookup(5, low >> 16)
            ^ lookup(4, low >> 24)
            ^ lookup(3, high)
            ^ lookup(2, high >> 8)
            ^ lookup(1, high >> 16)
            ^ lookup(0, high >> 24);
    }
    for &byte in tail {
        register = lookup(0, register ^ u32::from(byte)) ^ (register >> 8);
    }
    !register
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook bit-at-a-time CRC: what the tables must reproduce.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { POLYNOMIAL ^ (crc >> 1) } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn check_value_of_the_catalogue() {
        // CRC-32/ISO-HDLC's check value (the CRC of the ASCII digits 1 to 9).
        assert_eq!(checksum(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn every_length_and_alignment_matches_the_bitwise_crc() {
        let data: Vec<u8> = (0u32..300).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for start in 0..8 {
            for end in start..data.len() {
                assert_eq!(checksum(&data[start..end]), bitwise(&data[start..end]), "bytes {start}..{end}");
            }
        }
    }

    #[test]
    fn continuing_equals_checksumming_at_once() {
        let data: Vec<u8> = (0u32..1000).map(|i| (i * 7 + i / 5) as u8).collect();
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let (a, b) = data.split_at(split);
            assert_eq!(update(checksum(a), b), checksum(&data), "split at {split}");
        }
    }
}
