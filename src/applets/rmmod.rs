//! `rmmod [-f] [-v] NAME|FILE...`: removes modules with delete_module(O_NONBLOCK), after
//! kmod's checks (builtin, not loaded, holders, use count) and with its messages.

use super::live_index::{self, Config};
use super::{Convention, err, refused};
use crate::insert::sysfs_module::{holder_names, holders, initstate, refcnt};
use crate::io::modules_dir::ModulesDir;
use crate::io::path::{PATH_MAX, c_path};
use modinit::index::Index;
use modinit::kernel::errno::Strerror;
use modinit::line::Bytes;
use modinit::name::normalize_module_name;
use modinit::toolbox::rmmod_args::parse;
use rustix::io::Errno;

const MAX_NAMES: usize = 256;
const USAGE: &str = "Usage:\n\trmmod [options] modulename ...\nOptions:\n\
\t-f, --force       forces a module unload and may crash your\n\
\t                  machine. This requires Forced Module Removal\n\
\t                  option in your kernel. DANGEROUS\n\
\t-v, --verbose     enables more messages\n\
\t-h, --help        show this help";

pub fn main(argv: &[&[u8]]) -> i32 {
    let mut names: [&[u8]; MAX_NAMES] = [&[]; MAX_NAMES];
    let mut count = 0;
    let parsed = parse(argv.get(1..).unwrap_or_default(), |n| {
        if let Some(slot) = names.get_mut(count) {
            *slot = n;
        }
        count += 1;
    });
    let opts = match parsed {
        Ok(_) if count > MAX_NAMES => {
            err!("rmmod: ERROR: more than {MAX_NAMES} modules");
            return 1;
        }
        Ok(opts) => opts,
        Err(refusal) => return refused(argv, Convention::Kmod, &USAGE, refusal),
    };
    // Only to tell builtins by name: without an index, every name is tried as a loaded module.
    let index = live_index::open(&ModulesDir::of_running_kernel(), b"", Config::Default, "rmmod", false).ok();
    let mut failed = 0;
    for &arg in &names[..count] {
        // As kmod: an existing file names the module by its file name.
        let mut path = [0u8; PATH_MAX];
        let is_file = c_path(&mut path, &[arg]).is_some_and(|p| rustix::fs::stat(p).is_ok());
        let source = if is_file { arg.rsplit(|&b| b == b'/').next().unwrap_or(arg) } else { arg };
        let mut buf = [0u8; 256];
        let Some(len) = normalize_module_name(source, &mut buf) else {
            err!("rmmod: ERROR: could not use module {}: {}", Bytes(arg), Strerror(Errno::NAMETOOLONG.raw_os_error()));
            // kmod stops here too, though it then exits with 0.
            failed += 1;
            break;
        };
        let name = &buf[..len];
        if !opts.force && check_unused(name, index.as_ref()).is_err() {
            failed += 1;
            continue;
        }
        if let Err(e) = remove(name, opts.force) {
            let e = Strerror(e.raw_os_error());
            err!("rmmod: ERROR: could not remove '{}': {e}", Bytes(name));
            err!("rmmod: ERROR: could not remove module {}: {e}", Bytes(arg));
            failed += 1;
        }
    }
    i32::from(failed > 0)
}

/// delete_module(2) without waiting (`O_NONBLOCK`); `force` adds `O_TRUNC`.
pub fn remove(name: &[u8], force: bool) -> Result<(), Errno> {
    use linux_raw_sys::general::{O_NONBLOCK, O_TRUNC};
    let mut buf = [0u8; 257];
    let name = c_path(&mut buf, &[name]).ok_or(Errno::NAMETOOLONG)?;
    let flags = O_NONBLOCK | if force { O_TRUNC } else { 0 };
    rustix::system::delete_module(name, flags as i32)
}

/// kmod rmmod's `check_module_inuse`: Err (after saying why) when `name` must not be removed.
fn check_unused(name: &[u8], index: Option<&Index<'_>>) -> Result<(), ()> {
    let shown = Bytes(name);
    // kmod reads the running kernel's modules.builtin.
    if index.is_some_and(|index| index.find(name, true).is_some()) {
        err!("rmmod: ERROR: Module {shown} is builtin.");
        return Err(());
    }
    if initstate(name).is_err() {
        err!("rmmod: ERROR: Module {shown} is not currently loaded");
        return Err(());
    }
    let mut list = [0u8; 2048];
    match holders(name, &mut list) {
        Ok(list) if !list.is_empty() => {
            err!("rmmod: ERROR: Module {shown} is in use by:{}", Spaced(list));
            return Err(());
        }
        Ok(_) => {}
        Err(e) => err!("rmmod: ERROR: could not open '/sys/module/{shown}/holders': {}", Strerror(e.raw_os_error())),
    }
    match refcnt(name) {
        Ok(0) => Ok(()),
        Ok(_) => {
            err!("rmmod: ERROR: Module {shown} is in use");
            Err(())
        }
        Err(Errno::NOENT) => {
            err!("rmmod: ERROR: Module unloading is not supported");
            Err(())
        }
        Err(_) => Err(()),
    }
}

/// Holder names, each after a space.
struct Spaced<'a>(&'a [u8]);

impl core::fmt::Display for Spaced<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        holder_names(self.0).try_for_each(|h| write!(f, " {}", Bytes(h)))
    }
}
