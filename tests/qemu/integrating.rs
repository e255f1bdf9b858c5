//! docs/integrating.md, followed step by step: its `sh walkthrough` blocks run in order in an
//! empty directory with only the inputs it documents set (the harness's kernel tree and modinit
//! binary, the QEMU machines' modaliases as the wanted list), and the archive they make boots the
//! PC machine under QEMU with the harness's kernel and the document's command line. The
//! document's init must run and report that every device with a driver in the image (kmod's
//! `modprobe -R` resolves each device's modalias against the same tree) is served: a driver is
//! bound to it, or one of its modules was loaded (evdev serves input devices without binding).
//! ACPI and CPU aliases are left out of that check: they autoload drivers that probe the
//! platform and may decline it (cpufreq under QEMU), and the drivers of ACPI's PNP devices bind
//! the PNP device beside it. The module the walkthrough blacklists must stay out. The walkthrough's files stay
//! in `target/qemu/integrating/`.

use modinit::toolbox::applets::Applet;
use modinit_tests::{assert_exec_line, expect_clean};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use xtask::machine::Machine;
use xtask::qemu::Boot;
use xtask::scenario::{Report, Setup};

const DOC: &str = include_str!("../../docs/integrating.md");
const DOC_PATH: &str = "docs/integrating.md";
/// The info string of the fenced blocks the test runs.
const WALKTHROUGH_FENCE: &str = "```sh walkthrough";
/// The prefix of the example init's console lines.
const INIT_PREFIX: &str = "example-init: ";
/// Modalias prefixes of devices whose drivers may decline them without failing (see the top).
const PLATFORM_PROBES: [&str; 2] = ["acpi:", "cpu:"];
/// The module the walkthrough's configuration blacklists.
const BLACKLISTED: &str = "pcspkr";
/// The programs the walkthrough and the oracle run, besides modinit and busybox.
const HOST_PROGRAMS: [&str; 8] = ["sh", "cpio", "awk", "sed", "xargs", "find", "touch", "modprobe"];
/// The walkthrough's default `BUSYBOX`.
const BUSYBOX: &str = "/bin/busybox";

/// The `sh walkthrough` blocks of `doc`, in order, as one script that stops at the first failure.
fn walkthrough_script(doc: &str) -> String {
    let mut script = String::from("set -eu\n");
    let mut in_block = false;
    for line in doc.lines() {
        if !in_block && line == WALKTHROUGH_FENCE {
            in_block = true;
        } else if in_block && line == "```" {
            in_block = false;
        } else if in_block {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(!in_block, "{DOC_PATH}: a walkthrough block is not closed");
    script
}

/// The inputs the script documents: each `NAME=${NAME:-default}` line.
fn documented_inputs(script: &str) -> BTreeSet<&str> {
    script
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once('=')?;
            value.starts_with(&format!("${{{name}:-")).then_some(name)
        })
        .collect()
}

/// The inputs the test gives the walkthrough: the harness's binary and kernel tree, and the
/// QEMU machines' modaliases as the wanted list.
fn inputs(setup: &Setup) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("MODINIT", setup.modinit.clone()),
        ("KVER", PathBuf::from(&setup.kernel.version)),
        ("MODULES", setup.kernel.modules.clone()),
        ("WANTED", xtask::paths::modalias_corpus(&setup.kernel.version)),
    ]
}

/// Runs `script` in `dir` (emptied first) with `inputs` set and the document's other inputs
/// unset, so that they take the document's defaults. Panics with the script's trace if it fails.
fn run_walkthrough(dir: &Path, script: &str, inputs: &[(&str, PathBuf)]) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("emptying {}: {e}", dir.display()));
    }
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let documented = documented_inputs(script);
    for (name, _) in inputs {
        assert!(documented.contains(name), "{DOC_PATH} no longer documents {name}: {documented:?}");
    }
    let mut sh = Command::new("sh");
    sh.arg("-x").arg("-c").arg(script).current_dir(dir);
    for name in &documented {
        sh.env_remove(name);
    }
    sh.envs(inputs.iter().map(|(name, value)| (name, value)));
    let out = sh.output().unwrap_or_else(|e| panic!("running sh: {e}"));
    assert!(
        out.status.success(),
        "the walkthrough of {DOC_PATH} failed ({}) in {}; its trace and errors:\n{}",
        out.status,
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Boots `image` on the PC machine with the harness's kernel and console, as the document's
/// QEMU example does, until the example init powers off.
fn boot_pc(setup: &Setup, image: &Path, work: &Path) -> Report {
    let mut boot = Boot::new(&setup.kernel.vmlinuz, image, &work.join("console.log"));
    boot.devices = Machine::Pc.qemu_args(&work.join("disks")).unwrap_or_else(|e| panic!("{e:#}"));
    boot.timeout = Duration::from_secs(240);
    let outcome = boot.run().unwrap_or_else(|e| panic!("booting {}: {e:#}", image.display()));
    Report::new(outcome)
}

/// The values of the example init's `example-init: KEY VALUE` lines for `key`.
fn init_lines<'a>(r: &'a Report, key: &str) -> Vec<&'a str> {
    let prefix = format!("{INIT_PREFIX}{key} ");
    r.outcome.console.lines().filter_map(|line| line.strip_prefix(prefix.as_str())).collect()
}

/// A device the example init listed: its modalias and the driver bound to it, if any.
#[derive(Debug)]
struct Device<'a> {
    alias: &'a str,
    driver: Option<&'a str>,
}

/// The devices the example init listed (`example-init: device ALIAS DRIVER`, `-` for none).
fn devices(r: &Report) -> Vec<Device<'_>> {
    init_lines(r, "device")
        .into_iter()
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(alias, _)| !alias.is_empty())
        .map(|(alias, driver)| Device { alias, driver: (driver != "-").then_some(driver) })
        .collect()
}

/// A module file's module name: its base name without `.ko*`, `-` as `_`.
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// The modules the walkthrough put in the image (its `modules.list`).
fn image_modules(dir: &Path) -> BTreeSet<String> {
    let list = dir.join("modules.list");
    let text = std::fs::read_to_string(&list).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    text.lines().map(module_name).collect()
}

/// What kmod's `modprobe -R` resolves `alias` to in the kmod-indexed root `root` (empty when
/// nothing matches).
fn kmod_resolve(root: &Path, version: &str, alias: &str) -> Vec<String> {
    let out = Command::new("modprobe")
        .arg("-d")
        .arg(root)
        .args(["-S", version, "-q", "-R", alias])
        .output()
        .unwrap_or_else(|e| panic!("running kmod's modprobe: {e}"));
    String::from_utf8_lossy(&out.stdout).lines().map(|name| name.replace('-', "_")).collect()
}

/// Each of `devices` but [`PLATFORM_PROBES`] with the image's modules kmod resolves it to,
/// blacklisted ones left out; the devices without any are left out.
fn drivers_in_image<'a>(
    devices: &'a [Device<'a>],
    setup: &Setup,
    in_image: &BTreeSet<String>,
) -> Vec<(&'a Device<'a>, Vec<String>)> {
    let kmod_root = xtask::kmod::indexed_root(&setup.kernel.modules).unwrap_or_else(|e| panic!("{e:#}"));
    devices
        .iter()
        .filter(|device| !PLATFORM_PROBES.iter().any(|prefix| device.alias.starts_with(prefix)))
        .map(|device| {
            let modules = kmod_resolve(&kmod_root, &setup.kernel.version, device.alias);
            (device, modules.into_iter().filter(|m| in_image.contains(m) && m != BLACKLISTED).collect::<Vec<_>>())
        })
        .filter(|(_, modules)| !modules.is_empty())
        .collect()
}

/// The first tool the walkthrough or the oracle needs that is missing, if any.
fn missing_tool() -> Option<String> {
    if !Path::new(BUSYBOX).is_file() {
        return Some(format!("{BUSYBOX} (busybox-static)"));
    }
    let on_path = |program: &str| {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output();
        found.is_ok_and(|o| o.status.success())
    };
    HOST_PROGRAMS.into_iter().find(|program| !on_path(program)).map(str::to_string)
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn integrating_walkthrough_makes_an_image_that_serves_the_pcs_devices_and_runs_its_init() {
    if let Some(tool) = missing_tool() {
        modinit_test_fixtures::unavailable(&tool);
        return;
    }
    let setup = xtask::scenario::setup().unwrap_or_else(|e| panic!("{e:#}"));
    let work = xtask::scenario::work_dir("integrating");
    let dir = work.join("walkthrough");
    run_walkthrough(&dir, &walkthrough_script(DOC), &inputs(setup));

    let r = boot_pc(setup, &dir.join("initramfs.cpio"), &work);
    let log = r.outcome.log.display();
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    assert_eq!(init_lines(&r, "pid"), ["1"], "the document's init runs as PID 1; see {log}");
    let done = r.modinit_lines().into_iter().find(|l| l.starts_with("done: "));
    assert!(done.is_some_and(|l| l.contains(" failed=0 ")), "no module failed: {done:?}; see {log}");

    let loaded: BTreeSet<&str> = init_lines(&r, "modules").into_iter().flat_map(str::split_whitespace).collect();
    let in_image = image_modules(&dir);
    let devices = devices(&r);
    let drivers = drivers_in_image(&devices, setup, &in_image);
    assert!(drivers.len() > 10, "the PC's devices have drivers in the image: {drivers:?}; see {log}");
    let unserved: Vec<String> = drivers
        .iter()
        .filter(|(device, modules)| device.driver.is_none() && !modules.iter().any(|m| loaded.contains(m.as_str())))
        .map(|(device, modules)| format!("{} ({})", device.alias, modules.join(" ")))
        .collect();
    assert!(unserved.is_empty(), "devices without a driver though the image has one: {unserved:?}; see {log}");

    assert!(devices.iter().any(|d| d.alias == "platform:pcspkr"), "the PC has a speaker; see {log}");
    assert!(in_image.contains(BLACKLISTED), "{BLACKLISTED} is in the image, so the blacklist is what keeps it out");
    assert!(!loaded.contains(BLACKLISTED), "the walkthrough's modprobe.d blacklists {BLACKLISTED}; see {log}");
}

/// The document's walkthrough parses into a script that stops at the first error and sets the
/// inputs the QEMU test gives it, and its QEMU example boots as the test does.
#[test]
fn integrating_walkthrough_documents_the_inputs_and_command_line_the_test_uses() {
    let script = walkthrough_script(DOC);
    assert!(script.starts_with("set -eu\n") && script.lines().count() > 20, "{script}");
    let documented = documented_inputs(&script);
    for name in ["MODINIT", "KVER", "MODULES", "WANTED", "ROOT", "IMAGE"] {
        assert!(documented.contains(name), "{DOC_PATH} documents {name}: {documented:?}");
    }
    assert!(DOC.contains("-append \"console=ttyS0\""), "{DOC_PATH} boots with the console alone, as the test does");
    let links: Vec<&str> = Applet::ALL.iter().filter_map(|a| a.link()).collect();
    let loop_over_links = format!("for applet in {}; do", links.join(" "));
    assert!(DOC.contains(&loop_over_links), "{DOC_PATH} links every applet as images do: {loop_over_links}");
}
