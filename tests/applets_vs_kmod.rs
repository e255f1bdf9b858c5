//! The applets of the static release binary against their references on the real Debian tree:
//! `modinit depmod -b ROOT VERSION` writes the file `cargo xtask index` writes (with and without
//! a configuration, from plain, gzip and zstd modules, and from Debian 13's `.ko.xz` tree), and
//! `modinit modprobe` prints what
//! kmod 30's modprobe prints for `-D`, `-R` (a sample of the corpus spanning its kinds of keys;
//! the library-level check in index_vs_kmod.rs covers every key; on both trees), `-c` and
//! command lines it refuses.

use modinit_tests::{TEST_CONFIG, real_module_tree};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use xtask::module_tree::ModuleCompression;

/// The release binary, built once for all tests of this file.
fn modinit() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| xtask::build::modinit_release().unwrap_or_else(|e| panic!("{e:#}")).0)
}

/// A root for `depmod -b`: lib/modules/VERSION hard-linked from the tree (depmod's rename puts
/// its file in the copy only), and with `config`, etc/modprobe.d/test.conf holding it.
struct Root {
    _dir: tempfile::TempDir,
    /// The root: the temporary directory, or a directory deep inside it.
    path: PathBuf,
    version: String,
}

/// How deep [`Root::deep`] puts its root: as deep as Yocto's and Buildroot's build trees.
const DEEP_ROOT_LEN: usize = 300;

impl Root {
    fn new(tree: &Path, config: Option<&str>) -> Root {
        Root::at_depth(tree, config, 0)
    }

    /// A root whose path is at least [`DEEP_ROOT_LEN`] bytes long, without configuration.
    fn deep(tree: &Path) -> Root {
        let root = Root::at_depth(tree, None, DEEP_ROOT_LEN);
        assert!(root.path().as_os_str().len() >= DEEP_ROOT_LEN, "{}", root.path().display());
        root
    }

    /// A root `len` bytes or more deep (nested directories of 100-byte names), under a
    /// temporary directory.
    fn at_depth(tree: &Path, config: Option<&str>, len: usize) -> Root {
        // Under target/, on the tree's filesystem, so that hard links work.
        let dir = tempfile::Builder::new().prefix("applets-root-").tempdir_in(xtask::paths::target_dir()).unwrap();
        let mut path = dir.path().to_path_buf();
        for i in 0.. {
            if path.as_os_str().len() >= len {
                break;
            }
            path.push(format!("level-{i:02}-{}", "d".repeat(91)));
        }
        let version = tree.file_name().unwrap().to_str().unwrap().to_string();
        fs::create_dir_all(path.join("lib/modules")).unwrap();
        let status = Command::new("cp").arg("-al").arg(tree).arg(path.join("lib/modules").join(&version)).status();
        assert!(status.unwrap().success(), "cp -al {}", tree.display());
        let root = Root { _dir: dir, path, version };
        for stale in ["modinit.idx", "modinit.idx.tmp"] {
            let _ = fs::remove_file(root.modules().join(stale));
        }
        if let Some(text) = config {
            fs::create_dir_all(root.modprobe_d()).unwrap();
            fs::write(root.modprobe_d().join("test.conf"), text).unwrap();
        }
        root
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn modules(&self) -> PathBuf {
        self.path().join("lib/modules").join(&self.version)
    }

    fn modprobe_d(&self) -> PathBuf {
        self.path().join("etc/modprobe.d")
    }

    /// Indexes the root with kmod's depmod only (no modinit.idx).
    fn kmod_depmod(&self) {
        xtask::kmod::depmod(self.path(), &self.version).unwrap();
        assert!(!self.modules().join("modinit.idx").exists());
    }

    /// Runs `modinit depmod -b ROOT VERSION`, which must succeed.
    fn depmod(&self) {
        let out = run(Command::new(modinit()).arg("depmod").arg("-b").arg(self.path()).arg(&self.version));
        assert!(out.status.success(), "modinit depmod failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

fn run(cmd: &mut Command) -> Output {
    // kmod's modprobe would add the options in MODPROBE_OPTIONS.
    cmd.env_remove("MODPROBE_OPTIONS").output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

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

/// Both modprobes, on their own roots, with the same arguments.
struct Peers<'r> {
    ours: &'r Root,
    kmod: PathBuf,
    /// modprobe.d for both (`-C`): the test configuration, or nothing at all.
    kmod_config: PathBuf,
}

impl Peers<'_> {
    /// (exit code, stdout, stderr) of each, with the roots' paths replaced by `ROOT`.
    fn run(&self, args: &[&str]) -> [(Option<i32>, String, String); 2] {
        let ours = run(Command::new(modinit())
            .arg("modprobe")
            .arg("-C")
            .arg(&self.kmod_config)
            .arg("-d")
            .arg(self.ours.path())
            .args(["-S", &self.ours.version])
            .args(args));
        let kmod = run(Command::new("modprobe")
            .arg("-C")
            .arg(&self.kmod_config)
            .arg("-d")
            .arg(&self.kmod)
            .args(["-S", &self.ours.version])
            .args(args));
        let text = |bytes: &[u8], root: &Path| String::from_utf8_lossy(bytes).replace(root.to_str().unwrap(), "ROOT");
        [(ours, self.ours.path()), (kmod, self.kmod.as_path())]
            .map(|(out, root)| (out.status.code(), text(&out.stdout, root), text(&out.stderr, root)))
    }
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
    // The index has no modules.symbols (docs/index-format.md): kmod's dump of it is left out.
    let kmod_out = without_symbols(&kmod_out);
    assert!(our_out == kmod_out, "modprobe -c differs:\n{}", first_line_difference(&our_out, &kmod_out));
    assert!(our_out.lines().count() > 26_000, "configuration and every module alias");
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
        let [ours, kmod] = peers.run(&["-c"]);
        let kmod_out: String = without_symbols(&kmod.1);
        assert_eq!((ours.0, &ours.2), (kmod.0, &kmod.2), "modprobe -c: exit code and stderr");
        assert!(ours.1 == kmod_out, "modprobe -c differs:\n{}", first_line_difference(&ours.1, &kmod_out));
        for args in [vec!["e1000", "ahci", "vfat", "zswap", "no-such-module"], vec!["-F", "depends", "snd-hda-intel"]] {
            let [ours, kmod] = modinfo_runs_of(&root, &args);
            assert_eq!(ours, kmod, "modinfo {args:?}");
        }
    }
}

/// kmod's `modprobe -c` without its dump of modules.symbols, which modinit's leaves out.
fn without_symbols(out: &str) -> String {
    out.lines().filter(|l| !l.starts_with("alias symbol:")).flat_map(|l| [l, "\n"]).collect()
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
        let kmod_out = without_symbols(&kmod.1);
        assert!(ours.1 == kmod_out, "modprobe -c differs:\n{}", first_line_difference(&ours.1, &kmod_out));
    }
    let modprobe_d = root.modprobe_d();
    let several = ["-C", masks.to_str().unwrap(), "-C", single.to_str().unwrap(), "-C", modprobe_d.to_str().unwrap()];
    let several = [&several[..], &["-c"]].concat();
    let peers = Peers { ours: &root, kmod: root.path().to_path_buf(), kmod_config: "/dev/null".into() };
    let [ours, kmod] = peers.run(&several);
    assert_eq!((ours.0, &ours.2), (kmod.0, &kmod.2), "modprobe {several:?}: exit code and stderr");
    let kmod_out = without_symbols(&kmod.1);
    assert!(ours.1 == kmod_out, "modprobe {several:?}:\n{}", first_line_difference(&ours.1, &kmod_out));
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
