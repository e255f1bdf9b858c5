//! `modinfo`: kmod 30's modinfo over modinit's index, with its output, messages and exit codes.
//!
//! An operand is a module file when it names a regular file ending in `.ko[.gz|.zst|.xz]`, else
//! a name or alias looked up as kmod does with no configuration (`-m`: a module name only); an
//! alias shows every module it resolves to. Builtin modules show what modules.builtin.modinfo
//! holds. Unlike Debian's kmod, `.ko.gz` files are read (its kmod is built without zlib); `.ko.xz`
//! and `.ko.zst` files are read as kmod reads them. `symbol:NAME` keys are looked up in the
//! modules dir's modules.symbols (kmod reads its modules.symbols.bin).

use super::live_index::{self, Config, LiveIndexError};
use super::stdout::Stdout;
use super::{Convention, err, refused};
use crate::insert::module_image::ModuleImage;
use crate::io::mapping::Mapping;
use crate::io::modules_dir::ModulesDir;
use crate::io::path::{Joined, PATH_MAX, TooLong, c_path};
use crate::sys::syscall::getcwd;
use core::ffi::CStr;
use core::fmt::Display;
use modinit::decompress::Compression;
use modinit::kernel::errno::Strerror;
use modinit::line::Bytes;
use modinit::module_file::builtin_modinfo::builtin_entries;
use modinit::module_file::modinfo::{Entries, Modinfo, ModinfoError};
use modinit::module_file::signature::signature_info;
use modinit::name::normalize_module_name;
use modinit::resolve::{Key, Resolver, Target};
use modinit::toolbox::modinfo_args::{Action, parse};
use modinit::toolbox::modinfo_output::{Format, InvalidParam, Param, write_fields, write_header};
use rustix::io::Errno;

/// Distinct parameters of one module (of Debian 6.1's, lpfc has the most: 89).
const MAX_PARAMS: usize = 1024;
/// Longest module name shown (kmod's are at most 55 bytes, MODULE_NAME_LEN - 1).
const NAME_MAX: usize = 256;
/// Modules one alias may resolve to (real device aliases match a handful).
const MAX_FOUND: usize = 256;

pub fn main(argv: &[&[u8]]) -> i32 {
    let program = argv.first().copied().unwrap_or(b"modinfo");
    let short = program.rsplit(|&b| b == b'/').next().unwrap_or(program);
    let args = argv.get(1..).unwrap_or_default();
    let opts = match parse(args, &mut |_| {}) {
        Ok(Action::Show(opts)) => opts,
        Ok(Action::Version) => {
            super::out!("modinit modinfo {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(refusal) => return refused(argv, Convention::Kmod, &Usage(short), refusal),
    };
    let mut cwd = [0u8; PATH_MAX];
    let cwd = getcwd(&mut cwd).unwrap_or_default();
    let uname = rustix::system::uname();
    let release = opts.version.unwrap_or(uname.release().to_bytes());
    // kmod makes the directory absolute: a relative -b is under the current directory.
    let mut root = [0u8; PATH_MAX];
    let basedir = opts.basedir.unwrap_or_default();
    let [a, b, c] = under(cwd, basedir);
    let root = if basedir.is_empty() { Some(c"") } else { c_path(&mut root, &[a, b, c]) };
    let dir = match root.map(|root| ModulesDir::new(root.to_bytes(), release)) {
        Some(Ok(dir)) => dir,
        Some(Err(e)) => return too_long(short, e),
        None => return too_long(short, TooLong(Joined([a, b, c, b"/lib/modules/", release]))),
    };
    let symbols_file = super::modules_symbols::map(&dir);
    let symbols = super::modules_symbols::symbols(&symbols_file);
    let (resolver, index_error) = match live_index::open(&dir, basedir, Config::Default, "modinfo", false) {
        Ok(index) => (Some(Resolver { index, cmdline: &[], symbols }), None),
        Err(e) => (None, Some(e)),
    };
    let format = Format { field: opts.field, separator: opts.separator };
    let mut shown = Shown { format, dir: &dir, short, index_error, out: Stdout::new() };
    let mut status = 0;
    // The same parse again, now for the operands, one by one: there is no limit on their number.
    let _ = parse(args, &mut |operand| {
        let ok = if opts.modname {
            shown.by_name(resolver.as_ref(), operand)
        } else if is_module_file(operand) {
            shown.by_path(operand, cwd)
        } else {
            shown.by_alias(resolver.as_ref(), operand)
        };
        if !ok {
            status = 1;
        }
    });
    shown.out.flush();
    status
}

/// The exit code after saying that the module directory's path, `path`, is too long.
fn too_long(short: &[u8], path: impl Display) -> i32 {
    err!("{}: ERROR: module directory: {path}", Bytes(short));
    1
}

/// What an operand is shown from.
enum Source<'p> {
    File(&'p CStr),
    Builtin,
}

/// The state of one run: how to print, where the modules are, and the buffered stdout.
struct Shown<'d> {
    format: Format<'d>,
    dir: &'d ModulesDir,
    /// The program's name for messages.
    short: &'d [u8],
    /// Why the index could not be opened, until a lookup has said so.
    index_error: Option<LiveIndexError>,
    out: Stdout,
}

impl Shown<'_> {
    /// `modinfo FILE`: kmod's `modinfo_path_do`.
    fn by_path(&mut self, operand: &[u8], cwd: &[u8]) -> bool {
        let mut buf = [0u8; PATH_MAX];
        let file_name = operand.rsplit(|&b| b == b'/').next().unwrap_or(operand);
        let mut name = [0u8; NAME_MAX];
        let name = normalized(file_name, &mut name);
        let Some(path) = c_path(&mut buf, &under(cwd, operand)) else {
            return self.fail(format_args!("Module file {} not found.", Bytes(operand)));
        };
        self.show(name, Some(path.to_bytes()), Source::File(path))
    }

    /// `modinfo NAME|ALIAS`: kmod's `modinfo_alias_do`, every module the key resolves to.
    fn by_alias(&mut self, resolver: Option<&Resolver<'_>>, operand: &[u8]) -> bool {
        let Ok(key) = Key::new(operand) else {
            return self.fail(format_args!("Module alias {} not found.", Bytes(operand)));
        };
        let mut found = [None; MAX_FOUND];
        let n = match resolver.map(|r| r.lookup_in_tree(&key, &mut found)) {
            Some(Ok((_, n))) => n,
            Some(Err(_)) => {
                return self
                    .fail(format_args!("Module alias {} resolves to more than {MAX_FOUND} modules", Bytes(operand)));
            }
            None => self.no_index(),
        };
        if n == 0 {
            return self.fail(format_args!("Module {} not found.", Bytes(operand)));
        }
        let mut ok = true;
        for f in found.get(..n).unwrap_or_default().iter().flatten() {
            if let Target::Module(m) = f.target {
                ok &= self.show_module(&m);
            }
        }
        ok
    }

    /// `modinfo -m NAME`: kmod's `modinfo_name_do`.
    fn by_name(&mut self, resolver: Option<&Resolver<'_>>, operand: &[u8]) -> bool {
        match resolver.map(|r| r.lookup_name(operand)) {
            Some(Ok(Some(m))) => self.show_module(&m),
            found => {
                if found.is_none() {
                    self.no_index();
                }
                self.fail(format_args!("Module name {} not found.", Bytes(operand)))
            }
        }
    }

    /// Says once why names cannot be looked up; no module is found.
    fn no_index(&mut self) -> usize {
        if let Some(e) = self.index_error.take() {
            self.fail(format_args!("{e}"));
        }
        0
    }

    fn show_module(&mut self, m: &modinit::index::Module<'_>) -> bool {
        let mut name = [0u8; NAME_MAX];
        let name = normalized(m.stem, &mut name);
        if m.builtin {
            return self.show(name, None, Source::Builtin);
        }
        let mut path = [0u8; PATH_MAX];
        match self.dir.module_file(m, &mut path) {
            Some(path) => self.show(name, Some(path.to_bytes()), Source::File(path)),
            None => self.could_not_get(name, "its path is too long"),
        }
    }

    /// kmod's `modinfo_do` for the module `name`, whose file is `filename` (None: builtin).
    fn show(&mut self, name: &[u8], filename: Option<&[u8]>, source: Source<'_>) -> bool {
        if !write_header(&self.format, name, filename, &mut |b| self.out.write(b)) {
            return true;
        }
        match source {
            Source::Builtin => {
                let mut path = [0u8; PATH_MAX];
                let Some(path) = self.dir.join(b"modules.builtin.modinfo", &mut path) else {
                    return self.could_not_get(name, Strerror(Errno::NAMETOOLONG.raw_os_error()));
                };
                match Mapping::of_path(path) {
                    // An old kernel, without the file: kmod shows no more.
                    Err(Errno::NOENT) => true,
                    Err(e) => self.could_not_get(name, Strerror(e.raw_os_error())),
                    Ok(file) => match builtin_entries(file.bytes(), name) {
                        Some(entries) => self.fields(name, entries, None),
                        None => self.could_not_get(name, Strerror(Errno::NOSYS.raw_os_error())),
                    },
                }
            }
            Source::File(path) => {
                let image = match ModuleImage::read(path) {
                    // kmod maps the file: an empty one fails there.
                    Ok(image) if image.file().is_empty() => {
                        return self.could_not_get(name, Strerror(Errno::INVAL.raw_os_error()));
                    }
                    Ok(image) => image,
                    Err(e) => return self.could_not_get(name, e),
                };
                match Modinfo::from_elf(image.bytes()) {
                    Ok(modinfo) => self.fields(name, modinfo.entries(), signature_info(image.bytes()).as_ref()),
                    Err(e) => self.could_not_get(name, Strerror(kmod_errno(e).raw_os_error())),
                }
            }
        }
    }

    fn fields<'a>(
        &mut self,
        name: &[u8],
        entries: Entries<'a>,
        signature: Option<&modinit::module_file::signature::SignatureInfo<'_>>,
    ) -> bool {
        let mut params = [Param::default(); MAX_PARAMS];
        let short = self.short;
        let mut invalid = |p: InvalidParam<'_>| {
            err!("{}: ERROR: Found invalid \"{}={}\": missing ':'", Bytes(short), Bytes(p.key), Bytes(p.value));
        };
        let written =
            write_fields(&self.format, entries, signature, &mut params, &mut invalid, &mut |b| self.out.write(b));
        match written {
            Ok(()) => true,
            Err(e) => self.could_not_get(name, e),
        }
    }

    fn could_not_get(&mut self, name: &[u8], why: impl Display) -> bool {
        self.fail(format_args!("could not get modinfo from '{}': {why}", Bytes(name)))
    }

    /// Prints `PROGRAM: ERROR: message` (after what stdout holds) and returns false.
    fn fail(&mut self, message: core::fmt::Arguments<'_>) -> bool {
        self.out.flush();
        err!("{}: ERROR: {message}", Bytes(self.short));
        false
    }
}

/// The errno kmod's libkmod-elf gives for what is wrong with an image.
fn kmod_errno(e: ModinfoError) -> Errno {
    match e {
        ModinfoError::NotElf => Errno::NOEXEC,
        ModinfoError::NoModinfo | ModinfoError::ModinfoOutOfBounds => Errno::NOENT,
        _ => Errno::INVAL,
    }
}

/// kmod's `is_module_filename`: a regular file whose name ends in a module extension.
fn is_module_file(operand: &[u8]) -> bool {
    let mut buf = [0u8; PATH_MAX];
    let Some(path) = c_path(&mut buf, &[operand]) else { return false };
    Compression::of_file_name(operand).is_some()
        && rustix::fs::stat(path).is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file())
}

/// A module name as kmod normalizes it (`-` is `_`, nothing from the first `.`), in `buf`
/// (cut to its size).
fn normalized<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX]) -> &'b [u8] {
    let name = name.get(..NAME_MAX).unwrap_or(name);
    let len = normalize_module_name(name, buf).unwrap_or_default();
    buf.get(..len).unwrap_or_default()
}

/// `path` as kmod makes it absolute: under `cwd` unless it starts with `/`.
fn under<'p>(cwd: &'p [u8], path: &'p [u8]) -> [&'p [u8]; 3] {
    if path.starts_with(b"/") { [b"", b"", path] } else { [cwd, b"/", path] }
}

/// kmod's help text.
struct Usage<'a>(&'a [u8]);

impl Display for Usage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Usage:\n\
             \t{} [options] <modulename|filename> [args]\n\
             Options:\n\
             \t-a, --author                Print only 'author'\n\
             \t-d, --description           Print only 'description'\n\
             \t-l, --license               Print only 'license'\n\
             \t-p, --parameters            Print only 'parm'\n\
             \t-n, --filename              Print only 'filename'\n\
             \t-0, --null                  Use \\0 instead of \\n\n\
             \t-m, --modname               Handle argument as module name instead of alias or filename\n\
             \t-F, --field=FIELD           Print only provided FIELD\n\
             \t-k, --set-version=VERSION   Use VERSION instead of `uname -r`\n\
             \t-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules\n\
             \t-V, --version               Show version\n\
             \t-h, --help                  Show this help",
            Bytes(self.0)
        )
    }
}
