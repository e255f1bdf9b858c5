//! depmod's reading of a module tree, shared by `cargo xtask index` (host) and the `depmod`
//! applet (target): which files are modules, which configuration files count and how they are
//! chosen, and what a module whose file cannot be read becomes.
//!
//! Each side supplies its filesystem ([`TreeFs`]: std on the host, raw syscalls on the target)
//! and reads the module images its own way (in parallel on the host, mapped on the target),
//! then [`index_bytes`] turns the facts into `modinit.idx`.

use super::builder::{BuildWarning, ModuleFacts, TreeFiles, build, lossy};
use super::writer::{WriteError, write};
use crate::config::{
    ConfigDir, ConfigFile, GivenPath, MODPROBE_D_DIRS, MODULE_DIR_CONFIG_FILES, MODULES_LOAD_D_DIRS,
    insert_module_dir_file, select_given_modprobe_d, select_modprobe_d, select_modules_load_d,
};
use crate::decompress::Compression;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// What a directory entry is, with symlinks followed, except one to `/dev/null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// A symlink to `/dev/null`: a configuration file that masks others by its name.
    DevNull,
    /// Anything else, or a dangling symlink.
    Other,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub kind: EntryKind,
}

/// The filesystem a tree is read from. Paths are byte strings joined with `/`.
pub trait TreeFs {
    type Error: fmt::Display;
    /// The entries of directory `path`, without `.` and `..`, in any order; Ok(None) when
    /// there is no such directory.
    fn list(&mut self, path: &[u8]) -> Result<Option<Vec<DirEntry>>, Self::Error>;
    /// The whole file `path`; Ok(None) when there is no such file.
    fn read(&mut self, path: &[u8]) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Why a tree could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeError<E> {
    /// The modules directory itself does not exist.
    NoModulesDir(Vec<u8>),
    /// Directories nest deeper than [`MAX_DEPTH`] (a symlink loop, most likely) at this path.
    TooDeep(Vec<u8>),
    /// The filesystem failed at this path.
    Fs(Vec<u8>, E),
}

impl<E: fmt::Display> fmt::Display for TreeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::NoModulesDir(p) => write!(f, "could not open directory {}: no such directory", lossy(p)),
            TreeError::TooDeep(p) => write!(f, "{}: directories nest deeper than {MAX_DEPTH} levels", lossy(p)),
            TreeError::Fs(p, e) => write!(f, "{}: {e}", lossy(p)),
        }
    }
}

/// How deep module directories may nest below the modules dir (Debian's go 6 deep).
pub const MAX_DEPTH: usize = 32;

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = dir.to_vec();
    if !path.is_empty() && !name.is_empty() && !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// Every module file under the modules dir `modules` (`.ko` and its compressed forms), as
/// paths relative to it, sorted. Like depmod, the `build` and `source` links at the top (the
/// kernel's headers) are not searched.
pub fn module_files<F: TreeFs>(fs: &mut F, modules: &[u8]) -> Result<Vec<Vec<u8>>, TreeError<F::Error>> {
    let mut files = Vec::new();
    let mut pending: Vec<(Vec<u8>, usize)> = alloc::vec![(Vec::new(), 0)];
    while let Some((rel, depth)) = pending.pop() {
        let path = join(modules, &rel);
        let entries = match fs.list(&path).map_err(|e| TreeError::Fs(path.clone(), e))? {
            Some(entries) => entries,
            None if rel.is_empty() => return Err(TreeError::NoModulesDir(path)),
            // Gone since its parent was listed.
            None => continue,
        };
        for entry in entries {
            let child = join(&rel, &entry.name);
            match entry.kind {
                EntryKind::Directory if rel.is_empty() && (entry.name == b"build" || entry.name == b"source") => {}
                EntryKind::Directory if depth + 1 >= MAX_DEPTH => {
                    return Err(TreeError::TooDeep(join(modules, &child)));
                }
                EntryKind::Directory => pending.push((child, depth + 1)),
                EntryKind::File if Compression::of_file_name(&entry.name).is_some() => files.push(child),
                _ => {}
            }
        }
    }
    crate::sort::sort(&mut files);
    Ok(files)
}

/// The tree's own inputs (modules.order, modules.builtin, modules.builtin.modinfo, each
/// optional) and the modprobe.d and modules-load.d configuration under `config_root` (none when
/// None), for the modules dir `modules` of kernel `release`.
pub fn tree_files<F: TreeFs>(
    fs: &mut F,
    modules: &[u8],
    release: &[u8],
    config_root: Option<&[u8]>,
) -> Result<TreeFiles, TreeError<F::Error>> {
    let mut optional = |name: &[u8]| {
        let path = join(modules, name);
        fs.read(&path).map_err(|e| TreeError::Fs(path, e))
    };
    let mut tree = TreeFiles {
        kernel_release: release.to_vec(),
        modules_order: optional(b"modules.order")?,
        modules_builtin: optional(b"modules.builtin")?,
        modules_builtin_modinfo: optional(b"modules.builtin.modinfo")?,
        ..TreeFiles::default()
    };
    if let Some(root) = config_root {
        tree.modprobe_d = select_modprobe_d(config_dirs(fs, root, MODPROBE_D_DIRS)?);
        tree.modules_load_d = select_modules_load_d(config_dirs(fs, root, MODULES_LOAD_D_DIRS)?);
    }
    Ok(tree)
}

/// Where modprobe.d is read from.
#[derive(Debug, Clone, Copy)]
pub enum ModprobeD<'p> {
    /// kmod's directories ([`MODPROBE_D_DIRS`]) under this root.
    Under(&'p [u8]),
    /// The paths given with `modprobe -C`, in order: directories or single files. A path that
    /// does not exist is passed over, as kmod does.
    Given(&'p [&'p [u8]]),
}

/// The modprobe.d files libkmod reads, in its order, with the module directory `modules`'s own
/// [`MODULE_DIR_CONFIG_FILES`] (depmod's modules.softdep and modules.weakdep) sorted in among
/// them: what the applets read at every call.
pub fn modprobe_d_files<F: TreeFs>(
    fs: &mut F,
    source: ModprobeD<'_>,
    modules: &[u8],
) -> Result<Vec<ConfigFile>, TreeError<F::Error>> {
    let mut files = match source {
        ModprobeD::Under(root) => {
            let mut files = select_modprobe_d(config_dirs(fs, root, MODPROBE_D_DIRS)?);
            // Named from the root in messages, as kmod names them.
            for file in &mut files {
                file.dir = lossy(&join(root, file.dir.as_bytes())).into_owned();
            }
            files
        }
        ModprobeD::Given(paths) => {
            let mut given = Vec::new();
            for &path in paths {
                if let Some(dir) = config_dir(fs, path)? {
                    given.push(GivenPath::Dir(dir));
                } else if let Some(text) = fs.read(path).map_err(|e| TreeError::Fs(path.to_vec(), e))? {
                    let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
                        Some(slash) => (&path[..slash], &path[slash + 1..]),
                        None => (&path[..0], path),
                    };
                    let (dir, name) = (lossy(dir).into_owned(), lossy(name).into_owned());
                    given.push(GivenPath::File(ConfigFile { dir, name, text }));
                }
            }
            select_given_modprobe_d(given)
        }
    };
    for name in MODULE_DIR_CONFIG_FILES {
        let path = join(modules, name.as_bytes());
        if let Some(text) = fs.read(&path).map_err(|e| TreeError::Fs(path, e))? {
            let dir = lossy(modules).into_owned();
            insert_module_dir_file(&mut files, ConfigFile { dir, name: String::from(*name), text });
        }
    }
    Ok(files)
}

/// The directories `dirs` under `root`, highest precedence first, as the selectors take them:
/// regular files with their text, symlinks to /dev/null as masks, nothing else.
fn config_dirs<F: TreeFs>(fs: &mut F, root: &[u8], dirs: &[&str]) -> Result<Vec<ConfigDir>, TreeError<F::Error>> {
    let mut out = Vec::new();
    for dir in dirs {
        let path = join(root, dir.as_bytes());
        let (_, entries) = config_dir(fs, &path)?.unwrap_or_default();
        out.push((String::from(*dir), entries));
    }
    Ok(out)
}

/// The directory `path` as the selectors take it (see [`config_dirs`]); None when it is no
/// directory.
fn config_dir<F: TreeFs>(fs: &mut F, path: &[u8]) -> Result<Option<ConfigDir>, TreeError<F::Error>> {
    let Some(listing) = fs.list(path).map_err(|e| TreeError::Fs(path.to_vec(), e))? else { return Ok(None) };
    let mut entries = Vec::new();
    for entry in listing {
        let name = lossy(&entry.name).into_owned();
        match entry.kind {
            EntryKind::DevNull => entries.push((name, None)),
            EntryKind::File => {
                let file = join(path, &entry.name);
                // A file removed since the listing is left out, as if it had not been there.
                if let Some(text) = fs.read(&file).map_err(|e| TreeError::Fs(file, e))? {
                    entries.push((name, Some(text)));
                }
            }
            EntryKind::Directory | EntryKind::Other => {}
        }
    }
    Ok(Some((lossy(path).into_owned(), entries)))
}

/// The facts of the module file `path` (relative to the modules dir) from its image, or, when
/// the image could not be read or is not a module, the module by name only (as depmod keeps
/// it in modules.dep) and a warning naming the file.
pub fn facts_or_bare<E: fmt::Display>(path: &[u8], image: Result<&[u8], E>) -> (ModuleFacts, Option<BuildWarning>) {
    let facts = match image {
        Ok(image) => ModuleFacts::from_image(path, image).map_err(|e| format!("{e}")),
        Err(e) => Err(format!("{e}")),
    };
    match facts {
        Ok(f) => (f, None),
        Err(e) => {
            let warning = BuildWarning(format!("{}: {e}; indexed without aliases or dependencies", lossy(path)));
            (ModuleFacts { path: path.to_vec(), ..ModuleFacts::default() }, Some(warning))
        }
    }
}

/// `modinit.idx` for `modules` (any order) and `tree`.
pub fn index_bytes(
    modules: &[ModuleFacts],
    tree: &TreeFiles,
    warn: &mut dyn FnMut(BuildWarning),
) -> Result<Vec<u8>, WriteError> {
    write(&build(modules, tree, warn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::string::ToString;

    /// A filesystem in memory: file paths to contents (None: a /dev/null symlink).
    #[derive(Default)]
    struct MemFs(BTreeMap<Vec<u8>, Option<Vec<u8>>>);

    impl MemFs {
        fn with(files: &[(&str, Option<&str>)]) -> MemFs {
            MemFs(files.iter().map(|(p, t)| (p.as_bytes().to_vec(), t.map(|t| t.as_bytes().to_vec()))).collect())
        }
    }

    impl TreeFs for MemFs {
        type Error = &'static str;

        fn list(&mut self, path: &[u8]) -> Result<Option<Vec<DirEntry>>, &'static str> {
            let prefix = [path, b"/"].concat();
            let mut entries: BTreeMap<Vec<u8>, EntryKind> = BTreeMap::new();
            for (p, text) in &self.0 {
                let Some(rest) = p.strip_prefix(prefix.as_slice()) else { continue };
                let (name, kind) = match rest.iter().position(|&b| b == b'/') {
                    Some(i) => (&rest[..i], EntryKind::Directory),
                    None if text.is_none() => (rest, EntryKind::DevNull),
                    None => (rest, EntryKind::File),
                };
                entries.insert(name.to_vec(), kind);
            }
            Ok((!entries.is_empty()).then(|| entries.into_iter().map(|(name, kind)| DirEntry { name, kind }).collect()))
        }

        fn read(&mut self, path: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
            if path.ends_with(b"broken") {
                return Err("I/O error");
            }
            Ok(self.0.get(path).cloned().flatten())
        }
    }

    fn listed(files: &[ConfigFile]) -> Vec<String> {
        files.iter().map(|f| format!("{}/{}={}", f.dir, f.name, lossy(&f.text))).collect()
    }

    #[test]
    fn live_modprobe_d_is_kmods_directories_with_the_module_dirs_softdeps_among_them() {
        let mut fs = MemFs::with(&[
            ("/r/etc/modprobe.d/b.conf", Some("etc b")),
            ("/r/lib/modprobe.d/b.conf", Some("lib b")),
            ("/r/lib/modprobe.d/z.conf", None),
            ("/r/usr/lib/modprobe.d/a.conf", Some("usr a")),
            ("/m/6.1/modules.softdep", Some("softdep x pre: y")),
        ]);
        let files = modprobe_d_files(&mut fs, ModprobeD::Under(b"/r"), b"/m/6.1").unwrap();
        let expected = ["/r/usr/lib/modprobe.d/a.conf=usr a", "/r/etc/modprobe.d/b.conf=etc b"];
        let expected = [&expected[..], &["/m/6.1/modules.softdep=softdep x pre: y"]].concat();
        assert_eq!(listed(&files), expected);
    }

    #[test]
    fn given_paths_replace_kmods_directories() {
        let mut fs = MemFs::with(&[
            ("/r/etc/modprobe.d/b.conf", Some("not read")),
            ("/c/one.conf", Some("one")),
            ("/d/two.conf", Some("two")),
            ("/d/one.conf", Some("shadowed by the first path")),
        ]);
        let given: [&[u8]; 3] = [b"/c/one.conf", b"/missing", b"/d"];
        let files = modprobe_d_files(&mut fs, ModprobeD::Given(&given), b"/m/6.1").unwrap();
        assert_eq!(listed(&files), ["/c/one.conf=one", "/d/two.conf=two"]);
    }

    #[test]
    fn module_files_are_found_below_the_modules_dir_but_not_in_build() {
        let mut fs = MemFs::with(&[
            ("r/lib/modules/6.1/kernel/drivers/ata/ahci.ko", Some("")),
            ("r/lib/modules/6.1/kernel/fs/ext4.ko.zst", Some("")),
            ("r/lib/modules/6.1/kernel/notes.txt", Some("")),
            ("r/lib/modules/6.1/top.ko.gz", Some("")),
            ("r/lib/modules/6.1/modules.order", Some("")),
            ("r/lib/modules/6.1/build/samples/x.ko", Some("")),
            ("r/lib/modules/6.1/extra/build/y.ko", Some("")),
        ]);
        let files = module_files(&mut fs, b"r/lib/modules/6.1").unwrap();
        let files: Vec<_> = files.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        assert_eq!(files, ["extra/build/y.ko", "kernel/drivers/ata/ahci.ko", "kernel/fs/ext4.ko.zst", "top.ko.gz"]);
        assert_eq!(
            module_files(&mut fs, b"r/lib/modules/9.9"),
            Err(TreeError::NoModulesDir(b"r/lib/modules/9.9".to_vec()))
        );
    }

    #[test]
    fn configuration_follows_precedence_and_masks() {
        let mut fs = MemFs::with(&[
            ("m/modules.order", Some("kernel/a.ko\n")),
            ("root/etc/modprobe.d/a.conf", Some("blacklist a")),
            ("root/etc/modprobe.d/masked.conf", None),
            ("root/lib/modprobe.d/a.conf", Some("blacklist lower")),
            ("root/lib/modprobe.d/masked.conf", Some("blacklist masked")),
            ("root/lib/modprobe.d/b.conf", Some("blacklist b")),
            ("root/usr/lib/modules-load.d/l.conf", Some("loop")),
        ]);
        let tree = tree_files(&mut fs, b"m", b"6.1", Some(b"root")).unwrap();
        assert_eq!(
            (tree.kernel_release.as_slice(), tree.modules_order.as_deref()),
            (&b"6.1"[..], Some(&b"kernel/a.ko\n"[..]))
        );
        assert_eq!(tree.modules_builtin, None);
        let chosen: Vec<_> = tree.modprobe_d.iter().map(|f| format!("{}/{}", f.dir, f.name)).collect();
        assert_eq!(chosen, ["etc/modprobe.d/a.conf", "lib/modprobe.d/b.conf"]);
        assert_eq!(tree.modules_load_d[0].text, b"loop");
        assert!(tree_files(&mut fs, b"m", b"6.1", None).unwrap().modprobe_d.is_empty());
        let mut broken = MemFs::with(&[("m/modules.order", Some("")), ("root/etc/modprobe.d/broken", Some(""))]);
        let err = tree_files(&mut broken, b"m", b"6.1", Some(b"root")).unwrap_err();
        assert_eq!(err.to_string(), "root/etc/modprobe.d/broken: I/O error");
    }

    #[test]
    fn an_unreadable_module_is_kept_by_name() {
        let (facts, warning) = facts_or_bare(b"kernel/x.ko", Err("Permission denied"));
        assert_eq!((facts.path.as_slice(), facts.aliases.len()), (&b"kernel/x.ko"[..], 0));
        assert_eq!(warning.unwrap().0, "kernel/x.ko: Permission denied; indexed without aliases or dependencies");
        let (_, warning) = facts_or_bare::<&str>(b"kernel/y.ko", Ok(b"not an ELF file"));
        assert!(warning.is_some());
    }
}
