//! A whole boot record read back: its inserts with their times ([`Phase::read`]), the slowest
//! first ([`Phase::slowest`], as `systemd-analyze blame` lists units) and the critical chain
//! ([`Phase::critical_chain`], as `systemd-analyze critical-chain`): from the insert that ended
//! last, back through what each one waited for; and the phase's own time
//! ([`Phase::own_time`]): while no insert was in the kernel.
//!
//! An insert waits for the modules before it in its probe list (its `needs=`): the one of them
//! whose insert ended last is the link before it. Modules loaded before the phase, or builtin,
//! are not in the record and end no chain.

use super::entry::{Entry, LineError, Outcome, Stamp, SummaryLine, VERSION, parse};
use core::fmt;

/// A module that went to the kernel during the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insert<'a> {
    pub name: &'a [u8],
    pub outcome: Outcome,
    pub start: Stamp,
    pub end: Stamp,
    /// The worker slot; None for one the kernel asked for (`request_module`).
    pub worker: Option<u16>,
    pub key: &'a [u8],
    /// The modules before it in its probe list (comma-separated).
    needs: &'a [u8],
}

impl<'a> Insert<'a> {
    /// How long it took, in microseconds.
    pub fn micros(&self) -> u64 {
        self.end.0 - self.start.0
    }

    /// What it waited for: the names before it in its probe list.
    pub fn needs(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.needs.split(|&b| b == b',').filter(|n| !n.is_empty())
    }
}

/// How much of the phase was modinit's own ([`Phase::own_time`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnTime {
    /// No insert in the kernel.
    pub own_micros: u64,
    /// From the record's start to the phase's summary.
    pub phase_micros: u64,
}

/// Why a record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The first line is not `TIME record 1`.
    NotARecord,
    /// A later version of the format.
    Version(u64),
    /// Line `line` (from 1) is malformed.
    Line { line: usize, error: LineError },
    /// More inserts than the reader has room for.
    TooMany(usize),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotARecord => f.write_str("not a modinit boot record (no `TIME record 1` line first)"),
            RecordError::Version(v) => write!(f, "a boot record of version {v}; this modinit reads version {VERSION}"),
            RecordError::Line { line, error } => write!(f, "line {line}: {error}"),
            RecordError::TooMany(n) => write!(f, "more than {n} inserts"),
        }
    }
}

/// The driver phase a record tells of.
pub struct Phase<'a, const N: usize> {
    /// When the record was begun (the start of the phase).
    pub begin: Stamp,
    /// Every insert, in the record's order (the order they ended).
    pub inserts: heapless::Vec<Insert<'a>, N>,
    /// The summary line, with its time, once the phase ended.
    pub summary: Option<(Stamp, SummaryLine)>,
    /// Module lines by outcome, inserted or not: loaded, builtin, skipped, failed, ignored.
    pub outcomes: [u64; 5],
}

impl<'a, const N: usize> Phase<'a, N> {
    /// Reads `text`, a whole record (its last line may lack its newline).
    pub fn read(text: &'a [u8]) -> Result<Phase<'a, N>, RecordError> {
        let mut lines = text.split(|&b| b == b'\n').enumerate().filter(|(_, l)| !l.is_empty());
        let begin = match lines.next().map(|(_, l)| parse(l)) {
            Some(Ok((at, Entry::Header { version: VERSION }))) => at,
            Some(Ok((_, Entry::Header { version }))) => return Err(RecordError::Version(version)),
            _ => return Err(RecordError::NotARecord),
        };
        let mut phase = Phase { begin, inserts: heapless::Vec::new(), summary: None, outcomes: [0; 5] };
        for (i, line) in lines {
            let (at, entry) = parse(line).map_err(|error| RecordError::Line { line: i + 1, error })?;
            match entry {
                Entry::Module(m) => {
                    phase.outcomes[m.outcome as usize] += 1;
                    if !m.inserted {
                        continue;
                    }
                    let insert = Insert {
                        name: m.name,
                        outcome: m.outcome,
                        start: m.start,
                        end: at,
                        worker: m.worker,
                        key: m.key,
                        needs: m.needs_text(),
                    };
                    phase.inserts.push(insert).map_err(|_| RecordError::TooMany(N))?;
                }
                Entry::Summary(s) => phase.summary = Some((at, s)),
                Entry::Header { .. } => {
                    return Err(RecordError::Line { line: i + 1, error: LineError("a second header") });
                }
                Entry::Console { .. } | Entry::Kernel { .. } => {}
            }
        }
        Ok(phase)
    }

    /// The inserts' indexes, the longest first (ties: the earlier start first).
    pub fn slowest(&self, order: &mut heapless::Vec<usize, N>) {
        order.clear();
        for i in 0..self.inserts.len() {
            // As many indexes as inserts.
            let _ = order.push(i);
        }
        let inserts = &self.inserts;
        crate::sort::sort_by(order, &mut |&a, &b| {
            let (a, b) = (&inserts[a], &inserts[b]);
            b.micros().cmp(&a.micros()).then(a.start.cmp(&b.start)).then(a.name.cmp(b.name))
        });
    }

    /// The critical chain, last link first: the insert of the phase (the kernel's requests
    /// after its summary are not) that ended last, then the one it waited for that ended last,
    /// and so on (indexes into `inserts`).
    pub fn critical_chain(&self, chain: &mut heapless::Vec<usize, N>) {
        chain.clear();
        let phase_end = self.summary.map_or(Stamp(u64::MAX), |(at, _)| at);
        let in_phase = self.inserts.iter().enumerate().filter(|(_, ins)| ins.end <= phase_end);
        let last = in_phase.max_by_key(|(i, ins)| (ins.end, usize::MAX - i));
        let mut at = last.map(|(i, _)| i);
        while let Some(i) = at {
            if chain.push(i).is_err() {
                return;
            }
            at = self.waited_for(i).filter(|j| !chain.contains(j));
        }
    }

    /// The time of the phase during which no insert was in the kernel, in microseconds: modinit's
    /// own (mounting, walking /sys, looking up, waiting for the buses to go quiet, the last walk),
    /// with the phase's length; None before the phase's summary. `order` is scratch space.
    pub fn own_time(&self, order: &mut heapless::Vec<usize, N>) -> Option<OwnTime> {
        let (phase_end, _) = self.summary?;
        order.clear();
        for i in 0..self.inserts.len() {
            // As many indexes as inserts.
            let _ = order.push(i);
        }
        let inserts = &self.inserts;
        crate::sort::sort_by(order, &mut |&a, &b| inserts[a].start.cmp(&inserts[b].start).then(a.cmp(&b)));
        let (mut own, mut covered_to) = (0, self.begin.0);
        for ins in order.iter().map(|&i| &inserts[i]) {
            let (start, end) = (ins.start.0.clamp(self.begin.0, phase_end.0), ins.end.0.min(phase_end.0));
            own += start.saturating_sub(covered_to);
            covered_to = covered_to.max(end);
        }
        own += phase_end.0.saturating_sub(covered_to);
        Some(OwnTime { own_micros: own, phase_micros: phase_end.0.saturating_sub(self.begin.0) })
    }

    /// The insert `inserts[i]` waited for: of the modules it needs, the insert that ended last
    /// before it started; None when it needed none in the record.
    pub fn waited_for(&self, i: usize) -> Option<usize> {
        let waiting = self.inserts.get(i)?;
        waiting
            .needs()
            .filter_map(|name| self.inserts.iter().position(|ins| ins.name == name))
            .filter(|&j| j != i && self.inserts[j].end <= waiting.start)
            .max_by_key(|&j| self.inserts[j].end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = "\
1.000000 record 1
1.100000 console info loaded a (x) in 100 ms
1.100000 module a loaded start=1.000000 worker=0 key=x
1.300000 module b loaded start=1.100000 worker=0 key=y needs=a
1.250000 module c loaded start=1.050000 worker=1 key=z
1.700000 module d failed start=1.300000 worker=1 key=y needs=c,a,b,gone why=Invalid module format (ENOEXEC)
1.400000 module e loaded start=1.350000 key=fs-e source=request
1.700000 module f builtin key=f
1.700000 module g skipped key=g why=blacklisted
1.750000 kernel err d: bad
1.800000 summary loaded=4 builtin=1 skipped=1 failed=1 ms=800
9.000000 module h loaded start=8.000000 key=fs-h source=request
";

    fn names<'a>(phase: &Phase<'a, 16>, order: &[usize]) -> Vec<&'a str> {
        order.iter().map(|&i| core::str::from_utf8(phase.inserts[i].name).unwrap()).collect()
    }

    #[test]
    fn the_slowest_and_the_critical_chain() {
        let phase = Phase::<16>::read(RECORD.as_bytes()).unwrap();
        assert_eq!(phase.begin, Stamp(1_000_000));
        assert_eq!(phase.outcomes, [5, 1, 1, 1, 0]);
        assert_eq!(phase.summary.map(|s| s.1.loaded), Some(4));
        let mut order = heapless::Vec::new();
        phase.slowest(&mut order);
        assert_eq!(names(&phase, &order), ["h", "d", "c", "b", "a", "e"]);
        phase.critical_chain(&mut order);
        // h came after the phase; d waited for c, a and b; b ended last, and b waited for a.
        assert_eq!(names(&phase, &order), ["d", "b", "a"]);
        assert_eq!(phase.inserts[order[0]].worker, Some(1));
    }

    #[test]
    fn the_own_time_is_the_phase_with_no_insert_running() {
        let phase = Phase::<16>::read(RECORD.as_bytes()).unwrap();
        let mut order = heapless::Vec::new();
        // Inserts cover 1.000-1.350 and 1.350-1.700 (e's request included); h is after the
        // summary at 1.800: only 1.700-1.800 is modinit's own.
        assert_eq!(phase.own_time(&mut order), Some(OwnTime { own_micros: 100_000, phase_micros: 800_000 }));
        let late = RECORD.replace("1.100000 module a loaded start=1.000000", "1.100000 module a loaded start=1.020000");
        let phase = Phase::<16>::read(late.as_bytes()).unwrap();
        assert_eq!(phase.own_time(&mut order).map(|t| t.own_micros), Some(120_000), "1.000-1.020 before a's start too");
        let cut: std::string::String =
            RECORD.lines().filter(|l| !l.contains("summary")).flat_map(|l| [l, "\n"]).collect();
        assert_eq!(Phase::<16>::read(cut.as_bytes()).unwrap().own_time(&mut order), None, "no summary, no phase end");
    }

    #[test]
    fn a_bad_record_is_refused_with_the_line() {
        let bad = RECORD.replace("worker=1 key=z", "worker=one key=z");
        let e = Phase::<16>::read(bad.as_bytes()).err().unwrap();
        assert_eq!(e.to_string(), "line 5: worker= is not a worker number");
        assert_eq!(Phase::<16>::read(b"hello\n").err(), Some(RecordError::NotARecord));
        assert_eq!(Phase::<16>::read(b"1.000000 record 2\n").err(), Some(RecordError::Version(2)));
        assert_eq!(Phase::<2>::read(RECORD.as_bytes()).err(), Some(RecordError::TooMany(2)));
        let twice = format!("{RECORD}2.000000 record 1\n");
        assert!(Phase::<16>::read(twice.as_bytes()).is_err());
    }
}
