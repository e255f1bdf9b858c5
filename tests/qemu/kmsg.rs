//! The kernel log on the console during boot, and modinit's lines in the kernel log.
//!
//! `hugepagesz=3M` makes the kernel log one error early in every boot ("HugeTLB: unsupported
//! hugepagesz=3M"); `loglevel=0` stops the kernel from printing anything on its console itself,
//! so what shows is what modinit copied.

use modinit_tests::{assert_exec_line, boot, expect_clean};
use xtask::initramfs::ModuleCompression;
use xtask::machine::Machine;
use xtask::scenario::Scenario;

const EARLY_ERROR: &str = "HugeTLB: unsupported hugepagesz=3M";

fn boot_with(name: &str, append: &str) -> xtask::scenario::Report {
    let mut s = Scenario::new(name).unwrap();
    s.append = format!("loglevel=0 hugepagesz=3M {append}");
    let r = boot(&s);
    expect_clean(&r);
    r
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn kernel_errors_are_shown_once_before_init_and_lesser_levels_are_not() {
    let r = boot_with("kmsg-since-boot", "modinit.kmsg_since=boot");
    let streamed = r.streamed_kernel_lines();
    assert_eq!(streamed.iter().filter(|(_, t)| *t == EARLY_ERROR).count(), 1, "{streamed:?}");
    assert!(streamed.iter().all(|(level, _)| ["emerg", "alert", "crit", "err"].contains(level)), "{streamed:?}");
    let console = &r.outcome.console;
    let error_at = console.find(EARLY_ERROR).unwrap();
    let exec_at = console.find("modinit: exec /sbin/init").expect("exec line");
    assert!(error_at < exec_at, "the kernel's error comes before the real init");
    assert_exec_line(&r, "/sbin/init");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_lower_threshold_adds_warnings_only() {
    let r = boot_with("kmsg-warn", "modinit.kmsg_since=boot modinit.kmsg=warn");
    let streamed = r.streamed_kernel_lines();
    assert!(streamed.contains(&("err", EARLY_ERROR)), "{streamed:?}");
    assert!(streamed.iter().any(|(level, _)| *level == "warn"), "a TCG boot logs warnings: {streamed:?}");
    assert!(
        streamed.iter().all(|(level, _)| ["emerg", "alert", "crit", "err", "warn"].contains(level)),
        "{streamed:?}"
    );
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn by_default_only_messages_from_init_on_are_shown() {
    let r = boot_with("kmsg-default", "");
    assert!(r.streamed_kernel_lines().is_empty(), "the early error predates /init: {:?}", r.streamed_kernel_lines());
    let r = boot_with("kmsg-off", "modinit.kmsg_since=boot modinit.kmsg=off");
    assert!(r.streamed_kernel_lines().is_empty(), "{:?}", r.streamed_kernel_lines());
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn modinit_lines_reach_the_kernel_log_and_the_rate_limit_comes_back() {
    let r = boot_with("kmsg-journal", "");
    let in_log = r.guest("kmsg.exec").expect("the guest reports the kernel log's exec line");
    let on_console = r.modinit_lines().into_iter().rev().find(|l| l.starts_with("exec ")).unwrap();
    assert_eq!(in_log, format!("modinit: {on_console}"));
    assert_eq!(r.guest("printk_devkmsg"), Some("ratelimit"));
}

/// The PC machine with the module tree, booted to the real init.
fn boot_pc_with_modules(name: &str, append: &str) -> xtask::scenario::Report {
    let mut s = Scenario::with_modules(name, Some(ModuleCompression::Zst)).unwrap();
    s.machine = Machine::Pc;
    s.append = append.to_string();
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/sbin/init");
    r
}

/// A driver refused by the kernel: its own error text reaches the console before the real
/// init, next to modinit's line about it, and nothing below `err` is copied.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_failing_drivers_kernel_error_is_shown_before_init() {
    let r = boot_pc_with_modules("kmsg-driver-error", "loglevel=0 e1000.copybreak=lots");
    let kernel_error = "e1000: `lots' invalid for parameter `copybreak'";
    let streamed = r.streamed_kernel_lines();
    assert!(streamed.contains(&("err", kernel_error)), "{streamed:?}");
    assert!(streamed.iter().all(|(level, _)| ["emerg", "alert", "crit", "err"].contains(level)), "{streamed:?}");
    let console = &r.outcome.console;
    let (error_at, exec_at) = (console.find(kernel_error).unwrap(), console.find("modinit: exec /sbin/init").unwrap());
    assert!(error_at < exec_at, "the driver's error comes before the real init");
    let ours = r.modinit_lines().into_iter().find(|l| l.starts_with("cannot load e1000")).expect("modinit's line");
    assert!(ours.ends_with("Invalid parameters (EINVAL)"), "{ours}");
    let done = r.modinit_lines().into_iter().find(|l| l.starts_with("done: ")).unwrap();
    assert!(done.contains(" failed=1 "), "{done}");
}

/// Every pr_debug of the kernel on, and all of it wanted on the console: the log overflows
/// while modinit copies it. modinit says how much it lost, once per gap, and still loads
/// the drivers, prints its summary and starts the real init.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn a_flooded_log_reports_lost_messages_and_boot_goes_on() {
    let r = boot_pc_with_modules("kmsg-flood", "loglevel=0 dyndbg=+p modinit.kmsg=debug modinit.kmsg_since=boot");
    let lines = r.modinit_lines();
    assert!(lines.iter().any(|l| l.ends_with("kernel messages lost (the log overflowed)")), "no loss reported");
    assert!(lines.iter().any(|l| l.starts_with("done: loaded=")), "the summary survives the flood");
    assert!(r.guest("modules").is_some_and(|m| m.contains("e1000")), "drivers still load");
}
