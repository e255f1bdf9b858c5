//! Records of the kernel log as /dev/kmsg hands them out (Documentation/ABI/testing/dev-kmsg).
//!
//! Each read() returns one record: `PRIO,SEQ,USEC,FLAG[,more fields];TEXT\n`, then zero or
//! more continuation lines that start with a space and carry `KEY=VALUE` (`SUBSYSTEM=`,
//! `DEVICE=`). PRIO is `facility << 3 | level`. In TEXT and VALUE the kernel escapes
//! non-printable bytes and `\` as `\xNN`. Unknown fields are ignored, as the ABI asks.

use crate::decimal::decimal;
use core::fmt;

/// Severity of a record, 0 (most severe) to 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warn = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

const LEVELS: [Level; 8] =
    [Level::Emerg, Level::Alert, Level::Crit, Level::Err, Level::Warn, Level::Notice, Level::Info, Level::Debug];

impl Level {
    pub fn from_number(n: u8) -> Option<Level> {
        LEVELS.get(usize::from(n)).copied()
    }

    /// The name the kernel and util-linux use (`err`, `warn`, ...).
    pub fn name(self) -> &'static str {
        ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"][self as usize]
    }

    pub fn from_name(name: &[u8]) -> Option<Level> {
        LEVELS.iter().copied().find(|l| l.name().as_bytes() == name)
    }
}

/// The facility of the kernel's own messages; anything else was written by user space.
pub const FACILITY_KERNEL: u8 = 0;

/// One parsed record. Its text and dictionary stay escaped until displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub facility: u8,
    pub level: Level,
    pub seq: u64,
    /// Microseconds since boot (CLOCK_MONOTONIC) when the kernel logged it.
    pub usec: u64,
    /// FLAG `c`: a fragment continued by the next record.
    pub continued: bool,
    text: &'a [u8],
    dict: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// No `;` separates the prefix from the text.
    NoText,
    /// PRIO, SEQ or USEC is missing or not a decimal number.
    BadField(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NoText => f.write_str("kmsg record without ';' before its text"),
            ParseError::BadField(name) => write!(f, "kmsg record with a bad {name} field"),
        }
    }
}

impl<'a> Record<'a> {
    /// Parses one record as returned by a single read() of /dev/kmsg.
    pub fn parse(buf: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let semi = buf.iter().position(|&b| b == b';').ok_or(ParseError::NoText)?;
        let (prefix, body) = (&buf[..semi], &buf[semi + 1..]);
        let mut fields = prefix.split(|&b| b == b',');
        let prio = number(fields.next(), "PRIO")?;
        let seq = number(fields.next(), "SEQ")?;
        let usec = number(fields.next(), "USEC")?;
        let continued = fields.next() == Some(b"c");
        let (text, dict) = match body.iter().position(|&b| b == b'\n') {
            Some(nl) => (&body[..nl], &body[nl + 1..]),
            None => (body, &[][..]),
        };
        Ok(Record {
            facility: u8::try_from(prio >> 3).unwrap_or(u8::MAX),
            level: Level::from_number((prio & 7) as u8).unwrap_or(Level::Debug),
            seq,
            usec,
            continued,
            text,
            dict,
        })
    }

    /// The message text, with `\xNN` escapes decoded when displayed.
    pub fn text(&self) -> Unescaped<'a> {
        Unescaped(self.text)
    }

    /// The record's `KEY=VALUE` continuation lines (values still escaped).
    pub fn dict(&self) -> impl Iterator<Item = (&'a [u8], Unescaped<'a>)> + 'a {
        self.dict.split(|&b| b == b'\n').filter_map(|line| line.strip_prefix(b" ")).filter_map(|line| {
            let eq = line.iter().position(|&b| b == b'=')?;
            Some((&line[..eq], Unescaped(&line[eq + 1..])))
        })
    }
}

fn number(field: Option<&[u8]>, name: &'static str) -> Result<u64, ParseError> {
    field.and_then(decimal).ok_or(ParseError::BadField(name))
}

/// Escaped kmsg text; iterating gives the original bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unescaped<'a>(pub &'a [u8]);

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        if let [b'\\', b'x', hi, lo, after @ ..] = self.0
            && let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo))
        {
            self.0 = after;
            return Some(hi << 4 | lo);
        }
        self.0 = rest;
        Some(first)
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Writes a record for a console: each line of its text as
/// `[    3.141592] <err> text`, the kernel's own timestamp format plus the level.
/// Control characters other than tab are shown escaped, so a record cannot move the cursor:
/// C0 and DEL, and the C1 controls U+0080..U+009F in UTF-8 (U+009B is CSI to a UTF-8 terminal).
pub fn format_for_console(record: &Record<'_>, out: &mut impl fmt::Write) -> fmt::Result {
    let prefix = |out: &mut dyn fmt::Write| {
        write!(out, "[{:5}.{:06}] <{}> ", record.usec / 1_000_000, record.usec % 1_000_000, record.level.name())
    };
    prefix(out)?;
    let mut pending = [0u8; 4];
    let mut len = 0;
    for b in record.text() {
        if b == b'\n' {
            out.write_char('\n')?;
            prefix(out)?;
            continue;
        }
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            write!(out, "\\x{b:02x}")?;
            continue;
        }
        // Reassemble UTF-8 sequences; a broken one is shown escaped.
        pending[len] = b;
        len += 1;
        match core::str::from_utf8(&pending[..len]) {
            Ok(s) if !s.chars().any(|c| c.is_control() && c != '\t') => {
                out.write_str(s)?;
                len = 0;
            }
            Err(e) if e.error_len().is_none() && len < 4 => {}
            // A C1 control, or a broken sequence.
            Ok(_) | Err(_) => {
                for b in &pending[..len] {
                    write!(out, "\\x{b:02x}")?;
                }
                len = 0;
            }
        }
    }
    for b in &pending[..len] {
        write!(out, "\\x{b:02x}")?;
    }
    out.write_char('\n')
}

/// Follows the kernel log for a console: decides which records to show and notices lost ones.
///
/// A record is shown when the kernel wrote it (not user space), it is at least as severe as
/// `show`, and the kernel did not print it on its console already (its level is not below
/// `console_loglevel`). No sequence number is shown twice.
#[derive(Debug, Clone)]
pub struct Follow {
    show: Option<Level>,
    console_loglevel: u8,
    last_seq: Option<u64>,
    overflowed: bool,
}

/// What the console should get for one record read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Records were overwritten before they were read: how many, when known.
    Lost(Option<u64>),
    Show(Record<'a>),
}

impl Follow {
    pub fn new(show: Option<Level>, console_loglevel: u8) -> Follow {
        Follow { show, console_loglevel, last_seq: None, overflowed: false }
    }

    /// The last read failed with EPIPE: the kernel overwrote records we had not read.
    pub fn overflowed(&mut self) {
        self.overflowed = true;
    }

    /// Takes one record as read from /dev/kmsg and reports what to print, in order.
    /// Unparsable records are skipped.
    pub fn record<'a>(&mut self, raw: &'a [u8], mut emit: impl FnMut(Event<'a>)) {
        let Ok(record) = Record::parse(raw) else { return };
        if self.last_seq.is_some_and(|last| record.seq <= last) {
            return;
        }
        if core::mem::take(&mut self.overflowed) {
            emit(Event::Lost(self.last_seq.map(|last| record.seq - last - 1)));
        }
        self.last_seq = Some(record.seq);
        let printed_by_kernel = (record.level as u8) < self.console_loglevel;
        let wanted = self.show.is_some_and(|show| record.level <= show);
        if record.facility == FACILITY_KERNEL && wanted && !printed_by_kernel {
            emit(Event::Show(record));
        }
    }
}

/// The console loglevel, the first number of /proc/sys/kernel/printk: the kernel prints
/// records of a lower level on its console.
pub fn console_loglevel(printk: &[u8]) -> Option<u8> {
    let first = printk.split(|b| b.is_ascii_whitespace()).find(|f| !f.is_empty())?;
    core::str::from_utf8(first).ok()?.parse().ok()
}

/// What the kernel does with records user space writes to /dev/kmsg
/// (/proc/sys/kernel/printk_devkmsg, or `printk.devkmsg=` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevkmsgPolicy {
    /// Every record is kept.
    On,
    /// Records are silently dropped.
    Off,
    /// Only a burst of 10 records per 5 s per open file is kept (the default).
    Ratelimit,
}

impl DevkmsgPolicy {
    pub fn parse(setting: &[u8]) -> Option<DevkmsgPolicy> {
        match setting.trim_ascii() {
            b"on" => Some(DevkmsgPolicy::On),
            b"off" => Some(DevkmsgPolicy::Off),
            b"ratelimit" => Some(DevkmsgPolicy::Ratelimit),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE: &str = include_str!("../../tests/fixtures/kmsg/debian-6.1-qemu.kmsg");
    const CONSOLE: &str = include_str!("../../tests/fixtures/kmsg/debian-6.1-qemu.console");

    /// The capture is `cat /dev/kmsg` from a Debian 6.1 guest: records back to back, each
    /// a first line and its continuation lines.
    fn captured_records() -> Vec<String> {
        let mut records: Vec<String> = Vec::new();
        for line in CAPTURE.lines() {
            match records.last_mut() {
                Some(r) if line.starts_with(' ') => {
                    r.push_str(line);
                    r.push('\n');
                }
                _ => records.push(format!("{line}\n")),
            }
        }
        records
    }

    fn console(r: &Record<'_>) -> String {
        let mut s = String::new();
        format_for_console(r, &mut s).unwrap();
        s
    }

    #[test]
    fn parses_every_captured_record_with_increasing_seq() {
        let records = captured_records();
        assert!(records.len() > 300, "{} records", records.len());
        let mut last = None;
        for raw in &records {
            let r = Record::parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{e}: {raw}"));
            assert_eq!(r.facility, FACILITY_KERNEL);
            assert!(last < Some(r.seq), "{raw}");
            last = Some(r.seq);
        }
    }

    /// The kernel printed the same records on the serial console (loglevel=8); our text and
    /// timestamps, without our level marker, must equal its lines exactly.
    #[test]
    fn formatting_matches_the_kernels_own_console_output() {
        let console_lines: std::collections::HashSet<&str> = CONSOLE.lines().collect();
        let mut compared = 0;
        for raw in captured_records() {
            let r = Record::parse(raw.as_bytes()).unwrap();
            if r.usec > 3_000_000 {
                continue; // logged after the console capture ended
            }
            let marker = format!("<{}> ", r.level.name());
            for line in console(&r).lines() {
                let kernel_style = line.replacen(&marker, "", 1);
                assert!(console_lines.contains(kernel_style.as_str()), "not on the console: {kernel_style:?}");
                compared += 1;
            }
        }
        assert!(compared > 300, "compared {compared} lines");
    }

    #[test]
    fn continuation_lines_form_the_dictionary() {
        let raw = b"6,180,1069549,-;acpi PNP0A03:00: _OSC: OS supports\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n";
        let r = Record::parse(raw).unwrap();
        assert_eq!(r.text().collect::<Vec<u8>>(), b"acpi PNP0A03:00: _OSC: OS supports");
        let dict: Vec<(Vec<u8>, Vec<u8>)> = r.dict().map(|(k, v)| (k.to_vec(), v.collect())).collect();
        assert_eq!(
            dict,
            vec![(b"SUBSYSTEM".to_vec(), b"acpi".to_vec()), (b"DEVICE".to_vec(), b"+acpi:PNP0A03:00".to_vec())]
        );
    }

    #[test]
    fn reads_facility_level_flags_and_ignores_unknown_fields() {
        let r = Record::parse(b"11,7,42,c,future=1;user message\n").unwrap();
        assert_eq!((r.facility, r.level, r.seq, r.usec, r.continued), (1, Level::Err, 7, 42, true));
        assert_eq!(console(&r), "[    0.000042] <err> user message\n");
    }

    #[test]
    fn escapes_are_decoded_and_control_bytes_stay_harmless() {
        let r = Record::parse(b"3,1,0,-;a\\x5cb\\x09c\\x1b[2Jd\\xffe\\xzz\n").unwrap();
        assert_eq!(r.text().collect::<Vec<u8>>(), b"a\\b\tc\x1b[2Jd\xffe\\xzz");
        assert_eq!(console(&r), "[    0.000000] <err> a\\b\tc\\x1b[2Jd\\xffe\\xzz\n");
    }

    /// Found by fuzzing (fuzz/targets/src/kernel/kmsg.rs): C1 controls, two bytes each in UTF-8,
    /// went to the console as they were.
    #[test]
    fn c1_controls_are_escaped_too() {
        let r = Record::parse(b"6,1,0,-;a\\xc2\\x9b2Jb\\xc2\\xa0c\\xc2\\x85\\xc2\\x80\t\\xc2\n").unwrap();
        assert_eq!(console(&r), "[    0.000000] <info> a\\xc2\\x9b2Jb\u{a0}c\\xc2\\x85\\xc2\\x80\t\\xc2\n");
    }

    #[test]
    fn multi_line_text_repeats_the_prefix() {
        let r = Record::parse(b"4,357,2801792,-;first\\x0asecond\n").unwrap();
        assert_eq!(console(&r), "[    2.801792] <warn> first\n[    2.801792] <warn> second\n");
    }

    #[test]
    fn malformed_records_are_errors() {
        assert_eq!(Record::parse(b"6,1,2,-no semicolon"), Err(ParseError::NoText));
        assert_eq!(Record::parse(b"x,1,2,-;t"), Err(ParseError::BadField("PRIO")));
        assert_eq!(Record::parse(b"6,,2,-;t"), Err(ParseError::BadField("SEQ")));
        assert_eq!(Record::parse(b"6,1;t"), Err(ParseError::BadField("USEC")));
        assert_eq!(Record::parse(b"6,99999999999999999999,2,-;t"), Err(ParseError::BadField("SEQ")));
        // Facility too large for a byte is clamped, not a panic.
        assert_eq!(Record::parse(b"99999,1,2,-;t").unwrap().facility, u8::MAX);
    }

    #[test]
    fn reads_the_console_loglevel_and_devkmsg_policy() {
        assert_eq!(console_loglevel(b"7\t4\t1\t7\n"), Some(7));
        assert_eq!(console_loglevel(b" 4 4 1 7"), Some(4));
        assert_eq!(console_loglevel(b"x"), None);
        assert_eq!(DevkmsgPolicy::parse(b"ratelimit\n"), Some(DevkmsgPolicy::Ratelimit));
        assert_eq!(DevkmsgPolicy::parse(b"on"), Some(DevkmsgPolicy::On));
        assert_eq!(DevkmsgPolicy::parse(b"off\n"), Some(DevkmsgPolicy::Off));
        assert_eq!(DevkmsgPolicy::parse(b"maybe"), None);
    }

    fn follow(f: &mut Follow, raws: &[&'static str]) -> Vec<String> {
        let mut out = Vec::new();
        for raw in raws {
            f.record(raw.as_bytes(), |e| match e {
                Event::Lost(n) => out.push(format!("lost {n:?}")),
                Event::Show(r) => out.push(format!("{}", r.seq)),
            });
        }
        out
    }

    #[test]
    fn follow_shows_kernel_records_at_or_above_the_level_not_already_on_the_console() {
        // Console loglevel 1: the kernel itself printed only emerg (0) records.
        let mut f = Follow::new(Some(Level::Warn), 1);
        let shown = follow(
            &mut f,
            &[
                "0,1,0,-;emerg",
                "3,2,0,-;err",
                "4,3,0,-;warn",
                "6,4,0,-;info",
                "11,5,0,-;user err",
                "bad",
                "2,6,0,-;crit",
            ],
        );
        assert_eq!(shown, ["2", "3", "6"]);
        assert!(follow(&mut Follow::new(None, 0), &["0,1,0,-;emerg"]).is_empty(), "off shows nothing");
    }

    #[test]
    fn follow_never_shows_a_sequence_number_twice() {
        let mut f = Follow::new(Some(Level::Err), 0);
        assert_eq!(follow(&mut f, &["3,7,0,-;a", "3,7,0,-;a", "3,5,0,-;old", "3,8,0,-;b"]), ["7", "8"]);
    }

    #[test]
    fn follow_counts_what_an_overflow_lost_once() {
        let mut f = Follow::new(Some(Level::Err), 0);
        assert_eq!(follow(&mut f, &["3,10,0,-;a"]), ["10"]);
        f.overflowed();
        f.overflowed();
        assert_eq!(follow(&mut f, &["6,25,0,-;info", "3,26,0,-;b"]), ["lost Some(14)", "26"]);
        let mut fresh = Follow::new(Some(Level::Err), 0);
        fresh.overflowed();
        assert_eq!(follow(&mut fresh, &["3,3,0,-;x"]), ["lost None", "3"]);
    }

    #[test]
    fn level_names_round_trip() {
        for n in 0..8 {
            let l = Level::from_number(n).unwrap();
            assert_eq!(Level::from_name(l.name().as_bytes()), Some(l));
        }
        assert_eq!(Level::from_number(8), None);
    }
}
