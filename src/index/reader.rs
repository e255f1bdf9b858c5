//! Reading `modinit.idx`: zero-copy over the file's bytes, no allocation.
//!
//! [`Index::open`] checks everything once — magic, version, length, checksum, every section's
//! bounds, every string offset and module id — and returns an [`Index`] whose accessors
//! cannot meet an inconsistency (they still never index unchecked, so a bug is a wrong
//! answer, not a panic).

use super::alias_table::{AliasTable, TableError};
use super::bytes::{u16_at, u32_at};
use super::format::*;
use super::strings::Strings;
use crate::crc32::checksum as crc32;
use crate::decompress::Compression;
use crate::name::module_name;
use core::fmt;

/// Why an index file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexError {
    /// Shorter than its header.
    Truncated {
        len: usize,
    },
    BadMagic,
    UnsupportedVersion {
        found: u32,
    },
    /// The header's length differs from the file's (cut off, or something appended).
    LengthMismatch {
        header: u32,
        file: usize,
    },
    ChecksumMismatch {
        header: u32,
        computed: u32,
    },
    /// A section lies outside the file or is not a whole number of records.
    SectionBounds {
        section: &'static str,
    },
    /// A record of a section refers to something that does not exist.
    BadRecord {
        section: &'static str,
        record: usize,
    },
    BadAliasTable {
        section: &'static str,
        error: TableError,
    },
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IndexError::Truncated { len } => write!(f, "truncated: {len} bytes, shorter than the header"),
            IndexError::BadMagic => write!(f, "not a modinit index (bad magic)"),
            IndexError::UnsupportedVersion { found } => {
                write!(f, "index format version {found}, this modinit reads versions 1 to {VERSION}")
            }
            IndexError::LengthMismatch { header, file } => {
                write!(f, "header says {header} bytes but the file has {file} (truncated or padded)")
            }
            IndexError::ChecksumMismatch { header, computed } => {
                write!(f, "checksum mismatch (header {header:08x}, contents {computed:08x}): the file is corrupt")
            }
            IndexError::SectionBounds { section } => write!(f, "section '{section}' lies outside the file"),
            IndexError::BadRecord { section, record } => write!(f, "record {record} of section '{section}' is invalid"),
            IndexError::BadAliasTable { section, error } => match error {
                TableError::Blocks => write!(f, "section '{section}': bad block table"),
                TableError::Group { offset } => write!(f, "section '{section}': bad group at byte {offset}"),
            },
        }
    }
}

/// A module's number: its position in kmod's priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleId(pub u16);

/// A validated index.
#[derive(Debug, Clone, Copy)]
pub struct Index<'a> {
    strings: Strings<'a>,
    kernel_release: &'a [u8],
    modules: &'a [u8],
    deps: &'a [u8],
    names: &'a [u8],
    dirs: Dirs<'a>,
    module_aliases: AliasTable<'a>,
    builtin_aliases: AliasTable<'a>,
    config_aliases: &'a [u8],
    options: &'a [u8],
    blacklist: &'a [u8],
    softdeps: &'a [u8],
    modules_load: &'a [u8],
    weakdeps: &'a [u8],
}

/// One module of the index.
#[derive(Debug, Clone, Copy)]
pub struct Module<'a> {
    pub id: ModuleId,
    /// The file name without `.ko[.EXT]` (for a builtin: as modules.builtin names it).
    pub stem: &'a [u8],
    pub compression: Compression,
    pub builtin: bool,
    /// The file's directory (a [`Dirs`] number), [`NO_DIR`] for a builtin or a file at the
    /// top of the modules dir.
    dir: u16,
    dirs: Dirs<'a>,
    deps: &'a [u8],
}

/// The directory tree of the module files.
#[derive(Debug, Clone, Copy)]
struct Dirs<'a> {
    table: &'a [u8],
    strings: Strings<'a>,
}

impl<'a> Dirs<'a> {
    fn len(&self) -> usize {
        self.table.len() / DIR_RECORD
    }

    /// (parent, name) of directory `d`.
    fn get(&self, d: u16) -> Option<(u16, &'a [u8])> {
        let base = usize::from(d) * DIR_RECORD;
        Some((u16_at(self.table, base)?, self.strings.get(u32_at(self.table, base + 2)?)?))
    }

    /// Appends `d`'s path (`a/b/c`) to `buf` at `*len`; None when it does not fit. Two walks
    /// up the tree, no recursion: the first measures the path, stopping once it outgrows
    /// `buf`, the second writes it from its end. Parents have smaller numbers (checked when
    /// opening), so both end; neither time nor stack grows with how deep a corrupt tree goes.
    fn write_path(&self, d: u16, buf: &mut [u8], len: &mut usize) -> Option<()> {
        let room = buf.get_mut(*len..)?;
        let (mut path_len, mut dir) = (0, d);
        loop {
            let (parent, name) = self.get(dir)?;
            path_len += name.len();
            if path_len > room.len() {
                return None;
            }
            if parent == NO_DIR {
                break;
            }
            path_len += 1;
            dir = parent;
        }
        let (mut end, mut dir) = (path_len, d);
        loop {
            let (parent, name) = self.get(dir)?;
            let start = end.checked_sub(name.len())?;
            room.get_mut(start..end)?.copy_from_slice(name);
            if parent == NO_DIR {
                break;
            }
            end = start.checked_sub(1)?;
            *room.get_mut(end)? = b'/';
            dir = parent;
        }
        *len += path_len;
        Some(())
    }
}

/// A directory name that is one path component below its parent.
fn is_plain_component(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'/') && !is_dot_or_dot_dot(name)
}

fn push(buf: &mut [u8], len: &mut usize, part: &[u8]) -> Option<()> {
    buf.get_mut(*len..*len + part.len())?.copy_from_slice(part);
    *len += part.len();
    Some(())
}

impl<'a> Module<'a> {
    /// The module's name, as kmod normalizes it ('-' is '_', nothing from the first '.').
    pub fn name(&self) -> impl Iterator<Item = u8> + 'a {
        module_name(self.stem)
    }

    /// True when the name equals `name` after normalizing both.
    pub fn is_named(&self, name: &[u8]) -> bool {
        self.name().eq(module_name(name))
    }

    /// Dependencies in load order: each one's own dependencies come before it.
    pub fn deps(&self) -> impl Iterator<Item = ModuleId> + 'a {
        self.deps.chunks_exact(2).map(|c| ModuleId(u16::from_le_bytes([c[0], c[1]])))
    }

    /// The file's path relative to the modules dir, written into `buf`; None for a builtin
    /// or when `buf` is too small.
    pub fn path<'b>(&self, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        if self.builtin {
            return None;
        }
        let mut len = 0;
        if self.dir != NO_DIR {
            self.dirs.write_path(self.dir, buf, &mut len)?;
            push(buf, &mut len, b"/")?;
        }
        for part in [self.stem, b".ko", self.compression.extension()] {
            push(buf, &mut len, part)?;
        }
        Some(&buf[..len])
    }
}

/// A `softdep` line: for modules matching `pattern`, load `pre` before and `post` after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Softdep<'a> {
    pub pattern: &'a [u8],
    pub pre: &'a [u8],
    pub post: &'a [u8],
}

impl<'a> Softdep<'a> {
    pub fn pre_names(&self) -> impl Iterator<Item = &'a [u8]> {
        words(self.pre)
    }

    pub fn post_names(&self) -> impl Iterator<Item = &'a [u8]> {
        words(self.post)
    }
}

/// A `weakdep` line: modules matching `pattern` may ask the kernel for `names` at run time.
/// Nothing loads them; an image that holds such a module should hold them too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weakdep<'a> {
    pub pattern: &'a [u8],
    pub names: &'a [u8],
}

impl<'a> Weakdep<'a> {
    pub fn names(&self) -> impl Iterator<Item = &'a [u8]> {
        words(self.names)
    }
}

fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == b' ').filter(|w| !w.is_empty())
}

/// The header's checks (magic, version, length, checksum) and each section's bytes, in
/// [`Section::ALL`]'s order; a section the file's version lacks is empty. Every section lies
/// after the header, inside the file, and holds whole records; its contents are not checked.
pub(super) fn section_table(file: &[u8]) -> Result<[&[u8]; Section::ALL.len()], IndexError> {
    if file.len() < OFF_SECTIONS {
        return Err(IndexError::Truncated { len: file.len() });
    }
    if file[OFF_MAGIC..OFF_MAGIC + MAGIC.len()] != MAGIC {
        return Err(IndexError::BadMagic);
    }
    let header = |off| u32_at(file, off).unwrap_or_default();
    let sections =
        sections_of(header(OFF_VERSION)).ok_or(IndexError::UnsupportedVersion { found: header(OFF_VERSION) })?;
    let header_len = header_len(sections.len());
    if file.len() < header_len {
        return Err(IndexError::Truncated { len: file.len() });
    }
    if header(OFF_FILE_LEN) as usize != file.len() {
        return Err(IndexError::LengthMismatch { header: header(OFF_FILE_LEN), file: file.len() });
    }
    let computed = crc32(&file[header_len..]);
    if computed != header(OFF_CHECKSUM) {
        return Err(IndexError::ChecksumMismatch { header: header(OFF_CHECKSUM), computed });
    }
    let mut table: [&[u8]; Section::ALL.len()] = [&[]; Section::ALL.len()];
    for (slot, s) in table.iter_mut().zip(Section::ALL) {
        let Some(i) = sections.iter().position(|&x| x == s) else { continue };
        let (off, len) = (header(OFF_SECTIONS + 8 * i) as usize, header(OFF_SECTIONS + 8 * i + 4) as usize);
        let bytes = file.get(off..off.checked_add(len).ok_or(IndexError::SectionBounds { section: s.name() })?);
        *slot = match bytes {
            Some(b) if off >= header_len && b.len() % s.record_size() == 0 => b,
            _ => return Err(IndexError::SectionBounds { section: s.name() }),
        };
    }
    Ok(table)
}

impl<'a> Index<'a> {
    pub fn open(file: &'a [u8]) -> Result<Index<'a>, IndexError> {
        let table = section_table(file)?;
        let section = |s: Section| -> Result<&'a [u8], IndexError> { Ok(table[s.slot()]) };
        let header = |off| u32_at(file, off).unwrap_or_default();
        let strings =
            Strings::new(section(Section::Strings)?).ok_or(IndexError::SectionBounds { section: "strings" })?;
        let modules = section(Section::Modules)?;
        let module_count = modules.len() / MODULE_RECORD;
        if module_count > usize::from(u16::MAX) {
            return Err(IndexError::SectionBounds { section: "modules" });
        }
        let alias_table = |blocks, stream, name| {
            AliasTable::new(section(blocks)?, section(stream)?, strings, module_count)
                .map_err(|error| IndexError::BadAliasTable { section: name, error })
        };
        let index = Index {
            strings,
            kernel_release: strings
                .get(header(OFF_KERNEL_RELEASE))
                .ok_or(IndexError::BadRecord { section: "header", record: 0 })?,
            modules,
            deps: section(Section::Deps)?,
            names: section(Section::Names)?,
            dirs: Dirs { table: section(Section::Dirs)?, strings },
            module_aliases: alias_table(Section::ModuleAliasBlocks, Section::ModuleAliasStream, "module aliases")?,
            builtin_aliases: alias_table(Section::BuiltinAliasBlocks, Section::BuiltinAliasStream, "builtin aliases")?,
            config_aliases: section(Section::ConfigAliases)?,
            options: section(Section::Options)?,
            blacklist: section(Section::Blacklist)?,
            softdeps: section(Section::Softdeps)?,
            modules_load: section(Section::ModulesLoad)?,
            weakdeps: section(Section::Weakdeps)?,
        };
        index.validate()?;
        Ok(index)
    }

    /// Checks what the accessors rely on: every record's strings, directories, dependency
    /// ranges and module ids, and the order of the name table.
    fn validate(&self) -> Result<(), IndexError> {
        let bad = |section, record| IndexError::BadRecord { section, record };
        // Every path stays inside the modules dir: one component per directory record, never
        // `.` or `..`, and no `/` in a file's stem.
        for d in 0..self.dirs.len() {
            match self.dirs.get(d as u16) {
                Some((parent, name)) if (parent == NO_DIR || usize::from(parent) < d) && is_plain_component(name) => {}
                _ => return Err(bad("directories", d)),
            }
        }
        let count = self.module_count();
        let dep_count = self.deps.len() / 2;
        let mut previous_start = 0;
        for i in 0..count {
            let rec = |off| i * MODULE_RECORD + off;
            let stem = u32_at(self.modules, rec(REC_STEM)).and_then(|s| self.strings.get(s));
            let dir = u16_at(self.modules, rec(REC_DIR)).unwrap_or_default();
            let start = u32_at(self.modules, rec(REC_DEPS)).unwrap_or(u32::MAX) as usize;
            let compression = self.modules.get(rec(REC_COMPRESSION)).copied().and_then(compression_from_byte);
            let dir_ok = dir == NO_DIR || usize::from(dir) < self.dirs.len();
            let builtin = self.modules.get(rec(REC_FLAGS)).is_some_and(|f| f & FLAG_BUILTIN != 0);
            let stem_ok = stem.is_some_and(|s| !s.is_empty() && (builtin || !s.contains(&b'/')));
            if !stem_ok || !dir_ok || compression.is_none() || start < previous_start || start > dep_count {
                return Err(bad("modules", i));
            }
            previous_start = start;
        }
        if let Some(i) = (0..dep_count).find(|&i| u16_at(self.deps, 2 * i).is_none_or(|m| usize::from(m) >= count)) {
            return Err(bad("dependencies", i));
        }
        if self.names.len() / 2 != count {
            return Err(IndexError::SectionBounds { section: "names" });
        }
        let mut seen = [0u64; 1024];
        for i in 0..count {
            let id = self.name_entry(i).ok_or(bad("names", i))?;
            let (word, bit) = (usize::from(id.0) / 64, usize::from(id.0) % 64);
            if seen[word] & (1 << bit) != 0 {
                return Err(bad("names", i));
            }
            seen[word] |= 1 << bit;
            if i > 0 && self.name_entry(i - 1).is_some_and(|prev| self.name_order(prev, id).is_gt()) {
                return Err(bad("names", i));
            }
        }
        for (section, bytes, fields) in [
            ("config aliases", self.config_aliases, 2),
            ("options", self.options, 2),
            ("blacklist", self.blacklist, 1),
            ("softdeps", self.softdeps, 3),
            ("modules-load", self.modules_load, 1),
            ("weakdeps", self.weakdeps, 2),
        ] {
            for (i, rec) in bytes.chunks_exact(4 * fields).enumerate() {
                if rec.chunks_exact(4).any(|f| self.strings.get(u32_at(f, 0).unwrap_or(u32::MAX)).is_none()) {
                    return Err(bad(section, i));
                }
            }
        }
        Ok(())
    }

    /// The kernel release (`uname -r`) the index was built for.
    pub fn kernel_release(&self) -> &'a [u8] {
        self.kernel_release
    }

    pub fn module_count(&self) -> usize {
        self.modules.len() / MODULE_RECORD
    }

    /// The module with number `id`; None when there is no such module.
    pub fn module(&self, id: ModuleId) -> Option<Module<'a>> {
        let base = usize::from(id.0).checked_mul(MODULE_RECORD)?;
        let field = |off: usize| self.modules.get(base + off..);
        field(0)?;
        let stem = self.strings.get(u32_at(self.modules, base + REC_STEM)?)?;
        let dir = u16_at(self.modules, base + REC_DIR)?;
        let compression = compression_from_byte(*field(REC_COMPRESSION)?.first()?)?;
        let flags = *field(REC_FLAGS)?.first()?;
        let start = u32_at(self.modules, base + REC_DEPS)? as usize;
        let end = u32_at(self.modules, base + MODULE_RECORD + REC_DEPS).map_or(self.deps.len() / 2, |e| e as usize);
        let deps = self.deps.get(start * 2..end * 2)?;
        Some(Module { id, stem, compression, builtin: flags & FLAG_BUILTIN != 0, dir, dirs: self.dirs, deps })
    }

    pub fn modules(&self) -> impl Iterator<Item = Module<'a>> + '_ {
        (0..self.module_count()).filter_map(|i| self.module(ModuleId(i as u16)))
    }

    fn name_entry(&self, i: usize) -> Option<ModuleId> {
        u16_at(self.names, i * 2).map(ModuleId).filter(|id| usize::from(id.0) < self.module_count())
    }

    /// The name table's order: by normalized name, then loadable before builtin.
    fn name_order(&self, a: ModuleId, b: ModuleId) -> core::cmp::Ordering {
        match (self.module(a), self.module(b)) {
            (Some(a), Some(b)) => a.name().cmp(b.name()).then(a.builtin.cmp(&b.builtin)),
            _ => core::cmp::Ordering::Equal,
        }
    }

    /// The module (loadable or builtin, as `builtin` says) named `name` (normalized).
    pub fn find(&self, name: &[u8], builtin: bool) -> Option<Module<'a>> {
        let key = |m: &Module<'a>| (m.name().cmp(module_name(name)), m.builtin.cmp(&builtin));
        let (mut lo, mut hi) = (0, self.module_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let m = self.module(self.name_entry(mid)?)?;
            match key(&m) {
                (core::cmp::Ordering::Equal, core::cmp::Ordering::Equal) => return Some(m),
                (core::cmp::Ordering::Less, _) | (core::cmp::Ordering::Equal, core::cmp::Ordering::Less) => {
                    lo = mid + 1
                }
                _ => hi = mid,
            }
        }
        None
    }

    /// Aliases from the .ko files (kmod's modules.alias).
    pub fn module_aliases(&self) -> &AliasTable<'a> {
        &self.module_aliases
    }

    /// Aliases of builtin modules (kmod's modules.builtin.alias).
    pub fn builtin_aliases(&self) -> &AliasTable<'a> {
        &self.builtin_aliases
    }

    fn records(&self, bytes: &'a [u8], fields: usize) -> impl Iterator<Item = [&'a [u8]; 3]> + 'a {
        let strings = self.strings;
        bytes.chunks_exact(4 * fields).map(move |rec| {
            let mut out: [&[u8]; 3] = [b""; 3];
            for (slot, f) in out.iter_mut().zip(rec.chunks_exact(4)) {
                *slot = u32_at(f, 0).and_then(|o| strings.get(o)).unwrap_or_default();
            }
            out
        })
    }

    /// modprobe.d `alias` lines: (pattern, module name), in config order.
    pub fn config_aliases(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.records(self.config_aliases, 2).map(|[p, m, _]| (p, m))
    }

    /// modprobe.d `options` lines: (module name or alias, options), in config order.
    pub fn options(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.records(self.options, 2).map(|[m, o, _]| (m, o))
    }

    /// modprobe.d `blacklist` lines: module names.
    pub fn blacklist(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.records(self.blacklist, 1).map(|[m, _, _]| m)
    }

    /// `softdep` lines in config order (the modules' own, from modules.softdep, included).
    pub fn softdeps(&self) -> impl Iterator<Item = Softdep<'a>> + 'a {
        self.records(self.softdeps, 3).map(|[pattern, pre, post]| Softdep { pattern, pre, post })
    }

    /// modules-load.d entries: names or aliases to load at boot, in order.
    pub fn modules_load(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.records(self.modules_load, 1).map(|[m, _, _]| m)
    }

    /// `weakdep` lines in config order (the modules' own, from modules.weakdep, included);
    /// none in an index of format version 1.
    pub fn weakdeps(&self) -> impl Iterator<Item = Weakdep<'a>> + 'a {
        self.records(self.weakdeps, 2).map(|[pattern, names, _]| Weakdep { pattern, names })
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::index::writer::{IndexContents, ModprobeConfig, ModuleEntry, write};
    use std::vec;
    use std::vec::Vec;

    fn field(file: &[u8], at: usize) -> usize {
        u32_at(file, at).unwrap() as usize
    }

    /// An index whose one module lies `depth` directories deep, each named `d` (the writer
    /// makes such a tree only from a path of that many parts): its Dirs section replaced by a
    /// chain, then the header's length and checksum made right.
    fn deep_index(depth: usize) -> Vec<u8> {
        let module = ModuleEntry {
            stem: b"m".to_vec(),
            dir: Some(b"d".to_vec()),
            compression: Compression::Zstd,
            builtin: false,
            deps: vec![],
        };
        let mut file = write(&IndexContents { modules: vec![module], ..IndexContents::default() }).unwrap();
        let table = |s: Section| OFF_SECTIONS + 8 * Section::ALL.iter().position(|&x| x == s).unwrap();
        let name = u32_at(&file, field(&file, table(Section::Dirs)) + 2).unwrap();
        let chain_at = file.len();
        for d in 0..depth {
            let parent = if d == 0 { NO_DIR } else { d as u16 - 1 };
            file.extend(parent.to_le_bytes().into_iter().chain(name.to_le_bytes()));
        }
        let dirs = table(Section::Dirs);
        file[dirs..dirs + 4].copy_from_slice(&(chain_at as u32).to_le_bytes());
        file[dirs + 4..dirs + 8].copy_from_slice(&((depth * DIR_RECORD) as u32).to_le_bytes());
        let record = field(&file, table(Section::Modules)) + REC_DIR;
        file[record..record + 2].copy_from_slice(&(depth as u16 - 1).to_le_bytes());
        let len = file.len() as u32;
        file[OFF_FILE_LEN..OFF_FILE_LEN + 4].copy_from_slice(&len.to_le_bytes());
        let checksum = crc32(&file[HEADER_LEN..]);
        file[OFF_CHECKSUM..OFF_CHECKSUM + 4].copy_from_slice(&checksum.to_le_bytes());
        file
    }

    /// An index whose one module is `kernel/dd/a_b.ko.zst`, with the bytes of string `from`
    /// changed to `to` (same length) and the checksum made right: what a hostile or buggy
    /// writer could produce.
    fn patched_index(from: &[u8], to: &[u8]) -> Vec<u8> {
        let module = ModuleEntry {
            stem: b"a_b".to_vec(),
            dir: Some(b"kernel/dd".to_vec()),
            compression: Compression::Zstd,
            builtin: false,
            deps: vec![],
        };
        let mut file = write(&IndexContents { modules: vec![module], ..IndexContents::default() }).unwrap();
        let needle: Vec<u8> = [&[0u8][..], from, &[0]].concat();
        let at = file.windows(needle.len()).position(|w| w == needle).unwrap() + 1;
        file[at..at + to.len()].copy_from_slice(to);
        let checksum = crc32(&file[HEADER_LEN..]);
        file[OFF_CHECKSUM..OFF_CHECKSUM + 4].copy_from_slice(&checksum.to_le_bytes());
        file
    }

    /// `file` (written with no weakdeps) as format version 1 lays it out: the header without
    /// the weakdeps entry of the section table, every section 8 bytes earlier.
    fn as_version_1(file: &[u8]) -> Vec<u8> {
        let entry = OFF_SECTIONS + 8 * (Section::ALL.len() - 1);
        assert_eq!(u32_at(file, entry + 4), Some(0), "no weakdeps");
        let mut old = [&file[..entry], &file[HEADER_LEN..]].concat();
        for i in 0..Section::ALL.len() - 1 {
            let at = OFF_SECTIONS + 8 * i;
            let offset = field(&old, at) as u32 - 8;
            old[at..at + 4].copy_from_slice(&offset.to_le_bytes());
        }
        old[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&1u32.to_le_bytes());
        let len = old.len() as u32;
        old[OFF_FILE_LEN..OFF_FILE_LEN + 4].copy_from_slice(&len.to_le_bytes());
        let checksum = crc32(&old[entry..]);
        old[OFF_CHECKSUM..OFF_CHECKSUM + 4].copy_from_slice(&checksum.to_le_bytes());
        old
    }

    /// Indexes written before weakdeps (format version 1) still open, with no weakdeps; a
    /// later version is refused, naming the versions this reader knows.
    #[test]
    fn version_1_files_open_without_weakdeps() {
        let module = ModuleEntry {
            stem: b"lan78xx".to_vec(),
            dir: Some(b"kernel/drivers/net/usb".to_vec()),
            compression: Compression::Xz,
            builtin: false,
            deps: vec![],
        };
        let contents = IndexContents {
            kernel_release: b"6.1.0-57-amd64".to_vec(),
            modules: vec![module],
            config: ModprobeConfig {
                softdeps: vec![(b"lan78xx".to_vec(), b"pre".to_vec(), b"post".to_vec())],
                ..ModprobeConfig::default()
            },
            modules_load: vec![b"lan78xx".to_vec()],
            ..IndexContents::default()
        };
        let old = as_version_1(&write(&contents).unwrap());
        let index = Index::open(&old).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(
            index.module(ModuleId(0)).unwrap().path(&mut buf),
            Some(&b"kernel/drivers/net/usb/lan78xx.ko.xz"[..])
        );
        assert_eq!((index.kernel_release(), index.weakdeps().count()), (&b"6.1.0-57-amd64"[..], 0));
        assert_eq!(index.softdeps().next().map(|s| (s.pre, s.post)), Some((&b"pre"[..], &b"post"[..])));
        assert_eq!(index.modules_load().collect::<Vec<_>>(), [b"lan78xx"]);
        assert_eq!(Index::open(&old[..130]).err(), Some(IndexError::Truncated { len: 130 }));
        let mut newer = write(&contents).unwrap();
        newer[OFF_VERSION] = 3;
        let error = Index::open(&newer).unwrap_err();
        assert_eq!(error, IndexError::UnsupportedVersion { found: 3 });
        assert_eq!(error.to_string(), "index format version 3, this modinit reads versions 1 to 2");
    }

    /// The writer never makes a path that leaves the modules dir; a file that does anyway
    /// is refused when opened, whatever its checksum says.
    #[test]
    fn paths_leaving_the_modules_dir_are_refused() {
        let mut buf = [0u8; 64];
        let good = patched_index(b"dd", b"dd");
        let index = Index::open(&good).unwrap();
        assert_eq!(index.module(ModuleId(0)).unwrap().path(&mut buf), Some(&b"kernel/dd/a_b.ko.zst"[..]));
        let directory = |record| Some(IndexError::BadRecord { section: "directories", record });
        assert_eq!(Index::open(&patched_index(b"dd", b"..")).err(), directory(1));
        assert_eq!(Index::open(&patched_index(b"dd", b"d/")).err(), directory(1));
        assert_eq!(Index::open(&patched_index(b"kernel", b"../../")).err(), directory(0));
        assert_eq!(
            Index::open(&patched_index(b"a_b", b"a/b")).err(),
            Some(IndexError::BadRecord { section: "modules", record: 0 })
        );
        assert!(Index::open(&patched_index(b"dd", b".d")).is_ok(), "a name starting with a dot is a name");
    }

    /// Found while writing the fuzz target for the index (fuzz/targets/src/index.rs): the path
    /// was built by recursion from the module's directory up, one frame per level, before the
    /// buffer's size was looked at. 65,000 levels overflowed a 2 MiB stack (a test thread's).
    #[test]
    fn deep_directory_trees_neither_recurse_nor_overflow() {
        let file = deep_index(65_000);
        let index = Index::open(&file).unwrap();
        let module = index.module(ModuleId(0)).unwrap();
        assert_eq!(module.path(&mut [0u8; 4096]), None, "too long for the buffer");
        let shallow = deep_index(3);
        let module = Index::open(&shallow).unwrap().module(ModuleId(0)).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(module.path(&mut buf), Some(&b"d/d/d/m.ko.zst"[..]));
        assert_eq!(module.path(&mut buf[..14]), Some(&b"d/d/d/m.ko.zst"[..]));
        assert_eq!(module.path(&mut buf[..13]), None);
        assert_eq!(module.path(&mut buf[..4]), None);
    }
}
