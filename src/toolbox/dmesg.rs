//! `dmesg` as util-linux 2.38 prints the kernel log from /dev/kmsg (sys-utils/dmesg.c): its
//! command line (`-l LEVELS`, `-k`, `-u`, `-r`, `-x`, `-w`), which records it shows, and their lines:
//! `[%5lu.%06lu] text` by default, `<PRI>[...] text` raw, `kern  :info  : [...] text`
//! decoded. Text bytes are shown as util-linux shows them in the C locale: printable ASCII
//! and white space as they are, anything else as `\xNN`; a line break inside a record is
//! followed by spaces as wide as the prefix. One difference: `-r` gives a user-space record
//! its real priority (`<14>` for user.info) where 2.38 gives `<7>` (`facility | level`, fixed in
//! util-linux 2.40 by "dmesg: -r LOG_MAKEPRI needs fac << 3").

use crate::decimal::decimal;
use crate::kernel::kmsg::{Level, Record};
use crate::line::Bytes;
use crate::toolbox::getopt::{Arg, Getopt, Long, Refusal, Spec};
use core::fmt::{self, Write as _};

/// util-linux's options; those modinit's dmesg lacks are refused by name, not as unknown.
const SPEC: Spec = Spec {
    short: b"CcDdEeF:f:HhJkLl:n:iPprSs:TtuVWwx",
    long: &[
        Long { name: "buffer-size", value: true, id: b's' },
        Long { name: "clear", value: false, id: b'C' },
        Long { name: "color", value: false, id: b'L' },
        Long { name: "console-level", value: true, id: b'n' },
        Long { name: "console-off", value: false, id: b'D' },
        Long { name: "console-on", value: false, id: b'E' },
        Long { name: "decode", value: false, id: b'x' },
        Long { name: "file", value: true, id: b'F' },
        Long { name: "facility", value: true, id: b'f' },
        Long { name: "follow", value: false, id: b'w' },
        Long { name: "follow-new", value: false, id: b'W' },
        Long { name: "human", value: false, id: b'H' },
        Long { name: "help", value: false, id: b'h' },
        Long { name: "json", value: false, id: b'J' },
        Long { name: "kernel", value: false, id: b'k' },
        Long { name: "level", value: true, id: b'l' },
        Long { name: "syslog", value: false, id: b'S' },
        Long { name: "raw", value: false, id: b'r' },
        Long { name: "read-clear", value: false, id: b'c' },
        Long { name: "reltime", value: false, id: b'e' },
        Long { name: "show-delta", value: false, id: b'd' },
        Long { name: "ctime", value: false, id: b'T' },
        Long { name: "notime", value: false, id: b't' },
        Long { name: "nopager", value: false, id: b'P' },
        Long { name: "userspace", value: false, id: b'u' },
        Long { name: "version", value: false, id: b'V' },
        Long { name: "force-prefix", value: false, id: b'p' },
    ],
};

/// What to show and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DmesgOptions {
    /// `-r`: `<PRI>` before each line, PRI = facility << 3 | level.
    pub raw: bool,
    /// `-x`: the facility and level by name before each line.
    pub decode: bool,
    /// `-w`: wait for new records after the last one.
    pub follow: bool,
    /// `-l LIST`: only these levels.
    pub levels: Option<Levels>,
    /// `-k` (the kernel's) or `-u` (user space's): only these facilities, a bit each.
    pub facilities: Option<u16>,
}

/// A set of levels (`-l err,warn` or `-l 3,4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels(u8);

impl Levels {
    pub fn contains(self, level: Level) -> bool {
        self.0 & (1 << level as u8) != 0
    }
}

/// What util-linux says after a usage error.
pub const TRY_HELP: &str = "Try 'dmesg --help' for more information.";

/// dmesg's own reasons to refuse a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmesgArgError<'a> {
    /// util-linux: "unknown level '%s'", the list from the bad name on.
    UnknownLevel(&'a [u8]),
    /// `-r` and `-x` together: "mutually exclusive arguments: --raw --decode".
    RawAndDecode,
    /// An operand: util-linux says "bad usage".
    BadUsage,
}

impl fmt::Display for DmesgArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DmesgArgError::UnknownLevel(l) => write!(f, "unknown level '{}'", Bytes(l)),
            DmesgArgError::RawAndDecode => f.write_str("mutually exclusive arguments: --raw --decode"),
            DmesgArgError::BadUsage => write!(f, "bad usage\n{TRY_HELP}"),
        }
    }
}

/// Parses `args` (without the program name).
pub fn parse<'a>(args: &[&'a [u8]]) -> Result<DmesgOptions, Refusal<'a, DmesgArgError<'a>>> {
    let mut opts = DmesgOptions::default();
    for arg in Getopt::new(&SPEC, args) {
        match arg? {
            Arg::Opt(b'h', _) => return Err(Refusal::Help),
            Arg::Opt(b'r', _) if opts.decode => return Err(Refusal::Tool(DmesgArgError::RawAndDecode)),
            Arg::Opt(b'x', _) if opts.raw => return Err(Refusal::Tool(DmesgArgError::RawAndDecode)),
            Arg::Opt(b'r', _) => opts.raw = true,
            Arg::Opt(b'x', _) => opts.decode = true,
            Arg::Opt(b'w', _) => opts.follow = true,
            // There is no pager to turn off.
            Arg::Opt(b'P', _) => {}
            Arg::Opt(b'k', _) => opts.facilities = Some(opts.facilities.unwrap_or(0) | KERNEL_FACILITY),
            Arg::Opt(b'u', _) => opts.facilities = Some(opts.facilities.unwrap_or(0) | USER_FACILITIES),
            Arg::Opt(b'l', Some(list)) => {
                let more = parse_levels(list)?;
                opts.levels = Some(Levels(opts.levels.map_or(0, |l| l.0) | more.0));
            }
            Arg::Opt(other, _) => return Err(Refusal::Unsupported(SPEC.name(other))),
            Arg::Operand(_) => return Err(Refusal::Tool(DmesgArgError::BadUsage)),
        }
    }
    Ok(opts)
}

/// util-linux's `string_to_bitarray` with `parse_level`: comma-separated names (any case)
/// or numbers 0-7. An empty name (`-l ,err`) fails without a word, as in util-linux.
fn parse_levels(list: &[u8]) -> Result<Levels, Refusal<'_, DmesgArgError<'_>>> {
    let mut set = 0u8;
    let mut start = 0;
    while start < list.len() {
        let rest = &list[start..];
        let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        // util-linux ends the last name at the end of the string, a trailing comma included.
        let end = if end + 1 == rest.len() { rest.len() } else { end };
        let name = &rest[..end];
        if name.is_empty() {
            return Err(Refusal::Quiet);
        }
        let level = match name {
            [d, ..] if d.is_ascii_digit() => {
                decimal(name).and_then(|n| u8::try_from(n).ok()).and_then(Level::from_number)
            }
            _ => (0..8).filter_map(Level::from_number).find(|l| l.name().as_bytes().eq_ignore_ascii_case(name)),
        };
        set |= 1 << level.ok_or(Refusal::Tool(DmesgArgError::UnknownLevel(rest)))? as u8;
        start += end + 1;
    }
    Ok(Levels(set))
}

const KERNEL_FACILITY: u16 = 1;
/// Every facility util-linux names but the kernel's.
const USER_FACILITIES: u16 = (1 << FACILITIES.len()) - 2;

/// util-linux's facility names, by number; records of other facilities get no `-x` prefix.
const FACILITIES: [&str; 12] =
    ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];

impl DmesgOptions {
    /// Whether `record` is shown (`-l`, `-k`, `-u`).
    pub fn accepts(&self, record: &Record<'_>) -> bool {
        let facility = 1u16.checked_shl(u32::from(record.facility)).unwrap_or(0);
        self.levels.is_none_or(|l| l.contains(record.level)) && self.facilities.is_none_or(|f| f & facility != 0)
    }

    /// Writes `record` as util-linux's dmesg prints it, its final newline included.
    pub fn format(&self, record: &Record<'_>, out: &mut impl fmt::Write) -> fmt::Result {
        let mut text = record.text().peekable();
        if text.peek().is_none() {
            return out.write_char('\n');
        }
        let mut prefix = Counted { out, written: 0 };
        let facility = FACILITIES.get(usize::from(record.facility));
        let (seconds, micros) = (record.usec / 1_000_000, record.usec % 1_000_000);
        if self.raw {
            let priority = u32::from(record.facility) << 3 | record.level as u32;
            write!(prefix, "<{priority}>")?;
        } else if let (true, Some(facility)) = (self.decode, facility) {
            write!(prefix, "{facility:<6}:{:<6}: ", record.level.name())?;
        }
        write!(prefix, "[{seconds:5}.{micros:06}] ")?;
        let indent = prefix.written;
        while let Some(b) = text.next() {
            match b {
                b'\n' if text.peek().is_some() => write!(out, "\n{:indent$}", "")?,
                b' '..=b'~' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => out.write_char(char::from(b))?,
                _ => write!(out, "\\x{b:02x}")?,
            }
        }
        out.write_char('\n')
    }
}

/// A writer that counts what goes through it (the prefix's width).
struct Counted<'w, W> {
    out: &'w mut W,
    written: usize,
}

impl<W: fmt::Write> fmt::Write for Counted<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.written += s.len();
        self.out.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::getopt::{GetoptError, OptionName};
    use std::process::Command;
    use std::string::String;
    use std::vec::Vec;

    fn run(line: &str) -> Result<DmesgOptions, Refusal<'_, DmesgArgError<'_>>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        parse(&args)
    }

    fn show(opts: &DmesgOptions, raw: &[u8]) -> String {
        let mut s = String::new();
        let r = Record::parse(raw).unwrap();
        if opts.accepts(&r) {
            opts.format(&r, &mut s).unwrap();
        }
        s
    }

    #[test]
    fn options_and_level_lists() {
        assert_eq!(run("").unwrap(), DmesgOptions::default());
        let o = run("-x -w -l err,WARN -l 7").unwrap();
        assert!(o.decode && o.follow && !o.raw);
        let levels = o.levels.unwrap();
        assert!(levels.contains(Level::Err) && levels.contains(Level::Warn) && levels.contains(Level::Debug));
        assert!(!levels.contains(Level::Info));
        assert_eq!(run("--raw --level=0").unwrap().levels, Some(Levels(1)));
        assert_eq!(run("-k").unwrap().facilities, Some(1));
        assert_eq!(run("-u --kernel").unwrap().facilities, Some(0xfff));
    }

    #[test]
    fn refusals_read_like_util_linuxs() {
        assert_eq!(run("-l err,bogus,info"), Err(Refusal::Tool(DmesgArgError::UnknownLevel(b"bogus,info"))));
        assert_eq!(run("-l 8"), Err(Refusal::Tool(DmesgArgError::UnknownLevel(b"8"))));
        assert_eq!(run("-l err,"), Err(Refusal::Tool(DmesgArgError::UnknownLevel(b"err,"))));
        assert_eq!(run("-l ,err"), Err(Refusal::Quiet));
        assert_eq!(run("-r -x"), Err(Refusal::Tool(DmesgArgError::RawAndDecode)));
        assert_eq!(run("-T"), Err(Refusal::Unsupported(OptionName::Short(b'T'))));
        assert_eq!(run("-q"), Err(Refusal::Getopt(GetoptError::InvalidOption(b'q'))));
        assert_eq!(run("foo"), Err(Refusal::Tool(DmesgArgError::BadUsage)));
        assert_eq!(run("--help"), Err(Refusal::Help));
    }

    #[test]
    fn the_three_line_formats() {
        let record = b"6,180,1069549,-;acpi PNP0A03:00: _OSC\n SUBSYSTEM=acpi\n";
        assert_eq!(show(&DmesgOptions::default(), record), "[    1.069549] acpi PNP0A03:00: _OSC\n");
        let raw = DmesgOptions { raw: true, ..Default::default() };
        assert_eq!(show(&raw, b"14,3,1234567890,-;user says hi\n"), "<14>[ 1234.567890] user says hi\n");
        let decode = DmesgOptions { decode: true, ..Default::default() };
        assert_eq!(show(&decode, b"3,4,5,-;bad\n"), "kern  :err   : [    0.000005] bad\n");
        assert_eq!(show(&decode, b"99,4,5,-;odd facility\n"), "[    0.000005] odd facility\n");
        let levels = DmesgOptions { levels: Some(Levels(1 << 3)), ..Default::default() };
        assert_eq!(show(&levels, b"4,4,5,-;a warning\n"), "");
        let kernel = DmesgOptions { facilities: Some(KERNEL_FACILITY), ..Default::default() };
        assert_eq!(show(&kernel, b"14,4,5,-;modinit: a user record\n"), "");
        assert_eq!(show(&kernel, b"6,4,5,-;a kernel record\n"), "[    0.000005] a kernel record\n");
        assert_eq!(show(&DmesgOptions::default(), b"4,4,5,-;\n"), "\n", "an empty record is an empty line");
    }

    #[test]
    fn text_bytes_and_line_breaks() {
        let o = DmesgOptions::default();
        assert_eq!(show(&o, b"6,1,0,-;a\\x0ab\\x0a\n"), "[    0.000000] a\n               b\n\n");
        assert_eq!(
            show(&o, b"6,1,0,-;t\\x09\\x1b[m\\xc3\\xa9\\x5c\\x00\n"),
            "[    0.000000] t\t\\x1b[m\\xc3\\xa9\\\\x00\n"
        );
        let raw = DmesgOptions { raw: true, ..Default::default() };
        assert_eq!(show(&raw, b"6,1,0,-;a\\x0ab\n"), "<6>[    0.000000] a\n                  b\n");
    }

    /// util-linux's own dmesg over the kernel log capture (`dmesg -F FILE` reads a syslog(2)
    /// style buffer, so each record is given as `<PRI>[TIME] text`): every record's line must
    /// be the same, in each format. Skipped when the host has no dmesg.
    #[test]
    fn equals_util_linux_dmesg_on_a_real_capture() {
        const CAPTURE: &str = include_str!("../../tests/fixtures/kmsg/debian-6.1-qemu.kmsg");
        let records: Vec<Record<'_>> = CAPTURE
            .lines()
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| Record::parse(l.as_bytes()).ok())
            .filter(|r| !r.text().any(|b| b == b'\n'))
            .collect();
        assert!(records.len() > 300);
        let dir = tempfile_dir();
        let file = dir.join("buffer");
        let mut buffer = String::new();
        for r in &records {
            let text: Vec<u8> = r.text().collect();
            let (s, us) = (r.usec / 1_000_000, r.usec % 1_000_000);
            let prio = u32::from(r.facility) << 3 | r.level as u32;
            buffer.push_str(&format!("<{prio}>[{s:5}.{us:06}] {}\n", String::from_utf8_lossy(&text)));
        }
        std::fs::write(&file, &buffer).unwrap();
        for (flags, opts) in [
            ("", DmesgOptions::default()),
            ("-x", DmesgOptions { decode: true, ..Default::default() }),
            ("-l err,warn", DmesgOptions { levels: Some(Levels(1 << 3 | 1 << 4)), ..Default::default() }),
        ] {
            let mut args = vec!["-F", file.to_str().unwrap()];
            args.extend(flags.split(' ').filter(|f| !f.is_empty()));
            let Ok(out) = Command::new("dmesg").args(&args).env("LC_ALL", "C").output() else {
                return modinit_test_fixtures::unavailable("util-linux's dmesg");
            };
            let theirs = String::from_utf8_lossy(&out.stdout);
            let mut ours = String::new();
            for r in records.iter().filter(|r| opts.accepts(r)) {
                opts.format(r, &mut ours).unwrap();
            }
            assert_eq!(ours, theirs, "dmesg {flags}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("modinit-dmesg-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
