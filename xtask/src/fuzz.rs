//! `cargo xtask fuzz`: the fuzz targets (fuzz/targets) under libFuzzer, through cargo-fuzz on
//! the stable toolchain (RUSTC_BOOTSTRAP=1 lets it pass `-Zsanitizer`).
//!
//! Everything lives under `target/fuzz/`: `build/` (the instrumented binaries), `seeds/TARGET/`
//! (remade each run from real data), `corpus/TARGET/` (what libFuzzer found, kept between
//! runs) and `artifacts/TARGET/` (inputs that crashed, timed out or ran out of memory).

use anyhow::{Context, Result, bail};
use modinit_fuzz_targets::seeds::{Sources, seeds};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Real modules to seed from: the smallest files of the tree.
const REAL_MODULES: usize = 40;

/// What one target's run found.
#[derive(Debug)]
pub struct Outcome {
    pub target: &'static str,
    /// Inputs executed (libFuzzer's `number_of_executed_units`).
    pub execs: u64,
    /// Code edges the inputs reached (libFuzzer's `cov`).
    pub coverage: u64,
    /// Inputs in libFuzzer's corpus at the end (seeds and what it added).
    pub corpus: u64,
    /// Inputs it added this run.
    pub new: u64,
    /// Crashing, timing-out, leaking or out-of-memory inputs it wrote.
    pub crashes: Vec<PathBuf>,
}

/// Fuzzes `only` (all targets when None) for `seconds` each, one after the other.
pub fn run(only: Option<&str>, seconds: u64) -> Result<Vec<Outcome>> {
    let targets: Vec<&'static str> = match only {
        Some(name) => vec![modinit_fuzz_targets::target(name).with_context(|| unknown(name))?.name],
        None => modinit_fuzz_targets::TARGETS.iter().map(|t| t.name).collect(),
    };
    ensure_cargo_fuzz()?;
    let root = crate::paths::target_dir().join("fuzz");
    build(&root.join("build"), only)?;
    let sources = Sources::new(REAL_MODULES, true);
    match &sources.module_tree {
        Some(tree) => eprintln!("xtask: seeding from {}", tree.display()),
        None => eprintln!("xtask: no module tree (run `cargo xtask kernel`): seeds without real modules"),
    }
    let mut outcomes = Vec::new();
    for target in targets {
        let seeds_dir = root.join("seeds").join(target);
        write_seeds(&seeds_dir, &target_seeds(target, &sources)?)?;
        let outcome = fuzz_one(&root, target, &seeds_dir, seconds)?;
        let crashes = outcome.crashes.len();
        eprintln!("xtask: {target}: {} execs, corpus {}, {crashes} crashes", outcome.execs, outcome.corpus);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = modinit_fuzz_targets::TARGETS.iter().map(|t| t.name).collect();
    format!("no fuzz target {name}; the targets are {}", names.join(", "))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is not there.
fn ensure_cargo_fuzz() -> Result<()> {
    let present = cargo().args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz");
    let status = cargo().args(["install", "--locked", "cargo-fuzz"]).status().context("running cargo install")?;
    if !status.success() {
        bail!("`cargo install --locked cargo-fuzz` failed ({status})");
    }
    Ok(())
}

/// Builds the libFuzzer binary of `only`, or of every target: release, debug assertions and
/// overflow checks on, AddressSanitizer (cargo-fuzz's defaults).
fn build(target_dir: &Path, only: Option<&str>) -> Result<()> {
    let status = cargo()
        .args(["fuzz", "build", "--fuzz-dir", "fuzz", "--target-dir"])
        .arg(target_dir)
        .args(only)
        .current_dir(crate::paths::workspace_root())
        .env("RUSTC_BOOTSTRAP", "1")
        .status()
        .context("running cargo fuzz build")?;
    if !status.success() {
        bail!("`cargo fuzz build` failed ({status})");
    }
    Ok(())
}

/// Where `cargo fuzz build` puts the binary of `target`.
fn binary(root: &Path, target: &str) -> PathBuf {
    root.join("build/x86_64-unknown-linux-gnu/release").join(target)
}

/// The target's seeds; for `index` also the index of the whole tree, as `cargo xtask index`
/// builds it.
fn target_seeds(target: &str, sources: &Sources) -> Result<Vec<Vec<u8>>> {
    let mut out = seeds(target, sources);
    if let (Some(tree), "index") = (&sources.module_tree, target) {
        out.push(crate::index::build_index(tree, None)?.bytes);
    }
    Ok(out)
}

/// Replaces `dir`'s contents with `seeds`, each named by its checksum and length.
fn write_seeds(dir: &Path, seeds: &[Vec<u8>]) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    for seed in seeds {
        let name = format!("seed-{:08x}-{}", modinit::crc32::checksum(seed), seed.len());
        fs::write(dir.join(name), seed)?;
    }
    Ok(())
}

fn fuzz_one(root: &Path, target: &'static str, seeds: &Path, seconds: u64) -> Result<Outcome> {
    let corpus = root.join("corpus").join(target);
    let artifacts = root.join("artifacts").join(target);
    fs::create_dir_all(&corpus)?;
    fs::create_dir_all(&artifacts)?;
    let before = files(&artifacts)?;
    let binary = binary(root, target);
    eprintln!("xtask: fuzzing {target} for {seconds} s");
    let log = root.join(format!("{target}.log"));
    let output = Command::new(&binary)
        .arg(&corpus)
        .arg(seeds)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(["-print_final_stats=1", "-timeout=30", "-rss_limit_mb=4096"])
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    fs::write(&log, stderr.as_bytes())?;
    let crashes: Vec<PathBuf> = files(&artifacts)?.into_iter().filter(|f| !before.contains(f)).collect();
    if !output.status.success() && crashes.is_empty() {
        bail!("{target}: libFuzzer failed ({}) without an artifact; see {}", output.status, log.display());
    }
    let stat = |name: &str| -> u64 {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_default()
    };
    Ok(Outcome {
        target,
        execs: stat("number_of_executed_units").max(last_status(&stderr, "#").unwrap_or_default()),
        coverage: last_status(&stderr, "cov: ").unwrap_or_default(),
        corpus: last_status(&stderr, "corp: ").unwrap_or_default(),
        new: stat("new_units_added"),
        crashes,
    })
}

/// The number after `key` in libFuzzer's last status line that has it (`#1234 ... corp: 56/7Kb`).
fn last_status(log: &str, key: &str) -> Option<u64> {
    log.lines().rev().filter(|l| l.starts_with('#')).find_map(|l| {
        let after = &l[l.find(key)? + key.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<PathBuf>, _>>()?;
    out.sort();
    Ok(out)
}

/// The outcomes as a table, then each crash with the command that replays it (the
/// instrumented binary run on one input).
pub fn report(outcomes: &[Outcome]) -> String {
    let root = crate::paths::target_dir().join("fuzz");
    let row = |cells: [&dyn std::fmt::Display; 6]| {
        let [target, execs, edges, corpus, new, crashes] = cells.map(|c| c.to_string());
        format!("{target:<14} {execs:>12} {edges:>8} {corpus:>8} {new:>6} {crashes:>8}\n")
    };
    let mut out = row([&"target", &"execs", &"edges", &"corpus", &"new", &"crashes"]);
    for o in outcomes {
        out += &row([&o.target, &o.execs, &o.coverage, &o.corpus, &o.new, &o.crashes.len()]);
    }
    for o in outcomes {
        for crash in &o.crashes {
            let (crash, binary) = (crash.display(), binary(&root, o.target));
            out += &format!("{}: {crash}\n  replay: {} {crash}\n", o.target, binary.display());
        }
    }
    out
}
