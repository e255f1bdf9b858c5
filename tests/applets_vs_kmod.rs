//! The applets of the static release binary against their references on the real Debian tree:
//! `modinit depmod -b ROOT VERSION` writes the file `cargo xtask index` writes (with and without
//! a configuration, from plain, gzip and zstd modules, and from Debian 13's `.ko.xz` tree), and
//! `modinit modprobe` prints what
//! kmod 30's modprobe prints for `-D`, `-R` (a sample of the corpus spanning its kinds of keys;
//! the library-level check in index_vs_kmod.rs covers every key; on both trees), `-c` and
//! command lines it refuses.

use modinit_tests::applet_peers::{Peers, Root, modinit, run};
use modinit_tests::{TEST_CONFIG, real_module_tree};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::module_tree::ModuleCompression;

#[test]
fn depmod_writes_what_cargo_xtask_index_writes() {
    let Some(tree) = real_module_tree() else { return };
    for config in [None, Some(TEST_CONFIG)] {
        let root = Root::new(&tree, config);
        root.depmod();
        let written = fs::read(root.modules().join("modinit.idx")).unwrap();
        let expected = xtask::index::build_index(&tree, config.map(|_| root.path())).unwrap().bytes;
        assert!(
            written == expected,
            "config {}: {} bytes written, cargo xtask index makes {}",
            config.is_some(),
            written.len(),
            expected.len()
        );
        assert!(!root.modules().join("modinit.idx.tmp").exists(), "the temporary file is renamed away");
    }
}

/// The applet decompresses modules itself (gzip without a heap, zstd in a scope of the arena
/// while every module's facts stay live); the host reads them with zlib and libzstd.
#[test]
fn depmod_reads_compressed_trees_as_cargo_xtask_index_does() {
    let Some(tree) = real_module_tree() else { return };
    for compression in [ModuleCompression::Gz, ModuleCompression::Zst] {
        // Made once under target/modules/ (minutes), as the autoload tests use them.
        let stored = xtask::module_tree::stored_as(&tree, compression).unwrap();
        let root = Root::new(&stored, None);
        root.depmod();
        let written = fs::read(root.modules().join("modinit.idx")).unwrap();
        let expected = xtask::index::build_index(&stored, None).unwrap().bytes;
        assert!(
            written == expected,
            "{compression:?}: {} bytes written, cargo xtask index makes {}",
            written.len(),
            expected.len()
        );
    }
}

/// Debian 13's tree, every module `.ko.xz`: the applet decodes them with the dictionary in a
/// scope of its arena, the host with the same library on the system allocator.
#[test]
fn depmod_reads_debian_13s_xz_tree_as_cargo_xtask_index_does() {
    let Some(tree) = modinit_test_fixtures::real_second_module_tree() else { return };
    let root = Root::new(&tree, None);
    root.depmod();
    let written = fs::read(root.modules().join("modinit.idx")).unwrap();
    let built = xtask::index::build_index(&tree, None).unwrap();
    assert!(!built.warnings.iter().any(|w| w.contains("indexed without aliases")), "{:?}", built.warnings);
    assert!(written == built.bytes, "{} bytes written, cargo xtask index makes {}", written.len(), built.bytes.len());
}

#[test]
fn depmod_fails_like_kmod_for_a_missing_tree() {
    let Some(tree) = real_module_tree() else { return };
    let root = Root::new(&tree, None);
    let args = |cmd: &mut Command| run(cmd.arg("-b").arg(root.path()).arg("9.9.9-missing"));
    let (ours, kmod) = (args(Command::new(modinit()).arg("depmod")), args(&mut Command::new("depmod")));
    assert_eq!(ours.status.code(), kmod.status.code());
    assert_eq!(String::from_utf8_lossy(&ours.stderr), String::from_utf8_lossy(&kmod.stderr));
}

/// kmod's root for `tree`: its lib/modules/VERSION with the indexes kmod's depmod made.
fn kmod_root(tree: &Path) -> PathBuf {
    xtask::kmod::indexed_root(tree).unwrap()
}

/// About `n` keys spread over the sorted corpus (so every kind of key is in it: bus
/// modaliases, module names, `fs-`, `crypto-`, near misses), and every real device modalias.
fn sample(kmod_tree: &Path, n: usize) -> Vec<String> {
    let keys = xtask::corpus::keys(kmod_tree).unwrap();
    let fixtures = fs::read_dir(xtask::paths::workspace_root().join("tests/fixtures/modaliases")).unwrap();
    let mut sample: Vec<String> = fixtures
        .flat_map(|f| fs::read_to_string(f.unwrap().path()).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    sample.extend(keys.iter().step_by(keys.len() / n).cloned());
    sample.extend(
        ["my-nic", "ethernet-0", "no-such-target", "pcspkr", "e1000e", "snd-hda-intel", "virtio_net"].map(String::from),
    );
    sample.sort();
    sample.dedup();
    sample
}

#[test]
fn modprobe_show_depends_and_resolve_alias_print_what_kmods_prints() {
    let Some(tree) = real_module_tree() else { return };
    show_depends_and_resolve_alias_on(&tree);
}

/// The same on Debian 13's `.ko.xz` tree: `modinit depmod`'s index against kmod's `depmod -b`.
#[test]
fn modprobe_on_debian_13s_xz_tree_prints_what_kmods_prints() {
    let Some(tree) = modinit_test_fixtures::real_second_module_tree() else { return };
    show_depends_and_resolve_alias_on(&tree);
}

/// `-D` and `-R` over a sample of `tree`'s keys, with and without a configuration.
fn show_depends_and_resolve_alias_on(tree: &Path) {
    let kmod = kmod_root(tree);
    let keys = sample(&xtask::kmod::indexed_tree(tree).unwrap(), 3000);
    for config in [None, Some(TEST_CONFIG)] {
        let ours = Root::new(tree, config);
        ours.depmod();
        let kmod_config = if config.is_some() { ours.modprobe_d() } else { PathBuf::from("/dev/null") };
        let peers = Peers { ours: &ours, kmod: kmod.clone(), kmod_config };
        let (mismatches, lines) = show_depends_and_resolve_alias(&peers, &keys);
        let shown = mismatches.iter().take(10).cloned().collect::<Vec<_>>().join("\n");
        assert!(
            mismatches.is_empty(),
            "config {}: {} mismatches with kmod:\n{shown}",
            config.is_some(),
            mismatches.len()
        );
        eprintln!("config {}: {} keys, {lines} lines of output equal kmod's", config.is_some(), keys.len());
        assert!(lines > keys.len(), "the keys resolve to modules: {lines} lines for {} keys", keys.len());
    }
}

/// `-D` and `-R` for each of `keys` with both modprobes: the mismatches, and the lines kmod
/// printed.
fn show_depends_and_resolve_alias(peers: &Peers<'_>, keys: &[String]) -> (Vec<String>, usize) {
    let mut mismatches = Vec::new();
    let mut lines = 0;
    for mode in ["--show-depends", "--resolve-alias"] {
        // A few kernel-style single calls, then the rest with -a in batches (as udev's
        // `modprobe -a`; kmod resolves each name on its own).
        for key in keys.iter().step_by(97) {
            let [a, b] = peers.run(&["-q", mode, "--", key]);
            if a != b {
                mismatches.push(format!("{mode} {key}:\n  modinit {a:?}\n  kmod    {b:?}"));
            }
        }
        for batch in keys.chunks(200) {
            let mut args = vec!["-a", mode];
            args.extend(batch.iter().map(String::as_str));
            let [a, b] = peers.run(&args);
            lines += b.1.lines().count();
            if a != b {
                mismatches.extend(first_difference(peers, mode, batch));
            }
        }
    }
    (mismatches, lines)
}

/// The keys of a mismatching batch that differ on their own.
fn first_difference(peers: &Peers<'_>, mode: &str, batch: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for key in batch {
        let [a, b] = peers.run(&["-a", mode, "--", key]);
        if a != b {
            found.push(format!("{mode} -a {key}:\n  modinit {a:?}\n  kmod    {b:?}"));
        }
    }
    if found.is_empty() {
        found.push(format!("{mode} -a: a batch from {} differs, but no key alone does", batch[0]));
    }
    found
}

/// Command lines modprobe refuses: getopt's words for kmod's options (ambiguous prefixes,
/// missing and unexpected values) and kmod's own, with its exit code.
#[test]
fn modprobe_refuses_command_lines_as_kmods_does() {
    let Some(tree) = real_module_tree() else { return };
    let ours = Root::new(&tree, None);
    let peers = Peers { ours: &ours, kmod: kmod_root(&tree), kmod_config: PathBuf::from("/dev/null") };
    let refused = [
        "-x e1000",
        "--frobnicate e1000",
        "e1000 -S",
        "--set-version",
        "-q",
        "-q --",
        "--sh e1000",
        "--v e1000",
        "--fo e1000",
        "--rem e1000",
        "--remove=1 e1000",
        "--dry=1 e1000",
        "-w",
        "-C",
        "-qS",
    ];
    for line in refused {
        let [ours, kmod] = peers.run(&line.split(' ').collect::<Vec<_>>());
        assert_eq!(ours, kmod, "modprobe {line}");
        assert_eq!(kmod.0, Some(1), "modprobe {line}: kmod refuses it");
    }
}

#[test]
fn modprobe_c_prints_what_kmods_prints() {
    let Some(tree) = real_module_tree() else { return };
    let kmod = kmod_root(&tree);
    let ours = Root::new(&tree, Some(TEST_CONFIG));
    ours.depmod();
    let peers = Peers { ours: &ours, kmod, kmod_config: ours.modprobe_d() };
    let [(our_code, our_out, our_err), (kmod_code, kmod_out, kmod_err)] = peers.run(&["-c"]);
    assert_eq!((our_code, our_err.as_str()), (kmod_code, kmod_err.as_str()));
    // modinit's depmod wrote modules.symbols too: both dump it.
    assert!(our_out == kmod_out, "modprobe -c differs:\n{}", first_line_difference(&our_out, &kmod_out));
    assert!(our_out.lines().count() > 26_000, "configuration and every module alias");
    // With kmod's modules.symbols there, all of it.
    xtask::kmod::depmod(ours.path(), &ours.version).unwrap();
    let [(_, our_out, _), _] = peers.run(&["-c"]);
    assert!(our_out == kmod_out, "modprobe -c differs:\n{}", first_line_difference(&our_out, &kmod_out));
}

fn first_line_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    format!("line {}: modinit {:?}, kmod {:?} ({} and {} lines)", at + 1, a.get(at), b.get(at), a.len(), b.len())
}

/// A root 300 bytes deep, as Yocto's and Buildroot's build trees are, indexed by both depmods:
/// modinit's writes there what `cargo xtask index` writes, and modinit's modprobe -D/-R and
/// modinfo -b print what kmod's print over kmod's indexes beside it, long paths included.
#[test]
fn the_applets_work_as_kmods_under_a_root_300_bytes_deep() {
    let Some(tree) = real_module_tree() else { return };
    let root = Root::deep(&tree);
    root.depmod();
    let written = fs::read(root.modules().join("modinit.idx")).unwrap();
    assert!(written == xtask::index::build_index(&tree, None).unwrap().bytes, "modinit.idx under the deep root");
    xtask::kmod::depmod(root.path(), &root.version).unwrap();

    let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: PathBuf::from("/dev/null") };
    let keys = sample(&xtask::kmod::indexed_tree(&tree).unwrap(), 300);
    let (mismatches, lines) = show_depends_and_resolve_alias(&peers, &keys);
    let shown = mismatches.iter().take(10).cloned().collect::<Vec<_>>().join("\n");
    assert!(mismatches.is_empty(), "{} mismatches with kmod:\n{shown}", mismatches.len());
    assert!(lines > keys.len(), "the keys resolve to modules: {lines} lines for {} keys", keys.len());

    let fat = root.modules().join("kernel/fs/fat/fat.ko");
    let modinfo_runs = [
        vec!["e1000", "ahci", "vfat", "snd-hda-intel", "zswap", "no-such-module"],
        vec!["-n", "loop", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"],
        vec!["-m", "-F", "filename", "fat"],
        vec![fat.to_str().unwrap()],
    ];
    for args in modinfo_runs {
        let [ours, kmod] = modinfo_runs_of(&root, &args);
        assert_eq!(ours, kmod, "modinfo {args:?}");
        assert!(kmod.1.contains(root.path().to_str().unwrap()), "kmod shows paths under the root: {kmod:?}");
    }
}

/// (exit code, stdout, stderr) of modinit's and kmod's `modinfo -b ROOT -k VERSION args`.
fn modinfo_runs_of(root: &Root, args: &[&str]) -> [(Option<i32>, String, String); 2] {
    let modinfo = |cmd: &mut Command| {
        let out = run(cmd.arg("-b").arg(root.path()).args(["-k", &root.version]).args(args).env_remove("KMOD_LOG"));
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    [modinfo(Command::new(modinit()).arg("modinfo")), modinfo(&mut Command::new("modinfo"))]
}

/// A root longer than PATH_MAX: modprobe and modinfo fail as kmod's do, with an error that
/// names the path.
#[test]
fn a_root_longer_than_path_max_is_refused_by_name() {
    let Some(tree) = real_module_tree() else { return };
    let version = tree.file_name().unwrap().to_str().unwrap();
    let root = format!("/{}", "r".repeat(4200));
    for (applet, option, version_option) in [("modprobe", "-d", "-S"), ("modinfo", "-b", "-k")] {
        let args = [option, &root, version_option, version, "e1000"];
        let ours = run(Command::new(modinit()).arg(applet).args(args));
        let kmod = run(Command::new(applet).args(args));
        assert_eq!(ours.status.code(), kmod.status.code(), "{applet}: kmod's exit code");
        let stderr = String::from_utf8_lossy(&ours.stderr);
        let named = format!(": path longer than PATH_MAX (4096 bytes): {root}/lib/modules/{version}\n");
        assert!(stderr.starts_with(&format!("{applet}: ")) && stderr.ends_with(&named), "{applet}: {stderr:.200}");
    }
}

/// A tree only kmod's depmod indexed (no modinit.idx, as on any distribution): modprobe's
/// `-D`, `-R` and `-c` and modinfo answer from kmod's files as kmod's tools do, on both trees.
#[test]
fn the_applets_answer_on_a_tree_only_kmods_depmod_indexed() {
    let Some(tree) = real_module_tree() else { return };
    let Some(second) = modinit_test_fixtures::real_second_module_tree() else { return };
    for tree in [tree, second] {
        let root = Root::new(&tree, Some(TEST_CONFIG));
        root.kmod_depmod();
        let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: root.modprobe_d() };
        let keys = sample(&root.modules(), 400);
        let (mismatches, lines) = show_depends_and_resolve_alias(&peers, &keys);
        let shown = mismatches.iter().take(10).cloned().collect::<Vec<_>>().join("\n");
        assert!(mismatches.is_empty(), "{}: {} mismatches:\n{shown}", tree.display(), mismatches.len());
        assert!(lines > keys.len(), "the keys resolve to modules: {lines} lines for {} keys", keys.len());
        // kmod's depmod wrote modules.symbols: both dump it.
        let [ours, kmod] = peers.run(&["-c"]);
        assert_eq!((ours.0, &ours.2), (kmod.0, &kmod.2), "modprobe -c: exit code and stderr");
        assert!(ours.1 == kmod.1, "modprobe -c differs:\n{}", first_line_difference(&ours.1, &kmod.1));
        for args in [vec!["e1000", "ahci", "vfat", "zswap", "no-such-module"], vec!["-F", "depends", "snd-hda-intel"]] {
            let [ours, kmod] = modinfo_runs_of(&root, &args);
            assert_eq!(ours, kmod, "modinfo {args:?}");
        }
    }
}

/// modprobe.d edited after the tree was indexed: modinit's modprobe sees the edit at once, as
/// kmod's does (the index's baked configuration is the boot's), with `-C` naming a directory,
/// a single file, and several paths; lines kmod rejects get kmod's messages.
#[test]
fn modprobe_sees_a_modprobe_d_edit_without_reindexing() {
    let Some(tree) = real_module_tree() else { return };
    let root = Root::new(&tree, Some(TEST_CONFIG));
    root.depmod();
    xtask::kmod::depmod(root.path(), &root.version).unwrap();
    // modinit depmod ran last: its index is the newer one, and the one read.
    root.depmod();
    let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: root.modprobe_d() };
    let queries: [&[&str]; 5] = [
        &["-D", "my-live-alias"],
        &["-D", "e1000"],
        &["-R", "ethernet-0"],
        &["-D", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"],
        &["-D", "snd-hda-intel"],
    ];
    let before: Vec<_> = queries.iter().map(|q| peers.run(q)).collect();
    for [ours, kmod] in &before {
        assert_eq!(ours, kmod);
    }
    let edit = "alias my-live-alias e1000\noptions e1000 live=1\nsoftdep e1000 pre: crc32c_generic\n\
                blacklist e1000\nalias ethernet-0 virtio_net\nfoo bar\noptions\ninclude /etc/x.conf\n";
    fs::write(root.modprobe_d().join("00-live.conf"), edit).unwrap();
    // The test configuration masked by an empty file of the same name in a directory given first.
    let masks = root.path().join("masks");
    fs::create_dir_all(&masks).unwrap();
    fs::write(masks.join("test.conf"), "").unwrap();
    let single = root.path().join("single.conf");
    fs::write(&single, "options snd-hda-intel model=live\n").unwrap();
    for config in [root.modprobe_d(), single.clone()] {
        let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: config };
        for (i, (query, before)) in queries.iter().zip(&before).enumerate() {
            let [ours, kmod] = peers.run(query);
            assert_eq!(ours, kmod, "modprobe {query:?}");
            // The first three name what the edit changes.
            if peers.kmod_config == root.modprobe_d() && i < 3 {
                assert_ne!(&ours, &before[0], "modprobe {query:?} changed with the edit");
            }
        }
        let [ours, kmod] = peers.run(&["-c"]);
        assert_eq!((ours.0, &ours.2), (kmod.0, &kmod.2), "modprobe -c: exit code and stderr");
        assert!(ours.1 == kmod.1, "modprobe -c differs:\n{}", first_line_difference(&ours.1, &kmod.1));
    }
    let modprobe_d = root.modprobe_d();
    let several = ["-C", masks.to_str().unwrap(), "-C", single.to_str().unwrap(), "-C", modprobe_d.to_str().unwrap()];
    let several = [&several[..], &["-c"]].concat();
    let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: "/dev/null".into() };
    let [ours, kmod] = peers.run(&several);
    assert_eq!((ours.0, &ours.2), (kmod.0, &kmod.2), "modprobe {several:?}: exit code and stderr");
    assert!(ours.1 == kmod.1, "modprobe {several:?}:\n{}", first_line_difference(&ours.1, &kmod.1));
    assert!(ours.1.contains("options snd_hda_intel model=live") && !ours.1.contains("my_nic"), "{}", ours.1);
}

/// A directory no depmod indexed: modprobe and modinfo fail with kmod's exit code and say which
/// command indexes it.
#[test]
fn an_unindexed_tree_names_the_command_that_indexes_it() {
    let Some(tree) = real_module_tree() else { return };
    let root = Root::new(&tree, None);
    let modules = root.modules();
    let command = format!("run 'modinit depmod -b {} {}'", root.path().display(), root.version);
    let [ours, kmod] = modinfo_runs_of(&root, &["e1000"]);
    assert_eq!(ours.0, kmod.0, "modinfo: kmod's exit code");
    assert!(ours.2.contains(&command) && ours.2.contains(modules.to_str().unwrap()), "{}", ours.2);
    let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: "/dev/null".into() };
    let [ours, kmod] = peers.run(&["e1000"]);
    assert_eq!(ours.0, kmod.0, "modprobe: kmod's exit code");
    let command = format!("run 'modinit depmod -b ROOT {}'", root.version);
    assert!(ours.2.starts_with("modprobe: FATAL: ") && ours.2.contains(&command), "{}", ours.2);
}
