//! `cargo xtask index`: builds `modinit.idx` for a module tree on the host, with the library's
//! tree reader and builder (what the `depmod` applet runs on the target), reading the modules
//! in parallel.

use anyhow::{Context, Result};
use modinit::index::builder::{BuildWarning, ModuleFacts};
use modinit::index::tree::{DirEntry, EntryKind, TreeFs, facts_or_bare, index_bytes, module_files, tree_files};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An index and what building it reported.
pub struct Built {
    /// modinit.idx.
    pub bytes: Vec<u8>,
    /// modules.softdep and modules.weakdep, as depmod writes them: the toolbox reads them beside
    /// the index, as kmod's tools do.
    pub module_dir_files: [(&'static str, Vec<u8>); 2],
    pub modules: usize,
    pub warnings: Vec<String>,
}

/// `modinit.absent` for an image whose index is `image`, from the index `tree` of the whole tree
/// it was taken from ([`modinit::absent::writer`]): an index the boot reads in place.
pub fn absent_table(tree: &[u8], image: &[u8]) -> Result<Vec<u8>> {
    let open = |bytes| modinit::index::Index::open(bytes).map_err(|e| anyhow::anyhow!("{e}"));
    let contents = modinit::absent::writer::contents(&open(tree)?, &open(image)?);
    modinit::index::writer::write(&contents).map_err(|e| anyhow::anyhow!("writing the table of absent modules: {e}"))
}

/// Builds the index of the `lib/modules/VERSION` directory `modules`, with the modprobe.d and
/// modules-load.d of `config_root` (none when None).
pub fn build_index(modules: &Path, config_root: Option<&Path>) -> Result<Built> {
    build_index_of(modules, config_root, None)
}

/// As [`build_index`], of only the module files in `selected` (paths relative to `modules`)
/// when given: the index of an image holding part of the tree.
pub fn build_index_of(
    modules: &Path,
    config_root: Option<&Path>,
    selected: Option<&BTreeSet<String>>,
) -> Result<Built> {
    let release = modules.file_name().context("module tree without a version name")?.as_bytes();
    let dir = modules.as_os_str().as_bytes();
    let mut files = module_files(&mut HostFs, dir, &Default::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(selected) = selected {
        files.retain(|rel| std::str::from_utf8(rel).is_ok_and(|rel| selected.contains(rel)));
    }
    let facts = files.par_iter().map(|rel| read_module(modules, rel)).collect();
    build_from_facts(&mut HostFs, dir, release, facts, config_root)
}

/// As [`build_index`], for a tree held in memory: `modules` are (path relative to the modules
/// dir, file contents), `tree_file` gives modules.order and the other files by name.
pub fn build_index_of_files(
    release: &str,
    modules: &[(String, Vec<u8>)],
    tree_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    config_root: Option<&Path>,
) -> Result<Built> {
    let facts =
        modules.par_iter().map(|(rel, bytes)| module_facts(rel.as_bytes(), Path::new(rel), bytes.clone())).collect();
    build_from_facts(&mut MemoryTree { tree_file }, MemoryTree::DIR, release.as_bytes(), facts, config_root)
}

fn build_from_facts(
    fs: &mut impl TreeFs<Error = std::io::Error>,
    dir: &[u8],
    release: &[u8],
    results: Vec<(ModuleFacts, Option<BuildWarning>)>,
    config_root: Option<&Path>,
) -> Result<Built> {
    let tree = tree_files(fs, dir, release, config_root.map(|r| r.as_os_str().as_bytes()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut warnings = Vec::new();
    let mut facts: Vec<ModuleFacts> = Vec::new();
    for (f, warning) in results {
        facts.push(f);
        warnings.extend(warning.map(|w| w.0));
    }
    let files = index_bytes(&facts, &tree, &mut |w| warnings.push(w.0))
        .map_err(|e| anyhow::anyhow!("writing the index: {e}"))?;
    let module_dir_files = [("modules.softdep", files.softdep), ("modules.weakdep", files.weakdep)];
    Ok(Built { bytes: files.index, module_dir_files, modules: facts.len(), warnings })
}

/// The facts of one module (`rel` to the modules dir), decompressed with the host's libraries.
fn read_module(modules: &Path, rel: &[u8]) -> (ModuleFacts, Option<BuildWarning>) {
    let path = modules.join(OsStr::from_bytes(rel));
    // Read, not mapped: page faults on mappings serialize the threads (measured: 2 threads
    // take 127 ms over mappings of the Debian tree, 91 ms with read()).
    match fs::read(&path) {
        Ok(file) => module_facts(rel, &path, file),
        Err(e) => facts_or_bare::<String>(rel, Err(format!("{}: {e}", path.display()))),
    }
}

/// The facts of the module file `file` at `rel` (relative to the modules dir); `shown` is the
/// path warnings name.
fn module_facts(rel: &[u8], shown: &Path, file: Vec<u8>) -> (ModuleFacts, Option<BuildWarning>) {
    let image = crate::module_tree::decompressed(shown, file).map_err(|e| format!("{e:#}"));
    facts_or_bare(rel, image.as_deref())
}

/// The host's filesystem for the library's tree reader.
struct HostFs;

impl TreeFs for HostFs {
    type Error = std::io::Error;

    fn list(&mut self, path: &[u8]) -> std::io::Result<Option<Vec<DirEntry>>> {
        let path = Path::new(OsStr::from_bytes(path));
        let listing = match fs::read_dir(path) {
            Ok(listing) => listing,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        for entry in listing {
            let entry = entry?;
            let kind = if fs::read_link(entry.path()).is_ok_and(|t| t == Path::new("/dev/null")) {
                EntryKind::DevNull
            } else {
                match fs::metadata(entry.path()) {
                    Ok(m) if m.is_file() => EntryKind::File,
                    Ok(m) if m.is_dir() => EntryKind::Directory,
                    _ => EntryKind::Other,
                }
            };
            entries.push(DirEntry { name: entry.file_name().as_bytes().to_vec(), kind });
        }
        Ok(Some(entries))
    }

    fn read(&mut self, path: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        match fs::read(OsStr::from_bytes(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The host's filesystem, with a modules dir held in memory at [`MemoryTree::DIR`].
struct MemoryTree<'t> {
    tree_file: &'t dyn Fn(&str) -> Option<Vec<u8>>,
}

impl MemoryTree<'_> {
    /// Where the tree appears: a path no real file has (it is not absolute).
    const DIR: &'static [u8] = b"\0in-memory-tree";
}

impl TreeFs for MemoryTree<'_> {
    type Error = std::io::Error;

    fn list(&mut self, path: &[u8]) -> std::io::Result<Option<Vec<DirEntry>>> {
        HostFs.list(path)
    }

    fn read(&mut self, path: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        match path.strip_prefix(Self::DIR).and_then(|rest| rest.strip_prefix(b"/")) {
            Some(name) => Ok(std::str::from_utf8(name).ok().and_then(self.tree_file)),
            None => HostFs.read(path),
        }
    }
}
