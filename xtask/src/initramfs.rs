//! Assembling the initramfs: modinit as /init, the modules chosen from a tree with their
//! firmware, the real init. The same inputs give the same bytes (see [`crate::cpio`]).

use crate::cpio::{Archive, Node};
use crate::module_tree;
use crate::select::{self, ModuleChoice};
use anyhow::{Context, Result, bail};
use modinit::toolbox::applets::Applet;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use crate::module_tree::{ModuleCompression, ModuleStorage};

/// What goes into an image.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The program installed as /init: modinit, or a reference peer's script.
    pub init: PathBuf,
    /// A host file installed as /sbin/init (the real init); None for no /sbin/init.
    pub real_init: Option<PathBuf>,
    /// A `lib/modules/VERSION` directory to copy to the same place in the image.
    pub modules: Option<PathBuf>,
    pub compress_modules: ModuleStorage,
    /// A root whose modprobe.d and modules-load.d are baked into the image's module index.
    pub config_root: Option<PathBuf>,
    /// Which of the tree's modules go in.
    pub select: ModuleChoice,
    /// Where the firmware files named by the modules' `firmware=` lines are looked up (as
    /// /lib/firmware is laid out); None for no firmware.
    pub firmware: Option<PathBuf>,
    /// Every entry's mtime (seconds since 1970); None for SOURCE_DATE_EPOCH, else 0.
    pub mtime: Option<u32>,
}

impl ImageSpec {
    /// An image of `init` and `real_init` with the whole module tree `modules` (if any) stored
    /// with `compress_modules`, no configuration and no firmware.
    pub fn new(
        init: PathBuf,
        real_init: Option<PathBuf>,
        modules: Option<PathBuf>,
        compress_modules: impl Into<ModuleStorage>,
    ) -> Self {
        ImageSpec {
            init,
            real_init,
            modules,
            compress_modules: compress_modules.into(),
            config_root: None,
            select: ModuleChoice::default(),
            firmware: None,
            mtime: None,
        }
    }
}

/// What `cargo xtask initramfs --compress-modules` defaults to for the tree `modules`: the
/// storage `cargo xtask bench` picks on its kernel (docs/benchmarks.md, "Module storage and
/// outer compression" on each Linux; [`crate::bench_timing::choose`]: the fastest to the real
/// init, or the smallest image within noise of it). A kernel that decompresses modules itself
/// loads the files as the tree ships them in its compression (6.12: `.ko.xz`, as fast as
/// `.ko.zst` or plain and the smallest image); on one that does not, modinit decompresses
/// `.ko.gz` (6.1: the fastest to the real init once async probing and the end at the root cut
/// the rest of the boot, ahead of plain `.ko` and of `.ko.zst`, whose decoder is the slowest).
pub fn fastest_storage(modules: &Path) -> ModuleStorage {
    let shipped = module_tree::files(modules)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| ModuleCompression::of_module(p))
        .collect::<BTreeSet<_>>();
    match crate::kernel::decompresses_modules(modules) {
        Some(c) if shipped.iter().all(|s| *s == c) => ModuleStorage::Keep,
        Some(c) => ModuleStorage::As(c),
        None => ModuleStorage::As(ModuleCompression::Gz),
    }
}

/// What `cargo xtask initramfs --compress` defaults to: the outer compression of the image whose
/// boots reached the real init first (docs/benchmarks.md, "Module storage and outer compression").
pub const DEFAULT_COMPRESSION: ModuleCompression = ModuleCompression::None;

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
    a.set_mtime(match spec.mtime {
        Some(seconds) => seconds,
        None => source_date_epoch()?,
    });
    a.insert("init", Node::File(read(&spec.init)?), 0o755);
    if let Some(real_init) = &spec.real_init {
        a.insert("sbin/init", Node::File(read(real_init)?), 0o755);
        // The guest test init is a busybox script; busybox also serves any later shell use.
        a.insert(GUEST_BUSYBOX, Node::File(read(Path::new(crate::tools::BUSYBOX_STATIC))?), 0o755);
    }
    if let Some(modules) = &spec.modules {
        add_module_tree(&mut a, modules, spec)?;
        if let Some(root) = &spec.config_root {
            add_configuration(&mut a, root)?;
        }
        // The toolbox; the kernel's request_module() runs /sbin/modprobe.
        for link in Applet::ALL.iter().filter_map(|a| a.link()) {
            a.insert(link, Node::Symlink("/init".into()), 0o777);
        }
    }
    Ok(a)
}

/// Writes `archive` to `out`, compressed as a whole with `compression` (the kernel unpacks
/// gzip, zstd and xz initramfs images), and returns the file's size in bytes.
pub fn write(archive: &Archive, out: &Path, compression: ModuleCompression) -> Result<u64> {
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = BufWriter::new(file);
    let context = || format!("writing {}", out.display());
    match compression {
        ModuleCompression::None => archive.write_to(&mut w).map(drop),
        ModuleCompression::Gz => {
            let mut gz = flate2::write::GzEncoder::new(&mut w, flate2::Compression::default());
            archive.write_to(&mut gz).and_then(|_| gz.finish()).map(drop)
        }
        ModuleCompression::Zst => {
            let mut zst = zstd::Encoder::new(&mut w, 3)?;
            archive.write_to(&mut zst).and_then(|_| zst.finish()).map(drop)
        }
        ModuleCompression::Xz => {
            let mut xz = module_tree::xz_writer(&mut w)?;
            archive.write_to(&mut xz).and_then(|_| xz.finish()).map(drop)
        }
    }
    .with_context(context)?;
    w.flush().with_context(context)?;
    Ok(fs::metadata(out)?.len())
}

/// Module files in `archive` per directory (the first three levels under lib/modules/VERSION,
/// e.g. `kernel/drivers/ata`).
pub fn module_counts(archive: &Archive) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for path in archive.paths().filter(|p| p.contains(".ko")) {
        let Some(rel) = path.strip_prefix("lib/modules/").and_then(|p| p.split_once('/')).map(|(_, rel)| rel) else {
            continue;
        };
        let dir: Vec<&str> = rel.split('/').collect();
        let dir = dir[..dir.len() - 1].iter().take(3).copied().collect::<Vec<_>>().join("/");
        *counts.entry(dir).or_default() += 1;
    }
    counts
}

/// Copies the modules of `modules` (a lib/modules/VERSION directory) that `spec` selects to
/// the same path in the image, each stored with `spec.compress_modules` (recompressed once and
/// cached, see [`module_tree`]), with the tree's other files, modinit's index of exactly the
/// modules copied, the table of the tree's modules left out (`modinit::absent`), and their
/// firmware.
fn add_module_tree(a: &mut Archive, modules: &Path, spec: &ImageSpec) -> Result<()> {
    let version = modules
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a lib/modules/VERSION directory", modules.display()))?;
    let tree = module_tree::stored_as(modules, spec.compress_modules)?;
    let config_root = spec.config_root.as_deref();
    let whole = crate::index::build_index(&tree, config_root)?;
    let (index, selected) = match select::select(&whole.bytes, &spec.select)? {
        None => (None, None),
        Some(selected) => {
            if !selected.dropped.is_empty() {
                eprintln!("xtask: left out, as they need an omitted module: {}", selected.dropped.join(" "));
            }
            (Some(crate::index::build_index_of(&tree, config_root, Some(&selected.paths))?), Some(selected.paths))
        }
    };
    let absent = crate::index::absent_table(&whole.bytes, index.as_ref().map_or(&whole.bytes, |i| &i.bytes))?;
    let index = index.unwrap_or(whole);
    eprintln!(
        "xtask: {}: {} bytes, {:.1}% of the index's {} bytes",
        modinit::absent::FILE_NAME,
        absent.len(),
        100.0 * absent.len() as f64 / index.bytes.len() as f64,
        index.bytes.len()
    );
    let files: Vec<PathBuf> = module_tree::files(&tree)?
        .into_iter()
        .filter(|p| is_wanted(p.strip_prefix(&tree).ok().and_then(Path::to_str).unwrap_or_default(), selected.as_ref()))
        .collect();
    let contents: Vec<Vec<u8>> = files.par_iter().map(|p| read(p)).collect::<Result<_>>()?;
    if let Some(dir) = &spec.firmware {
        add_firmware(a, dir, &files, &contents)?;
    }
    for (path, bytes) in files.iter().zip(contents) {
        let rel = path.strip_prefix(&tree)?.to_str().context("non-UTF-8 path")?;
        a.insert(&format!("lib/modules/{version}/{rel}"), Node::File(bytes), 0o644);
    }
    for (name, bytes) in index.module_dir_files {
        a.insert(&format!("lib/modules/{version}/{name}"), Node::File(bytes), 0o644);
    }
    a.insert(&format!("lib/modules/{version}/modinit.idx"), Node::File(index.bytes), 0o644);
    a.insert(&format!("lib/modules/{version}/{}", modinit::absent::FILE_NAME), Node::File(absent), 0o644);
    Ok(())
}

/// Copies `root`'s modprobe.d and modules-load.d files into the image at the same places: the
/// boot reads them from the index, where they are baked in, and the toolbox from the files, as
/// kmod's tools do (a link to /dev/null, which masks a name, stays a link).
pub fn add_configuration(a: &mut Archive, root: &Path) -> Result<()> {
    for dir in modinit::config::MODPROBE_D_DIRS.iter().chain(modinit::config::MODULES_LOAD_D_DIRS) {
        let Ok(entries) = fs::read_dir(root.join(dir)) else { continue };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let path = format!("{dir}/{}", name.to_str().context("non-UTF-8 configuration file name")?);
            let kind = entry.file_type()?;
            if kind.is_symlink() && fs::read_link(entry.path())? == Path::new("/dev/null") {
                a.insert(&path, Node::Symlink("/dev/null".into()), 0o777);
            } else if fs::metadata(entry.path())?.is_file() {
                a.insert(&path, Node::File(read(&entry.path())?), 0o644);
            }
        }
    }
    Ok(())
}

/// Whether the tree's file `rel` goes in: a module when selected, every other file (modules.order,
/// modules.builtin, ...) always.
fn is_wanted(rel: &str, selected: Option<&BTreeSet<String>>) -> bool {
    let is_module = modinit::decompress::Compression::of_file_name(rel.as_bytes()).is_some();
    !is_module || selected.is_none_or(|s| s.contains(rel))
}

/// Adds the files the modules (`files`, with their `contents`) name in `firmware=` lines, found
/// under `dir` as the kernel looks them up (also compressed, `.xz` or `.zst`), to lib/firmware/.
/// The missing ones are listed in one warning.
fn add_firmware(a: &mut Archive, dir: &Path, files: &[PathBuf], contents: &[Vec<u8>]) -> Result<()> {
    let names: BTreeSet<String> = files
        .par_iter()
        .zip(contents)
        .filter(|(path, _)| {
            modinit::decompress::Compression::of_file_name(path.as_os_str().as_encoded_bytes()).is_some()
        })
        .map(|(path, bytes)| firmware_names(path, bytes))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut missing = Vec::new();
    for name in &names {
        let found = ["", ".xz", ".zst"].iter().map(|sfx| format!("{name}{sfx}")).find(|n| dir.join(n).is_file());
        match found {
            Some(file) => a.insert(&format!("lib/firmware/{file}"), Node::File(read(&dir.join(&file))?), 0o644),
            None => missing.push(name.as_str()),
        }
    }
    eprintln!("xtask: firmware: {} files added from {}", names.len() - missing.len(), dir.display());
    if !missing.is_empty() {
        eprintln!(
            "xtask: warning: {} firmware files not under {}: {}",
            missing.len(),
            dir.display(),
            missing.join(" ")
        );
    }
    Ok(())
}

/// The `firmware=` values of the module file `path` holding `bytes`.
fn firmware_names(path: &Path, bytes: &[u8]) -> Result<Vec<String>> {
    let image = module_tree::decompressed(path, bytes.to_vec())?;
    let modinfo = modinit::module_file::modinfo::Modinfo::from_elf(&image)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let names = modinfo.values(b"firmware").map(|v| String::from_utf8_lossy(v).into_owned());
    let names: Vec<String> = names.collect();
    if let Some(bad) = names.iter().find(|n| n.starts_with('/') || n.split('/').any(|part| part == "..")) {
        bail!("{}: firmware name {bad:?} leaves the firmware directory", path.display());
    }
    Ok(names)
}

/// SOURCE_DATE_EPOCH (reproducible-builds.org), else 0: every entry's mtime.
fn source_date_epoch() -> Result<u32> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={s:?}: expected seconds since 1970")),
        Err(_) => Ok(0),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}
