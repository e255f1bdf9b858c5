//! The coldplug boot comparison: the same QEMU PC (2 vCPUs, TCG) with the same module tree booted with each
//! system as /init, interleaved (A B C D A B C D ...), each timed from the kernel starting /init
//! to the real init starting, both read from the kernel log's clock inside the guest
//! (qemu/guest/bench-init prints the two records).
//!
//! The tree is stored as plain `.ko`: busybox reads neither `.ko.zst` nor `.ko.xz` nor, through
//! modprobe, kmod's binary indexes, and Linux 6.1 decompresses no module itself, so plain files
//! are the one form every peer loads. Debian 13's `.ko.xz` tree is decompressed for it at image
//! build time (once, cached), though kmod and Linux 6.12 would read the shipped files.

use crate::bench_timing::{self, Failed, Figure, Measured};
use crate::cpio::{Archive, Node};
use crate::initramfs::{self, ImageSpec, ModuleCompression};
use crate::machine::Machine;
use crate::qemu::Boot;
use crate::scenario::setup;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What runs as /init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// modinit with its default `modinit.jobs` (4 inserts at once per CPU).
    Modinit,
    /// modinit with `modinit.jobs=1`: one insert after the other.
    ModinitSequential,
    /// kmod's `modprobe -a -b` over every modalias until nothing changes (qemu/guest/kmod-coldplug).
    KmodColdplug,
    /// The same loop with busybox's modprobe.
    BusyboxColdplug,
    /// busybox `insmod` of exactly the files modinit loaded, in its order: no lookups at all.
    InsmodFloor,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Modinit => "modinit",
            System::ModinitSequential => "modinit, modinit.jobs=1",
            System::KmodColdplug => "kmod coldplug loop",
            System::BusyboxColdplug => "busybox modprobe coldplug loop",
            System::InsmodFloor => "busybox insmod floor",
        }
    }
}

/// What the comparison measured.
pub struct Coldplug {
    pub systems: Vec<Measured>,
    /// The peers whose boots failed, left out.
    pub failed: Vec<Failed>,
}

/// Boots every system `runs` times, interleaved, on `machine`.
pub fn measure(runs: usize, machine: Machine) -> Result<Coldplug> {
    let setup = setup()?;
    let dir = crate::paths::target_dir().join("bench").join(format!("{machine:?}"));
    let mut boot = |m: &Measured| boot(m, machine);
    let version = &setup.kernel.version;
    let plain = crate::module_tree::stored_as(&setup.kernel.modules, ModuleCompression::None)?;
    let kmod_tree = crate::kmod::indexed_tree(&plain)?;
    let image_of = |init: PathBuf, tree: &Path| {
        let spec = ImageSpec::new(
            init,
            Some(crate::paths::guest("bench-init")),
            Some(tree.to_path_buf()),
            ModuleCompression::None,
        );
        initramfs::assemble(&spec)
    };

    // modinit first: the floor loads what it loaded.
    let modinit = image_of(setup.modinit.clone(), &plain)?;
    let mut measured = vec![write(&dir, System::Modinit, &modinit)?];
    let console = measured[0].boot_once(&mut boot)?;
    let mut floor = image_of(crate::paths::guest("insmod-floor"), &plain)?;
    let files = floor_files(&modinit, version, &loaded_in_order(&console)?)?;
    floor.insert("etc/floor-modules", Node::File(files.into_bytes()), 0o644);
    // No lookups: the kernel's request_module() finds no helper (the image's points at /init).
    floor.remove("sbin/modprobe");
    let mut kmod = image_of(crate::paths::kmod_coldplug(), &kmod_tree)?;
    crate::kmod::add_modprobe(&mut kmod)?;
    let mut busybox = image_of(crate::paths::kmod_coldplug(), &kmod_tree)?;
    busybox.insert("sbin/modprobe", Node::Symlink(initramfs::GUEST_BUSYBOX.into()), 0o777);
    let mut sequential = Measured::new(
        System::ModinitSequential.name(),
        true,
        measured[0].initrd.clone(),
        dir.join("ModinitSequential.log"),
    )?;
    sequential.append = "modinit.jobs=1".into();
    measured.push(sequential);
    for (system, image) in
        [(System::KmodColdplug, kmod), (System::BusyboxColdplug, busybox), (System::InsmodFloor, floor)]
    {
        measured.push(write(&dir, system, &image)?);
    }
    let failed = bench_timing::interleave(&mut measured, runs, &mut boot)?;
    Ok(Coldplug { systems: measured, failed })
}

/// Writes the image of `system`, to be booted by [`boot`].
fn write(dir: &Path, system: System, image: &Archive) -> Result<Measured> {
    let initrd = dir.join(format!("{system:?}.cpio"));
    initramfs::write(image, &initrd, ModuleCompression::None)?;
    Measured::new(system.name(), system == System::Modinit, initrd, dir.join(format!("{system:?}.log")))
}

/// Boots the image of `m` on `machine`; the console.
pub fn boot(m: &Measured, machine: Machine) -> Result<String> {
    let setup = setup()?;
    let dir = m.initrd.parent().context("the image's directory")?;
    let mut b = Boot::new(&setup.kernel.vmlinuz, &m.initrd, &m.log);
    b.append = m.append.clone();
    b.devices = machine.qemu_args(&dir.join("disks"))?;
    // The plain tree is a 400 MB initramfs, unpacked into RAM.
    b.memory_mib = 2048;
    b.cpus = 2;
    Ok(b.run()?.console)
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

/// The name of the coldplug chart of `machine` on the kernel series `series` in docs/.
pub fn chart_file(machine: Machine, series: &str) -> String {
    match machine {
        Machine::Pc => format!("boot-time-{series}.svg"),
        other => format!("boot-time-{}-{series}.svg", heading(other).to_lowercase().replace(' ', "-")),
    }
}

/// What a section's heading calls `machine`'s boots.
fn heading(machine: Machine) -> &'static str {
    match machine {
        Machine::StorageServer => "Storage server",
        _ => "Boot",
    }
}

/// The boot section of docs/benchmarks.md for `machine` on the kernel `version` whose tree is
/// `modules`: per system, the median and spread of the time /init took and of boot-to-init, the
/// image size, and modinit's ratio to each. `load` is the load average when the boots began.
pub fn report(bench: &Coldplug, machine: Machine, version: &str, modules: &Path, load: &str) -> String {
    let measured = &bench.systems;
    let series = crate::bench::kernel_series(version);
    let mut md = format!("{}\n\n", crate::bench::on_kernel(heading(machine), series));
    let runs = measured.iter().map(|m| m.samples.len()).min().unwrap_or(0);
    let shipped = match crate::module_tree::shipped_compression(modules) {
        Some(c) if c != ModuleCompression::None => format!(
            " (the tree ships `.ko{}`, decompressed here when the image is built: busybox's modprobe reads no \
             `.ko{}` (kmod's does), so plain `.ko` is the one form every peer loads, and modinit loads the same \
             files; `Module storage` below compares the forms for modinit)",
            c.suffix(),
            c.suffix()
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        md,
        "Kernel {version}. {}, 2 vCPUs under TCG, the whole Debian tree as plain `.ko` in the initramfs{shipped}; \
         {runs} boots each, interleaved; 1-minute load average of the shared host {load} when the boots began, {} \
         when they ended. Time from the kernel running /init to the real init starting, both read from the kernel \
         log's clock in the guest; the ratio is of that time.\n",
        machine.describe(),
        crate::bench::load_average()
    );
    md.push_str(&bench_timing::table(measured, Figure::Init));
    let median = |system: System| measured.iter().find(|m| m.name == system.name()).map(|m| m.spread(Figure::Init).0);
    let ratio =
        |a: System, b: System| median(a).zip(median(b)).map_or("?".to_string(), |(a, b)| format!("{:.2}", a / b));
    let _ = writeln!(
        md,
        "\nGoals (issue 20), medians of /init to real init: one insert at a time / the insmod floor = {} (goal ≤ 1.0); \
         default jobs / the floor = {} (goal ≤ 0.5); default jobs / the kmod loop = {} (goal ≤ 0.5).",
        ratio(System::ModinitSequential, System::InsmodFloor),
        ratio(System::Modinit, System::InsmodFloor),
        ratio(System::Modinit, System::KmodColdplug),
    );
    let own = bench_timing::own_time_text(measured);
    if !own.is_empty() {
        let _ = writeln!(md, "\n{own}");
    }
    if let Some((resident, arena)) = measured.iter().find_map(|m| m.memory_kib) {
        let _ = writeln!(
            md,
            "\nmodinit's peak memory as PID 1 (VmHWM when its driver phase ends): {resident} KiB, of which the zstd decoder's arena at most {arena} KiB."
        );
    }
    for Failed { name, why } in &bench.failed {
        let _ = writeln!(md, "\n{name}: left out, its boot failed here: {why}");
    }
    let _ = writeln!(
        md,
        "\n![Time from /init to the real init on Linux {series}, {}]({})",
        heading(machine).to_lowercase(),
        chart_file(machine, series)
    );
    md
}
