//! Fault injection on the real kernel: broken module files, a broken index, odd mounts and
//! consoles, bad `init=`, a flood of devices. Whatever goes wrong, PID 1 must not die: each
//! boot asserts that the kernel did not panic, that modinit said what went wrong in a
//! `modinit:` line naming it, and that the real init still ran. Independent faults share a
//! boot (TCG is slow); images carry only the modules a scenario needs.
//!
//! docs/reliability.md lists every fault and what modinit does; `the_reliability_doc_lists_
//! every_scenario` keeps the two in step.

/// In a module of that name, so that `cargo xtask test faults` selects them.
mod faults {
    use modinit_tests::{assert_exec_line, boot, expect_clean};
    use xtask::image_edit::{self, change_file, module_file, module_image, put_module, reindex, remove_module};
    use xtask::initramfs::ModuleCompression;
    use xtask::module_tree::compress;
    use xtask::scenario::{Report, Scenario, guest_commands, guest_report};

    /// The `lib/modules` tree reduced to `modules` and what loading them needs, stored as zstd.
    fn small_image(name: &str, modules: &[&str]) -> Scenario {
        Scenario::with_module_subset(name, ModuleCompression::Zst, modules).unwrap()
    }

    /// The boot ended well: no panic, and the real init ran as PID 1 after modinit's exec line.
    fn expect_real_init(r: &Report, init: &str) {
        expect_clean(r);
        assert_exec_line(r, init);
        assert_eq!(r.guest("pid"), Some("1"), "the real init runs as PID 1; see {}", r.outcome.log.display());
        assert_eq!(r.guest("done"), Some("yes"), "the real init finished its report");
    }

    /// The modinit line that starts with `start`.
    fn line<'r>(r: &'r Report, start: &str) -> &'r str {
        let lines = r.modinit_lines();
        lines
            .iter()
            .find(|l| l.starts_with(start))
            .copied()
            .unwrap_or_else(|| panic!("no line `{start}...` in {lines:#?}"))
    }

    /// `modinit: cannot load NAME (PATH): WHY` for each (NAME, end of WHY).
    fn expect_load_failures(r: &Report, failures: &[(&str, &str)]) {
        for (name, why) in failures {
            let l = line(r, &format!("cannot load {name} ("));
            assert!(l.contains(why), "{name}: expected `{why}` in `{l}`");
        }
    }

    fn modules(r: &Report) -> Vec<&str> {
        r.guest("modules").unwrap_or_default().split_whitespace().collect()
    }

    /// Each module file is broken in its own way (and the kernel's `module_blacklist=` names
    /// one); each failure is one line naming the module, its file and the cause, and the module
    /// after them all still loads. Also /init starts without a console, and the firmware's DMI
    /// modalias is 1,500 bytes long.
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn broken_module_files_are_each_reported_and_the_rest_loads() {
        let named = ["dummy", "loop", "tun", "veth", "ifb", "nlmon", "minix", "vfat", "brd", "tunnel4", "nbd"];
        let mut s = small_image("faults-module-files", &named);
        let a = &mut s.image;
        // Not ELF, but a valid zstd file: the kernel sees the bytes and refuses them.
        let not_elf = compress(b"this is not an ELF file\n".repeat(64), ModuleCompression::Zst).unwrap();
        put_module(a, "loop", ModuleCompression::Zst, not_elf).unwrap();
        change_file(a, &module_file(a, "tun").unwrap(), |f| f.truncate(f.len() / 2)).unwrap();
        let mut bad_crc = compress(module_image(a, "veth").unwrap(), ModuleCompression::Gz).unwrap();
        let crc_at = bad_crc.len() - 8;
        bad_crc[crc_at] ^= 0xff;
        put_module(a, "veth", ModuleCompression::Gz, bad_crc).unwrap();
        // ISIZE claims 300 MiB: more than modinit decompresses a module to.
        let mut big = compress(module_image(a, "ifb").unwrap(), ModuleCompression::Gz).unwrap();
        let isize_at = big.len() - 4;
        big[isize_at..].copy_from_slice(&(300u32 << 20).to_le_bytes());
        put_module(a, "ifb", ModuleCompression::Gz, big).unwrap();
        // A 128 MiB window (zstd --long=27): decoding could need more than the arena holds.
        let nlmon = module_file(a, "nlmon").unwrap();
        change_file(a, &nlmon, |f| *f = image_edit::zstd_declaring_window(f, 27).unwrap()).unwrap();
        // The index is built without fat, so it does not know vfat needs it: the kernel finds
        // fat's symbols missing.
        remove_module(a, "fat").unwrap();
        // A DMI modalias of 1,500 bytes (the firmware's product name): the config alias that
        // matches only its end loads nbd.
        let product = format!("{}END", "x".repeat(1500));
        let config = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(config.path().join("etc/modprobe.d")).unwrap();
        std::fs::write(config.path().join("etc/modprobe.d/dmi.conf"), "alias dmi:*pnx*xEND:* nbd\n").unwrap();
        image_edit::reindex_with_config(a, Some(config.path())).unwrap();
        // And minix is in the index but its file is gone.
        remove_module(a, "minix").unwrap();
        // No console for /init: the kernel's own initramfs has a /dev/console node, so ours
        // replaces it with a dangling symlink.
        a.insert("dev/console", xtask::cpio::Node::Symlink("/nonexistent".into()), 0o777);
        let load = named[..10].join(",");
        s.append = format!("modules_load={load} dummy.numdummies=lots module_blacklist=brd");
        s.qemu_args = vec!["-smbios".into(), format!("type=1,product={product}")];
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        expect_load_failures(
            &r,
            &[
                ("dummy", "Invalid parameters (EINVAL)"),
                ("loop", "Invalid module format (ENOEXEC)"),
                ("tun", "zstd file is truncated"),
                ("veth", "gzip CRC-32 mismatch (corrupt file)"),
                ("ifb", "decompresses to 314572800 bytes, more than the limit of 268435456"),
                ("nlmon", "more than the 67108864 available"),
                ("minix", "ENOENT (No such file or directory)"),
                ("vfat", ": unknown symbol fat_"),
                ("brd", "module_blacklist= on the kernel command line forbids it (EPERM)"),
            ],
        );
        assert!(line(&r, "done: ").starts_with("done: loaded=2 builtin=0 skipped=0 failed=9 "));
        assert_eq!(modules(&r), ["nbd", "tunnel4"]);
        line(&r, "loaded nbd (dmi:");
        assert!(r.outcome.console.contains("Warning: unable to open an initial console."));
        line(&r, "/init started without a console");
        assert_eq!(r.guest("console"), Some("/dev/console"), "the real init has devtmpfs's console");
    }

    /// Replaces module `name`'s file by `NAME.ko.xz` holding `bytes` (valid or not).
    fn put_xz_module(a: &mut xtask::cpio::Archive, name: &str, bytes: Vec<u8>) {
        let old = module_file(a, name).unwrap();
        let stem = xtask::module_tree::module_stem(&old).unwrap().to_string();
        a.remove(&old);
        a.insert(&format!("{stem}.xz"), xtask::cpio::Node::File(bytes), 0o644);
    }

    /// `plain` (a module's ELF image) as the kernel's `modules_install` writes it to `.ko.xz`.
    fn kernel_xz(plain: Vec<u8>) -> Vec<u8> {
        xtask::module_tree::compress(plain, xtask::module_tree::ModuleCompression::Xz).unwrap()
    }

    /// Debian 6.1 does not decompress modules itself (no /sys/module/compression), so modinit
    /// decodes `.ko.xz` files at boot, straight into the memory handed to the kernel (the
    /// output is the dictionary, no heap): a good one loads, a
    /// corrupt one and a truncated one are each one line naming the file and the cause, and the
    /// real init runs. Debian 6.12 decompresses xz itself: the good one goes to the kernel as it
    /// is, the kernel refuses the broken ones, and modinit says so in one line each, then decodes
    /// them itself, and reports the same causes.
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn xz_modules_decoded_at_boot_a_corrupt_and_a_truncated_one_reported() {
        let mut s = small_image("faults-xz-modules", &["tun", "veth", "ifb"]);
        let a = &mut s.image;
        let tun = kernel_xz(module_image(a, "tun").unwrap());
        put_xz_module(a, "tun", tun);
        let mut corrupt = kernel_xz(module_image(a, "veth").unwrap());
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0x55;
        put_xz_module(a, "veth", corrupt);
        let mut truncated = kernel_xz(module_image(a, "ifb").unwrap());
        truncated.truncate(truncated.len() * 2 / 3);
        put_xz_module(a, "ifb", truncated);
        reindex(a).unwrap();
        s.append = "modules_load=tun,veth,ifb".into();
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        line(&r, "loaded tun (");
        assert_eq!(modules(&r), ["tun"]);
        expect_load_failures(&r, &[("veth", ".ko.xz): xz "), ("ifb", ".ko.xz): xz file is truncated")]);
        assert!(line(&r, "cannot load veth (").contains("corrupt"), "{}", line(&r, "cannot load veth ("));
        let failures = r.modinit_lines().iter().filter(|l| l.starts_with("cannot load ")).count();
        assert_eq!(failures, 2, "one line per broken module");
        let refused: Vec<&str> =
            r.modinit_lines().into_iter().filter(|l| l.starts_with("the kernel refused ")).collect();
        let modules = &xtask::scenario::setup().unwrap().kernel.modules;
        if xtask::kernel::decompresses_modules(modules) == Some(xtask::module_tree::ModuleCompression::Xz) {
            let said = |name: &str| refused.iter().any(|l| l.contains(&format!("/{name}.ko.xz compressed (")));
            assert!(refused.len() == 2 && said("veth") && said("ifb"), "{refused:?}");
            assert!(refused.iter().all(|l| l.ends_with("): decompressing it here")), "{refused:?}");
        } else {
            assert!(refused.is_empty(), "{refused:?}");
        }
        assert!(line(&r, "done: ").starts_with("done: loaded=1 builtin=0 skipped=0 failed=2 "));
        // No heap for xz: the module's own memory is the dictionary.
        let arena = xtask::bench_timing::memory_reported(&r.outcome.console).expect("memory figures").1;
        assert_eq!(arena, 0, "decompression {arena} KiB");
    }

    /// How the index is broken in one boot.
    enum IndexFault {
        Missing,
        Change(fn(&mut Vec<u8>)),
    }

    /// Replaces module `name`'s file by its image without the signature Debian appended.
    fn strip_signature(a: &mut xtask::cpio::Archive, name: &str) {
        let signed = module_image(a, name).unwrap();
        let (unsigned, had_signature) = modinit::module_file::modinfo::split_signature(&signed);
        assert!(had_signature, "Debian signs its modules");
        put_module(a, name, ModuleCompression::Zst, compress(unsigned.to_vec(), ModuleCompression::Zst).unwrap())
            .unwrap();
    }

    /// An image with vfat (which needs fat), dummy and `more`, its index broken by `fault`.
    fn broken_index_image(name: &str, more: &[&str], fault: IndexFault) -> Scenario {
        let mut s = small_image(name, &[&["vfat", "dummy"], more].concat());
        let index = image_edit::index_path(&s.image).unwrap();
        match fault {
            IndexFault::Missing => s.image.remove(&index),
            IndexFault::Change(change) => change_file(&mut s.image, &index, change).unwrap(),
        }
        s
    }

    /// Without a usable index modinit says why, still loads the modules the command line names
    /// (found in modules.order, dependencies from their `depends=`) and runs the real init.
    fn expect_loaded_without_index(r: &Report, why: &str, (skipped, failed): (usize, usize)) {
        let complaint = line(r, "cannot use the module index /lib/modules/");
        let consequence = "no device drivers or modules-load.d lists are loaded";
        assert!(complaint.contains(why) && complaint.ends_with(consequence), "{complaint}");
        for name in ["fat", "vfat", "dummy"] {
            line(r, &format!("loaded {name} (without the index) in "));
        }
        let at = |start: &str| r.modinit_lines().iter().position(|l| l.starts_with(start));
        assert!(at("loaded fat ") < at("loaded vfat "), "the dependency first");
        assert!(line(r, "cannot load nosuch: ").contains("not in modules.order"));
        let done = format!("done without the index: loaded=3 skipped={skipped} failed={failed} in ");
        assert!(line(r, "done without the index: ").starts_with(&done));
    }

    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn a_missing_index_and_a_missing_init_still_boot_the_named_modules() {
        let mut s = broken_index_image("faults-index-missing", &[], IndexFault::Missing);
        s.append = "modules_load=vfat,nosuch,dummy dummy.numdummies=3 init=/bin/missing".into();
        // numdummies=3 makes dummy0 to dummy2 (ARPHRD_ETHER, type 1).
        guest_report(&mut s.image, &["/sys/class/net/dummy2/type"]);
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        expect_loaded_without_index(&r, "ENOENT (No such file or directory)", (0, 1));
        assert!(line(&r, "init=/bin/missing").ends_with("no such file; trying the default inits"));
        assert_eq!(r.guest("file./sys/class/net/dummy2/type"), Some("1"), "command-line options apply");
        let m = modules(&r);
        assert!(["fat", "vfat", "dummy"].iter().all(|n| m.contains(n)), "{m:?}");
    }

    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn a_truncated_index_and_a_directory_as_init() {
        let mut s = broken_index_image("faults-index-truncated", &[], IndexFault::Change(|f| f.truncate(f.len() / 2)));
        s.image.insert("bin/dir", xtask::cpio::Node::Dir, 0o755);
        s.append = "modules_load=vfat,nosuch,dummy init=/bin/dir".into();
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        expect_loaded_without_index(&r, "(truncated or padded)", (0, 1));
        assert!(line(&r, "cannot run init=/bin/dir: ").contains("EISDIR"));
    }

    /// Also lockdown: an unsigned module is refused (EPERM), signed ones load.
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn an_index_of_another_version_a_non_executable_init_and_lockdown() {
        let mut s = small_image("faults-index-version", &["vfat", "dummy", "tunnel4"]);
        strip_signature(&mut s.image, "tunnel4");
        reindex(&mut s.image).unwrap();
        let index = image_edit::index_path(&s.image).unwrap();
        let newer = modinit::index::format::VERSION + 1;
        change_file(&mut s.image, &index, |f| f[8..12].copy_from_slice(&newer.to_le_bytes())).unwrap();
        s.image.insert("bin/noexec", xtask::cpio::Node::File(b"#!/bin/busybox sh\n".to_vec()), 0o644);
        s.append = "modules_load=vfat,nosuch,dummy,tunnel4 init=/bin/noexec lockdown=integrity".into();
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        let refusal = format!("index format version {newer}, this modinit reads versions 1 to {}", newer - 1);
        expect_loaded_without_index(&r, &refusal, (0, 2));
        assert!(line(&r, "cannot run init=/bin/noexec: ").contains("EACCES"));
        let not_permitted = "Operation not permitted (module loading disabled, lockdown, or module_blacklist=) (EPERM)";
        assert!(line(&r, "cannot load tunnel4 (").ends_with(not_permitted));
        assert!(r.outcome.console.contains("Lockdown: init: unsigned module loading is restricted"));
    }

    /// A flipped byte, and no init at all: the modules still load (but not one that
    /// modprobe.blacklist= names), then on_error powers off.
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn a_corrupt_index_and_no_init_at_all_end_in_the_on_error_action() {
        let mut s =
            broken_index_image("faults-index-corrupt", &[], IndexFault::Change(|f| *f.last_mut().unwrap() ^= 0x20));
        s.image.remove("sbin/init");
        s.append =
            "rd.modules_load=vfat,nosuch,dummy,tunnel4 modprobe.blacklist=tunnel4 modinit.on_error=poweroff".into();
        let r = boot(&s);
        expect_clean(&r);
        assert_eq!(r.outcome.end, xtask::qemu::End::Exited, "poweroff ends QEMU");
        expect_loaded_without_index(&r, "checksum mismatch", (1, 1));
        line(&r, "not loading tunnel4 (rd.modules_load=): modprobe.blacklist= names it");
        assert!(line(&r, "no init to run: ").starts_with("no init to run: tried /sbin/init"));
        let lines = r.modinit_lines();
        assert!(lines.contains(&"on_error=poweroff") && lines.contains(&"powering off"), "{lines:?}");
    }

    /// An init wrapper runs first and mounts /proc, /sys and /run (leaving a file there) and a
    /// plain tmpfs on /dev (as if the kernel had no devtmpfs), and modules must be signed
    /// (`module.sig_enforce=1`; tun's signature is stripped). modinit keeps the wrapper's mounts,
    /// creates the device nodes it needs, and names the signature refusal as such. Run again
    /// later, not as PID 1, it refuses to boot. The index claims another kernel release: a
    /// warning, and it is used.
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn a_wrappers_mounts_are_kept_and_signatures_required() {
        use xtask::cpio::Node;
        let mut s = small_image("faults-wrapper-security", &["dummy", "tun", "tunnel4"]);
        let a = &mut s.image;
        strip_signature(a, "tun");
        reindex(a).unwrap();
        // The index says it was built for another release (same length, checksum made right).
        let release = xtask::scenario::setup().unwrap().kernel.version.clone();
        let other = format!("{}X", &release[..release.len() - 1]);
        change_file(a, &image_edit::index_path(a).unwrap(), |f| {
            let at = f.windows(release.len()).position(|w| w == release.as_bytes()).unwrap();
            f[at..at + release.len()].copy_from_slice(other.as_bytes());
            image_edit::reseal_index(f);
        })
        .unwrap();
        let Some(Node::File(modinit)) = a.get("init").cloned() else { panic!("no /init") };
        a.insert("modinit", Node::File(modinit), 0o755);
        let wrapper = "#!/bin/busybox sh\n\
            /bin/busybox mount -t proc proc /proc\n\
            /bin/busybox mount -t sysfs sysfs /sys\n\
            /bin/busybox mount -t tmpfs -o mode=0755 tmpfs /run\n\
            /bin/busybox mount -t tmpfs -o mode=0755 tmpfs /dev\n\
            echo kept >/run/marker\n\
            exec /modinit \"$@\"\n";
        a.insert("init", Node::File(wrapper.as_bytes().to_vec()), 0o755);
        // The kernel's modprobe helper is modinit itself, not the wrapper.
        a.insert("sbin/modprobe", Node::Symlink("/modinit".into()), 0o777);
        let once = |dir: &str| format!("[ \"$(/bin/busybox grep -c ' {dir} ' /proc/mounts)\" = 1 ]");
        // modinit run again, not as PID 1 and without an applet name, refuses to boot.
        let not_pid1 = "/modinit 2>/run/not-pid1; [ $? = 1 ]";
        guest_commands(a, &[&once("/proc"), &once("/sys"), &once("/run"), not_pid1]);
        guest_report(a, &["/run/marker", "/run/not-pid1"]);
        s.append = "modules_load=tun,tunnel4 module.sig_enforce=1".into();
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        for dir in ["/proc", "/sys", "/dev", "/run"] {
            line(&r, &format!("{dir} is mounted already: keeping it"));
        }
        // No devtmpfs on /dev (the wrapper's tmpfs): modinit makes the nodes it needs.
        for node in ["/dev/console", "/dev/kmsg", "/dev/null"] {
            line(&r, &format!("{node} was missing (no devtmpfs on /dev): created it"));
        }
        assert_eq!(r.guest("mount./dev"), Some("tmpfs"));
        assert_eq!(r.guest("console"), Some("/dev/console"), "the real init has the console");
        let in_log = r.guest("kmsg.exec");
        assert!(
            in_log.is_some_and(|l| l.starts_with("modinit: exec /sbin/init")),
            "modinit's lines reach the kernel log"
        );
        let once: Vec<_> = (1..=3).map(|i| r.guest(&format!("command.{i}"))).collect();
        assert_eq!(once, [Some("0"); 3], "each filesystem is mounted once");
        assert_eq!(r.guest("command.4"), Some("0"), "not PID 1: exit status 1");
        let refusal = "modinit: no applet named (modinit boots only as PID 1); the applets are:";
        assert_eq!(r.guest("file./run/not-pid1"), Some(refusal));
        assert_eq!(r.guest("file./run/marker"), Some("kept"), "the wrapper's /run is the real init's");
        let warning = format!("/lib/modules/{release}/modinit.idx was built for kernel {other}, this is {release}");
        line(&r, &warning);
        expect_load_failures(&r, &[("tun", "Key was rejected by service (module signature required) (EKEYREJECTED)")]);
        assert!(r.outcome.console.contains("Loading of unsigned module is rejected"));
        assert_eq!(modules(&r), ["tunnel4"], "a signed module loads");
    }

    /// scsi_debug with 2,048 disks: a flood of uevents (more than the socket's 8 MiB hold) and
    /// of kernel messages, thousands of modalias files, while sd_mod loads for them. Both
    /// overflows are said, and the rescans converge: every disk gets its driver and the real
    /// init runs long before modinit.timeout_ms.
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn a_flood_of_devices_is_counted_and_the_rescan_converges() {
        let mut s = small_image("faults-device-flood", &["scsi_debug", "sd_mod"]);
        s.append =
            "modules_load=scsi_debug scsi_debug.num_tgts=8 scsi_debug.max_luns=256 modinit.timeout_ms=600000".into();
        s.boot_timeout = std::time::Duration::from_secs(600);
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        let m = modules(&r);
        assert!(m.contains(&"scsi_debug") && m.contains(&"sd_mod"), "{m:?}");
        let gave_up = |l: &&str| l.starts_with("no driver loaded and no new device") || l.contains("has not finished");
        assert!(!r.modinit_lines().iter().any(gave_up), "the rescans converge");
        let done = line(&r, "done: ");
        assert!(done.contains(" failed=0 "), "{done}");
        assert_eq!(r.outcome.console.matches("Attached SCSI disk").count(), 2048, "every disk got sd_mod");
        // On 6.1, scsi_debug's init makes all its devices before modinit can read a uevent; 6.12
        // makes them over half a minute, slower than modinit reads them, and drops none.
        let setup = xtask::scenario::setup().unwrap();
        if setup.kernel.version.starts_with("6.1.") {
            let dropped = line(&r, "the kernel dropped uevents (socket buffer full, ");
            assert!(dropped.ends_with("/sys/devices was rescanned after each"), "{dropped}");
        }
        let lost = r.modinit_lines().into_iter().any(|l| l.ends_with("kernel messages lost (the log overflowed)"));
        assert!(lost, "the kernel log overflowed too, and that is said");
    }

    /// An insert that does not end in time: sd_mod, for scsi_debug's disk, which answer each
    /// read or mode sense after 1,000 jiffies (4 s at Debian's HZ=250). sd probes its disks
    /// asynchronously, and the kernel ends every insert by waiting for all async work
    /// (`async_synchronize_full` in `do_init_module`), so sd_mod's `finit_module` lasts
    /// minutes (on 6.12 scsi_debug's own insert already waits for its slow scan). One job at a
    /// time, and no progress allowed for more than 3 s: each stuck insert is given up by name and
    /// counted failed, and the real init runs while a worker is still in `finit_module`
    /// (syscall 313 in /proc/PID/syscall).
    #[test]
    #[ignore = "boots QEMU: run by cargo xtask test"]
    fn a_driver_stuck_in_its_init_is_named_and_the_boot_goes_on() {
        let mut s = small_image("faults-stuck-driver", &["scsi_debug", "sd_mod"]);
        guest_commands(&mut s.image, &["/bin/busybox grep -q '^313 ' /proc/[0-9]*/syscall"]);
        s.append = "modules_load=scsi_debug,sd_mod scsi_debug.delay=1000 modinit.jobs=1 modinit.timeout_ms=3000".into();
        let r = boot(&s);
        expect_real_init(&r, "/sbin/init");
        let lines = r.modinit_lines();
        let stuck: Vec<&str> =
            lines.iter().copied().filter(|l| l.contains(") has not finished loading after ")).collect();
        let said = "ms (modinit.timeout_ms): going on without it";
        let named = |l: &&str| ["scsi_debug", "sd_mod"].iter().any(|m| l.starts_with(&format!("{m} (/lib/modules/")));
        assert!(!stuck.is_empty() && stuck.iter().all(|l| named(l) && l.ends_with(said)), "{lines:#?}");
        if !stuck.iter().any(|l| l.starts_with("scsi_debug ")) {
            line(&r, "loaded scsi_debug (scsi_debug) in ");
        }
        let done = line(&r, "done: ");
        assert!(done.contains(&format!(" failed={} jobs=1 ", stuck.len())), "{done}");
        assert_eq!(r.guest("command.1"), Some("0"), "a process is still in finit_module");
    }

    /// docs/reliability.md names a test for each fault: every QEMU scenario of this file is
    /// listed there, and every test listed exists.
    #[test]
    fn the_reliability_doc_lists_every_scenario() {
        let root = xtask::paths::workspace_root();
        let doc = std::fs::read_to_string(root.join("docs/reliability.md")).unwrap();
        let this_file = std::fs::read_to_string(root.join("tests/qemu/faults.rs")).unwrap();
        let named: Vec<(&str, &str)> =
            doc.split('`').skip(1).step_by(2).filter_map(|quoted| quoted.split_once(".rs::")).collect();
        for (file, test) in &named {
            let text =
                std::fs::read_to_string(root.join(format!("{file}.rs"))).unwrap_or_else(|e| panic!("{file}.rs: {e}"));
            assert!(text.contains(&format!("fn {test}(")), "docs/reliability.md names {file}.rs::{test}: no such test");
        }
        // Each test: a `#[test]` line, attributes, then `fn NAME(`.
        let lines: Vec<&str> = this_file.lines().collect();
        let scenarios = lines.iter().enumerate().filter(|(_, l)| l.trim() == "#[test]").filter_map(|(i, _)| {
            let fn_line = lines[i..].iter().map(|l| l.trim_start()).find(|l| l.starts_with("fn "))?;
            fn_line.strip_prefix("fn ")?.split('(').next()
        });
        for scenario in scenarios.filter(|s| *s != "the_reliability_doc_lists_every_scenario") {
            assert!(named.contains(&("tests/qemu/faults", scenario)), "docs/reliability.md does not list {scenario}");
        }
    }
}
