//! `modinit::kernel::kmsg`: /dev/kmsg records and the [`Follow`] state machine that picks what the
//! console shows.
//!
//! Input: two bytes that configure [`Follow`] (the level to show, the console loglevel), then
//! records as single reads of /dev/kmsg, separated by NUL; an empty record stands for a read
//! that failed with EPIPE (records were lost). Every record is also checked on its own: it
//! parses back from what it parsed to, its escapes decode, and its console form stays inert.

use modinit::kernel::kmsg::{
    DevkmsgPolicy, Event, FACILITY_KERNEL, Follow, Level, Record, Unescaped, console_loglevel,
};

pub fn fuzz(data: &[u8]) {
    let _ = (console_loglevel(data), DevkmsgPolicy::parse(data));
    let Some((&[show, loglevel], records)) = data.split_first_chunk::<2>() else { return };
    // 8 is "show nothing".
    let show = Level::from_number(show % 9);
    let loglevel = loglevel % 9;
    let mut follow = Follow::new(show, loglevel);
    let mut expected = Expected { last_seq: None, overflowed: false };
    for raw in records.split(|&b| b == 0) {
        if raw.is_empty() {
            follow.overflowed();
            expected.overflowed = true;
            continue;
        }
        check_record(raw);
        let mut events = Vec::new();
        follow.record(raw, |e| events.push(e));
        let wanted = expected.events(raw, show, loglevel);
        assert_eq!(events, wanted, "Follow on {:?}", raw.escape_ascii().to_string());
    }
}

/// What [`Follow`]'s documentation promises, step by step: records that do not parse or are
/// not newer than the last one are dropped; after an overflow the next new record first
/// reports how many were lost; a record is shown when the kernel logged it, it is at least as
/// severe as `show`, and the console loglevel did not let the kernel print it already.
struct Expected {
    last_seq: Option<u64>,
    overflowed: bool,
}

impl Expected {
    fn events<'a>(&mut self, raw: &'a [u8], show: Option<Level>, loglevel: u8) -> Vec<Event<'a>> {
        let Ok(record) = Record::parse(raw) else { return Vec::new() };
        if self.last_seq.is_some_and(|last| record.seq <= last) {
            return Vec::new();
        }
        let mut events = Vec::new();
        if std::mem::take(&mut self.overflowed) {
            events.push(Event::Lost(self.last_seq.map(|last| record.seq - last - 1)));
        }
        self.last_seq = Some(record.seq);
        let on_console_already = (record.level as u8) < loglevel;
        if record.facility == FACILITY_KERNEL && show.is_some_and(|s| record.level <= s) && !on_console_already {
            events.push(Event::Show(record));
        }
        events
    }
}

fn check_record(raw: &[u8]) {
    let Ok(record) = Record::parse(raw) else { return };
    let text = record.text().0;
    crate::assert_within(raw, text, "the record's text");
    let dict: Vec<(&[u8], &[u8])> = record.dict().map(|(k, v)| (k, v.0)).collect();
    for (key, value) in &dict {
        crate::assert_within(raw, key, "a dictionary key");
        crate::assert_within(raw, value, "a dictionary value");
        assert!(!key.contains(&b'=') && !key.contains(&b'\n') && !value.contains(&b'\n'));
    }

    // The record as the kernel would print it, parsed again, is the same record.
    let flag = if record.continued { "c" } else { "-" };
    let prio = u64::from(record.facility) << 3 | record.level as u64;
    let mut again = format!("{prio},{},{},{flag};", record.seq, record.usec).into_bytes();
    again.extend_from_slice(text);
    again.push(b'\n');
    for (key, value) in &dict {
        again.extend_from_slice(&[b" ", *key, b"=", *value, b"\n"].concat());
    }
    let reparsed = Record::parse(&again).expect("a record rebuilt from a parsed one parses");
    assert_eq!(
        (reparsed.facility, reparsed.level, reparsed.seq, reparsed.usec, reparsed.continued, reparsed.text().0),
        (record.facility, record.level, record.seq, record.usec, record.continued, text)
    );
    assert!(reparsed.dict().map(|(k, v)| (k, v.0)).eq(dict.iter().copied()));

    // Decoding undoes the kernel's escaping of any bytes.
    let decoded: Vec<u8> = record.text().collect();
    let escaped = kernel_escape(&decoded);
    assert_eq!(Unescaped(&escaped).collect::<Vec<u8>>(), decoded);

    // The console line: one per line of the text, each with the prefix, nothing that moves
    // the cursor or switches the terminal's mode.
    let mut console = String::new();
    modinit::kernel::kmsg::format_for_console(&record, &mut console).expect("formatting into a String");
    let prefix = format!("] <{}> ", record.level.name());
    assert_eq!(console.lines().count(), 1 + decoded.iter().filter(|&&b| b == b'\n').count());
    for line in console.lines() {
        assert!(line.starts_with('[') && line.contains(&prefix), "console line {line:?}");
    }
    assert!(console.ends_with('\n'));
    assert!(!console.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "control character in {console:?}");
}

/// How the kernel writes bytes into a record (printk's `msg_print_ext_body`): `\xNN` for
/// every byte that is not printable ASCII, and for the backslash.
fn kernel_escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        if !(0x20..0x7f).contains(&b) || b == b'\\' {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}
