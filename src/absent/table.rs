//! `modinit.absent`, read: validated once by [`AbsentTable::open`], then matched against
//! modaliases as kmod matches aliases ([`crate::index::kmod_alias_match`]).
//!
//! The file is a zstd frame (`writer.rs` makes it; the boot decodes it with the module
//! decoders) of lines, each ending with `\n`:
//!
//! ```text
//! modinit-absent 1 RELEASE        the magic, the format version and the kernel release
//! NAME                            a module of the tree not in the image (kmod's name)
//! <TAB>PATTERN                    one of its aliases, normalized as depmod writes them
//! ```
//!
//! Modules come in kmod's priority order (modules.order), so the first match is the module
//! kmod would load first; a module matching through two of its aliases is found twice, as
//! kmod's lookup lists it (`modprobe -R`).

use crate::index::kmod_alias_match;
use crate::name::module_name;
use crate::resolve::KEY_MAX;
use core::fmt;

/// The first word of the file.
pub const MAGIC: &[u8] = b"modinit-absent";
/// The format version the writer writes and the reader reads.
pub const VERSION: &[u8] = b"1";

/// A table whose every line was checked: matching it meets no surprise.
#[derive(Debug, Clone, Copy)]
pub struct AbsentTable<'a> {
    release: &'a [u8],
    /// The lines after the header.
    body: &'a [u8],
}

/// What is wrong with a table, and on which line (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableError {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The first line is not `modinit-absent VERSION RELEASE`.
    Header,
    /// A version this reader does not read.
    Version,
    /// The last line has no `\n`.
    Unterminated,
    /// A module line that is not a normalized module name.
    ModuleName,
    /// An alias line before any module line.
    AliasWithoutModule,
    /// A module line with no alias line after it.
    ModuleWithoutAliases,
    /// An alias that is empty, too long, not normalized, or not a device's.
    Alias,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            Problem::Header => "not a table of absent modules (no `modinit-absent VERSION RELEASE` line)",
            Problem::Version => "a format version this modinit does not read (it reads 1)",
            Problem::Unterminated => "the last line is cut short",
            Problem::ModuleName => "not a module name",
            Problem::AliasWithoutModule => "an alias before any module",
            Problem::ModuleWithoutAliases => "a module without aliases",
            Problem::Alias => "not a device alias as depmod writes them",
        };
        write!(f, "line {}: {what}", self.line)
    }
}

impl<'a> AbsentTable<'a> {
    /// Checks every line of the decoded table `text`.
    pub fn open(text: &'a [u8]) -> Result<AbsentTable<'a>, TableError> {
        let error = |line, problem| Err(TableError { line, problem });
        let Some(end) = text.iter().position(|&b| b == b'\n') else { return error(1, Problem::Header) };
        let mut words = text[..end].split(|&b| b == b' ');
        let (magic, version, release) = (words.next(), words.next(), words.next());
        let release = match (magic, version, release, words.next()) {
            (Some(MAGIC), Some(VERSION), Some(release), None) if !release.is_empty() => release,
            (Some(MAGIC), Some(_), Some(_), None) => return error(1, Problem::Version),
            _ => return error(1, Problem::Header),
        };
        let body = &text[end + 1..];
        if !body.is_empty() && !body.ends_with(b"\n") {
            return error(1 + body.split(|&b| b == b'\n').count(), Problem::Unterminated);
        }
        // Whether the last module line has had an alias line since.
        let mut module_has_aliases = None;
        for (n, line) in lines(body).enumerate() {
            let n = n + 2;
            match line.strip_prefix(b"\t") {
                Some(_) if module_has_aliases.is_none() => return error(n, Problem::AliasWithoutModule),
                Some(alias) if !is_table_alias(alias) => return error(n, Problem::Alias),
                Some(_) => module_has_aliases = Some(true),
                None if !is_module_name(line) => return error(n, Problem::ModuleName),
                None if module_has_aliases == Some(false) => return error(n - 1, Problem::ModuleWithoutAliases),
                None => module_has_aliases = Some(false),
            }
        }
        if module_has_aliases == Some(false) {
            return error(body.split(|&b| b == b'\n').count(), Problem::ModuleWithoutAliases);
        }
        Ok(AbsentTable { release, body })
    }

    /// The kernel release of the tree the table was made from.
    pub fn release(&self) -> &'a [u8] {
        self.release
    }

    /// Calls `hit` with the name of the module of each alias that matches `key` (a modalias,
    /// normalized as `crate::resolve::Key` normalizes it), in the table's order: kmod's.
    pub fn for_each_match(&self, key: &[u8], mut hit: impl FnMut(&'a [u8])) {
        self.for_each_match_of(&[key], |_, name| hit(name));
    }

    /// [`AbsentTable::for_each_match`] for several keys in one pass over the table: `hit` gets
    /// the key's place in `keys` with each name.
    pub fn for_each_match_of(&self, keys: &[&[u8]], mut hit: impl FnMut(usize, &'a [u8])) {
        let mut module: &[u8] = b"";
        for line in lines(self.body) {
            let Some(alias) = line.strip_prefix(b"\t") else {
                module = line;
                continue;
            };
            for (i, key) in keys.iter().enumerate() {
                if kmod_alias_match(alias, key) {
                    hit(i, module);
                }
            }
        }
    }
}

/// The lines of `body`, without their `\n`.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.strip_suffix(b"\n").unwrap_or(body).split(|&b| b == b'\n').filter(move |_| !body.is_empty())
}

/// A module's name as kmod normalizes it, of the bytes names are made of.
fn is_module_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && module_name(name).eq(name.iter().copied())
        && name.iter().all(|&b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

/// An alias of a device as depmod writes it: no longer than a key, and what
/// [`crate::name::normalize_alias`] makes of it (no `-` outside `[...]`, brackets closed).
fn is_table_alias(alias: &[u8]) -> bool {
    let mut in_brackets = false;
    let normalized = alias.iter().all(|&b| match b {
        b']' if in_brackets => {
            in_brackets = false;
            true
        }
        _ if in_brackets => b.is_ascii_graphic() || b == b' ',
        b'[' => {
            in_brackets = true;
            true
        }
        b']' | b'-' => false,
        _ => b.is_ascii_graphic() || b == b' ',
    });
    normalized && !in_brackets && alias.len() <= KEY_MAX && super::is_device_alias(alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[u8] = b"modinit-absent 1 6.1.0-57-amd64\n\
snd_hda_intel\n\
\tpci:v00008086d00002668sv*sd*bc*sc*i*\n\
\tpci:v*d*sv*sd*bc04sc03i00*\n\
pcspkr\n\
\tplatform:pcspkr\n";

    fn matches(table: &AbsentTable<'_>, key: &str) -> Vec<String> {
        let mut found = Vec::new();
        table.for_each_match(key.as_bytes(), |m| found.push(String::from_utf8_lossy(m).into_owned()));
        found
    }

    #[test]
    fn a_key_finds_the_module_of_each_alias_it_matches() {
        let table = AbsentTable::open(TABLE).unwrap();
        assert_eq!(table.release(), b"6.1.0-57-amd64");
        let hda = "pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00";
        assert_eq!(matches(&table, hda), ["snd_hda_intel", "snd_hda_intel"], "twice, as kmod lists it");
        assert_eq!(matches(&table, "platform:pcspkr"), ["pcspkr"]);
        assert!(matches(&table, "platform:pcspkr2").is_empty());
        let empty = AbsentTable::open(b"modinit-absent 1 6.1.0-57-amd64\n").unwrap();
        assert!(matches(&empty, hda).is_empty());
    }

    #[test]
    fn a_corrupt_table_is_refused_naming_the_line() {
        let refused = |text: &[u8]| AbsentTable::open(text).map(|_| ()).unwrap_err();
        let with = |from: &str, to: &str| {
            let text = String::from_utf8(TABLE.to_vec()).unwrap();
            refused(text.replacen(from, to, 1).as_bytes())
        };
        let at = |line, problem| TableError { line, problem };
        assert_eq!(refused(b""), at(1, Problem::Header));
        assert_eq!(with("modinit-absent", "modinit-index"), at(1, Problem::Header));
        assert_eq!(with(" 1 ", " 2 "), at(1, Problem::Version));
        assert_eq!(with(" 6.1.0-57-amd64", ""), at(1, Problem::Header));
        assert_eq!(refused(&TABLE[..TABLE.len() - 1]), at(6, Problem::Unterminated));
        assert_eq!(with("snd_hda_intel", "snd-hda-intel"), at(2, Problem::ModuleName));
        assert_eq!(with("snd_hda_intel\n", "\tplatform:x\n"), at(2, Problem::AliasWithoutModule));
        assert_eq!(with("\tplatform:pcspkr\n", ""), at(5, Problem::ModuleWithoutAliases));
        let hda_aliases = "\tpci:v00008086d00002668sv*sd*bc*sc*i*\n\tpci:v*d*sv*sd*bc04sc03i00*\n";
        assert_eq!(with(hda_aliases, ""), at(2, Problem::ModuleWithoutAliases));
        assert_eq!(with("platform:pcspkr", "platform:pc-spkr"), at(6, Problem::Alias));
        assert_eq!(with("platform:pcspkr", "fs-ext4"), at(6, Problem::Alias));
        assert_eq!(with("platform:pcspkr", "platform:[pc"), at(6, Problem::Alias));
        assert_eq!(with("platform:pcspkr", "platform:\x01"), at(6, Problem::Alias));
        assert!(refused(&TABLE[..30]).problem == Problem::Header);
    }
}
