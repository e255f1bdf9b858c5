//! Serializing an index: the contents, computed by the builder, to the bytes of
//! `modinit.idx`. The same contents always give the same bytes.

use super::alias_table::{encode, rests_by_frequency};
use super::format::*;
use super::strings::StringsWriter;
use crate::crc32::checksum as crc32;
use crate::decompress::Compression;
use crate::name::module_name;
use crate::sort::{sort, sort_by};
use alloc::vec::Vec;
use core::fmt;

/// One module as the index stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    /// File name without `.ko[.EXT]`.
    pub stem: Vec<u8>,
    /// Directory relative to the modules dir; None for a builtin.
    pub dir: Option<Vec<u8>>,
    pub compression: Compression,
    pub builtin: bool,
    /// Dependencies as module ids (positions in [`IndexContents::modules`]), load order.
    pub deps: Vec<u16>,
}

/// Everything an index holds, in the order it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexContents {
    pub kernel_release: Vec<u8>,
    /// In kmod's priority order: a module's id is its position.
    pub modules: Vec<ModuleEntry>,
    /// (normalized pattern, module id) from the .ko files, modules in priority order.
    pub module_aliases: Vec<(Vec<u8>, u16)>,
    /// (normalized pattern, module id) from modules.builtin.modinfo, in file order.
    pub builtin_aliases: Vec<(Vec<u8>, u16)>,
    /// modprobe.d, with the module directory's softdeps and weakdeps.
    pub config: ModprobeConfig,
    /// modules-load.d entries, in load order.
    pub modules_load: Vec<Vec<u8>>,
}

/// What libkmod keeps of modprobe.d (and of the module directory's modules.softdep and
/// modules.weakdep, which it reads among those files), in reading order. Names and patterns are
/// normalized as [`crate::config::Directive`] says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModprobeConfig {
    /// `alias PATTERN MODULE`.
    pub aliases: Vec<(Vec<u8>, Vec<u8>)>,
    /// `options MODULE TEXT`.
    pub options: Vec<(Vec<u8>, Vec<u8>)>,
    /// `blacklist MODULE`.
    pub blacklist: Vec<Vec<u8>>,
    /// `softdep PATTERN pre: ... post: ...`: (pattern, pre names, post names), names separated
    /// by one space.
    pub softdeps: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// `weakdep PATTERN NAMES`: (pattern, names separated by one space).
    pub weakdeps: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// Module ids are 16 bits wide.
    TooManyModules(usize),
    TooManyDirectories(usize),
    /// A string holds a NUL byte, which the string table cannot store.
    NulInString(Vec<u8>),
    /// Offsets are 32 bits wide.
    TooLarge,
    /// Module `module` has an empty stem: no file or builtin is named that way.
    EmptyStem {
        module: usize,
    },
    /// A module's directory has an empty component (`a//b`, `/a`, `a/`).
    EmptyPathComponent(Vec<u8>),
    /// A module's directory has a `.` or `..` component, or its file name holds a `/`: its
    /// path would not stay inside the modules directory.
    PathEscapes(Vec<u8>),
    /// A dependency or alias names module `id`, but there are only `modules`.
    NoSuchModule {
        id: u16,
        modules: usize,
    },
    /// The index whose configuration was to be replaced does not open
    /// ([`super::reconfigured::replace_config`]).
    Unreadable(crate::index::IndexError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::TooManyModules(n) => write!(f, "{n} modules: the index holds at most {}", u16::MAX),
            WriteError::TooManyDirectories(n) => {
                write!(f, "{n} module directories: the index holds at most {}", NO_DIR)
            }
            WriteError::NulInString(s) => write!(f, "a NUL byte in '{}'", s.escape_ascii()),
            WriteError::TooLarge => write!(f, "the index would exceed 4 GiB"),
            WriteError::EmptyStem { module } => write!(f, "module {module} has an empty name"),
            WriteError::EmptyPathComponent(dir) => {
                write!(f, "module directory '{}' has an empty component", dir.escape_ascii())
            }
            WriteError::PathEscapes(path) => {
                write!(f, "module path {:?} leaves the modules directory", alloc::string::String::from_utf8_lossy(path))
            }
            WriteError::NoSuchModule { id, modules } => {
                write!(f, "module id {id} names no module (there are {modules})")
            }
            WriteError::Unreadable(e) => write!(f, "{e}"),
        }
    }
}

/// Collects strings, refusing ones with NUL.
pub(super) struct Interner {
    pub(super) strings: StringsWriter,
    pub(super) error: Option<WriteError>,
}

impl Interner {
    fn intern(&mut self, s: &[u8]) -> u32 {
        if s.contains(&0) {
            self.error.get_or_insert(WriteError::NulInString(s.to_vec()));
            return 0;
        }
        self.strings.intern(s)
    }

    fn record(&mut self, out: &mut Vec<u8>, fields: &[&[u8]]) {
        for f in fields {
            let off = self.intern(f);
            out.extend_from_slice(&off.to_le_bytes());
        }
    }
}

/// Serializes `c`. Contents the reader would refuse are an error here, so that every index
/// written opens.
pub fn write(c: &IndexContents) -> Result<Vec<u8>, WriteError> {
    check(c)?;
    let mut s = Interner { strings: StringsWriter::default(), error: None };
    // The commonest pattern tails first: their offsets become one-byte varints.
    let patterns = c.module_aliases.iter().chain(&c.builtin_aliases).map(|(p, _)| p.as_slice());
    for rest in rests_by_frequency(patterns) {
        s.intern(rest);
    }
    let mut sections: [Vec<u8>; Section::ALL.len()] = Default::default();
    let mut put = |section: Section, bytes: Vec<u8>| {
        sections[section.slot()] = bytes;
    };

    // Every directory and its ancestors, numbered in path order: parents come first.
    let mut dirs: Vec<&[u8]> = Vec::new();
    for dir in c.modules.iter().filter_map(|m| m.dir.as_deref()).filter(|d| !d.is_empty()) {
        for (i, _) in dir.iter().enumerate().filter(|&(_, &b)| b == b'/') {
            dirs.push(&dir[..i]);
        }
        dirs.push(dir);
    }
    sort(&mut dirs);
    dirs.dedup();
    if dirs.len() >= usize::from(NO_DIR) {
        return Err(WriteError::TooManyDirectories(dirs.len()));
    }
    let dir_id = |dir: &[u8]| dirs.binary_search(&dir).ok().map(|i| i as u16);
    let mut dir_table = Vec::new();
    for dir in &dirs {
        let (parent, name) = match dir.iter().rposition(|&b| b == b'/') {
            Some(slash) => (dir_id(&dir[..slash]).unwrap_or(NO_DIR), &dir[slash + 1..]),
            None => (NO_DIR, *dir),
        };
        dir_table.extend_from_slice(&parent.to_le_bytes());
        dir_table.extend_from_slice(&s.intern(name).to_le_bytes());
    }

    let (mut modules, mut deps) = (Vec::new(), Vec::new());
    for m in &c.modules {
        let stem = s.intern(&m.stem);
        let dir = m.dir.as_deref().and_then(dir_id).unwrap_or(NO_DIR);
        modules.extend_from_slice(&stem.to_le_bytes());
        modules.extend_from_slice(&dir.to_le_bytes());
        modules.push(compression_byte(m.compression));
        modules.push(if m.builtin { FLAG_BUILTIN } else { 0 });
        modules.extend_from_slice(&((deps.len() / 2) as u32).to_le_bytes());
        for d in &m.deps {
            deps.extend_from_slice(&d.to_le_bytes());
        }
    }
    let mut by_name: Vec<u16> = (0..c.modules.len() as u16).collect();
    // Ties (two modules of one name and kind) keep id order.
    sort_by(&mut by_name, &mut |&a, &b| {
        let (x, y) = (&c.modules[usize::from(a)], &c.modules[usize::from(b)]);
        module_name(&x.stem).cmp(module_name(&y.stem)).then(x.builtin.cmp(&y.builtin)).then(a.cmp(&b))
    });
    put(Section::Modules, modules);
    put(Section::Deps, deps);
    put(Section::Names, by_name.iter().flat_map(|id| id.to_le_bytes()).collect());
    put(Section::Dirs, dir_table);

    for (list, blocks, stream) in [
        (&c.module_aliases, Section::ModuleAliasBlocks, Section::ModuleAliasStream),
        (&c.builtin_aliases, Section::BuiltinAliasBlocks, Section::BuiltinAliasStream),
    ] {
        let refs: Vec<(&[u8], u16)> = list.iter().map(|(p, m)| (p.as_slice(), *m)).collect();
        let (b, st) = encode(&refs, |rest| s.intern(rest));
        put(blocks, b);
        put(stream, st);
    }

    put_config(&mut s, &c.config, &mut put);
    let mut table = Vec::new();
    for m in &c.modules_load {
        s.record(&mut table, &[m]);
    }
    put(Section::ModulesLoad, table);
    let release = s.intern(&c.kernel_release);

    if let Some(e) = s.error {
        return Err(e);
    }
    put(Section::Strings, s.strings.into_bytes().ok_or(WriteError::TooLarge)?);
    assemble(release, &sections)
}

/// The configuration's sections, their strings interned in `s`.
pub(super) fn put_config(s: &mut Interner, c: &ModprobeConfig, put: &mut dyn FnMut(Section, Vec<u8>)) {
    let mut table = Vec::new();
    for (p, m) in &c.aliases {
        s.record(&mut table, &[p, m]);
    }
    put(Section::ConfigAliases, core::mem::take(&mut table));
    for (m, o) in &c.options {
        s.record(&mut table, &[m, o]);
    }
    put(Section::Options, core::mem::take(&mut table));
    for m in &c.blacklist {
        s.record(&mut table, &[m]);
    }
    put(Section::Blacklist, core::mem::take(&mut table));
    for (p, pre, post) in &c.softdeps {
        s.record(&mut table, &[p, pre, post]);
    }
    put(Section::Softdeps, core::mem::take(&mut table));
    for (p, names) in &c.weakdeps {
        s.record(&mut table, &[p, names]);
    }
    put(Section::Weakdeps, table);
}

/// What [`Index::open`](crate::index::Index::open) checks of the contents themselves: module
/// ids fit 16 bits and name modules, every module has a name, directories have no empty part.
fn check(c: &IndexContents) -> Result<(), WriteError> {
    let modules = c.modules.len();
    if modules >= usize::from(u16::MAX) {
        return Err(WriteError::TooManyModules(modules));
    }
    let known = |&id: &u16| (usize::from(id) < modules).then_some(()).ok_or(WriteError::NoSuchModule { id, modules });
    for (i, m) in c.modules.iter().enumerate() {
        if m.stem.is_empty() {
            return Err(WriteError::EmptyStem { module: i });
        }
        if let Some(dir) = m.dir.as_ref().filter(|d| !d.is_empty() && d.split(|&b| b == b'/').any(<[u8]>::is_empty)) {
            return Err(WriteError::EmptyPathComponent(dir.clone()));
        }
        let dir_escapes =
            m.dir.as_ref().is_some_and(|d| !d.is_empty() && d.split(|&b| b == b'/').any(is_dot_or_dot_dot));
        if dir_escapes || (!m.builtin && m.stem.contains(&b'/')) {
            return Err(WriteError::PathEscapes([m.dir.as_deref().unwrap_or_default(), &m.stem].join(&b'/')));
        }
        m.deps.iter().try_for_each(known)?;
    }
    c.module_aliases.iter().chain(&c.builtin_aliases).map(|(_, id)| id).try_for_each(known)
}

/// The header, the section table and the sections, in table order.
pub(super) fn assemble(release: u32, sections: &[Vec<u8>]) -> Result<Vec<u8>, WriteError> {
    let mut out = alloc::vec![0u8; HEADER_LEN];
    out[OFF_MAGIC..OFF_MAGIC + MAGIC.len()].copy_from_slice(&MAGIC);
    out[OFF_VERSION..][..4].copy_from_slice(&VERSION.to_le_bytes());
    out[OFF_KERNEL_RELEASE..][..4].copy_from_slice(&release.to_le_bytes());
    for (i, bytes) in sections.iter().enumerate() {
        let off = u32::try_from(out.len()).map_err(|_| WriteError::TooLarge)?;
        let len = u32::try_from(bytes.len()).map_err(|_| WriteError::TooLarge)?;
        out[OFF_SECTIONS + 8 * i..][..4].copy_from_slice(&off.to_le_bytes());
        out[OFF_SECTIONS + 8 * i + 4..][..4].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    let len = u32::try_from(out.len()).map_err(|_| WriteError::TooLarge)?;
    out[OFF_FILE_LEN..][..4].copy_from_slice(&len.to_le_bytes());
    let checksum = crc32(&out[HEADER_LEN..]);
    out[OFF_CHECKSUM..][..4].copy_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::index::{Index, IndexError, ModuleId};
    use std::vec;

    fn module(stem: &str, dir: Option<&str>, deps: Vec<u16>) -> ModuleEntry {
        ModuleEntry {
            stem: stem.as_bytes().to_vec(),
            dir: dir.map(|d| d.as_bytes().to_vec()),
            compression: if dir.is_some() { Compression::Zstd } else { Compression::None },
            builtin: dir.is_none(),
            deps,
        }
    }

    pub(in crate::index) fn sample() -> IndexContents {
        IndexContents {
            kernel_release: b"6.1.0-test".to_vec(),
            modules: vec![
                module("libata", Some("kernel/drivers/ata"), vec![]),
                module("ahci", Some("kernel/drivers/ata"), vec![2, 0]),
                module("libahci", Some("kernel/drivers/ata"), vec![0]),
                module("snd-hda-intel", Some("kernel/sound/pci/hda"), vec![]),
                module("top-level", Some(""), vec![]),
                module("crc32c_generic", None, vec![]),
            ],
            module_aliases: vec![(b"pci:v*d*sv*sd*bc01sc06i01*".to_vec(), 1), (b"pci:v00008086d*".to_vec(), 3)],
            builtin_aliases: vec![(b"crypto-crc32c".to_vec(), 5)],
            config: ModprobeConfig {
                aliases: vec![(b"eth*".to_vec(), b"e1000".to_vec())],
                options: vec![(b"ahci".to_vec(), b"mobile_lpm_policy=1".to_vec())],
                blacklist: vec![b"pcspkr".to_vec()],
                softdeps: vec![(b"ahci".to_vec(), b"crc32c".to_vec(), b"".to_vec())],
                weakdeps: vec![(b"lan78xx".to_vec(), b"micrel microchip".to_vec()), (b"lonely".to_vec(), b"".to_vec())],
            },
            modules_load: vec![b"loop".to_vec()],
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let bytes = write(&sample()).unwrap();
        assert_eq!(bytes, write(&sample()).unwrap(), "deterministic");
        let index = Index::open(&bytes).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(index.kernel_release(), b"6.1.0-test");
        assert_eq!(index.module_count(), 6);
        assert_eq!(index.find(b"top_level", false).unwrap().path(&mut buf), Some(&b"top-level.ko.zst"[..]));
        let ahci = index.find(b"ahci", false).unwrap();
        assert_eq!(ahci.id, ModuleId(1));
        assert_eq!(ahci.deps().collect::<Vec<_>>(), [ModuleId(2), ModuleId(0)]);
        assert_eq!(ahci.path(&mut buf), Some(&b"kernel/drivers/ata/ahci.ko.zst"[..]));
        let hda = index.find(b"snd_hda_intel", false).unwrap();
        assert_eq!((hda.id, hda.stem), (ModuleId(3), &b"snd-hda-intel"[..]));
        assert!(index.find(b"snd-hda-intel", false).is_some(), "names are normalized both sides");
        assert!(index.find(b"crc32c_generic", false).is_none());
        assert!(index.find(b"crc32c-generic", true).unwrap().builtin);
        assert_eq!(index.find(b"crc32c_generic", true).unwrap().path(&mut buf), None);
        let mut hits = vec![];
        index
            .module_aliases()
            .for_each_match(b"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", |h| hits.push(h.module));
        hits.sort();
        assert_eq!(hits, [1, 3]);
        assert_eq!(index.config_aliases().collect::<Vec<_>>(), [(&b"eth*"[..], &b"e1000"[..])]);
        assert_eq!(index.options().next(), Some((&b"ahci"[..], &b"mobile_lpm_policy=1"[..])));
        assert_eq!(index.blacklist().collect::<Vec<_>>(), [b"pcspkr"]);
        let sd = index.softdeps().next().unwrap();
        assert_eq!(
            (sd.pattern, sd.pre_names().collect::<Vec<_>>(), sd.post_names().count()),
            (&b"ahci"[..], vec![&b"crc32c"[..]], 0)
        );
        assert_eq!(index.modules_load().collect::<Vec<_>>(), [b"loop"]);
        let weakdeps: Vec<_> = index.weakdeps().map(|w| (w.pattern, w.names().collect::<Vec<_>>())).collect();
        assert_eq!(weakdeps, [(&b"lan78xx"[..], vec![&b"micrel"[..], b"microchip"]), (b"lonely", vec![])]);
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let good = write(&sample()).unwrap();
        assert_eq!(Index::open(&good[..10]).err(), Some(IndexError::Truncated { len: 10 }));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(Index::open(&bad).err(), Some(IndexError::BadMagic));
        let mut bad = good.clone();
        bad[OFF_VERSION] = 9;
        assert_eq!(Index::open(&bad).err(), Some(IndexError::UnsupportedVersion { found: 9 }));
        assert!(matches!(Index::open(&good[..good.len() - 1]), Err(IndexError::LengthMismatch { .. })));
        for i in HEADER_LEN..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(matches!(Index::open(&bad), Err(IndexError::ChecksumMismatch { .. })), "byte {i}");
        }
    }

    /// A file with a valid checksum but inconsistent contents (a buggy or hostile writer) is
    /// refused or harmless: no byte change of the header or sections makes `open` or a
    /// lookup panic.
    #[test]
    fn consistent_checksums_do_not_make_bad_contents_trusted() {
        let good = write(&sample()).unwrap();
        let mut refused = 0;
        for i in 0..good.len() {
            if (OFF_CHECKSUM..OFF_CHECKSUM + 4).contains(&i) {
                continue;
            }
            for delta in [1u8, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[i] = bad[i].wrapping_add(delta);
                let checksum = crc32(&bad[HEADER_LEN..]);
                bad[OFF_CHECKSUM..][..4].copy_from_slice(&checksum.to_le_bytes());
                match Index::open(&bad) {
                    Err(_) => refused += 1,
                    Ok(index) => {
                        for m in index.modules() {
                            let _ = (m.deps().count(), m.path(&mut [0u8; 128]), index.find(m.stem, m.builtin));
                        }
                        index.module_aliases().for_each_match(b"pci:v00008086d00002922", |_| {});
                        let _ = (index.options().count(), index.softdeps().count());
                    }
                }
            }
        }
        assert!(refused > good.len(), "most damage is detected: {refused} of {}", 3 * good.len());
    }

    /// Found by fuzzing (fuzz/targets/src/index_written.rs): each of these was written, and
    /// then refused by `Index::open`.
    #[test]
    fn contents_the_reader_would_refuse_are_an_error() {
        let with = |change: fn(&mut IndexContents)| {
            let mut c = sample();
            change(&mut c);
            write(&c)
        };
        assert_eq!(with(|c| c.modules[2].stem.clear()), Err(WriteError::EmptyStem { module: 2 }));
        for dir in ["kernel//ata", "/kernel", "kernel/"] {
            let mut c = sample();
            c.modules[0].dir = Some(dir.as_bytes().to_vec());
            assert_eq!(write(&c), Err(WriteError::EmptyPathComponent(dir.as_bytes().to_vec())));
        }
        assert_eq!(with(|c| c.modules[1].deps.push(6)), Err(WriteError::NoSuchModule { id: 6, modules: 6 }));
        assert_eq!(with(|c| c.module_aliases[0].1 = 9), Err(WriteError::NoSuchModule { id: 9, modules: 6 }));
        assert_eq!(with(|c| c.builtin_aliases[0].1 = 6), Err(WriteError::NoSuchModule { id: 6, modules: 6 }));
        assert!(Index::open(&with(|c| c.modules[0].dir = Some(b"kernel".to_vec())).unwrap()).is_ok());
    }

    /// No module file may lie outside the modules dir: no `.` or `..` in its directory, no
    /// `/` in its file name. Builtins have no file, so their names are not paths.
    #[test]
    fn paths_leaving_the_modules_dir_are_an_error() {
        for (dir, stem) in
            [("..", "x"), ("kernel/../..", "x"), ("kernel/.", "x"), ("kernel", "../../etc/x"), ("", "a/b")]
        {
            let mut c = sample();
            c.modules[0].dir = Some(dir.as_bytes().to_vec());
            c.modules[0].stem = stem.as_bytes().to_vec();
            let joined = format!("{dir}/{stem}").into_bytes();
            assert_eq!(write(&c), Err(WriteError::PathEscapes(joined)), "{dir} {stem}");
        }
        let mut c = sample();
        c.modules[0].dir = Some(b"kernel/..x/.y".to_vec());
        c.modules[0].stem = b"..".to_vec();
        let index_bytes = write(&c).unwrap();
        let index = Index::open(&index_bytes).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(
            index.module(ModuleId(0)).unwrap().path(&mut buf),
            Some(&b"kernel/..x/.y/...ko.zst"[..]),
            "names, not escapes"
        );
        c.modules[5].stem = b"a/b".to_vec();
        assert!(write(&c).is_ok(), "a builtin's name is no path");
    }

    #[test]
    fn strings_with_nul_are_an_error() {
        let mut c = sample();
        c.config.blacklist.push(b"bad\0name".to_vec());
        assert_eq!(write(&c), Err(WriteError::NulInString(b"bad\0name".to_vec())));
    }
}
