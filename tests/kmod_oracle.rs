//! kmod as an oracle: libkmod's own alias lookup and load order, through its C API.
//!
//! What [`Kmod`] answers is what kmod 30's modprobe would do with the same module tree and
//! configuration, for tests that check modinit against it. libkmod, like modprobe, also reads
//! the kernel command line of the machine running the tests (`/proc/cmdline`): its
//! `MODULE.PARAM=VALUE` words add options and `modprobe.blacklist=` adds blacklist entries.
//! `/sys/module` of this machine matters only for names neither in the tree nor builtin.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

/// Opaque libkmod types.
#[repr(C)]
struct KmodCtx {
    _opaque: [u8; 0],
}
#[repr(C)]
struct KmodList {
    _opaque: [u8; 0],
}
#[repr(C)]
struct KmodModule {
    _opaque: [u8; 0],
}

type RunInstall = unsafe extern "C" fn(*mut KmodModule, *const c_char, *mut c_void) -> c_int;
type PrintAction = unsafe extern "C" fn(*mut KmodModule, bool, *const c_char);

// Flags of kmod_module_probe_insert_module(), from libkmod.h (kmod 30).
const KMOD_PROBE_IGNORE_LOADED: c_uint = 0x00008;
const KMOD_PROBE_DRY_RUN: c_uint = 0x00010;
const KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY: c_uint = 0x40000;
/// kmod_module_get_initstate() of a builtin module.
const KMOD_MODULE_BUILTIN: c_int = 0;

#[link(name = "kmod")]
unsafe extern "C" {
    fn kmod_new(dirname: *const c_char, config_paths: *const *const c_char) -> *mut KmodCtx;
    fn kmod_unref(ctx: *mut KmodCtx) -> *mut KmodCtx;
    fn kmod_load_resources(ctx: *mut KmodCtx) -> c_int;
    fn kmod_module_new_from_lookup(ctx: *mut KmodCtx, given_alias: *const c_char, list: *mut *mut KmodList) -> c_int;
    fn kmod_list_next(list: *const KmodList, curr: *const KmodList) -> *mut KmodList;
    fn kmod_module_get_module(entry: *const KmodList) -> *mut KmodModule;
    fn kmod_module_unref(module: *mut KmodModule) -> *mut KmodModule;
    fn kmod_module_unref_list(list: *mut KmodList) -> c_int;
    fn kmod_module_get_name(module: *const KmodModule) -> *const c_char;
    fn kmod_module_get_path(module: *const KmodModule) -> *const c_char;
    fn kmod_module_get_initstate(module: *const KmodModule) -> c_int;
    fn kmod_module_probe_insert_module(
        module: *mut KmodModule,
        flags: c_uint,
        extra_options: *const c_char,
        run_install: Option<RunInstall>,
        data: *const c_void,
        print_action: Option<PrintAction>,
    ) -> c_int;
}

/// A libkmod context with its indexes loaded. Not `Send`: libkmod contexts are not thread-safe.
pub struct Kmod {
    ctx: *mut KmodCtx,
}

/// One `modprobe --show-depends` line: the module's name, its file (None for a builtin) and
/// the options it would get.
pub type Insertion = (String, Option<String>, String);

impl Kmod {
    /// A context on `modules_dir` that reads no configuration (an empty configuration
    /// directory, which kmod_new reads at once).
    pub fn without_configuration(modules_dir: &Path) -> Kmod {
        let empty = tempfile::tempdir().unwrap();
        Kmod::new(modules_dir, &[empty.path()])
    }

    /// `modules_dir` = a lib/modules/VERSION dir that holds depmod's indexes; `config_dirs` =
    /// modprobe.d dirs or files, in precedence order (an empty slice = no configuration at all;
    /// libkmod would read the system's own for none). The kernel dir's modules.softdep is
    /// always read, as modprobe does.
    ///
    /// Panics if libkmod cannot make the context or load the indexes.
    pub fn new(modules_dir: &Path, config_dirs: &[&Path]) -> Kmod {
        let dir = c_path(modules_dir);
        let configs: Vec<CString> = config_dirs.iter().map(|p| c_path(p)).collect();
        let mut config_ptrs: Vec<*const c_char> = configs.iter().map(|c| c.as_ptr()).collect();
        config_ptrs.push(ptr::null());
        // SAFETY: both arguments are NUL-terminated strings (and a NULL-terminated array of
        // them) that live through the call; kmod_new copies what it keeps.
        let ctx = unsafe { kmod_new(dir.as_ptr(), config_ptrs.as_ptr()) };
        assert!(!ctx.is_null(), "kmod_new({}) failed", modules_dir.display());
        let kmod = Kmod { ctx };
        // SAFETY: ctx is a live context owned by `kmod`.
        let err = unsafe { kmod_load_resources(kmod.ctx) };
        assert!(err >= 0, "kmod_load_resources({}): error {err} (no depmod indexes?)", modules_dir.display());
        kmod
    }

    /// kmod_module_new_from_lookup: the names of the modules `key` resolves to, in libkmod's
    /// order, duplicates kept (what `modprobe -R KEY` prints). Empty when nothing matches.
    pub fn lookup(&self, key: &str) -> Vec<String> {
        self.with_lookup(key, |module| {
            // SAFETY: module is a live reference handed out by with_lookup.
            unsafe { string(kmod_module_get_name(module)) }.unwrap_or_default()
        })
    }

    /// What `modprobe --show-depends NAME` prints (stdout only, `insmod`/`builtin` lines), in
    /// order: for every module `name` looks up to, its dependencies and soft dependencies,
    /// then itself (kmod_module_probe_insert_module with modprobe's flags: dry run, ignore
    /// what this machine has loaded, blacklist for aliases). Empty when nothing matches.
    ///
    /// Panics when the configuration gives a module an `install` command, which this form
    /// cannot say.
    pub fn show_depends(&self, name: &str) -> Vec<Insertion> {
        let flags = KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY;
        PRINTED.with_borrow_mut(Vec::clear);
        let print = Some(print_action as PrintAction);
        self.with_lookup(name, |module| {
            // SAFETY: module is live; print_action only records into PRINTED on this thread.
            // modprobe ignores the result (errors go to its stderr), and so do we.
            unsafe { kmod_module_probe_insert_module(module, flags, ptr::null(), None, ptr::null(), print) };
        });
        let printed = PRINTED.with_borrow_mut(std::mem::take);
        printed
            .into_iter()
            .map(|p| match p {
                Printed::Insertion(insertion) => insertion,
                Printed::Install(name) => panic!("{name} has an `install` command: show_depends cannot say it"),
            })
            .collect()
    }

    /// Calls `each` on every module `key` looks up to, in order, and collects the results.
    fn with_lookup<T>(&self, key: &str, mut each: impl FnMut(*mut KmodModule) -> T) -> Vec<T> {
        let Ok(key) = CString::new(key) else { return Vec::new() };
        let mut list: *mut KmodList = ptr::null_mut();
        // SAFETY: ctx is live, key is NUL-terminated, list is a valid out pointer.
        let err = unsafe { kmod_module_new_from_lookup(self.ctx, key.as_ptr(), &mut list) };
        let mut out = Vec::new();
        if err < 0 {
            return out;
        }
        let mut entry = list;
        while !entry.is_null() {
            // SAFETY: entry is a node of `list`, which stays alive until unref_list below;
            // get_module takes a reference that is dropped right after use.
            unsafe {
                let module = kmod_module_get_module(entry);
                out.push(each(module));
                kmod_module_unref(module);
                entry = kmod_list_next(list, entry);
            }
        }
        // SAFETY: list came from kmod_module_new_from_lookup and is released once.
        unsafe { kmod_module_unref_list(list) };
        out
    }
}

impl Drop for Kmod {
    fn drop(&mut self) {
        // SAFETY: ctx came from kmod_new and is released once.
        unsafe { kmod_unref(self.ctx) };
    }
}

/// What print_action saw during one show_depends call.
enum Printed {
    Insertion(Insertion),
    /// The module whose `install` command would run.
    Install(String),
}

thread_local! {
    /// print_action has no user-data pointer: it records here, on the calling thread.
    static PRINTED: RefCell<Vec<Printed>> = const { RefCell::new(Vec::new()) };
}

/// modprobe's print_action: a module with a file is an `insmod`, a builtin one a `builtin`,
/// and a name that is neither (an alias without a module) prints nothing.
unsafe extern "C" fn print_action(module: *mut KmodModule, install: bool, options: *const c_char) {
    // SAFETY: libkmod passes a live module and a NUL-terminated options string (or NULL).
    let (name, path, options, builtin) = unsafe {
        (
            string(kmod_module_get_name(module)).unwrap_or_default(),
            string(kmod_module_get_path(module)),
            string(options).unwrap_or_default(),
            kmod_module_get_initstate(module) == KMOD_MODULE_BUILTIN,
        )
    };
    let printed = match (install, path) {
        (true, _) => Printed::Install(name),
        (false, Some(path)) => Printed::Insertion((name, Some(path), options)),
        (false, None) if builtin => Printed::Insertion((name, None, options)),
        (false, None) => return,
    };
    // try_with and try_borrow_mut: nothing may unwind out of this callback into C.
    let _ = PRINTED.try_with(|p| p.try_borrow_mut().map(|mut p| p.push(printed)));
}

/// A C string libkmod owns, copied; None for NULL.
///
/// # Safety
/// `s` is NULL or points to a NUL-terminated string valid for the call.
unsafe fn string(s: *const c_char) -> Option<String> {
    // SAFETY: per the contract above.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_else(|_| panic!("{}: NUL in path", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::OnceLock;

    /// A depmod'd copy of the real tree: (root, version), or None (with a note) without one.
    fn indexed_tree() -> Option<&'static (PathBuf, String)> {
        static TREE: OnceLock<Option<(PathBuf, String)>> = OnceLock::new();
        TREE.get_or_init(|| {
            let modules = crate::real_module_tree()?;
            let version = modules.file_name()?.to_str()?.to_string();
            let root = xtask::kmod::indexed_root(&modules).unwrap_or_else(|e| panic!("{e:#}"));
            Some((root, version))
        })
        .as_ref()
    }

    fn modules_dir(root: &Path, version: &str) -> PathBuf {
        root.join("lib/modules").join(version)
    }

    /// kmod's modprobe on the tree: stdout's lines, after checking it ran.
    fn modprobe(root: &Path, version: &str, args: &[&str]) -> (bool, Vec<String>) {
        let out = Command::new("modprobe")
            .arg("-d")
            .arg(root)
            .args(["-S", version])
            .args(args)
            .env("MODPROBE_OPTIONS", "")
            .output()
            .expect("running modprobe (package kmod)");
        let stdout = String::from_utf8(out.stdout).expect("modprobe prints UTF-8");
        (out.status.success(), stdout.lines().map(str::to_string).collect())
    }

    /// An empty modprobe.d.
    fn empty_config_dir() -> PathBuf {
        let dir = xtask::paths::target_dir().join("tmp/kmod-oracle-empty.d");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// show_depends's entries in modprobe's words: `insmod PATH OPTIONS` or `builtin NAME`.
    fn as_modprobe_lines(insertions: &[Insertion]) -> Vec<String> {
        insertions
            .iter()
            .map(|(name, path, options)| match path {
                Some(path) => format!("insmod {path} {options}"),
                None => format!("builtin {name}"),
            })
            .collect()
    }

    /// Each `insmod` entry's name is its file's, as kmod names modules.
    fn assert_names_match_paths(insertions: &[Insertion]) {
        for (name, path, _) in insertions {
            if let Some(path) = path {
                let file = Path::new(path).file_name().and_then(|f| f.to_str()).unwrap();
                let stem = file.split('.').next().unwrap().replace('-', "_");
                assert_eq!(&stem, name, "{path}");
            }
        }
    }

    #[test]
    fn lookup_of_qemus_e1000_matches_modprobe_resolve() {
        let Some((root, version)) = indexed_tree() else { return };
        let kmod = Kmod::new(&modules_dir(root, version), &[]);
        let key = "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00";
        let got = kmod.lookup(key);
        assert!(got.iter().any(|m| m == "e1000"), "{key} -> {got:?}");
        let (ok, want) = modprobe(root, version, &["-C", "/dev/null", "-R", key]);
        assert!(ok);
        assert_eq!(got, want, "{key}");
    }

    #[test]
    fn unknown_names_resolve_to_nothing_like_modprobe() {
        let Some((root, version)) = indexed_tree() else { return };
        let kmod = Kmod::new(&modules_dir(root, version), &[]);
        let (ok, printed) = modprobe(root, version, &["-C", "/dev/null", "-R", "no-such-module-anywhere"]);
        assert!(!ok && printed.is_empty(), "modprobe -R of an unknown name: {ok} {printed:?}");
        assert!(kmod.lookup("no-such-module-anywhere").is_empty());
        assert!(kmod.show_depends("no-such-module-anywhere").is_empty());
    }

    #[test]
    fn show_depends_matches_modprobe_with_an_empty_config() {
        let Some((root, version)) = indexed_tree() else { return };
        let config = empty_config_dir();
        let kmod = Kmod::new(&modules_dir(root, version), &[&config]);
        // Modules with dependencies (and softdeps: btrfs, ext4), builtin ones, aliases.
        for name in ["ext4", "xfs", "virtio_net", "btrfs", "snd-hda-intel", "sha256_generic", "crc32c", "fs-vfat"] {
            let got = kmod.show_depends(name);
            let (ok, want) = modprobe(root, version, &["-C", config.to_str().unwrap(), "--show-depends", name]);
            assert!(ok, "modprobe --show-depends {name} failed");
            assert_eq!(as_modprobe_lines(&got), want, "{name}");
            assert_names_match_paths(&got);
        }
        let ext4 = kmod.show_depends("ext4");
        assert!(ext4.len() > 2 && ext4.last().is_some_and(|(n, p, _)| n == "ext4" && p.is_some()), "{ext4:?}");
    }

    #[test]
    fn show_depends_and_lookup_follow_the_config_like_modprobe() {
        let Some((root, version)) = indexed_tree() else { return };
        let config = xtask::paths::target_dir().join("tmp/kmod-oracle-config.d");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("oracle.conf"),
            "options ext4 oracle_a=1 oracle_b=\"two words\"\n\
             options jbd2 oracle_c=3\n\
             softdep virtio_net pre: e1000 post: 8139cp\n\
             alias oracle-net-* virtio_net\n\
             blacklist e1000e\n",
        )
        .unwrap();
        let kmod = Kmod::new(&modules_dir(root, version), &[&config]);
        let c = config.to_str().unwrap();
        for key in ["oracle-net-x", "e1000e", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"] {
            let (_, want) = modprobe(root, version, &["-C", c, "-R", key]);
            assert_eq!(kmod.lookup(key), want, "{key}");
        }
        for name in ["ext4", "virtio_net", "oracle-net-x", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"] {
            let (_, want) = modprobe(root, version, &["-C", c, "--show-depends", name]);
            assert_eq!(as_modprobe_lines(&kmod.show_depends(name)), want, "{name}");
        }
        let ext4 = kmod.show_depends("ext4");
        assert!(ext4.iter().any(|(n, _, o)| n == "ext4" && o.contains("oracle_a=1")), "{ext4:?}");
    }

    #[test]
    fn every_corpus_modalias_resolves_like_modprobe_resolve() {
        let Some((root, version)) = indexed_tree() else { return };
        let corpus = std::fs::read_to_string(xtask::paths::modalias_corpus(version)).unwrap();
        let kmod = Kmod::new(&modules_dir(root, version), &[]);
        let mut resolved = 0;
        for key in corpus.lines().filter(|l| !l.starts_with('#')) {
            let (_, want) = modprobe(root, version, &["-C", "/dev/null", "-R", key]);
            let got = kmod.lookup(key);
            assert_eq!(got, want, "{key}");
            resolved += usize::from(!got.is_empty());
        }
        assert!(resolved > 50, "only {resolved} corpus modaliases resolve to a module");
    }
}
