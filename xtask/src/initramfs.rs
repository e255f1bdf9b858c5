//! Assembling the initramfs: modinit as /init, the module tree, the real init.

use crate::cpio::{Archive, Node};
use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use std::fs;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// How modules are stored in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModuleCompression {
    None,
    Gz,
    Zst,
}

impl ModuleCompression {
    fn suffix(self) -> &'static str {
        match self {
            ModuleCompression::None => "",
            ModuleCompression::Gz => ".gz",
            ModuleCompression::Zst => ".zst",
        }
    }
}

/// What goes into an image.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The modinit binary, installed as /init.
    pub modinit: PathBuf,
    /// A host file installed as /sbin/init (the real init); None for no /sbin/init.
    pub real_init: Option<PathBuf>,
    /// A `lib/modules/VERSION` directory to copy to the same place in the image.
    pub modules: Option<PathBuf>,
    pub compress_modules: ModuleCompression,
}

/// Where the guest's shell lives in images: the guest test init runs with it.
pub const GUEST_BUSYBOX: &str = "/bin/busybox";

/// The image's contents, still open to changes (tests add or remove files).
pub fn assemble(spec: &ImageSpec) -> Result<Archive> {
    let mut a = Archive::new();
    for dir in ["dev", "proc", "sys", "run", "root", "tmp"] {
        a.insert(dir, Node::Dir, 0o755);
    }
    // The kernel opens /dev/console for /init before anything is mounted.
    a.insert("dev/console", Node::CharDev { major: 5, minor: 1 }, 0o600);
    a.insert("init", Node::File(read(&spec.modinit)?), 0o755);
    if let Some(real_init) = &spec.real_init {
        a.insert("sbin/init", Node::File(read(real_init)?), 0o755);
        // The guest test init is a busybox script; busybox also serves any later shell use.
        a.insert(GUEST_BUSYBOX, Node::File(read(Path::new(crate::tools::BUSYBOX_STATIC))?), 0o755);
    }
    if let Some(modules) = &spec.modules {
        add_module_tree(&mut a, modules, spec.compress_modules)?;
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
/// module stored with `compression` (recompressing as needed).
fn add_module_tree(a: &mut Archive, modules: &Path, compression: ModuleCompression) -> Result<()> {
    let version = modules
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a lib/modules/VERSION directory", modules.display()))?;
    let base = format!("lib/modules/{version}");
    let files: Vec<PathBuf> = WalkDir::new(modules)
        .sort_by_file_name()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let converted: Vec<(String, Vec<u8>)> = files
        .par_iter()
        .map(|path| {
            let rel = path.strip_prefix(modules)?.to_str().context("non-UTF-8 path")?.to_string();
            let bytes = read(path)?;
            Ok(match module_stem(&rel) {
                Some(stem) => (format!("{stem}{}", compression.suffix()), recompress(&rel, bytes, compression)?),
                None => (rel, bytes),
            })
        })
        .collect::<Result<_>>()?;
    for (rel, bytes) in converted {
        a.insert(&format!("{base}/{rel}"), Node::File(bytes), 0o644);
    }
    Ok(())
}

/// `x/y.ko` for `x/y.ko`, `x/y.ko.gz`, `x/y.ko.zst`, `x/y.ko.xz`; None for other files.
fn module_stem(rel: &str) -> Option<&str> {
    ["", ".gz", ".zst", ".xz"]
        .iter()
        .find_map(|sfx| rel.strip_suffix(sfx).filter(|s| s.ends_with(".ko")))
}

fn recompress(name: &str, bytes: Vec<u8>, to: ModuleCompression) -> Result<Vec<u8>> {
    let plain = if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out).with_context(|| format!("{name}: bad gzip"))?;
        out
    } else if name.ends_with(".zst") {
        zstd::decode_all(&bytes[..]).with_context(|| format!("{name}: bad zstd"))?
    } else if name.ends_with(".xz") {
        bail!("{name}: .ko.xz source modules are not supported; decompress the tree first")
    } else {
        bytes
    };
    Ok(match to {
        ModuleCompression::None => plain,
        ModuleCompression::Gz => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut enc, &plain)?;
            enc.finish()?
        }
        // Level 19 like Debian's kernels from 6.x; the window stays small for the decoder.
        ModuleCompression::Zst => zstd::encode_all(&plain[..], 19)?,
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}
