//! Module trees stored with another compression: `.ko` recompressed as `.ko.gz` or `.ko.zst`.
//!
//! Recompressing 4,000 modules takes minutes, so each converted tree is made once and kept
//! under `target/modules/COMPRESSION/lib/modules/VERSION/` (remade when the source tree is
//! newer): a root that `depmod -b` accepts.

use anyhow::{Context, Result};
use rayon::prelude::*;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// How modules are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModuleCompression {
    None,
    Gz,
    Zst,
}

impl ModuleCompression {
    /// The name on the command line (`--compress-modules zst`).
    pub fn name(self) -> &'static str {
        match self {
            ModuleCompression::None => "none",
            ModuleCompression::Gz => "gz",
            ModuleCompression::Zst => "zst",
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            ModuleCompression::None => "",
            ModuleCompression::Gz => ".gz",
            ModuleCompression::Zst => ".zst",
        }
    }
}

/// zstd level for converted trees: the decoder's work and window barely depend on it, and
/// level 19 (what distributions ship) takes ten times longer to make for a few percent.
const ZSTD_LEVEL: i32 = 9;

const COMPLETE: &str = ".complete";

/// A copy of `modules` with every module stored as `compression`; `modules` itself when
/// every module in it already is.
pub fn stored_as(modules: &Path, compression: ModuleCompression) -> Result<PathBuf> {
    let _cache = crate::paths::cache_lock();
    if files(modules)?.iter().all(|p| stored_suffix(p).is_none_or(|suffix| suffix == compression.suffix())) {
        return Ok(modules.to_path_buf());
    }
    let version = modules.file_name().and_then(|n| n.to_str()).context("module tree without a version name")?;
    let root = crate::paths::target_dir().join("modules").join(format!("{compression:?}").to_lowercase());
    let out = root.join("lib/modules").join(version);
    let stamp = out.join(COMPLETE);
    if stamp.exists() && fs::metadata(&stamp)?.modified()? >= fs::metadata(modules)?.modified()? {
        return Ok(out);
    }
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    eprintln!("xtask: storing {} modules as {compression:?} in {} (once)", modules.display(), out.display());
    files(modules)?.par_iter().try_for_each(|path| -> Result<()> {
        let rel = path.strip_prefix(modules)?.to_str().context("non-UTF-8 path")?;
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (rel, bytes) = match module_stem(rel) {
            Some(stem) => (format!("{stem}{}", compression.suffix()), recompress(rel, bytes, compression)?),
            None => (rel.to_string(), bytes),
        };
        let dest = out.join(rel);
        fs::create_dir_all(dest.parent().expect("a file in the tree"))?;
        fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))
    })?;
    fs::write(&stamp, b"")?;
    Ok(out)
}

/// Every regular file under `dir`, in path order (not the cache stamp).
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if entry.file_type().is_file() && entry.file_name() != COMPLETE {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// How a module file is stored: its name's suffix after `.ko` (`""` for a plain module); None
/// for files that are not modules.
fn stored_suffix(path: &Path) -> Option<&str> {
    let name = path.to_str()?;
    module_stem(name).and_then(|stem| name.get(stem.len()..))
}

/// `x/y.ko` for `x/y.ko`, `x/y.ko.gz`, `x/y.ko.zst`, `x/y.ko.xz`; None for other files.
pub fn module_stem(rel: &str) -> Option<&str> {
    ["", ".gz", ".zst", ".xz"].iter().find_map(|sfx| rel.strip_suffix(sfx).filter(|s| s.ends_with(".ko")))
}

fn recompress(name: &str, bytes: Vec<u8>, to: ModuleCompression) -> Result<Vec<u8>> {
    compress(decompressed(Path::new(name), bytes)?, to)
}

/// A module's ELF image `plain` stored as `to`.
pub fn compress(plain: Vec<u8>, to: ModuleCompression) -> Result<Vec<u8>> {
    Ok(match to {
        ModuleCompression::None => plain,
        ModuleCompression::Gz => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut enc, &plain)?;
            enc.finish()?
        }
        // One-shot compression records the content size in the frame header, as the `zstd`
        // tool does for a file (and modinit requires); the streaming `encode_all` does not.
        ModuleCompression::Zst => zstd::bulk::compress(&plain, ZSTD_LEVEL)?,
    })
}

/// The ELF image of a module file named `path` whose contents are `bytes`.
pub fn decompressed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let name = path.display();
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .with_context(|| format!("{name}: bad gzip"))?;
            out
        }
        Some("zst") => zstd::decode_all(&bytes[..]).with_context(|| format!("{name}: bad zstd"))?,
        // modinit's own decoder, the one the boot runs (no xz crate in the harness).
        Some("xz") => {
            let bad = |e: modinit::decompress::DecompressError| anyhow::anyhow!("{name}: bad xz: {e}");
            let mut out = vec![0; modinit::decompress::decompressed_size(&bytes, usize::MAX).map_err(bad)?];
            modinit::decompress::decompress_into(&bytes, &mut out).map_err(bad)?;
            out
        }
        _ => bytes,
    })
}
