//! `cargo xtask`: provisions a kernel, builds images, boots them under QEMU, runs the tests.

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use xtask::bench::BenchPart;
use xtask::bench_timing::Figure;
use xtask::initramfs::{self, ImageSpec, ModuleCompression, ModuleStorage};
use xtask::kernel::{self, Kernel, Release};
use xtask::machine::Machine;
use xtask::scenario::{Scenario, modinit_image};
use xtask::select::{ModuleChoice, Selection};
use xtask::suite::Suite;
use xtask::tools::{self, BUSYBOX, DEPMOD, DPKG, QEMU};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "modinit's host harness")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// Which kernel to use: Debian's (downloaded once), or your own.
#[derive(Args, Clone)]
struct KernelArgs {
    /// Your own kernel image (bzImage/vmlinuz); needs --modules.
    #[arg(long, requires = "modules")]
    kernel: Option<PathBuf>,
    /// Your own module tree: a [usr/]lib/modules/VERSION directory.
    #[arg(long)]
    modules: Option<PathBuf>,
    /// Debian release whose kernel to use when no --kernel is given: 12 (Linux 6.1, plain
    /// modules) or 13 (Linux 6.12, .ko.xz decompressed by the kernel).
    #[arg(long, value_enum)]
    kernel_release: Option<Release>,
    /// Debian kernel flavour when no --kernel is given (amd64, cloud-amd64).
    #[arg(long, default_value = kernel::DEFAULT_FLAVOUR)]
    flavour: String,
}

impl KernelArgs {
    /// The kernel these arguments name; Debian `default`'s when they name none.
    fn resolve(&self, default: Release) -> Result<Kernel> {
        let release = self.kernel_release.unwrap_or(default);
        match (&self.kernel, &self.modules) {
            (Some(k), Some(m)) => kernel::from_paths(k, m),
            (None, Some(m)) => {
                let mut k = kernel::provision(release, &self.flavour)?;
                k.version = m.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                k.modules = m.clone();
                Ok(k)
            }
            _ => kernel::provision(release, &self.flavour),
        }
    }
}

/// Which modules of the tree go into the image.
#[derive(Args, Clone)]
struct SelectArgs {
    /// all: the whole tree; most: what a generic bootable image needs (README); host: the
    /// drivers of this machine's devices (or --modaliases) a boot needs (storage, USB, HID,
    /// virtio and hypervisor buses; NICs only with --network-root or a network --rootfs) and
    /// its root filesystem; host-all: the drivers of all its devices and its root filesystem;
    /// list:FILE: module names or aliases, one per line. Dependencies and softdeps come along.
    #[arg(long, default_value = "all", value_parser = |s: &str| s.parse::<Selection>())]
    select: Selection,
    /// For --select host and host-all: modalias lines collected on the target
    /// (`find /sys/devices -name modalias -exec cat {} +`) instead of this machine's.
    #[arg(long)]
    modaliases: Option<PathBuf>,
    /// For --select host and host-all: the root filesystem's type (default: that of this
    /// machine's /); nfs, nfs4, cifs, smb3 and ceph are on the network (see --network-root).
    #[arg(long)]
    rootfs: Option<String>,
    /// For --select host: the root is on the network (NBD, iSCSI, NFS, ...), so the
    /// machine's network cards' drivers go in too.
    #[arg(long)]
    network_root: bool,
    /// Modules (names or aliases) to add, comma-separated.
    #[arg(long, value_delimiter = ',')]
    add: Vec<String>,
    /// Modules to leave out, comma-separated; the modules that need them are left out too.
    #[arg(long, value_delimiter = ',')]
    omit: Vec<String>,
}

impl SelectArgs {
    fn choice(self) -> ModuleChoice {
        let SelectArgs { select, modaliases, rootfs, network_root, add, omit } = self;
        ModuleChoice { selection: select, modaliases, rootfs, network_root, add, omit }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Download and unpack Debian's kernels, 12's and 13's (cached under target/kernel).
    Kernel {
        /// Only this Debian release's kernel: 12 (Linux 6.1) or 13 (Linux 6.12).
        #[arg(long, value_enum)]
        kernel_release: Option<Release>,
        /// Debian kernel flavour, e.g. amd64 or cloud-amd64.
        #[arg(long, default_value = kernel::DEFAULT_FLAVOUR)]
        flavour: String,
    },
    /// Write an initramfs: modinit as /init, a module tree, a real init.
    Initramfs {
        #[arg(long)]
        out: PathBuf,
        /// Module tree to include (a [usr/]lib/modules/VERSION directory); default: that of
        /// Debian's kernel (--kernel-release).
        #[arg(long, conflicts_with = "no_modules")]
        modules: Option<PathBuf>,
        /// The Debian release whose kernel's tree to include when no --modules is given.
        #[arg(long, value_enum, default_value = "13")]
        kernel_release: Release,
        /// Leave the module tree out.
        #[arg(long)]
        no_modules: bool,
        /// Host file to install as /sbin/init; default: the guest test init.
        #[arg(long)]
        init: Option<PathBuf>,
        /// keep (each module as the tree ships it), none, gz, zst or xz. Default: what boots
        /// fastest on the tree's kernel (docs/benchmarks.md, "Module storage and outer compression").
        #[arg(long, value_parser = |s: &str| s.parse::<ModuleStorage>())]
        compress_modules: Option<ModuleStorage>,
        /// Compression of the whole image (its modules are compressed one by one already).
        /// Default: the one that boots fastest (docs/benchmarks.md, "Module storage and outer compression").
        #[arg(long, value_enum, default_value_t = initramfs::DEFAULT_COMPRESSION)]
        compress: ModuleCompression,
        /// Root holding etc/modprobe.d, usr/lib/modules-load.d, ... to bake into the index.
        #[arg(long)]
        config_root: Option<PathBuf>,
        #[command(flatten)]
        select: SelectArgs,
        /// Where the modules' firmware files are looked up.
        #[arg(long, default_value = "/lib/firmware")]
        firmware: PathBuf,
    },
    /// Build `modinit.idx` for a module tree (what depmod does for kmod).
    Index {
        /// A [usr/]lib/modules/VERSION directory; default: Debian's kernel's (--kernel-release).
        #[arg(long)]
        modules: Option<PathBuf>,
        /// The Debian release whose kernel's tree to index when no --modules is given.
        #[arg(long, value_enum, default_value = "13")]
        kernel_release: Release,
        #[arg(long)]
        out: PathBuf,
        /// Root holding etc/modprobe.d, usr/lib/modules-load.d, ...; default: no configuration.
        #[arg(long)]
        config_root: Option<PathBuf>,
    },
    /// Build everything and boot it under QEMU with the console on this terminal.
    Run {
        #[command(flatten)]
        kernel: KernelArgs,
        #[arg(long, value_enum, default_value = "pc")]
        machine: Machine,
        /// As `cargo xtask initramfs --compress-modules`.
        #[arg(long, value_parser = |s: &str| s.parse::<ModuleStorage>())]
        compress_modules: Option<ModuleStorage>,
        #[command(flatten)]
        select: SelectArgs,
        /// Extra kernel command line parameters.
        #[arg(long, default_value = "")]
        append: String,
    },
    /// Measure modinit against its peers and write docs/benchmarks.md and its charts; the
    /// boots on each of Debian's kernels unless one is named.
    Bench {
        #[command(flatten)]
        kernel: KernelArgs,
        /// Boots of each system (interleaved); 0 for the host-side figures only.
        #[arg(long, default_value_t = 5)]
        boots: usize,
        /// Only these parts (comma-separated); their sections of docs/benchmarks.md are
        /// replaced, the others kept. host: the index, binary and decoder figures; coldplug: the
        /// whole tree in the initramfs, /init to real init against kmod, busybox and the insmod
        /// floor; root: to a root disk against initramfs-tools and dracut, the outer
        /// compressions and the module storages.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<BenchPart>,
        /// Write the sections to this file instead of docs/benchmarks.md (how a run over both
        /// kernels collects each kernel's part, run in a process of its own).
        #[arg(long, hide = true)]
        sections_out: Option<PathBuf>,
    },
    /// Boot the census machines and write the corpus of real device modaliases (several
    /// minutes under TCG).
    Modaliases {
        #[command(flatten)]
        kernel: KernelArgs,
        /// Where to write it; default: the committed corpus in tests/fixtures/modaliases/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fuzz the parsers of untrusted bytes (fuzz/targets) with libFuzzer through cargo-fuzz,
    /// one target after the other; installs cargo-fuzz when missing.
    Fuzz {
        /// How long to fuzz each target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (default: all of them).
        target: Option<String>,
    },
    /// The whole test suite: installs the packages the tests use, checks formatting and
    /// clippy, runs the host tests, then the QEMU boot tests.
    Test {
        #[command(flatten)]
        kernel: KernelArgs,
        /// Only run tests whose names contain this (and skip the formatting and clippy gates).
        filter: Option<String>,
        /// Keep every CPU busy with another process while the tests run: the suite and the
        /// product must hold on a slow machine.
        #[arg(long)]
        under_load: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Kernel { kernel_release, flavour } => {
            for release in kernel_release.map_or(Release::ALL.to_vec(), |r| vec![r]) {
                let k = kernel::provision(release, &flavour)?;
                println!("debian{}.vmlinuz={}", release.number(), k.vmlinuz.display());
                println!("debian{}.modules={}", release.number(), k.modules.display());
            }
        }
        Cmd::Initramfs {
            out,
            modules,
            kernel_release,
            no_modules,
            init,
            compress_modules,
            compress,
            config_root,
            select,
            firmware,
        } => {
            tools::ensure(&[&BUSYBOX])?;
            let modules = match (no_modules, modules) {
                (true, _) => None,
                (false, Some(dir)) => Some(existing_tree(dir)?),
                (false, None) => Some(kernel::provision(kernel_release, kernel::DEFAULT_FLAVOUR)?.modules),
            };
            if let Some(modules) = &modules
                && kernel::unpacks(modules, compress) == Some(false)
            {
                let needs = kernel::unpacker_config(compress).unwrap_or_default();
                bail!(
                    "the kernel of {} cannot unpack a {} initramfs (no {needs} in its config)",
                    modules.display(),
                    compress.name()
                );
            }
            let compress_modules = compress_modules
                .unwrap_or_else(|| modules.as_deref().map_or(ModuleStorage::Keep, initramfs::fastest_storage));
            let spec = ImageSpec {
                init: build_modinit()?,
                real_init: Some(init.unwrap_or_else(xtask::paths::guest_init)),
                modules,
                compress_modules,
                config_root,
                select: select.choice(),
                firmware: Some(firmware),
                mtime: None,
            };
            let image = initramfs::assemble(&spec)?;
            let size = initramfs::write(&image, &out, compress)?;
            let counts = initramfs::module_counts(&image);
            for (dir, n) in &counts {
                println!("{n:6} {dir}");
            }
            let total: usize = counts.values().sum();
            println!("{}: {} KiB, {total} modules", out.display(), size.div_ceil(1024));
        }
        Cmd::Index { modules, kernel_release, out, config_root } => {
            let modules = match modules {
                Some(m) => existing_tree(m)?,
                None => kernel::provision(kernel_release, kernel::DEFAULT_FLAVOUR)?.modules,
            };
            let started = std::time::Instant::now();
            let built = xtask::index::build_index(&modules, config_root.as_deref())?;
            for w in &built.warnings {
                eprintln!("xtask: warning: {w}");
            }
            std::fs::write(&out, &built.bytes)?;
            println!(
                "{}: {} modules, {} bytes ({} KiB), built in {} ms",
                out.display(),
                built.modules,
                built.bytes.len(),
                built.bytes.len().div_ceil(1024),
                started.elapsed().as_millis()
            );
        }
        Cmd::Run { kernel, machine, compress_modules, select, append } => {
            tools::ensure(&[&QEMU, &BUSYBOX, &DPKG])?;
            let k = kernel.resolve(Release::CURRENT)?;
            set_setup_env(&k, &build_modinit()?);
            let storage = compress_modules.unwrap_or_else(|| initramfs::fastest_storage(&k.modules));
            let spec = ImageSpec { select: select.choice(), ..modinit_image(Some(k.modules.clone()), storage)? };
            let mut s = Scenario::with_image("run", &spec)?;
            s.machine = machine;
            s.append = append;
            eprintln!(
                "xtask: booting {} under QEMU ({}); the guest powers off when done",
                k.version,
                xtask::qemu::accel()
            );
            s.run_interactive()?;
        }
        Cmd::Bench { kernel, boots, only, sections_out } => {
            tools::ensure(&[&QEMU, &BUSYBOX, &DPKG, &DEPMOD])?;
            let parts = if only.is_empty() { BenchPart::ALL.to_vec() } else { only };
            let named = kernel.kernel.is_some() || kernel.modules.is_some() || kernel.kernel_release.is_some();
            if named {
                let md = bench_kernel(&kernel.resolve(Release::Debian12)?, &parts, boots)?;
                match sections_out {
                    Some(out) => std::fs::write(&out, &md)?,
                    None => {
                        print!("{md}");
                        write_benchmarks(&md, false)?;
                    }
                }
                return Ok(());
            }
            // The scenario code reads one kernel per process (xtask::scenario::setup): each
            // kernel's parts run in a child process of their own. The document is written after
            // each, so that a kernel's failure keeps the sections measured before it.
            let mut md = String::new();
            for (release, parts) in xtask::bench::plan(&parts, boots) {
                md = xtask::bench::replace_sections(&md, &bench_child(release, &kernel.flavour, &parts, boots)?);
                write_benchmarks(&md, false)?;
            }
            print!("{md}");
            // A run of every part on every kernel replaces the whole document.
            write_benchmarks(&md, parts.len() == BenchPart::ALL.len() && boots > 0)?;
        }
        Cmd::Modaliases { kernel, out } => {
            tools::ensure(&[&QEMU, &BUSYBOX, &DPKG, &DEPMOD])?;
            let k = kernel.resolve(Release::Debian12)?;
            set_setup_env(&k, &build_modinit()?);
            let out = out.unwrap_or_else(|| xtask::paths::modalias_corpus(&k.version));
            let n = xtask::modalias_census::write_corpus(&out)?;
            println!("{}: {n} modaliases", out.display());
        }
        Cmd::Fuzz { seconds, target } => {
            let outcomes = xtask::fuzz::run(target.as_deref(), seconds)?;
            print!("{}", xtask::fuzz::report(&outcomes));
            let crashed: Vec<&str> = outcomes.iter().filter(|o| !o.crashes.is_empty()).map(|o| o.target).collect();
            if !crashed.is_empty() {
                bail!("crashes in {}", crashed.join(", "));
            }
        }
        Cmd::Test { kernel, filter, under_load } => {
            tools::ensure_test_packages()?;
            let k = kernel.resolve(Release::Debian12)?;
            // The second kernel: the other Debian release's (Debian 13's beside your own).
            let second_release = match kernel.kernel_release {
                Some(Release::Debian13) => Release::Debian12,
                _ => Release::Debian13,
            };
            let second = kernel::provision(second_release, &kernel.flavour)?;
            set_setup_env(&k, &build_modinit()?);
            set_second_kernel_env(&second);
            Suite { filter: filter.as_deref(), under_load }.run()?;
        }
    }
    Ok(())
}

/// `--modules DIR`, when it is a directory.
fn existing_tree(dir: PathBuf) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!("--modules {}: no such directory (expected a [usr/]lib/modules/VERSION directory)", dir.display());
    }
    Ok(dir)
}

/// The sections of docs/benchmarks.md that `parts` make on the kernel `k` (boots of each system
/// `boots`), measured in this process; the charts are written to docs/.
fn bench_kernel(k: &Kernel, parts: &[BenchPart], boots: usize) -> Result<String> {
    let modinit = build_modinit()?;
    set_setup_env(k, &modinit);
    let docs = xtask::paths::workspace_root().join("docs");
    let series = xtask::bench::kernel_series(&k.version);
    let mut md = String::new();
    if parts.contains(&BenchPart::Host) {
        let load = xtask::bench::load_average();
        let mut rows = xtask::bench::index_rows(&k.modules)?;
        let mut depmod_trees = Vec::new();
        for release in Release::ALL {
            depmod_trees.push((depmod_label(release), kernel::provision(release, kernel::DEFAULT_FLAVOUR)?.modules));
        }
        let depmod_trees: Vec<_> = depmod_trees.iter().map(|(label, tree)| (*label, tree.as_path())).collect();
        rows.extend(xtask::bench::depmod_rows(&modinit, &depmod_trees)?);
        rows.extend(xtask::bench::binary_rows(&modinit)?);
        rows.extend(xtask::bench::decompression_rows(&k.modules)?);
        let context = format!(
            "Host-side figures on kernel {} ({} modules), `modinit depmod` on both Debian trees; {} CPUs, shared \
             (1-minute load average {load} at the start); median of 5 runs each, a command and its peer's in \
             turn. Index build time is `cargo xtask index` (the index alone, read with the host's decoders); \
             `modinit depmod` is the release binary writing kmod's files and modinit.idx, against the goal of \
             {} of kmod's time.",
            k.version,
            xtask::corpus::module_names(&xtask::kmod::indexed_tree(&k.modules)?)?.len(),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            xtask::bench::DEPMOD_GOAL
        );
        md.push_str(&xtask::bench::report(&rows, &context));
    }
    for (part, machine) in [(BenchPart::Coldplug, Machine::Pc), (BenchPart::Storage, Machine::StorageServer)] {
        if boots > 0 && parts.contains(&part) {
            let load = xtask::bench::load_average();
            let measured = xtask::bench_boot::measure(boots, machine)?;
            md.push('\n');
            md.push_str(&xtask::bench_boot::report(&measured, machine, &k.version, &k.modules, &load));
            let chart = xtask::bench_timing::chart(&measured.systems, Figure::Init);
            std::fs::write(docs.join(xtask::bench_boot::chart_file(machine, series)), chart)?;
        }
    }
    if boots > 0 && parts.contains(&BenchPart::Record) {
        let load = xtask::bench::load_average();
        let measured = xtask::bench_record_cost::measure(boots)?;
        md.push('\n');
        md.push_str(&xtask::bench_record_cost::report(&measured, &k.version, &load)?);
        let record = xtask::bench_timeline::record_of(&std::fs::read_to_string(&measured[0].log)?)?;
        let title = format!("modinit's inserts on the PC machine, Linux {series} (its devices' modules)");
        std::fs::write(
            docs.join(xtask::bench_timeline::chart_file(series)),
            xtask::bench_timeline::chart(&record, &title)?,
        )?;
        md.push_str(&format!(
            "\nThe last boot with its record, insert by insert:\n\n![modinit's inserts on Linux {series}, by worker]({})\n",
            xtask::bench_timeline::chart_file(series)
        ));
    }
    if boots > 0 && parts.contains(&BenchPart::Root) {
        let load = xtask::bench::load_average();
        let measured = xtask::bench_root::measure(boots)?;
        md.push('\n');
        md.push_str(&xtask::bench_root::report(&measured, &k.version, &load));
        std::fs::write(docs.join(xtask::bench_root::chart_file(series)), xtask::bench_root::chart(&measured))?;
    }
    Ok(md)
}

/// The row of `modinit depmod`'s time on a release's tree.
fn depmod_label(release: Release) -> &'static str {
    match release {
        Release::Debian12 => "modinit depmod time, Debian 12's tree (plain .ko)",
        Release::Debian13 => "modinit depmod time, Debian 13's tree (.ko.xz)",
    }
}

/// Puts the sections `md` into docs/benchmarks.md in place of those of the same headings, or,
/// with `whole`, writes `md` as the whole document but for the reading written by hand
/// ([`xtask::bench::whole_document`]).
fn write_benchmarks(md: &str, whole: bool) -> Result<()> {
    let path = xtask::paths::workspace_root().join("docs/benchmarks.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let text = if whole { xtask::bench::whole_document(&old, md) } else { xtask::bench::replace_sections(&old, md) };
    Ok(std::fs::write(&path, text)?)
}

/// Runs `cargo xtask bench` for `parts` on Debian `release`'s kernel in a child process (its
/// own [`xtask::scenario::setup`]) and returns the sections it made.
fn bench_child(release: Release, flavour: &str, parts: &[BenchPart], boots: usize) -> Result<String> {
    let out = tempfile::NamedTempFile::new()?;
    let only: Vec<&str> = parts.iter().map(|p| p.name()).collect();
    eprintln!("xtask: bench: {} on Debian {}'s kernel", only.join(", "), release.number());
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "--kernel-release", &release.number().to_string(), "--flavour", flavour])
        .args(["--boots", &boots.to_string(), "--only", &only.join(",")])
        .arg("--sections-out")
        .arg(out.path())
        .status()?;
    if !status.success() {
        bail!("the bench on Debian {}'s kernel failed ({status})", release.number());
    }
    Ok(std::fs::read_to_string(out.path())?)
}

/// Builds modinit and reports its size.
fn build_modinit() -> Result<PathBuf> {
    let (path, size) = xtask::build::modinit_release()?;
    eprintln!("xtask: modinit {} bytes ({} KiB)", size, size.div_ceil(1024));
    Ok(path)
}

/// Names the second kernel to the tests: the host tests read its tree, and the suite boots a
/// part of the QEMU scenarios on it ([`xtask::suite`]).
fn set_second_kernel_env(k: &Kernel) {
    // SAFETY: as in set_setup_env.
    unsafe {
        std::env::set_var(modinit_test_fixtures::SECOND_KERNEL_ENV, &k.vmlinuz);
        std::env::set_var(modinit_test_fixtures::SECOND_MODULES_ENV, &k.modules);
    }
}

/// Hands the kernel and binary to scenario code, in this process and in test processes.
fn set_setup_env(k: &Kernel, modinit: &std::path::Path) {
    // SAFETY: xtask is single-threaded at this point; nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("MODINIT_KERNEL", &k.vmlinuz);
        std::env::set_var("MODINIT_MODULES", &k.modules);
        std::env::set_var("MODINIT_BIN", modinit);
    }
}
