//! `depmod [-a] [-b BASEDIR] [VERSION]`: writes BASEDIR/lib/modules/VERSION/modinit.idx for
//! the tree, with BASEDIR's modprobe.d and modules-load.d baked in (what `cargo xtask index
//! --config-root BASEDIR` writes, byte for byte: both run `modinit::index::tree`). The file is
//! written aside and renamed into place, so a reader never sees half an index.
//!
//! kmod's messages and exit codes; warnings about the tree as kmod's depmod words them where it
//! has the same one. Plain, gzip, zstd and xz modules, decompressed as the boot does (a module
//! that cannot be read is indexed by name only, with a warning, as `cargo xtask index` does). Not
//! supported: kmod's other files
//! (modules.dep, ...), `-n`, `-A`, `-C`, `-E`/`-F` symbol checks, and module files named on the
//! command line.

use super::{Convention, err, refused, write_all};
use crate::insert::module_image::{ImageError, ModuleImage};
use crate::io::tree_fs::TargetFs;
use alloc::ffi::CString;
use alloc::vec::Vec;
use modinit::index::builder::{BuildWarning, ModuleFacts};
use modinit::index::tree::{TreeError, facts_or_bare, index_bytes, module_files, tree_files};
use modinit::kernel::errno::Strerror;
use modinit::line::Bytes;
use modinit::toolbox::depmod_args::parse;
use rustix::fd::AsFd;
use rustix::fs::{AtFlags, Mode, OFlags, open, openat, renameat, unlinkat};
use rustix::io::Errno;

const USAGE: &str = "Usage:\n\tdepmod -[aA] [options] [forced_version]\n\n\
Writes modinit.idx, modinit's module index, for BASEDIR/lib/modules/VERSION\n\
(or BASEDIR/usr/lib/modules/VERSION when only that exists).\n\n\
Options:\n\t-a, --all            Probe all modules (the default)\n\
\t-b, --basedir=DIR    Use an image of a module tree.\n\t-h, --help           show this help";

const INDEX: &core::ffi::CStr = c"modinit.idx";
const INDEX_TMP: &core::ffi::CStr = c"modinit.idx.tmp";

pub fn main(argv: &[&[u8]]) -> i32 {
    let opts = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(o) => o,
        Err(refusal) => return refused(argv, Convention::Kmod, &USAGE, refusal),
    };
    // The builder keeps every module's facts until the index is written.
    crate::sys::arena::set_capacity(crate::sys::arena::APPLET_CAPACITY);
    let uname = rustix::system::uname();
    let version = opts.version.unwrap_or(uname.release().to_bytes());
    let root = opts.basedir.unwrap_or_default();
    let modules = [root, crate::io::modules_dir::parent_of(root, version), version].concat();
    let config_root = if root.is_empty() { &b"/"[..] } else { root };

    let mut fs = TargetFs;
    let files = match module_files(&mut fs, &modules) {
        Ok(files) => files,
        Err(TreeError::NoModulesDir(dir)) => {
            err!("depmod: ERROR: could not open directory {}: {}", Bytes(&dir), sys(Errno::NOENT));
            err!("depmod: FATAL: could not search modules: {}", sys(Errno::NOENT));
            return 1;
        }
        Err(e) => {
            err!("depmod: FATAL: could not search modules: {e}");
            return 1;
        }
    };
    let tree = match tree_files(&mut fs, &modules, version, Some(config_root)) {
        Ok(tree) => tree,
        Err(e) => {
            err!("depmod: FATAL: could not load configuration files: {e}");
            return 1;
        }
    };
    let mut facts: Vec<ModuleFacts> = Vec::with_capacity(files.len());
    for rel in &files {
        let (f, warning) = read_module(&modules, rel);
        facts.push(f);
        if let Some(w) = warning {
            err!("depmod: WARNING: {w}");
        }
    }
    let bytes = match index_bytes(&facts, &tree, &mut |w| err!("depmod: WARNING: {w}")) {
        Ok(bytes) => bytes,
        Err(e) => {
            err!("depmod: ERROR: Could not create index 'modinit.idx': {e}");
            return 1;
        }
    };
    match write_atomically(&modules, &bytes) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

/// The facts of the module file `rel` under `modules`, from its image (mapped, or decompressed).
fn read_module(modules: &[u8], rel: &[u8]) -> (ModuleFacts, Option<BuildWarning>) {
    let path = c_string(&[modules, b"/", rel].concat()).map_err(ImageError::File);
    let image = path.and_then(|path| ModuleImage::read(&path));
    facts_or_bare(rel, image.as_ref().map(ModuleImage::bytes))
}

/// Writes `bytes` to `modules`/modinit.idx.tmp, then renames it over modinit.idx (kmod's way
/// for its indexes). Err after saying why.
fn write_atomically(modules: &[u8], bytes: &[u8]) -> Result<(), ()> {
    let dir = c_string(modules)
        .and_then(|path| open(path.as_c_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()));
    let dir = dir.map_err(|e| err!("depmod: FATAL: could not open directory {}: {}", Bytes(modules), sys(e)))?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
    let written =
        openat(&dir, INDEX_TMP, flags, Mode::from_raw_mode(0o644)).and_then(|file| write_all(file.as_fd(), bytes));
    if let Err(e) = written {
        let _ = unlinkat(&dir, INDEX_TMP, AtFlags::empty());
        err!("depmod: ERROR: Could not write index 'modinit.idx': {}", sys(e));
        return Err(());
    }
    renameat(&dir, INDEX_TMP, &dir, INDEX).map_err(|e| {
        let _ = unlinkat(&dir, INDEX_TMP, AtFlags::empty());
        err!("depmod: FATAL: renameat({}, modinit.idx.tmp, {0}, modinit.idx): {}", Bytes(modules), sys(e));
    })
}

/// An error of the system, as kmod words it.
fn sys(e: Errno) -> Strerror {
    Strerror(e.raw_os_error())
}

fn c_string(path: &[u8]) -> Result<CString, Errno> {
    CString::new(path).map_err(|_| Errno::INVAL)
}
