//! modinit's xz decoder against xz-utils on Debian 13's tree, whose every module is `.ko.xz`
//! (`xz --check=crc32 --lzma2=dict=1MiB`, the kernel's options): each one must decompress to
//! exactly what `xz -dc` gives, with no heap (the output is the dictionary); other checks,
//! dictionaries, literal and position bits, stored chunks and blocks decode as well; damaged
//! copies must fail with the right error, never a panic.

use modinit::decompress::{Compression, DecompressError, decompress_into, decompressed_size, heap_needed};
use modinit_test_fixtures::{Random, file_corruptions, modules_under, real_second_module_tree, unavailable};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SIZE_LIMIT: usize = 256 << 20;

/// Debian 13's modules, or None after `unavailable` when the tree or `xz` is missing.
fn xz_modules() -> Option<(PathBuf, Vec<PathBuf>)> {
    let tree = real_second_module_tree()?;
    if Command::new("xz").arg("--version").stdout(Stdio::null()).status().is_err() {
        unavailable("`xz` (xz-utils), the reference decoder");
        return None;
    }
    let modules = modules_under(&tree);
    assert!(modules.iter().all(|m| m.to_string_lossy().ends_with(".ko.xz")), "Debian 13's modules are .ko.xz");
    assert!(modules.len() > 4000, "{} modules under {}", modules.len(), tree.display());
    Some((tree, modules))
}

/// What `xz` does with `input` (`args` then `-c`, input on stdin): its stdout on success.
fn xz(args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new("xz")
        .args(args)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running xz");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let output = child.wait_with_output().expect("waiting for xz");
    let _ = writer.join();
    output.status.success().then_some(output.stdout)
}

/// Sizes, heap and decodes `file` as the boot does; the bytes on success.
fn ours(file: &[u8]) -> Result<Vec<u8>, DecompressError> {
    let size = decompressed_size(file, SIZE_LIMIT)?;
    assert_eq!(heap_needed(file, 0)?, 0);
    let mut out = vec![0; size];
    assert_eq!(decompress_into(file, &mut out)?, size);
    Ok(out)
}

#[test]
fn every_module_of_debian_13_decodes_as_xz_utils_does() {
    let Some((tree, modules)) = xz_modules() else { return };
    let next = AtomicUsize::new(0);
    let (ours_time, theirs_time, bytes) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let (mut ours_time, mut theirs_time, mut bytes) = (Duration::ZERO, Duration::ZERO, 0);
                    while let Some(path) = modules.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let name = path.strip_prefix(&tree).unwrap_or(path).display().to_string();
                        let file = std::fs::read(path).expect("reading a module");
                        assert_eq!(Compression::detect(&file), Compression::Xz, "{name}");
                        let started = Instant::now();
                        let theirs = xz(&["-d"], &file).unwrap_or_else(|| panic!("xz -d refused {name}"));
                        theirs_time += started.elapsed();
                        let started = Instant::now();
                        let decoded = ours(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
                        ours_time += started.elapsed();
                        assert!(decoded == theirs, "{name}: different bytes from xz -d");
                        bytes += decoded.len();
                    }
                    (ours_time, theirs_time, bytes)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker"))
            .fold((Duration::ZERO, Duration::ZERO, 0), |(a, b, c), (x, y, z)| (a + x, b + y, c + z))
    });
    let mb_per_s = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    eprintln!(
        "{} modules, {} MB: modinit {:.0} MB/s, xz -dc {:.0} MB/s (process start included)",
        modules.len(),
        bytes / 1_000_000,
        mb_per_s(ours_time),
        mb_per_s(theirs_time)
    );
}

/// A few of the tree's modules between 20 and 200 KiB, for the tests that decode many copies.
fn small_modules(modules: &[PathBuf], count: usize) -> Vec<(String, Vec<u8>)> {
    modules
        .iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| (20 << 10..200 << 10).contains(&m.len())))
        .step_by(97)
        .take(count)
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(p).unwrap()))
        .collect()
}

/// The byte ranges of the fields an xz file of one block made by `xz` has: stream flags and
/// header CRC32, block header (size, flags, filter, dictionary, CRC32), index and footer.
fn xz_fields(file: &[u8]) -> Vec<(usize, usize)> {
    let len = file.len();
    vec![
        (6, 2),
        (8, 4),
        (12, 1),
        (13, 1),
        (14, 1),
        (16, 1),
        (20, 4),
        (24, 1),
        (len - 12, 4),
        (len - 8, 4),
        (len - 4, 2),
    ]
}

#[test]
fn damaged_modules_fail_like_xz_utils_and_never_decode_wrong() {
    let Some((_, modules)) = xz_modules() else { return };
    let mut refused = 0;
    for (name, file) in small_modules(&modules, 2) {
        let original = xz(&["-d"], &file).expect("xz decodes the original");
        file_corruptions(&file, &xz_fields(&file), 300, |damaged| match ours(damaged) {
            Ok(decoded) => assert!(decoded == original, "{name}: a damaged copy decoded to different bytes"),
            Err(_) => refused += 1,
        });
        // Every truncation is an error, the last byte's too.
        assert_eq!(ours(&file[..file.len() - 1]), Err(DecompressError::Truncated(Compression::Xz)), "{name}");
        // A flipped byte in the compressed data: the CRC32 of the content catches what LZMA2 does not.
        for at in (40..file.len() - 60).step_by(file.len() / 8) {
            let mut flipped = file.clone();
            flipped[at] ^= 0x20;
            let result = ours(&flipped);
            assert!(result.is_err(), "{name}: byte {at} flipped decoded");
            assert!(xz(&["-d"], &flipped).is_none(), "{name}: xz -d decoded byte {at} flipped");
        }
    }
    assert!(refused > 0);
}

/// The module `plain` compressed by `xz` with `options`.
fn recompressed(plain: &[u8], options: &[&str]) -> Vec<u8> {
    xz(options, plain).unwrap_or_else(|| panic!("xz {options:?} failed"))
}

#[test]
fn other_checks_filters_blocks_and_dictionaries() {
    let Some((_, modules)) = xz_modules() else { return };
    let (name, file) = small_modules(&modules, 1).pop().expect("a small module");
    let plain = xz(&["-d"], &file).expect("xz decodes it");
    for options in [
        &["--check=crc64"][..],
        &["--check=none"],
        &["-9e"],
        &["--block-size=16KiB", "-T1"],
        // Distances bounded by a dictionary smaller than the module; other literal context,
        // literal position and position bits than the default lc=3, lp=0, pb=2.
        &["--lzma2=dict=4KiB,lc=0,lp=4,pb=4"],
        &["--lzma2=dict=64KiB,lc=4,lp=0,pb=0"],
        &["--lzma2=lc=1,lp=3,pb=1,mf=hc3,mode=fast"],
    ] {
        assert!(ours(&recompressed(&plain, options)).unwrap() == plain, "{name}: xz {options:?}");
    }
    // Bytes that do not compress make xz write stored chunks between LZMA ones, and blocks
    // (64 KiB each here) restart the dictionary.
    let mut random = Random::new(20);
    let mixed = [&plain[..], &random.bytes(200 << 10), &plain[..], &random.bytes(3000), &plain[..]].concat();
    for options in [&[][..], &["--block-size=64KiB", "-T1"]] {
        assert!(ours(&recompressed(&mixed, options)).unwrap() == mixed, "{name} and random bytes: xz {options:?}");
    }
    let sha256 = recompressed(&plain, &["--check=sha256"]);
    assert_eq!(ours(&sha256), Err(DecompressError::XzCheck(10)), "{name}");
    let bcj = recompressed(&plain, &["--x86", "--lzma2=dict=1MiB"]);
    assert_eq!(ours(&bcj), Err(DecompressError::XzFilter(4)), "{name}");
    let two = [&file[..], &file[..]].concat();
    assert_eq!(ours(&two), Err(DecompressError::TrailingData(Compression::Xz)));
    assert!(xz(&["-d"], &two).is_some(), "xz-utils reads several streams; modinit refuses them");

    // The largest module with a 32 MiB dictionary: still no heap, the output is the dictionary.
    let largest = modules.iter().max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len())).unwrap();
    let large_plain = xz(&["-d"], &std::fs::read(largest).unwrap()).unwrap();
    let large = recompressed(&large_plain, &["-0", "--lzma2=dict=32MiB"]);
    assert!(ours(&large).unwrap() == large_plain, "{}", largest.display());
}

/// MB/s of output on the 20 largest modules, ours against `xz -dc` (process start included).
/// `cargo test --release -p modinit-tests --test decompress_vs_xz throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let Some((_, mut modules)) = xz_modules() else { return };
    modules.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map_or(0, |m| m.len())));
    let files: Vec<Vec<u8>> = modules[..20].iter().map(|p| std::fs::read(p).unwrap()).collect();
    let started = Instant::now();
    let total: usize = files.iter().map(|f| ours(f).expect("decodes").len()).sum();
    let ours_time = started.elapsed();
    let started = Instant::now();
    files.iter().for_each(|f| drop(xz(&["-d"], f).expect("xz decodes")));
    let theirs_time = started.elapsed();
    let mb_per_s = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
    eprintln!(
        "{} MB: modinit {:.0} MB/s, xz -dc {:.0} MB/s",
        total / 1_000_000,
        mb_per_s(ours_time),
        mb_per_s(theirs_time)
    );
}
