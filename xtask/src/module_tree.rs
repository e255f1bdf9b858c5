//! Module trees as images store them: as the tree ships them (`keep`), or every module
//! recompressed as `.ko`, `.ko.gz`, `.ko.zst` or `.ko.xz`.
//!
//! Recompressing 4,000 modules takes minutes, so each converted tree is made once and kept
//! under `target/modules/COMPRESSION/SOURCE/lib/modules/VERSION/` (a root that `depmod -b`
//! accepts). SOURCE names the source tree's path, so two trees with the same release name never
//! share a copy, and the copy's stamp holds a fingerprint of every source file's path, size and
//! mtime, so a module changed inside the tree remakes it.

use anyhow::{Context, Result};
use rayon::prelude::*;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use walkdir::WalkDir;

/// How a module file is compressed (also how a whole image is, `--compress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ModuleCompression {
    None,
    Gz,
    Zst,
    Xz,
}

impl ModuleCompression {
    pub const ALL: [ModuleCompression; 4] =
        [ModuleCompression::None, ModuleCompression::Gz, ModuleCompression::Zst, ModuleCompression::Xz];

    /// The name on the command line (`--compress-modules zst`).
    pub fn name(self) -> &'static str {
        match self {
            ModuleCompression::None => "none",
            ModuleCompression::Gz => "gz",
            ModuleCompression::Zst => "zst",
            ModuleCompression::Xz => "xz",
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            ModuleCompression::None => "",
            ModuleCompression::Gz => ".gz",
            ModuleCompression::Zst => ".zst",
            ModuleCompression::Xz => ".xz",
        }
    }

    /// How the module file named `path` is stored, from its suffix; None for a file that is not
    /// a module.
    pub fn of_module(path: &Path) -> Option<ModuleCompression> {
        let name = path.to_str()?;
        let stem = module_stem(name)?;
        ModuleCompression::ALL.into_iter().find(|c| c.suffix() == &name[stem.len()..])
    }
}

/// How an image stores the modules of its tree (`--compress-modules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleStorage {
    /// Each module file as the tree ships it: no copy, no recompression.
    Keep,
    /// Every module recompressed (or decompressed) this way.
    As(ModuleCompression),
}

impl ModuleStorage {
    /// The name on the command line: `keep`, or a compression's.
    pub fn name(self) -> &'static str {
        match self {
            ModuleStorage::Keep => "keep",
            ModuleStorage::As(c) => c.name(),
        }
    }
}

impl From<ModuleCompression> for ModuleStorage {
    fn from(c: ModuleCompression) -> Self {
        ModuleStorage::As(c)
    }
}

impl FromStr for ModuleStorage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "keep" {
            return Ok(ModuleStorage::Keep);
        }
        ModuleCompression::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .map(ModuleStorage::As)
            .ok_or_else(|| format!("`{s}`: expected keep, none, gz, zst or xz"))
    }
}

/// zstd level for converted trees: the decoder's work and window barely depend on it, and
/// level 19 (what distributions ship) takes ten times longer to make for a few percent.
const ZSTD_LEVEL: i32 = 9;

/// xz as the kernel's `modules_install` writes it (scripts/Makefile.modinst): CRC-32 checks,
/// which the kernel's own decoder verifies, and a 1 MiB dictionary, which bounds a decoder's
/// memory; preset 6 is xz's default.
const XZ_PRESET: u32 = 6;
const XZ_DICTIONARY: u32 = 1 << 20;

/// The stamp of a complete copy; it holds the source's fingerprint.
const COMPLETE: &str = ".complete";

/// `modules` with every module stored as `storage`: `modules` itself for `keep` or when every
/// module in it already is stored so, else a copy made once (see the module docs).
pub fn stored_as(modules: &Path, storage: impl Into<ModuleStorage>) -> Result<PathBuf> {
    let _cache = crate::paths::cache_lock();
    copy_in(&crate::paths::target_dir().join("modules"), modules, storage.into())
}

/// [`stored_as`] with its copies under `cache`.
fn copy_in(cache: &Path, modules: &Path, storage: ModuleStorage) -> Result<PathBuf> {
    let ModuleStorage::As(compression) = storage else { return Ok(modules.to_path_buf()) };
    let sources = files(modules)?;
    if sources.iter().all(|p| ModuleCompression::of_module(p).is_none_or(|c| c == compression)) {
        return Ok(modules.to_path_buf());
    }
    let version = modules.file_name().and_then(|n| n.to_str()).context("module tree without a version name")?;
    let source = modules.canonicalize().with_context(|| format!("{}", modules.display()))?;
    let out = cache
        .join(compression.name())
        .join(format!("{:016x}", fnv1a(source.as_os_str().as_encoded_bytes())))
        .join("lib/modules")
        .join(version);
    let fingerprint = fingerprint(modules, &sources)?;
    let stamp = out.join(COMPLETE);
    if fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint) {
        return Ok(out);
    }
    if out.exists() {
        fs::remove_dir_all(&out).with_context(|| format!("removing the stale copy {}", out.display()))?;
    }
    eprintln!("xtask: storing {} modules as {} in {} (once)", modules.display(), compression.name(), out.display());
    sources.par_iter().try_for_each(|path| -> Result<()> {
        let rel = path.strip_prefix(modules)?.to_str().context("non-UTF-8 path")?;
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (rel, bytes) = match module_stem(rel) {
            Some(stem) => (format!("{stem}{}", compression.suffix()), recompress(path, bytes, compression)?),
            None => (rel.to_string(), bytes),
        };
        let dest = out.join(rel);
        fs::create_dir_all(dest.parent().expect("a file in the tree"))?;
        fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))
    })?;
    fs::write(&stamp, fingerprint)?;
    Ok(out)
}

/// Every file's path, size and mtime (to the nanosecond), hashed: what a copy was made from.
fn fingerprint(modules: &Path, files: &[PathBuf]) -> Result<String> {
    let mut listing = Vec::new();
    for path in files {
        let meta = fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        let rel = path.strip_prefix(modules)?;
        listing.extend_from_slice(rel.as_os_str().as_encoded_bytes());
        listing.extend_from_slice(format!("\0{}\0{}.{}\n", meta.len(), meta.mtime(), meta.mtime_nsec()).as_bytes());
    }
    Ok(format!("{:016x} {} files\n", fnv1a(&listing), files.len()))
}

/// FNV-1a, 64 bits: a stable name for a path or a listing (std's hasher may change between
/// releases, and these names outlive a build).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// How every module of the tree `modules` is stored as shipped; None when they differ, or the
/// tree has none or cannot be read.
pub fn shipped_compression(modules: &Path) -> Option<ModuleCompression> {
    let files = files(modules).ok()?;
    let mut shipped = files.iter().filter_map(|p| ModuleCompression::of_module(p));
    let first = shipped.next()?;
    shipped.all(|c| c == first).then_some(first)
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

/// `x/y.ko` for `x/y.ko`, `x/y.ko.gz`, `x/y.ko.zst`, `x/y.ko.xz`; None for other files.
pub fn module_stem(rel: &str) -> Option<&str> {
    ModuleCompression::ALL.iter().find_map(|c| rel.strip_suffix(c.suffix()).filter(|s| s.ends_with(".ko")))
}

fn recompress(path: &Path, bytes: Vec<u8>, to: ModuleCompression) -> Result<Vec<u8>> {
    compress(decompressed(path, bytes)?, to)
}

/// A module's ELF image `plain` stored as `to`.
pub fn compress(plain: Vec<u8>, to: ModuleCompression) -> Result<Vec<u8>> {
    Ok(match to {
        ModuleCompression::None => plain,
        ModuleCompression::Gz => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&plain)?;
            enc.finish()?
        }
        // One-shot compression records the content size in the frame header, as the `zstd`
        // tool does for a file (and modinit requires); the streaming `encode_all` does not.
        ModuleCompression::Zst => zstd::bulk::compress(&plain, ZSTD_LEVEL)?,
        ModuleCompression::Xz => {
            let mut enc = xz_writer(Vec::new())?;
            enc.write_all(&plain)?;
            enc.finish()?
        }
    })
}

/// An xz encoder writing to `out` with the kernel's settings for modules (CRC-32, 1 MiB
/// dictionary), which its initramfs unpacker accepts as well.
pub fn xz_writer<W: Write>(out: W) -> Result<xz2::write::XzEncoder<W>> {
    let mut options = xz2::stream::LzmaOptions::new_preset(XZ_PRESET)?;
    options.dict_size(XZ_DICTIONARY);
    let mut filters = xz2::stream::Filters::new();
    filters.lzma2(&options);
    let stream = xz2::stream::Stream::new_stream_encoder(&filters, xz2::stream::Check::Crc32)?;
    Ok(xz2::write::XzEncoder::new_stream(out, stream))
}

/// The ELF image of a module file named `path` whose contents are `bytes`.
pub fn decompressed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let name = path.display();
    let mut out = Vec::new();
    match ModuleCompression::of_module(path) {
        Some(ModuleCompression::Gz) => flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{name}: bad gzip"))?,
        Some(ModuleCompression::Zst) => zstd::stream::read::Decoder::new(&bytes[..])?
            .read_to_end(&mut out)
            .with_context(|| format!("{name}: bad zstd"))?,
        Some(ModuleCompression::Xz) => {
            xz2::read::XzDecoder::new(&bytes[..]).read_to_end(&mut out).with_context(|| format!("{name}: bad xz"))?
        }
        Some(ModuleCompression::None) | None => return Ok(bytes),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree `lib/modules/9.9.9-test` under `root` with two "modules" (any bytes do: nothing
    /// here reads them as ELF) and a modules.order.
    fn tree(root: &Path) -> PathBuf {
        let modules = root.join("lib/modules/9.9.9-test");
        fs::create_dir_all(modules.join("kernel/drivers")).unwrap();
        fs::write(modules.join("kernel/drivers/a.ko"), b"module a, version 1").unwrap();
        fs::write(
            modules.join("kernel/drivers/b.ko.xz"),
            compress(b"module b".to_vec(), ModuleCompression::Xz).unwrap(),
        )
        .unwrap();
        fs::write(modules.join("modules.order"), b"kernel/drivers/a.ko\nkernel/drivers/b.ko\n").unwrap();
        modules
    }

    fn read_module(tree: &Path, rel: &str) -> Vec<u8> {
        let path = tree.join(rel);
        decompressed(&path, fs::read(&path).unwrap()).unwrap()
    }

    #[test]
    fn every_compression_round_trips_and_is_named_by_its_suffix() {
        for c in ModuleCompression::ALL {
            let plain = b"\x7fELF and some module bytes".repeat(100);
            let stored = compress(plain.clone(), c).unwrap();
            let name = PathBuf::from(format!("x/y.ko{}", c.suffix()));
            assert_eq!(ModuleCompression::of_module(&name), Some(c));
            assert_eq!(decompressed(&name, stored).unwrap(), plain, "{c:?}");
        }
        assert_eq!(ModuleCompression::of_module(Path::new("modules.order")), None);
        assert_eq!("keep".parse::<ModuleStorage>(), Ok(ModuleStorage::Keep));
        assert_eq!("xz".parse::<ModuleStorage>(), Ok(ModuleStorage::As(ModuleCompression::Xz)));
        assert!("lz4".parse::<ModuleStorage>().unwrap_err().contains("keep, none, gz, zst or xz"));
    }

    #[test]
    fn keep_and_an_already_stored_tree_need_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let modules = tree(dir.path());
        let cache = dir.path().join("cache");
        assert_eq!(copy_in(&cache, &modules, ModuleStorage::Keep).unwrap(), modules);
        fs::remove_file(modules.join("kernel/drivers/b.ko.xz")).unwrap();
        assert_eq!(copy_in(&cache, &modules, ModuleCompression::None.into()).unwrap(), modules);
        assert!(!cache.exists());
    }

    #[test]
    fn a_module_changed_inside_the_tree_remakes_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let modules = tree(dir.path());
        let cache = dir.path().join("cache");
        let copy = copy_in(&cache, &modules, ModuleCompression::Zst.into()).unwrap();
        assert_eq!(read_module(&copy, "kernel/drivers/a.ko.zst"), b"module a, version 1");
        assert_eq!(read_module(&copy, "kernel/drivers/b.ko.zst"), b"module b");
        // Same size, so only the mtime tells: set it apart explicitly (a coarse clock could not).
        let a = modules.join("kernel/drivers/a.ko");
        fs::write(&a, b"module a, version 2").unwrap();
        let later = fs::metadata(&a).unwrap().modified().unwrap() + std::time::Duration::from_secs(1);
        fs::File::options().write(true).open(&a).unwrap().set_modified(later).unwrap();
        let again = copy_in(&cache, &modules, ModuleCompression::Zst.into()).unwrap();
        assert_eq!(again, copy);
        assert_eq!(read_module(&again, "kernel/drivers/a.ko.zst"), b"module a, version 2");
    }

    #[test]
    fn two_trees_with_the_same_release_name_get_copies_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let first = tree(&dir.path().join("first"));
        let second = tree(&dir.path().join("second"));
        fs::write(second.join("kernel/drivers/a.ko"), b"patched module a").unwrap();
        let cache = dir.path().join("cache");
        let first_copy = copy_in(&cache, &first, ModuleCompression::Gz.into()).unwrap();
        let second_copy = copy_in(&cache, &second, ModuleCompression::Gz.into()).unwrap();
        assert_ne!(first_copy, second_copy);
        assert_eq!(read_module(&first_copy, "kernel/drivers/a.ko.gz"), b"module a, version 1");
        assert_eq!(read_module(&second_copy, "kernel/drivers/a.ko.gz"), b"patched module a");
        assert_eq!(read_module(&second_copy, "modules.order"), fs::read(second.join("modules.order")).unwrap());
    }
}
