//! kmod's `.bin` index files (modules.dep.bin, modules.alias.bin, ...): a trie of keys whose nodes
//! hold values with priorities, written byte for byte as kmod 30's depmod writes it
//! (`index_insert` and `index_write` in tools/depmod.c, read by libkmod/libkmod-index.c).
//!
//! Layout, all numbers big-endian u32: magic 0xB007F457, version 0x00020001, the root node's
//! offset, then the nodes in post order (a node's children, by character, before the node). A
//! node is its prefix (the key bytes after the character that leads to it, NUL-ended) when not
//! empty, then its children's range (first and last character, one byte each) and an offset per
//! character of that range (0 where no child), then its value count and each value's priority
//! and NUL-ended text. A node's offset carries flags in its high nibble: 0x8 prefix, 0x4
//! values, 0x2 children.
//!
//! kmod's trie is a radix tree: a node's prefix is what all keys below it share, and a node
//! exists where a key ends or keys part. Its shape does not depend on the order of insertion,
//! so the entries are sorted by key and the tree is written straight from the sorted list.
//! Within a node, values are sorted by priority; kmod inserts a value before those of equal
//! priority, so among equals the last inserted comes first.

use crate::sort::sort_by;
use alloc::vec::Vec;

const MAGIC: u32 = 0xB007_F457;
const VERSION: u32 = 0x0002_0001;
const FLAG_PREFIX: u32 = 0x8000_0000;
const FLAG_VALUES: u32 = 0x4000_0000;
const FLAG_CHILDS: u32 = 0x2000_0000;
/// Node offsets have 28 bits.
const MAX_OFFSET: usize = 0x0FFF_FFFF;

/// One value of a key, as [`Trie::insert`] takes it, with its place in the insertion order.
struct Entry<'a> {
    key: &'a [u8],
    value: &'a [u8],
    priority: u32,
    seq: usize,
}

/// Why a trie was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrieError {
    /// A node would lie past the 28 bits of a node offset (256 MiB).
    TooLarge,
}

impl core::fmt::Display for TrieError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TrieError::TooLarge => f.write_str("the index would exceed 256 MiB"),
        }
    }
}

/// The keys and values of one index, collected before it is written.
#[derive(Default)]
pub struct Trie<'a> {
    entries: Vec<Entry<'a>>,
}

/// A written index.
pub struct Written {
    pub bytes: Vec<u8>,
    /// The insertions (numbered from 0) whose key already had their value: kmod's
    /// "duplicate", which `depmod -w` reports. In insertion order.
    pub duplicates: Vec<usize>,
}

impl<'a> Trie<'a> {
    /// Adds `value` under `key`. Keys and values are 7-bit ASCII without NUL, which the
    /// caller checks (kmod: "only 7-bit ASCII is supported").
    pub fn insert(&mut self, key: &'a [u8], value: &'a [u8], priority: u32) {
        let seq = self.entries.len();
        self.entries.push(Entry { key, value, priority, seq });
    }

    /// The index file's bytes.
    pub fn write(mut self) -> Result<Written, TrieError> {
        // Entries of one key keep their insertion order, which the values' order needs.
        sort_by(&mut self.entries, &mut |a, b| a.key.cmp(b.key).then(a.seq.cmp(&b.seq)));
        let mut duplicates = Vec::new();
        let mut run_start = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if self.entries[run_start].key != e.key {
                run_start = i;
            }
            if self.entries[run_start..i].iter().any(|earlier| earlier.value == e.value) {
                duplicates.push(e.seq);
            }
        }
        crate::sort::sort(&mut duplicates);
        let mut out = Vec::with_capacity(12 + self.entries.len() * 16);
        for word in [MAGIC, VERSION, 0] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        let root = write_node(&self.entries, 0, true, &mut out)?;
        out[8..12].copy_from_slice(&root.to_be_bytes());
        Ok(Written { bytes: out, duplicates })
    }
}

/// Writes the node for `entries` (sorted by key, all sharing their first `depth` bytes) and,
/// first, its children; returns the node's offset with its flags.
fn write_node(entries: &[Entry<'_>], depth: usize, root: bool, out: &mut Vec<u8>) -> Result<u32, TrieError> {
    // The prefix: what all keys share from `depth` (the first and last key of a sorted run
    // share what all share). The root's is always empty.
    let prefix_len = match (root, entries.first(), entries.last()) {
        (false, Some(first), Some(last)) => {
            first.key[depth..].iter().zip(&last.key[depth..]).take_while(|(a, b)| a == b).count()
        }
        _ => 0,
    };
    let end = depth + prefix_len;
    // Keys ending here come first in the sorted run.
    let ending = entries.iter().take_while(|e| e.key.len() == end).count();
    let (values, below) = entries.split_at(ending);
    let mut children: Vec<(u8, u32)> = Vec::new();
    let mut rest = below;
    while let Some(first) = rest.first() {
        let ch = first.key[end];
        let run = rest.iter().take_while(|e| e.key[end] == ch).count();
        let (child, after) = rest.split_at(run);
        children.push((ch, write_node(child, end + 1, false, out)?));
        rest = after;
    }
    if out.len() > MAX_OFFSET {
        return Err(TrieError::TooLarge);
    }
    let mut offset = out.len() as u32;
    if prefix_len > 0 {
        out.extend_from_slice(&entries[0].key[depth..end]);
        out.push(0);
        offset |= FLAG_PREFIX;
    }
    if let (Some(&(first, _)), Some(&(last, _))) = (children.first(), children.last()) {
        out.extend_from_slice(&[first, last]);
        let mut next = children.iter().peekable();
        for ch in first..=last {
            let child = next.next_if(|(c, _)| *c == ch).map_or(0, |&(_, off)| off);
            out.extend_from_slice(&child.to_be_bytes());
        }
        offset |= FLAG_CHILDS;
    }
    if !values.is_empty() {
        // By priority; among equals, the last inserted first (kmod inserts before them).
        let mut order: Vec<&Entry<'_>> = values.iter().collect();
        sort_by(&mut order, &mut |a, b| a.priority.cmp(&b.priority).then(b.seq.cmp(&a.seq)));
        out.extend_from_slice(&(values.len() as u32).to_be_bytes());
        for v in order {
            out.extend_from_slice(&v.priority.to_be_bytes());
            out.extend_from_slice(v.value);
            out.push(0);
        }
        offset |= FLAG_VALUES;
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec;

    fn be(bytes: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    /// Every (key, [(priority, value)]) of an index, read as libkmod reads one.
    fn read(bytes: &[u8], offset: u32, key: &mut Vec<u8>, out: &mut Vec<(String, Vec<(u32, String)>)>) {
        let mut at = (offset & 0x0FFF_FFFF) as usize;
        let depth = key.len();
        if offset & FLAG_PREFIX != 0 {
            let len = bytes[at..].iter().position(|&b| b == 0).unwrap();
            key.extend_from_slice(&bytes[at..at + len]);
            at += len + 1;
        }
        let mut children = vec![];
        if offset & FLAG_CHILDS != 0 {
            let (first, last) = (bytes[at], bytes[at + 1]);
            for (i, ch) in (first..=last).enumerate() {
                children.push((ch, be(bytes, at + 2 + 4 * i)));
            }
            at += 2 + 4 * children.len();
        }
        if offset & FLAG_VALUES != 0 {
            let mut values = vec![];
            let count = be(bytes, at);
            at += 4;
            for _ in 0..count {
                let priority = be(bytes, at);
                let len = bytes[at + 4..].iter().position(|&b| b == 0).unwrap();
                values.push((priority, String::from_utf8(bytes[at + 4..at + 4 + len].to_vec()).unwrap()));
                at += 4 + len + 1;
            }
            out.push((String::from_utf8(key.clone()).unwrap(), values));
        }
        for (ch, child) in children.into_iter().filter(|&(_, off)| off != 0) {
            key.push(ch);
            read(bytes, child, key, out);
            key.pop();
        }
        key.truncate(depth);
    }

    #[test]
    fn keys_and_values_come_back_in_kmods_order() {
        let mut trie = Trie::default();
        for (key, value, priority) in [
            ("pci:v1", "b", 2),
            ("pci:v1", "a", 1),
            ("pci:v1", "c", 1),
            ("pci", "p", 0),
            ("usb", "u", 0),
            ("pci:v1", "a", 1),
        ] {
            trie.insert(key.as_bytes(), value.as_bytes(), priority);
        }
        let written = trie.write().unwrap();
        let bytes = &written.bytes;
        assert_eq!((be(bytes, 0), be(bytes, 4)), (MAGIC, VERSION));
        let mut entries = vec![];
        read(bytes, be(bytes, 8), &mut vec![], &mut entries);
        let text = |v: &[(u32, &str)]| v.iter().map(|&(p, s)| (p, String::from(s))).collect::<Vec<_>>();
        assert_eq!(
            entries,
            [
                (String::from("pci"), text(&[(0, "p")])),
                // By priority; among equals the last inserted first.
                (String::from("pci:v1"), text(&[(1, "a"), (1, "c"), (1, "a"), (2, "b")])),
                (String::from("usb"), text(&[(0, "u")])),
            ]
        );
        assert_eq!(written.duplicates, [5], "the second (pci:v1, a)");
        // Children before their parent: the root is the last node.
        assert!(be(bytes, 8) & 0x0FFF_FFFF > 12);
        assert_eq!(Trie::default().write().unwrap().bytes, [0xB0, 0x07, 0xF4, 0x57, 0, 2, 0, 1, 0, 0, 0, 12]);
    }
}
