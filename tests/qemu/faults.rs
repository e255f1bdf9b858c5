//! Fault injection on the real kernel: broken module files, a broken index, odd mounts and
//! consoles, bad `init=`, a flood of devices. Whatever goes wrong, PID 1 must not die: each
//! boot asserts that the kernel did not panic, that modinit said what went wrong in a
//! `modinit:` line naming it, and that the real init still ran. Independent faults share a
//! boot (TCG is slow); images carry only the modules a scenario needs.
//!
//! docs/reliability.md lists every fault and what modinit does; `the_reliability_doc_lists_
//! every_scenario` keeps the two in step.

use modinit_tests::{assert_exec_line, boot, expect_clean};
use xtask::image_edit::{self, change_file, keep_modules, module_file, module_image, put_module, reindex, remove_module, stored_as};
use xtask::initramfs::ModuleCompression;
use xtask::scenario::{Report, Scenario};

/// The `lib/modules` tree reduced to `modules` and what they depend on, stored as zstd.
fn small_image(name: &str, modules: &[&str]) -> Scenario {
    let mut s = Scenario::with_modules(name, Some(ModuleCompression::Zst)).unwrap();
    keep_modules(&mut s.image, modules).unwrap();
    s
}

/// The boot ended well: no panic, and the real init ran as PID 1 after modinit's exec line.
fn expect_real_init(r: &Report, init: &str) {
    expect_clean(r);
    assert_exec_line(r, init);
    assert_eq!(r.guest("pid"), Some("1"), "the real init runs as PID 1; see {}", r.outcome.log.display());
    assert_eq!(r.guest("done"), Some("yes"), "the real init finished its report");
}

/// The modinit line that starts with `start`.
fn line<'r>(r: &'r Report, start: &str) -> &'r str {
    let lines = r.modinit_lines();
    lines.iter().find(|l| l.starts_with(start)).copied().unwrap_or_else(|| panic!("no line `{start}...` in {lines:#?}"))
}

/// `modinit: cannot load NAME (PATH): WHY` for each (NAME, end of WHY).
fn expect_load_failures(r: &Report, failures: &[(&str, &str)]) {
    for (name, why) in failures {
        let l = line(r, &format!("cannot load {name} ("));
        assert!(l.contains(why), "{name}: expected `{why}` in `{l}`");
    }
}

fn modules(r: &Report) -> Vec<&str> {
    r.guest("modules").unwrap_or_default().split_whitespace().collect()
}

/// Each module file is broken in its own way; each failure is one line naming the module,
/// its file and the cause, and the module after them all still loads.
#[test]
#[ignore = "boots QEMU: run by cargo xtask test"]
fn broken_module_files_are_each_reported_and_the_rest_loads() {
    let mut s = small_image("faults-module-files", &["dummy", "loop", "tun", "veth", "ifb", "nlmon", "minix", "vfat", "tunnel4"]);
    let a = &mut s.image;
    // Not ELF, but a valid zstd file: the kernel sees the bytes and refuses them.
    put_module(a, "loop", ModuleCompression::Zst, stored_as(b"this is not an ELF file\n".repeat(64), ModuleCompression::Zst).unwrap()).unwrap();
    change_file(a, &module_file(a, "tun").unwrap(), |f| f.truncate(f.len() / 2)).unwrap();
    let mut bad_crc = stored_as(module_image(a, "veth").unwrap(), ModuleCompression::Gz).unwrap();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    put_module(a, "veth", ModuleCompression::Gz, bad_crc).unwrap();
    // ISIZE claims 300 MiB: more than modinit decompresses a module to.
    let mut big = stored_as(module_image(a, "ifb").unwrap(), ModuleCompression::Gz).unwrap();
    let isize_at = big.len() - 4;
    big[isize_at..].copy_from_slice(&(300u32 << 20).to_le_bytes());
    put_module(a, "ifb", ModuleCompression::Gz, big).unwrap();
    // A 128 MiB window (zstd --long=27): decoding could need more than the arena holds.
    let nlmon = module_file(a, "nlmon").unwrap();
    change_file(a, &nlmon, |f| *f = image_edit::zstd_declaring_window(f, 27).unwrap()).unwrap();
    // The index is built without fat, so it does not know vfat needs it: the kernel finds
    // fat's symbols missing.
    remove_module(a, "fat").unwrap();
    reindex(a).unwrap();
    // And minix is in the index but its file is gone.
    remove_module(a, "minix").unwrap();
    s.append = "modules_load=dummy,loop,tun,veth,ifb,nlmon,minix,vfat,tunnel4 dummy.numdummies=lots".into();
    let r = boot(&s);
    expect_real_init(&r, "/sbin/init");
    expect_load_failures(
        &r,
        &[
            ("dummy", "Invalid parameters (EINVAL)"),
            ("loop", "Invalid module format (ENOEXEC)"),
            ("tun", "zstd file is truncated"),
            ("veth", "gzip CRC-32 mismatch (corrupt file)"),
            ("ifb", "decompresses to 314572800 bytes, more than the limit of 268435456"),
            ("nlmon", "more than the 67108864 available"),
            ("minix", "ENOENT (No such file or directory)"),
            ("vfat", ": unknown symbol fat_"),
        ],
    );
    assert!(line(&r, "done: ").starts_with("done: loaded=1 builtin=0 skipped=0 failed=8 "));
    assert_eq!(modules(&r), ["tunnel4"]);
}
