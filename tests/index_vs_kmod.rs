//! modinit's index and resolution against kmod itself, on the real Debian module trees:
//! Debian 12's (plain `.ko`) and Debian 13's (every module `.ko.xz`, read whole by our builder
//! for its aliases, dependencies from symbols, and softdeps).
//!
//! The same tree is indexed twice: by `xtask::index` (our builder) and by `depmod`. Then, for
//! a corpus of keys — real modaliases from QEMU machines (tests/fixtures/modaliases) and keys
//! made from every alias pattern and module name of the tree — our lookup must give the
//! modules libkmod gives, in its order; and for every module, our probe list (dependencies,
//! softdeps, options) must be what `modprobe --show-depends` prints. Once with no
//! configuration, once with a modprobe.d that uses every directive; and the index the applets
//! build from kmod's own files (a tree kmod's depmod indexed) answers every key as kmod does.

use modinit::config::ConfigFile;
use modinit::index::Index;
use modinit::index::builder::modprobe_config;
use modinit::index::from_kmod_files::{KmodFiles, contents_from_kmod_files};
use modinit::resolve::symbols::ModulesSymbols;
use modinit::resolve::{Found, Key, Resolver, Target, Via};
use modinit_tests::kmod_oracle::{Insertion, Kmod};
use std::path::Path;

fn name_of(t: &Target<'_>) -> String {
    let mut buf = [0u8; 256];
    String::from_utf8_lossy(t.name(&mut buf)).into_owned()
}

fn our_lookup(r: &Resolver<'_>, key: &str) -> Vec<String> {
    let Ok(k) = Key::new(key.as_bytes()) else { return Vec::new() };
    let mut out = [None; 256];
    let (_, n) = r.lookup(&k, &mut out).unwrap_or_else(|e| panic!("lookup {key}: {e:?}"));
    out[..n].iter().flatten().map(|f| name_of(&f.target)).collect()
}

/// What modprobe --show-depends prints for `key`, from our resolution: for every module the
/// lookup finds (those reached through an alias and blacklisted are left out), its probe
/// list as (name, path, options); builtins have no path, missing modules print nothing.
fn our_show_depends(r: &Resolver<'_>, key: &str) -> Vec<Insertion> {
    let Ok(k) = Key::new(key.as_bytes()) else { return Vec::new() };
    let mut found = [None; 256];
    let (_, n) = r.lookup(&k, &mut found).unwrap();
    let mut lines = Vec::new();
    for f in found[..n].iter().flatten() {
        if f.via != Via::Name && r.is_blacklisted(&f.target) {
            continue;
        }
        r.probe_list(f, &mut |step| {
            let Target::Module(m) = step.target else { return };
            let path = m.path(&mut [0u8; 512]).map(|p| String::from_utf8_lossy(p).into_owned());
            let mut options = Vec::new();
            let via = if matches!(f.target, Target::Module(t) if t.id == m.id) {
                *f
            } else {
                Found { target: step.target, via: step.via }
            };
            r.options(&via, k.as_bytes(), |p| options.extend_from_slice(p));
            // kmod's module_options_concat leaves a space after configured options.
            if !options.is_empty() {
                options.push(b' ');
            }
            lines.push((name_of(&step.target), path, String::from_utf8(options).unwrap()));
        })
        .unwrap();
    }
    lines
}

/// kmod prints absolute paths under its root: keep what follows the modules dir.
fn relative(lines: Vec<Insertion>, tree: &Path) -> Vec<Insertion> {
    let prefix = format!("{}/", tree.display());
    lines.into_iter().map(|(n, p, o)| (n, p.map(|p| p.strip_prefix(&prefix).unwrap_or(&p).to_string()), o)).collect()
}

struct Compared {
    keys: usize,
    matches: usize,
    mismatches: Vec<String>,
}

fn compare(index_bytes: &[u8], kmod: &Kmod, kmod_tree: &Path, keys: &[String], names: &[String]) -> Compared {
    let cmdline = std::fs::read("/proc/cmdline").unwrap_or_default();
    let r = Resolver { index: Index::open(index_bytes).unwrap(), cmdline: &cmdline, symbols: ModulesSymbols::NONE };
    let mut c = Compared { keys: 0, matches: 0, mismatches: Vec::new() };
    for key in keys {
        let (ours, theirs) = (our_lookup(&r, key), kmod.lookup(key));
        c.keys += 1;
        c.matches += usize::from(!theirs.is_empty());
        if ours != theirs {
            c.mismatches.push(format!("lookup {key}: modinit {ours:?}, kmod {theirs:?}"));
        }
    }
    for name in names {
        let (ours, theirs) = (our_show_depends(&r, name), relative(kmod.show_depends(name), kmod_tree));
        if ours != theirs {
            c.mismatches.push(format!("show-depends {name}:\n  modinit {ours:?}\n  kmod    {theirs:?}"));
        }
    }
    c
}

fn report(what: &str, c: &Compared, names: usize) {
    eprintln!("{what}: {} keys ({} resolve to modules) and {names} probe lists compared", c.keys, c.matches);
    let shown: Vec<&String> = c.mismatches.iter().take(20).collect();
    assert!(
        c.mismatches.is_empty(),
        "{} mismatches with kmod, first ones:\n{}",
        c.mismatches.len(),
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn resolution_equals_kmods_on_the_debian_tree() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    resolution_equals_kmods(&tree, "no configuration");
}

#[test]
fn resolution_equals_kmods_on_debian_13s_xz_tree() {
    let Some(tree) = modinit_test_fixtures::real_second_module_tree() else { return };
    resolution_equals_kmods(&tree, "Debian 13 (.ko.xz), no configuration");
}

/// Every key of the corpus and every module's probe list, ours from `tree` against kmod's from
/// `depmod -b` on it.
fn resolution_equals_kmods(tree: &Path, what: &str) {
    let kmod_tree = xtask::kmod::indexed_tree(tree).unwrap();
    let kmod = Kmod::without_configuration(&kmod_tree);
    let built = xtask::index::build_index(tree, None).unwrap();
    let unread: Vec<&String> = built.warnings.iter().filter(|w| w.contains("indexed without aliases")).collect();
    assert!(unread.is_empty(), "{what}: modules the builder could not read: {unread:?}");
    let keys = xtask::corpus::keys(&kmod_tree).unwrap();
    let names = xtask::corpus::module_names(&kmod_tree).unwrap();
    let c = compare(&built.bytes, &kmod, &kmod_tree, &keys, &names);
    report(what, &c, names.len());
    assert!(
        keys.len() > 50_000 && c.matches > 25_000,
        "the corpus covers the tree: {} keys, {} matching",
        keys.len(),
        c.matches
    );
}

/// The index the applets build from kmod's own files when a tree has no modinit.idx
/// (`modinit::index::from_kmod_files`): every key and every probe list as kmod's, on both trees.
#[test]
fn an_index_of_kmods_files_resolves_as_kmod() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    let Some(second) = modinit_test_fixtures::real_second_module_tree() else { return };
    for tree in [tree, second] {
        let kmod_tree = xtask::kmod::indexed_tree(&tree).unwrap();
        let kmod = Kmod::without_configuration(&kmod_tree);
        let read = |name: &str| std::fs::read(kmod_tree.join(name)).ok();
        let files = KmodFiles {
            kernel_release: tree.file_name().unwrap().to_str().unwrap().as_bytes().to_vec(),
            modules_dep: read("modules.dep").unwrap(),
            modules_alias: read("modules.alias"),
            modules_builtin: read("modules.builtin"),
            modules_builtin_modinfo: read("modules.builtin.modinfo"),
        };
        let mut warnings = Vec::new();
        let mut contents = contents_from_kmod_files(&files, &mut |w| warnings.push(w.0));
        assert!(warnings.is_empty(), "{}: {warnings:?}", tree.display());
        // The configuration as the applets read it with kmod's (empty) one: the directory's
        // modules.softdep alone.
        let dir = kmod_tree.to_str().unwrap().to_string();
        let softdep = ConfigFile { dir, name: "modules.softdep".into(), text: read("modules.softdep").unwrap() };
        contents.config = modprobe_config(&[softdep], &mut |w| panic!("{w}"));
        let bytes = modinit::index::writer::write(&contents).unwrap();
        let keys = xtask::corpus::keys(&kmod_tree).unwrap();
        let names = xtask::corpus::module_names(&kmod_tree).unwrap();
        let c = compare(&bytes, &kmod, &kmod_tree, &keys, &names);
        report(&format!("kmod's files of {}", tree.display()), &c, names.len());
        assert!(keys.len() > 50_000 && c.matches > 25_000, "{} keys, {} matching", keys.len(), c.matches);
    }
}

#[test]
fn configuration_is_applied_as_kmod_applies_it() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    let kmod_tree = xtask::kmod::indexed_tree(&tree).unwrap();
    let config_root = tempfile::tempdir().unwrap();
    let modprobe_d = config_root.path().join("etc/modprobe.d");
    std::fs::create_dir_all(&modprobe_d).unwrap();
    std::fs::write(modprobe_d.join("test.conf"), modinit_tests::TEST_CONFIG).unwrap();
    let kmod = Kmod::new(&kmod_tree, &[&modprobe_d]);
    let built = xtask::index::build_index(&tree, Some(config_root.path())).unwrap();
    let mut keys: Vec<String> = [
        "my-nic",
        "my_nic",
        "ethernet-0",
        "no-such-target",
        "pcspkr",
        "e1000e",
        "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
    ]
    .map(String::from)
    .into();
    keys.extend(xtask::corpus::keys(&kmod_tree).unwrap().into_iter().step_by(7));
    let mut names = xtask::corpus::module_names(&kmod_tree).unwrap();
    names.extend(keys.iter().take(7).cloned());
    let c = compare(&built.bytes, &kmod, &kmod_tree, &keys, &names);
    report("test configuration", &c, names.len());
}

/// The table of the tree's modules an image lacks (`modinit.absent`), as the image builder
/// writes it for an image of every third module, answers every device key of the corpus (the
/// real modaliases, and keys made from every alias of the tree) with the modules kmod's lookup
/// gives over the whole tree, in its order, less the builtins and the image's: on both trees.
#[test]
fn the_table_of_absent_modules_answers_as_kmod() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    let Some(second) = modinit_test_fixtures::real_second_module_tree() else { return };
    for tree in [tree, second] {
        let kmod_tree = xtask::kmod::indexed_tree(&tree).unwrap();
        let kmod = Kmod::without_configuration(&kmod_tree);
        let files = xtask::module_tree::files(&tree).unwrap();
        let image: std::collections::BTreeSet<String> = files
            .iter()
            .filter_map(|p| p.strip_prefix(&tree).ok()?.to_str().map(str::to_string))
            .filter(|rel| modinit::decompress::Compression::of_file_name(rel.as_bytes()).is_some())
            .step_by(3)
            .collect();
        let whole = xtask::index::build_index(&tree, None).unwrap();
        let part = xtask::index::build_index_of(&tree, None, Some(&image)).unwrap();
        let image = Index::open(&part.bytes).unwrap();
        let file = xtask::index::absent_table(&whole.bytes, &part.bytes).unwrap();
        let table = modinit::absent::table::AbsentTable::open(&file).unwrap();
        let builtin = std::fs::read_to_string(kmod_tree.join("modules.builtin")).unwrap();
        let builtin: Vec<String> = builtin.lines().map(|p| module_name_of(p.rsplit('/').next().unwrap())).collect();
        let keys: Vec<String> = xtask::corpus::keys(&kmod_tree).unwrap();
        let keys: Vec<(&String, Key)> = keys
            .iter()
            .filter(|k| modinit::absent::is_device_alias(k.as_bytes()))
            .filter_map(|k| Some((k, Key::new(k.as_bytes()).ok()?)))
            .collect();
        let (mut compared, mut matched, mut mismatches) = (0, 0, Vec::new());
        for (key, normalized) in &keys {
            let mut ours = Vec::new();
            table.for_each_match(normalized, |m| ours.push(String::from_utf8_lossy(m).into_owned()));
            let mut theirs = kmod.lookup(key);
            theirs.retain(|m| !builtin.contains(m) && image.find(m.as_bytes(), false).is_none());
            compared += 1;
            matched += usize::from(!theirs.is_empty());
            if ours != theirs {
                mismatches.push(format!("{key}: table {ours:?}, kmod {theirs:?}"));
            }
        }
        eprintln!("{}: {compared} device keys, {matched} matching absent modules", tree.display());
        assert!(
            mismatches.is_empty(),
            "{} mismatches, first: {:?}",
            mismatches.len(),
            &mismatches[..5.min(mismatches.len())]
        );
        assert!(
            compared > 30_000 && matched > 10_000,
            "the corpus covers the table: {compared} keys, {matched} matching"
        );
    }
}

/// kmod's name of a module file `e1000e.ko` (or `.ko.xz`, ...): up to the first `.`, `-` as `_`.
fn module_name_of(file: &str) -> String {
    file.split('.').next().unwrap_or_default().replace('-', "_")
}
