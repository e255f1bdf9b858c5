//! `modinit depmod` against kmod 30's depmod on the real Debian trees: the same root, copied
//! twice (hard links), given to each; every file kmod writes must come out byte for byte, and
//! the messages and exit codes must match: plain runs on both trees (with `-w`), `-n`, depmod.d
//! (`-C` with `search`, `override`, `exclude` over modules duplicated into updates/ and extra/),
//! `-A` before and after a module changes, `-e` with `-F System.map` and with `-E
//! Module.symvers` (one CRC wrong), and a tree holding a truncated module and a file that is no
//! ELF. modules.weakdep (kmod 33's, which kmod 30 does not write) is checked against what kmod's
//! modinfo reads from each module.

use modinit_test_fixtures::{SampleTree, real_module_tree, real_second_module_tree};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// kmod 30's files, in the order depmod writes them.
const KMOD_FILES: [&str; 10] = [
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
    "modules.devname",
];

/// The release binary, built once for all tests of this file.
fn modinit() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| xtask::build::modinit_release().unwrap_or_else(|e| panic!("{e:#}")).0)
}

/// A root holding `tree` as lib/modules/VERSION (hard links: depmod's renames touch only the
/// copy), where kmod 30 looks for it even for a /usr/lib/modules tree.
struct Root {
    dir: tempfile::TempDir,
    version: String,
}

impl Root {
    fn new(tree: &Path, name: &str) -> Root {
        // Under target/, on the tree's filesystem, so that hard links work.
        let dir = tempfile::Builder::new().prefix(&format!("depmod-{name}-")).tempdir_in(xtask::paths::target_dir());
        let dir = dir.unwrap();
        let version = tree.file_name().unwrap().to_str().unwrap().to_string();
        fs::create_dir_all(dir.path().join("lib/modules")).unwrap();
        let status =
            Command::new("cp").arg("-al").arg(tree).arg(dir.path().join("lib/modules").join(&version)).status();
        assert!(status.unwrap().success(), "cp -al {}", tree.display());
        Root { dir, version }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn modules(&self) -> PathBuf {
        self.path().join("lib/modules").join(&self.version)
    }

    /// Writes `bytes` at `rel` under the modules dir, replacing (not writing through) a link.
    fn put(&self, rel: &str, bytes: &[u8]) {
        let path = self.modules().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&path);
        fs::write(path, bytes).unwrap();
    }
}

/// Both roots for `tree`, with the same changes made by `prepare`.
fn roots(tree: &Path, prepare: &dyn Fn(&Root)) -> [Root; 2] {
    let roots = [Root::new(tree, "kmod"), Root::new(tree, "ours")];
    for root in &roots {
        prepare(root);
    }
    roots
}

/// What a run printed, with its root's path replaced by ROOT.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(mut cmd: Command, root: &Root) -> Run {
    let out: Output = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).replace(root.path().to_str().unwrap(), "ROOT");
    Run { code: out.status.code(), stdout: out.stdout, stderr }
}

/// kmod's depmod and ours on their roots with the same arguments (before `-b ROOT VERSION`).
fn both(roots: &[Root; 2], args: &[&str]) -> [Run; 2] {
    let [kmod, ours] = roots;
    let mut theirs = Command::new("depmod");
    theirs.args(args).arg("-b").arg(kmod.path()).arg(&kmod.version);
    let mut mine = Command::new(modinit());
    mine.arg("depmod").args(args).arg("-b").arg(ours.path()).arg(&ours.version);
    [run(theirs, kmod), run(mine, ours)]
}

/// Where two files first differ: the line for text, the offset for binary.
fn first_difference(name: &str, a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    if name.ends_with(".bin") {
        return format!("{name}: {} bytes (kmod) vs {} (modinit), first difference at offset {at}", a.len(), b.len());
    }
    let line = a[..at].iter().filter(|&&c| c == b'\n').count();
    let nth = |t: &[u8]| String::from_utf8_lossy(t.split(|&c| c == b'\n').nth(line).unwrap_or_default()).into_owned();
    format!("{name}: first difference on line {}:\n  kmod:    {:?}\n  modinit: {:?}", line + 1, nth(a), nth(b))
}

/// Every file of kmod's is the same in both roots.
fn assert_same_files(roots: &[Root; 2]) {
    let mut differences = Vec::new();
    for name in KMOD_FILES {
        let read = |root: &Root| fs::read(root.modules().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (kmod, ours) = (read(&roots[0]), read(&roots[1]));
        if kmod != ours {
            differences.push(first_difference(name, &kmod, &ours));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

fn assert_same_runs(runs: &[Run; 2]) {
    let [kmod, ours] = runs;
    assert_eq!((ours.code, &ours.stderr), (kmod.code, &kmod.stderr), "exit code and stderr: modinit, then kmod");
}

/// `depmod` found, or None after a note (a failure under `cargo xtask test`).
fn kmod_depmod() -> Option<()> {
    if Command::new("depmod").arg("-V").output().is_err() {
        modinit_test_fixtures::unavailable("kmod's depmod");
        return None;
    }
    Some(())
}

#[test]
fn debian_12s_tree_gives_kmods_files_and_dry_run() {
    let Some(tree) = real_module_tree() else { return };
    let Some(()) = kmod_depmod() else { return };
    let roots = roots(&tree, &|_| {});
    let runs = both(&roots, &["-w"]);
    assert_same_runs(&runs);
    assert_same_files(&roots);
    // -n: kmod 30's text files on stdout; ours has kmod 33's modules.weakdep after
    // modules.softdep, which is left out to compare.
    let [kmod, ours] = both(&roots, &["-n"]);
    assert_eq!((ours.code, &ours.stderr), (kmod.code, &kmod.stderr));
    let weak_header = b"# Weak dependencies extracted from modules themselves.\n";
    let at = ours.stdout.windows(weak_header.len()).position(|w| w == weak_header).expect("modules.weakdep in -n");
    let mut without_weakdep = ours.stdout[..at].to_vec();
    let rest = &ours.stdout[at + weak_header.len()..];
    let weak_lines = rest.split_inclusive(|&c| c == b'\n').take_while(|l| l.starts_with(b"weakdep ")).map(<[u8]>::len);
    without_weakdep.extend_from_slice(&rest[weak_lines.sum::<usize>()..]);
    assert!(without_weakdep == kmod.stdout, "{}", first_difference("-n output", &kmod.stdout, &without_weakdep));
}

#[test]
fn debian_13s_xz_tree_gives_kmods_files() {
    let Some(tree) = real_second_module_tree() else { return };
    let Some(()) = kmod_depmod() else { return };
    let roots = roots(&tree, &|_| {});
    assert_same_runs(&both(&roots, &[]));
    assert_same_files(&roots);
}

/// Module files of the 6.1 tree copied elsewhere in it, so that depmod.d decides.
const DUPLICATES: [(&str, &str); 3] = [
    ("kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", "extra/e1000e.ko"),
    ("kernel/drivers/ata/ahci.ko", "updates/ahci.ko"),
    ("kernel/drivers/ata/libata.ko", "extra/libata.ko"),
];

#[test]
fn depmod_d_chooses_as_kmods() {
    let Some(tree) = real_module_tree() else { return };
    let Some(()) = kmod_depmod() else { return };
    let config = tempfile::tempdir().unwrap();
    let conf = "# a comment\nsearch extra updates built-in\noverride e1000e * kernel/drivers/net/ethernet/intel/e1000e\n\
                exclude sound\nbogus directive\n";
    fs::write(config.path().join("test.conf"), conf).unwrap();
    fs::write(config.path().join("ignored.txt"), "exclude drivers\n").unwrap();
    let roots = roots(&tree, &|root| {
        for (from, to) in DUPLICATES {
            root.put(to, &fs::read(tree.join(from)).unwrap());
        }
    });
    let runs = both(&roots, &["-C", config.path().to_str().unwrap()]);
    assert_same_runs(&runs);
    assert!(runs[1].stderr.contains("ignoring bad line starting with 'bogus'"), "{}", runs[1].stderr);
    assert_same_files(&roots);
    let dep = fs::read_to_string(roots[1].modules().join("modules.dep")).unwrap();
    assert!(dep.contains("extra/libata.ko:") && !dep.contains("kernel/sound/"), "search and exclude apply");
}

#[test]
fn quick_does_nothing_until_a_module_changes() {
    let Some(tree) = real_module_tree() else { return };
    let Some(()) = kmod_depmod() else { return };
    let roots = roots(&tree, &|_| {});
    assert_same_runs(&both(&roots, &[]));
    let written = |root: &Root| fs::metadata(root.modules().join("modules.dep")).unwrap().modified().unwrap();
    let before = roots.each_ref().map(written);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_same_runs(&both(&roots, &["-A"]));
    assert_eq!(roots.each_ref().map(written), before, "-A on an up-to-date tree writes nothing");
    // A module newer than modules.dep (a copy, not the shared file, is touched).
    for root in &roots {
        let rel = "kernel/drivers/ata/ahci.ko";
        root.put(rel, &fs::read(tree.join(rel)).unwrap());
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        fs::File::options().write(true).open(root.modules().join(rel)).unwrap().set_modified(later).unwrap();
    }
    assert_same_runs(&both(&roots, &["-A"]));
    let after = roots.each_ref().map(written);
    assert!(after[0] != before[0] && after[1] != before[1], "-A rebuilds after a module changed");
    assert_same_files(&roots);
}

#[test]
fn symbol_checks_report_as_kmods() {
    let Some(tree) = real_module_tree() else { return };
    let Some(()) = kmod_depmod() else { return };
    let roots = roots(&tree, &|_| {});
    let version = roots[0].version.clone();
    let system_map = tree.join("../../../boot").join(format!("System.map-{version}"));
    assert!(system_map.exists(), "{}", system_map.display());
    let runs = both(&roots, &["-e", "-F", system_map.to_str().unwrap()]);
    assert_same_runs(&runs);
    assert!(runs[1].stderr.contains("needs unknown symbol"), "{}", runs[1].stderr);
    // Module.symvers with the CRCs e1000e records for what it needs, the first one wrong.
    let versions = Command::new("modprobe")
        .arg("--dump-modversions")
        .arg(tree.join("kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"))
        .output()
        .unwrap();
    let mut symvers = String::new();
    for (i, line) in String::from_utf8(versions.stdout).unwrap().lines().enumerate() {
        let (crc, name) = line.split_once('\t').unwrap();
        let crc = if i == 0 { "0xdeadbeef" } else { crc };
        symvers += &format!("{crc}\t{name}\tvmlinux\tEXPORT_SYMBOL\n");
    }
    symvers += "0xnothex\tbad_crc\tvmlinux\tEXPORT_SYMBOL\n0x1\tnot_vmlinux\tdrivers/x\tEXPORT_SYMBOL\n";
    let file = tempfile::NamedTempFile::new().unwrap();
    fs::write(file.path(), symvers).unwrap();
    let runs = both(&roots, &["-e", "-E", file.path().to_str().unwrap()]);
    assert_same_runs(&runs);
    assert!(runs[1].stderr.contains("e1000e.ko disagrees about version of symbol"), "{}", runs[1].stderr);
    assert_same_files(&roots);
    let missing = both(&roots, &["-E", "/nonexistent/Module.symvers"]);
    assert_same_runs(&missing);
    assert_eq!(missing[1].code, Some(1));
}

#[test]
fn odd_module_files_get_kmods_messages() {
    let Some(tree) = real_module_tree() else { return };
    let Some(()) = kmod_depmod() else { return };
    let ahci = fs::read(tree.join("kernel/drivers/ata/ahci.ko")).unwrap();
    let roots = roots(&tree, &|root| {
        root.put("kernel/drivers/ata/ahci.ko", &ahci[..100]);
        root.put("extra/not-elf.ko", b"this is not a module\n");
    });
    let runs = both(&roots, &[]);
    assert_same_runs(&runs);
    assert!(runs[1].stderr.contains("failed to load symbols from"), "{}", runs[1].stderr);
    assert_same_files(&roots);
}

/// modules.weakdep lists each module's `weakdep=` entries, as kmod's modinfo reads them.
#[test]
fn weakdep_file_lists_what_modinfo_reads() {
    let weakdeps: &[(&str, &[&str])] = &[("lan78xx", &["micrel"]), ("micrel", &["microchip-t1", "fixed_phy"])];
    let stems = ["lan78xx", "micrel", "microchip_t1", "libphy", "fixed_phy", "usbnet", "mii", "usbcore", "usb-common"];
    let Some(sample) = SampleTree::of_second_tree("depmod-weakdep", &stems, weakdeps) else { return };
    let root = sample.modules.ancestors().nth(3).unwrap();
    let version = sample.modules.file_name().unwrap();
    let out = Command::new(modinit()).arg("depmod").arg("-b").arg(root).arg(version).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = fs::read_to_string(sample.modules.join("modules.weakdep")).unwrap();
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("# Weak dependencies extracted from modules themselves."));
    let mut ours: Vec<String> = lines.map(str::to_string).collect();
    let mut expected = Vec::new();
    for file in modinit_test_fixtures::modules_under(&sample.modules) {
        let out = Command::new("modinfo").args(["-F", "weakdep"]).arg(&file).output().unwrap();
        let name = file.file_name().unwrap().to_str().unwrap().trim_end_matches(".ko").replace('-', "_");
        for value in String::from_utf8(out.stdout).unwrap().lines() {
            expected.push(format!("weakdep {name} {value}"));
        }
    }
    assert_eq!(expected.len(), 3, "{expected:?}");
    ours.sort();
    expected.sort();
    assert_eq!(ours, expected);
}
