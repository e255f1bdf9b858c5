//! Assembling the initramfs: modinit as /init, the module tree, the real init.

use crate::cpio::{Archive, Node};
use crate::module_tree;
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub use crate::module_tree::ModuleCompression;

/// What goes into an image.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The program installed as /init: modinit, or a reference peer's script.
    pub init: PathBuf,
    /// A host file installed as /sbin/init (the real init); None for no /sbin/init.
    pub real_init: Option<PathBuf>,
    /// A `lib/modules/VERSION` directory to copy to the same place in the image.
    pub modules: Option<PathBuf>,
    pub compress_modules: ModuleCompression,
    /// A root whose modprobe.d and modules-load.d are baked into the image's module index.
    pub config_root: Option<PathBuf>,
}

/// Where the guest's shell lives in images: the guest test init runs with it.
pub const GUEST_BUSYBOX: &str = "/bin/busybox";

/// modinit's toolbox (src/applets/): each applet's name, a symlink to /init.
pub const APPLET_LINKS: [&str; 7] =
    ["sbin/modprobe", "sbin/lsmod", "sbin/insmod", "sbin/rmmod", "sbin/modinfo", "sbin/depmod", "bin/dmesg"];

/// The image's contents, still open to changes (tests add or remove files).
pub fn assemble(spec: &ImageSpec) -> Result<Archive> {
    let mut a = Archive::new();
    for dir in ["dev", "proc", "sys", "run", "root", "tmp"] {
        a.insert(dir, Node::Dir, 0o755);
    }
    // The kernel opens /dev/console for /init before anything is mounted.
    a.insert("dev/console", Node::CharDev { major: 5, minor: 1 }, 0o600);
    a.insert("init", Node::File(read(&spec.init)?), 0o755);
    if let Some(real_init) = &spec.real_init {
        a.insert("sbin/init", Node::File(read(real_init)?), 0o755);
        // The guest test init is a busybox script; busybox also serves any later shell use.
        a.insert(GUEST_BUSYBOX, Node::File(read(Path::new(crate::tools::BUSYBOX_STATIC))?), 0o755);
    }
    if let Some(modules) = &spec.modules {
        add_module_tree(&mut a, modules, spec.compress_modules, spec.config_root.as_deref())?;
        // The toolbox; the kernel's request_module() runs /sbin/modprobe.
        for link in APPLET_LINKS {
            a.insert(link, Node::Symlink("/init".into()), 0o777);
        }
    }
    Ok(a)
}

/// Writes `archive` to `out` and returns its size in bytes.
pub fn write(archive: &Archive, out: &Path) -> Result<u64> {
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = BufWriter::new(file);
    let n = archive.write_to(&mut w).with_context(|| format!("writing {}", out.display()))?;
    std::io::Write::flush(&mut w)?;
    Ok(n)
}

/// Copies `modules` (a lib/modules/VERSION directory) to the same path in the image, each
/// module stored with `compression` (recompressed once and cached, see [`module_tree`]),
/// with modinit's index of the tree as stored.
fn add_module_tree(a: &mut Archive, modules: &Path, compression: ModuleCompression, config_root: Option<&Path>) -> Result<()> {
    let version = modules
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a lib/modules/VERSION directory", modules.display()))?;
    let tree = module_tree::stored_as(modules, compression)?;
    let files: Vec<PathBuf> = module_tree::files(&tree)?;
    let contents: Vec<Vec<u8>> = files.par_iter().map(|p| read(p)).collect::<Result<_>>()?;
    for (path, bytes) in files.iter().zip(contents) {
        let rel = path.strip_prefix(&tree)?.to_str().context("non-UTF-8 path")?;
        a.insert(&format!("lib/modules/{version}/{rel}"), Node::File(bytes), 0o644);
    }
    let index = crate::index::build_index(&tree, config_root)?;
    a.insert(&format!("lib/modules/{version}/modinit.idx"), Node::File(index.bytes), 0o644);
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}
