//! Boot tests of the skeleton: the real Debian kernel, modinit as /init, under QEMU.
//!
//! Every test boots a VM (seconds under TCG), so they are ignored by plain `cargo test`;
//! `cargo xtask test` runs them. Each asserts on what the console showed: the guest test
//! init's report (qemu/guest/report-init) and modinit's own lines.

use modinit_tests::{assert_exec_line, boot, expect_clean};
use xtask::cpio::Node;
use xtask::qemu::End;
use xtask::scenario::Scenario;

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn hands_a_mounted_system_and_the_kernel_args_to_the_real_init() {
    let mut s = Scenario::new("boot-basic").unwrap();
    // Without '=' the kernel passes a parameter to init as an argument, with '=' in its environment.
    s.append = "modinit_test_arg MODINIT_TEST_ENV=hello".into();
    let r = boot(&s);
    expect_clean(&r);
    assert_eq!(r.outcome.end, End::Exited, "the guest init powers off");
    assert_eq!(r.guest("pid"), Some("1"), "the real init runs as PID 1");
    assert_eq!(r.guest("argv0"), Some("/sbin/init"));
    assert_eq!(r.guest("args"), Some("modinit_test_arg"));
    assert_eq!(r.guest("env.MODINIT_TEST_ENV"), Some("hello"));
    assert_eq!(r.guest("mount./proc"), Some("proc"));
    assert_eq!(r.guest("mount./sys"), Some("sysfs"));
    assert_eq!(r.guest("mount./dev"), Some("devtmpfs"));
    assert_eq!(r.guest("mount./run"), Some("tmpfs"));
    assert_eq!(r.guest("console"), Some("/dev/console"));
    assert_exec_line(&r, "/sbin/init");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn honours_init_on_the_command_line() {
    let mut s = Scenario::new("boot-init-param").unwrap();
    let report_init = std::fs::read(xtask::paths::guest_init()).unwrap();
    s.image.insert("bin/custom", Node::File(report_init), 0o755);
    s.append = "init=/bin/custom".into();
    let r = boot(&s);
    expect_clean(&r);
    assert_eq!(r.guest("argv0"), Some("/bin/custom"));
    assert_eq!(r.guest("pid"), Some("1"));
    assert_exec_line(&r, "/bin/custom");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn falls_back_to_the_default_inits_when_init_is_unusable() {
    for (name, setup, reason) in [
        ("boot-init-missing", None, "no such file"),
        ("boot-init-dir", Some(Node::Dir), "EISDIR"),
        ("boot-init-noexec", Some(Node::File(b"#!/bin/busybox sh\n".to_vec())), "EACCES"),
    ] {
        let mut s = Scenario::new(name).unwrap();
        if let Some(node) = setup {
            s.image.insert("bin/custom", node, 0o644);
        }
        s.append = "init=/bin/custom".into();
        let r = boot(&s);
        expect_clean(&r);
        let complaint = r.modinit_lines().into_iter().find(|l| l.contains("init=/bin/custom")).map(str::to_string);
        assert!(
            complaint.as_deref().is_some_and(|l| l.contains(reason) && l.contains("trying the default inits")),
            "{name}: expected a line naming init=/bin/custom and {reason}, got {complaint:?}"
        );
        assert_eq!(r.guest("argv0"), Some("/sbin/init"), "{name}");
        assert_exec_line(&r, "/sbin/init");
    }
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn without_any_init_reports_and_powers_off_instead_of_panicking() {
    let mut s = Scenario::new("boot-no-init").unwrap();
    s.image.remove("sbin/init");
    s.append = "modinit.on_error=poweroff".into();
    let r = boot(&s);
    expect_clean(&r);
    assert_eq!(r.outcome.end, End::Exited, "poweroff ends QEMU");
    let lines = r.modinit_lines();
    assert!(lines.iter().any(|l| l.starts_with("no init to run: tried /sbin/init")), "{lines:?}");
    assert!(lines.contains(&"on_error=poweroff") && lines.contains(&"powering off"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("exec ")), "nothing was exec'd: {lines:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn default_on_error_without_a_shell_halts() {
    let mut s = Scenario::new("boot-halt").unwrap();
    s.image.remove("sbin/init");
    // A halted machine stays up: stop watching once the kernel says so.
    s.stop_on = vec!["reboot: System halted".into()];
    let r = boot(&s);
    expect_clean(&r);
    assert_eq!(r.outcome.end, End::Stopped("reboot: System halted".into()));
    let lines = r.modinit_lines();
    let expected = ["on_error=shell", "no rescue shell at /bin/sh", "halting"];
    let found: Vec<&str> = lines.iter().copied().filter(|l| expected.contains(l)).collect();
    assert_eq!(found, expected, "{lines:?}");
}

#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn last_fallback_is_a_shell_on_the_console() {
    let mut s = Scenario::new("boot-sh").unwrap();
    s.image.remove("sbin/init");
    s.image.insert("bin/sh", Node::Symlink("busybox".into()), 0o777);
    // The shell reads the console: what we type must come back evaluated.
    s.type_after = Some(("modinit: exec /bin/sh".into(), "echo shell-$((6*7)); /bin/busybox poweroff -f\n".into()));
    let r = boot(&s);
    expect_clean(&r);
    assert_exec_line(&r, "/bin/sh");
    assert!(r.outcome.console.lines().any(|l| l.trim() == "shell-42"), "see {}", r.outcome.log.display());
    assert_eq!(r.outcome.end, End::Exited);
}
