//! What the boot benchmarks share: one boot's figures, read from the kernel log's clock inside
//! the guest (qemu/guest/bench-init prints the records), the boots of each system run
//! interleaved (A B C A B C ...), and their table and SVG chart.

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

/// One boot's figures.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From the kernel running /init to the real init's first line, in ms.
    pub init_ms: f64,
    /// From the kernel's start to the real init, in ms.
    pub boot_ms: f64,
    pub modules: BTreeSet<String>,
    /// modinit's own time in its driver phase, from the boot record the console shows
    /// ([`crate::bench_timeline::own_time_ms`]); None for a peer.
    pub own_ms: Option<f64>,
}

/// Which time of a [`Sample`] a chart or a ratio is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// From the kernel running /init to the real init.
    Init,
    /// From the kernel's start to the real init.
    Boot,
}

impl Figure {
    pub fn of(self, s: &Sample) -> f64 {
        match self {
            Figure::Init => s.init_ms,
            Figure::Boot => s.boot_ms,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Figure::Init => "Time from /init to the real init",
            Figure::Boot => "Time from the kernel's start to the real init",
        }
    }
}

/// The boots of one system.
#[derive(Debug, Clone)]
pub struct Measured {
    pub name: String,
    /// modinit (drawn in its own colour); the first such system is the tables' reference.
    pub ours: bool,
    /// The image booted.
    pub initrd: PathBuf,
    /// Added to the kernel command line.
    pub append: String,
    /// Where each boot's console is saved.
    pub log: PathBuf,
    pub image_bytes: u64,
    pub samples: Vec<Sample>,
    /// modinit's own report of its peak memory: (resident KiB, decompression arena KiB).
    pub memory_kib: Option<(u64, u64)>,
}

impl Measured {
    /// A system not booted yet, whose consoles go to `log`; `image_bytes` is the size of `initrd`.
    pub fn new(name: &str, ours: bool, initrd: PathBuf, log: PathBuf) -> Result<Measured> {
        let image_bytes = std::fs::metadata(&initrd).with_context(|| format!("{}", initrd.display()))?.len();
        Ok(Measured {
            name: name.to_string(),
            ours,
            initrd,
            append: String::new(),
            log,
            image_bytes,
            samples: Vec::new(),
            memory_kib: None,
        })
    }

    /// Median, min and max of `figure` over the samples.
    pub fn spread(&self, figure: Figure) -> (f64, f64, f64) {
        let mut v: Vec<f64> = self.samples.iter().map(|s| figure.of(s)).collect();
        v.sort_by(f64::total_cmp);
        match (v.first(), v.last()) {
            (Some(&min), Some(&max)) => (v[v.len() / 2], min, max),
            _ => (f64::NAN, f64::NAN, f64::NAN),
        }
    }

    /// Boots the system once with `boot` (which returns the console), records the sample and
    /// returns the console (a kernel that died before /init is booted again by
    /// [`crate::qemu::Boot::run`]).
    pub fn boot_once(&mut self, boot: &mut impl FnMut(&Measured) -> Result<String>) -> Result<String> {
        let console = boot(self)?;
        let s = sample(&console).with_context(|| format!("{}: see {}", self.name, self.log.display()))?;
        if self.memory_kib.is_none() {
            self.memory_kib = memory_reported(&console);
        }
        self.samples.push(s);
        Ok(console)
    }
}

/// A peer system left out of a comparison: its boot failed.
#[derive(Debug, Clone)]
pub struct Failed {
    pub name: String,
    pub why: String,
}

/// Boots every system until it has `runs` samples, one round after the other, each round
/// booting each system once in order. A peer's (not ours) failing boot drops it from
/// `measured` and is returned, for the report to say; a failing boot of ours is an error.
pub fn interleave(
    measured: &mut Vec<Measured>,
    runs: usize,
    mut boot: impl FnMut(&Measured) -> Result<String>,
) -> Result<Vec<Failed>> {
    let mut failed = Vec::new();
    for run in 0..runs {
        let mut i = 0;
        while i < measured.len() {
            let m = &mut measured[i];
            if m.samples.len() > run {
                i += 1;
                continue;
            }
            eprintln!("xtask: bench: {} run {}/{runs}", m.name, run + 1);
            match m.boot_once(&mut boot) {
                Ok(_) => i += 1,
                Err(e) if !m.ours => {
                    eprintln!("xtask: warning: {} left out: {e:#}", m.name);
                    failed.push(Failed { name: m.name.clone(), why: format!("{e:#}") });
                    measured.remove(i);
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(failed)
}

/// Which of `measured` a default should follow: the one with the fastest median of `figure`,
/// unless others are within this run's noise of it (their min–max ranges reach below the
/// fastest one's maximum): then the one with the smallest image among those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The fastest median.
    pub fastest: usize,
    /// The others within noise of it.
    pub tied: Vec<usize>,
    /// The one to follow.
    pub chosen: usize,
}

/// See [`Choice`]; None for no system with samples.
pub fn choose(measured: &[Measured], figure: Figure) -> Option<Choice> {
    let timed: Vec<(usize, (f64, f64, f64))> = measured
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.samples.is_empty())
        .map(|(i, m)| (i, m.spread(figure)))
        .collect();
    let &(fastest, (_, _, fastest_max)) = timed.iter().min_by(|a, b| a.1.0.total_cmp(&b.1.0))?;
    let tied: Vec<usize> =
        timed.iter().filter(|&&(i, (_, min, _))| i != fastest && min <= fastest_max).map(|&(i, _)| i).collect();
    let chosen = std::iter::once(fastest).chain(tied.iter().copied()).min_by_key(|&i| measured[i].image_bytes)?;
    Some(Choice { fastest, tied, chosen })
}

/// The figures of a console showing bench-init's lines.
pub fn sample(console: &str) -> Result<Sample> {
    let stamp = |marker: &str| -> Result<f64> {
        let line = console.lines().find(|l| l.starts_with("bench: [") && l.contains(marker));
        let line = line.with_context(|| format!("no kernel record {marker:?}"))?;
        let seconds = line.trim_start_matches("bench: [").split(']').next().unwrap_or_default().trim();
        Ok(seconds.parse::<f64>().with_context(|| format!("bad timestamp in {line:?}"))? * 1000.0)
    };
    let (start, end) = (stamp("Run /init as init process")?, stamp("bench-init: started")?);
    let modules = console.lines().find_map(|l| l.strip_prefix("bench: modules=")).context("no module list")?;
    Ok(Sample {
        init_ms: end - start,
        boot_ms: end,
        modules: modules.split_whitespace().map(str::to_string).collect(),
        own_ms: crate::bench_timeline::own_time_ms(console),
    })
}

/// What modinit's summary line says of its memory: `(memory peak R KiB, decompression A KiB)`.
pub fn memory_reported(console: &str) -> Option<(u64, u64)> {
    let rest = console.lines().find_map(|l| l.split("modinit: done: ").nth(1))?;
    let rest = rest.split("(memory peak ").nth(1)?;
    let (resident, rest) = rest.split_once(" KiB, decompression ")?;
    let arena = rest.split(" KiB").next()?;
    Some((resident.parse().ok()?, arena.parse().ok()?))
}

/// A table of the systems: median and spread of both times, modules loaded, image size, and
/// the first of our systems' `ratio` time over each system's.
pub fn table(measured: &[Measured], ratio: Figure) -> String {
    let reference = measured.iter().find(|m| m.ours);
    let ours = reference.map(|m| (m.name.as_str(), m.spread(ratio).0));
    let mut md = String::from(
        "| system | /init to real init | min – max | boot to real init | min – max | modules loaded | image |",
    );
    let _ = writeln!(md, " {} / this |", ours.map_or("modinit", |(name, _)| name));
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    for m in measured {
        let (init, init_min, init_max) = m.spread(Figure::Init);
        let (boot, boot_min, boot_max) = m.spread(Figure::Boot);
        let modules = m.samples.first().map_or(0, |s| s.modules.len());
        let ratio = ours.map_or(String::new(), |(_, time)| format!("{:.2}", time / m.spread(ratio).0));
        let _ = writeln!(
            md,
            "| {} | {init:.0} ms | {init_min:.0} – {init_max:.0} ms | {boot:.0} ms | {boot_min:.0} – {boot_max:.0} ms \
             | {modules} | {:.1} MiB | {ratio} |",
            m.name,
            m.image_bytes as f64 / (1 << 20) as f64
        );
    }
    md
}

/// What the boot records say of modinit's own time (issue 20's first goal): for each of our
/// systems whose boots left records, the median of its own time in the driver phase and that
/// over the median of its /init to real init. Empty when no boot left a record.
pub fn own_time_text(measured: &[Measured]) -> String {
    let parts: Vec<String> = measured
        .iter()
        .filter(|m| m.ours)
        .filter_map(|m| {
            let mut own: Vec<f64> = m.samples.iter().filter_map(|s| s.own_ms).collect();
            own.sort_by(f64::total_cmp);
            let median = *own.get(own.len() / 2)?;
            let share = 100.0 * median / m.spread(Figure::Init).0;
            Some(format!("{}: {median:.0} ms, {share:.1}% of /init to real init", m.name))
        })
        .collect();
    match parts.is_empty() {
        true => String::new(),
        false => format!(
            "modinit's own time (from each boot's record: the time of its driver phase with no insert in the kernel, \
             spent mounting, walking /sys, looking up and waiting for the buses to go quiet; median of the boots; \
             goal ≤ 5% of /init to real init): {}.",
            parts.join("; ")
        ),
    }
}

/// The median of `figure` of the system named `name`.
pub fn median_of(measured: &[Measured], name: &str, figure: Figure) -> Option<f64> {
    measured.iter().find(|m| m.name == name).map(|m| m.spread(figure).0)
}

/// An SVG bar chart of `figure` per system: the median as a bar, min to max as a line.
pub fn chart(measured: &[Measured], figure: Figure) -> String {
    const ROW: f64 = 34.0;
    const LABEL: f64 = 290.0;
    const PLOT: f64 = 420.0;
    let max = measured.iter().map(|m| m.spread(figure).2).fold(1.0, f64::max);
    let scale = PLOT / max;
    let height = ROW * measured.len() as f64 + 50.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" \
         font-size=\"13\">\n<text x=\"10\" y=\"20\" font-weight=\"bold\">{} (median; min to max)</text>\n",
        LABEL + PLOT + 90.0,
        figure.describe()
    );
    for (i, m) in measured.iter().enumerate() {
        let (median, min, max) = m.spread(figure);
        let y = 35.0 + ROW * i as f64;
        let fill = if m.ours { "#2a7ab0" } else { "#9aa5ad" };
        let _ = writeln!(svg, "<text x=\"10\" y=\"{}\">{}</text>", y + 17.0, m.name);
        let _ = writeln!(
            svg,
            "<rect x=\"{LABEL}\" y=\"{y}\" width=\"{:.1}\" height=\"22\" fill=\"{fill}\"/>",
            median * scale
        );
        let (x0, x1, mid) = (LABEL + min * scale, LABEL + max * scale, y + 11.0);
        let _ = writeln!(svg, "<line x1=\"{x0:.1}\" y1=\"{mid}\" x2=\"{x1:.1}\" y2=\"{mid}\" stroke=\"black\"/>");
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\">{:.1} s</text>",
            x1.max(LABEL + median * scale) + 6.0,
            y + 17.0,
            median / 1000.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_sample_is_read_from_the_two_kernel_records() {
        let console = "[    4.000000] Run /init as init process\nbench: [    3.500000] Run /init as init process\n\
                       bench: [    9.250000] bench-init: started\nbench: modules=a b\n";
        let s = sample(console).unwrap();
        assert_eq!((s.init_ms, s.boot_ms), (5750.0, 9250.0));
        assert_eq!(s.modules.len(), 2);
        assert_eq!(s.own_ms, None, "no boot record");
        let recorded = format!(
            "{console}bench: record: 1.000000 record 1\nbench: record: 1.500000 module a loaded start=1.100000 worker=0 \
             key=x\nbench: record: 2.000000 summary loaded=1 builtin=0 skipped=0 failed=0 ms=1000\n"
        );
        let s = sample(&recorded).unwrap();
        assert_eq!(s.own_ms, Some(600.0), "1.0-1.1 and 1.5-2.0 had no insert");
        let mut ours = system("modinit", 1, &[]);
        ours.samples = vec![Sample { init_ms: 6000.0, ..s.clone() }; 3];
        let text = own_time_text(&[ours]);
        assert!(text.ends_with("to real init): modinit: 600 ms, 10.0% of /init to real init."), "{text}");
        assert_eq!(own_time_text(&[system("peer", 1, &[1.0])]), "", "no record, no line");
        assert!(sample("bench: modules=a\n").is_err(), "no records: no sample");
        let done = "[ 5.1] modinit: done: loaded=3 builtin=0 skipped=0 failed=0 jobs=2 in 9 ms \
                    (memory peak 812 KiB, decompression 40 KiB)";
        assert_eq!(memory_reported(done), Some((812, 40)));
    }

    #[test]
    fn the_table_gives_the_first_of_ours_over_each_and_the_spread() {
        let with = |name: &str, ours, times: &[(f64, f64)]| Measured {
            name: name.into(),
            ours,
            initrd: PathBuf::new(),
            append: String::new(),
            log: PathBuf::new(),
            image_bytes: 3 << 20,
            samples: times
                .iter()
                .map(|&(init_ms, boot_ms)| Sample { init_ms, boot_ms, modules: BTreeSet::new(), own_ms: None })
                .collect(),
            memory_kib: None,
        };
        let measured = [
            with("ours", true, &[(1000.0, 3000.0), (900.0, 2900.0), (1200.0, 3300.0)]),
            with("peer", false, &[(2000.0, 6000.0)]),
        ];
        assert_eq!(measured[0].spread(Figure::Boot), (3000.0, 2900.0, 3300.0));
        let md = table(&measured, Figure::Boot);
        assert!(
            md.contains("| ours | 1000 ms | 900 – 1200 ms | 3000 ms | 2900 – 3300 ms | 0 | 3.0 MiB | 1.00 |"),
            "{md}"
        );
        assert!(
            md.contains("| peer | 2000 ms | 2000 – 2000 ms | 6000 ms | 6000 – 6000 ms | 0 | 3.0 MiB | 0.50 |"),
            "{md}"
        );
        assert_eq!(median_of(&measured, "peer", Figure::Init), Some(2000.0));
        assert!(chart(&measured, Figure::Boot).contains("<text x=\"10\" y=\"52\">ours</text>"));
    }

    /// modinit's system `name` with an image of `image_mib` MiB and `boots` boot times in ms.
    pub(crate) fn system(name: &str, image_mib: u64, boots: &[f64]) -> Measured {
        Measured {
            name: name.into(),
            ours: true,
            initrd: PathBuf::new(),
            append: String::new(),
            log: PathBuf::new(),
            image_bytes: image_mib << 20,
            samples: boots
                .iter()
                .map(|&boot_ms| Sample { init_ms: 0.0, boot_ms, modules: BTreeSet::new(), own_ms: None })
                .collect(),
            memory_kib: None,
        }
    }

    #[test]
    fn the_fastest_wins_unless_a_smaller_image_is_within_noise() {
        let clear = [system("big", 30, &[4000.0, 4100.0, 4200.0]), system("small", 20, &[4500.0, 4600.0, 4700.0])];
        assert_eq!(choose(&clear, Figure::Boot), Some(Choice { fastest: 0, tied: vec![], chosen: 0 }));
        let close = [
            system("big", 30, &[4000.0, 4100.0, 4200.0]),
            system("small", 20, &[4150.0, 4150.0, 4300.0]),
            system("slow", 10, &[5000.0]),
        ];
        assert_eq!(choose(&close, Figure::Boot), Some(Choice { fastest: 0, tied: vec![1], chosen: 1 }));
        assert_eq!(choose(&[system("none", 1, &[])], Figure::Boot), None);
    }

    #[test]
    fn a_failing_peer_is_left_out_and_a_failing_modinit_is_an_error() {
        let mut peer = system("peer", 1, &[]);
        peer.ours = false;
        let mut measured = vec![system("ours", 1, &[]), peer];
        let console = "bench: [ 1.0] Run /init as init process\nbench: [ 2.0] bench-init: started\nbench: modules=\n";
        let failed = interleave(&mut measured, 2, |m| match m.ours {
            true => Ok(console.to_string()),
            false => anyhow::bail!("no root"),
        })
        .unwrap();
        assert_eq!((measured.len(), measured[0].samples.len()), (1, 2));
        assert_eq!((failed[0].name.as_str(), failed[0].why.as_str()), ("peer", "no root"));
        assert!(interleave(&mut measured, 3, |_| anyhow::bail!("panic")).is_err());
    }
}
