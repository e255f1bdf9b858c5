//! modinit's root-device parsers against util-linux on images made here by the real tools:
//! filesystem identities against `blkid -p` (its udev output, see [`blkid`]), partition tables against `partx`
//! (libblkid's partition prober) and `sfdisk --json`, and `root=` matching end to end.
//! A missing tool skips its cases with a note (the packages: e2fsprogs, xfsprogs,
//! btrfs-progs, dosfstools, squashfs-tools, erofs-utils, fdisk, gdisk).

use modinit::module_file::modinfo::Modinfo;
use modinit::root::{
    Candidate, DevNum, DiskGeometry, FsIdentity, FsType, Partition, PartitionTable, ReadAt, RootSpec, TableKind,
    identify,
};
use modinit_test_fixtures::unavailable;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An image file read as a block device.
struct Image(File);

impl ReadAt for Image {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        self.0.read_at(buf, offset).map_err(|e| e.raw_os_error().unwrap_or(5))
    }
}

fn open(path: &Path) -> Image {
    Image(File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Whether `tool` is on PATH (or in /sbin, /usr/sbin); [`unavailable`] when it is not.
fn have(tool: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default() + ":/sbin:/usr/sbin";
    let found = path.split(':').any(|dir| Path::new(dir).join(tool).is_file());
    if !found {
        unavailable(tool);
    }
    found
}

/// Runs `cmd` (with `stdin` fed to it), panicking with its stderr if it fails.
fn run(cmd: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new(cmd[0])
        .args(&cmd[1..])
        .env("PATH", std::env::var("PATH").unwrap_or_default() + ":/sbin:/usr/sbin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sparse file of `size` bytes.
fn sparse(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    File::create(&path).and_then(|f| f.set_len(size)).expect("create image");
    path
}

/// Runs the mkfs-like `args` (`IMG` standing for the image, `TREE` for a directory of files)
/// on `dir/name`, made first as a sparse file of `size` bytes unless `size` is 0 (the tool
/// makes it); returns the image's path.
fn make_image(dir: &Path, name: &str, size: u64, args: &[&str], tree: &str) -> PathBuf {
    let path = if size > 0 { sparse(dir, name, size) } else { dir.join(name) };
    let image = path.to_str().expect("path");
    let cmd: Vec<&str> = args
        .iter()
        .map(|&a| match a {
            "IMG" => image,
            "TREE" => tree,
            _ => a,
        })
        .collect();
    run(&cmd, b"");
    path
}

/// Undoes the `\xNN` escapes of `blkid -o udev` and `partx -P` (and `\c` for c), to bytes.
fn unescape(value: &str) -> Vec<u8> {
    let (mut out, b) = (Vec::new(), value.as_bytes());
    let mut i = 0;
    while i < b.len() {
        let hex = value.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'x')) if hex.is_some() => {
                out.extend(hex);
                i += 4;
            }
            (b'\\', Some(&c)) => {
                out.push(c);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `blkid -p` of PATH: its TYPE, UUID and LABEL (absent when blkid finds nothing). The
/// probe's values come through `-o udev`, whose `_ENC` forms escape bytes as `\xNN`
/// unambiguously (`-o export` prints a byte 0xff as `M-^?`, which a label could also hold).
fn blkid(path: &Path) -> HashMap<String, Vec<u8>> {
    let out = Command::new("blkid").args(["-p", "-o", "udev"]).arg(path).output().expect("blkid");
    let udev: HashMap<&str, &str> =
        std::str::from_utf8(&out.stdout).expect("ASCII").lines().filter_map(|l| l.split_once('=')).collect();
    [("TYPE", "ID_FS_TYPE"), ("UUID", "ID_FS_UUID_ENC"), ("LABEL", "ID_FS_LABEL_ENC")]
        .into_iter()
        .filter_map(|(name, key)| Some((name.to_string(), unescape(udev.get(key)?))))
        .collect()
}

/// What we and blkid say of `path`: (TYPE, UUID, LABEL), None for no filesystem we know.
fn compare_with_blkid(path: &Path, what: &str) -> Option<FsIdentity> {
    let theirs = blkid(path);
    let ours = identify(&mut open(path)).expect("read");
    let known = ["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "squashfs", "erofs"];
    let expected = theirs.get("TYPE").filter(|t| known.iter().any(|k| k.as_bytes() == t.as_slice())).map(|t| {
        let field = |k: &str| theirs.get(k).cloned().unwrap_or_default();
        (t.clone(), field("UUID"), field("LABEL"))
    });
    let got = ours
        .map(|id| (id.fstype.name().as_bytes().to_vec(), id.uuid.as_bytes().to_vec(), id.label.as_bytes().to_vec()));
    let show = |v: &Option<(Vec<u8>, Vec<u8>, Vec<u8>)>| {
        v.as_ref()
            .map(|(t, u, l)| (t.escape_ascii().to_string(), u.escape_ascii().to_string(), l.escape_ascii().to_string()))
    };
    assert_eq!(show(&got), show(&expected), "{what}: ours (left) and blkid's (right)");
    ours
}

const UUID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

#[test]
fn ext_filesystems_are_identified_as_blkid_does() {
    if !have("mkfs.ext4") || !have("blkid") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&str, &[&str])] = &[
        ("ext2", &["-t", "ext2", "-L", "two"]),
        ("ext3", &["-t", "ext3", "-L", "three words  "]),
        ("ext4", &["-t", "ext4", "-L", "sixteen-chars-lb"]),
        ("ext4 without metadata_csum", &["-t", "ext4", "-O", "^metadata_csum", "-L", "nocsum"]),
        ("ext4 without a journal", &["-t", "ext4", "-O", "^has_journal"]),
        ("ext3 without a journal (ext2)", &["-t", "ext3", "-O", "^has_journal"]),
        ("ext2 with extents (ext4)", &["-t", "ext2", "-O", "extent"]),
        ("ext4, 64bit and huge files", &["-t", "ext4", "-O", "64bit,huge_file", "-L", "x"]),
    ];
    for (i, (what, args)) in cases.iter().enumerate() {
        let path = sparse(dir.path(), &format!("ext{i}.img"), 16 << 20);
        let mut cmd = vec!["mkfs.ext4", "-q", "-F", "-U", UUID];
        cmd.extend_from_slice(args);
        cmd.push(path.to_str().expect("path"));
        run(&cmd, b"");
        let id = compare_with_blkid(&path, what).unwrap_or_else(|| panic!("{what}: not found"));
        assert_eq!(id.uuid.as_bytes(), UUID.as_bytes());
    }
    if have("tune2fs") {
        // A test filesystem is blkid's ext4dev, which modinit does not take.
        let path = sparse(dir.path(), "ext4dev.img", 16 << 20);
        run(&["mkfs.ext4", "-q", "-F", path.to_str().expect("path")], b"");
        run(&["tune2fs", "-E", "test_fs", path.to_str().expect("path")], b"");
        assert_eq!(blkid(&path).get("TYPE").map(Vec::as_slice), Some(&b"ext4dev"[..]));
        assert!(compare_with_blkid(&path, "ext4dev").is_none());
    }
}

#[test]
fn ext_kinds_follow_blkid_for_any_feature_bits() {
    if !have("mkfs.ext4") || !have("blkid") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sparse(dir.path(), "features.img", 4 << 20);
    run(&["mkfs.ext4", "-q", "-F", "-t", "ext2", "-L", "bits", path.to_str().expect("path")], b"");
    let file = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    // Every combination of the bits the three probes look at, and some beyond them;
    // without metadata_csum (0x400), whose checksum Debian 12's blkid does not check.
    let compats = [0, 0x4, 0x38, 0x4 | 0x38];
    let incompats = [0, 0x2, 0x4, 0x8, 0x10, 0x2 | 0x4, 0x2 | 0x10, 0x4 | 0x8, 0x40, 0x2 | 0x40 | 0x80 | 0x200];
    let ro_compats = [0, 0x1, 0x3, 0x7, 0x8, 0x1 | 0x40, 0x7 | 0x20];
    let mut seen = std::collections::BTreeSet::new();
    let mut combinations = Vec::new();
    for compat in compats {
        for incompat in incompats {
            for ro_compat in ro_compats {
                combinations.extend([0u32, 4].map(|flags| (compat, incompat, ro_compat, flags)));
            }
        }
    }
    for (compat, incompat, ro_compat, flags) in combinations {
        for (at, value) in [(0x5c, compat), (0x60, incompat), (0x64, ro_compat), (0x160, flags)] {
            file.write_at(&value.to_le_bytes(), 1024 + at).expect("write");
        }
        let what = format!("compat {compat:#x} incompat {incompat:#x} ro_compat {ro_compat:#x} flags {flags:#x}");
        seen.insert(compare_with_blkid(&path, &what).map(|id| id.fstype.name()));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [None, Some("ext2"), Some("ext3"), Some("ext4")],
        "every outcome came up"
    );
}

#[test]
fn xfs_btrfs_vfat_squashfs_and_erofs_are_identified_as_blkid_does() {
    if !have("blkid") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sbin")).expect("tree");
    std::fs::write(tree.join("sbin/init"), b"#!/bin/sh\n").expect("tree");
    let tree = tree.to_str().expect("path").to_string();
    // (tool, what, image size, the command with IMG for the image)
    let cases: &[(&str, &str, u64, &[&str])] = &[
        (
            "mkfs.xfs",
            "xfs v5",
            300 << 20,
            &["mkfs.xfs", "-q", "-f", "-L", "x root", "-m", "uuid=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "IMG"],
        ),
        ("mkfs.xfs", "xfs v5, 4 KiB sectors", 300 << 20, &["mkfs.xfs", "-q", "-f", "-s", "size=4096", "IMG"]),
        (
            "mkfs.xfs",
            "xfs v4, 4 KiB sectors",
            300 << 20,
            &["mkfs.xfs", "-q", "-f", "-m", "crc=0", "-s", "size=4096", "-L", "twelve-chars", "IMG"],
        ),
        ("mkfs.btrfs", "btrfs", 200 << 20, &["mkfs.btrfs", "-q", "-f", "-L", "a btrfs label", "-U", UUID, "IMG"]),
        ("mkfs.btrfs", "btrfs with xxhash", 200 << 20, &["mkfs.btrfs", "-q", "-f", "--csum", "xxhash", "IMG"]),
        ("mkfs.vfat", "FAT12", 4 << 20, &["mkfs.vfat", "-F", "12", "-n", "FAT LABEL", "-i", "1234abcd", "IMG"]),
        ("mkfs.vfat", "FAT16", 32 << 20, &["mkfs.vfat", "-F", "16", "-n", "BOOT", "-i", "00ff00ff", "IMG"]),
        ("mkfs.vfat", "FAT32", 64 << 20, &["mkfs.vfat", "-F", "32", "-n", "EFI", "-i", "deadbeef", "IMG"]),
        ("mkfs.vfat", "FAT32 without label, 4 KiB sectors", 64 << 20, &["mkfs.vfat", "-F", "32", "-S", "4096", "IMG"]),
        ("mkfs.vfat", "FAT16 with a zero serial", 32 << 20, &["mkfs.vfat", "-F", "16", "-i", "0", "IMG"]),
        ("mksquashfs", "squashfs", 0, &["mksquashfs", "TREE", "IMG", "-noappend", "-quiet"]),
        ("mkfs.erofs", "erofs", 0, &["mkfs.erofs", "--quiet", "-U", UUID, "IMG", "TREE"]),
        ("mkfs.erofs", "erofs without superblock checksum", 0, &["mkfs.erofs", "--quiet", "-Enosbcrc", "IMG", "TREE"]),
    ];
    for (i, (tool, what, size, args)) in cases.iter().enumerate() {
        if !have(tool) {
            continue;
        }
        let path = make_image(dir.path(), &format!("fs{i}.img"), *size, args, &tree);
        compare_with_blkid(&path, what).unwrap_or_else(|| panic!("{what}: not found"));
    }
    if have("mkfs.erofs") {
        // erofs-utils 1.5 cannot set a volume name: write one into an image without checksum.
        let path = dir.path().join("erofs-label.img");
        run(&["mkfs.erofs", "--quiet", "-Enosbcrc", path.to_str().expect("path"), &tree], b"");
        let mut image = std::fs::read(&path).expect("read");
        image[1024 + 64..1024 + 80].copy_from_slice(b"sixteen byte nam");
        std::fs::write(&path, &image).expect("write");
        let id = compare_with_blkid(&path, "erofs with a volume name").expect("erofs");
        assert_eq!(id.label.as_bytes(), b"sixteen byte nam");
    }
}

/// An image for [`changed_superblocks_are_judged_as_blkid_judges_them`]: the tool and
/// command that make it (a sparse file of `size` bytes first, unless 0), and the byte ranges
/// `[start, end)` to change.
struct Mutant {
    tool: &'static str,
    size: u64,
    args: &'static [&'static str],
    ranges: &'static [(u64, u64)],
}

/// Superblocks without checksums, changed a byte or two at a time in the fields the probes
/// read: blkid and we must agree on every one (whether it is still that filesystem, its
/// UUID, its label).
#[test]
fn changed_superblocks_are_judged_as_blkid_judges_them() {
    if !have("blkid") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    std::fs::write(tree.join("init"), b"#!/bin/sh\n").expect("tree");
    let tree = tree.to_str().expect("path");
    let cases: &[Mutant] = &[
        // Not s_log_block_size (0x18): since 2.39 blkid refuses 256 and more, as we do.
        Mutant {
            tool: "mkfs.ext4",
            size: 4 << 20,
            args: &["mkfs.ext4", "-q", "-F", "-t", "ext2", "-L", "mutant", "IMG"],
            ranges: &[(1024, 1024 + 0x18), (1024 + 0x1c, 1024 + 0x180)],
        },
        Mutant {
            tool: "mkfs.vfat",
            size: 4 << 20,
            args: &["mkfs.vfat", "-F", "12", "-n", "MUTANT", "IMG"],
            ranges: &[(0, 0x60), (0x1fe, 0x200)],
        },
        Mutant {
            tool: "mkfs.vfat",
            size: 32 << 20,
            args: &["mkfs.vfat", "-F", "16", "-n", "MUTANT16", "IMG"],
            ranges: &[(0, 0x40), (0x1fe, 0x200)],
        },
        Mutant {
            tool: "mkfs.vfat",
            size: 64 << 20,
            args: &["mkfs.vfat", "-F", "32", "-n", "MUTANT32", "IMG"],
            ranges: &[(0, 0x60), (0x1fe, 0x200), (512, 516)],
        },
        Mutant {
            tool: "mkfs.xfs",
            size: 300 << 20,
            args: &["mkfs.xfs", "-q", "-f", "-m", "crc=0", "-L", "mutant", "IMG"],
            ranges: &[(0, 228)],
        },
        Mutant {
            tool: "mksquashfs",
            size: 0,
            args: &["mksquashfs", "TREE", "IMG", "-noappend", "-quiet"],
            ranges: &[(0, 32)],
        },
        // Not feature_compat and blkszbits (8-12): Debian 12's blkid checks neither.
        Mutant {
            tool: "mkfs.erofs",
            size: 0,
            args: &["mkfs.erofs", "--quiet", "-Enosbcrc", "IMG", "TREE"],
            ranges: &[(1024, 1024 + 8), (1024 + 13, 1024 + 80)],
        },
    ];
    const CHANGES: usize = 300;
    let mut rng = modinit_test_fixtures::Random::new(0x9e37_79b9_7f4a_7c15);
    let mut random = move |n: u64| rng.below(n as usize) as u64;
    for (i, &Mutant { tool, size, args, ranges }) in cases.iter().enumerate() {
        if !have(tool) {
            continue;
        }
        let path = make_image(dir.path(), &format!("mutant{i}.img"), size, args, tree);
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).expect("open");
        let mut changed = 0;
        for _ in 0..CHANGES {
            let (start, end) = ranges[random(ranges.len() as u64) as usize];
            let at = start + random(end - start);
            // Two bytes, or one at a range's end.
            let width = if at + 2 <= end { 2 } else { 1 };
            let mut old = [0u8; 2];
            file.read_at(&mut old[..width], at).expect("read");
            let new: [u8; 2] = match random(4) {
                0 => [old[0] ^ (1 << random(8)), old[1]],
                1 => [0, 0],
                2 => [0xff, 0xff],
                _ => [random(256) as u8, old[1]],
            };
            file.write_at(&new[..width], at).expect("write");
            let what = format!("{tool}: {:02x?} at {at:#x} changed to {:02x?}", &old[..width], &new[..width]);
            let mut ro_compat = [0u8; 4];
            file.read_at(&mut ro_compat, 1024 + 0x64).expect("read");
            if tool == "mkfs.ext4" && u32::from_le_bytes(ro_compat) & 0x400 != 0 {
                // metadata_csum turned on, with no checksum: Debian 12's blkid does not check.
                assert_eq!(identify(&mut open(&path)), Ok(None), "{what}");
                file.write_at(&old[..width], at).expect("write");
                continue;
            }
            changed += usize::from(compare_with_blkid(&path, &what).is_none());
            file.write_at(&old[..width], at).expect("write");
        }
        eprintln!("{tool}: {CHANGES} changes, {changed} no longer a filesystem for both");
    }
}

#[test]
fn damaged_and_foreign_images_are_nothing_for_both() {
    if !have("blkid") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let zeros = sparse(dir.path(), "zeros.img", 2 << 20);
    assert!(compare_with_blkid(&zeros, "zeros").is_none());
    let mut noise = vec![0u8; 2 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(dir.path().join("noise.img"), &noise).expect("write");
    assert!(compare_with_blkid(&dir.path().join("noise.img"), "noise").is_none());
    if have("mkfs.ext4") {
        // A flipped bit in a checksummed superblock: refused, as by util-linux since 2.39
        // (Debian 12's 2.38 does not check ext4's checksum) and by the kernel's mount.
        let path = sparse(dir.path(), "bad.img", 16 << 20);
        run(&["mkfs.ext4", "-q", "-F", "-L", "bad", path.to_str().expect("path")], b"");
        let mut image = std::fs::read(&path).expect("read");
        assert!(identify(&mut image.as_slice()).expect("read").is_some());
        image[1024 + 0x78] ^= 1;
        assert_eq!(identify(&mut image.as_slice()), Ok(None));
    }
}

/// A partition as `partx -P` or `sfdisk -J` shows it.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    number: u32,
    start: u64,
    sectors: u64,
    uuid: String,
    name: String,
}

/// libblkid's partitions of `path` (512-byte sectors).
fn partx(path: &Path) -> Vec<Row> {
    let out = run(&["partx", "-P", "-o", "NR,START,SECTORS,UUID,NAME", path.to_str().expect("path")], b"");
    out.lines()
        .map(|line| {
            let mut fields = HashMap::new();
            for pair in line.split("\" ") {
                let (k, v) = pair.split_once("=\"").expect("KEY=\"VALUE\"");
                fields.insert(k, String::from_utf8(unescape(v.trim_end_matches('"'))).expect("UTF-8"));
            }
            Row {
                number: fields["NR"].parse().expect("NR"),
                start: fields["START"].parse().expect("START"),
                sectors: fields["SECTORS"].parse().expect("SECTORS"),
                uuid: fields["UUID"].clone(),
                name: fields.get("NAME").cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// Our partitions of `path`, in units of `unit` bytes.
fn ours(path: &Path, logical_block_size: u32, unit: u64) -> (Option<TableKind>, Vec<(Row, Partition)>) {
    let mut disk = open(path);
    let size = std::fs::metadata(path).expect("metadata").len();
    let geometry = DiskGeometry { logical_block_size, size };
    let Some(table) = PartitionTable::read(&mut disk, geometry).expect("read") else { return (None, Vec::new()) };
    let mut rows = Vec::new();
    table
        .for_each(&mut disk, |p| {
            let name = String::from_utf16(&p.name[..p.name_len]).expect("UTF-16");
            let row =
                Row { number: p.number, start: p.start / unit, sectors: p.size / unit, uuid: p.uuid.to_string(), name };
            rows.push((row, *p));
            ControlFlow::Continue(())
        })
        .expect("read");
    (Some(table.kind()), rows)
}

#[test]
fn gpt_partitions_are_the_kernels_and_libblkids() {
    if !have("sfdisk") || !have("partx") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sparse(dir.path(), "gpt.img", 64 << 20);
    let script = "label: gpt\nlabel-id: 11111111-2222-3333-4444-555555555555\n\
        start=2048, size=4096, type=U, uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE, name=\"EFI system\"\n\
        size=8192, type=L, name=\"ra\u{ed}z \u{3b1}\"\n\
        size=4096, type=L\n\
        size=4096, type=L, name=\"a name of thirty-six characters long\"\n";
    run(&["sfdisk", "-q", path.to_str().expect("path")], script.as_bytes());
    let (kind, rows) = ours(&path, 512, 512);
    assert_eq!(
        kind,
        Some(TableKind::Gpt { disk_guid: modinit::root::Text::from_bytes(b"11111111-2222-3333-4444-555555555555") })
    );
    assert_eq!(rows.iter().map(|(r, _)| r).collect::<Vec<_>>(), partx(&path).iter().collect::<Vec<_>>());
    assert_eq!(rows[1].1.kernel_name().as_bytes(), b"ramz 1", "the kernel keeps each unit's low 7 bits");
}

#[test]
fn gpt_made_by_sgdisk_and_damaged_gpts() {
    if !have("sgdisk") || !have("partx") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sparse(dir.path(), "sg.img", 32 << 20);
    let p = path.to_str().expect("path");
    run(
        &[
            "sgdisk",
            "-n",
            "1:2048:+1M",
            "-c",
            "1:boot",
            "-u",
            "1:01234567-89AB-CDEF-0123-456789ABCDEF",
            "-n",
            "3:0:+2M",
            "-c",
            "3:root",
            "-t",
            "3:8304",
            p,
        ],
        b"",
    );
    let (_, rows) = ours(&path, 512, 512);
    assert_eq!(rows.iter().map(|(r, _)| r).collect::<Vec<_>>(), partx(&path).iter().collect::<Vec<_>>());
    assert_eq!(rows.iter().map(|(r, _)| r.number).collect::<Vec<_>>(), [1, 3], "an empty entry keeps its number");
    // A hybrid MBR (GPT partition 1 also in the MBR): still the GPT, for the kernel and libblkid.
    run(&["sgdisk", "-h", "1", p], b"");
    let mbr = std::fs::read(&path).expect("read");
    let types: Vec<u8> = (0..4).map(|slot| mbr[0x1be + 16 * slot + 4]).collect();
    assert!(types.contains(&0xee) && types.iter().any(|&t| t != 0 && t != 0xee), "a hybrid MBR: {types:02x?}");
    let (kind, hybrid) = ours(&path, 512, 512);
    assert!(matches!(kind, Some(TableKind::Gpt { .. })));
    assert_eq!(hybrid.iter().map(|(r, _)| r).collect::<Vec<_>>(), partx(&path).iter().collect::<Vec<_>>());

    // A damaged primary header: the kernel (without `gpt`) and we see no partitions, and
    // the protective MBR keeps the MBR parser away too.
    let mut image = std::fs::read(&path).expect("read");
    image[512 + 40] ^= 1;
    std::fs::write(&path, &image).expect("write");
    assert_eq!(ours(&path, 512, 512).0, None);
}

/// Our MBR partitions are libblkid's, but for the extended partition, whose kernel device is
/// a stub of 2 sectors with no PARTUUID.
fn assert_same_mbr(rows: &[(Row, Partition)], theirs: &[Row]) {
    assert_eq!(rows.len(), theirs.len(), "{rows:?} {theirs:?}");
    for ((row, p), their) in rows.iter().zip(theirs) {
        if p.extended {
            assert_eq!((row.number, row.start, row.sectors, row.uuid.as_str()), (their.number, their.start, 2, ""));
        } else {
            assert_eq!(row, their);
        }
    }
}

#[test]
fn mbr_partitions_are_numbered_as_the_kernel_numbers_them() {
    if !have("sfdisk") || !have("partx") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sparse(dir.path(), "mbr.img", 64 << 20);
    let script = "label: dos\nlabel-id: 0x0badcafe\n,4M,L\n,,E\n,4M,L\n,4M,L\n,4M,L\n,,L\n";
    run(&["sfdisk", "-q", path.to_str().expect("path")], script.as_bytes());
    let mut image = std::fs::read(&path).expect("read");
    // The DOS, Windows and Linux extended types (sfdisk wrote 0x05).
    for extended_type in [0x05, 0x0f, 0x85] {
        image[0x1be + 16 + 4] = extended_type;
        std::fs::write(&path, &image).expect("write");
        let (kind, rows) = ours(&path, 512, 512);
        assert_eq!(kind, Some(TableKind::Mbr { signature: 0x0bad_cafe }));
        assert_same_mbr(&rows, &partx(&path));
    }
    let rows = ours(&path, 512, 512).1;
    assert_eq!(rows.iter().map(|(r, _)| r.number).collect::<Vec<_>>(), [1, 2, 5, 6, 7, 8]);
    // Without its extended partition, a sector of logical ones is not read.
    image[0x1be + 16 + 4] = 0x83;
    std::fs::write(&path, &image).expect("write");
    assert_eq!(ours(&path, 512, 512).1.iter().map(|(r, _)| r.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(rows[2].0.uuid, "0badcafe-05");
}

#[test]
fn root_specs_find_the_partition_and_filesystem_blkid_names() {
    if !have("sfdisk") || !have("mkfs.ext4") || !have("blkid") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let disk_path = sparse(dir.path(), "disk.img", 64 << 20);
    let script =
        "label: gpt\nsize=8192, type=U, name=\"esp\"\nsize=32768, type=L, name=\"system\"\nsize=8192, type=L\n";
    run(&["sfdisk", "-q", disk_path.to_str().expect("path")], script.as_bytes());
    // The root filesystem, as a separate image: what the kernel's sda2 would hold.
    let fs_path = sparse(dir.path(), "root.img", 16 << 20);
    run(&["mkfs.ext4", "-q", "-F", "-L", "rootfs", fs_path.to_str().expect("path")], b"");
    let fs = identify(&mut open(&fs_path)).expect("read").expect("ext4");
    let fs_blkid = blkid(&fs_path);

    let mut disk = open(&disk_path);
    let size = std::fs::metadata(&disk_path).expect("metadata").len();
    let table = PartitionTable::read(&mut disk, DiskGeometry::from_sysfs(size / 512, 512)).expect("read").expect("GPT");
    let parts = partx(&disk_path);
    let root_uuid = parts[1].uuid.clone();
    let esp_uuid = parts[0].uuid.clone();

    // The devices the kernel would make: sda and sda1-3; sda2 holds the filesystem.
    let mut matches_only = |spec: &RootSpec, expected: &str| {
        let mut found = Vec::new();
        for number in [None, Some(1), Some(2), Some(3)] {
            let name = number.map_or("sda".to_string(), |n| format!("sda{n}"));
            let wanted = number.and_then(|n| spec.entry_to_check(n));
            let entry = wanted.and_then(|n| table.partition(&mut disk, n).expect("read"));
            let candidate = Candidate {
                name: name.as_bytes(),
                dev: DevNum { major: 8, minor: number.unwrap_or(0) },
                fs: (number == Some(2)).then_some(&fs),
                partition: number,
                entry: entry.as_ref(),
            };
            if spec.matches(&candidate) {
                found.push(name);
            }
        }
        assert_eq!(found, [expected], "{spec:?}");
    };
    let uuid_upper = String::from_utf8(fs_blkid["UUID"].clone()).expect("UUID").to_uppercase();
    for (value, device) in [
        (format!("PARTUUID={root_uuid}"), "sda2"),
        (format!("PARTUUID={}", root_uuid.to_uppercase()), "sda2"),
        (format!("PARTUUID={esp_uuid}/PARTNROFF=1"), "sda2"),
        (format!("PARTUUID={esp_uuid}/PARTNROFF=2"), "sda3"),
        (format!("PARTUUID={root_uuid}/PARTNROFF=-1"), "sda1"),
        ("PARTLABEL=system".to_string(), "sda2"),
        (format!("UUID={}", String::from_utf8_lossy(&fs_blkid["UUID"])), "sda2"),
        (format!("UUID={uuid_upper}"), "sda2"),
        ("LABEL=rootfs".to_string(), "sda2"),
        ("/dev/sda2".to_string(), "sda2"),
        ("8:2".to_string(), "sda2"),
        ("0x802".to_string(), "sda2"),
        ("803".to_string(), "sda3"),
    ] {
        matches_only(&RootSpec::parse(value.as_bytes()).unwrap_or_else(|e| panic!("{value}: {e}")), device);
    }
}

/// Each filesystem's `fs-TYPE` alias is carried by a module of the real Debian tree (ext2
/// and ext3 by ext4.ko), so the boot can load the driver through the index.
#[test]
fn every_filesystem_alias_names_a_module_of_the_debian_tree() {
    let Some(tree) = modinit_tests::real_module_tree() else { return };
    let mut aliases = std::collections::BTreeSet::new();
    let mut dirs = vec![tree.join("kernel/fs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ko") {
                let image = std::fs::read(&path).expect("read");
                let modinfo = Modinfo::from_elf(&image).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                aliases.extend(modinfo.values(b"alias").map(<[u8]>::to_vec));
            }
        }
    }
    assert!(aliases.len() > 20, "the tree's filesystem modules have aliases: {}", aliases.len());
    for fstype in FsType::ALL {
        let alias = fstype.module_alias();
        assert!(aliases.contains(alias.as_bytes()), "no module has alias {}", alias.as_bytes().escape_ascii());
    }
}

/// An image for [`a_changed_byte_under_a_superblock_checksum_is_refused`]: its tool and
/// command, the byte range `[start, end)` its superblock checksum covers, and the checksum
/// field (left alone).
struct Checksummed {
    tool: &'static str,
    size: u64,
    args: &'static [&'static str],
    region: (usize, usize),
    field: (usize, usize),
}

/// A checksummed superblock with any one byte of its checksummed region changed is no
/// filesystem (as for newer blkid and for the kernel's mount); unchanged, it is one.
#[test]
fn a_changed_byte_under_a_superblock_checksum_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    std::fs::write(tree.join("init"), b"#!/bin/sh\n").expect("tree");
    let tree = tree.to_str().expect("path");
    let cases = [
        Checksummed {
            tool: "mkfs.ext4",
            size: 16 << 20,
            args: &["mkfs.ext4", "-q", "-F", "IMG"],
            region: (1024, 2044),
            field: (2044, 2048),
        },
        Checksummed {
            tool: "mkfs.btrfs",
            size: 200 << 20,
            args: &["mkfs.btrfs", "-q", "-f", "IMG"],
            region: (65536 + 32, 65536 + 4096),
            field: (65536, 65536 + 4),
        },
        Checksummed {
            tool: "mkfs.xfs",
            size: 300 << 20,
            args: &["mkfs.xfs", "-q", "-f", "IMG"],
            region: (0, 512),
            field: (224, 228),
        },
        Checksummed {
            tool: "mkfs.erofs",
            size: 0,
            args: &["mkfs.erofs", "--quiet", "IMG", "TREE"],
            region: (1024, 4096),
            field: (1028, 1032),
        },
    ];
    for (i, Checksummed { tool, size, args, region: (start, end), field: (field_start, field_end) }) in
        cases.into_iter().enumerate()
    {
        if !have(tool) {
            continue;
        }
        let path = make_image(dir.path(), &format!("csum{i}.img"), size, args, tree);
        // The first 2 MiB hold every superblock (and btrfs's 1 MiB minimum).
        let mut bytes = Vec::new();
        File::open(&path).and_then(|f| f.take(2 << 20).read_to_end(&mut bytes)).expect("read");
        assert!(identify(&mut bytes.as_slice()).expect("read").is_some(), "{tool}: the image itself");
        for at in (start..end).step_by(7).filter(|at| !(field_start..field_end).contains(at)) {
            bytes[at] ^= 0x20;
            assert_eq!(identify(&mut bytes.as_slice()), Ok(None), "{tool}: byte {at:#x} changed");
            bytes[at] ^= 0x20;
        }
    }
}
