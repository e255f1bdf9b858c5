//! `cargo xtask bench`: modinit's figures next to its peers', measured in one run on this
//! machine, written to docs/benchmarks.md. Every figure is a ratio to its peer's; absolute
//! times depend on the machine.
//!
//! The index: size against kmod's binary indexes, build time and peak memory against
//! `depmod`, lookups per second against `modprobe -a -R` over the same keys.

use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs per measured command; the median counts.
const RUNS: usize = 5;

/// One compared figure.
pub struct Row {
    pub what: &'static str,
    pub modinit: f64,
    pub peer: f64,
    pub unit: &'static str,
    pub peer_name: &'static str,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.modinit / self.peer
    }
}

/// kmod's files that hold what modinit.idx holds.
const KMOD_INDEX_FILES: [&str; 5] =
    ["modules.alias.bin", "modules.dep.bin", "modules.builtin.bin", "modules.builtin.alias.bin", "modules.softdep"];

pub fn index_rows(tree: &Path) -> Result<Vec<Row>> {
    crate::tools::ensure(&[&crate::tools::DEPMOD])?;
    let version = tree.file_name().and_then(|n| n.to_str()).context("module tree without a version name")?;
    let root = crate::kmod::indexed_root(tree)?;
    let kmod_tree = root.join("lib/modules").join(version);
    let ours = crate::index::build_index(tree, None)?;
    let kmod_bytes: u64 = KMOD_INDEX_FILES.iter().map(|f| std::fs::metadata(kmod_tree.join(f)).map_or(0, |m| m.len())).sum();

    let xtask = std::env::current_exe()?;
    let out = tempfile::NamedTempFile::new()?;
    let (our_time, our_rss) = median_run(|| {
        let mut c = Command::new(&xtask);
        c.arg("index").arg("--modules").arg(tree).arg("--out").arg(out.path());
        c
    })?;
    let (depmod_time, depmod_rss) = median_run(|| {
        let mut c = Command::new("depmod");
        c.arg("-b").arg(&root).arg(version);
        c
    })?;

    let keys = crate::corpus::keys(&kmod_tree)?;
    let index = modinit::index::Index::open(&ours.bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let resolver = modinit::resolve::Resolver { index, cmdline: b"" };
    let started = Instant::now();
    let mut found = 0usize;
    for key in &keys {
        if let Ok(k) = modinit::resolve::Key::new(key.as_bytes()) {
            let mut out = [None; 256];
            found += resolver.lookup(&k, &mut out).map_or(0, |(_, n)| n);
        }
    }
    let our_lookup = started.elapsed();
    std::hint::black_box(found);
    let kmod_lookup = kmod_resolve_all(&root, version, &keys)?;
    let per_second = |d: Duration| keys.len() as f64 / d.as_secs_f64();

    Ok(vec![
        Row { what: "index size", modinit: ours.bytes.len() as f64 / 1024.0, peer: kmod_bytes as f64 / 1024.0, unit: "KiB", peer_name: "kmod .bin files" },
        Row { what: "index build time", modinit: ms(our_time), peer: ms(depmod_time), unit: "ms", peer_name: "depmod" },
        Row { what: "index build peak memory", modinit: our_rss as f64 / 1024.0, peer: depmod_rss as f64 / 1024.0, unit: "MiB", peer_name: "depmod" },
        Row {
            what: "lookups per second",
            modinit: per_second(our_lookup),
            peer: per_second(kmod_lookup),
            unit: "keys/s",
            peer_name: "modprobe -a -R",
        },
    ])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median wall time of [`RUNS`] runs of the command `make` builds, and the largest peak
/// resident size (KiB) seen, from wait4's rusage.
fn median_run(make: impl Fn() -> Command) -> Result<(Duration, u64)> {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..RUNS {
        let mut cmd = make();
        let started = Instant::now();
        let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn()?;
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten by wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child; status and usage are valid out pointers.
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        times.push(started.elapsed());
        if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            bail!("{cmd:?} failed (status {status})");
        }
        peak = peak.max(usage.ru_maxrss as u64);
    }
    times.sort();
    Ok((times[RUNS / 2], peak))
}

/// kmod resolving every key in one process per batch (`modprobe -a -R`), median of runs.
fn kmod_resolve_all(root: &Path, version: &str, keys: &[String]) -> Result<Duration> {
    let config = tempfile::tempdir()?;
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        // Batches keep each command line well under ARG_MAX.
        for batch in keys.chunks(4000) {
            let status = Command::new("modprobe")
                .env("MODPROBE_OPTIONS", "")
                .arg("-d")
                .arg(root)
                .args(["-S", version, "-C"])
                .arg(config.path())
                .args(["-q", "-a", "-R", "--"])
                .args(batch)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?;
            // modprobe exits non-zero when some key resolves to nothing, as most near misses do.
            std::hint::black_box(status);
        }
        runs.push(started.elapsed());
    }
    runs.sort();
    Ok(runs[RUNS / 2])
}

/// docs/benchmarks.md from the rows.
pub fn report(rows: &[Row], context: &str) -> String {
    let mut md = String::from("# Benchmarks\n\nMade by `cargo xtask bench`; every figure measured in one run on one machine.\n\n");
    let _ = writeln!(md, "{context}\n");
    md.push_str("| figure | modinit | peer | peer value | modinit / peer |\n|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(md, "| {} | {:.1} {} | {} | {:.1} {} | {:.2} |", r.what, r.modinit, r.unit, r.peer_name, r.peer, r.unit, r.ratio());
    }
    md
}
