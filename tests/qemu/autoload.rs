//! Driver loading on a real kernel with real emulated devices, judged against kmod.
//!
//! The oracle is independent of modinit: the same machine and module tree booted with
//! kmod's `modprobe -a -b` run over every modalias until nothing changes
//! (qemu/guest/kmod-coldplug). modinit must leave the same set of modules in /proc/modules,
//! whether the tree is stored as `.ko`, `.ko.zst` or `.ko.gz`. The configuration scenarios
//! check the effect in the guest: which modules are there, and their parameters in sysfs. The
//! same boots check the no-heap claim: plain and gzip modules leave the zstd decoder's arena
//! unused, and zstd modules keep it within the bound computed on the host from their frames.

use modinit_tests::{assert_exec_line, boot, expect_clean, missing_driver_line};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use xtask::initramfs::{ImageSpec, ModuleCompression, ModuleStorage};
use xtask::machine::Machine;
use xtask::scenario::{Report, Scenario, device_modules_image, guest_commands, guest_report, modinit_image};
use xtask::select::{ModuleChoice, Selection};

fn modules(r: &Report) -> BTreeSet<String> {
    let listed = r.guest("modules").unwrap_or_else(|| panic!("no module list; see {}", r.outcome.log.display()));
    listed.split_whitespace().map(str::to_string).collect()
}

/// What kmod's coldplug loop loads on the PC machine (booted once per test run).
fn kmod_modules() -> &'static BTreeSet<String> {
    static KMOD: OnceLock<BTreeSet<String>> = OnceLock::new();
    KMOD.get_or_init(|| {
        let mut s = Scenario::kmod_reference("autoload-kmod-reference").unwrap();
        s.machine = Machine::Pc;
        let r = boot(&s);
        expect_clean(&r);
        let m = modules(&r);
        assert!(m.len() > 30, "kmod loads the PC's drivers: {m:?}");
        m
    })
}

fn boot_pc(name: &str, compression: ModuleCompression, append: &str) -> Report {
    let mut s = Scenario::with_modules(name, Some(compression)).unwrap();
    s.machine = Machine::Pc;
    if compression == ModuleCompression::None {
        // The whole tree uncompressed is a 400 MB initramfs, unpacked into RAM.
        s.memory_mib = 2048;
    }
    s.append = append.to_string();
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    r
}

fn assert_same_as_kmod(r: &Report) {
    let (ours, theirs) = (modules(r), kmod_modules());
    let only_ours: Vec<_> = ours.difference(theirs).collect();
    let only_kmod: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_kmod.is_empty(),
        "only modinit: {only_ours:?}; only kmod: {only_kmod:?}; see {}",
        r.outcome.log.display()
    );
    let done = r.modinit_lines().into_iter().find(|l| l.starts_with("done: ")).expect("a summary line");
    assert!(done.contains(" failed=0 "), "{done}");
}

/// The image `cargo xtask initramfs` makes by default (the whole tree, stored as
/// `initramfs::fastest_storage` picks for its kernel) loads what kmod loads. Where the kernel
/// decompresses the tree's modules itself (6.12's `.ko.xz`), modinit hands it the files as they
/// are: no decompression here, and no refusal.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn the_default_image_loads_what_kmod_loads() {
    let modules = xtask::scenario::setup().unwrap().kernel.modules.clone();
    let storage = xtask::initramfs::fastest_storage(&modules);
    let mut s =
        Scenario::with_image("autoload-default", &modinit_image(Some(modules.clone()), storage).unwrap()).unwrap();
    s.machine = Machine::Pc;
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    assert_same_as_kmod(&r);
    if xtask::kernel::decompresses_modules(&modules).is_some() {
        assert_eq!(storage, ModuleStorage::Keep);
        assert_eq!(decompression_kib(&r), 0, "the kernel decompressed every module");
        assert!(!r.modinit_lines().iter().any(|l| l.starts_with("the kernel refused ")), "{}", r.outcome.log.display());
    }
}

/// The zstd decoder's arena held at least the largest window of the modules loaded (its ring
/// buffer is that big) and no more than the most the library's bound allows for one of them.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn zstd_modules_load_like_kmod_within_the_decoders_heap_bound() {
    let r = boot_pc("autoload-zst", ModuleCompression::Zst, "");
    assert_same_as_kmod(&r);
    let zst = xtask::module_tree::stored_as(&xtask::scenario::setup().unwrap().kernel.modules, ModuleCompression::Zst);
    let files = module_files(&zst.unwrap());
    let (mut window, mut bound) = (0, 0);
    for name in loaded_modules(&r) {
        let file = files.get(&name).unwrap_or_else(|| panic!("no {name}.ko.zst in the tree"));
        let frame = std::fs::read(file).unwrap();
        window = window.max(window_size(&frame));
        bound = bound.max(modinit::decompress::heap_needed(&frame, usize::MAX).unwrap() as u64);
    }
    let arena = decompression_kib(&r);
    assert!(window > 0, "zstd modules were loaded; see {}", r.outcome.log.display());
    assert!(
        (window.div_ceil(1024)..=bound.div_ceil(1024)).contains(&arena),
        "decompression {arena} KiB: not within the largest window, {window} bytes, and the bound, {bound} bytes"
    );
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn gzip_modules_load_like_kmod_without_a_heap() {
    let r = boot_pc("autoload-gz", ModuleCompression::Gz, "");
    assert_same_as_kmod(&r);
    assert_eq!(decompression_kib(&r), 0, "gzip inflates without the arena");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn plain_modules_load_like_kmod_without_a_heap_and_quiet_hides_the_module_lines() {
    let r = boot_pc("autoload-plain", ModuleCompression::None, "quiet");
    assert_same_as_kmod(&r);
    assert!(!r.modinit_lines().iter().any(|l| l.starts_with("loaded ")), "quiet: no line per module");
    assert_eq!(decompression_kib(&r), 0, "plain modules need no decompression");
}

/// What the summary line says the decompression arena held at most, in KiB.
fn decompression_kib(r: &Report) -> u64 {
    let reported = xtask::bench_timing::memory_reported(&r.outcome.console);
    reported.unwrap_or_else(|| panic!("no memory figures in the summary; see {}", r.outcome.log.display())).1
}

/// The modules the console says were loaded (`loaded NAME (KEY) in N ms`).
fn loaded_modules(r: &Report) -> BTreeSet<String> {
    let name = |l: &str| Some(l.strip_prefix("loaded ")?.split_once(" (")?.0.to_string());
    r.modinit_lines().into_iter().filter_map(name).collect()
}

/// Each module file of `tree` by module name (`-` as `_`, as modinit names modules).
fn module_files(tree: &std::path::Path) -> std::collections::BTreeMap<String, std::path::PathBuf> {
    let files = xtask::module_tree::files(tree).unwrap();
    let name = |path: &std::path::Path| {
        let file = path.file_name()?.to_str()?;
        Some(file.strip_suffix(".ko.zst")?.replace('-', "_"))
    };
    files.into_iter().filter_map(|path| Some((name(&path)?, path))).collect()
}

/// Window_Size of the zstd frame that starts `frame`, read from its header (RFC 8878, 3.1.1.1):
/// the Window_Descriptor's, or for a single segment the Frame_Content_Size.
fn window_size(frame: &[u8]) -> u64 {
    assert_eq!(frame[..4], [0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    let descriptor = frame[4];
    if descriptor & 0x20 == 0 {
        let window = frame[5];
        let base = 1u64 << (10 + (window >> 3));
        return base + base / 8 * u64::from(window & 7);
    }
    let dictionary_id_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let content_size_len = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let at = 5 + dictionary_id_len;
    let mut size = [0u8; 8];
    size[..content_size_len].copy_from_slice(&frame[at..at + content_size_len]);
    u64::from_le_bytes(size) + if content_size_len == 2 { 256 } else { 0 }
}

/// Inserting side by side (`modinit.jobs=8` on the PC's 2 CPUs) loads what inserting one
/// module after the other (`modinit.jobs=1`) loads, which is what kmod loads; each module is
/// inserted once, and only after every dependency modinit inserted for it (the kernel's own
/// modules.dep, made by depmod, says which those are). Both settle for a second, so that a
/// slow USB enumeration cannot tell the two runs apart.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn parallel_inserts_load_what_sequential_inserts_load_in_dependency_order() {
    let sequential = sequential_boot();
    let parallel = boot_pc("autoload-jobs-8", ModuleCompression::Zst, "modinit.jobs=8 modinit.settle_ms=1000");
    assert_same_as_kmod(sequential);
    assert_eq!(modules(&parallel), modules(sequential), "see {}", parallel.outcome.log.display());
    let deps = kernel_module_deps();
    for (r, jobs) in [(sequential, 1), (&parallel, 8)] {
        let done = r.modinit_lines().into_iter().find(|l| l.starts_with("done: ")).expect("a summary line");
        assert!(done.contains(&format!(" jobs={jobs} ")), "{done}");
        let loaded: Vec<&str> =
            r.modinit_lines().iter().filter_map(|l| l.strip_prefix("loaded ")?.split(' ').next()).collect();
        assert!(loaded.len() > 30, "{loaded:?}");
        for (i, module) in loaded.iter().enumerate() {
            assert!(!loaded[..i].contains(module), "{module} inserted twice; see {}", r.outcome.log.display());
            for dep in deps.get(*module).into_iter().flatten() {
                let at = loaded.iter().position(|m| m == dep);
                assert!(
                    at.is_none_or(|at| at < i),
                    "{module} inserted before its dependency {dep}; see {}",
                    r.outcome.log.display()
                );
            }
        }
    }
}

/// The PC booted inserting one module after the other (`modinit.jobs=1`), settling for a second
/// so that a slow USB enumeration cannot tell it from a parallel boot; booted once for the tests
/// that compare with it.
fn sequential_boot() -> &'static Report {
    static BOOT: OnceLock<Report> = OnceLock::new();
    BOOT.get_or_init(|| boot_pc("autoload-jobs-1", ModuleCompression::Zst, "modinit.jobs=1 modinit.settle_ms=1000"))
}

/// `modinit.timeout_ms` bounds a lack of progress, not the phase: one insert at a time, with a
/// limit shorter than the whole phase but longer than any one insert, loads everything kmod
/// loads. (It used to cut the phase short after that long in all, losing drivers.) The limit
/// comes from the sequential boot on this machine, as loaded as it is now: as many times its
/// longest insert as its phase is times the limit (their geometric mean), so that only an
/// insert that many times slower than any before would reach it.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_phase_that_keeps_making_progress_is_not_cut_short() {
    let calibration = sequential_boot();
    let (phase, longest) = (phase_ms(calibration), longest_insert_ms(calibration));
    assert!(phase >= 4 * longest, "the phase ({phase} ms) is not four times its longest insert ({longest} ms)");
    let limit = (phase * longest).isqrt();
    let r = boot_pc("autoload-slow", ModuleCompression::Zst, &format!("modinit.jobs=1 modinit.timeout_ms={limit}"));
    let gave_up = |l: &&str| l.contains("(modinit.timeout_ms)");
    assert!(!r.modinit_lines().iter().any(gave_up), "nothing given up; see {}", r.outcome.log.display());
    assert!(phase_ms(&r) > limit, "the phase outlasts the limit of {limit} ms; see {}", r.outcome.log.display());
    assert_same_as_kmod(&r);
}

/// How long the driver phase took, from the summary line (`done: ... in T ms ...`).
fn phase_ms(r: &Report) -> u64 {
    let done = r.modinit_lines().into_iter().find(|l| l.starts_with("done: ")).expect("a summary line");
    done.split(" in ").nth(1).and_then(|t| t.split(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("{done}"))
}

/// The longest insert of a module that loaded (`loaded NAME (KEY) in N ms`).
fn longest_insert_ms(r: &Report) -> u64 {
    let ms = |l: &str| l.strip_prefix("loaded ")?.rsplit_once(" in ")?.1.strip_suffix(" ms")?.parse().ok();
    r.modinit_lines().into_iter().filter_map(ms).max().expect("modules were loaded")
}

/// Each module's dependencies, by module name, from depmod's modules.dep for the kernel's tree.
fn kernel_module_deps() -> std::collections::BTreeMap<String, Vec<String>> {
    let tree = xtask::kmod::indexed_tree(&xtask::scenario::setup().unwrap().kernel.modules).unwrap();
    let text = std::fs::read_to_string(tree.join("modules.dep")).unwrap();
    let name = |path: &str| path.rsplit('/').next().unwrap().split(".ko").next().unwrap().replace('-', "_");
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(module, deps)| (name(module), deps.split_whitespace().map(name).collect()))
        .collect()
}

/// An image with only some of the tree (`--select most`) loads on the PC what kmod's
/// coldplug loop loads from the same modules.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_most_image_loads_what_kmod_loads_from_it() {
    let most = || ModuleChoice { selection: Selection::Most, ..ModuleChoice::default() };
    let mut reference = Scenario::kmod_reference_of("autoload-most-kmod", most()).unwrap();
    reference.machine = Machine::Pc;
    let r = boot(&reference);
    expect_clean(&r);
    let expected = modules(&r);
    assert!(
        expected.contains("virtio_net") && expected.contains("ahci"),
        "most covers the PC's storage and NICs: {expected:?}"
    );

    let setup = xtask::scenario::setup().unwrap();
    let spec = ImageSpec {
        select: most(),
        ..modinit_image(Some(setup.kernel.modules.clone()), ModuleCompression::Zst).unwrap()
    };
    let mut s = Scenario::with_image("autoload-most", &spec).unwrap();
    s.machine = Machine::Pc;
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    assert_eq!(modules(&r), expected, "see {}", r.outcome.log.display());
}

/// An image made for the QEMU machines' modaliases (`--select host-all --modaliases`) loads on
/// the PC exactly what kmod loads with the whole tree.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_host_all_image_of_the_machines_modaliases_loads_what_kmod_loads() {
    let mut s = Scenario::with_device_modules("autoload-host", ModuleCompression::Zst, &[]).unwrap();
    s.machine = Machine::Pc;
    assert_same_as_kmod(&boot(&s));
}

/// USB devices are found by the hub driver well after the controller's driver loaded (100 ms of
/// debounce, a reset, descriptor reads: 300-600 ms here), with no uevent meanwhile. With only
/// USB drivers in the image, nothing else keeps the phase busy after xhci_pci, and with a quiet
/// period far shorter than the enumeration (`modinit.settle_ms=20`) the phase's end still waits
/// for the hubs (`modinit::loading::enumeration`): the keyboard and the stick get their drivers.
/// (With `modinit.hubs_ms=0` the phase ends before either appears.)
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn usb_devices_still_being_enumerated_at_a_short_quiet_period_get_their_drivers() {
    // Not sd_mod: usb-storage scans its disk only after `delay_use` (1 s), past this phase.
    const USB: [&str; 5] = ["xhci_pci", "usbhid", "hid_generic", "usb_storage", "uas"];
    let mut s = Scenario::with_module_subset("autoload-usb-short-settle", ModuleCompression::Zst, &USB).unwrap();
    s.machine = Machine::Pc;
    s.append = "modinit.settle_ms=20".to_string();
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    let loaded = modules(&r);
    for name in USB {
        assert!(loaded.contains(name), "{name} missing: {loaded:?}; see {}", r.outcome.log.display());
    }
    let gave_up = |l: &&str| l.contains("(modinit.hubs_ms)");
    assert!(!r.modinit_lines().iter().any(gave_up), "nothing given up; see {}", r.outcome.log.display());
}

/// A scenario (an image of the QEMU machines' drivers and `extra` modules) whose index carries
/// `files` (path under the config root, text) and whose guest reports `report` (files, e.g.
/// module parameters).
fn boot_configured(name: &str, files: &[(&str, &str)], extra: &[&str], append: &str, report: &[&str]) -> Report {
    let config = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = config.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let spec = ImageSpec {
        config_root: Some(config.path().to_path_buf()),
        ..device_modules_image(ModuleCompression::Zst, extra).unwrap()
    };
    let mut s = Scenario::with_image(name, &spec).unwrap();
    s.machine = Machine::Pc;
    s.append = append.to_string();
    guest_report(&mut s.image, report);
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    r
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn blacklists_from_config_and_command_line_are_honoured() {
    let config = [("etc/modprobe.d/test.conf", "blacklist e1000\n")];
    let r = boot_configured("autoload-blacklist", &config, &[], "modprobe.blacklist=virtio_rng", &[]);
    let m = modules(&r);
    assert!(!m.contains("e1000") && !m.contains("virtio_rng"), "{m:?}");
    assert!(m.contains("ahci") && m.contains("virtio_net"), "the others still load: {m:?}");
    let expected: BTreeSet<String> =
        kmod_modules().iter().filter(|n| *n != "e1000" && *n != "virtio_rng").cloned().collect();
    assert_eq!(m, expected);
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn options_from_config_and_command_line_reach_the_modules() {
    let copybreak = "/sys/module/e1000/parameters/copybreak";
    let napi_tx = "/sys/module/virtio_net/parameters/napi_tx";
    let r = boot_configured(
        "autoload-options",
        &[("etc/modprobe.d/test.conf", "options e1000 copybreak=64\n")],
        &[],
        "virtio-net.napi_tx=N",
        &[copybreak, napi_tx],
    );
    assert_eq!(r.guest(&format!("file.{copybreak}")), Some("64"));
    assert_eq!(r.guest(&format!("file.{napi_tx}")), Some("N"));
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn softdeps_and_load_lists_bring_modules_no_device_asks_for() {
    let r = boot_configured(
        "autoload-lists",
        &[
            ("etc/modprobe.d/test.conf", "softdep e1000 post: dummy\n"),
            ("usr/lib/modules-load.d/test.conf", "# a comment\ntun\n"),
        ],
        // The command line's list is the image maker's to know.
        &["loop"],
        "modules_load=loop",
        &[],
    );
    let m = modules(&r);
    for name in ["dummy", "tun", "loop", "e1000"] {
        assert!(m.contains(name), "{name} missing: {m:?}");
    }
}

/// The command-line lists of dracut, mkinitcpio and systemd, as those tools treat them (see
/// `modinit::loading::named`): `rd.driver.pre=` loads a module the configuration blacklists and
/// loads it first; `earlymodules=` is `modprobe -ab`, so the blacklist stops it;
/// `rd.driver.blacklist=` keeps a device's driver out; `rd.driver.post=` holds one back until
/// the phase settled, then loads it. Names no module matches are errors that say where they
/// came from, and count as failed; the rest is kmod's coldplug result.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn dracut_mkinitcpio_and_systemd_lists_load_as_their_tools_do() {
    let r = boot_configured(
        "autoload-driver-lists",
        &[("etc/modprobe.d/test.conf", "blacklist dummy\nblacklist tun\n")],
        &["dummy", "tun", "loop"],
        "rd.driver.pre=dummy earlymodules=tun rd.driver.blacklist=e1000 rd.driver.post=virtio_rng \
         modules_load=nonexistent_mod,loop rd.driver.pre=nosuch_pre",
        &[],
    );
    let m = modules(&r);
    let mut expected = kmod_modules().clone();
    assert!(expected.remove("e1000") && expected.contains("virtio_rng"), "kmod loads both on the PC");
    expected.extend(["dummy".to_string(), "loop".to_string()]);
    assert_eq!(m, expected, "see {}", r.outcome.log.display());
    let lines = r.modinit_lines();
    let loaded: Vec<&str> =
        lines.iter().filter_map(|l| l.strip_prefix("loaded ")?.split(' ').next()).collect::<Vec<_>>();
    assert_eq!(loaded.first(), Some(&"dummy"), "rd.driver.pre= loads first: {loaded:?}");
    assert_eq!(loaded.last(), Some(&"virtio_rng"), "rd.driver.post= loads after the phase: {loaded:?}");
    for (name, origin) in [("nonexistent_mod", "modules_load="), ("nosuch_pre", "rd.driver.pre=")] {
        let error = format!("cannot load {name} (from {origin}): no module or builtin of this name or alias");
        assert!(lines.contains(&error.as_str()), "{error:?} not in {lines:?}");
    }
    let done = lines.iter().find(|l| l.starts_with("done: ")).expect("a summary line");
    assert!(done.contains(" failed=2 "), "{done}");
}

/// The kernel's request_module() runs /sbin/modprobe, modinit's applet: mounting a
/// filesystem whose driver is a module makes the kernel ask for `fs-vfat`, which resolves
/// through the index to vfat and its dependency fat.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn the_kernel_asks_modinits_modprobe_for_filesystems() {
    let mut s = Scenario::with_device_modules("autoload-request-module", ModuleCompression::Zst, &["fs-vfat"]).unwrap();
    let mount = "/bin/busybox mkdir -p /mnt && /bin/busybox mount -t vfat /dev/null /mnt";
    guest_commands(&mut s.image, &[mount]);
    let r = boot(&s);
    expect_clean(&r);
    assert!(r.guest("command.1").is_some(), "the guest ran the mount; see {}", r.outcome.log.display());
    let m = modules(&r);
    assert!(m.contains("vfat") && m.contains("fat"), "request_module loaded the filesystem: {m:?}");
}

/// A machine full of devices (the modalias census PC): drivers load without failures, and the
/// SD card, whose MODALIAS is only in its uevent file, gets mmc_block.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_crowded_pc_gets_its_drivers_including_the_sd_card() {
    let mut s = Scenario::with_device_modules("autoload-full-pc", ModuleCompression::Zst, &[]).unwrap();
    s.machine = Machine::FullPc;
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    let m = modules(&r);
    for name in ["sdhci_pci", "mmc_block", "e1000", "usb_storage", "snd_hda_intel"] {
        assert!(m.contains(name), "{name} missing: {m:?}");
    }
}

/// A `most` image on a PC with an Intel HDA sound card, whose driver `most` leaves out: at the
/// phase's end the card gets a line naming it and the module, the one kmod's lookup of the
/// card's modalias (read in the guest) gives over the whole tree; and the devices without a
/// driver are counted.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_most_image_names_the_driver_it_lacks_for_a_sound_card() {
    let setup = xtask::scenario::setup().unwrap();
    let spec = ImageSpec {
        select: ModuleChoice { selection: Selection::Most, ..ModuleChoice::default() },
        ..modinit_image(Some(setup.kernel.modules.clone()), ModuleCompression::Zst).unwrap()
    };
    let mut s = Scenario::with_image("autoload-most-missing", &spec).unwrap();
    s.machine = Machine::Pc;
    s.qemu_args = ["-device", "intel-hda", "-device", "hda-duplex"].map(String::from).into();
    // The card is the PCI function of class 04 03 (HD audio); its name and modalias, in a file.
    guest_commands(
        &mut s.image,
        &[
            "for d in /sys/bus/pci/devices/*; do /bin/busybox grep -q 'bc04sc03' $d/modalias && echo ${d##*/} $(/bin/busybox cat $d/modalias) >/run/hda; done",
        ],
    );
    guest_report(&mut s.image, &["/run/hda"]);
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    let seen = r.guest("file./run/hda").unwrap_or_else(|| panic!("no HDA report; see {}", r.outcome.log.display()));
    let (device, modalias) = seen.split_once(' ').unwrap_or_else(|| panic!("no HDA card in the guest: {seen:?}"));

    let (expected, drivers) = missing_driver_line(&setup.kernel.modules, device, modalias);
    assert!(!modules(&r).contains(&drivers[0]), "{drivers:?} loaded");
    let lines = r.modinit_lines();
    assert!(lines.contains(&expected.as_str()), "no line {expected:?}; see {}", r.outcome.log.display());
    let count = lines.iter().find(|l| l.starts_with("devices without a driver: ")).expect("a count of them");
    assert!(!count.starts_with("devices without a driver: 0 "), "{count}");
}
