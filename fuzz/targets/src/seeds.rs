//! Seed inputs for every target: the repository's kmsg capture, hand-written cases that reach
//! each branch, and real data when it is here — the smallest modules of the Debian tree (plain,
//! gzip, zstd, signed; their aliases; an index built from them) and, when [`Sources::thorough`],
//! this machine's modprobe.d and modules-load.d files, /proc/cmdline, /sys uevents, and the
//! tree's builtin module lists.

use modinit::config::ConfigFile;
use modinit::decompress::Compression;
use modinit::index::builder::{ModuleFacts, TreeFiles, build};
use modinit::index::writer::{IndexContents, ModprobeConfig, ModuleEntry, write};
use modinit::module_file::modinfo::Modinfo;
use modinit_test_fixtures::{Random, module_tree};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where real seed data comes from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// A `lib/modules/VERSION` directory, if there is one.
    pub module_tree: Option<PathBuf>,
    /// How many of its modules (the smallest files) to take.
    pub modules: usize,
    /// Also the large and machine-dependent data: the builtin module lists, this machine's
    /// configuration files, /proc/cmdline and /sys uevents.
    pub thorough: bool,
}

impl Sources {
    /// The tree [`module_tree`] finds, `modules` of its modules.
    pub fn new(modules: usize, thorough: bool) -> Sources {
        Sources { module_tree: module_tree(), modules, thorough }
    }
}

/// The seeds of the target named `target` (none for an unknown name).
pub fn seeds(target: &str, sources: &Sources) -> Vec<Vec<u8>> {
    let modules = || real_modules(sources);
    match target {
        "kmsg" => kmsg(),
        "index" => index(sources, &modules()),
        "index_written" => index_written(),
        "index_built" => index_built(sources),
        "kmod_files" => kmod_files(sources),
        "fnmatch" => fnmatch(sources, &modules()),
        "config" => config(sources),
        "cmdline" => cmdline(sources),
        "uevent" => uevent(sources),
        "decompress" => decompress(&modules()),
        "elf" => elf(&modules()),
        "root_fs" => root_fs(),
        "root_partition" => root_partition(),
        _ => Vec::new(),
    }
}

/// A module of the tree: its path under the tree and its ELF image.
struct RealModule {
    path: Vec<u8>,
    image: Vec<u8>,
}

/// The `sources.modules` smallest module files of the tree, decompressed.
fn real_modules(sources: &Sources) -> Vec<RealModule> {
    let Some(tree) = &sources.module_tree else { return Vec::new() };
    let mut files = Vec::new();
    let mut pending = vec![tree.join("kernel")];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let (path, meta) = (entry.path(), entry.metadata());
            match meta {
                Ok(m) if m.is_dir() => pending.push(path),
                Ok(m) if Compression::of_file_name(entry.file_name().as_encoded_bytes()).is_some() => {
                    files.push((m.len(), path));
                }
                _ => {}
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .take(sources.modules)
        .filter_map(|(_, path)| {
            let file = fs::read(&path).ok()?;
            let image = match Compression::detect(&file) {
                Compression::Gzip => read_all(flate2::read::GzDecoder::new(&file[..]))?,
                Compression::Zstd => zstd::decode_all(&file[..]).ok()?,
                _ => file,
            };
            let rel = path.strip_prefix(tree).ok()?.as_os_str().as_encoded_bytes().to_vec();
            Some(RealModule { path: rel, image })
        })
        .collect()
}

fn read_all(mut reader: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}

/// The files of `dir` (not recursing), sorted, when it exists.
fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    paths.sort();
    paths.iter().filter_map(|p| fs::read(p).ok()).collect()
}

const KMSG_CAPTURE: &str = include_str!("../../../tests/fixtures/kmsg/debian-6.1-qemu.kmsg");

/// The capture's records, a dozen per seed with a lost-records marker now and then, under
/// different levels; and records the capture lacks (user space, escapes, odd fields).
fn kmsg() -> Vec<Vec<u8>> {
    let mut records: Vec<String> = Vec::new();
    for line in KMSG_CAPTURE.lines() {
        match records.last_mut() {
            Some(r) if line.starts_with(' ') => r.push_str(&format!("{line}\n")),
            _ => records.push(format!("{line}\n")),
        }
    }
    let mut seeds = Vec::new();
    for (i, chunk) in records.chunks(12).enumerate() {
        let mut seed = vec![[3, 6, 7, 8][i % 4], [1, 4, 7, 0][(i / 4) % 4]];
        for (j, record) in chunk.iter().enumerate() {
            if j == 6 && i % 3 == 0 {
                seed.push(0);
            }
            seed.extend_from_slice(record.as_bytes());
            seed.push(0);
        }
        seeds.push(seed);
    }
    seeds.push(
        b"\x07\x00\
          3,1,100,-;plain\0\
          12,2,200,c,caller=T1;user \\x5c \\xc3\\xa9 \\x1b[2J \\xe2\\x82\0\
          0,3,300,-;emerg\\x0asecond line\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n\0\0\
          6,9,400,-,more=1,x;text; with; semicolons\n no-equals\n K=V=W\n\0\
          99999,10,18446744073709551615,-;huge\0\
          6,8,1,-;old\0"
            .to_vec(),
    );
    seeds
}

/// Hand-written modprobe.d text: every directive, continued lines, comments, bad lines.
const MODPROBE_D: &[u8] = b"# comment\n\
alias eth* e1000\n\
alias pci:v00008086d*sv*sd*bc02sc00i* e1000e\n\
alias usb:v[0-9]*-x snd-usb-audio\n\
options snd-hda-intel model=auto\tenable=1 \"x=a b\"\n\
options ahci  mobile_lpm_policy=1\n\
blacklist pcspkr\n\
install floppy /bin/true\n\
remove floppy /bin/false \\\n  --continued\n\
softdep ahci pre: libahci crc32c post: sd_mod\n\
softdep m  pre: a\n\
softdep x post: y pre: z\n\
weakdep e1000e ptp pps_core\n\
weakdep lonely  \n\
include /etc/other.conf\n\
   # indented comment is a bad line\n\
alias bad[ x\n\
options onlyname\n\
unknown command\n\
alias back\\\\slash m\n";

/// Hand-written modules-load.d text.
const MODULES_LOAD_D: &[u8] = b"# comment\n; comment\nloop\n  dm-mod \t\r\nvirtio_net\r\n\n\0nul\nlast";

/// Seeds from the repository alone: the writer's own kind of index. With a tree: an index
/// built from its smallest modules (and, thorough, its builtin lists) and the config above.
fn index(sources: &Sources, modules: &[RealModule]) -> Vec<Vec<u8>> {
    let module = |stem: &str, dir: Option<&str>, compression, deps: Vec<u16>| ModuleEntry {
        stem: stem.as_bytes().to_vec(),
        dir: dir.map(|d| d.as_bytes().to_vec()),
        compression,
        builtin: dir.is_none(),
        deps,
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let sample = IndexContents {
        kernel_release: b"6.1.0-test".to_vec(),
        modules: vec![
            module("libata", Some("kernel/drivers/ata"), Compression::Zstd, vec![]),
            module("ahci", Some("kernel/drivers/ata"), Compression::Gzip, vec![2, 0]),
            module("libahci", Some("kernel/drivers/ata"), Compression::None, vec![0]),
            module("snd-hda-intel", Some("kernel/sound/pci/hda"), Compression::Xz, vec![]),
            module("top-level", Some(""), Compression::None, vec![]),
            module("crc32c_generic", None, Compression::None, vec![]),
        ],
        module_aliases: vec![
            (b"pci:v*d*sv*sd*bc01sc06i01*".to_vec(), 1),
            (b"pci:v00008086d*".to_vec(), 3),
            (b"pci:v00008086d00002922sv*".to_vec(), 1),
            (b"usb:v[0-9]*".to_vec(), 2),
        ],
        builtin_aliases: vec![(b"crypto-crc32c".to_vec(), 5), (b"crc32c".to_vec(), 5)],
        config: ModprobeConfig {
            aliases: vec![(b"eth*".to_vec(), b"e1000".to_vec()), (b"x".to_vec(), b"missing".to_vec())],
            options: vec![(b"ahci".to_vec(), b"mobile_lpm_policy=1".to_vec())],
            blacklist: strings(&["pcspkr"]),
            softdeps: vec![(b"ahci".to_vec(), b"crc32c missing".to_vec(), b"libata".to_vec())],
            weakdeps: vec![(b"ahci".to_vec(), b"libahci missing".to_vec()), (b"lib*".to_vec(), b"".to_vec())],
        },
        modules_load: strings(&["loop", "ahci"]),
    };
    let mut seeds: Vec<Vec<u8>> = write(&sample).into_iter().collect();
    let Some(tree) = sources.module_tree.as_deref().filter(|_| !modules.is_empty()) else { return seeds };
    let facts: Vec<ModuleFacts> =
        modules.iter().map(|m| ModuleFacts::from_image(&m.path, &m.image, false).unwrap_or_default()).collect();
    let optional = |name: &str| fs::read(tree.join(name)).ok();
    let config = |dir: &str, text: &[u8]| ConfigFile { dir: dir.into(), name: "seed.conf".into(), text: text.to_vec() };
    let mut files = TreeFiles {
        kernel_release: tree.file_name().map(|n| n.as_encoded_bytes().to_vec()).unwrap_or_default(),
        modules_order: optional("modules.order"),
        modprobe_d: vec![config("etc/modprobe.d", MODPROBE_D)],
        modules_load_d: vec![config("etc/modules-load.d", MODULES_LOAD_D)],
        ..TreeFiles::default()
    };
    seeds.extend(write(&build(&facts, &files, &mut |_| {})));
    if sources.thorough {
        files.modules_builtin = optional("modules.builtin");
        files.modules_builtin_modinfo = optional("modules.builtin.modinfo");
        seeds.extend(write(&build(&facts, &files, &mut |_| {})));
    }
    seeds
}

/// Choice bytes: any bytes are an index's contents to this target.
fn index_written() -> Vec<Vec<u8>> {
    let mut random = Random::new(0x1de7);
    (0..16).map(|i| random.bytes(32 + i * 40)).collect()
}

/// kmod's own output: hand-written files in its format, and the start of what kmod's depmod
/// writes for the tree (`depmod -n`: modules.dep, then modules.alias), with the tree's builtin
/// lists.
fn kmod_files(sources: &Sources) -> Vec<Vec<u8>> {
    let sep = [crate::kmod_files::SEPARATOR];
    let parts: [&[u8]; 4] = [
        b"kernel/a/ahci.ko.xz: kernel/a/libahci.ko.xz kernel/a/libata.ko.xz\nkernel/a/libahci.ko.xz: kernel/a/libata.ko.xz\n\
          kernel/a/libata.ko.xz:\nkernel/a/ahci.ko.xz:\n/abs/x.ko:\n../up.ko:\nno-colon\n",
        b"# Aliases extracted from modules themselves.\nalias pci:v*d*sv*sd*bc01sc06i01* ahci\nalias x[ libata\nalias y nobody\n",
        b"kernel/crypto/crc32c_generic.ko\nkernel/lib/\n",
        b"crc32c_generic.alias=crypto-crc32c\0libata.alias=z\0",
    ];
    let mut seeds = vec![parts.join(&sep[..])];
    if let Some(tree) = &sources.module_tree
        && let Some(output) = kmod_depmod_output(tree)
    {
        let text = String::from_utf8_lossy(&output);
        let (dep, rest) = text.split_once("# Aliases extracted from modules themselves.\n").unwrap_or_default();
        let alias = rest.split("\n# ").next().unwrap_or_default();
        let head = |text: &str, count: usize| text.lines().take(count).collect::<Vec<_>>().join("\n").into_bytes();
        let (builtin, modinfo) =
            (fs::read(tree.join("modules.builtin")), fs::read(tree.join("modules.builtin.modinfo")));
        let (builtin, modinfo) = (builtin.unwrap_or_default(), modinfo.unwrap_or_default());
        let modinfo: Vec<&[u8]> = modinfo.split(|&b| b == 0).take(200).collect();
        for count in [40, 400] {
            let parts = [
                head(dep, count),
                head(alias, 4 * count),
                builtin[..builtin.len().min(4000)].to_vec(),
                modinfo.join(&0),
            ];
            seeds.push(parts.join(&sep[..]));
        }
    }
    seeds
}

/// What kmod's depmod writes for `tree` with `-n` (its files on stdout), through a root that
/// links to the tree; None without kmod's depmod.
fn kmod_depmod_output(tree: &Path) -> Option<Vec<u8>> {
    let version = tree.file_name()?;
    let root = std::env::temp_dir().join(format!("modinit-seed-kmod-{}", std::process::id()));
    let modules = root.join("lib/modules");
    fs::create_dir_all(&modules).ok()?;
    let _ = std::os::unix::fs::symlink(tree, modules.join(version));
    let output = std::process::Command::new("depmod").arg("-n").arg("-b").arg(&root).arg(version).output();
    let _ = fs::remove_dir_all(&root);
    output.ok().filter(|o| o.status.success()).map(|o| o.stdout)
}

/// Choice bytes for the module files, then the tree's own lists (their first lines) and the
/// config above, or hand-written lists.
fn index_built(sources: &Sources) -> Vec<Vec<u8>> {
    let sep = [crate::index_built::SEPARATOR];
    let mut random = Random::new(0xb111);
    let lists: [&[u8]; 3] = [
        b"kernel/k/a.ko\nkernel/d/kd.ko\n\nkernel/k/k.ko\n",
        b"kernel/k/builtin.ko\nkernel/d/_x.ko\n#x\n",
        b"builtin.alias=pci:v0*\0builtin.license=GPL\0k.alias=usb:*\0noalias\0.alias=x\0",
    ];
    let choices = random.bytes(64);
    let parts: [&[u8]; 6] = [&choices, lists[0], lists[1], lists[2], MODPROBE_D, MODULES_LOAD_D];
    let mut seeds = vec![parts.join(&sep[..])];
    if let Some(tree) = &sources.module_tree {
        let head = |name: &str, separator: u8, count: usize| -> Vec<u8> {
            let text = fs::read(tree.join(name)).unwrap_or_default();
            let pieces: Vec<&[u8]> = text.split(|&b| b == separator).take(count).collect();
            pieces.join(&separator)
        };
        let order = head("modules.order", b'\n', 60);
        let builtin = head("modules.builtin", b'\n', 60);
        let modinfo = head("modules.builtin.modinfo", 0, 200);
        for size in [16, 256] {
            let choices = random.bytes(size);
            let parts: [&[u8]; 5] = [&choices, &order, &builtin, &modinfo, MODPROBE_D];
            seeds.push(parts.join(&sep[..]));
        }
    }
    seeds
}

/// `pattern\0string` pairs: hand-written ones that reach glibc's quirks, and real alias
/// patterns (of the modules and the builtins) each with a string made to match it.
fn fnmatch(sources: &Sources, modules: &[RealModule]) -> Vec<Vec<u8>> {
    let pairs: &[(&[u8], &[u8])] = &[
        (b"pci:v00008086d*sv*sd*bc03sc*i*", b"pci:v00008086d00001234sv00001AF4sd00001100bc03sc00i00"),
        (b"usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*", b"usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip01in00"),
        (b"a[!b-d]?[[:alpha:]][^x]*", b"aex1y"),
        (b"[]a]\\*[[.-.]-]x", b"]*-x"),
        (b"[xa-[:b:]]", b"x"),
        (b"[[=a=]b][[:foo:]]", b"ab"),
        (b"*?*?*?*a", b"aaaaaaaa"),
        (b"\\", b"\\"),
        (b"[", b"["),
        (b"of:N*T*Cqcom,sdm845*", b"of:NsocTCqcom,sdm845-gcc"),
    ];
    let mut seeds: Vec<Vec<u8>> = pairs.iter().map(|(p, s)| [*p, b"\0", *s].concat()).collect();
    let mut patterns: Vec<Vec<u8>> = Vec::new();
    for m in modules {
        if let Ok(info) = Modinfo::from_elf(&m.image) {
            patterns.extend(info.values(b"alias").map(<[u8]>::to_vec));
        }
    }
    if let Some(builtin) = sources.module_tree.as_ref().and_then(|t| fs::read(t.join("modules.builtin.modinfo")).ok()) {
        for entry in builtin.split(|&b| b == 0) {
            if let Some(at) = entry.windows(7).position(|w| w == b".alias=") {
                patterns.push(entry[at + 7..].to_vec());
            }
        }
    }
    patterns.truncate(256);
    seeds.extend(patterns.iter().map(|p| [&p[..], b"\0", &instance_of(p)].concat()));
    seeds
}

/// A string `pattern` matches, mostly: `*` empty, `?` a digit, a bracket its first member.
fn instance_of(pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = pattern.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'*' => {}
            b'?' => out.push(b'0'),
            b'[' => {
                bytes.next_if(|&c| c == b'!' || c == b'^');
                out.extend(bytes.next());
                for c in bytes.by_ref() {
                    if c == b']' {
                        break;
                    }
                }
            }
            _ => out.push(b),
        }
    }
    out
}

fn config(sources: &Sources) -> Vec<Vec<u8>> {
    let mut seeds = vec![MODPROBE_D.to_vec(), MODULES_LOAD_D.to_vec()];
    if sources.thorough {
        for dir in ["/etc/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d"] {
            seeds.extend(files_in(Path::new(dir)));
        }
        for dir in ["/etc/modules-load.d", "/usr/lib/modules-load.d"] {
            seeds.extend(files_in(Path::new(dir)));
        }
    }
    seeds
}

fn cmdline(sources: &Sources) -> Vec<Vec<u8>> {
    let lines: &[&[u8]] = &[
        b"BOOT_IMAGE=/vmlinuz-6.1.0 root=/dev/vda ro quiet e1000.debug=5 snd-hda-intel.model=auto\n",
        b"modprobe.blacklist=pcspkr,floppy,, modules_load=loop,dm-mod rd.modules_load=virtio_net",
        b"parport.dyndbg=\"file a.c +p\" \"usbcore.quirks=0781:5580:x a\" m\"x.p=1 .x=1 a=b.c=1",
        b"init=/sbin/init modinit.on_error=poweroff modinit.kmsg=warn modinit.kmsg_since=boot",
        b"modinit.settle_ms=50 modinit.timeout_ms=999999999 modinit.settle_ms=-1 modinit.colour=blue",
        b"modinit.kmsg=off modinit.on_error init= quiet=1 -- init=/x modules_load=after",
        b"a.b=\"unterminated m.p=1\t\x0bx.y=2\0after.nul=1",
        b"root=PARTUUID=0badcafe-02/PARTNROFF=-1 rootfstype=ext4,,xfs rootflags=\"noatime,context=\\\"a,b\\\",rw\" ro",
        b"root=0x801 rootwait rootwait=5 rootdelay=3 modinit.root_timeout_s=x rw root=LABEL=my\\x20root root=8:1:2:",
    ];
    let mut seeds: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
    if sources.thorough {
        seeds.extend(fs::read("/proc/cmdline"));
    }
    seeds
}

fn uevent(sources: &Sources) -> Vec<Vec<u8>> {
    let messages: &[&[u8]] = &[
        b"add@/devices/pci0000:00/0000:00:03.0\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:03.0\0\
          SUBSYSTEM=pci\0MODALIAS=pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\0SEQNUM=1234\0",
        b"remove@/devices/virtual/net/lo\0SEQNUM=18446744073709551615\0MODALIAS=\0",
        b"bind@/x@y\0MODALIAS=a\0MODALIAS=b\0SEQNUM=-1\0",
        b"libudev\0\xfe\xed\xca\xfe",
        b"@/nothing\0",
        b"add@relative\0",
    ];
    let mut seeds: Vec<Vec<u8>> = messages.iter().map(|m| m.to_vec()).collect();
    if sources.thorough {
        seeds.extend(sys_uevents(Path::new("/sys/devices"), 64));
    }
    seeds
}

/// Up to `limit` devices under `/sys/devices` with a modalias, as the `add` uevents the
/// kernel would send for them.
fn sys_uevents(root: &Path, limit: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
        let Ok(text) = fs::read(dir.join("uevent")) else { continue };
        if out.len() >= limit || !text.windows(9).any(|w| w == b"MODALIAS=") {
            continue;
        }
        let devpath = dir.strip_prefix("/sys").unwrap_or(&dir).as_os_str().as_encoded_bytes();
        let mut message = [b"add@", devpath, b"\0ACTION=add\0DEVPATH=", devpath, b"\0"].concat();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            message.extend([line, b"\0"].concat());
        }
        message.extend(format!("SEQNUM={}\0", 1000 + out.len()).into_bytes());
        out.push(message);
    }
    out
}

/// Small gzip, zstd and xz files of every header kind, and the real modules stored the ways
/// distributions and `cargo xtask` store them.
fn decompress(modules: &[RealModule]) -> Vec<Vec<u8>> {
    let hello: &[u8] = b"hello, hello, hello\n";
    let mut plain: Vec<&[u8]> = vec![hello, b""];
    plain.extend(modules.iter().map(|m| &m.image[..]));
    let mut seeds = Vec::new();
    for data in plain {
        seeds.extend(gzip(flate2::GzBuilder::new(), data));
        seeds.extend(gzip(flate2::GzBuilder::new().filename("m.ko").comment("c").extra(vec![1, 2, 3]), data));
        for (level, window_log, checksum) in [(3, None, true), (19, Some(12), false)] {
            seeds.extend(zstd_frame(data, level, window_log, checksum));
        }
        // The kernel's `xz --check=crc32 --lzma2=dict=1MiB`, and xz's fastest with CRC64.
        seeds.extend(xz_stream(data, 6, Some(1 << 20), xz2::stream::Check::Crc32));
        seeds.extend(xz_stream(data, 0, None, xz2::stream::Check::Crc64));
    }
    seeds
}

fn gzip(builder: flate2::GzBuilder, data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = builder.write(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

/// One xz stream of one LZMA2 block, at `preset` with its dictionary or `dictionary`.
fn xz_stream(data: &[u8], preset: u32, dictionary: Option<u32>, check: xz2::stream::Check) -> Option<Vec<u8>> {
    let mut options = xz2::stream::LzmaOptions::new_preset(preset).ok()?;
    if let Some(size) = dictionary {
        options.dict_size(size);
    }
    let mut filters = xz2::stream::Filters::new();
    filters.lzma2(&options);
    let stream = xz2::stream::Stream::new_stream_encoder(&filters, check).ok()?;
    let mut encoder = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

/// One zstd frame that records its content size, as the `zstd` tool writes a file.
fn zstd_frame(data: &[u8], level: i32, window_log: Option<u32>, checksum: bool) -> Option<Vec<u8>> {
    use zstd::stream::raw::CParameter;
    let mut compressor = zstd::bulk::Compressor::new(level).ok()?;
    compressor.set_parameter(CParameter::ChecksumFlag(checksum)).ok()?;
    compressor.set_parameter(CParameter::ContentSizeFlag(true)).ok()?;
    if let Some(log) = window_log {
        compressor.set_parameter(CParameter::WindowLog(log)).ok()?;
    }
    compressor.compress(data).ok()
}

/// A synthetic module with every part the readers look at, the real modules, and signed
/// copies of both (a PKCS#7-style trailer: only the signature's length is set).
fn elf(modules: &[RealModule]) -> Vec<Vec<u8>> {
    let mut images = vec![synthetic_module()];
    images.extend(modules.iter().map(|m| m.image.clone()));
    let signed: Vec<Vec<u8>> = images.iter().take(2).map(|image| signed(image)).collect();
    images.extend(signed);
    images
}

fn signed(image: &[u8]) -> Vec<u8> {
    let signature = [0x30u8; 16];
    let mut info = [0u8; 12];
    info[8..].copy_from_slice(&(signature.len() as u32).to_be_bytes());
    [image, &signature, &info, b"~Module signature appended~\n"].concat()
}

/// An ELF64 relocatable object with `.modinfo`, a symbol table (an export's `__crc_`, an
/// undefined and a weak undefined symbol), `__versions` and `__ksymtab_strings`.
fn synthetic_module() -> Vec<u8> {
    let symbol = |name: u32, info: u8, shndx: u16| {
        let mut s = [0u8; 24];
        s[..4].copy_from_slice(&name.to_le_bytes());
        s[4] = info;
        s[6..8].copy_from_slice(&shndx.to_le_bytes());
        s
    };
    let version = |name: &[u8]| {
        let mut v = [0u8; 64];
        v[8..8 + name.len()].copy_from_slice(name);
        v
    };
    let strtab = b"\0__crc_foo\0printk\0weak_fn\0";
    let symtab = [symbol(0, 0, 0), symbol(1, 0x10, 2), symbol(11, 0x10, 0), symbol(18, 0x20, 0)].concat();
    let versions = [version(b"printk"), version(b"module_layout"), version(b"printk")].concat();
    modinit_test_fixtures::elf(&[
        (".modinfo", &b"\0license=GPL\0alias=pci:v00008086d*\0alias=usb:v[0-9]*\0softdep=pre: crc32c\0=\0intree\0"[..]),
        (".symtab", &symtab),
        (".strtab", strtab),
        ("__versions", &versions),
        ("__ksymtab_strings", b"\0foo\0bar\0"),
    ])
}

/// Runs a tool that makes an image at `IMG` in a scratch directory; the image's first
/// `keep` bytes, trailing zeros cut, or None when the tool is missing or fails.
fn made_image(args: &[&str], size: u64, keep: usize) -> Option<Vec<u8>> {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("modinit-seed-{}-{n}", std::process::id()));
    fs::create_dir_all(dir.join("tree/sbin")).ok()?;
    fs::write(dir.join("tree/sbin/init"), b"#!/bin/sh\n").ok()?;
    let image = dir.join("image");
    if size > 0 {
        fs::File::create(&image).and_then(|f| f.set_len(size)).ok()?;
    }
    let (image_arg, tree_arg) = (image.to_str()?.to_string(), dir.join("tree").to_str()?.to_string());
    let args: Vec<&str> = args
        .iter()
        .map(|&a| {
            if a == "IMG" {
                &image_arg
            } else if a == "TREE" {
                &tree_arg
            } else {
                a
            }
        })
        .collect();
    let path = std::env::var("PATH").unwrap_or_default() + ":/sbin:/usr/sbin";
    let made = std::process::Command::new(args[0])
        .args(&args[1..])
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let bytes = made.then(|| fs::read(&image).ok()).flatten();
    let _ = fs::remove_dir_all(&dir);
    let mut bytes = bytes?;
    bytes.truncate(keep);
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes.truncate(end);
    Some(bytes)
}

fn put(image: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    if image.len() < at + bytes.len() {
        image.resize(at + bytes.len(), 0);
    }
    image[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Superblocks: made by the mkfs tools when they are installed (their first 128 KiB), and
/// minimal ones built here.
fn root_fs() -> Vec<Vec<u8>> {
    const KEEP: usize = 128 << 10;
    let uuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let tools: &[(&[&str], u64)] = &[
        (&["mkfs.ext4", "-q", "-F", "-t", "ext2", "-L", "two", "IMG"], 4 << 20),
        (&["mkfs.ext4", "-q", "-F", "-t", "ext3", "IMG"], 4 << 20),
        (&["mkfs.ext4", "-q", "-F", "-t", "ext4", "-L", "root", "-U", uuid, "IMG"], 4 << 20),
        (&["mkfs.xfs", "-q", "-f", "-L", "xroot", "IMG"], 300 << 20),
        (&["mkfs.btrfs", "-q", "-f", "-L", "broot", "IMG"], 200 << 20),
        (&["mkfs.vfat", "-F", "12", "-n", "F12", "IMG"], 2 << 20),
        (&["mkfs.vfat", "-F", "16", "-n", "F16", "IMG"], 20 << 20),
        (&["mkfs.vfat", "-F", "32", "-s", "1", "-n", "F32", "IMG"], 34 << 20),
        (&["mksquashfs", "TREE", "IMG", "-noappend", "-quiet"], 0),
        (&["mkfs.erofs", "--quiet", "-U", uuid, "IMG", "TREE"], 0),
    ];
    let mut seeds: Vec<Vec<u8>> = tools.iter().filter_map(|(args, size)| made_image(args, *size, KEEP)).collect();

    let mut ext2 = vec![0u8; 2048];
    put(&mut ext2, 1024 + 0x38, &0xef53u16.to_le_bytes());
    put(&mut ext2, 1024 + 0x60, &2u32.to_le_bytes());
    put(&mut ext2, 1024 + 0x68, &[0x5a; 16]);
    put(&mut ext2, 1024 + 0x78, b"synthetic");
    let mut squashfs = b"hsqs".to_vec();
    put(&mut squashfs, 28, &4u16.to_le_bytes());
    let mut erofs = vec![0u8; 1024];
    put(&mut erofs, 1024, &0xe0f5_e1e2u32.to_le_bytes());
    put(&mut erofs, 1024 + 12, &[12]);
    put(&mut erofs, 1024 + 48, &[0xa5; 16]);
    put(&mut erofs, 1024 + 64, b"ero");
    // FAT12: 1 reserved sector, 2 FATs of 1 sector, 16 root entries, a volume label entry.
    let mut fat = vec![0u8; 512];
    put(&mut fat, 0, b"\xeb\x3c\x90mkfs.fat");
    put(&mut fat, 0x0b, &512u16.to_le_bytes());
    put(&mut fat, 0x0d, &[1]);
    put(&mut fat, 0x0e, &1u16.to_le_bytes());
    put(&mut fat, 0x10, &[2]);
    put(&mut fat, 0x11, &16u16.to_le_bytes());
    put(&mut fat, 0x13, &64u16.to_le_bytes());
    put(&mut fat, 0x15, &[0xf8]);
    put(&mut fat, 0x16, &1u16.to_le_bytes());
    put(&mut fat, 0x26, &[0x29, 0x78, 0x56, 0x34, 0x12]);
    put(&mut fat, 0x2b, b"BOOT LABEL FAT12   ");
    put(&mut fat, 0x1fe, &[0x55, 0xaa]);
    put(&mut fat, 3 * 512, b"\x05OOT DIR   \x08");
    seeds.extend([ext2, squashfs, erofs, fat]);
    seeds
}

/// Partition tables: a GPT and an MBR with a chain of logical partitions built here (the
/// first byte chooses 512-byte blocks and 64 KiB more disk), and sfdisk's when installed.
fn root_partition() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let gpt_script = "label: gpt\nfirst-lba: 34\nsize=64, type=U, name=\"esp\"\nsize=64, type=L, name=\"r\u{f4}ot\"\n";
    for (script, choice) in [(gpt_script, 0x40u8), ("label: dos\n,64,L\n,,E\n,32,L\n,32,L\n", 0x40)] {
        let Some(image) = sfdisk_image(script) else { continue };
        seeds.push([&[choice][..], &image].concat());
    }
    seeds.push([&[4u8][..], &synthetic_gpt()].concat());
    seeds.push([&[0u8][..], &synthetic_mbr()].concat());
    seeds
}

fn sfdisk_image(script: &str) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("modinit-seed-sfdisk-{}-{}", std::process::id(), script.len()));
    fs::create_dir_all(&dir).ok()?;
    let image = dir.join("disk");
    fs::File::create(&image).and_then(|f| f.set_len(1 << 20)).ok()?;
    let path = std::env::var("PATH").unwrap_or_default() + ":/sbin:/usr/sbin";
    let child = std::process::Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&image)
        .env("PATH", path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let made = child.ok().is_some_and(|mut child| {
        child.stdin.take().is_some_and(|mut stdin| stdin.write_all(script.as_bytes()).is_ok())
            && child.wait().is_ok_and(|s| s.success())
    });
    let bytes = made.then(|| fs::read(&image).ok()).flatten();
    let _ = fs::remove_dir_all(&dir);
    let mut bytes = bytes?;
    // The backup GPT at the end is not read; what comes before it is the seed.
    bytes.truncate(64 << 10);
    Some(bytes)
}

/// A protective MBR, a GPT header at LBA 1 and four 128-byte entries at LBA 2 (two used),
/// with their CRC-32s, for a disk of 64 KiB + the seed.
fn synthetic_gpt() -> Vec<u8> {
    let mut disk = vec![0u8; 3 * 512];
    put(&mut disk, 0x1be + 4, &[0xee]);
    put(&mut disk, 0x1be + 8, &1u32.to_le_bytes());
    put(&mut disk, 0x1be + 12, &u32::MAX.to_le_bytes());
    put(&mut disk, 510, &[0x55, 0xaa]);
    let mut entries = vec![0u8; 4 * 128];
    for (i, (first, last, name)) in [(34u64, 40u64, "boot"), (41, 100, "r\u{e9}\u{3b1}t")].iter().enumerate() {
        let e = &mut entries[i * 128..];
        e[..16].copy_from_slice(&[0x11 + i as u8; 16]);
        e[16..32].copy_from_slice(&[0xa0 + i as u8; 16]);
        e[32..40].copy_from_slice(&first.to_le_bytes());
        e[40..48].copy_from_slice(&last.to_le_bytes());
        for (j, unit) in name.encode_utf16().enumerate() {
            e[56 + 2 * j..58 + 2 * j].copy_from_slice(&unit.to_le_bytes());
        }
    }
    put(&mut disk, 1024, &entries);
    let mut header = vec![0u8; 92];
    header[..8].copy_from_slice(b"EFI PART");
    header[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    header[12..16].copy_from_slice(&92u32.to_le_bytes());
    header[24..32].copy_from_slice(&1u64.to_le_bytes());
    header[32..40].copy_from_slice(&127u64.to_le_bytes());
    header[40..48].copy_from_slice(&34u64.to_le_bytes());
    header[48..56].copy_from_slice(&100u64.to_le_bytes());
    header[56..72].copy_from_slice(&[0x77; 16]);
    header[72..80].copy_from_slice(&2u64.to_le_bytes());
    header[80..84].copy_from_slice(&4u32.to_le_bytes());
    header[84..88].copy_from_slice(&128u32.to_le_bytes());
    header[88..92].copy_from_slice(&modinit::crc32::checksum(&entries).to_le_bytes());
    let crc = modinit::crc32::checksum(&header);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    put(&mut disk, 512, &header);
    disk
}

/// An MBR with a primary, an extended partition whose chain of boot records (every 8
/// sectors) holds three logical partitions, one of them in a record's third entry.
fn synthetic_mbr() -> Vec<u8> {
    let entry = |disk: &mut Vec<u8>, record: usize, slot: usize, kind: u8, start: u32, sectors: u32| {
        let at = record * 512 + 0x1be + 16 * slot;
        put(disk, at + 4, &[kind]);
        put(disk, at + 8, &start.to_le_bytes());
        put(disk, at + 12, &sectors.to_le_bytes());
        put(disk, record * 512 + 510, &[0x55, 0xaa]);
    };
    let mut disk = vec![0u8; 512];
    put(&mut disk, 0x1b8, &0xdead_beefu32.to_le_bytes());
    entry(&mut disk, 0, 0, 0x83, 1, 7);
    entry(&mut disk, 0, 1, 0x05, 8, 64);
    entry(&mut disk, 8, 0, 0x83, 1, 3);
    entry(&mut disk, 8, 1, 0x05, 8, 8);
    entry(&mut disk, 16, 0, 0x83, 1, 3);
    entry(&mut disk, 16, 2, 0x82, 4, 2);
    entry(&mut disk, 16, 1, 0x0f, 16, 8);
    entry(&mut disk, 24, 0, 0x83, 2, 4);
    disk
}
