//! `modinit::index::writer::write` and `Index::open` together: the fuzzer chooses an index's
//! contents ([`IndexContents`]), the writer serializes them, and the reader must open the
//! result and give every part back. Then the rest of the input damages the file (bytes
//! changed, 32-bit fields overwritten, the file cut or grown) with the header's length and
//! CRC made right again, and opening what is left must never panic.
//!
//! The alias tables are compared with the obvious reference: for each key, the patterns
//! kmod's rule matches in a linear scan over the contents' list.

use crate::input::Input;
use modinit::decompress::Compression;
use modinit::index::writer::{IndexContents, ModuleEntry, write};
use modinit::index::{Index, ModuleId, kmod_alias_match};

const NAME: &[u8] = b"abc-_.01";
const DIR: &[u8] = b"kd";
const PATTERN: &[u8] = b"pci:v0*?[]!^-_\\a1";
const KEY: &[u8] = b"pci:v0-_a1";
const TEXT: &[u8] = b"ab =-_:*\\\t";
/// Bytes no real index holds: a NUL (which the writer must refuse) and separators.
const ODD: &[u8] = b"\0/ a";
const COMPRESSIONS: [Compression; 4] = [Compression::None, Compression::Gzip, Compression::Zstd, Compression::Xz];

pub fn fuzz(data: &[u8]) {
    let mut input = Input::new(data);
    let contents = contents(&mut input);
    let Ok(file) = write(&contents) else { return };
    let index = Index::open(&file).unwrap_or_else(|e| panic!("the writer's output does not open: {e}\n{contents:#?}"));
    reads_back(&index, &contents);
    for _ in 0..4 {
        let key = key(&mut input, &contents);
        same_alias_hits(&index, &contents, &key);
    }
    crate::index::exercise(&index, &file);

    let mut damaged = file.clone();
    let mut changes = 0;
    while !input.is_empty() && changes < 8 {
        damage(&mut input, &mut damaged);
        changes += 1;
    }
    if changes > 0 {
        crate::index::seal(&mut damaged);
        if let Ok(index) = Index::open(&damaged) {
            crate::index::exercise(&index, &damaged);
        }
    }
}

/// A string, now and then from [`ODD`] instead of `alphabet`.
fn string(input: &mut Input<'_>, alphabet: &[u8], max: usize) -> Vec<u8> {
    let alphabet = if input.one_in(64) { ODD } else { alphabet };
    input.string(alphabet, max)
}

/// A module id: of an existing module, but now and then one past the last.
fn module_id(input: &mut Input<'_>, count: usize) -> u16 {
    let id = if input.one_in(32) { count } else { input.below(count) };
    u16::try_from(id).unwrap_or(u16::MAX)
}

fn contents(input: &mut Input<'_>) -> IndexContents {
    let mut c = IndexContents { kernel_release: string(input, NAME, 8), ..IndexContents::default() };
    let count = input.below(24);
    for _ in 0..count {
        let stem = string(input, NAME, 6);
        let dir = match input.below(4) {
            0 => None,
            1 => Some(Vec::new()),
            _ => {
                let parts: Vec<Vec<u8>> = (0..=input.below(3)).map(|_| string(input, DIR, 3)).collect();
                Some(parts.join(&b'/'))
            }
        };
        let builtin = dir.is_none() != input.one_in(8);
        let compression = COMPRESSIONS[input.below(COMPRESSIONS.len())];
        let deps = (0..input.below(4)).map(|_| module_id(input, count)).collect();
        c.modules.push(ModuleEntry { stem, dir, compression, builtin, deps });
    }
    if count > 0 {
        for list in [&mut c.module_aliases, &mut c.builtin_aliases] {
            for _ in 0..input.below(16) {
                list.push((string(input, PATTERN, 12), module_id(input, count)));
            }
        }
    }
    for _ in 0..input.below(4) {
        c.config.aliases.push((string(input, PATTERN, 6), string(input, NAME, 6)));
    }
    for _ in 0..input.below(4) {
        c.config.options.push((string(input, NAME, 6), string(input, TEXT, 12)));
    }
    for _ in 0..input.below(4) {
        c.config.blacklist.push(string(input, NAME, 6));
    }
    for _ in 0..input.below(4) {
        c.config.softdeps.push((string(input, PATTERN, 6), string(input, TEXT, 8), string(input, TEXT, 8)));
    }
    for _ in 0..input.below(4) {
        c.modules_load.push(string(input, NAME, 6));
    }
    for _ in 0..input.below(4) {
        c.config.weakdeps.push((string(input, PATTERN, 6), string(input, TEXT, 8)));
    }
    c
}

/// Everything the contents hold comes back from the index.
fn reads_back(index: &Index<'_>, c: &IndexContents) {
    assert_eq!(index.kernel_release(), &c.kernel_release[..]);
    assert_eq!(index.module_count(), c.modules.len());
    for (i, entry) in c.modules.iter().enumerate() {
        let m = index.module(ModuleId(i as u16)).expect("every module of the contents");
        assert_eq!((m.stem, m.compression, m.builtin), (&entry.stem[..], entry.compression, entry.builtin));
        assert!(m.deps().map(|d| d.0).eq(entry.deps.iter().copied()), "dependencies of {i}");
        let mut buf = [0u8; 4096];
        assert_eq!(m.path(&mut buf), expected_path(entry).as_deref(), "path of {i}");
        let found = index.find(&entry.stem, entry.builtin).expect("a module is found by its name");
        assert!(found.is_named(&entry.stem) && found.builtin == entry.builtin);
    }
    let pairs = |v: &[(Vec<u8>, Vec<u8>)]| v.iter().map(|(a, b)| (a.clone(), b.clone())).collect::<Vec<_>>();
    let owned = |(a, b): (&[u8], &[u8])| (a.to_vec(), b.to_vec());
    assert_eq!(index.config_aliases().map(owned).collect::<Vec<_>>(), pairs(&c.config.aliases));
    assert_eq!(index.weakdeps().map(|w| owned((w.pattern, w.names))).collect::<Vec<_>>(), pairs(&c.config.weakdeps));
    assert_eq!(index.options().map(owned).collect::<Vec<_>>(), pairs(&c.config.options));
    assert!(index.blacklist().eq(c.config.blacklist.iter().map(Vec::as_slice)));
    assert!(index.modules_load().eq(c.modules_load.iter().map(Vec::as_slice)));
    let softdeps: Vec<_> = index.softdeps().map(|s| (s.pattern.to_vec(), s.pre.to_vec(), s.post.to_vec())).collect();
    assert_eq!(softdeps, c.config.softdeps);
}

fn expected_path(entry: &ModuleEntry) -> Option<Vec<u8>> {
    if entry.builtin {
        return None;
    }
    let mut path = match entry.dir.as_deref() {
        Some(dir) if !dir.is_empty() => [dir, b"/"].concat(),
        _ => Vec::new(),
    };
    path.extend_from_slice(&[&entry.stem[..], b".ko", entry.compression.extension()].concat());
    Some(path)
}

/// A lookup key: one of the patterns with its wildcards filled in from the input, or a
/// string of key bytes.
fn key(input: &mut Input<'_>, c: &IndexContents) -> Vec<u8> {
    let patterns: Vec<&[u8]> = c.module_aliases.iter().chain(&c.builtin_aliases).map(|(p, _)| &p[..]).collect();
    if patterns.is_empty() || input.one_in(4) {
        return string(input, KEY, 12);
    }
    let mut key = Vec::new();
    for &b in patterns[input.below(patterns.len())] {
        match b {
            b'*' => key.extend(input.string(KEY, 3)),
            b'?' => key.push(KEY[input.below(KEY.len())]),
            b'[' | b']' | b'!' | b'^' | b'\\' if input.one_in(2) => {}
            _ => key.push(b),
        }
    }
    key
}

/// The alias tables give, for `key`, exactly the (module, pattern) pairs a linear scan finds.
fn same_alias_hits(index: &Index<'_>, c: &IndexContents, key: &[u8]) {
    for (table, list) in [(index.module_aliases(), &c.module_aliases), (index.builtin_aliases(), &c.builtin_aliases)] {
        let mut hits = Vec::new();
        table.for_each_match(key, |h| hits.push((h.module, [&key[..h.prefix_len], h.rest].concat())));
        let mut expected: Vec<(u16, Vec<u8>)> =
            list.iter().filter(|(p, _)| kmod_alias_match(p, key)).map(|(p, m)| (*m, p.clone())).collect();
        hits.sort();
        expected.sort();
        assert_eq!(hits, expected, "alias hits for {:?}", key.escape_ascii().to_string());
    }
}

/// One change to a written file: a byte, a little-endian 32-bit field (offsets, lengths and
/// string references are), or the length.
fn damage(input: &mut Input<'_>, file: &mut Vec<u8>) {
    if file.is_empty() {
        file.push(input.byte());
        return;
    }
    let at = input.below(file.len());
    match input.below(4) {
        0 | 1 => file[at] ^= input.byte() | 1,
        2 => {
            let value = u32::from(input.u16()) | u32::from(input.byte()) << 16;
            let end = (at + 4).min(file.len());
            file[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
        }
        _ if input.one_in(2) => file.truncate(at),
        _ => file.extend(std::iter::repeat_n(input.byte(), input.below(16))),
    }
}
