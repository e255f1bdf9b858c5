//! Helpers shared by the test binaries of this package.

pub mod kmod_oracle;

use xtask::scenario::{Report, Scenario};

/// The real module tree differential tests use, or None (after a note) when there is none.
pub use modinit_test_fixtures::real_module_tree;

/// Boots `s`; a harness failure (no QEMU, no kernel) fails the test with its cause.
pub fn boot(s: &Scenario) -> Report {
    s.boot().unwrap_or_else(|e| panic!("{e:#}"))
}

/// The kernel did not panic and PID 1 did not die.
pub fn expect_clean(r: &Report) {
    if let Err(e) = r.check_no_panic() {
        panic!("{e}");
    }
}

/// The last thing modinit printed about exec is `exec PATH after N ms`, N a number.
pub fn assert_exec_line(r: &Report, path: &str) {
    let lines = r.modinit_lines();
    let last_exec = lines.iter().rev().find(|l| l.starts_with("exec "));
    let ms = last_exec
        .and_then(|l| l.strip_prefix(&format!("exec {path} after ")))
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(ms.is_some(), "expected `exec {path} after N ms` last, got {last_exec:?}; see {}", r.outcome.log.display());
}
