//! Inserting what a lookup found, as kmod's `kmod_module_probe_insert_module` does: its probe
//! list in order (dependencies and softdeps first), with each module's options, skipping
//! what is in the kernel, stopping at the first failure of a module that is required (the
//! top one or a dependency; softdeps may fail). Each module is tried at most once per
//! [`Prober`]. The boot's autoload and the `modprobe` applet both insert through here and
//! report what happened in their own words.

use super::index_file::ModulesDir;
use super::load::{self, Failure};
use super::sysfs_module::InitState;
use super::clock::Instant;
use core::ffi::CStr;
use modinit::resolve::{Found, ModuleSet, Resolver, Step, Target};

/// Which lookup results the blacklist stops (kmod's probe flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blacklist {
    /// Only modules found through an alias (modprobe without `-b`).
    AliasOnly,
    /// All of them (`modprobe -b`, udev, systemd-modules-load).
    All,
}

/// What happened to one module of a probe list.
pub enum Event<'e> {
    Loaded { name: &'e [u8], ms: u64 },
    /// The kernel or the file refused it; `required` failures end the probe list.
    Failed { name: &'e [u8], path: Option<&'e CStr>, failure: Failure, required: bool },
    /// A name the index does not have (a config alias or softdep naming no module).
    Missing { name: &'e [u8], required: bool },
    /// What is inserted next, with its options; on a dry run, what would be (`path` None
    /// for a builtin).
    Planned { name: &'e [u8], path: Option<&'e CStr>, options: &'e [u8] },
}

/// What probing a lookup result came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probed {
    Builtin,
    /// Loaded before (by the kernel, an earlier probe, or tried and failed already).
    InKernel,
    Blacklisted,
    /// The probe list ran; its events tell how each module fared.
    Ran,
    /// Its softdeps nest too deep or the list is too long to plan.
    Unplannable,
}

pub struct Prober<'r, 'a> {
    pub resolver: &'r Resolver<'a>,
    pub dir: &'r ModulesDir,
    /// Print what would be inserted instead of inserting, and ignore what is in the kernel
    /// (`modprobe --show-depends`).
    pub dry_run: bool,
    tried: ModuleSet,
}

/// The longest probe list planned (Debian's deepest has about 20 modules).
const MAX_STEPS: usize = 128;

impl<'r, 'a> Prober<'r, 'a> {
    pub fn new(resolver: &'r Resolver<'a>, dir: &'r ModulesDir) -> Self {
        Prober { resolver, dir, dry_run: false, tried: ModuleSet::new() }
    }

    /// Inserts `found`, the result of looking up `key`; `extra` are options for it alone
    /// (modprobe's command-line parameters), after those of the configuration.
    pub fn probe(
        &mut self,
        found: &Found<'a>,
        key: &[u8],
        extra: &[u8],
        blacklist: Blacklist,
        event: &mut dyn FnMut(Event<'_>),
    ) -> Probed {
        if !self.dry_run {
            match found.target {
                Target::Module(m) if m.builtin => return Probed::Builtin,
                Target::Module(m) if self.tried.contains(m.id) || in_kernel(m.stem) => return Probed::InKernel,
                _ => {}
            }
        }
        let via_alias = !matches!(found.via, modinit::resolve::Via::Name);
        if (via_alias || blacklist == Blacklist::All) && self.resolver.is_blacklisted(&found.target) {
            if let Target::Module(m) = found.target {
                self.tried.insert(m.id);
            }
            return Probed::Blacklisted;
        }
        let mut steps = [None::<Step<'a>>; MAX_STEPS];
        let mut count = 0;
        let planned = self.resolver.probe_list(found, &mut |s| {
            if let Some(slot) = steps.get_mut(count) {
                *slot = Some(s);
            }
            count += 1;
        });
        if planned.is_err() || count > MAX_STEPS {
            return Probed::Unplannable;
        }
        for step in steps.iter().flatten() {
            if !self.insert(step, found, key, extra, event) && step.required {
                break;
            }
        }
        Probed::Ran
    }

    /// One module of a probe list; false when it failed.
    fn insert(&mut self, step: &Step<'a>, top: &Found<'a>, key: &[u8], extra: &[u8], event: &mut dyn FnMut(Event<'_>)) -> bool {
        let mut name_buf = [0u8; 256];
        let name = step.target.name(&mut name_buf);
        let Target::Module(module) = step.target else {
            event(Event::Missing { name, required: step.required });
            return false;
        };
        // Before building its path and options: most dependencies are loaded already.
        if !self.dry_run && (module.builtin || !self.tried.insert(module.id) || in_kernel(module.stem)) {
            return true;
        }
        let mut path_buf = [0u8; 512];
        let mut full_buf = [0u8; 640];
        let path = module.path(&mut path_buf).and_then(|rel| self.dir.join(rel, &mut full_buf));
        let mut params = Params::new();
        let is_top = matches!(top.target, Target::Module(t) if t.id == module.id);
        let via = if is_top { *top } else { Found { target: step.target, via: step.via } };
        self.resolver.options(&via, key, |piece| params.push(piece));
        // kmod's module_options_concat: configured options, a space, the extra ones.
        if !params.as_bytes().is_empty() {
            params.push(b" ");
        }
        if is_top {
            params.push(extra);
        }
        // kmod's print_action: before inserting (`modprobe -v`), or instead of it.
        event(Event::Planned { name, path, options: params.as_bytes() });
        if self.dry_run {
            return true;
        }
        let (Some(path), Some(options)) = (path, params.as_cstr()) else {
            event(Event::Failed { name, path, failure: Failure::TooLong, required: step.required });
            return false;
        };
        let started = Instant::now();
        match load::load(path, module.compression, options) {
            Ok(()) => {
                event(Event::Loaded { name, ms: started.elapsed_ms() });
                true
            }
            Err(Failure::Kernel(e)) if e.is_already_loaded() => true,
            Err(failure) => {
                event(Event::Failed { name, path: Some(path), failure, required: step.required });
                false
            }
        }
    }
}

/// kmod's `module_is_inkernel` for a module the index does not call builtin: live or
/// coming (which includes /sys/module/NAME existing without `initstate`).
pub fn in_kernel(stem: &[u8]) -> bool {
    matches!(super::sysfs_module::initstate(stem), Ok(InitState::Live | InitState::Coming))
}

/// A module's parameter string, NUL-terminated.
pub const PARAMS_MAX: usize = 4096;

/// A module's parameters, built from pieces; too long a string makes it unusable.
pub struct Params {
    buf: [u8; PARAMS_MAX],
    len: usize,
    overflow: bool,
}

impl Params {
    pub fn new() -> Params {
        Params { buf: [0; PARAMS_MAX], len: 0, overflow: false }
    }

    pub fn push(&mut self, piece: &[u8]) {
        match self.buf.get_mut(self.len..self.len + piece.len()) {
            Some(dst) if self.len + piece.len() < PARAMS_MAX && !piece.contains(&0) => {
                dst.copy_from_slice(piece);
                self.len += piece.len();
            }
            _ => self.overflow = true,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The parameters, NUL-terminated; None when they did not fit.
    pub fn as_cstr(&mut self) -> Option<&CStr> {
        if self.overflow {
            return None;
        }
        self.buf[self.len] = 0;
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).ok()
    }
}
