//! Driver loading to a fixpoint: the modules named on the command line and in
//! modules-load.d, then a driver for every device — those present now (coldplug) and those
//! that appear while drivers load (uevents) — until the bus has been quiet for a while.
//!
//! Each name or modalias is resolved as udev and systemd-modules-load do through libkmod:
//! every module the lookup finds, unless builtin, already in the kernel or blacklisted, is
//! loaded with its dependencies and softdeps, dependencies first, each module at most once.

use super::clock::Instant;
use super::coldplug;
use super::file::read_into;
use super::index_file::ModulesDir;
use super::kernel_log::KernelLog;
use super::load::{self, Failure};
use super::log::{error, say, warning};
use super::uevents::UeventSocket;
use core::ffi::CStr;
use modinit::line::Bytes;
use modinit::options::{BootOptions, modules_load_lists};
use modinit::resolve::{Found, Key, ModuleSet, Resolver, Step, Target};
use modinit::string_set::StringSet;

/// Room for the distinct modaliases of a large machine (a few hundred is usual).
type AliasSet = StringSet<{ 128 << 10 }, 4096>;

/// What the phase did, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    pub loaded: usize,
    pub builtin: usize,
    pub skipped: usize,
    pub failed: usize,
}

struct Loader<'r, 'a> {
    resolver: &'r Resolver<'a>,
    dir: &'r ModulesDir,
    quiet: bool,
    /// Modules tried already (loaded, failed or found in the kernel): never tried again.
    tried: ModuleSet,
    /// Builtin modules counted already.
    builtins: ModuleSet,
    summary: Summary,
}

/// Runs the whole phase and reports it in one line; `kernel_log` is drained after every
/// module so a driver's errors appear next to its name.
pub fn run(resolver: &Resolver<'_>, dir: &ModulesDir, opts: &BootOptions<'_>, kernel_log: &mut KernelLog) {
    let started = Instant::now();
    // Before the walk, so that no device added during it is missed.
    let socket = UeventSocket::open();
    let mut loader = Loader {
        resolver,
        dir,
        quiet: opts.quiet,
        tried: ModuleSet::new(),
        builtins: ModuleSet::new(),
        summary: Summary::default(),
    };
    modules_load_lists(resolver.cmdline, |name| loader.load_key(name, kernel_log));
    for name in resolver.index.modules_load() {
        loader.load_key(name, kernel_log);
    }

    let mut aliases = AliasSet::new();
    let mut done = 0;
    let mut rescan = true;
    loop {
        if rescan {
            coldplug::scan(|alias| aliases.insert(alias));
        }
        let received = socket.as_ref().map(|s| s.receive(|alias| {
            aliases.insert(alias);
        }));
        let loaded_before = loader.summary.loaded;
        while let Some(alias) = aliases.get(done) {
            loader.load_key(alias, kernel_log);
            done += 1;
        }
        if started.elapsed_ms() >= opts.timeout_ms {
            warning!("still loading drivers after {} ms (modinit.timeout_ms): going on", opts.timeout_ms);
            break;
        }
        // Drivers just loaded may have made devices the uevents did not all tell about.
        rescan = loader.summary.loaded > loaded_before || received.is_some_and(|r| r.overflowed);
        if rescan {
            continue;
        }
        let settled = match &socket {
            Some(s) => !s.wait(opts.settle_ms),
            None => {
                super::clock::sleep_ms(opts.settle_ms);
                rescan = true;
                false
            }
        };
        if settled || (socket.is_none() && aliases.len() == done && loader.summary.loaded == loaded_before) {
            break;
        }
    }
    if aliases.refused() > 0 {
        error!("{} device aliases did not fit in memory and got no driver", aliases.refused());
    }
    let s = loader.summary;
    say!(
        "done: loaded={} builtin={} skipped={} failed={} in {} ms (decompression memory peak {} KiB)",
        s.loaded,
        s.builtin,
        s.skipped,
        s.failed,
        started.elapsed_ms(),
        crate::sys::arena::high_water().div_ceil(1024)
    );
}

impl<'a> Loader<'_, 'a> {
    /// Loads what `name` (a module name, alias or modalias) resolves to.
    fn load_key(&mut self, name: &[u8], kernel_log: &mut KernelLog) {
        let Ok(key) = Key::new(name) else {
            warning!("ignoring {}: not a valid module name or alias", Bytes(name));
            return;
        };
        let mut found = [None; 32];
        let n = match self.resolver.lookup(&key, &mut found) {
            Ok((_, n)) => n,
            Err(e) => {
                error!("cannot resolve {}: {e:?}", Bytes(name));
                return;
            }
        };
        for f in found[..n].iter().flatten() {
            self.load_found(f, key.as_bytes(), kernel_log);
        }
    }

    /// systemd's `module_load_and_warn` for one lookup result.
    fn load_found(&mut self, found: &Found<'a>, key: &[u8], kernel_log: &mut KernelLog) {
        match found.target {
            Target::Module(m) if m.builtin => {
                if self.builtins.insert(m.id) {
                    self.summary.builtin += 1;
                }
                return;
            }
            Target::Module(m) if self.tried.contains(m.id) => return,
            _ if self.resolver.is_blacklisted(&found.target) => {
                if let Target::Module(m) = found.target {
                    self.tried.insert(m.id);
                }
                self.summary.skipped += 1;
                return;
            }
            _ => {}
        }
        let mut steps = [None::<Step<'a>>; 64];
        let mut count = 0;
        let planned = self.resolver.probe_list(found, &mut |s| {
            if let Some(slot) = steps.get_mut(count) {
                *slot = Some(s);
            }
            count += 1;
        });
        if planned.is_err() || count > steps.len() {
            error!("cannot plan loading {}: softdeps too deep or too many modules ({count})", Bytes(key));
        }
        for step in steps.iter().flatten() {
            let ok = self.load_step(step, found, key);
            kernel_log.drain();
            if !ok && step.required {
                break;
            }
        }
    }

    /// Loads one module of a probe list unless it is in the kernel; false on a failure.
    fn load_step(&mut self, step: &Step<'a>, top: &Found<'a>, key: &[u8]) -> bool {
        let mut name_buf = [0u8; 256];
        let name = step.target.name(&mut name_buf);
        let module = match step.target {
            Target::Missing(_) => {
                if step.required {
                    error!("cannot load {}: no such module in the index", Bytes(name));
                    self.summary.failed += 1;
                }
                return false;
            }
            Target::Module(m) => m,
        };
        if module.builtin || !self.tried.insert(module.id) || in_kernel(name) {
            return true;
        }
        let mut path_buf = [0u8; 512];
        let mut full_buf = [0u8; 640];
        let Some(path) = module.path(&mut path_buf).and_then(|rel| self.dir.join(rel, &mut full_buf)) else {
            error!("cannot load {}: path too long", Bytes(name));
            self.summary.failed += 1;
            return false;
        };
        let mut params = Params::new();
        let is_top = matches!(top.target, Target::Module(t) if t.id == module.id);
        let via = if is_top { top } else { &Found { target: step.target, via: step.via } };
        self.resolver.options(via, key, |piece| params.push(piece));
        let Some(params) = params.as_cstr() else {
            error!("cannot load {}: its options are longer than {} bytes", Bytes(name), PARAMS_MAX);
            self.summary.failed += 1;
            return false;
        };
        let started = Instant::now();
        match load::load(path, module.compression, params) {
            Ok(()) => {
                self.summary.loaded += 1;
                if !self.quiet {
                    say!("loaded {} ({}) in {} ms", Bytes(name), Bytes(key), started.elapsed_ms());
                }
                true
            }
            Err(Failure::Kernel(e)) if e.is_already_loaded() => true,
            Err(f) if f.is_quiet() => {
                self.summary.skipped += 1;
                false
            }
            Err(f) => {
                if step.required {
                    self.summary.failed += 1;
                    error!("cannot load {} ({}): {f}", Bytes(name), Bytes(path.to_bytes()));
                }
                false
            }
        }
    }
}

/// kmod's `module_is_inkernel` for a module the index does not call builtin:
/// /sys/module/NAME/initstate says live or coming, or /sys/module/NAME exists without it.
fn in_kernel(name: &[u8]) -> bool {
    let mut path = [0u8; 300];
    let prefix = b"/sys/module/";
    let suffix = b"/initstate\0";
    let total = prefix.len() + name.len() + suffix.len();
    if total > path.len() {
        return false;
    }
    path[..prefix.len()].copy_from_slice(prefix);
    path[prefix.len()..prefix.len() + name.len()].copy_from_slice(name);
    path[prefix.len() + name.len()..total].copy_from_slice(suffix);
    let Ok(initstate) = CStr::from_bytes_with_nul(&path[..total]) else { return false };
    let mut buf = [0u8; 16];
    match read_into(initstate, &mut buf) {
        Ok(state) => matches!(state.trim_ascii_end(), b"live" | b"coming"),
        Err(_) => {
            // The directory alone: coming, or a builtin with parameters.
            path[prefix.len() + name.len()] = 0;
            let dir = CStr::from_bytes_with_nul(&path[..=prefix.len() + name.len()]);
            dir.is_ok_and(|d| rustix::fs::stat(d).is_ok())
        }
    }
}

/// The parameter string of a module, NUL-terminated.
const PARAMS_MAX: usize = 4096;

struct Params {
    buf: [u8; PARAMS_MAX],
    len: usize,
    overflow: bool,
}

impl Params {
    fn new() -> Params {
        Params { buf: [0; PARAMS_MAX], len: 0, overflow: false }
    }

    fn push(&mut self, piece: &[u8]) {
        match self.buf.get_mut(self.len..self.len + piece.len()) {
            Some(dst) if self.len + piece.len() < PARAMS_MAX && !piece.contains(&0) => {
                dst.copy_from_slice(piece);
                self.len += piece.len();
            }
            _ => self.overflow = true,
        }
    }

    fn as_cstr(&mut self) -> Option<&CStr> {
        if self.overflow {
            return None;
        }
        self.buf[self.len] = 0;
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).ok()
    }
}
