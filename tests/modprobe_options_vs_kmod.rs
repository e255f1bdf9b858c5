//! modprobe's options beyond lookups against kmod 30's modprobe, on one root both depmods
//! indexed (kmod's writes modules.symbols there) with the test configuration: `symbol:NAME`
//! keys taken from that modules.symbols (`-D`, `-R`, `-n -v`, `-r -n -v`, `-a`),
//! `--show-exports FILE` over a sample of the tree's module files and files kmod cannot read,
//! and `-i`, `-f`, `--force-*`, `-n`, `-r -D`, `-q -v` on names whose outputs need no kernel
//! state (dry runs; a forced insertion the kernel refuses is checked in QEMU, tests/qemu/toolbox.rs).
//! On Debian 12's tree and Debian 13's `.ko.xz` one.

use modinit_tests::TEST_CONFIG;
use modinit_tests::applet_peers::{Peers, Root};
use std::fs;
use std::path::Path;

/// A root with the test configuration that kmod's depmod indexed (it writes modules.symbols),
/// and then modinit's (whose modinit.idx the applets then read).
fn indexed_by_both(tree: &Path) -> Root {
    let root = Root::new(tree, Some(TEST_CONFIG));
    xtask::kmod::depmod(root.path(), &root.version).unwrap();
    root.depmod();
    root
}

/// A root with the test configuration that only kmod's depmod indexed (the applets build an
/// index from kmod's files).
fn indexed_by_kmod(tree: &Path) -> Root {
    let root = Root::new(tree, Some(TEST_CONFIG));
    root.kmod_depmod();
    root
}

fn peers(root: &Root) -> Peers<'_> {
    Peers { ours: root, kmod: root.path().to_path_buf(), kmod_config: root.modprobe_d() }
}

/// Runs each command line with both modprobes; the ones whose exit code, stdout or stderr differ.
fn mismatches(peers: &Peers<'_>, lines: &[Vec<String>]) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines {
        let args: Vec<&str> = line.iter().map(String::as_str).collect();
        let [ours, kmod] = peers.run(&args);
        if ours != kmod {
            found.push(format!("modprobe {}:\n  modinit {ours:?}\n  kmod    {kmod:?}", args.join(" ")));
        }
    }
    found
}

fn assert_none(mismatches: &[String], what: &str) {
    let shown = mismatches.iter().take(10).cloned().collect::<Vec<_>>().join("\n");
    assert!(mismatches.is_empty(), "{what}: {} mismatches with kmod:\n{shown}", mismatches.len());
}

fn line(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn symbol_keys_resolve_as_kmods_do() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    symbol_keys_on(&tree);
}

#[test]
fn symbol_keys_resolve_as_kmods_do_on_debian_13s_xz_tree() {
    let Some(tree) = modinit_test_fixtures::real_second_module_tree() else { return };
    symbol_keys_on(&tree);
}

/// About 60 `symbol:` keys spread over `tree`'s modules.symbols, and one no module exports, with
/// each mode alone and all of them at once with `-a`; beside modinit.idx and beside kmod's files
/// alone.
fn symbol_keys_on(tree: &Path) {
    for root in [indexed_by_both(tree), indexed_by_kmod(tree)] {
        symbol_keys_in(&root);
    }
}

fn symbol_keys_in(root: &Root) {
    let text = fs::read_to_string(root.modules().join("modules.symbols")).unwrap();
    let symbols: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("alias ")?.split(' ').next()).collect();
    assert!(symbols.len() > 10_000, "kmod's depmod lists the exports: {}", symbols.len());
    let mut keys: Vec<&str> = symbols.iter().step_by(symbols.len() / 60).copied().collect();
    keys.push("symbol:no_module_exports_this");
    let mut lines = Vec::new();
    for &key in &keys {
        for mode in [&["-D"][..], &["-R"], &["-n", "-v"], &["-r", "-n", "-v"], &["-i", "-D"]] {
            lines.push(line(&[mode, &["--", key]].concat()));
        }
    }
    for mode in ["-D", "-R"] {
        lines.push(line(&[&["-a", mode][..], &keys].concat()));
    }
    let peers = peers(root);
    assert_none(&mismatches(&peers, &lines), "symbol: keys");
    let [_, (_, resolved, _)] = peers.run(&[&["-a", "-R"][..], &keys].concat());
    assert!(resolved.lines().count() >= 60, "the keys name modules: {resolved}");
}

#[test]
fn show_exports_prints_what_kmods_prints() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    show_exports_on(&tree);
}

#[test]
fn show_exports_prints_what_kmods_prints_on_debian_13s_xz_tree() {
    let Some(tree) = modinit_test_fixtures::real_second_module_tree() else { return };
    show_exports_on(&tree);
}

/// `--show-exports` of about 80 module files spread over `tree` (with and without exports),
/// and of what kmod cannot read: a missing file, a text file, a directory, an empty file.
fn show_exports_on(tree: &Path) {
    let root = Root::new(tree, None);
    let modules = modinit_test_fixtures::modules_under(tree);
    let mut files: Vec<String> =
        modules.iter().step_by(modules.len() / 80).map(|m| m.to_str().unwrap().to_string()).collect();
    // Outside both roots: the messages name it as it is.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.ko");
    fs::write(&empty, b"").unwrap();
    for odd in [tree.join("no-such.ko"), tree.join("modules.order"), tree.to_path_buf(), empty] {
        files.push(odd.to_str().unwrap().to_string());
    }
    let mut lines: Vec<Vec<String>> = files.iter().map(|f| line(&["--show-exports", f])).collect();
    lines.push(line(&["-q", "--show-exports", &files[files.len() - 4]]));
    lines.push(line(&["-a", "--show-exports", &files[files.len() - 4], &files[0]]));
    let peers = Peers { ours: &root, kmod: xtask::kmod::indexed_root(tree).unwrap(), kmod_config: "/dev/null".into() };
    assert_none(&mismatches(&peers, &lines), "--show-exports");
    // Most modules export nothing; the sample's libraries do.
    let shown: usize = files.iter().map(|f| peers.run(&["--show-exports", f])[1].1.lines().count()).sum();
    assert!(shown > 50, "the sample exports symbols: {shown} lines");
}

/// `-i` (the top module's softdeps left out, on insertion and removal), the force options (a
/// dry run: nothing reaches the kernel), `-r -D` and `-r -R`, `--remove-holders` (of a module
/// not loaded: kmod's message when it has no holders directory carries Debian's debug source
/// location, so only quiet), `-q` over `-v`, on modules of the test configuration's lines.
#[test]
fn ignore_install_force_and_dry_runs_act_as_kmods() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    let root = indexed_by_both(&tree);
    let lines = [
        "-D ahci",
        "-i -D ahci",
        "--ignore-install -n -v ahci",
        "-D snd-hda-intel",
        "-i -D snd-hda-intel",
        "-r -D ahci",
        "-r -D -i ahci",
        "--ignore-remove -r -D ahci",
        "-r -R ahci",
        "-r -D -a ahci my-nic no-such-module",
        "-f -n -v ahci",
        "--force -D e1000",
        "--force-vermagic -n -v my-nic",
        "--force-modversion --dry-run -v e1000 copybreak=32",
        "--show -v -a e1000 ahci no-such-module",
        "-q -v -n ahci",
        "-v -q -n ahci",
        "--first-time -n -v e1000",
        "-r -n -v --remove-holders ahci",
        "-r -D -q --remove-holders ahci",
        "-r -n -v no-such-module",
        "-r -n -q no-such-module",
    ];
    let lines: Vec<Vec<String>> = lines.iter().map(|l| line(&l.split(' ').collect::<Vec<_>>())).collect();
    assert_none(&mismatches(&peers(&root), &lines), "options");
}
