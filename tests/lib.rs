//! Helpers shared by the test binaries of this package.

pub mod applet_peers;
pub mod kmod_oracle;

use std::path::Path;
use xtask::scenario::{Report, Scenario};

/// A modprobe.d with every directive kmod acts on at boot, aimed at modules of the real tree:
/// the configuration of the differential tests' configured runs.
pub const TEST_CONFIG: &str = "\
alias my-nic e1000
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000e
alias ethernet-* e1000
alias no-such-target not_a_module
options e1000 debug=16 copybreak=64
options my-nic TxDescriptors=128
options ahci mobile_lpm_policy=1
blacklist e1000e
blacklist pcspkr
softdep ahci pre: crc32c_generic post: sd_mod
softdep snd_hda* pre: snd-hda-codec-generic
softdep virtio_* pre: virtio_rng
";

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

/// What modinit says of `device` with `modalias` when the image lacks its driver
/// (`no driver for DEVICE (MODALIAS): MODULES is|are not in this image`), with the modules
/// kmod's lookup over the whole `tree` (a lib/modules/VERSION directory) gives, each once, in
/// kmod's order; and those modules. The test fails when kmod finds none.
pub fn missing_driver_line(tree: &Path, device: &str, modalias: &str) -> (String, Vec<String>) {
    let kmod = kmod_oracle::Kmod::without_configuration(&xtask::kmod::indexed_tree(tree).unwrap());
    let mut drivers = kmod.lookup(modalias);
    drivers.dedup();
    assert!(!drivers.is_empty(), "kmod finds no module for {modalias}");
    let verb = if drivers.len() == 1 { "is" } else { "are" };
    (format!("no driver for {device} ({modalias}): {} {verb} not in this image", drivers.join(", ")), drivers)
}
