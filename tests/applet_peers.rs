//! modinit's applets and kmod's tools side by side on a real tree: the release binary, a root
//! for `depmod -b` holding the tree (and a configuration), and both modprobes run on it with the
//! same arguments.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The release binary, built once per test binary.
pub fn modinit() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| xtask::build::modinit_release().unwrap_or_else(|e| panic!("{e:#}")).0)
}

/// A root for `depmod -b`: lib/modules/VERSION hard-linked from the tree (depmod's rename puts
/// its file in the copy only), and with `config`, etc/modprobe.d/test.conf holding it.
pub struct Root {
    _dir: tempfile::TempDir,
    /// The root: the temporary directory, or a directory deep inside it.
    path: PathBuf,
    pub version: String,
}

/// How deep [`Root::deep`] puts its root: as deep as Yocto's and Buildroot's build trees.
const DEEP_ROOT_LEN: usize = 300;

impl Root {
    pub fn new(tree: &Path, config: Option<&str>) -> Root {
        Root::at_depth(tree, config, 0)
    }

    /// A root whose path is at least [`DEEP_ROOT_LEN`] bytes long, without configuration.
    pub fn deep(tree: &Path) -> Root {
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn modules(&self) -> PathBuf {
        self.path().join("lib/modules").join(&self.version)
    }

    pub fn modprobe_d(&self) -> PathBuf {
        self.path().join("etc/modprobe.d")
    }

    /// Indexes the root with kmod's depmod only (no modinit.idx).
    pub fn kmod_depmod(&self) {
        xtask::kmod::depmod(self.path(), &self.version).unwrap();
        assert!(!self.modules().join("modinit.idx").exists());
    }

    /// Runs `modinit depmod -b ROOT VERSION`, which must succeed.
    pub fn depmod(&self) {
        let out = run(Command::new(modinit()).arg("depmod").arg("-b").arg(self.path()).arg(&self.version));
        assert!(out.status.success(), "modinit depmod failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

pub fn run(cmd: &mut Command) -> Output {
    // kmod's modprobe would add the options in MODPROBE_OPTIONS.
    cmd.env_remove("MODPROBE_OPTIONS").output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Both modprobes, on their own roots, with the same arguments.
pub struct Peers<'r> {
    pub ours: &'r Root,
    pub kmod: PathBuf,
    /// modprobe.d for both (`-C`): the test configuration, or nothing at all.
    pub kmod_config: PathBuf,
}

impl Peers<'_> {
    /// (exit code, stdout, stderr) of each, with the roots' paths replaced by `ROOT`.
    pub fn run(&self, args: &[&str]) -> [(Option<i32>, String, String); 2] {
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
