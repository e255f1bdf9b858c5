//! A set of byte strings in fixed storage, remembering insertion order.
//!
//! Coldplug finds each modalias many times (every rescan, and again in uevents); the set
//! keeps one copy and lets the caller walk only the strings added since its last pass.
//! Capacity is fixed at compile time: a full set refuses new strings and counts them, it
//! never overwrites or allocates.

/// Up to `SLOTS - 1` strings with `BYTES` bytes of text in all.
pub struct StringSet<const BYTES: usize, const SLOTS: usize> {
    text: [u8; BYTES],
    used: usize,
    /// (start, len) of each string in insertion order.
    entries: [(u32, u32); SLOTS],
    count: usize,
    /// Open-addressing hash table of entry index + 1 (0 = empty).
    table: [u32; SLOTS],
    refused: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    New,
    Present,
    /// No room left: the string was not stored (see [`StringSet::refused`]).
    Full,
}

impl<const BYTES: usize, const SLOTS: usize> StringSet<BYTES, SLOTS> {
    pub const fn new() -> Self {
        assert!(SLOTS.is_power_of_two() && SLOTS as u64 <= u32::MAX as u64 && BYTES as u64 <= u32::MAX as u64);
        StringSet { text: [0; BYTES], used: 0, entries: [(0, 0); SLOTS], count: 0, table: [0; SLOTS], refused: 0 }
    }

    pub fn insert(&mut self, s: &[u8]) -> Insert {
        let mut slot = fnv1a(s) as usize & (SLOTS - 1);
        loop {
            match self.table[slot] {
                0 => break,
                i if self.get(i as usize - 1) == Some(s) => return Insert::Present,
                _ => slot = (slot + 1) & (SLOTS - 1),
            }
        }
        // Keep one table slot empty so that probing always ends.
        if self.count + 1 >= SLOTS || s.len() > BYTES - self.used {
            self.refused += 1;
            return Insert::Full;
        }
        self.text[self.used..self.used + s.len()].copy_from_slice(s);
        self.entries[self.count] = (self.used as u32, s.len() as u32);
        self.used += s.len();
        self.count += 1;
        self.table[slot] = self.count as u32;
        Insert::New
    }

    /// The `i`th string inserted.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let &(start, len) = self.entries[..self.count].get(i)?;
        self.text.get(start as usize..(start + len) as usize)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many insertions were refused for lack of room.
    pub fn refused(&self) -> usize {
        self.refused
    }
}

impl<const BYTES: usize, const SLOTS: usize> Default for StringSet<BYTES, SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

fn fnv1a(s: &[u8]) -> u32 {
    s.iter().fold(0x811c_9dc5, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_copy_in_insertion_order() {
        let mut set = StringSet::<256, 8>::new();
        assert_eq!(set.insert(b"pci:v1"), Insert::New);
        assert_eq!(set.insert(b"usb:v2"), Insert::New);
        assert_eq!(set.insert(b"pci:v1"), Insert::Present);
        assert_eq!(set.insert(b""), Insert::New);
        assert_eq!(set.len(), 3);
        assert_eq!(
            (0..4).map(|i| set.get(i)).collect::<Vec<_>>(),
            [Some(&b"pci:v1"[..]), Some(b"usb:v2"), Some(b""), None]
        );
    }

    #[test]
    fn refuses_and_counts_when_full() {
        let mut slots = StringSet::<1024, 4>::new();
        for s in [&b"a"[..], b"b", b"c"] {
            assert_eq!(slots.insert(s), Insert::New);
        }
        assert_eq!(slots.insert(b"d"), Insert::Full);
        assert_eq!(slots.insert(b"a"), Insert::Present, "what is stored is still found");
        let mut bytes = StringSet::<8, 16>::new();
        assert_eq!(bytes.insert(b"12345"), Insert::New);
        assert_eq!(bytes.insert(b"6789"), Insert::Full);
        assert_eq!(bytes.insert(b"678"), Insert::New);
        assert_eq!((slots.refused(), bytes.refused()), (1, 1));
    }

    /// Against std's HashSet over many colliding-prone strings.
    #[test]
    fn agrees_with_a_hash_set() {
        let mut ours = StringSet::<{ 1 << 16 }, 4096>::new();
        let mut reference = std::collections::HashSet::new();
        for i in 0..6000u32 {
            let s = format!("pci:v{:08X}d{:08X}", i % 1500, (i * 7) % 11);
            let expected = if reference.insert(s.clone()) { Insert::New } else { Insert::Present };
            let got = ours.insert(s.as_bytes());
            if got != Insert::Full {
                assert_eq!(got, expected, "{s}");
            }
        }
        assert_eq!(ours.len() + ours.refused(), reference.len());
        for i in 0..ours.len() {
            assert!(reference.contains(std::str::from_utf8(ours.get(i).unwrap()).unwrap()));
        }
    }
}
