//! modinit's toolbox against the tools it stands in for, in one guest on the real kernel:
//! the same sequence of insmod/lsmod/rmmod/modprobe/modprobe -r commands runs once with
//! modinit's applets and once with kmod 30's (shipped with its libraries and its own indexes
//! of the same tree, stored as the kernel's package ships it or as `.ko.zst`), each from the
//! same state back to it, a module file over 300 bytes deep included, and a `.ko.xz` file made
//! here (on 6.1 both decompress it themselves; 6.12 decompresses it in the kernel). Every step
//! must print the same on stdout and stderr, exit with the same code and leave the same
//! /proc/modules; a modprobe.d file copied in after the boot applies at once, as in kmod. Then modinit's dmesg and util-linux's run back
//! to back with the same options, and must print the same.

use modinit_tests::{boot, expect_clean};
use std::fmt::Write as _;
use xtask::cpio::Node;
use xtask::initramfs::{ImageSpec, ModuleCompression};
use xtask::kmod::{KMOD_TOOLS_DIR, add_host_program, add_kmod_tools, readable_storage};
use xtask::module_tree::compress;
use xtask::scenario::{Report, Scenario, guest_commands, modinit_image, setup};

/// Where each toolbox's commands are. The steps run them as `./lsmod` from there, so that both
/// get the same argv[0] (getopt's messages and kmod's usage lines show it); not through PATH,
/// where busybox's shell prefers its own applets of the same names.
fn toolboxes() -> [(&'static str, String); 2] {
    [("modinit", "/sbin".to_string()), ("kmod", format!("/{KMOD_TOOLS_DIR}"))]
}

/// The sequence both toolboxes run; it ends with the modules it loaded removed again.
/// fat and vfat (vfat needs fat), loop (parameters), dummy (no dependencies), zswap (builtin),
/// tun (softdeps, see [`CONFIG`]; with `-i` without them), fat again from a copy over 300 bytes
/// deep, dummy forced: from the image's compressed file (kmod 30 decompresses it, strips it and
/// calls init_module: the signed module's signature no longer matches, and the kernel refuses
/// it) and from a plain copy (finit_module with the force flags: Debian's kernels have
/// CONFIG_MODULE_FORCE_LOAD, load it and taint themselves, see [`TAINTED`]), fat through one of
/// its symbols (`symbol:`, from the image's modules.symbols, kmod's) and its exports; dummy
/// through an alias a modprobe.d file added after the boot defines ([`LIVE_EDIT`]: both read
/// modprobe.d at every call), then with the file gone, then named with `-C`; vfat from kmod's
/// files alone, modinit.idx moved away.
/// `{dir}` is the module directory, `{deep}` the directory of the copy ([`deep_dir`]).
const STEPS: &[&str] = &[
    "./lsmod",
    "./insmod {dir}/kernel/fs/fat/fat{ko}",
    "./insmod {dir}/kernel/fs/fat/fat{ko}",
    "./insmod {dir}/kernel/fs/fat/vfat{ko}",
    "./lsmod",
    "./rmmod fat",
    "./rmmod -f fat",
    "./rmmod -v vfat {dir}/kernel/fs/fat/fat{ko}",
    "./rmmod vfat",
    "./rmmod zswap",
    "./rmmod vfat loop",
    "./insmod {dir}/kernel/fs/fat/vfat{ko}",
    "./insmod /no/such/module.ko",
    "./insmod /etc/guest-commands",
    "./insmod {dir}/kernel/drivers/block/loop{ko} max_loop=2 max_part=1",
    "/bin/busybox cat /sys/module/loop/parameters/max_loop /sys/module/loop/parameters/max_part",
    "./lsmod",
    "./rmmod loop",
    "./modprobe -v vfat",
    "./lsmod",
    "./modprobe -r fat",
    "./modprobe -r -v vfat",
    "./modprobe -r -v vfat",
    "./modprobe -r --first-time vfat",
    "./modprobe dummy",
    "./modprobe -r -n -v dummy",
    "./lsmod",
    "./modprobe -r -q dummy",
    "./modprobe -r no-such-module",
    "./modprobe -r -q no-such-module",
    "./modprobe -r zswap",
    "./modprobe vfat",
    "./modprobe -r -a vfat no-such-module dummy",
    "./modprobe -v tun",
    "./lsmod",
    "./modprobe -r -v tun",
    "./lsmod",
    "./insmod {deep}/fat{ko}",
    "./lsmod",
    "./rmmod {deep}/fat{ko}",
    "./lsmod -x",
    "./insmod",
    "./insmod -",
    "./insmod -q x.ko",
    "./rmmod",
    "./rmmod -x loop",
    "./rmmod --bogus loop",
    "./modprobe",
    "./modprobe -x loop",
    "./modprobe --sh loop",
    "./modprobe loop -S",
    "./modprobe -f -v dummy",
    "./lsmod",
    "./modprobe -r -f -v dummy",
    "./modprobe --force-vermagic dummy",
    "./modprobe --force-modversion -v dummy",
    "./insmod -f {dir}/kernel/drivers/net/dummy{ko}",
    "./insmod -f /opt/plain/dummy.ko",
    "./lsmod",
    "./rmmod -v dummy",
    "./modprobe -v symbol:fat_build_inode",
    "./lsmod",
    "./modprobe -r -v symbol:fat_build_inode",
    "./modprobe -R symbol:fat_build_inode",
    "./modprobe --show-exports {dir}/kernel/fs/fat/fat{ko}",
    "./modprobe -i -v tun",
    "./lsmod",
    "./modprobe -r -i -v tun",
    "./modprobe -r -D tun",
    "./modprobe vfat",
    "./modprobe -r --remove-holders -v fat",
    "./lsmod",
    "/bin/busybox cp /etc/live-edit.conf /etc/modprobe.d/",
    "./modprobe -v my-live-alias",
    "/bin/busybox ls -d /sys/class/net/dummy2",
    "./modprobe -r -v my-live-alias",
    "/bin/busybox rm /etc/modprobe.d/live-edit.conf",
    "./modprobe -n -v my-live-alias",
    "./modprobe -C /etc/live-edit.conf -n -v my-live-alias",
    "/bin/busybox mv {dir}/modinit.idx /tmp/modinit.idx",
    "./modprobe -v vfat",
    "./modinfo -F depends vfat",
    "./modprobe -r -v vfat",
    "/bin/busybox mv /tmp/modinit.idx {dir}/modinit.idx",
    "./insmod /opt/xz/dummy.ko.xz numdummies=2",
    "/bin/busybox ls -d /sys/class/net/dummy1",
    "./rmmod dummy",
];

/// The kernel's taint flags, read before the steps and after modinit's: the forced loads of
/// modinit's applets must have set `TAINT_FORCED_MODULE` ('F', 2), which only a load with
/// `MODULE_INIT_IGNORE_VERMAGIC` or `MODULE_INIT_IGNORE_MODVERSIONS` sets.
const TAINTED: &str = "/proc/sys/kernel/tainted";
const TAINT_FORCED_MODULE: u64 = 2;

/// Where the image holds dummy as a `.ko.xz` file, for insmod.
const XZ_DUMMY: &str = "opt/xz/dummy.ko.xz";
/// ... and as a plain `.ko` file, for a forced insmod.
const PLAIN_DUMMY: &str = "opt/plain/dummy.ko";

/// The modprobe.d both toolboxes read from the image's /etc (the boot from modinit's index).
const CONFIG: &str = "softdep tun pre: dummy post: loop\n";

/// A modprobe.d file the steps copy into /etc/modprobe.d and remove again.
const LIVE_EDIT: &str = "alias my-live-alias dummy\noptions dummy numdummies=3\n";

/// dmesg's options (`-w` under a timeout: it never ends by itself). `-r` only with `-k`:
/// util-linux 2.38 gives user-space records a wrong `<N>` (see src/toolbox/dmesg.rs).
const DMESG: &[&str] =
    &["", "-x", "-r -k", "-l err,warn", "--level=info,notice -x", "-u", "-k -r -l 6", "-l foo", "-r -x", "-q", "x"];
const FOLLOW: &str = "/bin/busybox timeout 3 ./dmesg -w";

/// The guest script. `step KEY COMMAND` runs COMMAND and reports its exit code, stdout,
/// stderr and /proc/modules (without addresses) in hex, one `guest: toolbox.KEY.*` line each.
/// `pair KEY COMMAND` runs COMMAND (`./dmesg ...`) in /bin (modinit's dmesg), then in /usr/bin
/// (util-linux's), back to back, and reports both exit codes and stderrs, the reference's line
/// count and first line, and `diff`'s output (the whole log would make the console too slow).
/// Module files in `dir` end in `ko` (`.ko.zst`, `.ko.xz`).
fn script(dir: &str, ko: &str) -> String {
    let deep = deep_dir();
    let mut s = String::from(
        "bb=/bin/busybox\n\
         hex() { $bb xxd -p | $bb tr -d '\\n'; }\n\
         step() {\n\
         \x20   $bb sh -c \"$2\" >/tmp/out 2>/tmp/err; rc=$?\n\
         \x20   $bb cut -d' ' -f1-5 /proc/modules >/tmp/modules\n\
         \x20   echo \"guest: toolbox.$1.rc=$rc\"\n\
         \x20   for f in out err modules; do echo \"guest: toolbox.$1.$f=$(hex </tmp/$f)\"; done\n\
         }\n\
         pair() {\n\
         \x20   cd /bin && $bb sh -c \"$2\" >/tmp/a.out 2>/tmp/a.err; a=$?\n\
         \x20   cd /usr/bin && $bb sh -c \"$2\" >/tmp/b.out 2>/tmp/b.err; b=$?\n\
         \x20   echo \"guest: toolbox.$1.rc=$a $b\"\n\
         \x20   echo \"guest: toolbox.$1.err=$(hex </tmp/a.err) $(hex </tmp/b.err)\"\n\
         \x20   echo \"guest: toolbox.$1.lines=$($bb wc -l </tmp/b.out)\"\n\
         \x20   echo \"guest: toolbox.$1.first=$($bb head -n 1 /tmp/b.out | hex)\"\n\
         \x20   echo \"guest: toolbox.$1.diff=$($bb diff /tmp/a.out /tmp/b.out | hex)\"\n\
         }\n",
    );
    writeln!(s, "$bb mkdir -p {deep} && $bb cp {dir}/kernel/fs/fat/fat{ko} {deep}/").unwrap();
    for (name, tools) in toolboxes() {
        writeln!(s, "echo \"guest: toolbox.tainted.before.{name}=$($bb cat {TAINTED})\"").unwrap();
        writeln!(s, "cd {tools}").unwrap();
        for (i, step) in STEPS.iter().enumerate() {
            writeln!(
                s,
                "step {name}.{i} '{}'",
                step.replace("{dir}", dir).replace("{deep}", &deep).replace("{ko}", ko)
            )
            .unwrap();
        }
    }
    for (i, step) in dmesg_steps().iter().enumerate() {
        writeln!(s, "pair dmesg.{i} '{step}'").unwrap();
    }
    s
}

/// A directory in the guest over 300 bytes deep, as Yocto's and Buildroot's build trees are.
fn deep_dir() -> String {
    let deep: String = (0..3).map(|i| format!("/level-{i:02}-{}", "d".repeat(91))).collect();
    format!("/tmp{deep}")
}

fn dmesg_steps() -> Vec<String> {
    DMESG.iter().map(|o| format!("./dmesg {o}")).chain([FOLLOW.to_string()]).collect()
}

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> =
        (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What one step did: exit code, stdout, stderr, /proc/modules.
#[derive(Debug, PartialEq)]
struct Outcome {
    rc: String,
    out: String,
    err: String,
    modules: String,
}

/// Debian builds kmod with its debug logging, which puts libkmod's source location in its
/// messages (`rmmod: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could
/// not remove ...`): without it, the message is kmod's.
fn without_source_locations(text: &str) -> String {
    text.lines()
        .map(|l| match (l.find("../libkmod/"), l.find("() ")) {
            (Some(start), Some(end)) if start < end => format!("{}{}\n", &l[..start], &l[end + 3..]),
            _ => format!("{l}\n"),
        })
        .collect()
}

fn outcome(r: &Report, key: &str) -> Outcome {
    let field = |f: &str| {
        r.guest(&format!("toolbox.{key}.{f}"))
            .unwrap_or_else(|| panic!("no toolbox.{key}.{f}; see {}", r.outcome.log.display()))
            .to_string()
    };
    let err = without_source_locations(&unhex(&field("err")));
    Outcome { rc: field("rc"), out: unhex(&field("out")), err, modules: unhex(&field("modules")) }
}

fn toolbox_report() -> Report {
    let setup = setup().unwrap();
    let version = &setup.kernel.version;
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("etc/modprobe.d")).unwrap();
    std::fs::write(config.path().join("etc/modprobe.d/toolbox.conf"), CONFIG).unwrap();
    let spec = ImageSpec {
        config_root: Some(config.path().to_path_buf()),
        // Stored as kmod's tools beside them read the tree: as shipped (xz) or zstd.
        ..modinit_image(Some(setup.kernel.modules.clone()), readable_storage(&setup.kernel.modules).unwrap()).unwrap()
    };
    let mut s = Scenario::with_image("toolbox", &spec).unwrap();
    s.image.insert("etc/modprobe.d/toolbox.conf", Node::File(CONFIG.into()), 0o644);
    s.image.insert("etc/live-edit.conf", Node::File(LIVE_EDIT.into()), 0o644);
    add_kmod_tools(&mut s.image, &setup.kernel.modules).unwrap();
    add_host_program(&mut s.image, std::path::Path::new("/usr/bin/dmesg")).unwrap();
    let dummy = xtask::image_edit::module_image(&s.image, "dummy").unwrap();
    s.image.insert(XZ_DUMMY, Node::File(compress(dummy.clone(), ModuleCompression::Xz).unwrap()), 0o644);
    s.image.insert(PLAIN_DUMMY, Node::File(dummy), 0o644);
    let dir = format!("/lib/modules/{version}");
    let fat = s.image.paths().find(|p| p.ends_with("/kernel/fs/fat/fat.ko") || p.contains("/kernel/fs/fat/fat.ko."));
    let ko = fat.and_then(|p| p.rsplit_once("/fat")).map(|(_, ko)| ko.to_string()).expect("fat in the image");
    s.image.insert("etc/toolbox-test", Node::File(script(&dir, &ko).into_bytes()), 0o644);
    guest_commands(&mut s.image, &["/bin/busybox sh /etc/toolbox-test >/dev/console 2>&1"]);
    // Only emergencies on the console: kernel lines must not cut the guest's report lines.
    s.append = "loglevel=1".to_string();
    let r = boot(&s);
    expect_clean(&r);
    assert_eq!(r.guest("command.1"), Some("0"), "the toolbox script ran; see {}", r.outcome.log.display());
    r
}

/// Every difference between `ours` and `theirs` for the step `what`, described.
fn differences(what: &str, ours: &Outcome, theirs: &Outcome) -> Option<String> {
    (ours != theirs).then(|| format!("`{what}`:\n  modinit: {ours:?}\n  reference: {theirs:?}"))
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn toolbox_prints_and_does_what_kmod_and_util_linux_do() {
    let r = toolbox_report();
    let mut diffs = Vec::new();
    for (i, step) in STEPS.iter().enumerate() {
        let (ours, kmod) = (outcome(&r, &format!("modinit.{i}")), outcome(&r, &format!("kmod.{i}")));
        diffs.extend(differences(step, &ours, &kmod));
    }
    for (i, step) in dmesg_steps().iter().enumerate() {
        let field = |f: &str| r.guest(&format!("toolbox.dmesg.{i}.{f}")).unwrap_or_default().to_string();
        let (rc, diff) = (field("rc"), unhex(&field("diff")));
        let rc_differs = rc.split_once(' ').is_none_or(|(a, b)| a != b);
        let errs = field("err");
        let (our_err, their_err) =
            errs.split_once(' ').map_or((String::new(), String::new()), |(a, b)| (unhex(a), unhex(b)));
        if rc_differs || !diff.is_empty() || our_err != their_err {
            diffs.push(format!("`{step}`: exit codes {rc:?}, stderr {our_err:?} vs {their_err:?}, diff:\n{diff}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} steps differ; see {}\n{}",
        diffs.len(),
        STEPS.len() + dmesg_steps().len(),
        r.outcome.log.display(),
        diffs.join("\n")
    );

    // The reference did work: the steps are not equal because both failed alike.
    let kmod = |i: usize| outcome(&r, &format!("kmod.{i}"));
    assert!(kmod(0).out.starts_with("Module                  Size  Used by\n"), "{:?}", kmod(0));
    assert!(kmod(4).out.lines().any(|l| l.starts_with("fat ") && l.ends_with(" 1 vfat")), "{:?}", kmod(4));
    assert_eq!(kmod(15).out, "2\n1\n", "loop got its parameters");
    assert!(kmod(21).out.contains("rmmod vfat\nrmmod fat\n"), "{:?}", kmod(21));
    let softdeps = STEPS.iter().position(|s| *s == "./modprobe -r -v tun").unwrap();
    assert_eq!(kmod(softdeps).out, "rmmod loop\nrmmod tun\nrmmod dummy\n", "post: last first, then tun, then pre:");
    let deep = STEPS.iter().position(|s| *s == "./insmod {deep}/fat{ko}").unwrap();
    assert!(deep_dir().len() > 300 && kmod(deep).rc == "0", "{:?}", kmod(deep));
    assert!(kmod(deep + 1).out.lines().any(|l| l.starts_with("fat ")), "{:?}", kmod(deep + 1));
    let xz = STEPS.iter().position(|s| s.contains(XZ_DUMMY)).unwrap();
    let (insmod, listed) = (kmod(xz), kmod(xz + 1));
    let loaded = (insmod.rc.as_str(), insmod.modules.contains("dummy "), listed.out.as_str());
    assert_eq!(loaded, ("0", true, "/sys/class/net/dummy1\n"), "kmod loaded dummy.ko.xz with numdummies=2");
    assert_eq!(kmod(0).modules, kmod(STEPS.len() - 1).modules, "the sequence ends where it began");
    let tainted = |when: &str| -> u64 {
        let value = r.guest(&format!("toolbox.tainted.before.{when}")).unwrap_or_default();
        value.trim().parse().unwrap_or_else(|_| panic!("{TAINTED} before {when}: {value:?}"))
    };
    assert_eq!(tainted("modinit") & TAINT_FORCED_MODULE, 0, "no forced load before modinit's");
    assert_ne!(tainted("kmod") & TAINT_FORCED_MODULE, 0, "modinit's forced insmod passed the flags");
    let forced = STEPS.iter().position(|s| *s == format!("./insmod -f /{PLAIN_DUMMY}")).unwrap();
    assert!(kmod(forced).rc == "0" && kmod(forced + 1).out.contains("\ndummy "), "{:?}", kmod(forced + 1));
    let symbol = STEPS.iter().position(|s| *s == "./modprobe -v symbol:fat_build_inode").unwrap();
    assert!(kmod(symbol + 1).out.lines().any(|l| l.starts_with("fat ")), "{:?}", kmod(symbol + 1));
    let holders = STEPS.iter().position(|s| s.contains("--remove-holders")).unwrap();
    // The holder, fat as its dependency nothing uses any more, then fat itself (gone already).
    assert_eq!(kmod(holders).out, "rmmod vfat\nrmmod fat\nrmmod fat\n", "the holder first");
    let exports = STEPS.iter().position(|s| s.starts_with("./modprobe --show-exports")).unwrap();
    assert!(kmod(exports).out.contains("\tfat_build_inode\n"), "{:?}", kmod(exports));
    // The alias and the options of the file copied in after the boot applied; once it is gone,
    // the alias is unknown; `-C` names it again.
    let live = STEPS.iter().position(|s| *s == "./modprobe -v my-live-alias").unwrap();
    assert!(kmod(live).out.contains(" numdummies=3"), "{:?}", kmod(live));
    assert_eq!(kmod(live + 1).out, "/sys/class/net/dummy2\n", "dummy got numdummies=3");
    assert_eq!(kmod(live + 4).rc, "1", "the alias is gone with the file: {:?}", kmod(live + 4));
    assert!(kmod(live + 5).out.contains(" numdummies=3"), "-C names the file: {:?}", kmod(live + 5));
    let kmod_files_only = STEPS.iter().position(|s| s.ends_with("/tmp/modinit.idx")).unwrap();
    let loaded = kmod(kmod_files_only + 1);
    assert!(loaded.rc == "0" && loaded.out.contains("/vfat.ko"), "vfat from kmod's files: {loaded:?}");
    let lines: usize = r.guest("toolbox.dmesg.0.lines").and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    let first = unhex(r.guest("toolbox.dmesg.0.first").unwrap_or_default());
    assert!(lines > 100 && first.contains("] Linux version "), "util-linux's dmesg: {lines} lines, first {first:?}");
}
