//! The configuration modprobe and systemd-modules-load read, as the index builder reads it.
//!
//! - [`select_modprobe_d`] / [`select_modules_load_d`]: which files count, and in what order
//!   (libkmod/libkmod-config.c `conf_files_list`, systemd src/basic/conf-files.c).
//! - [`parse_modprobe_d`]: one modprobe.d file, line by line as libkmod's `kmod_config_parse`.
//! - [`parse_modules_load_d`]: one modules-load.d file, as systemd's modules-load.c.
//!
//! The rules are kmod 34's and systemd 252..258's; where older kmod differs it is noted.

pub mod depmod_d;
mod files;
mod modprobe_d;
mod modules_load_d;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use files::{GivenPath, insert_module_dir_file, select_given_modprobe_d, select_modprobe_d, select_modules_load_d};
pub use modprobe_d::parse_modprobe_d;
pub use modules_load_d::parse_modules_load_d;

/// modprobe.d directories relative to the root, highest precedence first: kmod's
/// `default_config_paths` with SYSCONFDIR=/etc and DISTCONFDIR=/usr/lib (kmod >= 32; kmod 30
/// and 31 lack `usr/lib/modprobe.d`, the same directory as `lib/modprobe.d` on merged /usr).
pub const MODPROBE_D_DIRS: &[&str] =
    &["etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d", "usr/lib/modprobe.d", "lib/modprobe.d"];

/// modules-load.d directories relative to the root, highest precedence first: systemd's
/// `CONF_PATHS("modules-load.d")`, with `lib/modules-load.d` as systemd built with split /usr
/// (Debian 12) reads it; on merged /usr it is `usr/lib/modules-load.d` again.
pub const MODULES_LOAD_D_DIRS: &[&str] = &[
    "etc/modules-load.d",
    "run/modules-load.d",
    "usr/local/lib/modules-load.d",
    "usr/lib/modules-load.d",
    "lib/modules-load.d",
];

/// Files of the module directory (`lib/modules/VERSION`) that kmod reads as modprobe.d
/// configuration too (modules.weakdep since kmod 33); see [`insert_module_dir_file`].
pub const MODULE_DIR_CONFIG_FILES: &[&str] = &["modules.softdep", "modules.weakdep"];

/// One directive of a modprobe.d file, as libkmod stores it.
///
/// Module names and alias patterns went through kmod's `underscores()` (see
/// [`crate::name::normalize_alias`]): `-` became `_` outside `[...]`. They are not cut at `.`.
/// The names listed by `softdep` and `weakdep` are kept as written: kmod looks them up later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `alias PATTERN MODULE`: the pattern is an fnmatch pattern.
    Alias { pattern: Vec<u8>, module: Vec<u8> },
    /// `options MODULE TEXT`: the rest of the line after the one blank that ends the module
    /// name (so it may start with blanks), tabs turned into spaces.
    Options { module: Vec<u8>, options: Vec<u8> },
    /// `blacklist MODULE`.
    Blacklist { module: Vec<u8> },
    /// `softdep MODULE [pre: A B ...] [post: C ...]`; either list may be empty, even both.
    Softdep { module: Vec<u8>, pre: Vec<Vec<u8>>, post: Vec<Vec<u8>> },
    /// `weakdep MODULE A B ...` (kmod >= 33; older kmod rejects the line).
    Weakdep { module: Vec<u8>, deps: Vec<Vec<u8>> },
    /// `install MODULE COMMAND`: the rest of the line after the blank that ends the name.
    Install { module: Vec<u8>, command: Vec<u8> },
    /// `remove MODULE COMMAND`.
    Remove { module: Vec<u8>, command: Vec<u8> },
}

/// A line kmod (or systemd) would reject or ignore, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file name the caller gave the parser.
    pub file: String,
    /// 1-based line number; for a modprobe.d line continued with `\`, its last physical line,
    /// as kmod counts.
    pub line: usize,
    pub message: String,
    /// Whether kmod itself rejects the line, and how.
    pub kind: WarningKind,
}

/// Which of kmod's complaints a [`ConfigWarning`] is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// kmod skips the line: "ignoring bad line starting with ...".
    BadLine,
    /// kmod skips the line: "command ... is deprecated and not parsed anymore".
    Deprecated,
    /// A line kmod takes that modinit does not honour as kmod would, or systemd's complaint.
    Modinit,
    /// An `install` or `remove` command, which modinit does not run (`modprobe -i` ignores
    /// them, as kmod's does).
    Command,
}

impl ConfigWarning {
    /// The line kmod 30's libkmod logs to stderr for this warning (its source location
    /// included, as `kmod_log` prints it); None when kmod has no such message.
    pub fn kmod_message(&self) -> Option<String> {
        const PARSER: &str = "libkmod: ERROR ../libkmod/libkmod-config.c";
        match self.kind {
            WarningKind::BadLine => Some(alloc::format!("{PARSER}:712 kmod_config_parse: {self}")),
            WarningKind::Deprecated => {
                Some(alloc::format!("{PARSER}:708 kmod_config_parse: {}: {}", self.file, self.message))
            }
            WarningKind::Modinit | WarningKind::Command => None,
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.message)
    }
}

/// One configuration directory as the selectors take it: its path, and its entries as file
/// names with contents, or None for an entry that takes the name but gives no text (a symlink
/// to /dev/null). Leave subdirectories out (kmod skips them with an error). A dangling symlink:
/// kmod >= 34 skips it (leave it out for modprobe.d), systemd lets it take the name (None).
pub type ConfigDir = (String, Vec<(String, Option<Vec<u8>>)>);

/// A configuration file chosen to be read: `dir`/`name` with its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub dir: String,
    pub name: String,
    pub text: Vec<u8>,
}

/// Differential tests: the same files through kmod's `modprobe -c` and systemd-modules-load
/// installed on this machine, and through the selectors and parsers here.
#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A directory under the system temp dir, removed when dropped.
    struct TempRoot(PathBuf);

    impl TempRoot {
        fn new(name: &str) -> TempRoot {
            let path = std::env::temp_dir().join(format!("modinit-config-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempRoot(path)
        }

        fn write(&self, relative: &str, text: &[u8]) -> PathBuf {
            let path = self.0.join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A directory as the selectors take it: files with contents, /dev/null links as None,
    /// subdirectories left out; a missing directory has no entries.
    fn read_dir(dir: &Path) -> ConfigDir {
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if fs::read_link(&path).is_ok_and(|target| target == Path::new("/dev/null")) {
                entries.push((name, None));
            } else if !path.is_dir() {
                entries.push((name, Some(fs::read(&path).unwrap())));
            }
        }
        (dir.to_str().unwrap().to_string(), entries)
    }

    /// The first of these that runs, with its `--version` output.
    fn find_tool(candidates: &[&str]) -> Option<(String, String)> {
        candidates.iter().find_map(|tool| {
            let out = Command::new(tool).arg("--version").output().ok().filter(|o| o.status.success())?;
            Some((tool.to_string(), String::from_utf8_lossy(&out.stdout).into_owned()))
        })
    }

    fn join(words: &[Vec<u8>]) -> Vec<u8> {
        words.join(&b' ')
    }

    /// A directive as `modprobe -c` prints it (tools/modprobe.c show_config, and
    /// libkmod-config.c softdep_to_char, which puts no blank between the two lists).
    fn showconfig_line(directive: &Directive) -> Vec<u8> {
        let (kind, key, value): (&[u8], &[u8], Vec<u8>) = match directive {
            Directive::Blacklist { module } => return [&b"blacklist "[..], module].concat(),
            Directive::Install { module, command } => (b"install", module, command.clone()),
            Directive::Remove { module, command } => (b"remove", module, command.clone()),
            Directive::Alias { pattern, module } => (b"alias", pattern, module.clone()),
            Directive::Options { module, options } => (b"options", module, options.clone()),
            Directive::Softdep { module, pre, post } => {
                let mut value = Vec::new();
                if !pre.is_empty() {
                    value.extend([&b"pre: "[..], &join(pre)].concat());
                }
                if !post.is_empty() {
                    value.extend([&b"post: "[..], &join(post)].concat());
                }
                (b"softdep", module, value)
            }
            Directive::Weakdep { module, deps } => (b"weakdep", module, join(deps)),
        };
        [kind, b" ", key, b" ", &value].concat()
    }

    /// Configuration lines grouped by their first word (`alias`, `options`, ...), in order.
    type LinesByKind = Vec<(Vec<u8>, Vec<Vec<u8>>)>;

    /// `modprobe -c` run on these config dirs and module dir: its configuration lines, and
    /// its messages about config lines.
    fn kmod_showconfig(modprobe: &str, dirs: &[PathBuf], root: &Path) -> (LinesByKind, Vec<String>) {
        let mut command = Command::new(modprobe);
        for dir in dirs {
            command.arg("-C").arg(dir);
        }
        let out =
            command.args(["-c", "-S", KERNEL_VERSION, "-d"]).arg(root).env_remove("MODPROBE_OPTIONS").output().unwrap();
        assert!(out.status.success(), "{modprobe} -c failed: {}", String::from_utf8_lossy(&out.stderr));
        let end = out.stdout.windows(END.len()).position(|w| w == END).expect("the end-of-configuration line");
        let mut kinds = LinesByKind::new();
        for line in out.stdout[..end].split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let kind = line.split(|&c| c == b' ').next().unwrap_or_default().to_vec();
            match kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, lines)) => lines.push(line.to_vec()),
                None => kinds.push((kind, vec![line.to_vec()])),
            }
        }
        let messages = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.split_once("kmod_config_parse: ").map(|(_, m)| m.to_string()))
            .collect();
        (kinds, messages)
    }

    const KERNEL_VERSION: &str = "0.0-modinit-test";
    const END: &[u8] = b"\n# End of configuration files. Dumping indexes now:";

    /// Config files over all five directories: overrides, a /dev/null mask, files that do
    /// not count, modules.softdep sorting in among them, and lines of every kind kmod takes
    /// or rejects.
    fn write_modprobe_d_tree(root: &TempRoot, with_weakdep: bool) {
        let local = b"# local overrides\n\
            blacklist pcspkr\n\
            blacklist snd-pcsp\n\
            alias   net-pf-31\tbluetooth-core\n\
            alias usb:v05ACp*d*dc*dsc*dp*ic*isc*ip*in* apple-mfi-fastcharge\n\
            alias pci:v00008086d0000[0-9A-F-]*sv* e1000e-x\n\
            options snd-hda-intel model=auto\tenable=1,0 index=\"0,1\"\n\
            options  iwlwifi   power_save=0  \n\
            options nfs callback_tcpport=4045 \\\n\tnfs4_disable_idmapping=0\n\
            install floppy /bin/false\n\
            remove  usb-storage /sbin/modprobe -r --ignore-remove usb-storage && echo \"gone\"\n\
            softdep  e1000e pre: crc32c-intel post: ptp\n\
            softdep a-b   pre: x-y z post: w\n\
            softdep c  pre: lost-to-the-double-blank\n\
            softdep d pre:\tone\x0btwo post:\n\
            softdep e post: z pre: x\n\
            softdep f pre: p1 pre: p2 post: q\n\
            softdep g lonely words\n\
            \x20 # indented comment\n\
            bogus-command arg\n\
            include /etc/other.conf\n\
            config keep\n\
            alias only-pattern\n\
            alias bad]pattern m\n\
            options bad[name x=1\n\
            blacklist\n\
            options lone-module\n\
            options trailing-blank \n\
            install nocmd\n\
            softdep\n\
            blacklist with\\ escaped\\bytes\n\
            blacklist crlf-module\r\n\
            blacklist nul-cut\0ignored\n\
            blacklist high-\xff-byte\n";
        root.write("etc/modprobe.d/10-local.conf", local);
        root.write("etc/modprobe.d/.hidden.conf", b"blacklist hidden\n");
        root.write("etc/modprobe.d/README", b"blacklist readme\n");
        root.write("etc/modprobe.d/sub.conf/x.conf", b"blacklist in-subdirectory\n");
        std::os::unix::fs::symlink("/dev/null", root.0.join("etc/modprobe.d/masked.conf")).unwrap();
        let run: &[u8] = if with_weakdep {
            b"blacklist run-only\nalias run-alias run_mod\nweakdep wmod wa wb\nweakdep mod-loop-a \t\n"
        } else {
            b"blacklist run-only\nalias run-alias run_mod\n"
        };
        root.write("run/modprobe.d/20-run.conf", run);
        root.write("run/modprobe.d/10-local.conf", b"blacklist shadowed-run\n");
        root.write("usr/local/lib/modprobe.d/30-usr-local.conf", b"options usr-local opt=1\n");
        root.write("usr/lib/modprobe.d/40-usr.conf", b"softdep usr-mod pre: dep1\noptions snd-hda-intel late=1\n");
        root.write("lib/modprobe.d/10-local.conf", b"blacklist shadowed-lib\n");
        root.write("lib/modprobe.d/40-usr.conf", b"blacklist shadowed-by-usr-lib\n");
        root.write("lib/modprobe.d/masked.conf", b"blacklist masked-away\n");
        root.write("lib/modprobe.d/n.conf", b"blacklist after-softdep-file\noptions snd-hda-intel last=1\n");
        root.write("lib/modprobe.d/no-newline.conf", b"blacklist last-line-without-newline");
        root.write(
            &format!("lib/modules/{KERNEL_VERSION}/modules.softdep"),
            b"# Soft dependencies extracted from modules themselves.\nsoftdep modx pre: mody post: modz\n",
        );
    }

    /// Our selection and parsing of the same tree: the modprobe -c lines and the messages.
    fn ours(root: &Path) -> (Vec<Vec<u8>>, Vec<String>) {
        let dirs = MODPROBE_D_DIRS.iter().map(|d| read_dir(&root.join(d))).collect();
        let mut files = select_modprobe_d(dirs);
        let module_dir = root.join("lib/modules").join(KERNEL_VERSION);
        for name in MODULE_DIR_CONFIG_FILES {
            if let Ok(text) = fs::read(module_dir.join(name)) {
                let dir = module_dir.to_str().unwrap().to_string();
                insert_module_dir_file(&mut files, ConfigFile { dir, name: name.to_string(), text });
            }
        }
        let (mut lines, mut messages) = (Vec::new(), Vec::new());
        for file in files {
            let path = format!("{}/{}", file.dir, file.name);
            let directives = parse_modprobe_d(&path, &file.text, &mut |w| {
                // kmod gives no line number for deprecated commands.
                messages.push(if w.message.contains("deprecated") {
                    format!("{}: {}", w.file, w.message)
                } else {
                    w.to_string()
                });
            });
            lines.extend(directives.iter().map(|(_, d)| showconfig_line(d)));
        }
        (lines, messages)
    }

    fn show(lines: &[Vec<u8>]) -> Vec<String> {
        lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect()
    }

    #[test]
    fn modprobe_d_agrees_with_kmods_modprobe_showconfig() {
        let Some((modprobe, version)) = find_tool(&["modprobe", "/usr/sbin/modprobe", "/sbin/modprobe"]) else {
            return modinit_test_fixtures::unavailable("kmod's modprobe");
        };
        // Only kmod >= 33 knows weakdep. Kept out of the input: a `\` ending a file (kmod < 34
        // stores a 0xff byte), `*.alias` files (read by kmod < 33), and pre:/post: lists
        // interleaved like `pre: a post: b pre: c`, which modprobe -c prints wrong.
        let kmod_version: u32 = version.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or(0);
        let root = TempRoot::new("kmod");
        write_modprobe_d_tree(&root, kmod_version >= 33);
        let dirs: Vec<PathBuf> = MODPROBE_D_DIRS.iter().map(|d| root.0.join(d)).collect();
        let (kmod, kmod_messages) = kmod_showconfig(&modprobe, &dirs, &root.0);
        // The kernel command line's options and modprobe.blacklist= come after the files'.
        let empty = TempRoot::new("kmod-empty");
        let (from_cmdline, _) = kmod_showconfig(&modprobe, std::slice::from_ref(&empty.0), &empty.0);
        let (our_lines, our_messages) = ours(&root.0);
        assert!(our_lines.len() >= 30, "the fixture exercises most lines: {}", our_lines.len());
        for (kind, kmod_lines) in &kmod {
            let mut expected: Vec<Vec<u8>> =
                our_lines.iter().filter(|l| l.split(|&c| c == b' ').next() == Some(kind)).cloned().collect();
            expected.extend(from_cmdline.iter().filter(|(k, _)| k == kind).flat_map(|(_, l)| l.clone()));
            let kind = String::from_utf8_lossy(kind);
            assert!(*kmod_lines == expected, "{kind}:\nkmod: {:?}\nours: {:?}", show(kmod_lines), show(&expected));
        }
        let kinds: Vec<_> = kmod.iter().map(|(k, _)| k.as_slice()).collect();
        assert!(our_lines.iter().all(|l| kinds.contains(&l.split(|&c| c == b' ').next().unwrap())));
        assert_eq!(kmod_messages, our_messages);
    }

    /// systemd-modules-load, given files to apply, logs `Loading module: NAME` for each name
    /// before kmod finds no such module (all names here start with `zzmodinit`).
    #[test]
    fn modules_load_d_agrees_with_systemd_modules_load() {
        let tool = ["/usr/lib/systemd/systemd-modules-load", "/lib/systemd/systemd-modules-load"];
        let Some((modules_load, _)) = find_tool(&tool) else {
            return modinit_test_fixtures::unavailable("systemd-modules-load (systemd)");
        };
        let root = TempRoot::new("systemd");
        let lines = root.write(
            "lines.conf",
            b"zzmodinit-a\n  zzmodinit-b  \n#zzmodinit-c\n;zzmodinit-d\n\tzzmodinit-e\r\nzzmodinit-f\rzzmodinit-g\n\r\
              zzmodinit-h\0zzmodinit-i\n\n\r\rzzmodinit- j k\n  ; x\n  # y\n\0\0zzmodinit-j#not-a-comment;\t\n\
              zzmodinit-last",
        );
        let mut long = b"zzmodinit-before\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 1 << 20));
        long.extend(b"\nzzmodinit-after\n");
        let long = root.write("long.conf", &long);
        let out = Command::new(&modules_load)
            .args([&lines, &long])
            .env("SYSTEMD_LOG_LEVEL", "debug")
            .env("SYSTEMD_LOG_TARGET", "console")
            .env("SYSTEMD_LOG_COLOR", "0")
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        let systemd: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("Loading module: ")).collect();
        let mut ours = Vec::new();
        let mut warnings = Vec::new();
        for path in [&lines, &long] {
            let names =
                parse_modules_load_d(path.to_str().unwrap(), &fs::read(path).unwrap(), &mut |w| warnings.push(w));
            ours.extend(names.into_iter().map(|n| String::from_utf8(n).unwrap()));
        }
        assert_eq!(systemd, ours, "{log}");
        assert!(ours.len() > 10 && ours.iter().all(|n| n.starts_with("zzmodinit")));
        assert_eq!(warnings.len(), 1, "the long line: {warnings:?}");
    }
}
