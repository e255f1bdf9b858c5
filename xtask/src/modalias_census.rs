//! The modalias census: real device modaliases from QEMU machines booted with the kernel.
//!
//! Each census machine boots with kmod's modprobe in a coldplug loop as /init, which loads the
//! driver of every device until no new one appears (devices behind USB, SCSI, virtio and HD
//! audio buses show up only then); then qemu/guest/modalias-census prints every modalias under
//! /sys/devices. The union is the corpus that tests resolve with modinit's index and with kmod.

use crate::cpio::Node;
use crate::machine::Machine;
use crate::scenario::{self, Scenario};
use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The machines the corpus is made from, with their CPU models (None: QEMU's default, qemu64).
pub const MACHINES: [(Machine, Option<&str>); 2] = [(Machine::FullPc, None), (Machine::FullQ35, Some("max"))];

/// CPU models booted on the plain PC machine as well: each gives its own `cpu:type:x86,...`
/// modalias (vendor, family, model and the features TCG emulates of it), the string that the
/// many CPU-feature aliases match with wildcards, and brings its own CPU drivers. All 64-bit;
/// not Opteron_G4 or G5, which hang the kernel early under QEMU 7.2's TCG.
pub const CPU_MODELS: [&str; 19] = [
    "kvm64",
    "core2duo",
    "Conroe",
    "Nehalem",
    "SandyBridge",
    "Haswell",
    "Skylake-Client",
    "Skylake-Server",
    "Icelake-Server",
    "Snowridge",
    "Denverton",
    "KnightsMill",
    "Opteron_G1",
    "Opteron_G3",
    "phenom",
    "EPYC",
    "EPYC-Rome",
    "EPYC-Milan",
    "Dhyana",
];

/// Half-second checks with no new modalias before the coldplug loop stops: under TCG a USB
/// device behind a freshly loaded host controller takes a few seconds to appear.
const SETTLE_CHECKS: u32 = 10;

/// Boots `machine` with `cpu` and the census, and returns the distinct modaliases its guest printed.
pub fn census(name: &str, machine: Machine, cpu: Option<&str>) -> Result<BTreeSet<String>> {
    let mut s = Scenario::kmod_reference(name)?;
    let census = crate::paths::modalias_census();
    let script = std::fs::read(&census).with_context(|| format!("reading {}", census.display()))?;
    s.image.insert("sbin/init", Node::File(script), 0o755);
    s.machine = machine;
    s.cpu = cpu.map(str::to_string);
    s.append = format!("SETTLE_CHECKS={SETTLE_CHECKS}");
    s.boot_timeout = Duration::from_secs(900);
    let report = s.boot()?;
    let log = report.outcome.log.display();
    report.check_no_panic().map_err(anyhow::Error::msg)?;
    parse(&report.outcome.console).with_context(|| format!("census of {name}: see {log}"))
}

/// Boots every census machine and CPU model and writes the union of their modaliases to `out`,
/// sorted, after a header saying how they were made. Returns how many there are.
pub fn write_corpus(out: &Path) -> Result<usize> {
    let kernel = &scenario::setup()?.kernel.version;
    let boots = MACHINES.iter().map(|&(m, cpu)| (format!("modaliases-{}", machine_name(m)), m, cpu));
    let cpus = CPU_MODELS.iter().map(|&cpu| (format!("modaliases-cpu-{cpu}"), Machine::Pc, Some(cpu)));
    let mut all = BTreeSet::new();
    for (name, machine, cpu) in boots.chain(cpus) {
        let found = census(&name, machine, cpu)?;
        let (count, before) = (found.len(), all.len());
        all.extend(found);
        eprintln!("xtask: {name}: {count} modaliases, {} new", all.len() - before);
    }
    let machines: Vec<String> = MACHINES
        .iter()
        .map(|&(m, cpu)| machine_name(m) + &cpu.map(|c| format!(" with -cpu {c}")).unwrap_or_default())
        .collect();
    let mut text = format!(
        "# Real device modaliases: every `modalias` attribute and uevent MODALIAS under /sys/devices of\n\
         # QEMU {qemu} (TCG) machines booted with kernel {kernel}, once kmod's modprobe had loaded\n\
         # drivers for them until no new device appeared (qemu/guest/kmod-coldplug), so the devices\n\
         # behind USB, SCSI, virtio and HDA buses are here too, and those the loop saw go away.\n\
         # Machines (xtask/src/machine.rs): {machines}; {pc} with each -cpu of\n",
        qemu = qemu_version()?,
        machines = machines.join(", "),
        pc = machine_name(Machine::Pc),
    );
    for models in CPU_MODELS.chunks(10) {
        writeln!(text, "#   {}", models.join(" "))?;
    }
    text.push_str("# Sorted and distinct. Made by `cargo xtask modaliases`: regenerate, do not edit.\n");
    for alias in &all {
        writeln!(text, "{alias}")?;
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    Ok(all.len())
}

/// The machine's name on the command line (`--machine full-pc`).
fn machine_name(machine: Machine) -> String {
    clap::ValueEnum::to_possible_value(&machine).map_or_else(|| format!("{machine:?}"), |v| v.get_name().to_string())
}

/// `7.2.19` from `QEMU emulator version 7.2.19 (Debian ...)`.
fn qemu_version() -> Result<String> {
    let out = Command::new(crate::tools::QEMU.program).arg("--version").output().context("running QEMU")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().skip_while(|w| *w != "version").nth(1);
    let program = crate::tools::QEMU.program;
    version.map(str::to_string).with_context(|| format!("no version in `{program} --version`: {text}"))
}

/// The `modalias: STRING` lines of a census console, checked against the count that ends them.
fn parse(console: &str) -> Result<BTreeSet<String>> {
    let aliases: BTreeSet<String> =
        console.lines().filter_map(|l| l.strip_prefix("modalias: ")).map(str::to_string).collect();
    let count = console
        .lines()
        .find_map(|l| l.strip_prefix("modalias-census: ")?.strip_suffix(" strings"))
        .context("the census did not finish")?;
    ensure!(
        count.parse::<usize>().ok() == Some(aliases.len()),
        "the guest counted {count} modaliases but {} distinct ones reached the console",
        aliases.len()
    );
    if let Some(bad) = aliases.iter().find(|a| !is_modalias(a)) {
        bail!("not a modalias: {bad:?} (a line broken by other console output?)");
    }
    Ok(aliases)
}

/// `BUS:REST` in printable ASCII without spaces, as the kernel's modalias attributes are.
fn is_modalias(s: &str) -> bool {
    let bus_ok = s
        .split_once(':')
        .is_some_and(|(bus, _)| !bus.is_empty() && bus.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    bus_ok && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_census_and_checks_its_count() {
        let console = "[    1.0] kmod-coldplug: done\nmodalias: pci:v00008086d0000100Esv*\nmodalias: scsi:t-0x00\n\
                       modalias-census: 2 strings\n";
        let got = parse(console).unwrap();
        assert_eq!(got.into_iter().collect::<Vec<_>>(), ["pci:v00008086d0000100Esv*", "scsi:t-0x00"]);
        assert!(parse("modalias: scsi:t-0x00\nmodalias-census: 2 strings\n").is_err(), "a lost line");
        assert!(parse("modalias: scsi:t-0x00\n").is_err(), "no count");
        assert!(parse("modalias: scsi:t-0x00[  1.2] x\nmodalias-census: 1 strings\n").is_err(), "a split line");
    }
}
