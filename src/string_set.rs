//! A set of byte strings in fixed storage, remembering insertion order.
//!
//! Coldplug finds each modalias many times (every rescan, and again in uevents); the set
//! keeps one copy and lets the caller walk only the strings added since its last pass.
//! Capacity is fixed at compile time: a full set refuses new strings and counts them, it
//! never overwrites or allocates.
//!
//! [`LentStringSet`] is the same set over text storage lent to it for `'t`: each string it
//! stores is handed out for `'t` too, so the set can keep growing while they are in use (the
//! driver phase looks up and inserts for aliases while uevents add more).

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
        let Some(slot) = empty_slot(&self.table, s, |i| self.get(i)) else { return Insert::Present };
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

/// A set of byte strings copied into text storage lent for `'t`, in insertion order, up to
/// `SLOTS - 1` of them: [`StringSet`] whose strings outlive its borrows.
pub struct LentStringSet<'t, const SLOTS: usize> {
    /// The storage not used yet.
    free: &'t mut [u8],
    entries: heapless::Vec<&'t [u8], SLOTS>,
    /// Open-addressing hash table of entry index + 1 (0 = empty).
    table: [u32; SLOTS],
    refused: usize,
}

impl<'t, const SLOTS: usize> LentStringSet<'t, SLOTS> {
    /// An empty set whose strings are stored in `text`.
    pub fn new(text: &'t mut [u8]) -> Self {
        const { assert!(SLOTS.is_power_of_two() && SLOTS as u64 <= u32::MAX as u64) };
        LentStringSet { free: text, entries: heapless::Vec::new(), table: [0; SLOTS], refused: 0 }
    }

    pub fn insert(&mut self, s: &[u8]) -> Insert {
        let Some(slot) = empty_slot(&self.table, s, |i| self.get(i)) else { return Insert::Present };
        // Keep one table slot empty so that probing always ends.
        if self.entries.len() + 1 >= SLOTS || s.len() > self.free.len() {
            self.refused += 1;
            return Insert::Full;
        }
        let (stored, rest) = core::mem::take(&mut self.free).split_at_mut(s.len());
        stored.copy_from_slice(s);
        self.free = rest;
        // Room was checked above.
        let _ = self.entries.push(stored);
        self.table[slot] = self.entries.len() as u32;
        Insert::New
    }

    /// The `i`th string inserted, for as long as the storage is lent.
    pub fn get(&self, i: usize) -> Option<&'t [u8]> {
        self.entries.get(i).copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many insertions were refused for lack of room.
    pub fn refused(&self) -> usize {
        self.refused
    }
}

/// The slot of the open-addressing `table` (entry index + 1, 0 = empty) where `s` would go;
/// None when the entry there is `s` already. `get` reads an entry.
fn empty_slot<'s>(table: &[u32], s: &[u8], get: impl Fn(usize) -> Option<&'s [u8]>) -> Option<usize> {
    let mask = table.len() - 1;
    let mut slot = fnv1a(s) as usize & mask;
    loop {
        match table[slot] {
            0 => return Some(slot),
            i if get(i as usize - 1) == Some(s) => return None,
            _ => slot = (slot + 1) & mask,
        }
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

    /// Against std's HashSet over many colliding-prone strings, both sets; the lent set's
    /// strings stay readable while it grows.
    #[test]
    fn agrees_with_a_hash_set() {
        let mut ours = StringSet::<{ 1 << 16 }, 4096>::new();
        let mut text = vec![0u8; 1 << 16];
        let mut lent = LentStringSet::<4096>::new(&mut text);
        let first = {
            lent.insert(b"first");
            lent.get(0).unwrap()
        };
        let mut reference = std::collections::HashSet::from(["first".to_string()]);
        for i in 0..6000u32 {
            let s = format!("pci:v{:08X}d{:08X}", i % 1500, (i * 7) % 11);
            let expected = if reference.insert(s.clone()) { Insert::New } else { Insert::Present };
            for got in [ours.insert(s.as_bytes()), lent.insert(s.as_bytes())] {
                if got != Insert::Full {
                    assert_eq!(got, expected, "{s}");
                }
            }
        }
        assert_eq!(first, b"first", "a string handed out outlives later inserts");
        assert_eq!(ours.len() + ours.refused() + 1, reference.len());
        assert_eq!(lent.len() + lent.refused(), reference.len());
        for i in 0..ours.len() {
            assert!(reference.contains(std::str::from_utf8(ours.get(i).unwrap()).unwrap()));
        }
        for i in 0..lent.len() {
            assert!(reference.contains(std::str::from_utf8(lent.get(i).unwrap()).unwrap()));
        }
        let mut small = [0u8; 8];
        let mut full = LentStringSet::<16>::new(&mut small);
        assert_eq!(
            (full.insert(b"12345"), full.insert(b"6789"), full.insert(b"678")),
            (Insert::New, Insert::Full, Insert::New)
        );
        assert_eq!((full.refused(), full.is_empty()), (1, false));
    }
}
