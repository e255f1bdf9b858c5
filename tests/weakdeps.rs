//! Weak dependencies (kmod 33's `weakdep`) on real modules: a sample of Debian 13's 6.12 tree,
//! decompressed, whose lan78xx and micrel are given `weakdep=` entries (no module of that tree
//! carries one), plus a modprobe.d `weakdep` line. What the index answers and what `--select`
//! takes are checked against what kmod's modinfo reads from the same files.

use modinit::index::Index;
use modinit::toolbox::show_config::show_config;
use modinit_test_fixtures::SampleTree;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use xtask::select::{ModuleChoice, Selection, select};

/// lan78xx with its PHY drivers and what they depend on; usbnet and mii need none of them.
const STEMS: &[&str] = &[
    "lan78xx",
    "micrel",
    "microchip",
    "microchip_t1",
    "libphy",
    "fixed_phy",
    "usbcore",
    "usb-common",
    "usbnet",
    "mii",
];
/// lan78xx asks for its PHY driver at run time (the case weakdep was made for), and that one
/// for another, named with a dash.
const WEAKDEPS: &[(&str, &[&str])] = &[("lan78xx", &["micrel"]), ("micrel", &["microchip-t1"])];
/// A dependency's weak dependency, from the configuration.
const CONFIG: &str = "weakdep fixed_phy microchip\n";

/// The sample with its index (built with [`CONFIG`]), or None when a tool or the tree is missing.
struct Indexed {
    sample: SampleTree,
    index: Vec<u8>,
}

fn indexed(name: &str) -> Option<Indexed> {
    if Command::new("modinfo").arg("--version").output().is_err() {
        modinit_test_fixtures::unavailable("kmod's modinfo");
        return None;
    }
    let sample = SampleTree::of_second_tree(name, STEMS, WEAKDEPS)?;
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("etc/modprobe.d")).unwrap();
    std::fs::write(config.path().join("etc/modprobe.d/weak.conf"), CONFIG).unwrap();
    let index = xtask::index::build_index(&sample.modules, Some(config.path())).unwrap().bytes;
    Some(Indexed { sample, index })
}

/// `modinfo -F FIELD FILE` as kmod prints it: one value per line.
fn kmod_field(field: &str, file: &Path) -> Vec<String> {
    let out = Command::new("modinfo").args(["-F", field]).arg(file).output().unwrap();
    assert!(out.status.success(), "modinfo -F {field} {}", file.display());
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

/// The sample's module files in modules.order's order (kmod's priority), relative to the tree.
fn files_in_order(tree: &Path) -> Vec<String> {
    let order = std::fs::read_to_string(tree.join("modules.order")).unwrap();
    order.lines().map(str::to_string).collect()
}

/// The module name kmod gives a `.modinfo` (its `name=`), by file.
fn names(tree: &Path) -> BTreeMap<String, String> {
    files_in_order(tree).into_iter().map(|f| (kmod_field("name", &tree.join(&f)).concat(), f)).collect()
}

/// depmod's modules.weakdep (a line per `weakdep=` of each module, in priority order) sorts
/// before weak.conf: the index holds those lines, then the configuration's.
#[test]
fn the_index_answers_the_modules_weakdeps_then_the_configurations() {
    let Some(Indexed { sample, index }) = indexed("index") else { return };
    let tree = &sample.modules;
    let mut expected = Vec::new();
    for file in files_in_order(tree) {
        let name = kmod_field("name", &tree.join(&file)).concat();
        expected.extend(kmod_field("weakdep", &tree.join(&file)).into_iter().map(|w| format!("weakdep {name} {w}")));
    }
    assert_eq!(expected.len(), 2, "kmod's modinfo reads the entries the sample added: {expected:?}");
    expected.push(CONFIG.trim_end().to_string());
    let index = Index::open(&index).unwrap();
    let ours: Vec<String> = index
        .weakdeps()
        .map(|w| format!("weakdep {} {}", String::from_utf8_lossy(w.pattern), String::from_utf8_lossy(w.names)))
        .collect();
    assert_eq!(ours, expected);
    // modprobe -c prints them after the softdeps, before the end of the configuration.
    let mut dump = Vec::new();
    show_config(&index, b"", &mut dump);
    let dump = String::from_utf8(dump).unwrap();
    let configuration = dump.split("\n# End of configuration files.").next().unwrap();
    assert_eq!(configuration.lines().filter(|l| l.starts_with("weakdep ")).collect::<Vec<_>>(), expected);
}

/// The closure kmod's modinfo gives: from `top`, every module's `depends=` and `weakdep=`
/// names, and [`CONFIG`]'s, as files.
fn kmod_closure(tree: &Path, top: &str) -> BTreeSet<String> {
    let names = names(tree);
    let (mut closure, mut pending) = (BTreeSet::new(), vec![top.to_string()]);
    while let Some(name) = pending.pop() {
        let file = &names[&name.replace('-', "_")];
        if !closure.insert(file.clone()) {
            continue;
        }
        let path = tree.join(file);
        pending.extend(
            kmod_field("depends", &path)
                .iter()
                .flat_map(|d| d.split(','))
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        );
        pending.extend(kmod_field("weakdep", &path));
        let configured = CONFIG.strip_prefix(&format!("weakdep {name} "));
        pending.extend(configured.into_iter().flat_map(str::split_whitespace).map(str::to_string));
    }
    closure
}

fn selected(index: &[u8], names: &[&str], omit: &[&str]) -> (BTreeSet<String>, Vec<String>) {
    let choice = ModuleChoice {
        selection: Selection::Names(names.iter().map(|n| n.to_string()).collect()),
        omit: omit.iter().map(|n| n.to_string()).collect(),
        ..ModuleChoice::default()
    };
    let selected = select(index, &choice).unwrap().expect("a selection");
    (selected.paths, selected.dropped)
}

#[test]
fn select_takes_weak_dependencies_transitively() {
    let Some(Indexed { sample, index }) = indexed("select") else { return };
    let expected = kmod_closure(&sample.modules, "lan78xx");
    let (paths, dropped) = selected(&index, &["lan78xx"], &[]);
    assert_eq!(paths, expected);
    assert!(dropped.is_empty());
    for weak in ["micrel", "microchip_t1", "microchip"] {
        assert!(paths.iter().any(|p| p.ends_with(&format!("/{weak}.ko"))), "{weak} in {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.contains("usbnet") || p.ends_with("/mii.ko")), "{paths:?}");

    // Leaving out micrel leaves out what only micrel wanted (microchip_t1), not lan78xx.
    let (paths, dropped) = selected(&index, &["lan78xx"], &["micrel"]);
    let mut expected = expected.clone();
    expected.retain(|p| !p.ends_with("/micrel.ko") && !p.ends_with("/microchip_t1.ko"));
    assert_eq!(paths, expected);
    assert!(dropped.is_empty(), "{dropped:?}");
}
