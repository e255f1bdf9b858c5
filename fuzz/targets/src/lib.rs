//! Fuzz targets for modinit's parsers of untrusted bytes, in one place for every caller.
//!
//! Each target is a `fn(&[u8])` that must never panic on any input, and asserts what it can
//! check beyond that: round trips, agreement with a reference (glibc's `fnmatch`, libzstd,
//! flate2, a linear scan over the alias patterns, the reader for what the writer and the
//! builder make), the bounds the library documents. The cargo-fuzz binaries in
//! `fuzz/fuzz_targets/` call them under libFuzzer (`cargo xtask fuzz`); the smoke test
//! `tests/fuzz_smoke.rs` replays their [`seeds`] and mutations of them.

pub mod cmdline;
pub mod config;
pub mod decompress;
pub mod device;
pub mod elf;
pub mod fnmatch;
pub mod heap;
pub mod index;
pub mod index_built;
pub mod index_written;
mod input;
pub mod kmod_files;
pub mod kmsg;
pub mod root_fs;
pub mod root_partition;
pub mod seeds;
pub mod uevent;

/// A fuzz target: its name (also its cargo-fuzz binary's) and its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target { name: "kmsg", run: kmsg::fuzz },
    Target { name: "index", run: index::fuzz },
    Target { name: "index_written", run: index_written::fuzz },
    Target { name: "index_built", run: index_built::fuzz },
    Target { name: "kmod_files", run: kmod_files::fuzz },
    Target { name: "fnmatch", run: fnmatch::fuzz },
    Target { name: "config", run: config::fuzz },
    Target { name: "cmdline", run: cmdline::fuzz },
    Target { name: "uevent", run: uevent::fuzz },
    Target { name: "decompress", run: decompress::fuzz },
    Target { name: "elf", run: elf::fuzz },
    Target { name: "root_fs", run: root_fs::fuzz },
    Target { name: "root_partition", run: root_partition::fuzz },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// Asserts that `part` lies inside `whole`: a parser handed back a slice of its input, not a
/// copy or something else. Empty slices pass (they may point anywhere).
fn assert_within(whole: &[u8], part: &[u8], what: &str) {
    let range = whole.as_ptr_range();
    let inside = part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end);
    assert!(inside, "{what} is not a part of the input");
}
