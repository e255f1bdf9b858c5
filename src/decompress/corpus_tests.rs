//! Differential tests on the real Debian module tree. Modules compressed by the `gzip` and `zstd`
//! tools as distributions do (`gzip -9`, `zstd -19`) must come back byte for byte, zstd within
//! the heap bound; damaged copies must fail with an error, never a panic or wrong bytes.
//!
//! The tree comes from MODINIT_MODULES or target/kernel/*/lib/modules/*; the compressed copies
//! are kept in target/tmp/decompress-corpus/ (zstd -19 on 100 MB takes a while).

use super::*;
use crate::bump::Bump;
use modinit_test_fixtures::{Random, modules_under, real_module_tree};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const SIZE_LIMIT: usize = 256 << 20;

/// A module and its two compressed forms.
struct Sample {
    name: String,
    plain: Vec<u8>,
    gzip: Vec<u8>,
    zstd: Vec<u8>,
}

/// The 20 largest modules and 30 spread over the rest of the tree, or None (with a note) when
/// the tree or the tools are missing.
fn corpus() -> Option<&'static [Sample]> {
    static CORPUS: OnceLock<Option<Vec<Sample>>> = OnceLock::new();
    CORPUS.get_or_init(load_corpus).as_deref()
}

fn load_corpus() -> Option<Vec<Sample>> {
    let tree = real_module_tree()?;
    for tool in ["gzip", "zstd"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).status().is_err() {
            modinit_test_fixtures::unavailable(&format!("`{tool}` to compress the corpus with"));
            return None;
        }
    }
    let modules = modules_under(&tree);
    let mut by_size: Vec<(u64, PathBuf)> =
        modules.iter().map(|p| (fs::metadata(p).map_or(0, |m| m.len()), p.clone())).collect();
    by_size.sort();
    let largest: Vec<PathBuf> = by_size.iter().rev().take(20).map(|(_, p)| p.clone()).collect();
    let rest: Vec<&PathBuf> = modules.iter().filter(|p| !largest.contains(p)).collect();
    let spread = (0..30).filter_map(|i| rest.get(i * rest.len() / 30).map(|p| (*p).clone()));
    let chosen: Vec<PathBuf> = largest.iter().cloned().chain(spread).collect();

    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/decompress-corpus");
    fs::create_dir_all(&cache).expect("creating the corpus cache");
    let jobs: Vec<(&Path, PathBuf, &[&str])> = chosen
        .iter()
        .flat_map(|module| {
            let name = module.strip_prefix(&tree).unwrap_or(module).to_string_lossy().replace('/', "%");
            [
                (module.as_path(), cache.join(format!("{name}.gz")), &["gzip", "-9", "-n", "-c"][..]),
                (module.as_path(), cache.join(format!("{name}.zst")), &["zstd", "-19", "-q", "-c"][..]),
            ]
        })
        .collect();
    compress_all(&jobs);
    let samples = chosen
        .iter()
        .zip(jobs.chunks(2))
        .map(|(module, pair)| Sample {
            name: module.strip_prefix(&tree).unwrap_or(module).display().to_string(),
            plain: fs::read(module).expect("reading a module"),
            gzip: fs::read(&pair[0].1).expect("reading a compressed module"),
            zstd: fs::read(&pair[1].1).expect("reading a compressed module"),
        })
        .collect();
    Some(samples)
}

/// Runs `tool args... source > cached` for each job whose cached copy is missing or older than
/// its source, two at a time.
fn compress_all(jobs: &[(&Path, PathBuf, &[&str])]) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some((source, cached, command)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
                    if modified(cached) >= modified(source) {
                        continue;
                    }
                    let mut partial = cached.clone().into_os_string();
                    partial.push(".partial");
                    let output = fs::File::create(&partial).expect("creating a corpus file");
                    let status = Command::new(command[0])
                        .args(&command[1..])
                        .arg(source)
                        .stdout(output)
                        .status()
                        .expect("running");
                    assert!(status.success(), "{command:?} {} failed", source.display());
                    fs::rename(&partial, cached).expect("renaming a corpus file");
                }
            });
        }
    });
}

// Measuring the heap: while a thread measures, its allocations come from a `Bump` over a region
// of its own, exactly as the boot binary's arena (src/sys/arena.rs) serves them; everything else
// comes from the system allocator.

struct Measuring {
    start: usize,
    len: usize,
    bump: Bump,
}

thread_local! {
    static MEASURING: RefCell<Option<Measuring>> = const { RefCell::new(None) };
}

struct MeasuringAllocator;

#[global_allocator]
static ALLOCATOR: MeasuringAllocator = MeasuringAllocator;

/// Runs `f` on the measuring arena's bookkeeping if this thread measures and owns `block` (any
/// block when null).
fn in_arena<R>(block: *mut u8, f: impl FnOnce(&mut Bump) -> R) -> Option<R> {
    MEASURING.with(|measuring| {
        let mut measuring = measuring.borrow_mut();
        let m = measuring.as_mut()?;
        let owned = block.is_null() || (m.start..m.start + m.len).contains(&block.addr());
        owned.then(|| f(&mut m.bump))
    })
}

// SAFETY: blocks come either from System or from the measuring arena's region, which `Bump`
// hands out without overlap; each block goes back to the allocator it came from (`in_arena`
// checks the address against the region).
unsafe impl GlobalAlloc for MeasuringAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match in_arena(std::ptr::null_mut(), |bump| bump.alloc(layout.size(), layout.align())) {
            Some(Some(addr)) => std::ptr::with_exposed_provenance_mut(addr),
            Some(None) => std::ptr::null_mut(),
            // SAFETY: the caller's layout, passed on as GlobalAlloc::alloc requires.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if in_arena(block, |bump| bump.free(block.addr(), layout.size())).is_none() {
            // SAFETY: `block` is not in the arena, so System allocated it with `layout`.
            unsafe { System.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match in_arena(block, |bump| bump.resize_in_place(block.addr(), layout.size(), new_size)) {
            Some(true) => block,
            // SAFETY: `new_size` is non-zero and fits the alignment (realloc's contract); the old
            // block is live for `layout.size()` bytes and the new one for `new_size`, distinct.
            Some(false) => unsafe {
                let moved = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
                if !moved.is_null() {
                    std::ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                    self.dealloc(block, layout);
                }
                moved
            },
            // SAFETY: `block` is not in the arena, so System allocated it with `layout`.
            None => unsafe { System.realloc(block, layout, new_size) },
        }
    }
}

/// `decompress_into` with its heap served by a bump arena as large as `heap_needed` allows
/// (plus a margin, so that going over shows in the high water mark instead of aborting); returns
/// the result and the arena's high water mark.
fn decompress_measured(file: &[u8], out: &mut [u8]) -> (Result<usize, DecompressError>, usize) {
    let bound = heap_needed(file, usize::MAX).unwrap_or(0);
    let len = (bound + (64 << 20)).next_multiple_of(4096);
    let region = Layout::from_size_align(len, 4096).expect("a layout");
    // SAFETY: `region` has a non-zero size; the block is freed below once nothing in it is live.
    let start = unsafe { System.alloc(region) };
    assert!(!start.is_null());
    MEASURING.with(|m| {
        *m.borrow_mut() = Some(Measuring { start: start.expose_provenance(), len, bump: Bump::new(start.addr(), len) })
    });
    let result = decompress_into(file, out);
    let measured = MEASURING.with(|m| m.borrow_mut().take()).expect("still measuring");
    // SAFETY: `start` came from System.alloc(region) above; measuring has ended, so no block
    // in it is used again.
    unsafe { System.dealloc(start, region) };
    (result, measured.bump.high_water())
}

/// Decompresses `file` the way the boot path will: size, heap check, decode. Any success must
/// be the original bytes, and the heap must stay within the bound.
fn outcome(file: &[u8], original: &[u8]) -> Result<(), DecompressError> {
    let size = decompressed_size(file, SIZE_LIMIT)?;
    let bound = heap_needed(file, usize::MAX)?;
    let mut out = vec![0; size];
    let (result, high_water) = decompress_measured(file, &mut out);
    assert!(high_water <= bound, "heap {high_water} over the bound {bound}");
    assert_eq!(result?, size);
    assert!(out == original, "decompressed without an error to different bytes");
    Ok(())
}

#[test]
fn modules_compressed_by_gzip_and_zstd_come_back_exactly() {
    let Some(corpus) = corpus() else { return };
    let (mut most_heap, mut at) = (0, "");
    for sample in corpus {
        for (format, file) in [(Compression::Gzip, &sample.gzip), (Compression::Zstd, &sample.zstd)] {
            let what = format!("{} ({})", sample.name, format.name());
            assert_eq!(Compression::detect(file), format);
            assert_eq!(decompressed_size(file, SIZE_LIMIT), Ok(sample.plain.len()), "{what}");
            let bound = heap_needed(file, usize::MAX).unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut out = vec![0; sample.plain.len()];
            let (result, high_water) = decompress_measured(file, &mut out);
            assert_eq!(result, Ok(sample.plain.len()), "{what}");
            assert!(out == sample.plain, "{what}: different bytes");
            assert!(high_water <= bound, "{what}: heap {high_water} over the bound {bound}");
            if format == Compression::Gzip {
                assert_eq!(high_water, 0, "{what}: gzip must not allocate");
            } else if high_water > most_heap {
                (most_heap, at) = (high_water, &sample.name);
            }
        }
    }
    eprintln!("{} modules: the most heap zstd used was {} KiB, for {at}", corpus.len(), most_heap >> 10);
}

/// Small samples for the damage tests, which decompress many times.
fn small_samples(corpus: &[Sample], count: usize) -> impl Iterator<Item = &Sample> {
    corpus.iter().filter(|s| (20 << 10..400 << 10).contains(&s.plain.len())).take(count)
}

#[test]
fn damaged_files_fail_with_the_right_error() {
    let Some(corpus) = corpus() else { return };
    for sample in small_samples(corpus, 3) {
        let plain = &sample.plain;
        for file in [&sample.gzip, &sample.zstd] {
            let len = file.len();
            for cut in [
                1,
                4,
                5,
                6,
                9,
                10,
                11,
                12,
                20,
                len / 4,
                len / 2,
                len * 3 / 4,
                len - 9,
                len - 8,
                len - 5,
                len - 4,
                len - 1,
            ] {
                assert!(outcome(&file[..cut], plain).is_err(), "{}: cut to {cut} of {len} bytes", sample.name);
            }
            let mut wrong_magic = file.clone();
            wrong_magic[0] ^= 0xff;
            assert_eq!(outcome(&wrong_magic, plain), Err(DecompressError::NotCompressed));
            let limit = plain.len() - 1;
            let too_large = DecompressError::TooLarge { size: plain.len() as u64, limit };
            assert_eq!(decompressed_size(file, limit), Err(too_large));
            // A byte flipped anywhere in the compressed data.
            for at in (20..len - 8).step_by(len / 16) {
                let mut flipped = file.clone();
                flipped[at] ^= 0x5a;
                assert!(outcome(&flipped, plain).is_err(), "{}: byte {at} of {len} flipped", sample.name);
            }
        }

        let (gzip, len) = (&sample.gzip, sample.gzip.len());
        let mut bad_crc = gzip.clone();
        bad_crc[len - 6] ^= 1;
        assert_eq!(outcome(&bad_crc, plain), Err(DecompressError::ChecksumMismatch(Compression::Gzip)));
        let with_isize = |isize: usize| [&gzip[..len - 4], &(isize as u32).to_le_bytes()[..]].concat();
        let (expected, got) = (plain.len() + 1, plain.len());
        assert_eq!(outcome(&with_isize(expected), plain), Err(DecompressError::SizeMismatch { expected, got }));
        let expected = plain.len() - 1;
        assert_eq!(outcome(&with_isize(expected), plain), Err(DecompressError::Overlong { expected }));
        for reserved in [0x20, 0x40, 0x80] {
            let mut flags = gzip.clone();
            flags[3] |= reserved;
            assert_eq!(outcome(&flags, plain), Err(DecompressError::GzipReservedFlags(reserved)));
        }

        let (zstd, len) = (&sample.zstd, sample.zstd.len());
        let mut bad_checksum = zstd.clone();
        bad_checksum[len - 1] ^= 0x80;
        assert_eq!(outcome(&bad_checksum, plain), Err(DecompressError::ChecksumMismatch(Compression::Zstd)));
        let mut reserved = zstd.clone();
        reserved[4] |= 0x08;
        assert_eq!(outcome(&reserved, plain), Err(DecompressError::ZstdReservedBit));
        let two_frames = [&zstd[..], &zstd[..]].concat();
        assert_eq!(outcome(&two_frames, plain), Err(DecompressError::TrailingData(Compression::Zstd)));
        let two_members = [&gzip[..], &gzip[..]].concat();
        assert_eq!(outcome(&two_members, plain), Err(DecompressError::TrailingData(Compression::Gzip)));
        assert_eq!(
            heap_needed(zstd, 1 << 20),
            Err(DecompressError::HeapTooSmall {
                needed: heap_needed(zstd, usize::MAX).unwrap() as u64,
                available: 1 << 20
            })
        );
    }
}

/// `zstd` run on a sample with extra options: what a different packager might ship.
fn zstd_with(sample: &Sample, options: &[&str]) -> Vec<u8> {
    // One directory per call: tests run in parallel threads.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("modinit-zstd-{}-{call}", std::process::id()));
    fs::create_dir_all(&dir).expect("a temp dir");
    let source = dir.join("module.ko");
    fs::write(&source, &sample.plain).expect("writing a temp file");
    let output = Command::new("zstd").args(options).arg("-q").arg("-c").arg(&source).output().expect("running zstd");
    fs::remove_dir_all(&dir).expect("removing the temp dir");
    assert!(output.status.success());
    output.stdout
}

#[test]
fn zstd_options_that_change_the_frame() {
    let Some(corpus) = corpus() else { return };
    let sample = small_samples(corpus, 1).next().expect("a small module");
    assert_eq!(outcome(&zstd_with(sample, &["--no-content-size"]), &sample.plain), Err(DecompressError::UnknownSize));
    // No checksum to check, another level, a window smaller than the module.
    for options in [&["--no-check"][..], &["-1"], &["-19", "--zstd=wlog=10"], &["--ultra", "-22"]] {
        assert_eq!(outcome(&zstd_with(sample, options), &sample.plain), Ok(()), "zstd {options:?}");
    }
}

#[test]
fn random_damage_never_panics_nor_gives_wrong_bytes() {
    let Some(corpus) = corpus() else { return };
    let sample = corpus.iter().filter(|s| s.plain.len() >= 20 << 10).min_by_key(|s| s.plain.len()).expect("a module");
    let mut random = Random::new(0x9e37_79b9_7f4a_7c15);
    let mut errors = std::collections::BTreeMap::<String, usize>::new();
    // A 4 KiB window too: the frame is drained while decoding, and overshoots grow the buffer.
    let small_window = zstd_with(sample, &["-19", "--zstd=wlog=12"]);
    for file in [&sample.gzip, &sample.zstd, &small_window] {
        for round in 0..600 {
            let mut damaged = file.clone();
            match round % 3 {
                0 => damaged[random.below(file.len())] ^= 1 << random.below(8),
                1 => damaged.truncate(random.below(file.len())),
                _ => {
                    let at = random.below(file.len());
                    for byte in damaged.iter_mut().skip(at).take(1 + random.below(16)) {
                        *byte = random.below(256) as u8;
                    }
                }
            }
            if let Err(error) = outcome(&damaged, &sample.plain) {
                let variant = format!("{error:?}").split([' ', '(']).next().unwrap_or_default().to_string();
                *errors.entry(variant).or_default() += 1;
            }
        }
    }
    eprintln!("{}: {errors:?}", sample.name);
}

/// MB/s of output, ours against the tools' (`-dc` to /dev/null, process start included), on the
/// 20 largest modules. `cargo test --release --lib throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let Some(corpus) = corpus() else { return };
    let largest = &corpus[..20];
    let total: usize = largest.iter().map(|s| s.plain.len()).sum();
    let mut out = vec![0; largest.iter().map(|s| s.plain.len()).max().unwrap_or(0)];
    let mb_per_s = |seconds: f64| total as f64 / seconds / 1e6;
    for (format, tool) in [(Compression::Gzip, "gzip"), (Compression::Zstd, "zstd")] {
        let file = |s: &'static Sample| if format == Compression::Gzip { &s.gzip } else { &s.zstd };
        let started = Instant::now();
        for sample in largest {
            let out = &mut out[..sample.plain.len()];
            assert_eq!(decompress_into(file(sample), out), Ok(sample.plain.len()));
        }
        let ours = started.elapsed().as_secs_f64();
        let started = Instant::now();
        for sample in largest {
            let mut child =
                Command::new(tool).arg("-dc").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect(tool);
            std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), file(sample)).expect("writing");
            assert!(child.wait().expect("waiting").success());
        }
        let theirs = started.elapsed().as_secs_f64();
        eprintln!(
            "{tool}: modinit {:.0} MB/s, {tool} -dc {:.0} MB/s ({} MB)",
            mb_per_s(ours),
            mb_per_s(theirs),
            total / 1_000_000
        );
    }
}
