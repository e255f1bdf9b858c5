//! `modinit::index::Index::open` on any bytes, then every accessor and resolver lookup over
//! whatever opens.
//!
//! A file with a wrong checksum or length field is opened a second time with both made right
//! ([`seal`]): random bytes never carry a valid CRC-32, and what lies behind the check is the
//! interesting part. Lookup keys come from the index itself (module names, config names,
//! alias patterns) and from the input (its NUL-separated pieces).

use modinit::crc32::checksum;
use modinit::index::format::{HEADER_LEN, OFF_CHECKSUM, OFF_FILE_LEN};
use modinit::index::{Index, IndexError, ModuleId, kmod_alias_match};
use modinit::resolve::{Found, Key, Resolver, Via};

pub fn fuzz(data: &[u8]) {
    match Index::open(data) {
        Ok(index) => exercise(&index, data),
        Err(IndexError::LengthMismatch { .. } | IndexError::ChecksumMismatch { .. }) => {
            let mut sealed = data.to_vec();
            seal(&mut sealed);
            if let Ok(index) = Index::open(&sealed) {
                exercise(&index, &sealed);
            }
        }
        Err(_) => {}
    }
}

/// Makes the header's file length and checksum those of `file`, as the writer sets them.
pub fn seal(file: &mut [u8]) {
    if file.len() < HEADER_LEN {
        return;
    }
    let len = u32::try_from(file.len()).unwrap_or(u32::MAX);
    file[OFF_FILE_LEN..OFF_FILE_LEN + 4].copy_from_slice(&len.to_le_bytes());
    let crc = checksum(&file[HEADER_LEN..]);
    file[OFF_CHECKSUM..OFF_CHECKSUM + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Lookups per index: enough to reach every table, few enough to keep executions fast.
const MAX_KEYS: usize = 64;

/// Calls every accessor of an opened index and checks what `Index::open` promises: module
/// ids, dependencies and paths are consistent, every module is found by its own name, every
/// alias hit matches by kmod's rule, and lookups fill the caller's buffer as they say.
pub fn exercise(index: &Index<'_>, file: &[u8]) {
    let count = index.module_count();
    assert_eq!(index.modules().count(), count, "every module record reads");
    assert!(index.module(ModuleId(u16::try_from(count).unwrap_or(u16::MAX))).is_none());
    let _ = index.kernel_release();
    let mut keys: Vec<&[u8]> = Vec::new();
    for m in index.modules() {
        for dep in m.deps() {
            assert!(usize::from(dep.0) < count && index.module(dep).is_some(), "dependency {dep:?} of {:?}", m.id);
        }
        let mut buf = [0u8; 4096];
        if let Some(path) = m.path(&mut buf) {
            assert!(!m.builtin && path.ends_with(m.compression.extension()));
            let _ = m.path(&mut [0u8; 7]);
        }
        let found = index.find(m.stem, m.builtin).expect("a module is found by its own name");
        assert!(found.is_named(m.stem) && found.builtin == m.builtin, "find({:?}) found {:?}", m.stem, found.stem);
        keys.push(m.stem);
    }
    for (pattern, module) in index.config_aliases() {
        keys.extend([pattern, module]);
    }
    for (module, _options) in index.options() {
        keys.push(module);
    }
    keys.extend(index.blacklist());
    keys.extend(index.modules_load());
    for softdep in index.softdeps() {
        keys.push(softdep.pattern);
        keys.extend(softdep.pre_names().chain(softdep.post_names()));
    }
    for weakdep in index.weakdeps() {
        keys.push(weakdep.pattern);
        keys.extend(weakdep.names());
    }
    keys.extend(file.split(|&b| b == 0).filter(|k| !k.is_empty() && k.len() < 256));
    keys.truncate(MAX_KEYS);

    // A command line with options and a blacklist for the first names the index has.
    let mut cmdline = Vec::new();
    for (i, key) in keys.iter().take(4).enumerate() {
        let clean: Vec<u8> = key.iter().copied().filter(|b| !b.is_ascii_whitespace() && *b != b'"').collect();
        let entry: [&[u8]; 3] =
            if i % 2 == 0 { [b"", &clean, b".p=1 "] } else { [b"modprobe.blacklist=", &clean, b" "] };
        cmdline.extend(entry.concat());
    }
    let resolver =
        Resolver { index: *index, cmdline: &cmdline, symbols: modinit::resolve::symbols::ModulesSymbols::NONE };
    for key in &keys {
        check_alias_hits(index, key);
        lookup(&resolver, key);
    }
}

/// Every hit of both alias tables is a pattern that matches `key` by kmod's rule.
fn check_alias_hits(index: &Index<'_>, key: &[u8]) {
    for table in [index.module_aliases(), index.builtin_aliases()] {
        table.for_each_match(key, |hit| {
            assert!(usize::from(hit.module) < index.module_count());
            let pattern = [&key[..hit.prefix_len], hit.rest].concat();
            assert!(kmod_alias_match(&pattern, key), "hit {:?} does not match {:?}", pattern, key);
        });
    }
}

fn lookup<'a>(resolver: &Resolver<'a>, raw: &[u8]) {
    let Ok(key) = Key::new(raw) else { return };
    let mut out: [Option<Found<'a>>; 32] = [None; 32];
    let Ok((_, n)) = resolver.lookup(&key, &mut out) else { return };
    assert!(n <= out.len());
    for found in out[..n].iter() {
        let found = found.expect("lookup fills the slots it counts");
        let _ = resolver.is_blacklisted(&found.target);
        resolver.options(&found, key.as_bytes(), |_| {});
        if let Via::ConfigAlias(pattern) = found.via {
            assert!(modinit::fnmatch::fnmatch(pattern, key.as_bytes()));
        }
        let mut steps = 0usize;
        let _ = resolver.probe_list(&found, &mut |_| steps += 1);
    }
}
