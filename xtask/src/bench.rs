//! `cargo xtask bench`: modinit's figures next to its peers', measured in one run on this
//! machine, written to docs/benchmarks.md. Every figure is a ratio to its peer's; absolute
//! times depend on the machine.
//!
//! The index: size against kmod's binary indexes, build time and peak memory against
//! `depmod`, lookups per second against `modprobe -a -R` over the same keys; `modinit depmod`
//! against kmod's on both Debian trees, against the goal of half kmod's time. The binary: its
//! size against tiny-initramfs's static init, busybox and kmod with its libraries. The
//! decoders: modinit's (ruzstd, miniz_oxide) against libzstd and zlib on the largest modules.
//! The boots are in [`crate::bench_boot`] and [`crate::bench_root`]; they run on each Debian
//! kernel ([`plan`]), and each kernel's sections carry its series in their headings
//! ([`on_kernel`]), so that a part run again replaces just its own sections.

use crate::kernel::Release;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A part of `cargo xtask bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPart {
    /// The index, binary and decoder figures: no boots, one kernel ([`HOST_PART_RELEASE`]).
    Host,
    /// The whole tree in the initramfs of the PC machine: modinit against kmod, busybox and
    /// the insmod floor ([`crate::bench_boot`]).
    Coldplug,
    /// To a root disk against initramfs-tools and dracut, with the outer compressions and the
    /// module storages ([`crate::bench_root`]).
    Root,
    /// The coldplug comparison on the storage server, whose host adapters scan asynchronously.
    Storage,
    /// What the boot record costs the boot, and the timeline of one boot drawn from its record
    /// ([`crate::bench_record_cost`], [`crate::bench_timeline`]).
    Record,
}

impl BenchPart {
    pub const ALL: [BenchPart; 5] =
        [BenchPart::Host, BenchPart::Coldplug, BenchPart::Root, BenchPart::Storage, BenchPart::Record];

    /// The name `--only` takes.
    pub fn name(self) -> &'static str {
        match self {
            BenchPart::Host => "host",
            BenchPart::Coldplug => "coldplug",
            BenchPart::Root => "root",
            BenchPart::Storage => "storage",
            BenchPart::Record => "record",
        }
    }
}

/// The kernel the host part measures when no kernel is named: Debian 12's tree is plain `.ko`,
/// so index build times measure the indexers, not their xz decoders.
pub const HOST_PART_RELEASE: Release = Release::Debian12;

/// Which parts of `parts` run on which of Debian's kernels when none is named: the boot parts
/// (with `boots` > 0) on each kernel, the current stable's first, the host part on
/// [`HOST_PART_RELEASE`]'s only. Kernels with nothing to run are left out.
pub fn plan(parts: &[BenchPart], boots: usize) -> Vec<(Release, Vec<BenchPart>)> {
    let mut releases = Release::ALL.to_vec();
    releases.sort_by_key(|&r| r != Release::CURRENT);
    releases
        .into_iter()
        .map(|release| {
            let runs = |part: BenchPart| match part {
                BenchPart::Host => release == HOST_PART_RELEASE,
                BenchPart::Coldplug | BenchPart::Root | BenchPart::Storage | BenchPart::Record => boots > 0,
            };
            (release, BenchPart::ALL.into_iter().filter(|p| parts.contains(p) && runs(*p)).collect::<Vec<_>>())
        })
        .filter(|(_, parts)| !parts.is_empty())
        .collect()
}

/// The kernel series of a release string, its first two numbers: `6.12` of
/// `6.12.117+deb13-amd64`, what a kernel's section headings and chart names carry (a
/// security update changes the rest, and must replace the same sections).
pub fn kernel_series(version: &str) -> &str {
    let mut parts = version.splitn(3, '.');
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) if digits(major) && digits(minor) => &version[..major.len() + 1 + minor.len()],
        _ => version,
    }
}

/// A section heading naming the kernel series: `## Boot on Linux 6.12`.
pub fn on_kernel(title: &str, series: &str) -> String {
    format!("## {title} on Linux {series}")
}

/// The 1-minute load average (/proc/loadavg): how busy the shared machine was.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("unknown").to_string()
}

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
    let kmod_bytes: u64 =
        KMOD_INDEX_FILES.iter().map(|f| std::fs::metadata(kmod_tree.join(f)).map_or(0, |m| m.len())).sum();

    let xtask = std::env::current_exe()?;
    let out = tempfile::NamedTempFile::new()?;
    let index = || {
        let mut c = Command::new(&xtask);
        c.arg("index").arg("--modules").arg(tree).arg("--out").arg(out.path());
        c
    };
    let depmod = || {
        let mut c = Command::new("depmod");
        c.arg("-b").arg(&root).arg(version);
        c
    };
    let [(our_time, our_rss), (depmod_time, depmod_rss)] = interleaved_runs([&index, &depmod])?;

    let keys = crate::corpus::keys(&kmod_tree)?;
    let index = modinit::index::Index::open(&ours.bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let resolver =
        modinit::resolve::Resolver { index, cmdline: b"", symbols: modinit::resolve::symbols::ModulesSymbols::NONE };
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
        Row {
            what: "index size",
            modinit: ours.bytes.len() as f64 / 1024.0,
            peer: kmod_bytes as f64 / 1024.0,
            unit: "KiB",
            peer_name: "kmod .bin files",
        },
        Row { what: "index build time", modinit: ms(our_time), peer: ms(depmod_time), unit: "ms", peer_name: "depmod" },
        Row {
            what: "index build peak memory",
            modinit: our_rss as f64 / 1024.0,
            peer: depmod_rss as f64 / 1024.0,
            unit: "MiB",
            peer_name: "depmod",
        },
        Row {
            what: "lookups per second",
            modinit: per_second(our_lookup),
            peer: per_second(kmod_lookup),
            unit: "keys/s",
            peer_name: "modprobe -a -R",
        },
    ])
}

/// The ratio to kmod's depmod time that `modinit depmod` aims at.
pub const DEPMOD_GOAL: f64 = 0.5;

/// `modinit depmod -b ROOT VERSION` (the release binary `modinit`, writing kmod's files and
/// modinit.idx) against kmod's `depmod -b ROOT VERSION`, on each of `trees` (a label and a
/// module tree), runs interleaved in a scratch root that holds the tree (hard links): wall time
/// and peak memory.
pub fn depmod_rows(modinit: &Path, trees: &[(&'static str, &Path)]) -> Result<Vec<Row>> {
    crate::tools::ensure(&[&crate::tools::DEPMOD])?;
    let mut rows = Vec::new();
    for &(label, tree) in trees {
        let version = tree.file_name().and_then(|n| n.to_str()).context("module tree without a version name")?;
        let root = tempfile::tempdir_in(crate::paths::target_dir())?;
        std::fs::create_dir_all(root.path().join("lib/modules"))?;
        let status =
            Command::new("cp").arg("-al").arg(tree).arg(root.path().join("lib/modules").join(version)).status()?;
        if !status.success() {
            bail!("copying {} into {} failed", tree.display(), root.path().display());
        }
        let ours = || {
            let mut c = Command::new(modinit);
            c.arg("depmod").arg("-b").arg(root.path()).arg(version);
            c
        };
        let kmod = || {
            let mut c = Command::new("depmod");
            c.arg("-b").arg(root.path()).arg(version);
            c
        };
        let [(our_time, our_rss), (kmod_time, kmod_rss)] = interleaved_runs([&ours, &kmod])?;
        rows.push(Row { what: label, modinit: ms(our_time), peer: ms(kmod_time), unit: "ms", peer_name: "depmod" });
        let memory = Row {
            what: "depmod peak memory",
            modinit: our_rss as f64 / 1024.0,
            peer: kmod_rss as f64 / 1024.0,
            unit: "MiB",
            peer_name: "depmod",
        };
        rows.push(memory);
    }
    Ok(rows)
}

/// The size of the modinit binary `modinit` against the programs an initramfs would
/// otherwise carry to load modules.
pub fn binary_rows(modinit: &Path) -> Result<Vec<Row>> {
    let kib = |path: &Path| -> Result<f64> {
        Ok(std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.len() as f64 / 1024.0)
    };
    let ours = kib(modinit)?;
    let tiny = crate::kernel::debian_package("tiny-initramfs-core")?
        .join("usr/lib/x86_64-linux-gnu/tiny-initramfs/init-static");
    let kmod = Path::new("/usr/bin/kmod");
    let mut kmod_and_libs = kib(kmod)?;
    for lib in shared_libraries(kmod)? {
        kmod_and_libs += kib(&lib)?;
    }
    let row = |peer: f64, peer_name| Row { what: "binary size", modinit: ours, peer, unit: "KiB", peer_name };
    Ok(vec![
        row(kib(&tiny)?, "tiny-initramfs init (static; no alias lookup)"),
        row(kib(Path::new(crate::tools::BUSYBOX_STATIC))?, "busybox (static)"),
        row(kmod_and_libs, "kmod + its shared libraries"),
    ])
}

/// The shared libraries `program` loads, as `ldd` lists them.
fn shared_libraries(program: &Path) -> Result<Vec<std::path::PathBuf>> {
    let out = Command::new("ldd").arg(program).output().context("running ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.split("=>").nth(1).or(Some(l)).and_then(|rest| rest.split_whitespace().next()))
        .filter(|p| p.starts_with('/'))
        .map(std::path::PathBuf::from)
        .collect())
}

/// How many of the tree's largest modules the decoders are timed on.
const DECODE_SAMPLE: usize = 20;

/// Decompression throughput (MiB of modules out per second) of modinit's decoders against
/// libzstd and zlib, on the [`DECODE_SAMPLE`] largest modules stored as `.ko.zst` and `.ko.gz`.
pub fn decompression_rows(tree: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (compression, peer_name) in
        [(crate::module_tree::ModuleCompression::Zst, "libzstd"), (crate::module_tree::ModuleCompression::Gz, "zlib")]
    {
        let stored = crate::module_tree::stored_as(tree, compression)?;
        let mut files: Vec<Vec<u8>> = crate::module_tree::files(&stored)?
            .iter()
            .filter(|p| p.to_string_lossy().contains(".ko"))
            .map(std::fs::read)
            .collect::<Result<_, _>>()?;
        files.sort_by_key(|f| std::cmp::Reverse(f.len()));
        files.truncate(DECODE_SAMPLE);
        let sizes: Vec<usize> = files
            .iter()
            .map(|f| modinit::decompress::decompressed_size(f, 1 << 30).map_err(|e| anyhow::anyhow!("{e}")))
            .collect::<Result<_>>()?;
        let total_mib = sizes.iter().sum::<usize>() as f64 / (1 << 20) as f64;
        let ours = median_time(|| {
            for (file, &size) in files.iter().zip(&sizes) {
                let mut out = vec![0u8; size];
                modinit::decompress::decompress_into(file, &mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
                std::hint::black_box(&out);
            }
            Ok(())
        })?;
        let peer = median_time(|| {
            for file in &files {
                let out = match compression {
                    crate::module_tree::ModuleCompression::Zst => zstd::decode_all(&file[..])?,
                    _ => {
                        let mut out = Vec::new();
                        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&file[..]), &mut out)?;
                        out
                    }
                };
                std::hint::black_box(&out);
            }
            Ok(())
        })?;
        let what = if peer_name == "libzstd" { "zstd decoding (ruzstd)" } else { "gzip decoding (miniz_oxide)" };
        rows.push(Row {
            what,
            modinit: total_mib / ours.as_secs_f64(),
            peer: total_mib / peer.as_secs_f64(),
            unit: "MiB/s",
            peer_name,
        });
    }
    Ok(rows)
}

/// The median wall time of [`RUNS`] calls of `work`.
fn median_time(mut work: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        work()?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[RUNS / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// For each command a `make` builds, the median wall time of [`RUNS`] runs and the largest
/// peak resident size (KiB) seen, from wait4's rusage. The commands run in turn, round after
/// round, so that a shared machine's load weighs on each alike.
fn interleaved_runs<const N: usize>(makes: [&dyn Fn() -> Command; N]) -> Result<[(Duration, u64); N]> {
    let mut times = [(); N].map(|_| Vec::new());
    let mut peaks = [0u64; N];
    for _ in 0..RUNS {
        for (i, make) in makes.iter().enumerate() {
            let mut cmd = make();
            let started = Instant::now();
            let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn()?;
            let mut status = 0;
            // SAFETY: an all-zero rusage is a valid value to be overwritten by wait4.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: waits for our own child; status and usage are valid out pointers.
            let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
            times[i].push(started.elapsed());
            if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                bail!("{cmd:?} failed (status {status})");
            }
            peaks[i] = peaks[i].max(usage.ru_maxrss as u64);
        }
    }
    Ok(std::array::from_fn(|i| {
        times[i].sort();
        (times[i][RUNS / 2], peaks[i])
    }))
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
    let mut md = String::from(
        "# Benchmarks\n\nMade by `cargo xtask bench`; every figure measured in one run on one machine. The boots \
         run on each of Debian's kernels, each kernel's sections named after it: Debian 13's Linux 6.12 (its \
         modules shipped as `.ko.xz`, which the kernel decompresses itself) and Debian 12's Linux 6.1 (plain \
         `.ko`, no module decompression in the kernel).\n\n",
    );
    let _ = writeln!(md, "{context}\n");
    md.push_str("| figure | modinit | peer | peer value | modinit / peer |\n|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {:.1} {} | {} | {:.1} {} | {:.2} |",
            r.what,
            r.modinit,
            r.unit,
            r.peer_name,
            r.peer,
            r.unit,
            r.ratio()
        );
    }
    md
}

/// `old` (a docs/benchmarks.md) with each section of `new` in place of the section of the same
/// heading, and new headings appended. A section runs from a `## ` line to the next; the text
/// before the first is a section too (`# Benchmarks` and the host-side table), and stays first.
pub fn replace_sections(old: &str, new: &str) -> String {
    let mut sections = split_sections(old);
    for (heading, body) in split_sections(new) {
        match sections.iter_mut().find(|(h, _)| *h == heading) {
            Some(section) => section.1 = body,
            None if heading.is_empty() => sections.insert(0, (heading, body)),
            None => sections.push((heading, body)),
        }
    }
    let mut out: String = sections.into_iter().map(|(_, body)| body).collect::<Vec<_>>().join("\n");
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The heading of the section of docs/benchmarks.md written by hand: what the figures of the
/// last whole run say of the goals, and why those not met are not. A whole run keeps it, last.
pub const READING_HEADING: &str = "## Reading the goals";

/// The whole docs/benchmarks.md of a run that measured everything (`new`), with the section
/// written by hand ([`READING_HEADING`]) of the `old` one kept at its end.
pub fn whole_document(old: &str, new: &str) -> String {
    let by_hand: String = split_sections(old)
        .into_iter()
        .filter(|(heading, _)| heading == READING_HEADING)
        .map(|(_, body)| body)
        .collect();
    replace_sections(new, &by_hand)
}

/// The sections of `md` as (heading line, text with the heading and without trailing blank lines).
fn split_sections(md: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in md.lines() {
        if line.starts_with("## ") || sections.is_empty() {
            let heading = if line.starts_with("## ") { line } else { "" };
            sections.push((heading.to_string(), String::new()));
        }
        if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    for (_, body) in &mut sections {
        body.truncate(body.trim_end().len());
        body.push('\n');
    }
    sections.retain(|(heading, body)| !heading.is_empty() || !body.trim().is_empty());
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_replaces_its_own_sections_and_keeps_the_others() {
        let old = "# Benchmarks\n\nhost table\n\n## Boot\n\nold boot\n\n## Boot to a root disk\n\nold root\n";
        let new = "\n## Boot to a root disk\n\nnew root\n\n## Outer compression\n\nnew compression\n";
        assert_eq!(
            replace_sections(old, new),
            "# Benchmarks\n\nhost table\n\n## Boot\n\nold boot\n\n## Boot to a root disk\n\nnew root\n\n\
             ## Outer compression\n\nnew compression\n"
        );
        assert_eq!(replace_sections(old, old), old, "a whole run replaces everything");
        let host = "# Benchmarks\n\nnew host\n";
        assert!(replace_sections(old, host).starts_with("# Benchmarks\n\nnew host\n\n## Boot\n"));
        assert!(
            replace_sections(new, host).starts_with("# Benchmarks\n\nnew host\n\n## Boot to a root disk\n"),
            "the text before the first heading stays first"
        );
        assert_eq!(
            replace_sections("", new),
            "## Boot to a root disk\n\nnew root\n\n## Outer compression\n\nnew compression\n"
        );
    }

    #[test]
    fn a_whole_run_replaces_all_but_the_reading_written_by_hand() {
        let old = format!("# Benchmarks\n\nold host\n\n## Boot\n\nold boot\n\n{READING_HEADING}\n\nwhy\n");
        let new = "# Benchmarks\n\nnew host\n\n## Boot\n\nnew boot\n\n## Storage\n\nnew storage\n";
        assert_eq!(
            whole_document(&old, new),
            format!("{}\n{READING_HEADING}\n\nwhy\n", new),
            "everything measured anew, the reading kept last"
        );
        assert_eq!(whole_document("# Benchmarks\n\nold\n", new), new, "no reading, none added");
    }

    #[test]
    fn each_kernel_replaces_only_the_sections_named_after_it() {
        let (new_12, old_12) = (on_kernel("Boot", "6.12"), on_kernel("Boot", "6.1"));
        assert_eq!(new_12, "## Boot on Linux 6.12");
        let old = format!("# Benchmarks\n\nhost\n\n{new_12}\n\nold 6.12\n\n{old_12}\n\nold 6.1\n");
        let rerun = format!("{new_12}\n\nnew 6.12\n");
        assert_eq!(
            replace_sections(&old, &rerun),
            format!("# Benchmarks\n\nhost\n\n{new_12}\n\nnew 6.12\n\n{old_12}\n\nold 6.1\n")
        );
    }

    #[test]
    fn the_series_is_the_first_two_numbers() {
        assert_eq!(kernel_series("6.12.117+deb13-amd64"), "6.12");
        assert_eq!(kernel_series("6.1.0-57-amd64"), "6.1");
        assert_eq!(kernel_series("6.8"), "6.8");
        assert_eq!(kernel_series("6.8-rc1"), "6.8-rc1", "not two plain numbers: the whole name");
        assert_eq!(kernel_series("custom"), "custom");
    }

    #[test]
    fn boot_parts_run_on_both_kernels_and_the_host_part_on_one() {
        use BenchPart::*;
        assert_eq!(
            plan(&BenchPart::ALL, 3),
            [
                (Release::Debian13, vec![Coldplug, Root, Storage, Record]),
                (Release::Debian12, vec![Host, Coldplug, Root, Storage, Record])
            ]
        );
        assert_eq!(plan(&BenchPart::ALL, 0), [(Release::Debian12, vec![Host])], "no boots: host figures only");
        assert_eq!(plan(&[Root], 3), [(Release::Debian13, vec![Root]), (Release::Debian12, vec![Root])]);
        assert_eq!(plan(&[Host], 3), [(HOST_PART_RELEASE, vec![Host])]);
    }
}
