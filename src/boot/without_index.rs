//! When the index cannot be used: the modules the command line names (`rd.driver.pre=`,
//! `earlymodules=`, `modules_load=`, `rd.modules_load=`, then `rd.driver.post=`) still load, found by name in modules.order, each after the modules its
//! `.modinfo` `depends=` names (what modpost derived from its symbols, as depmod does).
//!
//! That is all that can be done honestly: aliases, modprobe.d (options, blacklist, softdeps)
//! and modules-load.d live in the index only, so devices get no drivers, names must be module
//! names, and only the command line's `NAME.PARAM=` and `modprobe.blacklist=` apply.

use super::kernel_log::KernelLog;
use crate::insert::load::{Failure, Image};
use crate::insert::probe::{Params, in_kernel};
use crate::io::clock::Instant;
use crate::io::log::{error, say, warning};
use crate::io::modules_dir::{ModulesDir, map_whole_file};
use crate::io::path::{PATH_MAX, c_path};
use modinit::decompress::Compression;
use modinit::index::module_list::{dependencies, find};
use modinit::line::Bytes;
use modinit::loading::named::{Named, Origin, on_cmdline};
use modinit::module_file::modinfo::Modinfo;
use modinit::name::normalize_module_name;
use modinit::string_set::{Insert, StringSet};

/// Debian's deepest dependency chain is about 10 modules.
const MAX_DEPTH: usize = 16;
/// How a file listed as `NAME.ko` may be stored, in the order tried.
const STORED: [Compression; 4] = [Compression::None, Compression::Zstd, Compression::Gzip, Compression::Xz];

struct Loader<'a> {
    dir: &'a ModulesDir,
    cmdline: &'a [u8],
    order: &'a [u8],
    builtin: &'a [u8],
    /// Modules tried already (normalized names).
    tried: StringSet<8192, 256>,
    loaded: usize,
}

/// Every name the command line's lists give, in the order they load.
fn named(cmdline: &[u8]) -> impl Iterator<Item = Named<'_>> {
    [Origin::EARLY, Origin::MODULES_LOAD, Origin::LATE].into_iter().flat_map(|origins| on_cmdline(cmdline, origins))
}

/// Loads what the command line names; says nothing when it names nothing.
pub fn load_named_modules(cmdline: &[u8], dir: &ModulesDir, kernel_log: &mut KernelLog) {
    if named(cmdline).next().is_none() {
        return;
    }
    let started = Instant::now();
    let list = |name: &[u8]| {
        let mut buf = [0u8; PATH_MAX];
        let path = dir.join(name, &mut buf)?;
        match map_whole_file(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                warning!("cannot read {}: {e}", Bytes(path.to_bytes()));
                None
            }
        }
    };
    let Some(order) = list(b"modules.order") else {
        error!("without the index and modules.order, the modules the command line names cannot be found");
        return;
    };
    say!("loading the modules the command line names without the index: by name, with their depends=");
    let builtin = list(b"modules.builtin").unwrap_or_default();
    let mut loader = Loader { dir, cmdline, order, builtin, tried: StringSet::new(), loaded: 0 };
    let (mut skipped, mut failed) = (0, 0);
    for Named { name, origin } in named(cmdline) {
        // As kmod: the blacklist stops what is named (where the list's tool applies it), never
        // a dependency.
        if origin.applies_blacklist() && modinit::cmdline::modules::blacklists(cmdline, name) {
            say!("not loading {} ({}): modprobe.blacklist= names it", Bytes(name), origin.describe());
            skipped += 1;
        } else if !loader.load(name, 0, kernel_log) {
            failed += 1;
        }
    }
    say!(
        "done without the index: loaded={} skipped={skipped} failed={failed} in {} ms",
        loader.loaded,
        started.elapsed_ms()
    );
}

impl Loader<'_> {
    /// Loads module `name` after its dependencies; false when it is not in the kernel after.
    fn load(&mut self, name: &[u8], depth: usize, kernel_log: &mut KernelLog) -> bool {
        let mut normalized = [0u8; 256];
        let Some(len) = normalize_module_name(name, &mut normalized) else {
            error!("cannot load {}: not a module name", Bytes(name));
            return false;
        };
        let name = &normalized[..len];
        if self.tried.insert(name) != Insert::New {
            // Tried before: loaded, or its failure was reported then.
            return in_kernel(name);
        }
        if in_kernel(name) || find(self.builtin, name).is_some() {
            return true;
        }
        let Some(listed) = find(self.order, name) else {
            error!(
                "cannot load {}: not in modules.order (without the index, only module names are found)",
                Bytes(name)
            );
            return false;
        };
        // Which file exists is found first and its path built again: a path borrowed from
        // the buffer cannot leave a loop that reuses it.
        let mut buf = [0u8; PATH_MAX];
        let dir = self.dir.as_bytes();
        let stored = STORED.into_iter().find(|c| {
            let path = c_path(&mut buf, &[dir, b"/", listed, c.extension()]);
            path.is_some_and(|p| rustix::fs::access(p, rustix::fs::Access::READ_OK).is_ok())
        });
        let path = stored.and_then(|c| c_path(&mut buf, &[dir, b"/", listed, c.extension()]));
        let (Some(path), Some(compression)) = (path, stored) else {
            error!("cannot load {}: no file {}[.zst|.gz|.xz] in the modules dir", Bytes(name), Bytes(listed));
            return false;
        };
        let shown = Bytes(path.to_bytes());
        let image = match Image::open(path, compression, true) {
            Ok(image) => image,
            Err(failure) => {
                error!("cannot load {} ({shown}): {failure}", Bytes(name));
                return false;
            }
        };
        match image.elf().map(Modinfo::from_elf) {
            Some(Ok(modinfo)) if depth < MAX_DEPTH => {
                for dep in dependencies(&modinfo) {
                    if !self.load(dep, depth + 1, kernel_log) {
                        error!("cannot load {}: it needs {}, which did not load", Bytes(name), Bytes(dep));
                        return false;
                    }
                }
            }
            Some(Ok(_)) => warning!("{shown}: dependencies nest deeper than {MAX_DEPTH}: loading it without the rest"),
            Some(Err(e)) => warning!("{shown}: {e}: loading it without its dependencies"),
            None => warning!("{shown}: the kernel decompresses it: loading it without its dependencies"),
        }
        let mut params = Params::new();
        modinit::cmdline::modules::options_for(self.cmdline, name, |piece| params.push(piece));
        let Some(params) = params.as_cstr() else {
            error!("cannot load {} ({shown}): {}", Bytes(name), Failure::TooLong);
            return false;
        };
        let started = Instant::now();
        let loaded = match image.insert(params) {
            Ok(()) => {
                self.loaded += 1;
                say!("loaded {} (without the index) in {} ms", Bytes(name), started.elapsed_ms());
                true
            }
            Err(Failure::Kernel(e)) if e.is_already_loaded() => true,
            Err(failure) => {
                let unknown = if failure.may_be_unknown_symbols() { kernel_log.unknown_symbols(name).count } else { 0 };
                match unknown {
                    0 => error!("cannot load {} ({shown}): {failure}", Bytes(name)),
                    n => error!("cannot load {} ({shown}): {failure}: {n} unknown symbols (see dmesg)", Bytes(name)),
                }
                false
            }
        };
        // The module's own kernel messages next to its line.
        kernel_log.drain();
        loaded
    }
}
