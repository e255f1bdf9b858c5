//! The per-module timeline of one bench boot, drawn from its boot record
//! (`modinit::record`, docs/boot-record.md) as an SVG beside the bench's charts: one row per
//! worker (and one for the modules the kernel asked for), one bar per insert from its start to
//! its end, a line from the end of the insert each one waited for to its start, and the
//! critical chain in colour. The guest's bench init prints the record on the console, each line
//! after `bench: record: ` (qemu/guest/bench-init).

use anyhow::{Context, Result, bail};
use modinit::record::blame::Phase;
use modinit::record::entry::{Outcome, parse};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The most inserts a bench boot's record holds (the whole tree loads some 60 on the PC).
const INSERTS_MAX: usize = 1024;

/// What starts each record line on a bench boot's console.
const PREFIX: &str = "bench: record: ";

/// The record a bench boot's console shows: its lines, without those a kernel message cut
/// (they no longer parse). An error when there is none.
pub fn record_of(console: &str) -> Result<String> {
    let lines: Vec<&str> = console.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix(PREFIX)).collect();
    if lines.is_empty() {
        bail!("the console shows no boot record (`{PREFIX}` lines)");
    }
    let whole: Vec<&str> = lines.iter().copied().filter(|l| parse(l.as_bytes()).is_ok()).collect();
    if whole.len() < lines.len() {
        eprintln!("xtask: bench: {} record lines cut on the console, left out", lines.len() - whole.len());
    }
    Ok(whole.iter().flat_map(|l| [*l, "\n"]).collect())
}

/// modinit's own time in the driver phase of the boot whose console is `console`, in ms
/// ([`Phase::own_time`]); None when the console shows no whole record.
pub fn own_time_ms(console: &str) -> Option<f64> {
    let record = record_of(console).ok()?;
    let phase = Phase::<INSERTS_MAX>::read(record.as_bytes()).ok()?;
    phase.own_time(&mut heapless::Vec::new()).map(|t| t.own_micros as f64 / 1000.0)
}

/// The name of the timeline in docs/ on the kernel series `series`.
pub fn chart_file(series: &str) -> String {
    format!("boot-timeline-{series}.svg")
}

const ROW: f64 = 24.0;
const LABEL: f64 = 110.0;
const PLOT: f64 = 1100.0;
const TOP: f64 = 50.0;

/// The SVG of `record`'s inserts, titled `title`.
pub fn chart(record: &str, title: &str) -> Result<String> {
    let phase = Phase::<INSERTS_MAX>::read(record.as_bytes()).map_err(|e| anyhow::anyhow!("the boot record: {e}"))?;
    if phase.inserts.is_empty() {
        bail!("the boot record has no inserts");
    }
    let begin = phase.begin.0;
    let end = phase.inserts.iter().map(|i| i.end.0).max().context("inserts")?;
    let scale = PLOT / (end - begin).max(1) as f64;
    let x = |us: u64| LABEL + (us - begin) as f64 * scale;
    // Rows: the workers by number, then the kernel's requests.
    let workers: BTreeSet<u16> = phase.inserts.iter().filter_map(|i| i.worker).collect();
    let rows = workers.len() + 1;
    let row_of = |worker: Option<u16>| worker.and_then(|w| workers.iter().position(|&n| n == w)).unwrap_or(rows - 1);
    let y = |row: usize| TOP + ROW * row as f64;
    let mut chain = heapless::Vec::new();
    phase.critical_chain(&mut chain);
    let height = y(rows) + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" \
         font-size=\"11\">\n<text x=\"10\" y=\"18\" font-weight=\"bold\" font-size=\"13\">{}</text>\n\
         <text x=\"10\" y=\"36\">one bar per insert (blue: loaded, grey: skipped, red: failed), a line from the insert \
         each waited for; the critical chain in orange; ms from modinit's start</text>\n",
        LABEL + PLOT + 20.0,
        escape(title)
    );
    for (row, worker) in
        workers.iter().map(|w| format!("worker {w}")).chain(["kernel requests".to_string()]).enumerate()
    {
        let _ = writeln!(svg, "<text x=\"10\" y=\"{}\">{worker}</text>", y(row) + 16.0);
        let _ = writeln!(
            svg,
            "<line x1=\"{LABEL}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#e4e8eb\"/>",
            y(row) + ROW,
            LABEL + PLOT
        );
    }
    // A tick every 100, 200, 500 ms, ... so that there are at most a dozen.
    let span_ms = (end - begin) / 1000;
    let step = [100, 200, 500, 1000, 2000, 5000, 10000].into_iter().find(|s| span_ms / s <= 12).unwrap_or(20000);
    for ms in (0..=span_ms).step_by(step as usize) {
        let tx = x(begin + ms * 1000);
        let _ =
            writeln!(svg, "<line x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#c8cdd1\"/>", TOP, y(rows));
        let _ = writeln!(svg, "<text x=\"{tx:.1}\" y=\"{}\" text-anchor=\"middle\">{ms}</text>", y(rows) + 16.0);
    }
    for (i, ins) in phase.inserts.iter().enumerate() {
        if let Some(j) = phase.waited_for(i) {
            let dep = &phase.inserts[j];
            let critical = chain.contains(&i) && chain.contains(&j);
            let (colour, width) = if critical { ("#e07b00", 1.6) } else { ("#7d8a94", 0.7) };
            let _ = writeln!(
                svg,
                "<line x1=\"{:.1}\" y1=\"{}\" x2=\"{:.1}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"{width}\"/>",
                x(dep.end.0),
                y(row_of(dep.worker)) + ROW / 2.0,
                x(ins.start.0),
                y(row_of(ins.worker)) + ROW / 2.0
            );
        }
    }
    for (i, ins) in phase.inserts.iter().enumerate() {
        let (x0, x1, top) = (x(ins.start.0), x(ins.end.0), y(row_of(ins.worker)) + 3.0);
        let fill = match ins.outcome {
            Outcome::Loaded => "#2a7ab0",
            Outcome::Failed => "#c0392b",
            _ => "#9aa5ad",
        };
        let stroke = if chain.contains(&i) { " stroke=\"#e07b00\" stroke-width=\"2\"" } else { "" };
        let name = escape(&String::from_utf8_lossy(ins.name));
        let _ = writeln!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{}\" fill=\"{fill}\"{stroke}><title>{name}: \
             {} ms from {} ms ({}, key {})</title></rect>",
            (x1 - x0).max(1.0),
            ROW - 6.0,
            ins.micros() / 1000,
            (ins.start.0 - begin) / 1000,
            ins.outcome.name(),
            escape(&String::from_utf8_lossy(ins.key))
        );
        // The name inside the bar when it fits (about 6 px a character).
        if x1 - x0 > 6.0 * name.len() as f64 + 4.0 {
            let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{}\" fill=\"white\">{name}</text>", x0 + 2.0, top + 13.0);
        }
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// `text` safe inside SVG text and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = include_str!("../../tests/fixtures/boot-record");

    #[test]
    fn a_real_boots_record_is_read_from_the_console_and_drawn() {
        let mut console = String::from("[    1.000000] Run /init as init process\n");
        for (i, line) in RECORD.lines().enumerate() {
            // A kernel message cuts one line in two.
            if i == 7 {
                console.push_str(&format!("{PREFIX}{}[    2.5] e1000: link up\n{}\n", &line[..20], &line[20..]));
            } else {
                console.push_str(&format!("{PREFIX}{line}\r\n"));
            }
        }
        let record = record_of(&console).unwrap();
        assert_eq!(record.lines().count(), RECORD.lines().count() - 1);
        let svg = chart(&record, "test").unwrap();
        let phase = Phase::<INSERTS_MAX>::read(record.as_bytes()).unwrap();
        assert_eq!(svg.matches("<rect ").count(), phase.inserts.len());
        let workers: BTreeSet<u16> = phase.inserts.iter().filter_map(|i| i.worker).collect();
        for w in &workers {
            assert!(svg.contains(&format!(">worker {w}</text>")), "worker {w}");
        }
        let waits = (0..phase.inserts.len()).filter(|&i| phase.waited_for(i).is_some()).count();
        assert!(waits > 5, "the record's inserts waited for others");
        assert_eq!(svg.matches("<line ").count() - workers.len() - 1 - svg.matches("text-anchor").count(), waits);
        assert!(svg.contains("stroke=\"#e07b00\" stroke-width=\"2\""), "the critical chain is drawn");
        assert!(record_of("no record here").is_err());
        assert!(svg.matches("text-anchor").count() >= 5, "ticks along the phase");
    }
}
