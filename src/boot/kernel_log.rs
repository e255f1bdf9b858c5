//! The kernel log during boot: modinit's lines go into it, and the kernel's errors come out
//! of it onto the console, so that a driver that fails is seen before the real init starts.
//!
//! Records the kernel already printed on its console (level below the console loglevel) are
//! not printed again: every record at or above `modinit.kmsg=` is on the console exactly once.
//! Those modinit shows also go into the boot record.

use crate::io::file::{read_into, write_once};
use crate::io::log::{error, to_record, warning};
use core::ffi::CStr;
use modinit::cmdline::options::BootOptions;
use modinit::kernel::errno::Describe;
use modinit::kernel::kmsg::{DevkmsgPolicy, Event, Follow, Record, console_loglevel, format_for_console};
use modinit::kernel::module_error::unknown_symbol_line;
use modinit::line::Line;
use modinit::record::entry::{KernelLine, Stamp};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags, SeekFrom, open, seek};
use rustix::io::{Errno, read};

const KMSG: &CStr = c"/dev/kmsg";
const PRINTK: &CStr = c"/proc/sys/kernel/printk";
const DEVKMSG: &CStr = c"/proc/sys/kernel/printk_devkmsg";
const IGNORE_LOGLEVEL: &CStr = c"/sys/module/printk/parameters/ignore_loglevel";

/// The kernel hands out a record with its dictionary in at most this many bytes
/// (CONSOLE_EXT_LOG_MAX); a smaller buffer gets EINVAL.
const RECORD_MAX: usize = 8192;
/// Records one drain prints at most.
const DRAIN_BUDGET: usize = 256;
/// Drains the last one before exec may take.
const FINAL_DRAINS: usize = 4;

pub struct KernelLog {
    /// /dev/kmsg opened for reading (also with `modinit.kmsg=off`: load failures are
    /// explained from it).
    reader: Option<OwnedFd>,
    follow: Follow,
    /// We switched /dev/kmsg's rate limit off and must switch it back on.
    restore_ratelimit: bool,
    /// Records are copied to the console (not `modinit.kmsg=off`).
    shows: bool,
    /// Unknown symbols read, by module, until [`KernelLog::unknown_symbols`] asks for them.
    unknown: heapless::Vec<Noted, NOTED_MAX>,
}

impl KernelLog {
    /// Starts writing modinit's lines to the kernel log and, unless `modinit.kmsg=off`,
    /// reading it from now (or from the start with `modinit.kmsg_since=boot`).
    pub fn open(opts: &BootOptions<'_>) -> KernelLog {
        let console_loglevel = kernel_console_loglevel();
        let restore_ratelimit = start_writing(console_loglevel);
        let shows = opts.kmsg.is_some();
        let reader = open_reader(shows && opts.kmsg_since_boot);
        KernelLog {
            reader,
            follow: Follow::new(opts.kmsg, console_loglevel),
            restore_ratelimit,
            shows,
            unknown: heapless::Vec::new(),
        }
    }

    /// Prints the records that arrived since the last call, at most [`DRAIN_BUDGET`]: when
    /// printing makes the kernel log more (a console driver with debugging on), an unbounded
    /// drain would never end. Returns false when records were left for later.
    pub fn drain(&mut self) -> bool {
        let Some(reader) = &self.reader else { return true };
        let mut buf = [0u8; RECORD_MAX];
        for _ in 0..DRAIN_BUDGET {
            match read(reader, &mut buf) {
                Ok(0) | Err(Errno::AGAIN) => return true,
                Ok(n) => {
                    if let Some((module, symbol)) =
                        Record::parse(&buf[..n]).ok().and_then(|r| unknown_symbol_line(r.text().0))
                    {
                        note_unknown_symbol(&mut self.unknown, module, symbol);
                    }
                    self.follow.record(&buf[..n], print_event)
                }
                Err(Errno::PIPE) => self.follow.overflowed(),
                Err(Errno::INTR) => {}
                Err(e) => {
                    error!(
                        "cannot read /dev/kmsg: {}; kernel messages are no longer shown",
                        Describe(e.raw_os_error())
                    );
                    self.reader = None;
                    return true;
                }
            }
        }
        false
    }

    /// What the kernel said about `module`'s unknown symbols since it was last asked (read by
    /// this drain or an earlier one: with inserts side by side, the drain after one module's
    /// insert may read another's lines).
    pub fn unknown_symbols(&mut self, module: &[u8]) -> UnknownSymbols {
        self.drain();
        let at = self.unknown.iter().position(|n| modinit::name::same_module_name(&n.module, module));
        at.map(|i| self.unknown.remove(i).symbols).unwrap_or_default()
    }

    /// The last drain before exec; /dev/kmsg gets its rate limit back.
    pub fn finish(mut self) {
        if self.shows && !(0..FINAL_DRAINS).any(|_| self.drain()) {
            warning!("the kernel logs faster than the console shows; the rest is in the kernel log (dmesg)");
        }
        if self.restore_ratelimit
            && let Err(e) = write_once(DEVKMSG, b"ratelimit\n")
        {
            error!("cannot restore {}: {}", DEVKMSG.to_str().unwrap_or("printk_devkmsg"), Describe(e.raw_os_error()));
        }
    }
}

/// A kernel symbol's name is at most KSYM_NAME_LEN (512) bytes; messages show this much.
const SYMBOL_MAX: usize = 128;

/// Modules whose unknown symbols are remembered until asked for (one per insert under way is
/// enough; the oldest goes first).
const NOTED_MAX: usize = 16;

/// A module name as the kernel logs it (MODULE_NAME_LEN is 56).
const MODULE_NAME_MAX: usize = 64;

/// The `Unknown symbol` lines the kernel logged about a module that failed to load.
#[derive(Default)]
pub struct UnknownSymbols {
    pub count: usize,
    first: heapless::Vec<u8, SYMBOL_MAX>,
}

/// A module's unknown symbols, read from the log and not asked for yet.
struct Noted {
    module: heapless::Vec<u8, MODULE_NAME_MAX>,
    symbols: UnknownSymbols,
}

/// Counts `symbol` for `module` among the `noted` ones.
fn note_unknown_symbol(noted: &mut heapless::Vec<Noted, NOTED_MAX>, module: &[u8], symbol: &[u8]) {
    let at = match noted.iter().position(|n| n.module == module) {
        Some(at) => at,
        None => {
            if noted.is_full() {
                noted.remove(0);
            }
            let mut new = Noted { module: heapless::Vec::new(), symbols: UnknownSymbols::default() };
            let _ = new.module.extend_from_slice(&module[..module.len().min(MODULE_NAME_MAX)]);
            let _ = new.symbols.first.extend_from_slice(&symbol[..symbol.len().min(SYMBOL_MAX)]);
            // Room was made above.
            let _ = noted.push(new);
            noted.len() - 1
        }
    };
    noted[at].symbols.count += 1;
}

impl UnknownSymbols {
    /// The first symbol named (cut at [`SYMBOL_MAX`] bytes).
    pub fn first(&self) -> &[u8] {
        &self.first
    }
}

fn print_event(event: Event<'_>) {
    match event {
        Event::Lost(Some(n)) => warning!("{n} kernel messages lost (the log overflowed)"),
        Event::Lost(None) => warning!("kernel messages lost (the log overflowed)"),
        Event::Show(record) => {
            let mut line = Line::<{ RECORD_MAX / 2 }>::new();
            let _ = format_for_console(&record, &mut line);
            // SAFETY: fd 2 is the console (or closed: EBADF, nothing to do).
            let _ = rustix::io::write(unsafe { rustix::stdio::stderr() }, line.finish());
            to_record(Stamp(record.usec), &KernelLine(&record));
        }
    }
}

/// The level below which the kernel prints records on its console itself; 0 (it prints
/// nothing) when unknown, so that no message is lost.
fn kernel_console_loglevel() -> u8 {
    let mut buf = [0u8; 64];
    if read_into(IGNORE_LOGLEVEL, &mut buf).is_ok_and(|v| v.starts_with(b"Y")) {
        return u8::MAX;
    }
    read_into(PRINTK, &mut buf).ok().and_then(console_loglevel).unwrap_or(0)
}

/// Sends modinit's lines to /dev/kmsg when the kernel keeps them all. Returns whether the
/// rate limit was switched off (and must be restored).
fn start_writing(console_loglevel: u8) -> bool {
    let mut buf = [0u8; 32];
    let policy = read_into(DEVKMSG, &mut buf).ok().and_then(DevkmsgPolicy::parse);
    // Under the default rate limit only 10 lines per 5 s would be kept: lift it while booting.
    // When the admin set printk.devkmsg= on the command line the setting is locked; then our
    // lines stay on the console only.
    // The sysctl takes a value only with its trailing newline.
    let restore = match policy {
        Some(DevkmsgPolicy::On) => false,
        Some(DevkmsgPolicy::Ratelimit) => match write_once(DEVKMSG, b"on\n") {
            Ok(()) => true,
            Err(e) => {
                warning!(
                    "cannot lift /dev/kmsg's rate limit: {}; modinit's lines stay on the console",
                    Describe(e.raw_os_error())
                );
                return false;
            }
        },
        Some(DevkmsgPolicy::Off) | None => return false,
    };
    match open(KMSG, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => crate::io::log::write_to_kernel_log(fd, console_loglevel),
        Err(e) => error!("cannot open /dev/kmsg for writing: {}", Describe(e.raw_os_error())),
    }
    restore
}

fn open_reader(since_boot: bool) -> Option<OwnedFd> {
    let opened = open(KMSG, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()).and_then(|fd| {
        seek(&fd, if since_boot { SeekFrom::Start(0) } else { SeekFrom::End(0) })?;
        Ok(fd)
    });
    match opened {
        Ok(fd) => Some(fd),
        Err(e) => {
            error!("cannot read /dev/kmsg: {}; kernel messages are not shown", Describe(e.raw_os_error()));
            None
        }
    }
}
