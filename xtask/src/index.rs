//! `cargo xtask index`: builds `modinit.idx` for a module tree on the host, with the library's
//! builder (what the `depmod` applet runs on the target), reading the modules in parallel.

use anyhow::{Context, Result};
use modinit::config::{ConfigDir, MODPROBE_D_DIRS, MODULES_LOAD_D_DIRS, select_modprobe_d, select_modules_load_d};
use modinit::decompress::Compression;
use modinit::index::builder::{ModuleFacts, TreeFiles, build};
use modinit::index::writer::write;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// An index and what building it reported.
pub struct Built {
    pub bytes: Vec<u8>,
    pub modules: usize,
    pub warnings: Vec<String>,
}

/// Builds the index of the `lib/modules/VERSION` directory `modules`, with the modprobe.d and
/// modules-load.d of `config_root` (none when None).
pub fn build_index(modules: &Path, config_root: Option<&Path>) -> Result<Built> {
    build_index_of(modules, config_root, None)
}

/// As [`build_index`], of only the module files in `selected` (paths relative to `modules`)
/// when given: the index of an image holding part of the tree.
pub fn build_index_of(modules: &Path, config_root: Option<&Path>, selected: Option<&BTreeSet<String>>) -> Result<Built> {
    let release = modules.file_name().and_then(|n| n.to_str()).context("module tree without a version name")?;
    let mut files = module_files(modules)?;
    if let Some(selected) = selected {
        files.retain(|f| f.strip_prefix(modules).ok().and_then(Path::to_str).is_some_and(|rel| selected.contains(rel)));
    }
    let facts: Vec<(ModuleFacts, Option<String>)> = files.par_iter().map(|path| read_module(modules, path)).collect();
    build_from_facts(release, facts, &|name| fs::read(modules.join(name)).ok(), config_root)
}

/// As [`build_index`], for a tree held in memory: `modules` are (path relative to the modules
/// dir, file contents), `tree_file` gives modules.order and the other files by name.
pub fn build_index_of_files(
    release: &str,
    modules: &[(String, Vec<u8>)],
    tree_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    config_root: Option<&Path>,
) -> Result<Built> {
    let facts = modules.par_iter().map(|(rel, bytes)| module_facts(Path::new(rel), Path::new(rel), bytes.clone())).collect();
    build_from_facts(release, facts, tree_file, config_root)
}

fn build_from_facts(
    release: &str,
    results: Vec<(ModuleFacts, Option<String>)>,
    tree_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    config_root: Option<&Path>,
) -> Result<Built> {
    let mut warnings = Vec::new();
    let mut facts = Vec::new();
    for (f, warning) in results {
        facts.push(f);
        warnings.extend(warning);
    }
    let tree = TreeFiles {
        kernel_release: release.as_bytes().to_vec(),
        modules_order: tree_file("modules.order"),
        modules_builtin: tree_file("modules.builtin"),
        modules_builtin_modinfo: tree_file("modules.builtin.modinfo"),
        modprobe_d: match config_root {
            Some(root) => select_modprobe_d(config_dirs(root, MODPROBE_D_DIRS)?),
            None => Vec::new(),
        },
        modules_load_d: match config_root {
            Some(root) => select_modules_load_d(config_dirs(root, MODULES_LOAD_D_DIRS)?),
            None => Vec::new(),
        },
    };
    let contents = build(&facts, &tree, &mut |w| warnings.push(w.to_string()));
    let bytes = write(&contents).map_err(|e| anyhow::anyhow!("writing the index: {e}"))?;
    Ok(Built { bytes, modules: facts.len(), warnings })
}

/// Every module file under `modules`, sorted.
fn module_files(modules: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in WalkDir::new(modules).follow_links(true) {
        let entry = entry.with_context(|| format!("walking {}", modules.display()))?;
        let name = entry.file_name().as_encoded_bytes();
        if entry.file_type().is_file() && Compression::of_file_name(name).is_some() {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// The facts of one module. One that cannot be read stays in the index by name only (as
/// depmod keeps it in modules.dep), with a warning naming the file.
fn read_module(modules: &Path, path: &Path) -> (ModuleFacts, Option<String>) {
    let rel = path.strip_prefix(modules).unwrap_or(path);
    // Read, not mapped: page faults on mappings serialize the threads (measured: 2 threads
    // take 127 ms over mappings of the Debian tree, 91 ms with read()).
    match fs::read(path) {
        Ok(file) => module_facts(rel, path, file),
        Err(e) => bare_module(rel, path, e.into()),
    }
}

/// The facts of the module file `file` at `rel` (relative to the modules dir); `shown` is the
/// path warnings name.
fn module_facts(rel: &Path, shown: &Path, file: Vec<u8>) -> (ModuleFacts, Option<String>) {
    let facts = crate::module_tree::decompressed(shown, file)
        .and_then(|image| ModuleFacts::from_image(rel.as_os_str().as_encoded_bytes(), &image).map_err(|e| anyhow::anyhow!("{e}")));
    match facts {
        Ok(f) => (f, None),
        Err(e) => bare_module(rel, shown, e),
    }
}

fn bare_module(rel: &Path, shown: &Path, e: anyhow::Error) -> (ModuleFacts, Option<String>) {
    let bare = ModuleFacts { path: rel.as_os_str().as_encoded_bytes().to_vec(), ..ModuleFacts::default() };
    (bare, Some(format!("{}: {e:#}; indexed without aliases or dependencies", shown.display())))
}

/// The configuration directories under `root`, highest precedence first, as the selectors
/// take them: regular files with their text, symlinks to /dev/null as masks.
fn config_dirs(root: &Path, dirs: &[&str]) -> Result<Vec<ConfigDir>> {
    let mut out = Vec::new();
    for dir in dirs {
        let path = root.join(dir);
        let mut entries = Vec::new();
        if let Ok(listing) = fs::read_dir(&path) {
            for entry in listing {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let target = fs::read_link(entry.path()).ok();
                if target.as_deref() == Some(Path::new("/dev/null")) {
                    entries.push((name, None));
                } else if entry.path().is_file() {
                    entries.push((name, Some(fs::read(entry.path())?)));
                }
            }
        }
        out.push((dir.to_string(), entries));
    }
    Ok(out)
}
