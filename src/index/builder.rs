//! The depmod job: from a module tree's facts and the configuration to [`IndexContents`].
//!
//! It follows kmod 30's depmod (tools/depmod.c) where kmod's answers depend on it: module
//! priority from modules.order, dependencies from ELF symbols (not `depends=`), the order
//! of each module's dependency list from depmod's topological sort, aliases normalized and
//! kept with duplicates, builtin modules and aliases, and modprobe.d read as libkmod reads it,
//! with depmod's own modules.softdep and modules.weakdep (kmod 33) sorted among the files. The
//! caller reads the files (in parallel, on the host) and hands over their contents.

use super::kmod_hash::{MODULE_BUCKETS, bucket_of};
use super::writer::{IndexContents, ModprobeConfig, ModuleEntry};
use crate::config::depmod_d::DepmodConfig;
use crate::config::{
    ConfigFile, ConfigWarning, Directive, WarningKind, insert_module_dir_file, parse_modprobe_d, parse_modules_load_d,
};
use crate::decompress::Compression;
use crate::index::module_list::stays_inside;
use crate::module_file::elf::Elf;
use crate::module_file::modinfo::Modinfo;
use crate::module_file::symbols::{dependency_symbols, exported_symbols, exports_with_crcs, versions as versions_of};
use crate::name::module_name;
use crate::name::normalize_alias;
use crate::sort::{sort, sort_by};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// What the builder needs to know of one module file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleFacts {
    /// Path relative to the modules dir, e.g. `kernel/drivers/ata/ahci.ko.zst`.
    pub path: Vec<u8>,
    /// `.modinfo` `alias=` values, in file order.
    pub aliases: Vec<Vec<u8>>,
    /// `.modinfo` `softdep=` values, in file order.
    pub softdeps: Vec<Vec<u8>>,
    /// `.modinfo` `weakdep=` values (`MODULE_WEAKDEP`, Linux >= 6.11), in file order.
    pub weakdeps: Vec<Vec<u8>>,
    /// Symbols the module exports, with their modversions CRC (0 without).
    pub exports: Vec<Export>,
    /// Symbols the module needs, in kmod's order (symtab, then unmatched `__versions`).
    pub imports: Vec<Import>,
}

/// A symbol a module exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    pub name: Vec<u8>,
    /// Its modversions CRC, as kmod reads it (0 without).
    pub crc: u64,
}

/// A symbol a module needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    pub name: Vec<u8>,
    /// The CRC its first `__versions` entry of that name records (0 without).
    pub crc: u64,
    /// A weak reference: depmod does not complain when nothing has it.
    pub weak: bool,
}

/// Why a module file's facts could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactsError {
    Elf(crate::module_file::elf::ElfError),
    Modinfo(crate::module_file::modinfo::ModinfoError),
    Symbols(crate::module_file::symbols::SymbolError),
}

impl core::fmt::Display for FactsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FactsError::Elf(e) => write!(f, "{e}"),
            FactsError::Modinfo(e) => write!(f, "{e}"),
            FactsError::Symbols(e) => write!(f, "{e}"),
        }
    }
}

impl ModuleFacts {
    /// The facts of the module at `path` (relative to the modules dir) from its ELF image;
    /// the symbols' CRCs (0 otherwise) only `with_crcs` (what `depmod -E` compares).
    pub fn from_image(path: &[u8], image: &[u8], with_crcs: bool) -> Result<ModuleFacts, FactsError> {
        let elf = Elf::parse(image).map_err(FactsError::Elf)?;
        let modinfo = Modinfo::of(&elf).map_err(FactsError::Modinfo)?;
        let owned = |s: &[u8]| s.to_vec();
        // A name's CRC is its first entry's (kmod's `kmod_elf_crc_find`): sorted by name, then place.
        let mut versions: Vec<(&[u8], usize, u64)> = Vec::new();
        if with_crcs {
            versions.extend(versions_of(&elf).zip(0..).map(|((n, crc), i)| (n, i, crc)));
            sort(&mut versions);
        }
        let crc_of = |name: &[u8]| {
            let first = versions.partition_point(|&(n, _, _)| n < name);
            versions.get(first).filter(|&&(n, _, _)| n == name).map_or(0, |&(_, _, crc)| crc)
        };
        let imports = dependency_symbols(&elf).map_err(FactsError::Symbols)?;
        Ok(ModuleFacts {
            path: path.to_vec(),
            aliases: modinfo.values(b"alias").map(owned).collect(),
            softdeps: modinfo.values(b"softdep").map(owned).collect(),
            weakdeps: modinfo.values(b"weakdep").map(owned).collect(),
            exports: if with_crcs {
                // No `__ksymtab_strings` to fall back on: no exports, as `exported_symbols` says.
                let exports = exports_with_crcs(&elf).into_iter().flatten();
                exports.map(|e| Export { name: e.name.to_vec(), crc: e.crc }).collect()
            } else {
                exported_symbols(&elf).map(|name| Export { name: name.to_vec(), crc: 0 }).collect()
            },
            imports: imports.map(|s| Import { name: s.name.to_vec(), crc: crc_of(s.name), weak: s.weak }).collect(),
        })
    }
}

/// The inputs besides the module files.
#[derive(Debug, Clone, Default)]
pub struct TreeFiles {
    /// The modules dir's name, e.g. `6.1.0-57-amd64`.
    pub kernel_release: Vec<u8>,
    pub modules_order: Option<Vec<u8>>,
    pub modules_builtin: Option<Vec<u8>>,
    pub modules_builtin_modinfo: Option<Vec<u8>>,
    /// modprobe.d files as `config::select_modprobe_d` chose them, in reading order.
    pub modprobe_d: Vec<ConfigFile>,
    /// modules-load.d files as `config::select_modules_load_d` chose them.
    pub modules_load_d: Vec<ConfigFile>,
    /// depmod.d: which of two files of a module is kept.
    pub depmod_d: DepmodConfig,
}

/// Something the index will not reflect the way kmod would, or input kmod also complains about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWarning(pub String);

impl core::fmt::Display for BuildWarning {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(super) fn lossy(s: &[u8]) -> alloc::borrow::Cow<'_, str> {
    String::from_utf8_lossy(s)
}

/// A module file as depmod keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Loadable<'f> {
    pub facts: &'f ModuleFacts,
    /// The file name without `.ko[.EXT]`.
    pub stem: &'f [u8],
    /// The directory, relative to the modules dir.
    pub dir: &'f [u8],
    pub compression: Compression,
}

impl Loadable<'_> {
    /// The path depmod matches against modules.order (`uncrelpath`): the path cut after the
    /// directory, the module name's length of the file name, and `.ko`.
    fn order_path(&self) -> &[u8] {
        let p = &self.facts.path;
        let dir = if self.dir.is_empty() { 0 } else { self.dir.len() + 1 };
        &p[..(dir + module_name(self.stem).count() + 3).min(p.len())]
    }

    /// The module's name, normalized (kmod's `modname`).
    pub fn name(&self) -> Vec<u8> {
        normalized_name(self.stem)
    }
}

/// Symbols the kernel itself exports, from `depmod -E Module.symvers` or `-F System.map`, and
/// how depmod checks the modules' needs against them.
#[derive(Debug, Clone, Default)]
pub struct KernelSymbols {
    /// (name, CRC) in file order, the architecture's symbol prefix already dropped. None
    /// without `-E`/`-F`: then nothing is checked.
    pub symbols: Option<Vec<(Vec<u8>, u64)>>,
    /// `-P`: the architecture's symbol prefix, dropped from exported and needed names.
    pub prefix: Option<u8>,
    /// `-e`: report symbols no one exports (and, with CRCs from `-E`, CRCs that disagree).
    pub report: bool,
    /// `-E`: the CRCs are the kernel's (Module.symvers), so disagreements count.
    pub check_versions: bool,
}

/// One entry of depmod's symbol table after every module's exports went in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolEntry<'f> {
    pub name: &'f [u8],
    /// The module (its position in [`Analysis::modules`]); None for the kernel's.
    pub owner: Option<u16>,
    pub crc: u64,
}

/// A need of a module `depmod -e` reports, in the order depmod reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolProblem<'f> {
    /// kmod: `PATH needs unknown symbol NAME`.
    Unknown { module: u16, symbol: &'f [u8] },
    /// kmod: `PATH disagrees about version of symbol NAME`.
    Version { module: u16, symbol: &'f [u8] },
}

/// What depmod computes of a tree before it writes anything.
#[derive(Debug, Clone)]
pub struct Analysis<'f> {
    /// The modules kept, in depmod's order: a module's position is its id and its priority.
    pub modules: Vec<Loadable<'f>>,
    /// Each module's dependencies, transitively, in load order (modules.dep lists them reversed).
    pub deps: Vec<Vec<u16>>,
    /// depmod's symbol table, sorted by name.
    pub symbols: Vec<SymbolEntry<'f>>,
    pub problems: Vec<SymbolProblem<'f>>,
    /// Modules in (or below) a dependency cycle, which depmod refuses to write.
    pub in_cycles: Vec<u16>,
}

/// Computes the index contents for `modules` (in the order depmod finds them) and `tree`.
pub fn build(modules: &[ModuleFacts], tree: &TreeFiles, warn: &mut dyn FnMut(BuildWarning)) -> IndexContents {
    contents(&analyze(modules, tree, &KernelSymbols::default(), warn), tree, warn)
}

/// depmod's view of `modules` (in the order depmod finds them: its directory walk) and `tree`.
pub fn analyze<'f>(
    modules: &'f [ModuleFacts],
    tree: &TreeFiles,
    kernel: &'f KernelSymbols,
    warn: &mut dyn FnMut(BuildWarning),
) -> Analysis<'f> {
    let modules = order_modules(modules, tree, warn);
    let (symbols, direct, problems) = link(&modules, kernel);
    let (deps, in_cycles) = dependencies(&modules, &direct, warn);
    Analysis { modules, deps, symbols, problems, in_cycles }
}

/// The index contents of `a`.
pub fn contents(a: &Analysis<'_>, tree: &TreeFiles, warn: &mut dyn FnMut(BuildWarning)) -> IndexContents {
    let mut contents = IndexContents { kernel_release: tree.kernel_release.clone(), ..IndexContents::default() };
    for (m, deps) in a.modules.iter().zip(&a.deps) {
        contents.modules.push(ModuleEntry {
            stem: m.stem.to_vec(),
            dir: Some(m.dir.to_vec()),
            compression: m.compression,
            builtin: false,
            deps: deps.clone(),
        });
    }
    for (id, m) in a.modules.iter().enumerate() {
        for alias in &m.facts.aliases {
            match normalized_alias(alias) {
                Some(a) => contents.module_aliases.push((a, id as u16)),
                None => warn(BuildWarning(format!("Unmatched bracket in {}", lossy(alias)))),
            }
        }
    }
    add_builtins(&mut contents, tree, warn);
    add_config(&mut contents, &a.modules, tree, warn);
    contents
}

pub(super) fn normalized_alias(alias: &[u8]) -> Option<Vec<u8>> {
    let mut out = alloc::vec![0u8; alias.len()];
    let len = normalize_alias(alias, &mut out)?;
    out.truncate(len);
    Some(out)
}

pub(super) fn normalized_name(name: &[u8]) -> Vec<u8> {
    module_name(name).collect()
}

/// The module files in depmod's order. Of two files of one module, the one depmod.d's
/// `override` and `search` prefer, else the first found (`depmod_module_is_higher_priority`).
/// Then the modules as depmod's name table hands them out (kmod's hash order), and those
/// modules.order lists moved first, in its order (a path listed twice counts at its last line).
fn order_modules<'f>(
    modules: &'f [ModuleFacts],
    tree: &TreeFiles,
    warn: &mut dyn FnMut(BuildWarning),
) -> Vec<Loadable<'f>> {
    let mut kept: Vec<(Vec<u8>, Loadable<'f>)> = Vec::new();
    let mut by_name: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for facts in modules {
        if !stays_inside(&facts.path) {
            warn(BuildWarning(format!("{}: not a path inside the modules directory, skipped", lossy(&facts.path))));
            continue;
        }
        let (dir, file) = match facts.path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&facts.path[..i], &facts.path[i + 1..]),
            None => (&facts.path[..0], &facts.path[..]),
        };
        let Some((stem, compression)) = Compression::of_file_name(file) else {
            warn(BuildWarning(format!("{}: not a module file name, skipped", lossy(&facts.path))));
            continue;
        };
        let new = Loadable { facts, stem, dir, compression };
        let name = normalized_name(stem);
        match by_name.get(&name) {
            None => {
                by_name.insert(name.clone(), kept.len());
                kept.push((name, new));
            }
            // kmod says nothing of the file it leaves out (a debug message only).
            Some(&at) => {
                let old = &mut kept[at].1;
                if !tree.depmod_d.keeps_old(&old.facts.path, &facts.path, name.len()) {
                    *old = new;
                }
            }
        }
    }
    // kmod's name table order, then modules.order's.
    let mut keyed: Vec<(u32, Vec<u8>, Loadable<'f>)> =
        kept.into_iter().map(|(name, m)| (bucket_of(&name, MODULE_BUCKETS), name, m)).collect();
    sort_by(&mut keyed, &mut |(a, n, _), (b, m, _)| a.cmp(b).then_with(|| n.cmp(m)));
    let order = tree.modules_order.as_deref().unwrap_or_default();
    let mut lines: Vec<&[u8]> = order.split(|&b| b == b'\n').collect();
    // depmod leaves the hash order when the last line lacks its newline (a corrupted file).
    if lines.pop().is_some_and(|last| !last.is_empty()) {
        warn(BuildWarning(format!("modules.order:{} corrupted line misses '\\n'", lines.len() + 1)));
        return keyed.into_iter().map(|(_, _, m)| m).collect();
    }
    // Each line with its number, sorted: a path's last line is found by binary search.
    let mut numbered: Vec<(&[u8], usize)> = lines.into_iter().zip(0..).collect();
    sort(&mut numbered);
    let position = |path: &[u8]| {
        let end = numbered.partition_point(|&(line, _)| line <= path);
        end.checked_sub(1).map(|last| numbered[last]).filter(|&(line, _)| line == path).map_or(usize::MAX, |(_, i)| i)
    };
    let mut ranked: Vec<(usize, usize, Loadable<'f>)> =
        keyed.into_iter().enumerate().map(|(rank, (_, _, m))| (position(m.order_path()), rank, m)).collect();
    sort_by(&mut ranked, &mut |(a, r, _), (b, s, _)| a.cmp(b).then(r.cmp(s)));
    ranked.into_iter().map(|(_, _, m)| m).collect()
}

/// depmod's symbol table and each module's direct dependencies, in the order of its needs. The
/// table holds the kernel's symbols, then every module's exports in module order, a later one
/// replacing an earlier of the same name (kmod's `hash_add`): a symbol's owner is the last
/// module exporting it. A need is looked up without a leading `.` (PPC64) and without the
/// symbol prefix.
fn link<'f>(
    modules: &[Loadable<'f>],
    kernel: &'f KernelSymbols,
) -> (Vec<SymbolEntry<'f>>, Vec<Vec<usize>>, Vec<SymbolProblem<'f>>) {
    let strip = |name: &'f [u8]| match (name.first(), kernel.prefix) {
        (Some(&c), Some(p)) if c == p => &name[1..],
        _ => name,
    };
    let mut added: Vec<(SymbolEntry<'f>, usize)> = Vec::new();
    let mut add = |entry: SymbolEntry<'f>| {
        let seq = added.len();
        added.push((entry, seq));
    };
    if let Some(symbols) = &kernel.symbols {
        for (name, crc) in symbols {
            add(SymbolEntry { name, owner: None, crc: *crc });
        }
        // depmod_add_fake_syms: names the kernel's loader provides.
        for name in [&b"__this_module"[..], b"_GLOBAL_OFFSET_TABLE_", b"TOC."] {
            add(SymbolEntry { name, owner: None, crc: 0 });
        }
    }
    for (i, m) in modules.iter().enumerate() {
        for export in &m.facts.exports {
            add(SymbolEntry { name: strip(&export.name), owner: Some(i as u16), crc: export.crc });
        }
    }
    // Sorted by name, then as added; the last of each name stays.
    sort_by(&mut added, &mut |(a, s), (b, t)| a.name.cmp(b.name).then(s.cmp(t)));
    let mut symbols: Vec<SymbolEntry<'f>> = Vec::with_capacity(added.len());
    for (entry, _) in added {
        match symbols.last_mut() {
            Some(last) if last.name == entry.name => *last = entry,
            _ => symbols.push(entry),
        }
    }
    let find = |name: &[u8]| {
        let name = name.strip_prefix(b".").unwrap_or(name);
        let name = match (name.first(), kernel.prefix) {
            (Some(&c), Some(p)) if c == p => &name[1..],
            _ => name,
        };
        symbols.binary_search_by(|s| s.name.cmp(name)).ok().map(|i| symbols[i])
    };
    let mut problems = Vec::new();
    let direct = modules
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut deps = Vec::new();
            for import in &m.facts.imports {
                let found = find(&import.name);
                if kernel.report && !import.weak {
                    let symbol = import.name.as_slice();
                    match found {
                        None => problems.push(SymbolProblem::Unknown { module: i as u16, symbol }),
                        Some(s) if kernel.check_versions && s.crc != import.crc => {
                            problems.push(SymbolProblem::Version { module: i as u16, symbol });
                        }
                        Some(_) => {}
                    }
                }
                if let Some(o) = found.and_then(|s| s.owner).map(usize::from)
                    && !deps.contains(&o)
                {
                    deps.push(o);
                }
            }
            deps
        })
        .collect();
    (symbols, direct, problems)
}

/// Each module's dependencies in load order, computed as depmod does: a topological sort
/// numbers modules users-first, and a module's whole dependency closure, sorted by that
/// number, is its modules.dep line — which kmod loads from the end, so the load order is that
/// list reversed. Also the modules the sort could not number (cycles).
fn dependencies(
    modules: &[Loadable<'_>],
    direct: &[Vec<usize>],
    warn: &mut dyn FnMut(BuildWarning),
) -> (Vec<Vec<u16>>, Vec<u16>) {
    let (sort_index, in_cycles) = topological_order(direct, modules, warn);
    // A module's closure, marked with its own number so the marks need no clearing.
    let mut mark = alloc::vec![usize::MAX; direct.len()];
    let deps = (0..direct.len())
        .map(|i| {
            let mut list: Vec<usize> = Vec::new();
            let mut stack: Vec<usize> = direct[i].clone();
            while let Some(d) = stack.pop() {
                if d != i && mark[d] != i {
                    mark[d] = i;
                    list.push(d);
                    stack.extend(&direct[d]);
                }
            }
            sort_by(&mut list, &mut |&a, &b| sort_index[b].cmp(&sort_index[a]));
            list.into_iter().map(|d| d as u16).collect()
        })
        .collect();
    (deps, in_cycles)
}

/// depmod_calculate_dependencies: modules without users are roots, taken from a stack
/// (last pushed first), numbered in the order taken; taking a module releases its direct
/// dependencies, pushed in their order. Modules in a cycle are never released: depmod then
/// refuses to write anything; we warn, number them last and return them.
fn topological_order(
    direct: &[Vec<usize>],
    modules: &[Loadable<'_>],
    warn: &mut dyn FnMut(BuildWarning),
) -> (Vec<usize>, Vec<u16>) {
    let n = direct.len();
    let mut users = alloc::vec![0usize; n];
    for deps in direct {
        for &d in deps {
            users[d] += 1;
        }
    }
    let mut roots: Vec<usize> = (0..n).filter(|&i| users[i] == 0).collect();
    let mut number = alloc::vec![usize::MAX; n];
    let mut next = 0;
    while let Some(m) = roots.pop() {
        number[m] = next;
        next += 1;
        for &d in &direct[m] {
            users[d] -= 1;
            if users[d] == 0 {
                roots.push(d);
            }
        }
    }
    let mut in_cycles = Vec::new();
    for (i, num) in number.iter_mut().enumerate().filter(|(_, num)| **num == usize::MAX) {
        warn(BuildWarning(format!("{}: in a dependency cycle", lossy(&modules[i].facts.path))));
        *num = next;
        next += 1;
        in_cycles.push(i as u16);
    }
    (number, in_cycles)
}

/// modules.builtin (names) and modules.builtin.modinfo (aliases) become builtin records
/// after the loadable modules; a builtin with aliases but not in modules.builtin gets one too.
pub(super) fn add_builtins(contents: &mut IndexContents, tree: &TreeFiles, warn: &mut dyn FnMut(BuildWarning)) {
    // The map's type is the string table's (`StringsWriter`): the binary carries its code once.
    let mut ids: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    let mut add = |contents: &mut IndexContents, stem: &[u8]| -> u16 {
        let name = normalized_name(stem);
        if let Some(&id) = ids.get(name.as_slice()) {
            return id as u16;
        }
        let (dir, compression, deps) = (None, Compression::None, Vec::new());
        contents.modules.push(ModuleEntry { stem: stem.to_vec(), dir, compression, builtin: true, deps });
        let id = (contents.modules.len() - 1) as u16;
        ids.insert(name, u32::from(id));
        id
    };
    for line in tree.modules_builtin.as_deref().unwrap_or_default().split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let file = line.rsplit(|&b| b == b'/').next().unwrap_or(line);
        let stem = file.split(|&b| b == b'.').next().unwrap_or(file);
        // A line naming no file (`kernel/lib/`, `kernel/.ko`) would be a module without a name.
        if !line[0].is_ascii_alphabetic() || stem.is_empty() {
            warn(BuildWarning(format!("Invalid modules.builtin line: {}", lossy(line))));
            continue;
        }
        add(contents, stem);
    }
    // Records are `MODNAME.KEY=VALUE`, NUL-separated.
    for record in tree.modules_builtin_modinfo.as_deref().unwrap_or_default().split(|&b| b == 0) {
        let Some(dot) = record.iter().position(|&b| b == b'.') else { continue };
        let (name, field) = (&record[..dot], &record[dot + 1..]);
        let Some(alias) = field.strip_prefix(b"alias=") else { continue };
        if name.is_empty() || alias.is_empty() {
            continue;
        }
        match normalized_alias(alias) {
            Some(a) => {
                let id = add(contents, name);
                contents.builtin_aliases.push((a, id));
            }
            None => warn(BuildWarning(format!("Unmatched bracket in {}", lossy(alias)))),
        }
    }
}

/// modprobe.d (with depmod's modules.softdep and modules.weakdep among its files, as libkmod
/// reads them) and modules-load.d.
fn add_config(
    contents: &mut IndexContents,
    modules: &[Loadable<'_>],
    tree: &TreeFiles,
    warn: &mut dyn FnMut(BuildWarning),
) {
    let mut files = tree.modprobe_d.clone();
    let release = String::from_utf8_lossy(&tree.kernel_release).into_owned();
    let softdeps = module_dir_file(modules, b"softdep", |f| &f.softdeps);
    let weakdeps = module_dir_file(modules, b"weakdep", |f| &f.weakdeps);
    for (name, text) in [("modules.softdep", softdeps), ("modules.weakdep", weakdeps)] {
        insert_module_dir_file(&mut files, ConfigFile { dir: release.clone(), name: name.into(), text });
    }
    let mut config_warn = |w: ConfigWarning| warn(BuildWarning(w.to_string()));
    contents.config = modprobe_config(&files, &mut config_warn);
    for file in &tree.modules_load_d {
        let path = format!("{}/{}", file.dir, file.name);
        contents.modules_load.extend(parse_modules_load_d(&path, &file.text, &mut config_warn));
    }
}

/// What libkmod keeps of the modprobe.d `files` (chosen and ordered as it reads them, the
/// module directory's files among them): the directives in reading order. Install and remove
/// commands are warned about: modinit loads such a module as a module.
pub fn modprobe_config(files: &[ConfigFile], warn: &mut dyn FnMut(ConfigWarning)) -> ModprobeConfig {
    let mut config = ModprobeConfig::default();
    for file in files {
        let path = format!("{}/{}", file.dir, file.name);
        for (line, directive) in parse_modprobe_d(&path, &file.text, warn) {
            match directive {
                Directive::Alias { pattern, module } => config.aliases.push((pattern, module)),
                Directive::Options { module, options } => config.options.push((module, options)),
                Directive::Blacklist { module } => config.blacklist.push(module),
                Directive::Softdep { module, pre, post } => {
                    config.softdeps.push((module, pre.join(&b' '), post.join(&b' ')));
                }
                Directive::Weakdep { module, deps } => config.weakdeps.push((module, deps.join(&b' '))),
                Directive::Install { module, .. } | Directive::Remove { module, .. } => warn(ConfigWarning {
                    file: path.clone(),
                    line,
                    message: format!(
                        "install/remove commands are not supported: {} is loaded as a module",
                        lossy(&module)
                    ),
                    kind: WarningKind::Command,
                }),
            }
        }
    }
    config
}

/// modules.softdep as depmod writes it: the modules' own `softdep=` values, which kmod's tools
/// read among the modprobe.d files.
pub fn softdep_file(a: &Analysis<'_>) -> Vec<u8> {
    let body = module_dir_file(&a.modules, b"softdep", |f| &f.softdeps);
    [&b"# Soft dependencies extracted from modules themselves.\n"[..], &body].concat()
}

/// modules.weakdep as kmod 33's depmod writes it: the modules' own `weakdep=` values, read as
/// modules.softdep is.
pub fn weakdep_file(a: &Analysis<'_>) -> Vec<u8> {
    let body = module_dir_file(&a.modules, b"weakdep", |f| &f.weakdeps);
    [&b"# Weak dependencies extracted from modules themselves.\n"[..], &body].concat()
}

/// What depmod writes to modules.softdep or modules.weakdep (`output_softdeps`,
/// `output_weakdeps` in tools/depmod.c): `COMMAND NAME VALUE` for each of a module's
/// `.modinfo` values of that kind, modules in priority order.
fn module_dir_file(modules: &[Loadable<'_>], command: &[u8], values: fn(&ModuleFacts) -> &[Vec<u8>]) -> Vec<u8> {
    let mut text = Vec::new();
    for m in modules {
        for value in values(m.facts) {
            for part in [command, b" ", &normalized_name(m.stem), b" ", value, b"\n"] {
                text.extend_from_slice(part);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn facts(path: &str, exports: &[&str], imports: &[&str]) -> ModuleFacts {
        ModuleFacts {
            path: path.as_bytes().to_vec(),
            exports: exports.iter().map(|s| Export { name: s.as_bytes().to_vec(), crc: 0 }).collect(),
            imports: imports.iter().map(|s| Import { name: s.as_bytes().to_vec(), crc: 0, weak: false }).collect(),
            ..ModuleFacts::default()
        }
    }

    fn names(c: &IndexContents, ids: &[u16]) -> Vec<String> {
        ids.iter().map(|&i| String::from_utf8(c.modules[usize::from(i)].stem.clone()).unwrap()).collect()
    }

    /// A diamond: top needs left and right, both need base; modules.order decides priority.
    #[test]
    fn dependencies_come_deepest_first_in_depmods_order() {
        let modules = [
            facts("kernel/b/right.ko", &["r"], &["b", "printk"]),
            facts("kernel/a/top.ko.zst", &[], &["l", "r"]),
            facts("kernel/c/base.ko", &["b"], &[]),
            facts("kernel/b/left.ko", &["l"], &["b"]),
        ];
        let tree = TreeFiles {
            modules_order: Some(b"kernel/a/top.ko\nkernel/b/left.ko\nkernel/b/right.ko\nkernel/c/base.ko\n".to_vec()),
            ..TreeFiles::default()
        };
        let c = build(&modules, &tree, &mut |w| panic!("{w}"));
        let stems: Vec<_> = c.modules.iter().map(|m| String::from_utf8(m.stem.clone()).unwrap()).collect();
        assert_eq!(stems, ["top", "left", "right", "base"]);
        // depmod: root top taken first; it releases left then right (pushed in that order),
        // so right is taken next, then left, then base: modules.dep lists users first.
        assert_eq!(names(&c, &c.modules[0].deps), ["base", "left", "right"]);
        assert_eq!(names(&c, &c.modules[1].deps), ["base"]);
        assert_eq!(c.modules[0].compression, Compression::Zstd);
    }

    #[test]
    fn cycles_are_reported_not_fatal() {
        let modules = [facts("a.ko", &["a"], &["b"]), facts("b.ko", &["b"], &["a"])];
        let mut warnings = vec![];
        let c = build(&modules, &TreeFiles::default(), &mut |w| warnings.push(w.0));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        // Without modules.order, kmod's hash order decides which comes first.
        let a = c.modules.iter().position(|m| m.stem == b"a").unwrap();
        assert_eq!(names(&c, &c.modules[a].deps), ["b"]);
    }

    #[test]
    fn aliases_builtins_and_config_are_collected() {
        let mut m = facts("kernel/drivers/ata/ahci.ko", &[], &[]);
        m.aliases = vec![b"pci:v*d*sv*sd*bc01sc06i01*".to_vec(), b"bad[".to_vec(), b"a-b".to_vec()];
        m.softdeps = vec![b"pre: crc32c".to_vec()];
        let tree = TreeFiles {
            kernel_release: b"6.1.0-test".to_vec(),
            modules_builtin: Some(b"kernel/crypto/crc32c_generic.ko\n".to_vec()),
            modules_builtin_modinfo: Some(b"crc32c_generic.alias=crypto-crc32c\0crc32c_generic.license=GPL\0virtio_blk.alias=virtio:d00000002v*\0".to_vec()),
            modprobe_d: vec![ConfigFile {
                dir: "etc/modprobe.d".into(),
                name: "zz.conf".into(),
                text: b"blacklist pcspkr\noptions ahci mobile_lpm_policy=1\ninstall foo /bin/true\nsoftdep ahci pre: libahci\n".to_vec(),
            }],
            ..TreeFiles::default()
        };
        let mut warnings = vec![];
        let c = build(&[m], &tree, &mut |w| warnings.push(w.0));
        assert_eq!(c.module_aliases, [(b"pci:v*d*sv*sd*bc01sc06i01*".to_vec(), 0), (b"a_b".to_vec(), 0)]);
        assert_eq!(names(&c, &[1, 2]), ["crc32c_generic", "virtio_blk"]);
        assert!(c.modules[1].builtin && c.modules[1].dir.is_none());
        assert_eq!(c.builtin_aliases, [(b"crypto_crc32c".to_vec(), 1), (b"virtio:d00000002v*".to_vec(), 2)]);
        assert_eq!(c.config.blacklist, [b"pcspkr".to_vec()]);
        // modules.softdep sorts before zz.conf, so the module's own softdep comes first.
        assert_eq!(c.config.softdeps[0], (b"ahci".to_vec(), b"crc32c".to_vec(), b"".to_vec()));
        assert_eq!(c.config.softdeps[1], (b"ahci".to_vec(), b"libahci".to_vec(), b"".to_vec()));
        assert!(warnings.iter().any(|w| w.contains("Unmatched bracket in bad[")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("zz.conf line 3") && w.contains("install")), "{warnings:?}");
    }

    /// kmod's testsuite/rootfs-pristine/test-weakdep: etc/modprobe.d/dumb-weakdep.conf, and
    /// mod-weakdep.ko with `weakdep=mod-simple` (depmod's modules.weakdep, which sorts after
    /// dumb-weakdep.conf). `modprobe -c` prints kmod's expected modprobe-c.txt, but for its
    /// `alias symbol:` lines (the index has no symbol table). Softdeps stay apart.
    #[test]
    fn weakdeps_come_from_modules_and_config_as_kmods_testsuite_expects() {
        let mut m = facts("kernel/mod-weakdep.ko", &[], &[]);
        m.weakdeps = vec![b"mod-simple".to_vec()];
        let tree = TreeFiles {
            modprobe_d: vec![ConfigFile {
                dir: "etc/modprobe.d".into(),
                name: "dumb-weakdep.conf".into(),
                text: b"weakdep mod-loop-a \t\nweakdep mod-loop-b mod-loop-a mod-simple\n".to_vec(),
            }],
            ..TreeFiles::default()
        };
        let c = build(&[m, facts("kernel/mod-simple.ko", &[], &[])], &tree, &mut |w| panic!("{w}"));
        assert!(c.config.softdeps.is_empty());
        let bytes = crate::index::writer::write(&c).unwrap();
        let mut shown = Vec::new();
        crate::toolbox::show_config::show_config(&crate::index::Index::open(&bytes).unwrap(), b"", &mut shown);
        let expected = "weakdep mod_loop_a \nweakdep mod_loop_b mod-loop-a mod-simple\nweakdep mod_weakdep mod-simple\n\
                        \n# End of configuration files. Dumping indexes now:\n\n";
        assert_eq!(String::from_utf8(shown).unwrap(), expected);
    }

    /// Module files are read from inside the modules dir, and the boot loads them from
    /// there: a path that could lead elsewhere never reaches the index.
    #[test]
    fn paths_leaving_the_modules_dir_are_skipped() {
        let modules = [
            facts("/lib/modules/evil.ko", &[], &[]),
            facts("../evil.ko", &[], &[]),
            facts("kernel/../../evil.ko", &[], &[]),
            facts("kernel/./x.ko", &[], &[]),
            facts("kernel//y.ko", &[], &[]),
            facts("kernel/fine.ko", &[], &[]),
        ];
        let mut warnings = vec![];
        let c = build(&modules, &TreeFiles::default(), &mut |w| warnings.push(w.0));
        assert_eq!(names(&c, &[0]), ["fine"]);
        assert_eq!(c.modules.len(), 1);
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        assert!(
            warnings[0].starts_with("/lib/modules/evil.ko: not a path inside the modules directory"),
            "{warnings:?}"
        );
        assert!(crate::index::Index::open(&crate::index::writer::write(&c).unwrap()).is_ok());
    }

    /// Found by fuzzing (fuzz/targets/src/index_built.rs): such lines made builtins without a
    /// name, which the writer refuses (before it did, the index was written and did not open).
    #[test]
    fn builtin_lines_naming_no_file_are_skipped() {
        let tree = TreeFiles {
            modules_builtin: Some(b"kernel/arch/x86/events/\nkernel/lib/.ko\nkernel/lib/crc32.ko\n".to_vec()),
            ..TreeFiles::default()
        };
        let mut warnings = vec![];
        let c = build(&[], &tree, &mut |w| warnings.push(w.0));
        assert_eq!(names(&c, &[0]), ["crc32"]);
        assert_eq!(c.modules.len(), 1);
        let invalid = |line: &str| format!("Invalid modules.builtin line: {line}");
        assert_eq!(warnings, [invalid("kernel/arch/x86/events/"), invalid("kernel/lib/.ko")]);
        assert!(crate::index::Index::open(&crate::index::writer::write(&c).unwrap()).is_ok());
    }
}
