//! Boot benchmarks: the same QEMU PC (2 vCPUs, TCG) with the same module tree booted with each
//! system as /init, interleaved (A B C D A B C D ...), each timed from the kernel starting /init
//! to the real init starting, both read from the kernel log's clock inside the guest
//! (qemu/guest/bench-init prints the two records).
//!
//! The tree is stored as plain `.ko`: busybox reads neither `.ko.zst` nor, through modprobe,
//! kmod's binary indexes, and Linux 6.1 decompresses no module itself, so plain files are the
//! one form every peer loads.

use crate::cpio::{Archive, Node};
use crate::initramfs::{self, ImageSpec, ModuleCompression};
use crate::machine::Machine;
use crate::qemu::Boot;
use crate::scenario::setup;
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What runs as /init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Modinit,
    /// kmod's `modprobe -a -b` over every modalias until nothing changes (qemu/guest/kmod-coldplug).
    KmodColdplug,
    /// The same loop with busybox's modprobe.
    BusyboxColdplug,
    /// busybox `insmod` of exactly the files modinit loaded, in its order: no lookups at all.
    InsmodFloor,
}

impl System {
    pub const ALL: [System; 4] = [System::Modinit, System::KmodColdplug, System::BusyboxColdplug, System::InsmodFloor];

    pub fn name(self) -> &'static str {
        match self {
            System::Modinit => "modinit",
            System::KmodColdplug => "kmod coldplug loop",
            System::BusyboxColdplug => "busybox modprobe coldplug loop",
            System::InsmodFloor => "busybox insmod floor",
        }
    }
}

/// One boot's figures.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From the kernel running /init to the real init's first line, in ms.
    pub init_ms: f64,
    /// From the kernel's start to the real init, in ms.
    pub boot_ms: f64,
    pub modules: BTreeSet<String>,
}

/// The boots of one system.
#[derive(Debug, Clone)]
pub struct Measured {
    pub system: System,
    pub image_bytes: u64,
    pub samples: Vec<Sample>,
    /// modinit's own report of its peak memory: (resident KiB, decompression arena KiB).
    pub memory_kib: Option<(u64, u64)>,
}

impl Measured {
    /// Median, min and max of `figure` over the samples.
    pub fn spread(&self, figure: impl Fn(&Sample) -> f64) -> (f64, f64, f64) {
        let mut v: Vec<f64> = self.samples.iter().map(figure).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    }
}

/// Boots every system `runs` times, interleaved, on the PC machine.
pub fn measure(runs: usize) -> Result<Vec<Measured>> {
    let setup = setup()?;
    let dir = crate::paths::target_dir().join("bench");
    let version = &setup.kernel.version;
    let plain = crate::module_tree::stored_as(&setup.kernel.modules, ModuleCompression::None)?;
    let kmod_tree = crate::kmod::indexed_root(&plain)?.join("lib/modules").join(version);
    let image_of = |init: PathBuf, tree: &Path| {
        let spec = ImageSpec::new(init, Some(crate::paths::guest("bench-init")), Some(tree.to_path_buf()), ModuleCompression::None);
        initramfs::assemble(&spec)
    };

    // modinit first: the floor loads what it loaded.
    let modinit = image_of(setup.modinit.clone(), &plain)?;
    let mut measured = vec![write(&dir, System::Modinit, &modinit)?];
    let (first, console) = boot_written(&dir, System::Modinit)?;
    measured[0].samples.push(first);
    measured[0].memory_kib = memory_reported(&console);
    let mut floor = image_of(crate::paths::guest("insmod-floor"), &plain)?;
    let files = floor_files(&modinit, version, &loaded_in_order(&console)?)?;
    floor.insert("etc/floor-modules", Node::File(files.into_bytes()), 0o644);
    // No lookups: the kernel's request_module() finds no helper (the image's points at /init).
    floor.remove("sbin/modprobe");
    let mut kmod = image_of(crate::paths::kmod_coldplug(), &kmod_tree)?;
    crate::kmod::add_modprobe(&mut kmod)?;
    let mut busybox = image_of(crate::paths::kmod_coldplug(), &kmod_tree)?;
    busybox.insert("sbin/modprobe", Node::Symlink(initramfs::GUEST_BUSYBOX.into()), 0o777);
    for (system, image) in [(System::KmodColdplug, kmod), (System::BusyboxColdplug, busybox), (System::InsmodFloor, floor)] {
        measured.push(write(&dir, system, &image)?);
    }

    for run in 0..runs {
        for m in measured.iter_mut().filter(|m| m.samples.len() <= run) {
            eprintln!("xtask: bench: {} run {}/{runs}", m.system.name(), run + 1);
            m.samples.push(boot_written(&dir, m.system)?.0);
        }
    }
    Ok(measured)
}

/// Writes the image of `system`, to be booted by [`boot_written`].
fn write(dir: &Path, system: System, image: &Archive) -> Result<Measured> {
    let image_bytes = initramfs::write(image, &dir.join(format!("{system:?}.cpio")), ModuleCompression::None)?;
    Ok(Measured { system, image_bytes, samples: Vec::new(), memory_kib: None })
}

/// Boots the image written for `system`; the sample and the console.
fn boot_written(dir: &Path, system: System) -> Result<(Sample, String)> {
    let setup = setup()?;
    let initrd = dir.join(format!("{system:?}.cpio"));
    let mut b = Boot::new(&setup.kernel.vmlinuz, &initrd, &dir.join(format!("{system:?}.log")));
    b.devices = Machine::Pc.qemu_args(&dir.join("disks"))?;
    // The plain tree is a 400 MB initramfs, unpacked into RAM.
    b.memory_mib = 2048;
    b.cpus = 2;
    let outcome = b.run()?;
    let sample = sample(&outcome.console).with_context(|| format!("{}: see {}", system.name(), outcome.log.display()))?;
    Ok((sample, outcome.console))
}

/// The figures of a console showing bench-init's lines.
fn sample(console: &str) -> Result<Sample> {
    let stamp = |marker: &str| -> Result<f64> {
        let line = console.lines().find(|l| l.starts_with("bench: [") && l.contains(marker));
        let line = line.with_context(|| format!("no kernel record {marker:?}"))?;
        let seconds = line.trim_start_matches("bench: [").split(']').next().unwrap_or_default().trim();
        Ok(seconds.parse::<f64>().with_context(|| format!("bad timestamp in {line:?}"))? * 1000.0)
    };
    let (start, end) = (stamp("Run /init as init process")?, stamp("bench-init: started")?);
    let modules = console.lines().find_map(|l| l.strip_prefix("bench: modules=")).context("no module list")?;
    Ok(Sample { init_ms: end - start, boot_ms: end, modules: modules.split_whitespace().map(str::to_string).collect() })
}

/// What modinit's summary line says of its memory: `(memory peak R KiB, decompression A KiB)`.
fn memory_reported(console: &str) -> Option<(u64, u64)> {
    let rest = console.lines().find_map(|l| l.split("modinit: done: ").nth(1))?;
    let rest = rest.split("(memory peak ").nth(1)?;
    let (resident, rest) = rest.split_once(" KiB, decompression ")?;
    let arena = rest.split(" KiB").next()?;
    Some((resident.parse().ok()?, arena.parse().ok()?))
}

/// The modules modinit's console says it loaded, in order.
fn loaded_in_order(console: &str) -> Result<Vec<String>> {
    let names: Vec<String> = console
        .lines()
        .filter_map(|l| l.split("modinit: loaded ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        bail!("modinit loaded nothing: no floor to measure");
    }
    Ok(names)
}

/// The guest paths of the module files named `names`, one per line, from `image`'s index.
fn floor_files(image: &Archive, version: &str, names: &[String]) -> Result<String> {
    let index_path = format!("lib/modules/{version}/modinit.idx");
    let bytes = image.file(&index_path).with_context(|| format!("{index_path} in the image"))?;
    let index = modinit::index::Index::open(bytes).map_err(|e| anyhow::anyhow!("{index_path}: {e}"))?;
    let mut out = String::new();
    for name in names {
        let module = index.find(name.as_bytes(), false).with_context(|| format!("{name}: not in the index"))?;
        let mut buf = [0u8; 4096];
        let path = module.path(&mut buf).context("a module path")?;
        let _ = writeln!(out, "/lib/modules/{version}/{}", String::from_utf8_lossy(path));
    }
    Ok(out)
}

/// The boot section of docs/benchmarks.md: per system, the median and spread of the time
/// /init took and of boot-to-init, the image size, and modinit's ratio to each.
pub fn report(measured: &[Measured]) -> String {
    let mut md = String::from("## Boot\n\n");
    let runs = measured.iter().map(|m| m.samples.len()).min().unwrap_or(0);
    let _ = writeln!(
        md,
        "The PC machine (`xtask/src/machine.rs`: virtio disk, NIC, RNG and balloon; AHCI, NVMe, e1000, USB \
         xHCI with storage, keyboard and tablet), 2 vCPUs under TCG, the whole Debian tree as plain `.ko` in \
         the initramfs; {runs} boots each, interleaved. Time from the kernel running /init to the real init \
         starting, both read from the kernel log's clock in the guest.\n"
    );
    md.push_str("| /init | median | min – max | boot to real init | modules loaded | image | modinit / this |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    let modinit = measured.iter().find(|m| m.system == System::Modinit).map(|m| m.spread(|s| s.init_ms).0);
    for m in measured {
        let (median, min, max) = m.spread(|s| s.init_ms);
        let (boot, _, _) = m.spread(|s| s.boot_ms);
        let modules = m.samples.first().map_or(0, |s| s.modules.len());
        let ratio = modinit.map_or(String::new(), |ours| format!("{:.2}", ours / median));
        let _ = writeln!(
            md,
            "| {} | {median:.0} ms | {min:.0} – {max:.0} ms | {boot:.0} ms | {modules} | {} MiB | {ratio} |",
            m.system.name(),
            m.image_bytes >> 20
        );
    }
    if let Some((resident, arena)) = measured.iter().find_map(|m| m.memory_kib) {
        let _ = writeln!(md, "\nmodinit's peak memory as PID 1 (VmHWM when its driver phase ends): {resident} KiB, of which the zstd decoder's arena at most {arena} KiB.");
    }
    md.push_str("\n![Time from /init to the real init](boot-time.svg)\n");
    md
}

/// An SVG bar chart of the time /init took per system: the median as a bar, min to max as a line.
pub fn chart(measured: &[Measured]) -> String {
    const ROW: f64 = 34.0;
    const LABEL: f64 = 230.0;
    const PLOT: f64 = 420.0;
    let max = measured.iter().map(|m| m.spread(|s| s.init_ms).2).fold(1.0, f64::max);
    let scale = PLOT / max;
    let height = ROW * measured.len() as f64 + 50.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" \
         font-size=\"13\">\n<text x=\"10\" y=\"20\" font-weight=\"bold\">Time from /init to the real init \
         (median; min to max)</text>\n",
        LABEL + PLOT + 90.0
    );
    for (i, m) in measured.iter().enumerate() {
        let (median, min, max) = m.spread(|s| s.init_ms);
        let y = 35.0 + ROW * i as f64;
        let fill = if m.system == System::Modinit { "#2a7ab0" } else { "#9aa5ad" };
        let _ = writeln!(svg, "<text x=\"10\" y=\"{}\">{}</text>", y + 17.0, m.system.name());
        let _ = writeln!(svg, "<rect x=\"{LABEL}\" y=\"{y}\" width=\"{:.1}\" height=\"22\" fill=\"{fill}\"/>", median * scale);
        let (x0, x1, mid) = (LABEL + min * scale, LABEL + max * scale, y + 11.0);
        let _ = writeln!(svg, "<line x1=\"{x0:.1}\" y1=\"{mid}\" x2=\"{x1:.1}\" y2=\"{mid}\" stroke=\"black\"/>");
        let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{}\">{:.1} s</text>", x1.max(LABEL + median * scale) + 6.0, y + 17.0, median / 1000.0);
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_read_from_the_two_kernel_records() {
        let console = "[    4.000000] Run /init as init process\nbench: [    3.500000] Run /init as init process\n\
                       bench: [    9.250000] bench-init: started\nbench: modules=a b\n";
        let s = sample(console).unwrap();
        assert_eq!((s.init_ms, s.boot_ms), (5750.0, 9250.0));
        assert_eq!(s.modules.len(), 2);
        assert!(sample("bench: modules=a\n").is_err(), "no records: no sample");
        let done = "[ 5.1] modinit: done: loaded=3 builtin=0 skipped=0 failed=0 in 9 ms (memory peak 812 KiB, decompression 40 KiB)";
        assert_eq!(memory_reported(done), Some((812, 40)));
    }
}
