//! The boot record (/run/modinit/boot-record, docs/boot-record.md) on the real kernel: after the
//! boot, and after the kernel asked modinit's modprobe for a filesystem, the modules it says
//! were loaded are exactly those /proc/modules lists; its summary, console lines and kernel
//! lines are the ones the console showed; `modinit blame` reads it. A record that cannot be
//! written (a read-only /run, a full one) costs one warning and nothing else.

use modinit::record::blame::Phase;
use modinit::record::entry::{Entry, Outcome, parse, unescaped};
use modinit_tests::{assert_exec_line, boot, expect_clean};
use std::collections::{BTreeMap, BTreeSet};
use xtask::cpio::Node;
use xtask::initramfs::ModuleCompression;
use xtask::machine::Machine;
use xtask::scenario::{Report, Scenario, guest_commands, work_dir};

/// The guest script: a filesystem the kernel asks modprobe for (`fs-vfat`, which also needs
/// fat), then the record and `modinit blame`'s output, each one `guest:` line in hex.
const SCRIPT: &str = "bb=/bin/busybox\n\
    hex() { $bb xxd -p | $bb tr -d '\\n'; }\n\
    $bb mkdir -p /mnt; $bb mount -t vfat /dev/null /mnt 2>/dev/null\n\
    /init blame >/tmp/blame 2>&1; echo \"guest: blame.rc=$?\"\n\
    echo \"guest: blame=$(hex </tmp/blame)\"\n\
    echo \"guest: record=$(hex </run/modinit/boot-record)\"\n";

fn unhex(r: &Report, key: &str) -> Vec<u8> {
    let hex = r.guest(key).unwrap_or_else(|| panic!("no {key} line; see {}", r.outcome.log.display()));
    (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(unescaped(bytes).collect()).unwrap()
}

/// The PC machine with its devices' modules, the kernel's request after the boot, and the
/// guest script above; only emergencies on the console from the kernel, so that its lines do
/// not cut the guest's.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn the_record_lists_exactly_the_modules_loaded_and_blame_reads_it() {
    let mut s = Scenario::with_device_modules("boot-record", ModuleCompression::Zst, &["fs-vfat", "dummy"]).unwrap();
    s.machine = Machine::Pc;
    s.append = "loglevel=1 modules_load=dummy,nonexistent_mod".into();
    s.image.insert("etc/record-test", Node::File(SCRIPT.as_bytes().to_vec()), 0o755);
    guest_commands(&mut s.image, &["/bin/busybox sh /etc/record-test >/dev/console 2>&1"]);
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    let record = unhex(&r, "record");
    // Kept for a look, and as the fixture's source (tests/fixtures/boot-record).
    std::fs::write(work_dir(&s.name).join("boot-record"), &record).unwrap();

    // Every line reads back; module lines by name.
    let mut loaded = BTreeMap::<String, usize>::new();
    let mut outcomes = BTreeMap::<&str, u64>::new();
    let (mut console, mut kernel, mut summary, mut requested) = (Vec::new(), Vec::new(), None, BTreeSet::new());
    let (mut loaded_on_request, mut before) = (0, 0);
    let mut sources = BTreeMap::<String, String>::new();
    for line in record.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let (at, entry) = parse(line).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)));
        match entry {
            Entry::Module(m) => {
                let name = text(m.name);
                assert!(m.start <= at, "{name}");
                // Loaded before /init ran, by the kernel's own requests (6.12's crypto): no start.
                let already = m.source == Some(&b"already-loaded"[..]);
                before += u64::from(already);
                if m.outcome == Outcome::Loaded {
                    *loaded.entry(name.clone()).or_default() += 1;
                    assert!(m.inserted != already, "{name} loaded with a start, unless it was there before");
                }
                if m.source == Some(&b"request"[..]) {
                    assert_eq!(m.worker, None, "{name}: the kernel's request has no worker");
                    loaded_on_request += u64::from(m.outcome == Outcome::Loaded);
                    requested.insert(name.clone());
                }
                *outcomes.entry(m.outcome.name()).or_default() += 1;
                let source = text(m.source.unwrap_or_else(|| panic!("{name} has no source")));
                sources.insert(format!("{name} {}", m.outcome.name()), format!("{source} {}", text(m.why)));
            }
            Entry::Console { text: t, .. } => console.push(text(t)),
            Entry::Kernel { level, text: t } => kernel.push((level.name().to_string(), text(t))),
            Entry::Summary(s) => summary = Some(s),
            Entry::Header { .. } => {}
        }
    }

    // Exactly the modules /proc/modules lists, each once.
    let listed: BTreeSet<String> = r.guest("modules").unwrap().split_whitespace().map(str::to_string).collect();
    assert!(loaded.values().all(|&n| n == 1), "a module recorded loaded twice: {loaded:?}");
    let recorded: BTreeSet<String> = loaded.keys().cloned().collect();
    assert_eq!(recorded, listed, "recorded loaded vs /proc/modules; see {}", r.outcome.log.display());
    assert!(listed.len() > 30 && listed.contains("dummy"), "{listed:?}");
    assert!(requested.contains("vfat") && requested.contains("fat"), "the kernel's request: {requested:?}");
    // Where each name came from: the command line's list, a device, the kernel.
    let unresolved = "modules_load no module or builtin of this name or alias";
    assert_eq!(sources.get("nonexistent_mod failed").map(String::as_str), Some(unresolved), "{sources:?}");
    assert_eq!(sources.get("dummy loaded").map(String::as_str), Some("modules_load "), "{sources:?}");
    assert_eq!(sources.get("e1000 loaded").map(String::as_str), Some("device "), "{sources:?}");

    // The summary is the console's, and counts the module lines.
    let summary = summary.expect("a summary line");
    let done = r.modinit_lines().into_iter().find(|l| l.starts_with("done: ")).expect("a done line").to_string();
    let counts = format!(
        "done: loaded={} builtin={} skipped={} failed={} ",
        summary.loaded, summary.builtin, summary.skipped, summary.failed
    );
    assert!(done.starts_with(&counts), "{done} vs {counts}");
    let of = |o: &str| outcomes.get(o).copied().unwrap_or(0);
    assert_eq!(
        (of("loaded") - loaded_on_request - before, of("builtin"), of("failed")),
        (summary.loaded, summary.builtin, summary.failed),
        "{outcomes:?}"
    );

    // modinit's console lines, and the kernel's it showed, are in the record as printed.
    let shown: BTreeSet<&str> = r.modinit_lines().into_iter().collect();
    let in_record: BTreeSet<&str> = console.iter().map(String::as_str).collect();
    assert_eq!(in_record, shown, "console lines in the record vs on the console");
    let streamed: BTreeSet<(&str, &str)> = r.streamed_kernel_lines().into_iter().collect();
    let kept: BTreeSet<(&str, &str)> = kernel.iter().map(|(l, t)| (l.as_str(), t.as_str())).collect();
    assert_eq!(kept, streamed, "kernel lines in the record vs shown");

    // `modinit blame` reads it: its critical chain starts at the insert that ended last.
    assert_eq!(r.guest("blame.rc"), Some("0"));
    let blame = String::from_utf8(unhex(&r, "blame")).unwrap();
    let phase = Phase::<4096>::read(&record).unwrap();
    let phase_end = phase.summary.unwrap().0;
    let last = phase.inserts.iter().filter(|i| i.end <= phase_end).max_by_key(|i| i.end).unwrap();
    let chain = blame.split("critical chain").nth(1).unwrap_or_else(|| panic!("{blame}"));
    let top = chain.lines().nth(1).unwrap_or_default();
    assert!(top.starts_with(&format!("{} @", text(last.name))), "{top}\n{blame}");
    assert!(blame.starts_with(&format!("driver phase: loaded={} ", summary.loaded)), "{blame}");
}

/// modinit behind an init wrapper that gives it a /run it cannot write to.
fn wrapped(name: &str, run: &str) -> Report {
    let mut s = Scenario::with_module_subset(name, ModuleCompression::Zst, &["dummy"]).unwrap();
    let Some(Node::File(modinit)) = s.image.get("init").cloned() else { panic!("no /init") };
    s.image.insert("modinit", Node::File(modinit), 0o755);
    let wrapper = format!("#!/bin/busybox sh\n/bin/busybox mkdir -p /run\n{run}\nexec /modinit \"$@\"\n");
    s.image.insert("init", Node::File(wrapper.into_bytes()), 0o755);
    // The kernel's modprobe helper is modinit itself, not the wrapper.
    s.image.insert("sbin/modprobe", Node::Symlink("/modinit".into()), 0o777);
    s.append = "modules_load=dummy".into();
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    assert_eq!(r.guest("done"), Some("yes"), "the real init ran to its end");
    assert!(r.guest("modules").unwrap_or_default().contains("dummy"), "the modules still load");
    r
}

/// The one warning a record that cannot be written costs.
fn record_warnings(r: &Report) -> Vec<&str> {
    r.modinit_lines().into_iter().filter(|l| l.contains("boot record")).collect()
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_record_that_cannot_be_written_costs_one_warning() {
    let r = wrapped("boot-record-read-only", "/bin/busybox mount -t tmpfs -o ro tmpfs /run");
    let expected = "cannot write the boot record /run/modinit/boot-record: EROFS (Read-only file system); the boot goes on without it";
    assert_eq!(record_warnings(&r), [expected], "see {}", r.outcome.log.display());
    // Full: the directory and the file are made, the first line that does not fit ends it.
    // modinit's binary (some 500 KB) fills it; /dev has no /dev/zero yet.
    let fill = "/bin/busybox mount -t tmpfs -o size=64k tmpfs /run\n/bin/busybox cat /modinit >/run/fill 2>/dev/null";
    let r = wrapped("boot-record-full", fill);
    let expected = "cannot write the boot record /run/modinit/boot-record: ENOSPC (No space left on device); the boot goes on without it";
    assert_eq!(record_warnings(&r), [expected], "see {}", r.outcome.log.display());
}
