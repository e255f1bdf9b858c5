//! The kernel log on the console during boot, and modinit's lines in the kernel log.
//!
//! `hugepagesz=3M` makes the kernel log one error early in every boot ("HugeTLB: unsupported
//! hugepagesz=3M"); `loglevel=0` stops the kernel from printing anything on its console itself,
//! so what shows is what modinit copied.

use modinit_tests::{assert_exec_line, boot, expect_clean};
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
    assert!(streamed.iter().all(|(level, _)| ["emerg", "alert", "crit", "err", "warn"].contains(level)), "{streamed:?}");
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
