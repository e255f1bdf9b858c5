//! Alias patterns grouped by literal prefix: what replaces kmod's wildcard trie.
//!
//! kmod walks its trie comparing bytes literally up to the first `*`, `?` or `[` of a pattern
//! (a backslash is an ordinary byte there) and hands what is left of the pattern and of the
//! key to `fnmatch`. So a key can only match patterns whose literal prefix is a prefix of the
//! key. The table stores each distinct prefix once, sorted, with the patterns that start with
//! it; a lookup visits exactly the groups whose prefix starts the key, found by binary search.
//!
//! Stream layout (all lengths in bytes; see docs/index-format.md):
//! `group := lcp:u8 suffix_len:u8 suffix count:varint (rest:varint module_delta:varint){count}`
//! where the prefix is the previous group's first `lcp` bytes followed by `suffix`, `rest` is
//! the string-table offset of the pattern after its prefix, and `module_delta` the zigzag-coded
//! difference between the pattern's module id and the previous pattern's (0 before a block's
//! first pattern): neighbouring prefixes mostly belong to one driver, so this is mostly one
//! byte. Every [`BLOCK_GROUPS`]th group starts a block with `lcp = 0`; the block table holds,
//! per block, its stream offset and the number of the nearest group before it whose prefix
//! starts the block's first prefix (its *parent*; `u32::MAX` for none), both u32.
//!
//! A lookup finds the last group whose prefix is <= the key (binary search over blocks, then
//! a scan of one block). Every group whose prefix starts the key is that group or one of its
//! ancestors (prefixes of it that are groups), so the scan keeps the block's ancestor chain,
//! and the parent link leads to the ancestors before the block: a few block scans per key.

use super::bytes::{Cursor, u32_at};
use super::strings::Strings;
use crate::fnmatch::fnmatch;

/// Longest prefix a group stores; a longer literal part continues in the rest.
pub const MAX_PREFIX: usize = 255;
/// Groups per block: the binary search finds a block, then decodes at most this many groups.
pub const BLOCK_GROUPS: usize = 16;
/// Bytes per block table entry: stream offset u32, parent group u32.
const BLOCK_ENTRY: usize = 8;
const NO_PARENT: u32 = u32::MAX;

fn uncapped_literal_len(pattern: &[u8]) -> usize {
    pattern.iter().position(|b| matches!(b, b'*' | b'?' | b'[')).unwrap_or(pattern.len())
}

/// kmod's match of an alias pattern against a key: literal bytes up to the first wildcard,
/// then `fnmatch` on what remains of both. A pattern without wildcards must equal the key.
pub fn kmod_alias_match(pattern: &[u8], key: &[u8]) -> bool {
    let n = uncapped_literal_len(pattern);
    key.starts_with(&pattern[..n]) && fnmatch(&pattern[n..], &key[n..])
}

/// One pattern that matched a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AliasHit<'a> {
    /// The pattern is `key[..prefix_len]` followed by `rest`.
    pub prefix_len: usize,
    pub rest: &'a [u8],
    pub module: u16,
}

/// Why a table was refused by [`AliasTable::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// The block table is not a whole number of u32 offsets, or its offsets are wrong.
    Blocks,
    /// A group could not be decoded, is out of order, or names a missing string or module.
    Group { offset: usize },
}

/// A validated alias table: every lookup decodes only what [`AliasTable::new`] checked.
#[derive(Debug, Clone, Copy)]
pub struct AliasTable<'a> {
    blocks: &'a [u8],
    stream: &'a [u8],
    strings: Strings<'a>,
}

/// A decoded group header; its patterns follow at `patterns`, their module ids relative to
/// `module_base`.
#[derive(Debug, Clone, Copy)]
struct Group<'a> {
    count: u32,
    patterns: Cursor<'a>,
    module_base: u32,
}

/// Decodes one pattern: (rest offset, module id), updating the running module id.
fn next_pattern(c: &mut Cursor<'_>, module: &mut u32) -> Option<(u32, u32)> {
    let rest = c.varint()?;
    let zigzag = c.varint()?;
    let delta = i64::from(zigzag >> 1) ^ -i64::from(zigzag & 1);
    *module = u32::try_from(i64::from(*module) + delta).ok()?;
    Some((rest, *module))
}

/// Walks groups from a block start, keeping the current prefix and module id.
struct Groups<'a> {
    cursor: Cursor<'a>,
    prefix: [u8; MAX_PREFIX],
    len: usize,
    module: u32,
}

impl<'a> Groups<'a> {
    fn at(stream: &'a [u8], offset: usize) -> Self {
        Groups { cursor: Cursor::at(stream, offset), prefix: [0; MAX_PREFIX], len: 0, module: 0 }
    }

    fn prefix(&self) -> &[u8] {
        &self.prefix[..self.len]
    }

    /// Decodes the next group header and skips its patterns; None at a decoding error.
    fn next(&mut self) -> Option<(u8, Group<'a>)> {
        let lcp = self.cursor.u8()?;
        let suffix_len = usize::from(self.cursor.u8()?);
        let suffix = self.cursor.take(suffix_len)?;
        let lcp_len = usize::from(lcp);
        let len = lcp_len.checked_add(suffix_len).filter(|&l| l <= MAX_PREFIX && lcp_len <= self.len)?;
        self.prefix[lcp_len..len].copy_from_slice(suffix);
        self.len = len;
        let count = self.cursor.varint()?;
        let patterns = self.cursor;
        let module_base = self.module;
        for _ in 0..count {
            next_pattern(&mut self.cursor, &mut self.module)?;
        }
        Some((lcp, Group { count, patterns, module_base }))
    }
}

impl<'a> AliasTable<'a> {
    /// Checks the whole table once: block offsets, group order, prefixes without wildcards,
    /// string offsets and module ids below `modules`. Lookups then never meet an inconsistency.
    pub fn new(blocks: &'a [u8], stream: &'a [u8], strings: Strings<'a>, modules: usize) -> Result<Self, TableError> {
        if !blocks.len().is_multiple_of(BLOCK_ENTRY) {
            return Err(TableError::Blocks);
        }
        let table = AliasTable { blocks, stream, strings };
        let mut groups = Groups::at(stream, 0);
        let mut previous = [0u8; MAX_PREFIX];
        let mut previous_len = None;
        let mut index = 0usize;
        while !groups.cursor.is_empty() {
            let offset = groups.cursor.position();
            let block_start = index.is_multiple_of(BLOCK_GROUPS);
            let parent_ok = |p: u32| p == NO_PARENT || (p as usize) < index;
            if block_start
                && (table.block(index / BLOCK_GROUPS) != Some(offset)
                    || !table.parent(index / BLOCK_GROUPS).is_some_and(parent_ok))
            {
                return Err(TableError::Blocks);
            }
            if block_start {
                groups.module = 0;
            }
            let bad = TableError::Group { offset };
            let (lcp, group) = groups.next().ok_or(bad)?;
            if (block_start && lcp != 0) || previous_len.is_some_and(|p| previous[..p] >= *groups.prefix()) {
                return Err(bad);
            }
            // A prefix is compared literally: with a wildcard in it, lookups would not be kmod's.
            if uncapped_literal_len(groups.prefix()) < groups.len {
                return Err(bad);
            }
            let (mut patterns, mut module) = (group.patterns, group.module_base);
            for _ in 0..group.count {
                let (rest, module) = next_pattern(&mut patterns, &mut module).ok_or(bad)?;
                if strings.get(rest).is_none() || module as usize >= modules || module > u32::from(u16::MAX) {
                    return Err(bad);
                }
            }
            previous[..groups.len].copy_from_slice(groups.prefix());
            previous_len = Some(groups.len);
            index += 1;
        }
        if table.block_count() != index.div_ceil(BLOCK_GROUPS) {
            return Err(TableError::Blocks);
        }
        Ok(table)
    }

    fn block_count(&self) -> usize {
        self.blocks.len() / BLOCK_ENTRY
    }

    fn block(&self, i: usize) -> Option<usize> {
        u32_at(self.blocks, i.checked_mul(BLOCK_ENTRY)?).map(|o| o as usize)
    }

    /// The parent group of block `i`'s first group.
    fn parent(&self, i: usize) -> Option<u32> {
        u32_at(self.blocks, i.checked_mul(BLOCK_ENTRY)? + 4)
    }

    /// The first prefix of block `i` (a block starts with `lcp = 0`, so it is stored whole).
    fn block_prefix(&self, i: usize) -> Option<&'a [u8]> {
        let mut c = Cursor::at(self.stream, self.block(i)?);
        c.u8()?;
        let len = usize::from(c.u8()?);
        c.take(len)
    }

    /// The last block whose first prefix is <= `key`.
    fn floor_block(&self, key: &[u8]) -> Option<usize> {
        // Blocks whose first prefix is <= key form a leading run: find its last one.
        let (mut lo, mut hi) = (0, self.block_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.block_prefix(mid)? <= key { lo = mid + 1 } else { hi = mid }
        }
        lo.checked_sub(1)
    }

    /// Scans block `block` up to group `last` (the last group <= `key` when None), and
    /// returns the ancestor chain of that group within the block (itself last), the common
    /// prefix length of that group with `key`, and with the block's first group.
    fn scan(&self, block: usize, last: Option<usize>, key: &[u8]) -> Option<Chain<'a>> {
        let mut groups = Groups::at(self.stream, self.block(block)?);
        let mut chain = Chain { links: [None; BLOCK_GROUPS], len: 0, key_lcp: 0, head_lcp: usize::MAX };
        for i in block * BLOCK_GROUPS..(block + 1) * BLOCK_GROUPS {
            if groups.cursor.is_empty() || last.is_some_and(|l| i > l) {
                break;
            }
            let (lcp, group) = groups.next()?;
            if last.is_none() && groups.prefix() > key {
                break;
            }
            let lcp = usize::from(lcp);
            if i > block * BLOCK_GROUPS {
                chain.head_lcp = chain.head_lcp.min(lcp);
            }
            // Links are prefixes of the previous group: those longer than lcp are not of this one.
            while chain.len > 0 && chain.links[chain.len - 1].as_ref().is_some_and(|(len, _)| *len > lcp) {
                chain.len -= 1;
            }
            chain.links[chain.len] = Some((groups.len, group));
            chain.len += 1;
            chain.key_lcp = groups.prefix().iter().zip(key).take_while(|(a, b)| a == b).count();
        }
        (chain.len > 0).then_some(chain)
    }

    /// Calls `hit` for every pattern that matches `key` by kmod's rule.
    pub fn for_each_match(&self, key: &[u8], mut hit: impl FnMut(AliasHit<'a>)) {
        let Some(mut block) = self.floor_block(key) else { return };
        let mut last = None;
        let mut bound = key.len();
        loop {
            let Some(chain) = self.scan(block, last, key) else { return };
            bound = bound.min(chain.key_lcp);
            for (len, group) in chain.links[..chain.len].iter().flatten() {
                if *len <= bound {
                    self.match_group(*len, group, key, &mut hit);
                }
            }
            // Ancestors before the block are ancestors of its first group, and prefixes of the
            // scanned one only up to their common length.
            bound = bound.min(chain.head_lcp);
            match self.parent(block) {
                Some(p) if p != NO_PARENT => {
                    last = Some(p as usize);
                    block = p as usize / BLOCK_GROUPS;
                }
                _ => return,
            }
        }
    }

    /// Calls `entry` with every pattern of the table, as its literal prefix, the rest and its
    /// module, in table order: by prefix, then as stored (priority, then file).
    pub fn for_each(&self, mut entry: impl FnMut(&[u8], &'a [u8], u16)) {
        let mut groups = Groups::at(self.stream, 0);
        let mut index = 0usize;
        while !groups.cursor.is_empty() {
            if index.is_multiple_of(BLOCK_GROUPS) {
                groups.module = 0;
            }
            let Some((_, group)) = groups.next() else { return };
            let (mut patterns, mut module) = (group.patterns, group.module_base);
            for _ in 0..group.count {
                let Some((rest, module)) = next_pattern(&mut patterns, &mut module) else { return };
                entry(groups.prefix(), self.strings.get(rest).unwrap_or_default(), module as u16);
            }
            index += 1;
        }
    }

    fn match_group(&self, len: usize, group: &Group<'a>, key: &[u8], hit: &mut impl FnMut(AliasHit<'a>)) {
        let (mut patterns, mut module) = (group.patterns, group.module_base);
        for _ in 0..group.count {
            let Some((rest, module)) = next_pattern(&mut patterns, &mut module) else { return };
            let rest = self.strings.get(rest).unwrap_or_default();
            if kmod_alias_match(rest, &key[len..]) {
                hit(AliasHit { prefix_len: len, rest, module: module as u16 });
            }
        }
    }
}

/// A group and the groups of its block that are prefixes of it: (prefix length, group).
struct Chain<'a> {
    links: [Option<(usize, Group<'a>)>; BLOCK_GROUPS],
    len: usize,
    /// Common prefix length of the last group with the key.
    key_lcp: usize,
    /// Common prefix length of the last group with the block's first.
    head_lcp: usize,
}

#[cfg(feature = "alloc")]
pub use writer::{encode, rests_by_frequency};

#[cfg(feature = "alloc")]
mod writer {
    use super::{BLOCK_GROUPS, MAX_PREFIX, uncapped_literal_len};
    use crate::index::bytes::push_varint;
    use crate::sort::{sort, sort_by};
    use alloc::vec::Vec;

    /// Length of the part of `pattern` kmod's trie compares literally, capped at [`MAX_PREFIX`].
    fn literal_prefix_len(pattern: &[u8]) -> usize {
        uncapped_literal_len(pattern).min(MAX_PREFIX)
    }

    /// The rests (pattern after its prefix) of `patterns`, most frequent first, so that the
    /// caller can give the common ones the smallest string offsets (one-byte varints).
    pub fn rests_by_frequency<'p>(patterns: impl Iterator<Item = &'p [u8]>) -> Vec<&'p [u8]> {
        let mut all: Vec<&[u8]> = patterns.map(|p| &p[literal_prefix_len(p)..]).collect();
        sort(&mut all);
        let mut rests: Vec<(&[u8], usize)> = all.chunk_by(|a, b| a == b).map(|run| (run[0], run.len())).collect();
        sort_by(&mut rests, &mut |a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        rests.into_iter().map(|(r, _)| r).collect()
    }

    /// Encodes `(pattern, module)` pairs as (block table, group stream). Patterns with the
    /// same prefix keep their order. `rest_offset` gives each rest's string-table offset.
    pub fn encode(patterns: &[(&[u8], u16)], mut rest_offset: impl FnMut(&[u8]) -> u32) -> (Vec<u8>, Vec<u8>) {
        // (prefix, position, rest offset, module), sorted: each prefix's run is a group.
        let mut entries: Vec<(&[u8], usize, u32, u16)> = Vec::with_capacity(patterns.len());
        for (i, &(pattern, module)) in patterns.iter().enumerate() {
            let (prefix, rest) = pattern.split_at(literal_prefix_len(pattern));
            entries.push((prefix, i, rest_offset(rest), module));
        }
        sort_by(&mut entries, &mut |a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        let groups = entries.chunk_by(|a, b| a.0 == b.0).map(|run| (run[0].0, run));
        let (mut blocks, mut stream) = (Vec::new(), Vec::new());
        let mut previous: &[u8] = &[];
        let mut previous_module = 0i64;
        // The chain of groups that are prefixes of the current one: (index, prefix).
        let mut ancestors: Vec<(usize, &[u8])> = Vec::new();
        for (i, (prefix, members)) in groups.into_iter().enumerate() {
            while ancestors.last().is_some_and(|(_, a)| !prefix.starts_with(a)) {
                ancestors.pop();
            }
            let lcp = if i % BLOCK_GROUPS == 0 {
                let parent = ancestors.last().map_or(u32::MAX, |&(p, _)| p as u32);
                blocks.extend_from_slice(&(stream.len() as u32).to_le_bytes());
                blocks.extend_from_slice(&parent.to_le_bytes());
                previous_module = 0;
                0
            } else {
                prefix.iter().zip(previous).take_while(|(a, b)| a == b).count()
            };
            stream.push(lcp as u8);
            stream.push((prefix.len() - lcp) as u8);
            stream.extend_from_slice(&prefix[lcp..]);
            push_varint(&mut stream, members.len() as u32);
            for &(_, _, rest, module) in members {
                push_varint(&mut stream, rest);
                let delta = i64::from(module) - previous_module;
                push_varint(&mut stream, ((delta << 1) ^ (delta >> 63)) as u32);
                previous_module = i64::from(module);
            }
            previous = prefix;
            ancestors.push((i, prefix));
        }
        (blocks, stream)
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::index::strings::StringsWriter;
    use std::vec::Vec;

    struct Built {
        blocks: Vec<u8>,
        stream: Vec<u8>,
        strings: Vec<u8>,
    }

    fn build(patterns: &[(&[u8], u16)]) -> Built {
        let mut w = StringsWriter::default();
        for r in rests_by_frequency(patterns.iter().map(|p| p.0)) {
            w.intern(r);
        }
        let (blocks, stream) = encode(patterns, |r| w.intern(r));
        Built { blocks, stream, strings: w.into_bytes().unwrap() }
    }

    fn table(b: &Built, modules: usize) -> Result<AliasTable<'_>, TableError> {
        AliasTable::new(&b.blocks, &b.stream, Strings::new(&b.strings).unwrap(), modules)
    }

    fn hits(t: &AliasTable<'_>, key: &[u8]) -> Vec<(Vec<u8>, u16)> {
        let mut out = Vec::new();
        t.for_each_match(key, |h| out.push(([&key[..h.prefix_len], h.rest].concat(), h.module)));
        out.sort();
        out
    }

    /// Every lookup equals a linear scan with kmod's rule, over enough groups for many blocks.
    #[test]
    fn lookups_equal_a_linear_scan() {
        let mut owned: Vec<(Vec<u8>, u16)> = Vec::new();
        for i in 0..700u16 {
            owned.push((format!("pci:v{:04X}d{:04X}sv*sd*bc*sc*i*", i % 40, i).into_bytes(), i));
            owned.push((format!("pci:v{:04X}d*sv*sd*bc{:02X}sc*i*", i % 40, i % 7).into_bytes(), i));
        }
        for (p, m) in [("pci:v*", 1), ("*", 2), ("", 3), ("pci:v0001d0001sv*", 4), ("usb:v1234p5678d*", 5)] {
            owned.push((p.as_bytes().to_vec(), m));
        }
        owned.push((b"pci:v0001d0001sv*".to_vec(), 6));
        let patterns: Vec<(&[u8], u16)> = owned.iter().map(|(p, m)| (p.as_slice(), *m)).collect();
        let built = build(&patterns);
        let t = table(&built, 1000).unwrap();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for i in 0..800u16 {
            keys.push(format!("pci:v{:04X}d{:04X}sv0000sd0000bc{:02X}sc00i00", i % 45, i, i % 9).into_bytes());
        }
        keys.extend([&b""[..], b"pci:v", b"pci:v0001d0001sv", b"usb:v1234p5678d0100", b"zzz"].map(<[u8]>::to_vec));
        let mut total = 0;
        for key in &keys {
            let mut expected: Vec<(Vec<u8>, u16)> =
                owned.iter().filter(|(p, _)| kmod_alias_match(p, key)).cloned().collect();
            expected.sort();
            total += expected.len();
            assert_eq!(hits(&t, key), expected, "key {}", String::from_utf8_lossy(key));
        }
        assert!(total > 2000, "the keys exercise the table: {total} hits");
    }

    /// `for_each` gives back every pattern, whole, over several blocks.
    #[test]
    fn every_pattern_is_listed() {
        let owned: Vec<(Vec<u8>, u16)> =
            (0..300u16).map(|i| (format!("usb:v{:04X}p{:04X}d*", i % 37, i * 7).into_bytes(), i % 50)).collect();
        let mut patterns: Vec<(&[u8], u16)> = owned.iter().map(|(p, m)| (p.as_slice(), *m)).collect();
        patterns.extend([(&b"*"[..], 1), (b"plain", 2), (b"plain", 3)]);
        let built = build(&patterns);
        let mut listed = Vec::new();
        table(&built, 50).unwrap().for_each(|prefix, rest, m| listed.push(([prefix, rest].concat(), m)));
        let mut expected: Vec<(Vec<u8>, u16)> = patterns.iter().map(|(p, m)| (p.to_vec(), *m)).collect();
        expected.sort();
        listed.sort();
        assert_eq!(listed, expected);
    }

    #[test]
    fn kmod_compares_a_backslash_literally_before_the_first_wildcard() {
        assert!(kmod_alias_match(br"a\b*", br"a\bc"));
        assert!(!kmod_alias_match(br"a\b*", b"abc"));
        assert!(kmod_alias_match(br"a*\b", b"axb"), "after the first wildcard, fnmatch escapes");
        assert!(kmod_alias_match(b"abc", b"abc") && !kmod_alias_match(b"abc", b"abcd"));
    }

    #[test]
    fn long_literal_prefixes_continue_in_the_rest() {
        let long = [b'x'; 300];
        let pattern = [&long[..], b"*"].concat();
        let built = build(&[(&pattern, 0)]);
        let t = table(&built, 1).unwrap();
        assert_eq!(hits(&t, &[&long[..], b"tail"].concat()).len(), 1);
        assert!(hits(&t, &long[..299]).is_empty());
    }

    /// Found by fuzzing (fuzz/targets/src/index.rs): a damaged index with a valid checksum held
    /// the prefix `[0-9]`, which lookups compared literally, so the key `[0-9]x` hit the pattern
    /// `[0-9]*` that kmod's rule does not match it with.
    #[test]
    fn prefixes_with_wildcards_are_refused() {
        let built = build(&[(b"q0-9]*", 0)]);
        assert_eq!(hits(&table(&built, 1).unwrap(), b"q0-9]x"), [(b"q0-9]*".to_vec(), 0)]);
        for wildcard in [b'[', b'*', b'?'] {
            let mut stream = built.stream.clone();
            let q = stream.iter().position(|&b| b == b'q').unwrap();
            stream[q] = wildcard;
            let b = Built { blocks: built.blocks.clone(), stream, strings: built.strings.clone() };
            assert_eq!(table(&b, 1).err(), Some(TableError::Group { offset: 0 }), "prefix {:?}", wildcard as char);
        }
        assert!(!kmod_alias_match(b"[0-9]*", b"[0-9]x"));
    }

    #[test]
    fn corrupt_tables_are_refused() {
        let patterns: Vec<(Vec<u8>, u16)> =
            (0..40u16).map(|i| (format!("acpi*:PNP{i:04}:*").into_bytes(), i)).collect();
        let refs: Vec<(&[u8], u16)> = patterns.iter().map(|(p, m)| (p.as_slice(), *m)).collect();
        let built = build(&refs);
        assert!(table(&built, 40).is_ok());
        assert!(matches!(table(&built, 39), Err(TableError::Group { .. })), "module id out of range");
        let mut b =
            Built { blocks: built.blocks.clone(), stream: built.stream.clone(), strings: built.strings.clone() };
        b.blocks.pop();
        assert_eq!(table(&b, 40).err(), Some(TableError::Blocks));
        // Every single-byte change of the stream is either refused or still a valid table;
        // lookups on what is accepted never panic.
        for i in 0..built.stream.len() {
            for delta in [1u8, 0x80] {
                let mut b = Built {
                    blocks: built.blocks.clone(),
                    stream: built.stream.clone(),
                    strings: built.strings.clone(),
                };
                b.stream[i] = b.stream[i].wrapping_add(delta);
                if let Ok(t) = table(&b, 40) {
                    hits(&t, b"acpi:PNP0007:");
                }
            }
        }
        for cut in 0..built.stream.len() {
            let b = Built {
                blocks: built.blocks.clone(),
                stream: built.stream[..cut].to_vec(),
                strings: built.strings.clone(),
            };
            if let Ok(t) = table(&b, 40) {
                hits(&t, b"acpi:PNP0007:");
            }
        }
    }
}
