//! Module trees stored with another compression: `.ko` recompressed as `.ko.gz` or `.ko.zst`.
//!
//! Recompressing 4,000 modules takes minutes, so each converted tree is made once and kept
//! under `target/modules/COMPRESSION/lib/modules/VERSION/` (remade when the source tree is
//! newer): a root that `depmod -b` accepts.

use anyhow::{Context, Result, bail};
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

/// A tree under `out` (`out/lib/modules/VERSION`, remade each time, files hard-linked) with
/// only the modules `names` and what they depend on (depmod's modules.dep), and the kernel's
/// lists (modules.order cut to those modules, modules.builtin*). Softdeps are not followed:
/// name them too.
pub fn subset(modules: &Path, names: &[&str], out: &Path) -> Result<PathBuf> {
    let version = modules.file_name().and_then(|n| n.to_str()).context("module tree without a version name")?;
    let deps_file = crate::kmod::indexed_root(modules)?.join("lib/modules").join(version).join("modules.dep");
    let deps = fs::read_to_string(&deps_file).with_context(|| format!("reading {}", deps_file.display()))?;
    let deps: std::collections::BTreeMap<&str, Vec<&str>> = deps
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(module, needs)| (module, needs.split_whitespace().collect()))
        .collect();
    let by_name: std::collections::BTreeMap<String, &str> = deps.keys().map(|&rel| (module_name(rel), rel)).collect();
    let mut wanted = std::collections::BTreeSet::new();
    for name in names {
        let rel = *by_name
            .get(&name.replace('-', "_"))
            .with_context(|| format!("no module {name} in {}", modules.display()))?;
        wanted.insert(rel);
        wanted.extend(deps.get(rel).into_iter().flatten());
    }
    let tree = out.join("lib/modules").join(version);
    if out.exists() {
        fs::remove_dir_all(out)?;
    }
    for rel in &wanted {
        let dest = tree.join(rel);
        fs::create_dir_all(dest.parent().expect("a file in the tree"))?;
        fs::hard_link(modules.join(rel), &dest).or_else(|_| fs::copy(modules.join(rel), &dest).map(|_| ()))?;
    }
    let order = fs::read_to_string(modules.join("modules.order")).unwrap_or_default();
    let kept: String =
        order.lines().filter(|l| wanted.iter().any(|w| module_stem(w) == Some(l))).map(|l| format!("{l}\n")).collect();
    fs::write(tree.join("modules.order"), kept)?;
    for list in ["modules.builtin", "modules.builtin.modinfo"] {
        if modules.join(list).exists() {
            fs::copy(modules.join(list), tree.join(list))?;
        }
    }
    Ok(tree)
}

/// A module's name from its path in the tree: `kernel/fs/ext4/ext4.ko.zst` is `ext4`.
fn module_name(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    file.split('.').next().unwrap_or(file).replace('-', "_")
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
fn module_stem(rel: &str) -> Option<&str> {
    ["", ".gz", ".zst", ".xz"].iter().find_map(|sfx| rel.strip_suffix(sfx).filter(|s| s.ends_with(".ko")))
}

fn recompress(name: &str, bytes: Vec<u8>, to: ModuleCompression) -> Result<Vec<u8>> {
    let plain = decompressed(Path::new(name), bytes)?;
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
            flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out).with_context(|| format!("{name}: bad gzip"))?;
            out
        }
        Some("zst") => zstd::decode_all(&bytes[..]).with_context(|| format!("{name}: bad zstd"))?,
        Some("xz") => bail!("{name}: .ko.xz modules are not supported; decompress the tree first"),
        _ => bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the real tree: ext4 brings what depmod says it needs, and nothing else.
    #[test]
    fn a_subset_holds_the_modules_named_and_their_dependencies() {
        let provisioned = || {
            let unpacked = fs::read_dir(crate::kernel::cache_dir()).ok()?.flatten().next()?.path();
            Some(fs::read_dir(unpacked.join("lib/modules")).ok()?.flatten().next()?.path())
        };
        let Some(tree) = std::env::var_os("MODINIT_MODULES").map(PathBuf::from).or_else(provisioned) else {
            eprintln!("note: no module tree (set MODINIT_MODULES or run `cargo xtask kernel`): skipping");
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let made = subset(&tree, &["ext4"], out.path()).unwrap();
        let mut names: Vec<String> = files(&made)
            .unwrap()
            .iter()
            .filter_map(|p| module_stem(p.to_str()?).map(module_name))
            .collect();
        names.sort();
        assert_eq!(names, ["crc16", "ext4", "jbd2", "mbcache"]);
        let order = fs::read_to_string(made.join("modules.order")).unwrap();
        assert_eq!(order.lines().count(), 4, "{order}");
        assert!(made.join("modules.builtin").exists());
        assert!(subset(&tree, &["no_such_module"], out.path()).is_err());
    }
}
