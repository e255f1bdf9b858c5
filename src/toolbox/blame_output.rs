//! What `modinit blame` prints about a boot record ([`crate::record::blame::Phase`]): the
//! phase in one line, then its inserts the slowest first (as `systemd-analyze blame` lists
//! units), then the critical chain (as `systemd-analyze critical-chain`): the insert that ended
//! last, and under it, one level deeper each, the insert each one waited for; times are
//! milliseconds from the start of the record.

use crate::line::Bytes;
use crate::record::blame::{Insert, Phase};
use core::fmt;

/// Writes the report line by line through `line`.
pub fn report<const N: usize>(phase: &Phase<'_, N>, line: &mut dyn FnMut(fmt::Arguments<'_>)) {
    let [loaded, builtin, skipped, failed, ignored] = phase.outcomes;
    match phase.summary {
        Some((at, s)) => line(format_args!(
            "driver phase: loaded={} builtin={} skipped={} failed={} in {} ms, ended {} ms after the record began",
            s.loaded,
            s.builtin,
            s.skipped,
            s.failed,
            s.ms,
            at.ms_since(phase.begin)
        )),
        None => line(format_args!(
            "driver phase: no summary (the phase had not ended, or its record was cut): {loaded} loaded, {builtin} builtin, {skipped} skipped, {failed} failed so far"
        )),
    }
    if ignored > 0 {
        line(format_args!("{ignored} softdeps or optional names failed (ignored, as kmod ignores them)"));
    }
    let mut order = heapless::Vec::<usize, N>::new();
    phase.slowest(&mut order);
    line(format_args!(""));
    line(format_args!("inserts, the slowest first (time, module, outcome if not loaded, worker, what asked for it):"));
    for &i in &order {
        let ins = &phase.inserts[i];
        line(format_args!("{:>8} ms {}{} [{}] {}", ins.micros() / 1000, Bytes(ins.name), Outcome(ins), Worker(ins), Bytes(ins.key)));
    }
    phase.critical_chain(&mut order);
    line(format_args!(""));
    line(format_args!("critical chain (@ start, + time, in ms from the record's start; each waited for the one under it):"));
    for (depth, &i) in order.iter().enumerate() {
        let ins = &phase.inserts[i];
        line(format_args!(
            "{}{} @{} +{}{} [{}]",
            Indent(depth),
            Bytes(ins.name),
            ins.start.ms_since(phase.begin),
            ins.micros() / 1000,
            Outcome(ins),
            Worker(ins)
        ));
    }
}

/// ` (failed)` and the like for an insert that did not load.
struct Outcome<'i, 'a>(&'i Insert<'a>);

impl fmt::Display for Outcome<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.outcome {
            crate::record::entry::Outcome::Loaded => Ok(()),
            other => write!(f, " ({})", other.name()),
        }
    }
}

/// `worker N`, or `kernel request`.
struct Worker<'i, 'a>(&'i Insert<'a>);

impl fmt::Display for Worker<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.worker {
            Some(n) => write!(f, "worker {n}"),
            None => f.write_str("kernel request"),
        }
    }
}

/// systemd's tree drawing: nothing for the top, `└─` one level deeper for each link after it.
struct Indent(usize);

impl fmt::Display for Indent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 {
            write!(f, "{:width$}└─", "", width = 2 * (self.0 - 1))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn the_report_of_the_committed_record() {
        let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/boot-record")).unwrap();
        let phase = Phase::<4096>::read(&text).unwrap();
        let mut lines = Vec::new();
        report(&phase, &mut |args| lines.push(std::format!("{args}")));
        let text = lines.join("\n");
        let expected = include_str!("../../tests/fixtures/boot-record.blame");
        assert_eq!(text.trim_end(), expected.trim_end(), "\n{text}");
        assert!(lines[0].starts_with("driver phase: loaded="), "{text}");
    }
}
