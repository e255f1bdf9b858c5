//! The order in which kmod's hash table (shared/hash.c) hands out its entries, which is the order
//! of modules.symbols and of the modules depmod finds but modules.order does not list.
//!
//! A key goes to bucket `hash_superfast(key) & (buckets - 1)`; a bucket keeps its keys sorted
//! (`strcmp`); iteration walks the buckets in order. So the order is (bucket, key).

/// The buckets of depmod's module table (`hash_new(512, ...)`).
pub const MODULE_BUCKETS: u32 = 512;
/// The buckets of depmod's symbol table (`hash_new(2048, ...)`).
pub const SYMBOL_BUCKETS: u32 = 2048;

/// Paul Hsieh's SuperFastHash as kmod computes it on x86: 16-bit loads little-endian, single
/// bytes as C's signed `char`.
pub fn superfast(key: &[u8]) -> u32 {
    let word = |k: &[u8]| u32::from(u16::from_le_bytes([k[0], k[1]]));
    let signed = |b: u8| b as i8 as i32 as u32;
    let mut hash = key.len() as u32;
    let mut chunks = key.chunks_exact(4);
    for k in &mut chunks {
        hash = hash.wrapping_add(word(k));
        let tmp = (word(&k[2..]) << 11) ^ hash;
        hash = (hash << 16) ^ tmp;
        hash = hash.wrapping_add(hash >> 11);
    }
    match *chunks.remainder() {
        [a, b, c] => {
            hash = hash.wrapping_add(word(&[a, b]));
            hash ^= hash << 16;
            hash ^= signed(c) << 18;
            hash = hash.wrapping_add(hash >> 11);
        }
        [a, b] => {
            hash = hash.wrapping_add(word(&[a, b]));
            hash ^= hash << 11;
            hash = hash.wrapping_add(hash >> 17);
        }
        [a] => {
            hash = hash.wrapping_add(signed(a));
            hash ^= hash << 10;
            hash = hash.wrapping_add(hash >> 1);
        }
        _ => {}
    }
    hash ^= hash << 3;
    hash = hash.wrapping_add(hash >> 5);
    hash ^= hash << 4;
    hash = hash.wrapping_add(hash >> 17);
    hash ^= hash << 25;
    hash = hash.wrapping_add(hash >> 6);
    hash
}

/// The bucket of `key` in a kmod hash table of `buckets` buckets (a power of two): a table
/// iterates its keys by (bucket, key).
pub fn bucket_of(key: &[u8], buckets: u32) -> u32 {
    superfast(key) & (buckets - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed with kmod's hash_superfast compiled on x86_64.
    #[test]
    fn hashes_as_kmod_does() {
        let cases: [(&[u8], u32); 10] = [
            (b"", 0),
            (b"a", 291_415_938),
            (b"ab", 1_366_002_500),
            (b"abc", 3_535_673_738),
            (b"abcd", 3_671_636_187),
            (b"e1000e", 1_109_782_235),
            (b"snd_hda_intel", 1_849_698_465),
            (b"x\xe9y", 2_361_775_790),
            (b"\xff", 0),
            (b"printk_ratelimited", 1_697_486_030),
        ];
        for (key, hash) in cases {
            assert_eq!(superfast(key), hash, "{}", key.escape_ascii());
        }
        assert_eq!(bucket_of(b"e1000e", 512), 1_109_782_235 & 511);
    }
}
