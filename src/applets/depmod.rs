//! `depmod [-aAenw] [-b BASEDIR] [-C PATH]... [-E Module.symvers | -F System.map] [-P C]
//! [VERSION]`: writes kmod's files for BASEDIR/lib/modules/VERSION — modules.dep,
//! modules.dep.bin, modules.alias, modules.alias.bin, modules.softdep, modules.symbols,
//! modules.symbols.bin, modules.builtin.bin, modules.builtin.alias.bin and modules.devname, byte
//! for byte as kmod 30's depmod writes them, and modules.weakdep as kmod 33's — and modinit.idx,
//! with BASEDIR's modprobe.d and modules-load.d baked in (what `cargo xtask index --config-root
//! BASEDIR` writes, byte for byte: both run `modinit::index::tree`). Each file is written aside
//! and renamed into place, so a reader never sees half a file.
//!
//! As kmod's depmod: `-n` prints the text files to stdout and writes nothing; `-A` does nothing
//! when modules.dep is newer than every module file; `-e` with `-F System.map` or `-E
//! Module.symvers` reports needed symbols nobody exports (and with `-E`, CRCs that disagree);
//! `-w` reports keys given the same value twice; `-P` drops an architecture's symbol prefix;
//! depmod.d (`-C`, else /etc, /run, /usr/local/lib and /lib's depmod.d of the running system,
//! as kmod reads them even with `-b`) chooses between two files of one module (`search`,
//! `override`) and skips directories (`exclude`). kmod's messages and exit codes. Plain, gzip,
//! zstd and xz modules, decompressed as the boot does, each read once. Refused, naming what:
//! `-v`, `-V`, depmod.d `external` directories, kernel version patterns that are regular
//! expressions beyond literal text, and module files named on the command line.

use super::{Convention, err, refused, write_all};
use crate::insert::module_image::{ImageError, ImageReader};
use crate::io::tree_fs::TargetFs;
use crate::sys::syscall::{Forked, exit_group, fork};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use modinit::config::depmod_d::{DEFAULT_DIRS, DepmodConfig, DepmodWarning};
use modinit::index::builder::{Analysis, FactsError, KernelSymbols, ModuleFacts, SymbolProblem, analyze, contents};
use modinit::index::facts_wire;
use modinit::index::tree::{TreeError, TreeFs, depmod_d_files, module_files, tree_files};
use modinit::index::writer::write;
use modinit::kernel::errno::Strerror;
use modinit::kmod_files::depmod::{File, Message, Options, files};
use modinit::line::Bytes;
use modinit::module_file::elf::ElfError;
use modinit::toolbox::depmod_args::{Options as Args, parse};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, open, openat, renameat, statat, unlinkat};
use rustix::io::{Errno, read};
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{WaitOptions, waitpid};

const USAGE: &str = "Usage:\n\tdepmod -[aA] [options] [forced_version]\n\n\
Writes kmod's module files (modules.dep, modules.alias, ... and their .bin indexes, as kmod 30's\n\
depmod; modules.weakdep as kmod 33's) and modinit.idx, modinit's module index, for\n\
BASEDIR/lib/modules/VERSION (or BASEDIR/usr/lib/modules/VERSION when only that exists).\n\n\
Options:\n\t-a, --all            Probe all modules (the default)\n\
\t-A, --quick          Only does the work if there's a new module\n\
\t-e, --errsyms        Report not supplied symbols\n\
\t-n, --show           Write the dependency file on stdout only\n\
\t-P, --symbol-prefix  Architecture symbol prefix\n\
\t-C, --config=PATH    Read configuration from PATH\n\
\t-w, --warn           Warn on duplicates\n\
\t-h, --help           show this help\n\n\
The following options are useful for people managing distributions:\n\
\t-b, --basedir=DIR    Use an image of a module tree.\n\
\t-F, --filesyms=FILE  Use the file instead of the\n\
\t                     current kernel symbols.\n\
\t-E, --symvers=FILE   Use Module.symvers file to check\n\
\t                     symbol versions.";

const INDEX: &str = "modinit.idx";

pub fn main(argv: &[&[u8]]) -> i32 {
    let opts = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(o) => o,
        Err(refusal) => return refused(argv, Convention::Kmod, &USAGE, refusal),
    };
    for c in &opts.deprecated {
        err!("depmod: WARNING: Ignored deprecated option -{}", char::from(*c));
    }
    // The builder keeps every module's facts until the files are written.
    crate::sys::arena::set_capacity(crate::sys::arena::APPLET_CAPACITY);
    let uname = rustix::system::uname();
    let version = opts.version.unwrap_or(uname.release().to_bytes());
    let root = opts.basedir.unwrap_or_default();
    let modules = [root, crate::io::modules_dir::parent_of(root, version), version].concat();
    if opts.quick && (opts.dry_run || up_to_date(&modules)) {
        return 0;
    }
    match run(&opts, root, version, &modules) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

/// Everything after the command line and `-A`: Err after saying why.
fn run(opts: &Args<'_>, root: &[u8], version: &[u8], modules: &[u8]) -> Result<(), ()> {
    let kernel = kernel_symbols(opts)?;
    let mut fs = TargetFs;
    let mut tree = match tree_files(&mut fs, modules, version, Some(if root.is_empty() { &b"/"[..] } else { root })) {
        Ok(tree) => tree,
        Err(e) => {
            err!("depmod: FATAL: could not load configuration files: {e}");
            return Err(());
        }
    };
    tree.depmod_d = depmod_d(&mut fs, opts, version)?;
    if let Some(dir) = tree.depmod_d.externals.first() {
        err!(
            "depmod: FATAL: depmod.d names the external directory {}: modinit's depmod searches only {}",
            Bytes(dir),
            Bytes(modules)
        );
        return Err(());
    }
    let paths = match module_files(&mut fs, modules, &tree.depmod_d) {
        Ok(files) => files,
        Err(TreeError::NoModulesDir(dir)) => {
            err!("depmod: ERROR: could not open directory {}: {}", Bytes(&dir), sys(Errno::NOENT));
            err!("depmod: FATAL: could not search modules: {}", sys(Errno::NOENT));
            return Err(());
        }
        Err(e) => {
            err!("depmod: FATAL: could not search modules: {e}");
            return Err(());
        }
    };
    let mut facts: Vec<ModuleFacts> = Vec::with_capacity(paths.len());
    let mut failures: Vec<(usize, String)> = Vec::new();
    for (read, rel) in read_all(modules, &paths, kernel.check_versions).into_iter().zip(&paths) {
        match read {
            Ok(f) => facts.push(f),
            Err(why) => {
                failures.push((facts.len(), why));
                facts.push(ModuleFacts { path: rel.clone(), ..ModuleFacts::default() });
            }
        }
    }
    let a = analyze(&facts, &tree, &kernel, &mut |w| err!("depmod: WARNING: {w}"));
    report_module_problems(&a, &facts, &failures, modules);
    if !a.in_cycles.is_empty() {
        err!("depmod: ERROR: Found {} modules in dependency cycles!", a.in_cycles.len());
        return Err(());
    }
    let options = Options { text_only: opts.dry_run, warn_duplicates: opts.warn };
    let written = files(&a, &tree, options, &mut say);
    let written = written.map_err(|(name, e)| err!("depmod: ERROR: Could not write index '{name}': {e}"))?;
    if opts.dry_run {
        let mut stdout = super::stdout::Stdout::new();
        for file in &written {
            stdout.write(&file.bytes);
        }
        stdout.flush();
        return Ok(());
    }
    // modinit.idx; the warnings kmod's files gave already (brackets, builtin lines) are not repeated.
    let repeated = |w: &str| w.starts_with("Unmatched bracket in ") || w.starts_with("Invalid modules.builtin line: ");
    let index = contents(&a, &tree, &mut |w| {
        if !repeated(&w.0) {
            err!("depmod: WARNING: {w}");
        }
    });
    let index = write(&index).map_err(|e| err!("depmod: ERROR: Could not create index '{INDEX}': {e}"))?;
    let dir = open_dir(modules)
        .map_err(|e| err!("depmod: FATAL: could not open directory {}: {}", Bytes(modules), sys(e)))?;
    for File { name, bytes } in &written {
        write_atomically(&dir, modules, name, bytes)?;
    }
    write_atomically(&dir, modules, INDEX, &index)
}

/// The kernel's symbols from `-E Module.symvers` (`depmod_load_symvers`) or `-F System.map`
/// (`depmod_load_system_map`), and what to check against them.
fn kernel_symbols(opts: &Args<'_>) -> Result<KernelSymbols, ()> {
    let mut kernel = KernelSymbols { prefix: opts.prefix, ..KernelSymbols::default() };
    let drop_prefix = |name: &[u8]| -> Vec<u8> {
        match (name.first(), opts.prefix) {
            (Some(&c), Some(p)) if c == p => name[1..].to_vec(),
            _ => name.to_vec(),
        }
    };
    let load = |file: &[u8]| match TargetFs.read(file) {
        Ok(Some(text)) => Ok(text),
        Ok(None) => {
            err!("depmod: FATAL: could not load {}: {}", Bytes(file), sys(Errno::NOENT));
            Err(())
        }
        Err(e) => {
            err!("depmod: FATAL: could not load {}: {e}", Bytes(file));
            Err(())
        }
    };
    let mut symbols = Vec::new();
    if let Some(file) = opts.symvers {
        // e.g. "0xb352177e\tfind_first_bit\tvmlinux\tEXPORT_SYMBOL": kmod splits at blanks only.
        for (line, n) in load(file)?.split_inclusive(|&c| c == b'\n').zip(1..) {
            let mut words = line.split(|&c| c == b' ' || c == b'\t').filter(|w| !w.is_empty());
            let (Some(crc), Some(name), Some(b"vmlinux")) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            match parse_hex(crc) {
                Some(crc) => symbols.push((drop_prefix(name), crc)),
                None => err!("depmod: ERROR: {}:{n} Invalid symbol version {}: Success", Bytes(file), Bytes(crc)),
            }
        }
        kernel.check_versions = true;
    } else if let Some(file) = opts.system_map {
        // e.g. "c0294200 R __ksymtab_devfs_alloc_devnum"
        for (line, n) in load(file)?.split_inclusive(|&c| c == b'\n').zip(1..) {
            let mut fields = line.splitn(3, |&c| c == b' ');
            let (Some(_), Some(_), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
                err!("depmod: ERROR: {}:{n}: invalid line: {}", Bytes(file), Bytes(line));
                continue;
            };
            let name = match (name.first(), opts.prefix) {
                (Some(&c), Some(p)) if c == p => &name[1..],
                _ => name,
            };
            if let Some(symbol) = name.strip_prefix(b"__ksymtab_") {
                symbols.push((symbol.strip_suffix(b"\n").unwrap_or(symbol).to_vec(), 0));
            }
        }
    } else {
        if opts.errsyms {
            err!("depmod: WARNING: -e needs -E or -F");
        }
        return Ok(kernel);
    }
    kernel.symbols = Some(symbols);
    kernel.report = opts.errsyms;
    Ok(kernel)
}

/// `strtoull(s, &end, 16)` with nothing left after the number (a final newline counts as
/// something, as in kmod).
fn parse_hex(s: &[u8]) -> Option<u64> {
    let s = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X")).unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |v, &c| Some(v.saturating_mul(16).saturating_add(u64::from((c as char).to_digit(16)?))))
}

/// depmod.d from `-C` paths, else kmod's default directories. Err after refusing a line
/// modinit cannot follow.
fn depmod_d(fs: &mut TargetFs, opts: &Args<'_>, version: &[u8]) -> Result<DepmodConfig, ()> {
    let defaults: Vec<&[u8]> = DEFAULT_DIRS.iter().map(|d| d.as_bytes()).collect();
    let paths = if opts.config.is_empty() { &defaults[..] } else { &opts.config[..] };
    let files = depmod_d_files(fs, paths, &mut |w| err!("depmod: ERROR: {w}"))
        .map_err(|e| err!("depmod: FATAL: could not load configuration files: {e}"))?;
    let mut refused = false;
    let config = DepmodConfig::parse(&files, version, &mut |w| match w {
        DepmodWarning::BadLine { .. } => err!("depmod: ERROR: {w}"),
        DepmodWarning::Unsupported { .. } => {
            refused = true;
            err!("depmod: FATAL: {w}");
        }
    });
    if refused { Err(()) } else { Ok(config) }
}

/// The most processes that read modules.
const MAX_READERS: usize = 8;
/// The most batches the modules are cut into: their numbers (two bytes each) fill at most 2 KiB
/// of the queue, less than the smallest pipe holds (a page), so that filling it never blocks.
const MAX_BATCHES: usize = 1024;
/// The fewest modules in a batch: a claim is a read(2) on the queue.
const MIN_BATCH: usize = 4;

/// A module's facts, or why they could not be read.
type Read = Result<ModuleFacts, String>;

/// The facts of every module file of `paths` (relative to `modules`), in their order, read by
/// one process per CPU: this one and forked children. The modules are cut into batches whose
/// numbers wait in a pipe, the queue, and each process claims the next batch whenever it is
/// done with one, so that all stay busy to the end whatever each one's share of the CPUs and
/// of the large modules. A child sends the facts of its batches back through a pipe
/// ([`facts_wire`]) followed by the batches' numbers. A batch nobody read whole (a child that
/// could not be started or did not send all it claimed) is read here.
fn read_all(modules: &[u8], paths: &[Vec<u8>], with_crcs: bool) -> Vec<Read> {
    let cpus = rustix::thread::sched_getaffinity(None).map_or(1, |set| set.count() as usize);
    let readers = cpus.clamp(1, MAX_READERS).min(paths.len().div_ceil(64).max(1));
    let batch = paths.len().div_ceil(MAX_BATCHES).max(MIN_BATCH);
    let batches = paths.len().div_ceil(batch);
    let range = |b: usize| b * batch..((b + 1) * batch).min(paths.len());
    let read_batch = |reader: &mut ImageReader, b: usize| -> Vec<Read> {
        paths[range(b)].iter().map(|rel| read_module(reader, modules, rel, with_crcs)).collect()
    };
    let mut reader = ImageReader::default();
    let mut read: Vec<Option<Read>> = (0..paths.len()).map(|_| None).collect();
    let mut fill = |b: usize, facts: &mut dyn Iterator<Item = Read>| {
        for (slot, f) in read[range(b)].iter_mut().zip(facts) {
            *slot = Some(f);
        }
    };
    let queue = (readers > 1).then(|| work_queue(batches)).flatten();
    let mut children = Vec::new();
    for _ in 1..readers {
        let Some(queue) = &queue else { break };
        let Ok((from_child, to_parent)) = pipe_with(PipeFlags::CLOEXEC) else { break };
        match fork() {
            Ok(Forked::Child) => {
                drop(from_child);
                let (mut bytes, mut claimed) = (Vec::new(), Vec::new());
                while let Some(b) = claim(queue) {
                    read_batch(&mut reader, b).iter().for_each(|facts| facts_wire::encode(facts, &mut bytes));
                    claimed.extend_from_slice(&(b as u16).to_le_bytes());
                }
                bytes.extend_from_slice(&claimed);
                bytes.extend_from_slice(&(claimed.len() as u32 / 2).to_le_bytes());
                let sent = write_all(to_parent.as_fd(), &bytes);
                exit_group(i32::from(sent.is_err()));
            }
            Ok(Forked::Parent { child }) => children.push((child, from_child)),
            Err(_) => break,
        }
    }
    if let Some(queue) = &queue {
        while let Some(b) = claim(queue) {
            fill(b, &mut read_batch(&mut reader, b).into_iter());
        }
    }
    for (child, pipe) in children {
        let sent = read_to_end(&pipe).ok();
        let _ = waitpid(Some(child), WaitOptions::empty());
        if let Some((facts, claimed)) = sent.as_deref().and_then(|bytes| batches_sent(bytes, batches))
            && facts.len() == claimed.iter().map(|&b| range(b).len()).sum::<usize>()
        {
            let mut facts = facts.into_iter();
            for b in claimed {
                fill(b, &mut facts.by_ref().take(range(b).len()));
            }
        }
    }
    let mut rest = |rel| read_module(&mut reader, modules, rel, with_crcs);
    read.into_iter().zip(paths).map(|(f, rel)| f.unwrap_or_else(|| rest(rel))).collect()
}

/// A pipe holding the numbers of `batches` batches (at most [`MAX_BATCHES`]), its write end
/// closed so that a claim on an empty queue ends; None when no pipe can be made.
fn work_queue(batches: usize) -> Option<OwnedFd> {
    let (queue, fill) = pipe_with(PipeFlags::CLOEXEC).ok()?;
    let numbers: Vec<u8> = (0..batches as u16).flat_map(u16::to_le_bytes).collect();
    write_all(fill.as_fd(), &numbers).ok()?;
    Some(queue)
}

/// The next batch of the queue, None once it is empty. Two bytes a read: a pipe hands each
/// reader whole numbers, since it always holds an even count of bytes.
fn claim(queue: &OwnedFd) -> Option<usize> {
    let mut number = [0u8; 2];
    loop {
        match read(queue, &mut number) {
            Ok(2) => return Some(usize::from(u16::from_le_bytes(number))),
            Err(Errno::INTR) => {}
            _ => return None,
        }
    }
}

/// A child's message: the facts of its batches, then their numbers (two bytes each, below
/// `batches`) and their count (four bytes). None when it is not whole.
fn batches_sent(bytes: &[u8], batches: usize) -> Option<(Vec<Read>, Vec<usize>)> {
    let (rest, count) = bytes.split_last_chunk::<4>()?;
    let numbers_at = rest.len().checked_sub(usize::try_from(u32::from_le_bytes(*count)).ok()?.checked_mul(2)?)?;
    let (facts, numbers) = rest.split_at(numbers_at);
    let claimed: Vec<usize> = numbers.chunks_exact(2).map(|n| usize::from(u16::from_le_bytes([n[0], n[1]]))).collect();
    if claimed.iter().any(|&b| b >= batches) {
        return None;
    }
    Some((facts_wire::decode(facts)?, claimed))
}

/// Everything `fd` gives until its end.
fn read_to_end(fd: &OwnedFd) -> Result<Vec<u8>, Errno> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match read(fd, &mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The facts of the module file `rel` under `modules`, from its image (mapped, or
/// decompressed by `reader`), or why it could not be read, as kmod says it.
fn read_module(reader: &mut ImageReader, modules: &[u8], rel: &[u8], with_crcs: bool) -> Read {
    let path = c_string(&[modules, b"/", rel].concat()).map_err(ImageError::File);
    let facts = path.and_then(|path| reader.read(&path, |image| ModuleFacts::from_image(rel, image, with_crcs)));
    facts.map_err(|e| format!("{e}"))?.map_err(|e| match e {
        // kmod's `kmod_elf_new`: ENOEXEC without the ELF magic, EINVAL for the rest.
        FactsError::Elf(ElfError::NotElf) => format!("{}", sys(Errno::NOEXEC)),
        FactsError::Elf(_) => format!("{}", sys(Errno::INVAL)),
        other => format!("{other}"),
    })
}

/// What depmod says of the modules before it writes: files it could not read (as kmod's
/// `depmod_load_modules`), then with `-e` the symbols (`depmod_load_dependencies`).
fn report_module_problems(a: &Analysis<'_>, facts: &[ModuleFacts], failures: &[(usize, String)], modules: &[u8]) {
    // Each module's place in `facts` is looked for only when some file failed.
    for m in a.modules.iter().filter(|_| !failures.is_empty()) {
        let at = facts.iter().position(|f| core::ptr::eq(f, m.facts));
        if let Some((_, why)) = failures.iter().find(|(i, _)| Some(*i) == at) {
            err!("depmod: ERROR: failed to load symbols from {}/{}: {why}", Bytes(modules), Bytes(&m.facts.path));
        }
    }
    for p in &a.problems {
        let (module, symbol, what) = match *p {
            SymbolProblem::Unknown { module, symbol } => (module, symbol, "needs unknown symbol"),
            SymbolProblem::Version { module, symbol } => (module, symbol, "disagrees about version of symbol"),
        };
        let path = &a.modules[usize::from(module)].facts.path;
        err!("depmod: WARNING: {}/{} {what} {}", Bytes(modules), Bytes(path), Bytes(symbol));
    }
}

/// Prints a message of kmod's files as depmod does.
fn say(m: Message) {
    match m {
        Message::Warning(text) => err!("depmod: WARNING: {text}"),
        Message::Error(text) => err!("depmod: ERROR: {text}"),
        Message::Fatal(text) => err!("depmod: FATAL: {text}"),
    }
}

/// `depfile_up_to_date`: whether modules.dep is at least as new (in seconds) as every module file
/// below `modules` (`build` and `source` not entered). False, after saying why, when modules.dep
/// or the directory cannot be read.
fn up_to_date(modules: &[u8]) -> bool {
    let dir = match open_dir(modules) {
        Ok(dir) => dir,
        Err(e) => {
            err!("depmod: ERROR: could not open directory {}: {}", Bytes(modules), sys(e));
            return false;
        }
    };
    match statat(&dir, c"modules.dep", AtFlags::empty()) {
        Ok(st) => newer_than_modules(&dir, st.st_mtime),
        Err(e) => {
            err!("depmod: ERROR: could not fstatat({}, modules.dep): {}", Bytes(modules), sys(e));
            false
        }
    }
}

/// Whether no module file below `dir` has an mtime after `mtime` (`depfile_up_to_date_dir`).
fn newer_than_modules(dir: &OwnedFd, mtime: i64) -> bool {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut listing = RawDir::new(dir, &mut buf);
    while let Some(Ok(entry)) = listing.next() {
        let name = entry.file_name();
        if [c".", c"..", c"build", c"source"].contains(&name) {
            continue;
        }
        let Ok(st) = statat(dir, name, AtFlags::empty()) else { continue };
        let up_to_date = match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                match openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
                    Ok(sub) => newer_than_modules(&sub, mtime),
                    Err(_) => true,
                }
            }
            FileType::RegularFile if modinit::decompress::Compression::of_file_name(name.to_bytes()).is_some() => {
                st.st_mtime <= mtime
            }
            _ => true,
        };
        if !up_to_date {
            return false;
        }
    }
    true
}

fn open_dir(path: &[u8]) -> Result<OwnedFd, Errno> {
    open(c_string(path)?.as_c_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
}

/// Writes `bytes` to `NAME.PID.tmp` in `dir` (the modules dir `modules`), then renames it over
/// `name` (kmod's way). Err after saying why.
fn write_atomically(dir: &OwnedFd, modules: &[u8], name: &str, bytes: &[u8]) -> Result<(), ()> {
    let tmp =
        c_string(format!("{name}.{}.tmp", rustix::process::getpid().as_raw_nonzero()).as_bytes()).map_err(drop)?;
    let target = c_string(name.as_bytes()).map_err(drop)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    let file = openat(dir, tmp.as_c_str(), flags, Mode::from_raw_mode(0o644)).map_err(|e| {
        err!(
            "depmod: ERROR: openat({}, {}, {:o}, 644): {}",
            Bytes(modules),
            Bytes(tmp.as_bytes()),
            flags.bits(),
            sys(e)
        );
    })?;
    if let Err(e) = write_all(file.as_fd(), bytes) {
        let _ = unlinkat(dir, tmp.as_c_str(), AtFlags::empty());
        err!("depmod: ERROR: Could not write index '{name}': {}", sys(e));
        return Err(());
    }
    renameat(dir, tmp.as_c_str(), dir, target.as_c_str()).map_err(|e| {
        let _ = unlinkat(dir, tmp.as_c_str(), AtFlags::empty());
        let m = Bytes(modules);
        err!("depmod: FATAL: renameat({m}, {}, {m}, {name}): {}", Bytes(tmp.as_bytes()), sys(e));
    })
}

/// An error of the system, as kmod words it.
fn sys(e: Errno) -> Strerror {
    Strerror(e.raw_os_error())
}

fn c_string(path: &[u8]) -> Result<CString, Errno> {
    CString::new(path).map_err(|_| Errno::INVAL)
}
