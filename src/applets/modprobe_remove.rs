//! `modprobe -r NAME...`: kmod's `rmmod_do_module` over modinit's index. For each module a
//! name resolves to: its `softdep post:` modules (last first), the module itself unless it
//! is in use, then each of its dependencies that nothing uses any more, then its `pre:`
//! modules (last first). Failures of softdeps and dependencies are not errors.
//!
//! kmod's LOG() lines are FATAL and end modprobe at once, or WARNING with `-a`; `-q` hides
//! them. `-v` prints `rmmod NAME` for each removal, `-n` removes nothing, `-D` (kmod's
//! `ignore_loaded`) does both without looking at what is loaded or builtin, `-i` leaves the
//! softdeps alone, `-f` removes with O_TRUNC, `--remove-holders` first removes the modules
//! /sys/module/NAME/holders names.

use super::rmmod::remove;
use super::{err, out};
use crate::insert::sysfs_module::{holder_names, holders, initstate, refcnt};
use core::fmt;
use modinit::fnmatch::fnmatch;
use modinit::kernel::errno::Strerror;
use modinit::line::Bytes;
use modinit::resolve::{Key, MAX_SOFTDEP_DEPTH, Resolver, Target};
use modinit::toolbox::modprobe_args::{Mode, Options};

/// Modules one softdep list resolves to, at most.
const MAX_SOFTDEP_MODULES: usize = 32;

/// Removes each of `names`; the exit code.
pub fn run(resolver: &Resolver<'_>, opts: &Options<'_>, names: &[&[u8]]) -> i32 {
    let remover = Remover { resolver, opts };
    let mut status = 0;
    for &name in names {
        if remover.remove_key(name).is_err() {
            status = 1;
        }
    }
    status
}

/// kmod's RMMOD_FLAG_REMOVE_HOLDERS and RMMOD_FLAG_IGNORE_BUILTIN.
#[derive(Clone, Copy)]
struct Flags {
    remove_holders: bool,
    ignore_builtin: bool,
}

struct Remover<'r, 'a> {
    resolver: &'r Resolver<'a>,
    opts: &'r Options<'r>,
}

impl<'a> Remover<'_, 'a> {
    /// kmod modprobe's LOG(): FATAL ends the program (exit code 1), WARNING with `-a`.
    fn log(&self, message: fmt::Arguments<'_>) {
        let Some(level) = self.opts.log_level() else { return };
        err!("modprobe: {level}: {message}");
        if !self.opts.all {
            crate::sys::syscall::exit_group(1);
        }
    }

    /// kmod's `rmmod()`: every module `name` resolves to, stopping at the first failure.
    fn remove_key(&self, name: &[u8]) -> Result<(), ()> {
        let mut found = [None; 64];
        let n = Key::new(name).ok().and_then(|key| self.resolver.lookup(&key, &mut found).ok()).map_or(0, |(_, n)| n);
        if n == 0 {
            self.log(format_args!("Module {} not found.", Bytes(name)));
            return Err(());
        }
        let flags = Flags { remove_holders: self.opts.remove_holders, ignore_builtin: false };
        found[..n].iter().flatten().try_for_each(|f| self.remove_module(f.target, flags, 0))
    }

    /// kmod's `ignore_loaded`, set by `-D`: no look at what is loaded, in use or builtin.
    fn ignore_loaded(&self) -> bool {
        self.opts.mode == Mode::ShowDepends
    }

    /// kmod's `rmmod_do_module`.
    fn remove_module(&self, target: Target<'_>, flags: Flags, depth: usize) -> Result<(), ()> {
        let mut name = [0u8; 256];
        let name = target.name(&mut name);
        let shown = Bytes(name);
        if matches!(target, Target::Module(m) if m.builtin) && !self.ignore_loaded() {
            if flags.ignore_builtin {
                return Ok(());
            }
            self.log(format_args!("Module {shown} is builtin."));
            return Err(());
        }
        if initstate(name).is_err() && !self.ignore_loaded() {
            if self.opts.first_time {
                self.log(format_args!("Module {shown} is not in kernel."));
                return Err(());
            }
            return Ok(());
        }
        let softdep = match self.opts.ignore_commands {
            true => None,
            false => self.resolver.index.softdeps().find(|s| fnmatch(s.pattern, name)),
        };
        if let Some(s) = softdep {
            self.remove_softdeps(s.post_names(), depth);
        }
        if flags.remove_holders {
            self.remove_holders(name)?;
        }
        if refcnt(name).is_ok_and(|n| n > 0) && !self.ignore_loaded() {
            self.log(format_args!("Module {shown} is in use."));
            return Err(());
        }
        self.delete(name)?;
        if let Target::Module(m) = target {
            for dep in m.deps().filter_map(|id| self.resolver.index.module(id)) {
                let mut dep_name = [0u8; 256];
                let dep_name = Target::Module(dep).name(&mut dep_name);
                if refcnt(dep_name) == Ok(0) {
                    let _ = self.delete(dep_name);
                }
            }
        }
        if let Some(s) = softdep {
            self.remove_softdeps(s.pre_names(), depth);
        }
        Ok(())
    }

    /// `--remove-holders`: kmod's `rmmod_do_modlist` over `kmod_module_get_holders`, the modules
    /// in /sys/module/NAME/holders, last first, builtins skipped, stopping at the first failure.
    fn remove_holders(&self, name: &[u8]) -> Result<(), ()> {
        let mut list = [0u8; 2048];
        let list = match holders(name, &mut list) {
            Ok(list) => list,
            Err(e) => {
                if !self.opts.quiet {
                    let why = Strerror(e.raw_os_error());
                    err!("modprobe: ERROR: could not open '/sys/module/{}/holders': {why}", Bytes(name));
                }
                return Ok(());
            }
        };
        let holder_flags = Flags { remove_holders: false, ignore_builtin: true };
        holder_names(list).rev().try_for_each(|holder| {
            let target = match self.resolver.index.find(holder, false) {
                Some(m) => Target::Module(m),
                None => Target::Missing(holder),
            };
            self.remove_module(target, holder_flags, 0)
        })
    }

    /// kmod's `rmmod_do_modlist`: the modules `names` resolve to, last first, builtins
    /// skipped, failures ignored.
    fn remove_softdeps(&self, names: impl Iterator<Item = &'a [u8]>, depth: usize) {
        if depth >= MAX_SOFTDEP_DEPTH {
            return;
        }
        let mut list = [None; MAX_SOFTDEP_MODULES];
        let mut len = 0;
        for name in names {
            let Ok(key) = Key::new(name) else { continue };
            let mut found = [None; 16];
            let Ok((_, n)) = self.resolver.lookup(&key, &mut found) else { continue };
            for f in found[..n].iter().flatten() {
                if let Some(slot) = list.get_mut(len) {
                    *slot = Some(f.target);
                    len += 1;
                }
            }
        }
        for target in list[..len].iter().rev().flatten() {
            let _ = self.remove_module(*target, Flags { remove_holders: false, ignore_builtin: true }, depth + 1);
        }
    }

    /// kmod's `rmmod_do_remove_module`.
    fn delete(&self, name: &[u8]) -> Result<(), ()> {
        if self.opts.verbose || self.ignore_loaded() {
            out!("rmmod {}", Bytes(name));
        }
        if self.opts.dry_run || self.ignore_loaded() {
            return Ok(());
        }
        remove(name, self.opts.force).map_err(|e| {
            if !self.opts.quiet {
                err!("modprobe: ERROR: could not remove '{}': {}", Bytes(name), Strerror(e.raw_os_error()));
            }
        })
    }
}
