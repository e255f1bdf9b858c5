//! The root-disk comparison: the QEMU PC (2 vCPUs, TCG) booted to an ext4 root on virtio-blk,
//! named by `root=UUID=`, whose /sbin/init is qemu/guest/bench-init, with modinit's `most` and
//! `host` images next to Debian's initramfs-tools and dracut images for the same kernel
//! ([`crate::peers`]); and modinit's `most` image with each outer compression. Every system
//! boots once per round, interleaved, timed from the kernel's start (and from /init) to the
//! real init on the guest's kernel-log clock.

use crate::bench_timing::{self, Figure, Measured};
use crate::cpio::{Archive, Node};
use crate::disk_image::{self, Identity};
use crate::initramfs::{self, DEFAULT_COMPRESSION, ImageSpec, ModuleCompression};
use crate::machine::{DiskBus, Machine};
use crate::peers::{self, Generator};
use crate::qemu::Boot;
use crate::scenario::setup;
use crate::select::{ModuleChoice, Selection};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ROOT_UUID: &str = "5e2b8c1d-4a3f-4e6b-9c7d-8f0a1b2c3d4e";
const MOST: &str = "modinit most";
const HOST: &str = "modinit host";
/// Outer compressions, in the order they are compared.
const COMPRESSIONS: [ModuleCompression; 3] = [ModuleCompression::None, ModuleCompression::Gz, ModuleCompression::Zst];

/// What the comparison measured.
pub struct RootBench {
    /// modinit `most` (with [`DEFAULT_COMPRESSION`]), modinit `host`, the peers that could be
    /// built, then modinit `most` with the other outer compressions.
    pub systems: Vec<Measured>,
    /// The peers that could not be built here, and why.
    pub unbuilt: Vec<(Generator, String)>,
}

/// Builds the root disk and every image, then boots each system `runs` times, interleaved.
pub fn measure(runs: usize) -> Result<RootBench> {
    let dir = crate::paths::target_dir().join("bench").join("root");
    let disk = root_disk(&dir)?;
    let most = modinit_image(ModuleChoice { selection: Selection::Most, ..ModuleChoice::default() })?;
    let host = modinit_image(ModuleChoice {
        selection: Selection::Host,
        modaliases: Some(pc_modaliases(&dir)?),
        rootfs: Some("ext4".into()),
        ..ModuleChoice::default()
    })?;
    let mut systems = vec![
        write(&dir, "most", MOST, &most, DEFAULT_COMPRESSION)?,
        write(&dir, "host", HOST, &host, DEFAULT_COMPRESSION)?,
    ];
    let mut unbuilt = Vec::new();
    for generator in Generator::ALL {
        match peer(&dir, generator) {
            Ok(m) => systems.push(m),
            Err(e) => {
                eprintln!("xtask: warning: no {} image: {e:#}", generator.name());
                unbuilt.push((generator, format!("{e:#}")));
            }
        }
    }
    for compression in COMPRESSIONS.into_iter().filter(|&c| c != DEFAULT_COMPRESSION) {
        let file = format!("most-{}", compression.name());
        systems.push(write(&dir, &file, &compressed_name(compression), &most, compression)?);
    }
    bench_timing::interleave(&mut systems, runs, |m| boot(m, &disk))?;
    Ok(RootBench { systems, unbuilt })
}

/// The root disk in `dir` (root.img): an ext4 filesystem holding [`root_tree`].
pub fn root_disk(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let disk = dir.join("root.img");
    let id = Identity { uuid: ROOT_UUID.into(), label: "bench-root".into(), partition: None };
    disk_image::ext4(&root_tree()?, &id, 32, &disk)?;
    Ok(disk)
}

/// modinit as /init (no real init: that is on the root disk) and the modules `select` takes,
/// stored as `.ko.zst`.
pub fn modinit_image(select: ModuleChoice) -> Result<Archive> {
    let setup = setup()?;
    let modules = Some(setup.kernel.modules.clone());
    let spec = ImageSpec::new(setup.modinit.clone(), None, modules, ModuleCompression::Zst);
    initramfs::assemble(&ImageSpec { select, ..spec })
}

/// The image `generator` makes for the kernel, as a system whose consoles go to `dir`.
pub fn peer(dir: &Path, generator: Generator) -> Result<Measured> {
    let image = peers::image(generator, &setup()?.kernel)?;
    Measured::new(generator.name(), false, image, dir.join(format!("{generator:?}.log")))
}

/// The name of modinit's `most` image with the outer `compression`.
fn compressed_name(compression: ModuleCompression) -> String {
    match compression == DEFAULT_COMPRESSION {
        true => MOST.to_string(),
        false => format!("{MOST}, --compress {}", compression.name()),
    }
}

/// The root filesystem: bench-init as /sbin/init with its shell, the mount points, and an
/// os-release (systemd, in dracut's image, switches only to a root that has one).
fn root_tree() -> Result<Archive> {
    let mut a = Archive::new();
    for dir in ["dev", "proc", "sys", "run", "tmp", "root"] {
        a.insert(dir, Node::Dir, 0o755);
    }
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    a.insert("sbin/init", Node::File(read(&crate::paths::guest("bench-init"))?), 0o755);
    a.insert(initramfs::GUEST_BUSYBOX, Node::File(read(Path::new(crate::tools::BUSYBOX_STATIC))?), 0o755);
    a.insert("etc/os-release", Node::File(b"ID=modinit-bench\nNAME=\"modinit bench root\"\n".to_vec()), 0o644);
    Ok(a)
}

/// The modaliases of the PC machine, from a census boot ([`crate::modalias_census`]) made once
/// per kernel and kept in `dir`.
fn pc_modaliases(dir: &Path) -> Result<PathBuf> {
    let file = dir.join(format!("modaliases-pc-{}.txt", setup()?.kernel.version));
    if !file.is_file() {
        eprintln!("xtask: bench: booting the PC machine once for its modaliases (the host image's input)");
        let found = crate::modalias_census::census("bench-root-census", Machine::Pc, None)?;
        let text: String = found.iter().map(|a| format!("{a}\n")).collect();
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(file)
}

/// Writes modinit's `image` compressed with `compression` as `file` (.img, and .log for the
/// consoles) in `dir`: the system `name`.
pub fn write(dir: &Path, file: &str, name: &str, image: &Archive, compression: ModuleCompression) -> Result<Measured> {
    let initrd = dir.join(format!("{file}.img"));
    initramfs::write(image, &initrd, compression)?;
    Measured::new(name, true, initrd, dir.join(format!("{file}.log")))
}

/// Boots `m` on the PC machine with `disk` as an extra virtio-blk disk, `root=UUID=` naming
/// it; the console.
pub fn boot(m: &Measured, disk: &Path) -> Result<String> {
    let setup = setup()?;
    let mut b = Boot::new(&setup.kernel.vmlinuz, &m.initrd, &m.log);
    b.devices = Machine::Pc.qemu_args(&m.log.with_extension("disks"))?;
    b.devices.extend(crate::machine::disk_args(DiskBus::VirtioBlk, 0, disk));
    // Every boot finds the same disk: writes (a journal replay, fsck) go to a temporary file.
    b.devices.push("-snapshot".into());
    b.append = format!("root=UUID={ROOT_UUID}");
    b.cpus = 2;
    b.timeout = Duration::from_secs(300);
    Ok(b.run()?.console)
}

/// The sections of docs/benchmarks.md: the systems' table with the goals' ratios, the peers
/// that could not be built, and the outer compressions' table.
pub fn report(bench: &RootBench) -> String {
    let systems = &bench.systems;
    let runs = systems.iter().map(|m| m.samples.len()).min().unwrap_or(0);
    let peers: Vec<&str> = Generator::ALL.iter().map(|g| g.name()).collect();
    let mut md = String::from("## Boot to a root disk\n\n");
    let _ = writeln!(
        md,
        "Made by `cargo xtask bench --only root` (a part of `cargo xtask bench`). The PC machine with one more \
         virtio-blk disk holding an ext4 root, named `root=UUID=`, whose /sbin/init is qemu/guest/bench-init; \
         2 vCPUs under TCG; {runs} boots each, interleaved. modinit's `most` image (`--select most`) and its \
         `host` image (the modaliases of a census boot of the same machine, `--rootfs ext4`) hold `.ko.zst` \
         modules in a cpio compressed as `--compress {}` (the default). Debian's images are made for the same \
         kernel by `mkinitramfs` (initramfs-tools-core, Debian's initramfs.conf: MODULES=most, zstd) and \
         `dracut --no-hostonly` (dracut-core, no configuration), both installed without recommendations, run \
         in a private mount namespace where /lib/modules/VERSION is the depmod'd tree and /boot the kernel's \
         (mkinitramfs reads only those paths; `xtask/src/peers.rs`), cached under target/peers/. Boot to real \
         init: from the kernel's start; /init to real init: from the kernel running /init; both on the kernel \
         log's clock in the guest. The ratio is of boot to real init.\n",
        DEFAULT_COMPRESSION.name()
    );
    md.push_str(&bench_timing::table(&compared(systems), Figure::Boot));
    md.push_str("\n| ratio | boot to real init | /init to real init | goal |\n|---|---|---|---|\n");
    for (ours, peer, goal) in
        [(MOST, peers[0], "at most 0.6"), (HOST, peers[0], "below most's"), (MOST, peers[1], "below 1")]
    {
        let ratio = |figure| match (
            bench_timing::median_of(systems, ours, figure),
            bench_timing::median_of(systems, peer, figure),
        ) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "not measured".to_string(),
        };
        let _ = writeln!(md, "| {ours} / {peer} | {} | {} | {goal} |", ratio(Figure::Boot), ratio(Figure::Init));
    }
    let loaded = |name| systems.iter().find(|m| m.name == name).and_then(|m| m.samples.first()).map(|s| &s.modules);
    if let (Some(most), Some(host)) = (loaded(MOST), loaded(HOST)) {
        let more: Vec<&str> = host.difference(most).map(String::as_str).collect();
        let _ = writeln!(
            md,
            "\nThe `host` image has the driver of every device of the machine, and modinit loads them all before \
             the root: {} modules `most` leaves out ({}).",
            more.len(),
            more.join(" ")
        );
    }
    if let Some(dracut) = systems.iter().find(|m| m.name == Generator::Dracut.name()) {
        let _ = writeln!(md, "\ndracut's image holds its modules {}.", peers::dracut_modules(&dracut.initrd).join(" "));
    }
    for (generator, why) in &bench.unbuilt {
        let _ = writeln!(md, "\nNo {} image could be built here: {why}", generator.name());
    }
    md.push_str("\n![Time from the kernel's start to the real init](root-boot-time.svg)\n");
    md.push_str("\n## Outer compression\n\n");
    let by_compression: Vec<Measured> = COMPRESSIONS
        .iter()
        .filter_map(|&c| {
            let m = systems.iter().find(|m| m.name == compressed_name(c))?;
            Some(Measured { name: format!("--compress {}", c.name()), ours: c == DEFAULT_COMPRESSION, ..m.clone() })
        })
        .collect();
    let fastest = by_compression.iter().min_by(|a, b| a.spread(Figure::Boot).0.total_cmp(&b.spread(Figure::Boot).0));
    let _ = writeln!(
        md,
        "modinit's `most` image as above (modules inside as `.ko.zst`), the cpio written with each outer \
         compression, booted in the same rounds. Fastest to the real init here: `{}`; `cargo xtask initramfs \
         --compress` defaults to `{}` (`initramfs::DEFAULT_COMPRESSION`).\n",
        fastest.map_or("none measured", |m| m.name.as_str()),
        DEFAULT_COMPRESSION.name()
    );
    md.push_str(&bench_timing::table(&by_compression, Figure::Boot));
    md
}

/// The chart of the root-disk comparison: boot to real init per system.
pub fn chart(bench: &RootBench) -> String {
    bench_timing::chart(&compared(&bench.systems), Figure::Boot)
}

/// The systems of the root-disk comparison: all but the `most` images of other compressions.
fn compared(systems: &[Measured]) -> Vec<Measured> {
    systems.iter().filter(|m| !m.name.starts_with(&format!("{MOST},"))).cloned().collect()
}
