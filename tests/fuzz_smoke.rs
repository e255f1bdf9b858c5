//! The fuzz targets (fuzz/targets) over their seeds and a few thousand deterministic
//! mutations of them: what `cargo xtask fuzz` explores for minutes, checked in seconds on
//! every `cargo test`. Seeds from the Debian tree are used when it is there.

use modinit_fuzz_targets::seeds::{Sources, seeds};
use modinit_fuzz_targets::{TARGETS, Target, target};
use modinit_test_fixtures::Random;

/// Counts what the decoder allocates, so the decompress target checks `heap_needed`.
#[global_allocator]
static HEAP: modinit_fuzz_targets::heap::Counting = modinit_fuzz_targets::heap::Counting;

/// Real modules to seed from (the smallest of the tree).
const REAL_MODULES: usize = 6;

/// Bytes the parsers give meaning to, for mutations to insert.
const SPECIAL: &[u8] = b"\0\n\r\t \\\"'*?[]!^-_=,.;:/@#x";

/// One to four changes to `seed`: bits flipped, bytes set or inserted, a range deleted or
/// repeated, a special byte inserted, a cut, a splice with another seed.
fn mutate(seed: &[u8], others: &[Vec<u8>], random: &mut Random) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + random.below(4) {
        let at = random.below(data.len() + 1);
        let len = 1 + random.below(16.min(data.len() - at + 1));
        match random.below(8) {
            0 if at < data.len() => data[at] ^= 1 << random.below(8),
            1 if at < data.len() => data[at] = random.next_u64() as u8,
            2 => data.insert(at, random.next_u64() as u8),
            3 if at < data.len() => drop(data.drain(at..(at + len).min(data.len()))),
            4 if at < data.len() => {
                let copy = data[at..(at + len).min(data.len())].to_vec();
                data.splice(at..at, copy);
            }
            5 => data.insert(at, SPECIAL[random.below(SPECIAL.len())]),
            6 => data.truncate(at),
            _ => {
                let other = &others[random.below(others.len())];
                let from = random.below(other.len() + 1);
                data.splice(at.., other[from..].iter().take(64).copied());
            }
        }
    }
    data
}

fn smoke(name: &str, mutations: usize) {
    let started = std::time::Instant::now();
    let target = target(name).expect("a target of that name");
    let mut inputs = seeds(name, &Sources::new(REAL_MODULES, false));
    assert!(!inputs.is_empty(), "{name} has seeds");
    inputs.push(Vec::new());
    for input in &inputs {
        run(name, target.run, input);
    }
    let mut random = Random::new(name.bytes().fold(0, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    for _ in 0..mutations {
        let seed = &inputs[random.below(inputs.len())];
        let input = mutate(seed, &inputs, &mut random);
        run(name, target.run, &input);
    }
    eprintln!("{name}: {} seeds and {mutations} mutations in {} ms", inputs.len(), started.elapsed().as_millis());
}

/// Runs a target; an input it fails on is kept under target/fuzz/smoke/ for `cargo fuzz run`.
fn run(name: &str, body: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = std::panic::catch_unwind(|| body(input)) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz/smoke");
        let path = dir.join(format!("{name}-failure"));
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
            Ok(()) => eprintln!("{name}: the failing input is {}", path.display()),
            Err(e) => eprintln!("{name}: could not keep the failing input: {e}"),
        }
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn kmsg() {
    smoke("kmsg", 5000);
}

#[test]
fn index() {
    smoke("index", 3000);
}

#[test]
fn index_written() {
    smoke("index_written", 8000);
}

#[test]
fn index_built() {
    smoke("index_built", 2000);
}

#[test]
fn kmod_files() {
    smoke("kmod_files", 2000);
}

#[test]
fn fnmatch() {
    smoke("fnmatch", 10000);
}

#[test]
fn config() {
    smoke("config", 8000);
}

#[test]
fn cmdline() {
    smoke("cmdline", 10000);
}

#[test]
fn uevent() {
    smoke("uevent", 10000);
}

#[test]
fn decompress() {
    smoke("decompress", 1500);
}

#[test]
fn elf() {
    smoke("elf", 3000);
}

#[test]
fn root_fs() {
    smoke("root_fs", 3000);
}

#[test]
fn root_partition() {
    smoke("root_partition", 5000);
}

/// Every target has its libFuzzer binary in fuzz/Cargo.toml, and a smoke test above.
#[test]
fn every_target_has_a_cargo_fuzz_binary_and_a_smoke_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let this = std::fs::read_to_string(root.join("tests/fuzz_smoke.rs")).expect("this file");
    for Target { name, .. } in TARGETS {
        let bin = format!("name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\"");
        assert!(manifest.contains(&bin), "no [[bin]] {name} in fuzz/Cargo.toml");
        assert!(root.join(format!("fuzz/fuzz_targets/{name}.rs")).is_file(), "no fuzz/fuzz_targets/{name}.rs");
        assert!(this.contains(&format!("fn {name}() {{\n    smoke(\"{name}\"")), "no smoke test for {name}");
    }
}
