//! The files kmod 30's depmod writes in a module directory (`depmod_output` in tools/depmod.c),
//! byte for byte, and kmod 33's modules.weakdep, from the builder's [`Analysis`].

use super::trie::{Trie, TrieError};
use crate::index::builder::{Analysis, ModuleFacts, TreeFiles, softdep_file, weakdep_file};
use crate::index::kmod_hash::{SYMBOL_BUCKETS, bucket_of};
use crate::name::{module_name, normalize_alias};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The files in the order depmod writes them (kmod 33's, modules.weakdep after modules.softdep).
pub const FILES: [&str; 11] = [
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.weakdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
    "modules.devname",
];

/// A message depmod prints while it writes, with kmod's level; the text is kmod's without the
/// final newline of its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `depmod: WARNING: ...`
    Warning(String),
    /// `depmod: ERROR: ...`
    Error(String),
    /// `depmod: FATAL: ...`
    Fatal(String),
}

/// What to write.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-n`: only the text files (kmod writes them to stdout and skips the `.bin` ones).
    pub text_only: bool,
    /// `-w`: report a key given the same value twice.
    pub warn_duplicates: bool,
}

/// One written file: its name (one of [`FILES`]) and contents.
pub struct File {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

/// Every file of [`FILES`] for `a` and `tree` (only the text ones with `text_only`).
pub fn files(
    a: &Analysis<'_>,
    tree: &TreeFiles,
    options: Options,
    say: &mut dyn FnMut(Message),
) -> Result<Vec<File>, (&'static str, TrieError)> {
    let mut out = Vec::with_capacity(FILES.len());
    for name in FILES {
        if options.text_only && name.ends_with(".bin") {
            continue;
        }
        let bytes = match name {
            "modules.dep" => dep(a),
            "modules.dep.bin" => dep_bin(a, options, say),
            "modules.alias" => alias(a),
            "modules.alias.bin" => alias_bin(a, options, say),
            "modules.softdep" => Ok(softdep_file(a)),
            "modules.weakdep" => Ok(weakdep_file(a)),
            "modules.symbols" => symbols(a),
            "modules.symbols.bin" => symbols_bin(a, options, say),
            "modules.builtin.bin" => builtin_bin(tree, say),
            "modules.builtin.alias.bin" => builtin_alias_bin(tree, say),
            _ => devname(a, say),
        };
        out.push(File { name, bytes: bytes.map_err(|e| (name, e))? });
    }
    Ok(out)
}

type Written = Result<Vec<u8>, TrieError>;

fn names(a: &Analysis<'_>) -> Vec<Vec<u8>> {
    a.modules.iter().map(|m| m.name()).collect()
}

/// modules.dep's line of module `i` without its newline: `PATH: DEP DEP...`, the dependencies
/// in depmod's order (the load order reversed).
fn dep_line(a: &Analysis<'_>, i: usize) -> Vec<u8> {
    let mut line = a.modules[i].facts.path.clone();
    line.push(b':');
    for &d in a.deps[i].iter().rev() {
        line.push(b' ');
        line.extend_from_slice(&a.modules[usize::from(d)].facts.path);
    }
    line
}

fn dep(a: &Analysis<'_>) -> Written {
    let mut out = Vec::new();
    for i in 0..a.modules.len() {
        out.extend_from_slice(&dep_line(a, i));
        out.push(b'\n');
    }
    Ok(out)
}

/// Writes `trie`, reporting its duplicates with `describe` (given the insertion's number).
fn finish(
    trie: Trie<'_>,
    options: Options,
    say: &mut dyn FnMut(Message),
    describe: &dyn Fn(usize) -> String,
) -> Written {
    let written = trie.write()?;
    if options.warn_duplicates {
        for d in written.duplicates {
            say(Message::Warning(describe(d)));
        }
    }
    Ok(written.bytes)
}

/// Inserts into `trie` when kmod's index takes key and value, else says what kmod says.
fn insert<'a>(
    trie: &mut Trie<'a>,
    key: &'a [u8],
    value: &'a [u8],
    priority: u32,
    say: &mut dyn FnMut(Message),
) -> bool {
    for s in [key, value] {
        if let Some(&bad) = s.iter().find(|&&b| b == 0 || b >= 0x80) {
            say(Message::Fatal(format!(
                "Module index: bad character '{}'=0x{bad:x} - only 7-bit ASCII is supported:\n{}",
                char::from(bad),
                String::from_utf8_lossy(s)
            )));
            return false;
        }
    }
    trie.insert(key, value, priority);
    true
}

fn dep_bin(a: &Analysis<'_>, options: Options, say: &mut dyn FnMut(Message)) -> Written {
    let (names, lines) = (names(a), (0..a.modules.len()).map(|i| dep_line(a, i)).collect::<Vec<_>>());
    let mut trie = Trie::default();
    let mut inserted = Vec::new();
    for (i, (name, line)) in names.iter().zip(&lines).enumerate() {
        if insert(&mut trie, name, line, i as u32, say) {
            inserted.push(i);
        }
    }
    finish(trie, options, say, &|d| format!("duplicate module deps:\n{}", String::from_utf8_lossy(&lines[inserted[d]])))
}

fn alias(a: &Analysis<'_>) -> Written {
    let mut out = b"# Aliases extracted from modules themselves.\n".to_vec();
    for m in &a.modules {
        let name = m.name();
        for value in &m.facts.aliases {
            for part in [&b"alias "[..], value, b" ", &name, b"\n"] {
                out.extend_from_slice(part);
            }
        }
    }
    Ok(out)
}

fn alias_bin(a: &Analysis<'_>, options: Options, say: &mut dyn FnMut(Message)) -> Written {
    let names = names(a);
    let mut keys: Vec<(Vec<u8>, usize)> = Vec::new();
    for (i, m) in a.modules.iter().enumerate() {
        for value in &m.facts.aliases {
            let mut buf = alloc::vec![0u8; value.len()];
            match normalize_alias(value, &mut buf) {
                Some(len) => {
                    buf.truncate(len);
                    keys.push((buf, i));
                }
                None => say(Message::Warning(format!("Unmatched bracket in {}", String::from_utf8_lossy(value)))),
            }
        }
    }
    let mut trie = Trie::default();
    let mut inserted = Vec::new();
    for (key, i) in &keys {
        if insert(&mut trie, key, &names[*i], *i as u32, say) {
            inserted.push((key, *i));
        }
    }
    finish(trie, options, say, &|d| {
        let (key, i) = inserted[d];
        format!("duplicate module alias:\n{} {}", String::from_utf8_lossy(key), String::from_utf8_lossy(&names[i]))
    })
}

/// The symbols with an owner, in the order of depmod's symbol table: by hash bucket, then name.
fn owned_symbols<'f>(a: &Analysis<'f>) -> Vec<(&'f [u8], u16)> {
    let bucket = |name: &[u8]| bucket_of(name, SYMBOL_BUCKETS);
    let mut owned: Vec<(u32, &[u8], u16)> =
        a.symbols.iter().filter_map(|s| Some((bucket(s.name), s.name, s.owner?))).collect();
    crate::sort::sort(&mut owned);
    owned.into_iter().map(|(_, name, owner)| (name, owner)).collect()
}

fn symbols(a: &Analysis<'_>) -> Written {
    let names = names(a);
    let mut out = b"# Aliases for symbols, used by symbol_request().\n".to_vec();
    for (symbol, owner) in owned_symbols(a) {
        for part in [&b"alias symbol:"[..], symbol, b" ", &names[usize::from(owner)], b"\n"] {
            out.extend_from_slice(part);
        }
    }
    Ok(out)
}

fn symbols_bin(a: &Analysis<'_>, options: Options, say: &mut dyn FnMut(Message)) -> Written {
    let names = names(a);
    let owned = owned_symbols(a);
    let keys: Vec<Vec<u8>> = owned.iter().map(|(s, _)| [&b"symbol:"[..], s].concat()).collect();
    let mut trie = Trie::default();
    let mut inserted = Vec::new();
    for (key, &(_, owner)) in keys.iter().zip(&owned) {
        if insert(&mut trie, key, &names[usize::from(owner)], u32::from(owner), say) {
            inserted.push((key, owner));
        }
    }
    finish(trie, options, say, &|d| {
        let (key, owner) = inserted[d];
        let name = String::from_utf8_lossy(&names[usize::from(owner)]);
        format!("duplicate module syms:\n{} {name}", String::from_utf8_lossy(key))
    })
}

/// modules.builtin.bin: each line's module name (its file name up to the first `.`), value
/// empty, priority 0. Nothing at all without modules.builtin (kmod leaves the file empty).
fn builtin_bin(tree: &TreeFiles, say: &mut dyn FnMut(Message)) -> Written {
    let Some(text) = &tree.modules_builtin else { return Ok(Vec::new()) };
    let mut names = Vec::new();
    for line in text.split_inclusive(|&b| b == b'\n') {
        if !line[0].is_ascii_alphabetic() {
            say(Message::Error(format!("Invalid modules.builtin line: {}", String::from_utf8_lossy(line))));
            continue;
        }
        let file = line.rsplit(|&b| b == b'/').next().unwrap_or(line);
        names.push(module_name(file).collect::<Vec<u8>>());
    }
    let mut trie = Trie::default();
    for name in &names {
        insert(&mut trie, name, b"", 0, say);
    }
    Ok(trie.write()?.bytes)
}

/// modules.builtin.modinfo read as depmod's `output_builtin_alias_bin` reads it: records
/// `MODULE.KEY=VALUE\0`, each field read up to its separator (a NUL or the end stops it early,
/// and the field then counts as empty).
fn builtin_alias_bin(tree: &TreeFiles, say: &mut dyn FnMut(Message)) -> Written {
    let Some(text) = &tree.modules_builtin_modinfo else { return Ok(Vec::new()) };
    let mut stream = Stream { bytes: text, at: 0 };
    let mut entries: Vec<(Vec<u8>, &[u8])> = Vec::new();
    while stream.at < text.len() {
        let module = stream.read_to(b'.');
        if module.is_empty() {
            continue;
        }
        if stream.read_to(b'=') != b"alias" {
            stream.read_to(0);
            continue;
        }
        let value = stream.read_to(0);
        if value.is_empty() {
            continue;
        }
        let mut alias = alloc::vec![0u8; value.len()];
        match normalize_alias(value, &mut alias) {
            Some(len) => {
                alias.truncate(len);
                entries.push((alias, module));
            }
            None => say(Message::Warning(format!("Unmatched bracket in {}", String::from_utf8_lossy(value)))),
        }
    }
    let mut trie = Trie::default();
    for (alias, module) in &entries {
        insert(&mut trie, alias, module, 0, say);
    }
    Ok(trie.write()?.bytes)
}

/// A file read byte by byte as depmod's `flush_stream_to` reads it.
struct Stream<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Stream<'a> {
    /// The bytes up to `end` (consumed): empty when a NUL or the end came first.
    fn read_to(&mut self, end: u8) -> &'a [u8] {
        let rest = &self.bytes[self.at..];
        let stop = rest.iter().position(|&b| b == end || b == 0);
        self.at += stop.map_or(rest.len(), |i| i + 1);
        match stop {
            Some(i) if rest[i] == end => &rest[..i],
            _ => &[],
        }
    }
}

/// modules.devname: a module's `devname:NAME` alias with its `char-major-M-m` or
/// `block-major-M-m` one.
fn devname(a: &Analysis<'_>, say: &mut dyn FnMut(Message)) -> Written {
    let mut out = Vec::new();
    for m in &a.modules {
        let Some((devname, node)) = device_node(m.facts) else { continue };
        let name = m.name();
        match node {
            Some((kind, major, minor)) => {
                if out.is_empty() {
                    out.extend_from_slice(b"# Device nodes to trigger on-demand module loading.\n");
                }
                out.extend_from_slice(&name);
                out.push(b' ');
                out.extend_from_slice(devname);
                out.extend_from_slice(format!(" {}{major}:{minor}\n", char::from(kind)).as_bytes());
            }
            None => say(Message::Error(format!(
                "Module '{}' has devname ({}) but lacks major and minor information. Ignoring.",
                String::from_utf8_lossy(&name),
                String::from_utf8_lossy(devname)
            ))),
        }
    }
    Ok(out)
}

/// A device node's kind (`c` or `b`), major and minor.
type DeviceNode = (u8, u32, u32);

/// A module's device node name and, when it has one, its (`c` or `b`, major, minor), read as
/// `output_devname` does: the aliases in order until both are known, a later one of a kind
/// replacing an earlier.
fn device_node(facts: &ModuleFacts) -> Option<(&[u8], Option<DeviceNode>)> {
    let (mut devname, mut node) = (None, None);
    for value in &facts.aliases {
        if let Some(name) = value.strip_prefix(b"devname:") {
            devname = Some(name);
        } else if let Some(numbers) = value.strip_prefix(b"char-major-").and_then(two_numbers) {
            node = Some((b'c', numbers.0, numbers.1));
        } else if let Some(numbers) = value.strip_prefix(b"block-major-").and_then(two_numbers) {
            node = Some((b'b', numbers.0, numbers.1));
        }
        if node.is_some() && devname.is_some() {
            break;
        }
    }
    devname.map(|d| (d, node))
}

/// `sscanf(s, "%u-%u")` == 2.
fn two_numbers(s: &[u8]) -> Option<(u32, u32)> {
    let (major, rest) = scan_u32(s)?;
    let (minor, _) = scan_u32(rest.strip_prefix(b"-")?)?;
    Some((major, minor))
}

/// `%u`: blanks, an optional sign, digits (at least one), the value modulo 2^32 (negated after
/// a `-`, as strtoul does).
fn scan_u32(s: &[u8]) -> Option<(u32, &[u8])> {
    let s = &s[s.iter().take_while(|b| b" \t\n\r\x0b\x0c".contains(b)).count()..];
    let (negative, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let value = s[..digits].iter().fold(0u64, |v, &d| v.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    // strtoul saturates at ULONG_MAX; sscanf then keeps the low 32 bits.
    let value = value as u32;
    Some((if negative { value.wrapping_neg() } else { value }, &s[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_modinfo_is_read_field_by_field() {
        let text = b"a.alias=x-y\0b.license=GPL\0c.alias=[\0d.noequals\0e.alias=skipped\0f.alias=z\0.alias=q\0";
        let mut stream = Stream { bytes: text, at: 0 };
        assert_eq!(stream.read_to(b'.'), b"a");
        assert_eq!(stream.read_to(b'='), b"alias");
        assert_eq!(stream.read_to(0), b"x-y");
        let tree = TreeFiles { modules_builtin_modinfo: Some(text.to_vec()), ..TreeFiles::default() };
        let mut said = Vec::new();
        let bytes = builtin_alias_bin(&tree, &mut |m| said.push(m)).unwrap();
        assert_eq!(said, [Message::Warning("Unmatched bracket in [".into())]);
        // x_y -> a and z -> f: `d.noequals` swallowed the `e` record.
        assert!(bytes.windows(3).any(|w| w == b"\0a\0") && bytes.windows(3).any(|w| w == b"\0f\0"));
        assert!(!bytes.windows(2).any(|w| w == b"e\0"));
    }

    #[test]
    fn device_numbers_scan_as_sscanf() {
        assert_eq!(two_numbers(b"10-130"), Some((10, 130)));
        assert_eq!(two_numbers(b" 10- 130x"), Some((10, 130)));
        assert_eq!(two_numbers(b"10-*"), None);
        assert_eq!(two_numbers(b"-1-2"), Some((u32::MAX, 2)));
    }
}
