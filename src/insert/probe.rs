//! Inserting what a lookup found, as kmod's `kmod_module_probe_insert_module` does: its probe
//! list in order (dependencies and softdeps first), with each module's options, skipping
//! what is in the kernel, stopping at the first failure of a module that is required (the
//! top one or a dependency; softdeps may fail). The `modprobe` applet inserts one list at a
//! time ([`Prober::probe`]); the boot's autoload runs several side by side through
//! [`Prober::next`] and [`Prober::finish`] (see `modinit::loading::probe_chain`). Both report what
//! happened in their own words.

use super::load::{self, Failure};
use super::sysfs_module::InitState;
use crate::io::clock::Instant;
use crate::io::modules_dir::ModulesDir;
use crate::io::path::PATH_MAX;
use core::ffi::CStr;
use modinit::index::Module;
use modinit::kernel::init_flags::Force;
use modinit::loading::boot_classes::{self, Class};
use modinit::loading::probe_chain::{Chain, Inserts, Next};
use modinit::resolve::{Found, Resolver, Step, Target};

/// Which lookup results the blacklist stops (kmod's probe flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blacklist {
    /// Only modules found through an alias (modprobe without `-b`).
    AliasOnly,
    /// All of them (`modprobe -b`, udev, systemd-modules-load).
    All,
}

/// What happened to one module of a probe list.
#[derive(Clone, Copy)]
pub enum Event<'e> {
    Loaded {
        name: &'e [u8],
        ms: u64,
    },
    /// The kernel or the file refused it; `required` failures end the probe list.
    Failed {
        name: &'e [u8],
        path: Option<&'e CStr>,
        failure: Failure,
        required: bool,
    },
    /// A name the index does not have (a config alias or softdep naming no module).
    Missing {
        name: &'e [u8],
        required: bool,
    },
    /// What is inserted next, with its options; on a dry run, what would be (`path` None
    /// for a builtin).
    Planned {
        name: &'e [u8],
        path: Option<&'e CStr>,
        options: &'e [u8],
    },
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
    /// What the kernel is told to ignore in each module (`modprobe --force`; never at boot).
    pub force: Force,
    /// Leave out the softdeps of the module looked up, as kmod does when it ignores install
    /// commands (`modprobe -i`).
    pub ignore_commands: bool,
    /// Insert the modules a boot does not need ([`boot_classes`]) with the kernel's generic
    /// `async_probe` parameter (`modinit.async_probe`; never in the applets).
    pub async_probe: bool,
}

/// The longest probe list planned (Debian's deepest has about 20 modules); the boot keeps
/// up to `JOBS_MAX` lists at once on its stack.
pub const MAX_STEPS: usize = 64;

/// A probe list being inserted.
pub type ProbeList<'a> = Chain<Step<'a>, MAX_STEPS>;

/// What [`Prober::next`] made of a probe list.
pub enum Ready {
    /// The [`Insert`] it was given holds the next module: insert it, then call [`Prober::finish`].
    Insert,
    /// A module of the list is being inserted elsewhere.
    Wait,
    Done,
}

impl<'r, 'a> Prober<'r, 'a> {
    pub fn new(resolver: &'r Resolver<'a>, dir: &'r ModulesDir) -> Self {
        Prober { resolver, dir, dry_run: false, force: Force::NONE, ignore_commands: false, async_probe: false }
    }

    /// Inserts `found`, the result of looking up `key`, as kmod's `modprobe` does: each module
    /// of its list unless it is in the kernel, one after the other. `extra` are options for it
    /// alone (modprobe's command-line parameters), after those of the configuration.
    pub fn probe(
        &self,
        found: &Found<'a>,
        key: &[u8],
        extra: &[u8],
        blacklist: Blacklist,
        event: &mut dyn FnMut(Event<'_>),
    ) -> Probed {
        // kmod remembers nothing from one probe to the next but what the kernel has.
        let mut inserts = Inserts::new();
        let mut list = match self.plan(found, blacklist, &mut inserts) {
            Ok(list) => list,
            Err(probed) => return probed,
        };
        let mut insert = Insert::new();
        if self.dry_run {
            // kmod's --show-depends prints every entry of the list, repeats included.
            for step in list.steps() {
                self.announce(step, found, key, extra, &mut insert, event);
            }
            return Probed::Ran;
        }
        while let Ready::Insert = self.next(&mut list, &mut inserts, found, key, extra, &mut insert, event) {
            let started = Instant::now();
            let result = insert.run(self.dir);
            self.finish(&mut list, &mut inserts, &insert, result, started.elapsed_ms(), event);
        }
        Probed::Ran
    }

    /// The probe list for `found`, unless it need not or cannot be inserted: builtin, in the
    /// kernel (or tried before, by `inserts`), blacklisted, or too long a list to plan.
    pub fn plan(
        &self,
        found: &Found<'a>,
        blacklist: Blacklist,
        inserts: &mut Inserts,
    ) -> Result<ProbeList<'a>, Probed> {
        if !self.dry_run {
            match found.target {
                Target::Module(m) if m.builtin => return Err(Probed::Builtin),
                Target::Module(m) if inserts.tried(m.id) || in_kernel(m.stem) => return Err(Probed::InKernel),
                _ => {}
            }
        }
        let via_alias = !matches!(found.via, modinit::resolve::Via::Name);
        if (via_alias || blacklist == Blacklist::All) && self.resolver.is_blacklisted(&found.target) {
            if let Target::Module(m) = found.target {
                inserts.mark_tried(m.id);
            }
            return Err(Probed::Blacklisted);
        }
        let mut list = ProbeList::new();
        let mut fits = true;
        let mut push = |s| fits &= list.push(s).is_ok();
        let planned = if self.ignore_commands {
            self.resolver.probe_list_ignoring_commands(found, &mut push)
        } else {
            self.resolver.probe_list(found, &mut push)
        };
        if planned.is_err() || !fits {
            return Err(Probed::Unplannable);
        }
        Ok(list)
    }

    /// Readies the next module of `list` (planned for `top`, the result of looking up `key`)
    /// in `insert`, with its path and options, reporting on the way the names the index lacks.
    #[allow(clippy::too_many_arguments)]
    pub fn next(
        &self,
        list: &mut ProbeList<'a>,
        inserts: &mut Inserts,
        top: &Found<'a>,
        key: &[u8],
        extra: &[u8],
        insert: &mut Insert<'a>,
        event: &mut dyn FnMut(Event<'_>),
    ) -> Ready {
        loop {
            let step = match list.next(inserts, present) {
                Next::Insert(step) | Next::Missing(step) => step,
                Next::Wait => return Ready::Wait,
                Next::Done => return Ready::Done,
            };
            if !self.announce(&step, top, key, extra, insert, event) {
                continue;
            }
            let mut path = [0u8; PATH_MAX];
            let path = insert.path(self.dir, &mut path);
            if path.is_none() || insert.params.overflow {
                event(Event::Failed { name: insert.name(), path, failure: Failure::TooLong, required: step.required });
                list.inserted(inserts, false);
            } else {
                return Ready::Insert;
            }
        }
    }

    /// Reports `step` as kmod's print_action does (`modprobe -v`, or instead of inserting on a
    /// dry run), or as missing from the index; false for a missing one. Readies `insert` with
    /// the module.
    fn announce(
        &self,
        step: &Step<'a>,
        top: &Found<'a>,
        key: &[u8],
        extra: &[u8],
        insert: &mut Insert<'a>,
        event: &mut dyn FnMut(Event<'_>),
    ) -> bool {
        if let Target::Missing(_) = step.target {
            let mut name = [0u8; 256];
            event(Event::Missing { name: step.target.name(&mut name), required: step.required });
            return false;
        }
        insert.prepare(self, step, top, key, extra);
        let mut path = [0u8; PATH_MAX];
        let path = insert.path(self.dir, &mut path);
        event(Event::Planned { name: insert.name(), path, options: insert.params.as_bytes() });
        true
    }

    /// Records how `insert`, readied by [`Prober::next`] for `list`, went: in `ms`, with
    /// `result`. A module in the kernel already counts as inserted.
    pub fn finish(
        &self,
        list: &mut ProbeList<'a>,
        inserts: &mut Inserts,
        insert: &Insert<'a>,
        result: Result<(), Failure>,
        ms: u64,
        event: &mut dyn FnMut(Event<'_>),
    ) {
        let ok = match result {
            Ok(()) => {
                event(Event::Loaded { name: insert.name(), ms });
                true
            }
            Err(Failure::Kernel(e)) if e.is_already_loaded() => true,
            Err(failure) => {
                let mut path = [0u8; PATH_MAX];
                let path = insert.path(self.dir, &mut path);
                event(Event::Failed { name: insert.name(), path, failure, required: insert.required });
                false
            }
        };
        list.inserted(inserts, ok);
    }
}

/// One module of a probe list made ready for the kernel: its name, module and options. Its
/// path is built when needed, in the caller's buffer: the boot keeps one `Insert` per worker.
pub struct Insert<'a> {
    name: [u8; 256],
    name_len: usize,
    /// None for a name the index lacks.
    module: Option<Module<'a>>,
    params: Params,
    required: bool,
    force: Force,
}

impl<'a> Insert<'a> {
    pub fn new() -> Insert<'a> {
        Insert { name: [0; 256], name_len: 0, module: None, params: Params::new(), required: false, force: Force::NONE }
    }

    /// Fills in `step`'s module, planned for `top` (the result of looking up `key`, which
    /// alone gets the `extra` options).
    fn prepare(&mut self, prober: &Prober<'_, 'a>, step: &Step<'a>, top: &Found<'a>, key: &[u8], extra: &[u8]) {
        self.name_len = step.target.name(&mut self.name).len();
        self.required = step.required;
        self.force = prober.force;
        self.params = Params::new();
        self.module = None;
        let Target::Module(module) = step.target else { return };
        self.module = Some(module);
        let is_top = matches!(top.target, Target::Module(t) if t.id == module.id);
        let via = if is_top { *top } else { Found { target: step.target, via: step.via } };
        prober.resolver.options(&via, key, |piece| self.params.push(piece));
        // kmod's module_options_concat: configured options, a space, the extra ones.
        if !self.params.as_bytes().is_empty() {
            self.params.push(b" ");
        }
        if is_top {
            self.params.push(extra);
        }
        if prober.async_probe && !needed_by_a_boot(&module) {
            if !self.params.as_bytes().is_empty() && !self.params.as_bytes().ends_with(b" ") {
                self.params.push(b" ");
            }
            self.params.push(b"async_probe");
        }
    }

    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }

    /// The module file in `dir`, built in `buf`; None for a builtin, or a path longer than
    /// [`PATH_MAX`].
    pub fn path<'b>(&self, dir: &ModulesDir, buf: &'b mut [u8; PATH_MAX]) -> Option<&'b CStr> {
        dir.module_file(self.module.as_ref()?, buf)
    }

    /// Hands the module, a file in `dir`, to the kernel (see [`load::load`]).
    pub fn run(&mut self, dir: &ModulesDir) -> Result<(), Failure> {
        let mut buf = [0u8; PATH_MAX];
        let (Some(module), Some(path)) = (self.module, self.path(dir, &mut buf)) else { return Err(Failure::TooLong) };
        let params = self.params.as_cstr().ok_or(Failure::TooLong)?;
        load::load(path, module.compression, params, self.force)
    }
}

/// Whether a boot needs `module` before the real init ([`boot_classes`]): its insert is left
/// as kmod makes it, so the kernel's barrier at its end (`do_init_module` waits for all async
/// work, storage bus scans included) keeps the driver phase going until its devices are there.
fn needed_by_a_boot(module: &Module<'_>) -> bool {
    let mut path = [0u8; PATH_MAX];
    module.path(&mut path).is_none_or(|p| boot_classes::class_of(p) == Some(Class::Boot))
}

/// Whether a module of a probe list is there without inserting it: builtin, or loaded.
fn present(step: &Step<'_>) -> bool {
    match step.target {
        Target::Module(m) => m.builtin || in_kernel(m.stem),
        Target::Missing(_) => false,
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
