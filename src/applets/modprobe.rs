//! `modprobe`: kmod's modprobe over modinit's index, with kmod's messages and exit codes.
//! The kernel runs it as `modprobe -q -- NAME` for request_module() (fs-*, crypto-*, ...);
//! what it inserts then goes into the boot record, when the boot keeps one.
//!
//! Supported: inserting names, aliases and `symbol:NAME` keys (looked up in the modules dir's
//! modules.symbols, as kmod looks them up in modules.symbols.bin) with their dependencies and
//! softdeps (`-a`, `-b`, `-n`, `-v`, `-q`, `--first-time`, `-f`, `--force-modversion`,
//! `--force-vermagic`, `-i`, module parameters after the name), `-D`/`--show-depends`,
//! `-R`/`--resolve-alias`, `-c`/`--showconfig` (the configuration baked into the index),
//! `--show-exports FILE` (modprobe_exports.rs), `-S VERSION`, `-d DIR`, `-r` with
//! `--remove-holders` (modprobe_remove.rs), `-C` (live_index.rs). Not yet: `-w`,
//! `--show-modversions`, `-s`, `-V`.
//!
//! Install and remove commands are never run: reading modprobe.d warns about each one (not
//! with `-i`, which ignores them as kmod's does), and the module is loaded or removed as a
//! module.

use super::live_index::{self, Config};
use super::{Convention, err, modules_symbols, out, refused};
use crate::insert::load::Failure;
use crate::insert::probe::{Blacklist, Event, Probed, Prober};
use crate::io::file::read_into;
use crate::io::modules_dir::ModulesDir;
use modinit::kernel::errno::Strerror;
use modinit::line::Bytes;
use modinit::resolve::symbols::ModulesSymbols;
use modinit::resolve::{Key, Resolver};
use modinit::toolbox::modprobe_args::{Mode, Options, parse};

const MAX_OPERANDS: usize = 256;
const USAGE: &str = "Usage: modprobe [options] [-i] [-b] modulename [parameters...]\n\
       modprobe [options] -a [-i] [-b] modulename [modulename...]\n\
       modprobe [options] -r [-i] modulename [modulename...]\n\
       modprobe [options] -D|-R modulename\n\
       modprobe [options] -c\n\
       modprobe [options] --show-exports filename\n\
Options: -a -b -r -q -n -v -i -f --first-time --force-modversion --force-vermagic -D --show-depends\n\
         -R --resolve-alias -c --showconfig --show-exports --dry-run --show --remove-holders\n\
         -C PATH -S VERSION -d DIR -h\n\
modulename may be symbol:NAME (the module exporting NAME, from modules.symbols).\n\
install/remove commands are never run: each one is warned about, unless -i ignores them.";

pub fn main(argv: &[&[u8]]) -> i32 {
    let mut operands: [&[u8]; MAX_OPERANDS] = [&[]; MAX_OPERANDS];
    let mut count = 0;
    let parsed = parse(argv.get(1..).unwrap_or_default(), |o| {
        if let Some(slot) = operands.get_mut(count) {
            *slot = o;
        }
        count += 1;
    });
    let opts = match parsed {
        Ok(o) if count <= MAX_OPERANDS => o,
        Ok(_) => {
            err!("modprobe: ERROR: more than {MAX_OPERANDS} arguments");
            return 1;
        }
        Err(refusal) => return refused(argv, Convention::Kmod, &USAGE, refusal),
    };
    let operands = &operands[..count];
    if opts.show_exports && !opts.show_config {
        // kmod reads the file alone: no index is needed.
        return super::modprobe_exports::run(operands[0], |message| log(&opts, message));
    }
    let uname = rustix::system::uname();
    let release = opts.version.unwrap_or(uname.release().to_bytes());
    let dir = match ModulesDir::new(opts.dirname.unwrap_or_default(), release) {
        Ok(dir) => dir,
        Err(e) => {
            err!("modprobe: FATAL: module directory: {e}");
            return 1;
        }
    };
    let config = match opts.config.given() {
        Some(paths) => Config::Given(paths),
        None => Config::Default,
    };
    let index = match live_index::open(&dir, opts.dirname.unwrap_or_default(), config, "modprobe", opts.ignore_commands)
    {
        Ok(index) => index,
        Err(e) => {
            err!("modprobe: FATAL: {e}");
            return 1;
        }
    };
    // kmod applies the kernel command line's options and blacklist too.
    let mut cmdline = [0u8; 4096];
    let cmdline = read_into(c"/proc/cmdline", &mut cmdline).unwrap_or_default();
    // kmod looks `symbol:` keys up in modules.symbols.bin; without the file none matches.
    let symbols_file = modules_symbols::map(&dir);
    let symbols = modules_symbols::symbols(&symbols_file);
    if opts.show_config {
        return show_config(&index, cmdline, symbols);
    }
    let resolver = Resolver { index, cmdline, symbols };
    if opts.remove {
        // kmod removes whatever the mode: -R looks nothing up, -D removes nothing.
        return super::modprobe_remove::run(&resolver, &opts, operands);
    }
    let mut prober = Prober::new(&resolver, &dir);
    let recording = requested_by_kernel() && crate::io::record::join();
    let ctx = Context { opts: &opts, dir: &dir, recording };
    prober.dry_run = ctx.dry_run();
    prober.force = opts.force_insert;
    prober.ignore_commands = opts.ignore_commands;

    let (names, params) = if opts.all { (operands, &[][..]) } else { operands.split_at(1) };
    let mut extra = ExtraOptions::new();
    for p in params {
        extra.push(p);
    }
    let mut status = 0;
    for &name in names {
        if ctx.one(&mut prober, name, extra.as_bytes()).is_err() {
            status = 1;
        }
    }
    status
}

/// kmod modprobe's LOG(): `FATAL`, or `WARNING` with `-a`; nothing with `-q`.
fn log(opts: &Options<'_>, message: core::fmt::Arguments<'_>) {
    if let Some(level) = opts.log_level() {
        err!("modprobe: {level}: {message}");
    }
}

struct Context<'o> {
    opts: &'o Options<'o>,
    dir: &'o ModulesDir,
    /// The kernel asked, and what is inserted goes into the boot record.
    recording: bool,
}

/// Whether the kernel runs this process (request_module()'s usermode helper, a child of a
/// kernel thread).
fn requested_by_kernel() -> bool {
    use core::fmt::Write;
    let Some(parent) = rustix::process::getppid() else { return false };
    let mut path = heapless::String::<32>::new();
    let mut stat = [0u8; 1024];
    write!(path, "/proc/{}/stat\0", parent.as_raw_nonzero()).is_ok()
        && core::ffi::CStr::from_bytes_with_nul(path.as_bytes())
            .ok()
            .and_then(|path| read_into(path, &mut stat).ok())
            .and_then(modinit::kernel::proc_stat::is_kernel_thread)
            .unwrap_or(false)
}

impl Context<'_> {
    /// kmod's `insmod()` for one name: Err when it was not found or a module failed.
    fn one(&self, prober: &mut Prober<'_, '_>, name: &[u8], extra: &[u8]) -> Result<(), ()> {
        let not_found = || {
            log(
                self.opts,
                format_args!("Module {} not found in directory {}", Bytes(name), Bytes(self.dir.as_bytes())),
            );
            Err(())
        };
        let Ok(key) = Key::new(name) else { return not_found() };
        let mut found = [None; 64];
        let n = match prober.resolver.lookup(&key, &mut found) {
            Ok((_, 0)) => return not_found(),
            Ok((_, n)) => n,
            Err(e) => {
                err!("modprobe: ERROR: cannot resolve {}: {e:?}", Bytes(name));
                return Err(());
            }
        };
        let blacklist = if self.opts.use_blacklist { Blacklist::All } else { Blacklist::AliasOnly };
        let mut result = Ok(());
        for f in found[..n].iter().flatten() {
            let mut top = [0u8; 256];
            let top = f.target.name(&mut top);
            if self.opts.mode == Mode::ResolveAlias {
                out!("{}", Bytes(top));
                continue;
            }
            let mut failed = None;
            let probed = prober.probe(f, key.as_bytes(), extra, blacklist, &mut |e| {
                if self.recording {
                    crate::insert::record::requested(&e, name);
                }
                self.event(e, &mut failed)
            });
            match probed {
                Probed::InKernel if self.opts.first_time => {
                    err!("modprobe: ERROR: could not insert '{}': Module already in kernel", Bytes(top));
                    result = Err(());
                }
                Probed::Unplannable => {
                    err!("modprobe: ERROR: could not insert '{}': softdeps nest too deep", Bytes(top));
                    result = Err(());
                }
                _ => {}
            }
            if let Some(failure) = failed {
                // kmod names the module asked for, whichever of its list failed.
                err!("modprobe: ERROR: could not insert '{}': {}", Bytes(top), Reason(failure));
                result = Err(());
            }
        }
        result
    }

    fn dry_run(&self) -> bool {
        self.opts.dry_run || self.opts.mode == Mode::ShowDepends
    }

    fn event(&self, e: Event<'_>, failed: &mut Option<Failure>) {
        match e {
            Event::Planned { name, path: None, .. } => out!("builtin {}", Bytes(name)),
            Event::Planned { path: Some(path), options, .. } => {
                if self.opts.mode == Mode::ShowDepends || self.opts.verbose {
                    out!("insmod {} {}", Bytes(path.to_bytes()), Bytes(options));
                }
            }
            Event::Loaded { .. } => {}
            Event::Failed { failure, required: true, .. } => *failed = Some(failure),
            // A dry run inserts nothing, so nothing fails (kmod prints nothing for the module).
            Event::Missing { required: true, .. } if !self.dry_run() => {
                *failed = Some(Failure::File(rustix::io::Errno::NOENT))
            }
            Event::Failed { .. } | Event::Missing { .. } => {}
        }
    }
}

/// kmod modprobe's wording of a failure: its two special cases, else strerror().
struct Reason(Failure);

impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let errno = match self.0 {
            Failure::Kernel(e) => e.0,
            Failure::File(e) => e.raw_os_error(),
            other => return write!(f, "{other}"),
        };
        match errno {
            17 => f.write_str("Module already in kernel"),
            2 => f.write_str("Unknown symbol in module, or unknown parameter (see dmesg)"),
            e => write!(f, "{}", Strerror(e)),
        }
    }
}

/// modprobe's `options_from_array`: the parameters after the name, space-separated, with a
/// value that holds a space quoted (`p="a b"`) unless it is quoted already.
struct ExtraOptions {
    buf: [u8; 4096],
    len: usize,
}

impl ExtraOptions {
    fn new() -> Self {
        ExtraOptions { buf: [0; 4096], len: 0 }
    }

    fn push(&mut self, param: &[u8]) {
        let eq = param.iter().position(|&b| b == b'=');
        let needs_quotes = eq.is_some_and(|i| {
            let value = &param[i + 1..];
            !value.starts_with(b"\"") && !value.starts_with(b"'") && value.contains(&b' ')
        });
        let first = self.len == 0;
        let mut put = |s: &[u8]| {
            if let Some(dst) = self.buf.get_mut(self.len..self.len + s.len()) {
                dst.copy_from_slice(s);
                self.len += s.len();
            }
        };
        if !first {
            put(b" ");
        }
        match eq {
            Some(i) if needs_quotes => {
                put(&param[..=i]);
                put(b"\"");
                put(&param[i + 1..]);
                put(b"\"");
            }
            _ => put(param),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `modprobe -c`: the configuration the index holds, then modules.alias and modules.symbols,
/// as kmod prints them.
#[cfg(feature = "depmod")]
fn show_config(index: &modinit::index::Index<'_>, cmdline: &[u8], symbols: ModulesSymbols<'_>) -> i32 {
    let mut dump = alloc::vec::Vec::new();
    modinit::toolbox::show_config::show_config(index, cmdline, &mut dump);
    modinit::toolbox::show_config::dump_symbols(symbols, &mut dump);
    // SAFETY: fd 1 is the applet's stdout, or closed (then EBADF).
    let stdout = unsafe { rustix::fd::BorrowedFd::borrow_raw(1) };
    super::write_all(stdout, &dump).map_or(1, |()| 0)
}

#[cfg(not(feature = "depmod"))]
fn show_config(_: &modinit::index::Index<'_>, _: &[u8], _: ModulesSymbols<'_>) -> i32 {
    err!("modprobe: ERROR: -c is not in this build of modinit (built without the depmod feature)");
    1
}
