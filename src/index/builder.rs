//! The depmod job: from a module tree's facts and the configuration to [`IndexContents`].
//!
//! It follows kmod 30's depmod (tools/depmod.c) where kmod's answers depend on it: module
//! priority from modules.order, dependencies from ELF symbols (not `depends=`), the order
//! of each module's dependency list from depmod's topological sort, aliases normalized and
//! kept with duplicates, builtin modules and aliases, and modprobe.d read as libkmod reads it,
//! with depmod's own modules.softdep and modules.weakdep (kmod 33) sorted among the files. The
//! caller reads the files (in parallel, on the host) and hands over their contents.

use super::writer::{IndexContents, ModprobeConfig, ModuleEntry};
use crate::config::{
    ConfigFile, ConfigWarning, Directive, WarningKind, insert_module_dir_file, parse_modprobe_d, parse_modules_load_d,
};
use crate::decompress::Compression;
use crate::index::module_list::stays_inside;
use crate::module_file::elf::Elf;
use crate::module_file::modinfo::Modinfo;
use crate::module_file::symbols::{dependency_symbols, exported_symbols};
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
    /// Symbols the module exports.
    pub exports: Vec<Vec<u8>>,
    /// Symbols the module needs, in kmod's order (symtab, then unmatched `__versions`).
    pub imports: Vec<Vec<u8>>,
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
    /// The facts of the module at `path` (relative to the modules dir) from its ELF image.
    pub fn from_image(path: &[u8], image: &[u8]) -> Result<ModuleFacts, FactsError> {
        let elf = Elf::parse(image).map_err(FactsError::Elf)?;
        let modinfo = Modinfo::of(&elf).map_err(FactsError::Modinfo)?;
        let owned = |s: &[u8]| s.to_vec();
        Ok(ModuleFacts {
            path: path.to_vec(),
            aliases: modinfo.values(b"alias").map(owned).collect(),
            softdeps: modinfo.values(b"softdep").map(owned).collect(),
            weakdeps: modinfo.values(b"weakdep").map(owned).collect(),
            exports: exported_symbols(&elf).map(owned).collect(),
            imports: dependency_symbols(&elf).map_err(FactsError::Symbols)?.map(|s| s.name.to_vec()).collect(),
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

/// A module file as the builder arranges them.
struct Loadable<'f> {
    facts: &'f ModuleFacts,
    stem: &'f [u8],
    dir: &'f [u8],
    compression: Compression,
}

impl Loadable<'_> {
    /// The path without a compression suffix, as modules.order lists it.
    fn uncompressed_path(&self) -> &[u8] {
        let p = &self.facts.path;
        &p[..p.len() - self.compression.extension().len()]
    }
}

/// Computes the index contents for `modules` (any order) and `tree`.
pub fn build(modules: &[ModuleFacts], tree: &TreeFiles, warn: &mut dyn FnMut(BuildWarning)) -> IndexContents {
    let loadable = order_modules(modules, tree, warn);
    let deps = dependencies(&loadable, warn);
    let mut contents = IndexContents { kernel_release: tree.kernel_release.clone(), ..IndexContents::default() };
    for (m, deps) in loadable.iter().zip(deps) {
        contents.modules.push(ModuleEntry {
            stem: m.stem.to_vec(),
            dir: Some(m.dir.to_vec()),
            compression: m.compression,
            builtin: false,
            deps,
        });
    }
    for (id, m) in loadable.iter().enumerate() {
        for alias in &m.facts.aliases {
            match normalized_alias(alias) {
                Some(a) => contents.module_aliases.push((a, id as u16)),
                None => warn(BuildWarning(format!("Unmatched bracket in {}", lossy(alias)))),
            }
        }
    }
    add_builtins(&mut contents, tree, warn);
    add_config(&mut contents, &loadable, tree, warn);
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

/// The module files in kmod's priority order: as modules.order lists them, then the others
/// by path (depmod takes those in directory order, which no file records). Of two files
/// with the same module name, the first in that order is kept.
fn order_modules<'f>(
    modules: &'f [ModuleFacts],
    tree: &TreeFiles,
    warn: &mut dyn FnMut(BuildWarning),
) -> Vec<Loadable<'f>> {
    let mut files: Vec<Loadable<'f>> = Vec::new();
    for facts in modules {
        if !stays_inside(&facts.path) {
            warn(BuildWarning(format!("{}: not a path inside the modules directory, skipped", lossy(&facts.path))));
            continue;
        }
        let (dir, file) = match facts.path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&facts.path[..i], &facts.path[i + 1..]),
            None => (&facts.path[..0], &facts.path[..]),
        };
        match Compression::of_file_name(file) {
            Some((stem, compression)) => files.push(Loadable { facts, stem, dir, compression }),
            None => warn(BuildWarning(format!("{}: not a module file name, skipped", lossy(&facts.path)))),
        }
    }
    // modules.order's lines with their numbers, sorted: a path's first line is found by
    // binary search.
    let order = tree.modules_order.as_deref().unwrap_or_default();
    let mut lines: Vec<(&[u8], usize)> = order.split(|&b| b == b'\n').zip(0..).filter(|(l, _)| !l.is_empty()).collect();
    sort(&mut lines);
    let position = |path: &[u8]| {
        let first = lines.partition_point(|&(line, _)| line < path);
        lines.get(first).filter(|&&(line, _)| line == path).map_or(usize::MAX, |&(_, i)| i)
    };
    let mut keyed: Vec<(usize, Loadable<'f>)> =
        files.into_iter().map(|m| (position(m.uncompressed_path()), m)).collect();
    sort_by(&mut keyed, &mut |(a, m), (b, n)| a.cmp(b).then(m.facts.path.cmp(&n.facts.path)));
    // Of each name, the first file in that order: sort (name, position), keep each name's first.
    let mut names: Vec<(Vec<u8>, usize)> = keyed.iter().map(|(_, m)| normalized_name(m.stem)).zip(0..).collect();
    sort(&mut names);
    let mut kept = alloc::vec![false; keyed.len()];
    for (i, (name, at)) in names.iter().enumerate() {
        kept[*at] = i == 0 || names[i - 1].0 != *name;
    }
    let mut files = Vec::new();
    for ((_, m), kept) in keyed.into_iter().zip(kept) {
        if kept {
            files.push(m);
        } else {
            let (path, name) = (lossy(&m.facts.path), lossy(m.stem));
            warn(BuildWarning(format!("{path}: another file of module {name} comes first, skipped")));
        }
    }
    files
}

/// Each module's dependencies in load order, computed as depmod does: a symbol's owner is
/// the last module (in priority order) exporting it (depmod's hash_add replaces); a module depends on the owners of the
/// symbols it needs; a topological sort numbers modules users-first, and a module's whole
/// dependency closure, sorted by that number, is its modules.dep line — which kmod loads
/// from the end, so the load order is that list reversed.
fn dependencies(modules: &[Loadable<'_>], warn: &mut dyn FnMut(BuildWarning)) -> Vec<Vec<u16>> {
    // Every export with its module, sorted: a symbol's owner is the last of its run.
    let mut exports: Vec<(&[u8], usize)> = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        exports.extend(m.facts.exports.iter().map(|sym| (sym.as_slice(), i)));
    }
    sort(&mut exports);
    let owner = |sym: &[u8]| {
        let end = exports.partition_point(|&(s, _)| s <= sym);
        end.checked_sub(1).and_then(|last| exports.get(last)).filter(|&&(s, _)| s == sym).map(|&(_, i)| i)
    };
    let direct: Vec<Vec<usize>> = modules
        .iter()
        .map(|m| {
            let mut deps = Vec::new();
            for sym in &m.facts.imports {
                if let Some(o) = owner(sym)
                    && !deps.contains(&o)
                {
                    deps.push(o);
                }
            }
            deps
        })
        .collect();
    let sort_index = topological_order(&direct, modules, warn);
    // A module's closure, marked with its own number so the marks need no clearing.
    let mut mark = alloc::vec![usize::MAX; direct.len()];
    (0..direct.len())
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
        .collect()
}

/// depmod_calculate_dependencies: modules without users are roots, taken from a stack
/// (last pushed first), numbered in the order taken; taking a module releases its direct
/// dependencies, pushed in their order. Modules in a cycle are never released: depmod then
/// refuses to write anything; we warn and number them last.
fn topological_order(
    direct: &[Vec<usize>],
    modules: &[Loadable<'_>],
    warn: &mut dyn FnMut(BuildWarning),
) -> Vec<usize> {
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
    for (i, num) in number.iter_mut().enumerate().filter(|(_, num)| **num == usize::MAX) {
        warn(BuildWarning(format!("{}: in a dependency cycle", lossy(&modules[i].facts.path))));
        *num = next;
        next += 1;
    }
    number
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
            exports: exports.iter().map(|s| s.as_bytes().to_vec()).collect(),
            imports: imports.iter().map(|s| s.as_bytes().to_vec()).collect(),
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
        assert_eq!(names(&c, &c.modules[0].deps), ["b"]);
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
