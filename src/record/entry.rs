//! One line of the boot record, written ([`ModuleLine`], [`SummaryLine`], [`ConsoleLine`],
//! [`KernelLine`], [`Header`]: the kind and its fields; the writer puts the time first) and
//! read back ([`parse`]).
//!
//! A line is `TIME KIND FIELDS...`: TIME is the kernel's clock (CLOCK_MONOTONIC, what /dev/kmsg
//! stamps its records with and dmesg prints), `S.UUUUUU` seconds. Fields are `KEY=VALUE` words
//! after a module's name and outcome; a value never holds a space, a control character or a
//! backslash, which are written `\xNN` as the kernel escapes /dev/kmsg text (the text at the end
//! of a line, `why=` or a message, keeps its spaces).

use crate::decimal::decimal;
use crate::kernel::kmsg::{Level, Record};
use crate::loading::named::Origin;
use crate::name::module_name;
use crate::resolve::{Step, Target};
use core::fmt::{self, Display, Write};

/// The format's version, the number after `record` on the first line.
pub const VERSION: u64 = 1;

/// A time on the kernel's clock, in microseconds; shown as dmesg shows it (`S.UUUUUU`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(pub u64);

impl Stamp {
    fn parse(word: &[u8]) -> Option<Stamp> {
        let dot = word.iter().position(|&b| b == b'.')?;
        let (seconds, micros) = (&word[..dot], &word[dot + 1..]);
        if micros.len() != 6 {
            return None;
        }
        Some(Stamp(decimal(seconds)?.checked_mul(1_000_000)?.checked_add(decimal(micros)?)?))
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn ms_since(self, earlier: Stamp) -> u64 {
        self.0.saturating_sub(earlier.0) / 1000
    }
}

impl Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// What became of a module the phase took up; the first four are the summary line's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Loaded,
    Builtin,
    /// Blacklisted, or its driver found no device (ENODEV, ENOENT from its init).
    Skipped,
    Failed,
    /// A softdep or optional name that failed: not counted, as kmod ignores it.
    Ignored,
}

const OUTCOMES: [(Outcome, &str); 5] = [
    (Outcome::Loaded, "loaded"),
    (Outcome::Builtin, "builtin"),
    (Outcome::Skipped, "skipped"),
    (Outcome::Failed, "failed"),
    (Outcome::Ignored, "ignored"),
];

impl Outcome {
    pub fn name(self) -> &'static str {
        OUTCOMES.iter().find(|(o, _)| *o == self).map_or("?", |(_, n)| n)
    }

    fn named(word: &[u8]) -> Option<Outcome> {
        OUTCOMES.iter().find(|(_, n)| n.as_bytes() == word).map(|(o, _)| *o)
    }
}

/// A module line's `source=` for a module the kernel asked for (`request_module()`).
pub const REQUEST: &str = "request";

/// A module line's `source=` for a module in /proc/modules when modinit started.
pub const ALREADY_LOADED: &str = "already-loaded";

/// A module line's `source=` for a name of `origin`: the command-line parameter without its
/// `=`, `modules-load.d`, `device` or `root-fs`.
pub fn source_word(origin: Origin) -> &'static str {
    match origin {
        Origin::DriverPre => "rd.driver.pre",
        Origin::EarlyModules => "earlymodules",
        Origin::ModulesLoad => "modules_load",
        Origin::RdModulesLoad => "rd.modules_load",
        Origin::ModulesLoadD => "modules-load.d",
        Origin::DriverPost => "rd.driver.post",
        Origin::Device => "device",
        Origin::RootFilesystem => "root-fs",
    }
}

/// `record VERSION`: the first line.
pub struct Header;

impl Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {VERSION}")
    }
}

/// `module NAME OUTCOME [start=TIME] [worker=N] key=KEY [source=SOURCE] [needs=A,B] [why=TEXT]`:
/// what became of one module; the line's time is when its insert ended (or when it was found
/// builtin, blacklisted, ...).
pub struct ModuleLine<'a> {
    pub name: &'a [u8],
    pub outcome: Outcome,
    /// When its insert started; None when it was not inserted.
    pub start: Option<Stamp>,
    /// The worker slot that inserted it; None for none (not inserted, or a kernel request).
    pub worker: Option<usize>,
    /// The name, alias or modalias whose lookup found it.
    pub key: &'a [u8],
    /// Where the key came from (a device, a command-line list, ...), when known.
    pub source: Option<&'a str>,
    /// Its probe list's steps before it: what its insert waited for.
    pub needs: &'a [Step<'a>],
    pub why: Option<&'a dyn Display>,
}

impl<'a> Display for ModuleLine<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module {} {}", Word(self.name), self.outcome.name())?;
        if let Some(start) = self.start {
            write!(f, " start={start}")?;
        }
        if let Some(worker) = self.worker {
            write!(f, " worker={worker}")?;
        }
        write!(f, " key={}", Word(self.key))?;
        if let Some(source) = self.source {
            write!(f, " source={}", Word(source.as_bytes()))?;
        }
        // Modules, each once (a probe list may name one twice), builtins left out.
        let stem = |s: &Step<'a>| match s.target {
            Target::Module(m) if !m.builtin => Some(m.stem),
            _ => None,
        };
        let needs = self.needs.iter().enumerate().filter_map(|(i, s)| {
            let name = stem(s)?;
            (!self.needs[..i].iter().any(|before| stem(before) == Some(name))).then_some(name)
        });
        for (i, name) in needs.enumerate() {
            f.write_str(if i == 0 { " needs=" } else { "," })?;
            module_name(name).try_for_each(|b| escape_byte(f, b, true))?;
        }
        if let Some(why) = self.why {
            f.write_str(" why=")?;
            write!(Escaping { out: f, in_word: false }, "{why}")?;
        }
        Ok(())
    }
}

/// The phase's counts, as its console summary line has them, and how long it took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SummaryLine {
    pub loaded: u64,
    pub builtin: u64,
    pub skipped: u64,
    pub failed: u64,
    pub ms: u64,
}

impl Display for SummaryLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        write!(
            f,
            "summary loaded={} builtin={} skipped={} failed={} ms={}",
            s.loaded, s.builtin, s.skipped, s.failed, s.ms
        )
    }
}

/// `console LEVEL TEXT`: a line modinit printed (without its `modinit: ` prefix).
pub struct ConsoleLine<'a> {
    pub level: Level,
    pub text: &'a [u8],
}

impl Display for ConsoleLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "console {} ", self.level.name())?;
        escape_bytes(f, self.text, false)
    }
}

/// `kernel LEVEL TEXT`: a kernel message modinit showed on the console; the line's time is
/// the kernel's own for it (so lines of this kind may come out of order).
pub struct KernelLine<'a>(pub &'a Record<'a>);

impl Display for KernelLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The kernel escaped its text as this format does (`\xNN` below a space, from DEL, and
        // for a backslash): it is written as it is.
        write!(f, "kernel {} ", self.0.level.name())?;
        self.0.text().0.iter().try_for_each(|&b| if b == b'\\' { f.write_char('\\') } else { escape_byte(f, b, false) })
    }
}

/// Raw bytes as one word: spaces escaped too.
struct Word<'a>(&'a [u8]);

impl Display for Word<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape_bytes(f, self.0, true)
    }
}

/// Writes `bytes` escaped: UTF-8 text passes whole but for the ASCII [`escape_byte`] escapes;
/// bytes that are not UTF-8 are written `\xNN`.
fn escape_bytes(out: &mut dyn Write, bytes: &[u8], in_word: bool) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        Escaping { out: &mut *out, in_word }.write_str(chunk.valid())?;
        chunk.invalid().iter().try_for_each(|b| write!(out, "\\x{b:02x}"))?;
    }
    Ok(())
}

/// Writes the ASCII byte `b`, escaped as `\xNN` when it is a control character, DEL, a
/// backslash or (in a word) a space.
fn escape_byte(out: &mut dyn Write, b: u8, in_word: bool) -> fmt::Result {
    match b {
        b' ' if in_word => write!(out, "\\x{b:02x}"),
        0..0x20 | 0x7f.. | b'\\' => write!(out, "\\x{b:02x}"),
        _ => out.write_char(b as char),
    }
}

/// Escapes what a [`Display`] writes: ASCII as [`escape_byte`] says, other characters whole.
struct Escaping<'w> {
    out: &'w mut dyn Write,
    in_word: bool,
}

impl Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match u8::try_from(c) {
                Ok(b) if b.is_ascii() => escape_byte(self.out, b, self.in_word)?,
                _ => self.out.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A module line read back. Values are as written (escaped, see [`unescaped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module<'a> {
    pub name: &'a [u8],
    pub outcome: Outcome,
    /// The start of its insert (the line's time for a module not inserted).
    pub start: Stamp,
    pub worker: Option<u16>,
    pub key: &'a [u8],
    pub source: Option<&'a [u8]>,
    /// Comma-separated names (see [`Module::needs`]); empty for none.
    needs: &'a [u8],
    /// The explanation, empty when there is none.
    pub why: &'a [u8],
    /// Whether it went to the kernel (has `start=`).
    pub inserted: bool,
}

impl<'a> Module<'a> {
    /// The modules before it in its probe list, which its insert waited for.
    pub fn needs(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.needs.split(|&b| b == b',').filter(|n| !n.is_empty())
    }

    /// [`Module::needs`] as written.
    pub(super) fn needs_text(&self) -> &'a [u8] {
        self.needs
    }
}

/// One line of a record, read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    Header { version: u64 },
    Module(Module<'a>),
    Summary(SummaryLine),
    Console { level: Level, text: &'a [u8] },
    Kernel { level: Level, text: &'a [u8] },
}

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineError(pub &'static str);

impl Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads one line (without its newline): its time and what it says.
pub fn parse(line: &[u8]) -> Result<(Stamp, Entry<'_>), LineError> {
    let (time, rest) = split_word(line);
    let at = Stamp::parse(time).ok_or(LineError("the time is not SECONDS.MICROSECONDS"))?;
    let (kind, rest) = split_word(rest);
    let entry = match kind {
        b"record" => Entry::Header { version: decimal(rest).ok_or(LineError("`record` without a version number"))? },
        b"module" => Entry::Module(module(rest, at)?),
        b"summary" => Entry::Summary(summary(rest)?),
        b"console" | b"kernel" => {
            let (level, text) = split_word(rest);
            let level = Level::from_name(level).ok_or(LineError("no message level (err, warn, info, ...)"))?;
            if kind == b"console" { Entry::Console { level, text } } else { Entry::Kernel { level, text } }
        }
        b"" => return Err(LineError("a time and nothing else")),
        _ => return Err(LineError("an unknown kind of line (not record, module, summary, console or kernel)")),
    };
    Ok((at, entry))
}

fn module(rest: &[u8], at: Stamp) -> Result<Module<'_>, LineError> {
    let (name, rest) = split_word(rest);
    let (outcome, mut rest) = split_word(rest);
    if name.is_empty() {
        return Err(LineError("a module line without a name"));
    }
    let outcome = Outcome::named(outcome).ok_or(LineError("no outcome (loaded, builtin, skipped, failed, ignored)"))?;
    let mut m = Module {
        name,
        outcome,
        start: at,
        worker: None,
        key: b"",
        source: None,
        needs: b"",
        why: b"",
        inserted: false,
    };
    while !rest.is_empty() {
        if let Some(why) = rest.strip_prefix(b"why=") {
            m.why = why;
            break;
        }
        let (field, after) = split_word(rest);
        rest = after;
        let eq = field.iter().position(|&b| b == b'=').ok_or(LineError("a module field without `=`"))?;
        let (key, value) = (&field[..eq], &field[eq + 1..]);
        match key {
            b"start" => {
                m.start = Stamp::parse(value).ok_or(LineError("start= is not SECONDS.MICROSECONDS"))?;
                if m.start > at {
                    return Err(LineError("start= is after the line's time"));
                }
                m.inserted = true;
            }
            b"worker" => {
                let n = decimal(value).and_then(|n| u16::try_from(n).ok());
                m.worker = Some(n.ok_or(LineError("worker= is not a worker number"))?);
            }
            b"key" => m.key = value,
            b"source" => m.source = Some(value),
            b"needs" => m.needs = value,
            _ => return Err(LineError("an unknown module field")),
        }
    }
    Ok(m)
}

fn summary(rest: &[u8]) -> Result<SummaryLine, LineError> {
    let mut s = SummaryLine::default();
    for field in rest.split(|&b| b == b' ') {
        let eq = field.iter().position(|&b| b == b'=').ok_or(LineError("a summary field without `=`"))?;
        let n = decimal(&field[eq + 1..]).ok_or(LineError("a summary count that is not a number"))?;
        match &field[..eq] {
            b"loaded" => s.loaded = n,
            b"builtin" => s.builtin = n,
            b"skipped" => s.skipped = n,
            b"failed" => s.failed = n,
            b"ms" => s.ms = n,
            _ => return Err(LineError("an unknown summary field")),
        }
    }
    Ok(s)
}

/// The first word of `text` and what follows the space after it.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, b""),
    }
}

/// A value or text as it was before escaping.
pub fn unescaped(value: &[u8]) -> crate::kernel::kmsg::Unescaped<'_> {
    crate::kernel::kmsg::Unescaped(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::{String, ToString};

    #[test]
    fn stamps_read_back_as_written() {
        for us in [0, 1, 999_999, 1_000_000, 12_345_678_901] {
            assert_eq!(Stamp::parse(Stamp(us).to_string().as_bytes()), Some(Stamp(us)));
        }
        for bad in ["1", "1.5", "1.1234567", ".000001", "a.000001", "1.00000x"] {
            assert_eq!(Stamp::parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn a_module_line_reads_back_with_its_text_unescaped() {
        let why = "No such device (ENODEV)\nsecond line \\ with a backslash";
        let line = ModuleLine {
            name: b"snd_hda_intel",
            outcome: Outcome::Skipped,
            start: Some(Stamp(1_200_000)),
            worker: Some(3),
            key: b"pci:v00008086d00002668sv*sd*bc04sc03i00 x",
            source: Some("device"),
            needs: &[],
            why: Some(&why),
        };
        let text = std::format!("1.300000 {line}");
        assert!(!text.contains('\n'));
        let (at, Entry::Module(m)) = parse(text.as_bytes()).unwrap() else { panic!("{text}") };
        assert_eq!((at, m.start, m.worker, m.inserted), (Stamp(1_300_000), Stamp(1_200_000), Some(3), true));
        assert_eq!((m.name, m.outcome, m.source), (&b"snd_hda_intel"[..], Outcome::Skipped, Some(&b"device"[..])));
        assert_eq!(unescaped(m.key).collect::<Vec<u8>>(), b"pci:v00008086d00002668sv*sd*bc04sc03i00 x");
        assert_eq!(String::from_utf8(unescaped(m.why).collect()).unwrap(), why);
        assert_eq!(m.needs().count(), 0);
    }

    #[test]
    fn other_lines_read_back() {
        let s = SummaryLine { loaded: 39, builtin: 1, skipped: 2, failed: 0, ms: 2415 };
        assert_eq!(parse(std::format!("2.000000 {s}").as_bytes()), Ok((Stamp(2_000_000), Entry::Summary(s))));
        assert_eq!(
            parse(std::format!("0.500000 {Header}").as_bytes()),
            Ok((Stamp(500_000), Entry::Header { version: VERSION }))
        );
        let c = ConsoleLine { level: Level::Err, text: "cannot load x: é\tok".as_bytes() };
        let text = std::format!("1.000000 {c}");
        assert_eq!(text, "1.000000 console err cannot load x: é\\x09ok");
        let Ok((_, Entry::Console { level: Level::Err, text })) = parse(text.as_bytes()) else { panic!() };
        assert_eq!(unescaped(text).collect::<Vec<u8>>(), "cannot load x: é\tok".as_bytes());
        let raw = b"3,120,1234567,-;ahci 0000:00:1f.2: failed \\x1b[m\n SUBSYSTEM=pci";
        let record = Record::parse(raw).unwrap();
        let text = std::format!("1.234567 {}", KernelLine(&record));
        assert_eq!(text, "1.234567 kernel err ahci 0000:00:1f.2: failed \\x1b[m");
    }

    #[test]
    fn malformed_lines_are_refused_by_what_is_wrong() {
        for (line, what) in [
            ("", "the time"),
            ("1.0 module x loaded", "the time"),
            ("1.000000", "nothing else"),
            ("1.000000 modules x loaded", "unknown kind"),
            ("1.000000 module", "without a name"),
            ("1.000000 module x fine", "no outcome"),
            ("1.000000 module x loaded start", "without `=`"),
            ("1.000000 module x loaded start=2.000000", "after the line's time"),
            ("1.000000 module x loaded worker=99999999", "worker="),
            ("1.000000 module x loaded colour=red", "unknown module field"),
            ("1.000000 summary loaded=x", "not a number"),
            ("1.000000 console loud text", "level"),
            ("1.000000 record v1", "version"),
        ] {
            let e = parse(line.as_bytes()).expect_err(line);
            assert!(e.0.contains(what), "{line}: {e}");
        }
    }
}
