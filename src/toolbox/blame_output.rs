//! What `modinit blame` prints about a boot record ([`crate::record::blame::Phase`]): the
//! phase in one line and how much of it was modinit's own, then its inserts the slowest first (as `systemd-analyze blame` lists
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
    if let Some(t) = phase.own_time(&mut order) {
        line(format_args!(
            "modinit's own time: {} ms of the phase's {} ms had no insert in the kernel (walking /sys, looking up, waiting for quiet)",
            t.own_micros / 1000,
            t.phase_micros / 1000
        ));
    }
    phase.slowest(&mut order);
    line(format_args!(""));
    line(format_args!("inserts, the slowest first (time, module, outcome if not loaded, worker, what asked for it):"));
    for &i in &order {
        let ins = &phase.inserts[i];
        let (name, outcome, worker, key) = (Bytes(ins.name), Outcome(ins), Worker(ins), Key(ins.key));
        line(format_args!("{:>8} ms {name}{outcome} [{worker}] {key}", ins.micros() / 1000));
    }
    phase.critical_chain(&mut order);
    line(format_args!(""));
    line(format_args!(
        "critical chain (@ start, + time, in ms from the record's start; each waited for the one under it):"
    ));
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

/// What asked for an insert, cut at [`KEY_SHOWN`] bytes (a CPU's modalias lists its features).
struct Key<'a>(&'a [u8]);

/// The most of a key a line shows.
const KEY_SHOWN: usize = 64;

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(..KEY_SHOWN) {
            Some(cut) if self.0.len() > KEY_SHOWN => write!(f, "{}...", Bytes(cut)),
            _ => write!(f, "{}", Bytes(self.0)),
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
    use std::string::String;
    use std::vec::Vec;

    /// The record of a real boot (tests/qemu/boot_record.rs keeps one in target/qemu/boot-record/).
    const RECORD: &str = include_str!("../../tests/fixtures/boot-record");

    /// (name, start µs, end µs, needs) of each module line with a start, read with plain string
    /// splitting, not the library's parser.
    fn inserts() -> Vec<(String, u64, u64, Vec<String>)> {
        let micros = |t: &str| t.replace('.', "").parse::<u64>().unwrap();
        RECORD
            .lines()
            .filter(|l| l.split(' ').nth(1) == Some("module") && l.contains(" start="))
            .map(|l| {
                let words: Vec<&str> = l.split(' ').collect();
                let field = |k: &str| words.iter().find_map(|w| w.strip_prefix(k)).unwrap_or_default();
                let needs = field("needs=").split(',').filter(|n| !n.is_empty()).map(String::from).collect();
                (words[2].to_string(), micros(field("start=")), micros(words[0]), needs)
            })
            .collect()
    }

    #[test]
    fn the_report_of_a_real_boots_record() {
        let phase = Phase::<4096>::read(RECORD.as_bytes()).unwrap();
        let mut lines = Vec::new();
        report(&phase, &mut |args| lines.push(std::format!("{args}")));
        let expected = inserts();
        let summary = RECORD.lines().find(|l| l.contains(" summary ")).unwrap();
        let loaded = summary.split(' ').find_map(|w| w.strip_prefix("loaded=")).unwrap();
        assert!(lines[0].starts_with(&std::format!("driver phase: loaded={loaded} ")), "{}", lines[0]);

        // The own time: every millisecond of the phase that no insert covers, counted one by one.
        let micros = |l: &str| l.split(' ').next().unwrap().replace('.', "").parse::<u64>().unwrap();
        let (begin, end) = (micros(RECORD.lines().next().unwrap()), micros(summary));
        let busy = |ms: u64| expected.iter().any(|e| e.1 <= begin + ms * 1000 && begin + ms * 1000 < e.2);
        let own_ms = (0..(end - begin) / 1000).filter(|&ms| !busy(ms)).count() as i64;
        let shown: Vec<i64> = lines[1].split(' ').filter_map(|w| w.parse().ok()).collect();
        assert!(lines[1].starts_with("modinit's own time: "), "{}", lines[1]);
        assert!((shown[0] - own_ms).abs() <= 1 && shown[1] == ((end - begin) / 1000) as i64, "{shown:?} vs {own_ms}");

        // Every insert once, the slowest first.
        let at = lines.iter().position(|l| l.starts_with("inserts, the slowest first")).unwrap();
        let listed: Vec<(u64, &str)> = lines[at + 1..]
            .iter()
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let mut words = l.split_whitespace();
                (words.next().unwrap().parse().unwrap(), words.nth(1).unwrap())
            })
            .collect();
        assert_eq!(listed.len(), expected.len());
        assert!(listed.windows(2).all(|w| w[0].0 >= w[1].0), "{listed:?}");
        for (name, start, end, _) in &expected {
            assert!(listed.contains(&((end - start) / 1000, name.as_str())), "{name}");
        }

        // The chain: from the phase's last insert, each link one the link above needed, ended
        // before it started, and the latest to end of those it needed.
        let end_of_phase = RECORD.lines().find(|l| l.contains(" summary ")).unwrap().split(' ').next().unwrap();
        let end_of_phase: u64 = end_of_phase.replace('.', "").parse().unwrap();
        let at = lines.iter().position(|l| l.starts_with("critical chain")).unwrap();
        let chain: Vec<&str> =
            lines[at + 1..].iter().map(|l| l.trim_start_matches([' ', '└', '─']).split(' ').next().unwrap()).collect();
        let find = |n: &str| expected.iter().find(|e| e.0 == n).unwrap();
        let last = expected.iter().filter(|e| e.2 <= end_of_phase).max_by_key(|e| e.2).unwrap();
        assert_eq!(chain[0], last.0);
        assert!(chain.len() > 2, "{chain:?}");
        for pair in chain.windows(2) {
            let (above, below) = (find(pair[0]), find(pair[1]));
            let before: Vec<_> =
                above.3.iter().filter_map(|n| expected.iter().find(|e| &e.0 == n)).filter(|e| e.2 <= above.1).collect();
            assert_eq!(before.iter().map(|e| e.2).max(), Some(below.2), "{pair:?}");
        }
        let bottom = find(chain.last().unwrap());
        assert!(
            bottom.3.iter().all(|n| expected.iter().all(|e| &e.0 != n || e.2 > bottom.1)),
            "{bottom:?} waited for nothing recorded"
        );
    }
}
