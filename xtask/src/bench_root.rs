//! The root-disk comparison: the QEMU PC (2 vCPUs, TCG) booted to an ext4 root on virtio-blk,
//! named by `root=UUID=`, whose /sbin/init is qemu/guest/bench-init, with modinit's `most` and
//! `host` images next to Debian's initramfs-tools and dracut images for the same kernel
//! ([`crate::peers`]); and both of modinit's images with each way of storing their modules
//! ([`storage_candidates`]) times each outer compression. Every system boots once per round,
//! interleaved, timed from the kernel's start (and from /init) to the real init on the guest's
//! kernel-log clock.
//!
//! The storages are compared on the root disk's images rather than on the coldplug machine's
//! whole tree: `most` and `host` are the images a user builds, and their default cells are the
//! root comparison's own modinit systems, booted in the same rounds.

use crate::bench_timing::{self, Failed, Figure, Measured};
use crate::cpio::{Archive, Node};
use crate::disk_image::{self, Identity};
use crate::initramfs::{self, DEFAULT_COMPRESSION, ImageSpec, ModuleCompression, ModuleStorage};
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
    /// modinit `most` and `host` (with the default storage and [`DEFAULT_COMPRESSION`]), the
    /// peers that could be built, then the other cells of each image's storage × outer
    /// compression matrix ([`cell_name`]).
    pub systems: Vec<Measured>,
    /// The peers that could not be built here, and why.
    pub unbuilt: Vec<(Generator, String)>,
    /// The peers whose boots failed, left out.
    pub failed: Vec<Failed>,
    /// What `cargo xtask initramfs --compress-modules` defaults to for the tree
    /// ([`initramfs::fastest_storage`]): the storage of modinit's images above.
    pub default_storage: ModuleStorage,
    /// The storages compared, each with its description.
    pub storages: Vec<(ModuleStorage, String)>,
}

/// The module storages compared for a tree whose modules ship as `shipped` (None: mixed): as
/// shipped when that is compressed (`keep`), plain `.ko`, `.ko.gz` when the tree ships plain
/// (a kernel without module decompression, whose distribution could pick any), and `.ko.zst`.
pub fn storage_candidates(shipped: Option<ModuleCompression>) -> Vec<ModuleStorage> {
    let compressed = shipped.is_some_and(|c| c != ModuleCompression::None);
    let mut storages = Vec::new();
    if compressed {
        storages.push(ModuleStorage::Keep);
    }
    storages.push(ModuleStorage::As(ModuleCompression::None));
    if !compressed {
        storages.push(ModuleStorage::As(ModuleCompression::Gz));
    }
    storages.push(ModuleStorage::As(ModuleCompression::Zst));
    storages
}

/// What `storage` means for a tree shipped as `shipped` on a kernel that decompresses
/// `kernel_decompresses` itself: which files the image holds and who decompresses them.
pub fn describe_storage(
    storage: ModuleStorage,
    shipped: Option<ModuleCompression>,
    kernel_decompresses: Option<ModuleCompression>,
) -> String {
    let stored = match storage {
        ModuleStorage::Keep => shipped,
        ModuleStorage::As(c) => Some(c),
    };
    let files = match stored {
        Some(c) => format!("`.ko{}`", c.suffix()),
        None => "as shipped".to_string(),
    };
    let by = match stored {
        Some(ModuleCompression::None) => "",
        Some(c) if Some(c) == kernel_decompresses => ", decompressed by the kernel",
        _ => ", decompressed by modinit",
    };
    let shipped_note = if storage == ModuleStorage::Keep { " as shipped" } else { "" };
    format!("`--compress-modules {}`: {files}{shipped_note}{by}", storage.name())
}

/// Builds the root disk and every image, then boots each system `runs` times, interleaved.
pub fn measure(runs: usize) -> Result<RootBench> {
    let dir = crate::paths::target_dir().join("bench").join("root");
    let disk = root_disk(&dir)?;
    let tree = &setup()?.kernel.modules;
    let default_storage = initramfs::fastest_storage(tree);
    let most = ModuleChoice { selection: Selection::Most, ..ModuleChoice::default() };
    let host = ModuleChoice {
        selection: Selection::Host,
        modaliases: Some(pc_modaliases(&dir)?),
        rootfs: Some("ext4".into()),
        ..ModuleChoice::default()
    };
    let shipped = crate::module_tree::shipped_compression(tree);
    let kernel_decompresses = crate::kernel::decompresses_modules(tree);
    let storages: Vec<(ModuleStorage, String)> = storage_candidates(shipped)
        .into_iter()
        .map(|s| (s, describe_storage(s, shipped, kernel_decompresses)))
        .collect();
    let mut systems = Vec::new();
    let mut cells = Vec::new();
    for (name, choice) in [(MOST, &most), (HOST, &host)] {
        for &(storage, _) in &storages {
            let image = modinit_image_stored(choice.clone(), storage)?;
            for compression in COMPRESSIONS {
                let file = format!("{}-{}-{}", image_file(name), storage.name(), compression.name());
                let m =
                    write(&dir, &file, &cell_name(name, storage, compression, default_storage), &image, compression)?;
                match storage == default_storage && compression == DEFAULT_COMPRESSION {
                    true => systems.push(m),
                    false => cells.push(m),
                }
            }
        }
    }
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
    systems.extend(cells);
    let failed = bench_timing::interleave(&mut systems, runs, |m| boot(m, &disk))?;
    Ok(RootBench { systems, unbuilt, failed, default_storage, storages })
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
/// stored as `cargo xtask initramfs` stores them by default ([`initramfs::fastest_storage`]).
pub fn modinit_image(select: ModuleChoice) -> Result<Archive> {
    modinit_image_stored(select, initramfs::fastest_storage(&setup()?.kernel.modules))
}

/// [`modinit_image`] with the modules stored as `storage`.
fn modinit_image_stored(select: ModuleChoice, storage: ModuleStorage) -> Result<Archive> {
    let setup = setup()?;
    let modules = Some(setup.kernel.modules.clone());
    let spec = ImageSpec::new(setup.modinit.clone(), None, modules, storage);
    initramfs::assemble(&ImageSpec { select, ..spec })
}

/// The image `generator` makes for the kernel, as a system whose consoles go to `dir`.
pub fn peer(dir: &Path, generator: Generator) -> Result<Measured> {
    let image = peers::image(generator, &setup()?.kernel)?;
    Measured::new(generator.name(), false, image, dir.join(format!("{generator:?}.log")))
}

/// The name of the cell of modinit's image `image` ([`MOST`] or [`HOST`]) whose modules are
/// stored as `storage` and whose cpio is compressed with `compression`: the image's own name
/// for the defaults' cell (`default_storage` and [`DEFAULT_COMPRESSION`]).
fn cell_name(
    image: &str,
    storage: ModuleStorage,
    compression: ModuleCompression,
    default_storage: ModuleStorage,
) -> String {
    match storage == default_storage && compression == DEFAULT_COMPRESSION {
        true => image.to_string(),
        false => format!("{image}, --compress-modules {} --compress {}", storage.name(), compression.name()),
    }
}

/// The file name stem of the image named `image`'s cells: `most` or `host`.
fn image_file(image: &str) -> &str {
    image.trim_start_matches("modinit ")
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

/// The name of the root comparison's chart of the kernel series `series` in docs/.
pub fn chart_file(series: &str) -> String {
    format!("root-boot-time-{series}.svg")
}

/// The sections of docs/benchmarks.md for the kernel `version`: the systems' table with the
/// goals' ratios, the peers that could not be built or booted, the outer compressions' table
/// and the module storages' table with the storage the measurement picks. `load` is the load
/// average when the boots began.
pub fn report(bench: &RootBench, version: &str, load: &str) -> String {
    let series = crate::bench::kernel_series(version);
    let systems = &bench.systems;
    let runs = systems.iter().map(|m| m.samples.len()).min().unwrap_or(0);
    let peers: Vec<&str> = Generator::ALL.iter().map(|g| g.name()).collect();
    let storage = bench.default_storage.name();
    let mut md = format!("{}\n\n", crate::bench::on_kernel("Boot to a root disk", series));
    let _ = writeln!(
        md,
        "Kernel {version}. Made by `cargo xtask bench --only root` (a part of `cargo xtask bench`). The PC machine \
         with one more virtio-blk disk holding an ext4 root, named `root=UUID=`, whose /sbin/init is \
         qemu/guest/bench-init; 2 vCPUs under TCG; {runs} boots each, interleaved; 1-minute load average of the \
         shared host {load} when the boots began, {} when they ended. modinit's `most` image (`--select most`) \
         and its `host` image (the modaliases of a census boot of the same machine, `--rootfs ext4`) store their \
         modules as `--compress-modules {storage}` and the cpio as `--compress {}` (both the defaults for this \
         kernel: `Module storage and outer compression` below). Debian's images are made for the same kernel \
         by `mkinitramfs` (initramfs-tools-core, Debian's initramfs.conf: MODULES=most, zstd) and `dracut \
         --no-hostonly` (dracut-core, no configuration), both installed without recommendations, run in a \
         private mount namespace where /lib/modules/VERSION is the depmod'd tree and /boot the kernel's \
         (mkinitramfs reads only those paths; `xtask/src/peers.rs`), cached under target/peers/. Boot to real \
         init: from the kernel's start; /init to real init: from the kernel running /init; both on the kernel \
         log's clock in the guest. The ratio is of boot to real init.\n",
        crate::bench::load_average(),
        DEFAULT_COMPRESSION.name()
    );
    md.push_str(&bench_timing::table(&compared(systems), Figure::Boot));
    md.push_str("\n| ratio | boot to real init | /init to real init | goal |\n|---|---|---|---|\n");
    for (ours, peer, goal) in [
        (MOST, peers[0], "at most 0.6"),
        (HOST, peers[0], "at most 0.45"),
        (HOST, MOST, "below 1"),
        (MOST, peers[1], "below 1"),
    ] {
        let ratio = |figure| match (
            bench_timing::median_of(systems, ours, figure),
            bench_timing::median_of(systems, peer, figure),
        ) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "not measured".to_string(),
        };
        let _ = writeln!(md, "| {ours} / {peer} | {} | {} | {goal} |", ratio(Figure::Boot), ratio(Figure::Init));
    }
    let own = bench_timing::own_time_text(&compared(systems));
    if !own.is_empty() {
        let _ = writeln!(md, "\n{own}");
    }
    let loaded = |name| systems.iter().find(|m| m.name == name).and_then(|m| m.samples.first()).map(|s| &s.modules);
    if let (Some(most), Some(host)) = (loaded(MOST), loaded(HOST)) {
        let listed = |modules: Vec<&String>| match modules.is_empty() {
            true => "none".to_string(),
            false => modules.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" "),
        };
        let _ = writeln!(
            md,
            "\nThe `host` image holds the machine's drivers of the classes a boot needs (`--select host`: storage, \
             USB, HID and keyboards, virtio; no NIC, the root being a disk). Loaded by `host` and not by `most`: {}; \
             by `most` and not by `host`: {}.",
            listed(host.difference(most).collect()),
            listed(most.difference(host).collect())
        );
    }
    if let Some(dracut) = systems.iter().find(|m| m.name == Generator::Dracut.name()) {
        let _ = writeln!(md, "\ndracut's image holds its modules {}.", peers::dracut_modules(&dracut.initrd).join(" "));
    }
    for (generator, why) in &bench.unbuilt {
        let _ = writeln!(md, "\nNo {} image could be built here: {why}", generator.name());
    }
    for Failed { name, why } in &bench.failed {
        let _ = writeln!(md, "\n{name}: left out, its boot failed here: {why}");
    }
    let _ =
        writeln!(md, "\n![Time from the kernel's start to the real init on Linux {series}]({})", chart_file(series));

    let _ = writeln!(md, "\n{}\n", crate::bench::on_kernel("Module storage and outer compression", series));
    let compressions: Vec<String> = COMPRESSIONS.iter().map(|c| format!("`{}`", c.name())).collect();
    let _ = writeln!(
        md,
        "modinit's `most` and `host` images as above, each with its modules stored each way and its cpio written \
         with each outer compression ({}), every cell booted in the same rounds as the systems above. The \
         storages:\n",
        compressions.join(", ")
    );
    for (_, description) in &bench.storages {
        let _ = writeln!(md, "- {description}");
    }
    let _ = writeln!(
        md,
        "\n`cargo xtask initramfs` defaults to `--compress-modules {storage}` for this tree \
         (`initramfs::fastest_storage`) and `--compress {}` (`initramfs::DEFAULT_COMPRESSION`): the cell each \
         image's ratios are of.",
        DEFAULT_COMPRESSION.name()
    );
    for image in [MOST, HOST] {
        let mut labels = Vec::new();
        let mut cells = Vec::new();
        for &(storage, _) in &bench.storages {
            for compression in COMPRESSIONS {
                let Some(m) =
                    systems.iter().find(|m| m.name == cell_name(image, storage, compression, bench.default_storage))
                else {
                    continue;
                };
                let label = format!("--compress-modules {} --compress {}", storage.name(), compression.name());
                cells.push(Measured { name: label.clone(), ours: m.name == image, ..m.clone() });
                labels.push(label);
            }
        }
        let default = cells.iter().position(|m| m.ours);
        let _ = writeln!(md, "\n`{}`: {}\n", image_file(image), verdict(&cells, &labels, default));
        md.push_str(&bench_timing::table(&cells, Figure::Boot));
    }
    md
}

/// What the boots of one image's cells say: the fastest, those within noise of it, the one to
/// follow ([`bench_timing::choose`]), and whether the defaults' cell (`cells[default]`) is that
/// one. `labels[i]` names `cells[i]`.
fn verdict(cells: &[Measured], labels: &[String], default: Option<usize>) -> String {
    let Some(choice) = bench_timing::choose(cells, Figure::Boot) else {
        return "no cell was measured.".to_string();
    };
    let mut text = format!("fastest median boot to the real init: `{}`", labels[choice.fastest]);
    if choice.tied.is_empty() {
        text.push_str(", beyond the others' min – max ranges: the one to follow.");
    } else {
        let tied: Vec<String> = choice.tied.iter().map(|&i| format!("`{}`", labels[i])).collect();
        let _ = write!(
            text,
            "; within this run's noise of it (min – max ranges overlapping): {}; the smallest image of these: `{}`.",
            tied.join(", "),
            labels[choice.chosen]
        );
    }
    match default {
        Some(d) if d == choice.chosen => text.push_str(" The defaults are that cell: the measurement confirms them."),
        Some(d) if d == choice.fastest || choice.tied.contains(&d) => {
            text.push_str(" The defaults' cell is within noise of the fastest, with a larger image.")
        }
        Some(_) => text.push_str(" The defaults' cell is slower beyond noise: the measurement disagrees with them."),
        None => text.push_str(" The defaults' cell was not measured."),
    }
    text
}

/// The chart of the root-disk comparison: boot to real init per system.
pub fn chart(bench: &RootBench) -> String {
    bench_timing::chart(&compared(&bench.systems), Figure::Boot)
}

/// The systems of the root-disk comparison: all but the cells of modinit's images other than
/// the defaults'.
fn compared(systems: &[Measured]) -> Vec<Measured> {
    let cell = |m: &&Measured| [MOST, HOST].iter().any(|image| m.name.starts_with(&format!("{image},")));
    systems.iter().filter(|m| !cell(m)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_timing::tests::system;

    const XZ: ModuleStorage = ModuleStorage::As(ModuleCompression::Xz);
    const ZST: ModuleStorage = ModuleStorage::As(ModuleCompression::Zst);
    const PLAIN: ModuleStorage = ModuleStorage::As(ModuleCompression::None);

    #[test]
    fn a_compressed_tree_is_compared_as_shipped_and_a_plain_one_with_gzip() {
        let xz = Some(ModuleCompression::Xz);
        assert_eq!(storage_candidates(xz), [ModuleStorage::Keep, PLAIN, ZST]);
        let plain = Some(ModuleCompression::None);
        assert_eq!(storage_candidates(plain), [PLAIN, ModuleStorage::As(ModuleCompression::Gz), ZST]);
        assert_eq!(
            describe_storage(ModuleStorage::Keep, xz, xz),
            "`--compress-modules keep`: `.ko.xz` as shipped, decompressed by the kernel"
        );
        assert_eq!(describe_storage(ZST, xz, xz), "`--compress-modules zst`: `.ko.zst`, decompressed by modinit");
        assert_eq!(describe_storage(XZ, plain, None), "`--compress-modules xz`: `.ko.xz`, decompressed by modinit");
        assert_eq!(describe_storage(PLAIN, xz, xz), "`--compress-modules none`: `.ko`");
    }

    #[test]
    fn the_verdict_names_the_cell_to_follow_and_whether_the_defaults_are_it() {
        let labels = ["keep none".to_string(), "zst none".to_string()];
        let clear = [system("keep", 20, &[4000.0, 4100.0]), system("zst", 25, &[4500.0, 4600.0])];
        let text = verdict(&clear, &labels, Some(0));
        assert!(text.starts_with("fastest median boot to the real init: `keep none`, beyond"), "{text}");
        assert!(text.ends_with("the measurement confirms them."), "{text}");
        assert!(verdict(&clear, &labels, Some(1)).ends_with("the measurement disagrees with them."));
        let tie = [system("keep", 30, &[4000.0, 4050.0]), system("zst", 25, &[4040.0, 4100.0])];
        let text = verdict(&tie, &labels, Some(0));
        assert!(text.starts_with("fastest median boot to the real init: `keep none`;"), "{text}");
        assert!(text.contains(
            "noise of it (min – max ranges overlapping): `zst none`; the smallest image of these: `zst none`."
        ));
        assert!(text.ends_with("within noise of the fastest, with a larger image."), "{text}");
        assert_eq!(verdict(&[], &[], None), "no cell was measured.");
    }

    #[test]
    fn a_cell_is_named_after_its_image_unless_it_holds_the_defaults() {
        let gz = ModuleStorage::As(ModuleCompression::Gz);
        assert_eq!(cell_name(HOST, gz, DEFAULT_COMPRESSION, gz), HOST);
        assert_eq!(
            cell_name(MOST, ZST, ModuleCompression::Gz, gz),
            "modinit most, --compress-modules zst --compress gz"
        );
        let names = [HOST, "modinit host, --compress-modules zst --compress gz", "initramfs-tools (MODULES=most)"];
        let systems: Vec<Measured> = names.iter().map(|n| system(n, 1, &[1.0])).collect();
        let kept: Vec<String> = compared(&systems).into_iter().map(|m| m.name).collect();
        assert_eq!(kept, [HOST, names[2]]);
        assert_eq!(image_file(MOST), "most");
    }
}
