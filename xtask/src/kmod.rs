//! kmod as the reference peer: its indexes for a module tree, and its modprobe in a guest.

use crate::cpio::{Archive, Node};
use crate::module_tree::{ModuleCompression, ModuleStorage};
use crate::tools::{self, DEPMOD, run};
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A root holding `lib/modules/VERSION` = `modules` (hard links, so nothing is copied) plus
/// the modules.dep/alias/... indexes `depmod` made for it, under target/kmod-root/; made once
/// and remade when `modules` is newer. The original tree is untouched.
pub fn indexed_root(modules: &Path) -> Result<PathBuf> {
    let _cache = crate::paths::cache_lock();
    let version = version_of(modules)?;
    // Named after the directory holding lib/modules/VERSION, e.g. linux-image-6.1.0-57-amd64.
    let key = modules.parent().and_then(|p| p.parent()).and_then(|p| p.parent()).and_then(|p| p.file_name());
    let key = key.and_then(|k| k.to_str()).unwrap_or("tree");
    let root = crate::paths::target_dir().join("kmod-root").join(key);
    let stamp = root.join("lib/modules").join(version).join("modules.dep.bin");
    if stamp.exists() && fs::metadata(&stamp)?.modified()? >= fs::metadata(modules)?.modified()? {
        return Ok(root);
    }
    // Built aside and renamed into place, so that an interrupted build is never taken as done.
    let partial = root.with_file_name(format!("{key}.partial-{}", std::process::id()));
    let tree = partial.join("lib/modules").join(version);
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    fs::create_dir_all(partial.join("lib/modules"))?;
    run(Command::new("cp").arg("-al").arg(modules).arg(&tree))?;
    depmod(&partial, version)?;
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    fs::rename(&partial, &root).with_context(|| format!("renaming {} to {}", partial.display(), root.display()))?;
    Ok(root)
}

/// [`indexed_root`]'s lib/modules/VERSION: `modules` with kmod's indexes.
pub fn indexed_tree(modules: &Path) -> Result<PathBuf> {
    Ok(indexed_root(modules)?.join("lib/modules").join(version_of(modules)?))
}

/// The kernel release a lib/modules/VERSION tree is for: its directory's name.
fn version_of(modules: &Path) -> Result<&str> {
    modules.file_name().and_then(|n| n.to_str()).context("module tree without a version name")
}

/// Runs depmod on `root`/lib/modules/`version`, after deleting the files an earlier depmod
/// left there (so that they are written anew, not through hard links into another tree).
pub fn depmod(root: &Path, version: &str) -> Result<()> {
    tools::ensure(&[&DEPMOD])?;
    for entry in fs::read_dir(root.join("lib/modules").join(version))? {
        let path = entry?.path();
        if is_depmod_output(path.file_name().and_then(|n| n.to_str()).unwrap_or("")) {
            fs::remove_file(&path)?;
        }
    }
    run(Command::new("depmod").arg("-b").arg(root).arg(version))
}

/// Puts the `modules.*` files of `tree` (depmod's indexes and the kernel's lists) into `image`
/// as lib/modules/`version`/NAME.
fn insert_index_files(image: &mut Archive, tree: &Path, version: &str) -> Result<()> {
    for entry in fs::read_dir(tree)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("modules.") && path.is_file() {
            image.insert(&format!("lib/modules/{version}/{name}"), Node::File(fs::read(&path)?), 0o644);
        }
    }
    Ok(())
}

/// Whether the tree's file `name` is one depmod writes (modules.dep, modules.alias.bin, ...),
/// not one of the kernel's lists depmod reads.
fn is_depmod_output(name: &str) -> bool {
    name.starts_with("modules.") && !["modules.order", "modules.builtin", "modules.builtin.modinfo"].contains(&name)
}

/// Replaces kmod's indexes in `image` with depmod's of the modules the image holds under
/// lib/modules/`version` (an image with part of a tree: kmod must not know the others).
pub fn reindex_image(image: &mut Archive, version: &str) -> Result<()> {
    let root = tempfile::tempdir()?;
    let prefix = format!("lib/modules/{version}/");
    let files: Vec<String> = image.paths().filter(|p| p.starts_with(&prefix)).map(str::to_string).collect();
    for path in &files {
        let Some(bytes) = image.file(path) else { continue };
        let name = path.rsplit('/').next().unwrap_or_default();
        if is_depmod_output(name) {
            image.remove(path);
            continue;
        }
        let dest = root.path().join(path);
        fs::create_dir_all(dest.parent().context("a file in the tree")?)?;
        fs::write(&dest, bytes)?;
    }
    depmod(root.path(), version)?;
    insert_index_files(image, &root.path().join(&prefix), version)
}

/// Adds a dynamically linked host program and the shared libraries it needs (as `ldd`
/// lists them), at their host paths.
pub fn add_host_program(a: &mut Archive, program: &Path) -> Result<()> {
    a.insert(program.to_str().context("non-UTF-8 path")?, Node::File(fs::read(program)?), 0o755);
    let out = Command::new("ldd").arg(program).output().context("running ldd")?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = line.split("=>").last().and_then(|rest| rest.split_whitespace().next()).unwrap_or("");
        if path.starts_with('/') {
            let real = fs::canonicalize(path)?;
            a.insert(path, Node::File(fs::read(&real).with_context(|| format!("reading {}", real.display()))?), 0o755);
        }
    }
    Ok(())
}

/// kmod's one program; it runs as the tool its name (argv[0]) names.
const KMOD: &str = "/usr/bin/kmod";

/// Adds kmod with its libraries, and symlinks to it at `links`.
fn add_kmod(a: &mut Archive, links: impl IntoIterator<Item = String>) -> Result<()> {
    tools::ensure(&[&DEPMOD])?;
    add_host_program(a, Path::new(KMOD))?;
    for link in links {
        a.insert(&link, Node::Symlink(KMOD.into()), 0o777);
    }
    Ok(())
}

/// How images for kmod store the modules of `modules`: compressed (a plain tree is 400 MB), in
/// a format Debian's kmod reads (xz and zstd, not gzip): as shipped when every module is xz or
/// zstd already, else as `.ko.zst`.
pub fn readable_storage(modules: &Path) -> Result<ModuleStorage> {
    let files = crate::module_tree::files(modules)?;
    let mut shipped = files.iter().filter_map(|p| ModuleCompression::of_module(p));
    Ok(if shipped.all(|c| matches!(c, ModuleCompression::Xz | ModuleCompression::Zst)) {
        ModuleStorage::Keep
    } else {
        ModuleStorage::As(ModuleCompression::Zst)
    })
}

/// Installs kmod (at its host path) and /sbin/modprobe, a link to it, in the image.
pub fn add_modprobe(a: &mut Archive) -> Result<()> {
    add_kmod(a, ["sbin/modprobe".to_string()])
}

/// Where [`add_kmod_tools`] installs kmod's compat commands: symlinks to kmod named as the
/// tools, so that their messages carry the same program names as modinit's applets.
pub const KMOD_TOOLS_DIR: &str = "usr/lib/kmod-tools";

/// Adds kmod with its libraries, its compat commands (lsmod, insmod, rmmod, modprobe, modinfo,
/// depmod) under [`KMOD_TOOLS_DIR`], and kmod's indexes of `modules` stored as
/// [`readable_storage`] says (the image must store them so) in lib/modules/VERSION, beside modinit's index of the
/// same tree.
pub fn add_kmod_tools(a: &mut Archive, modules: &Path) -> Result<()> {
    let stored = crate::module_tree::stored_as(modules, readable_storage(modules)?)?;
    insert_index_files(a, &indexed_tree(&stored)?, version_of(modules)?)?;
    let tools = ["lsmod", "insmod", "rmmod", "modprobe", "modinfo", "depmod"];
    add_kmod(a, tools.map(|tool| format!("{KMOD_TOOLS_DIR}/{tool}")))
}
