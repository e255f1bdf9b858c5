//! depmod.d, as kmod 30's depmod reads it (`cfg_load`, `cfg_file_parse` in tools/depmod.c):
//! `search`, `override`, `external` and `exclude` lines, which decide which of two files of one
//! module depmod keeps and which directories it does not enter.
//!
//! The files are chosen by the caller ([`DEFAULT_DIRS`] or `-C` paths): one list sorted by file
//! name, a name seen twice read from the first path only. Lines are read as modprobe.d's
//! (a trailing `\` continues a line, `#` starts a comment at the start of a line only).

use super::modprobe_d::LogicalLines;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// kmod 30's default depmod.d directories, absolute (depmod reads them from the running system
/// even with `-b`), highest precedence first.
pub const DEFAULT_DIRS: &[&str] = &["/etc/depmod.d", "/run/depmod.d", "/usr/local/lib/depmod.d", "/lib/depmod.d"];

/// A depmod.d file as [`DepmodConfig::parse`] takes it: its path as shown, and its text.
pub type DepmodFile = (String, Vec<u8>);

/// One `search` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// `built-in`: the place of every module no other entry names.
    BuiltIn,
    /// `external`: the place of the `external` directories.
    External,
    /// A directory relative to the modules dir.
    Path(Vec<u8>),
}

/// The depmod.d directives that matter to module selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepmodConfig {
    /// `search` entries, in kmod's list order (kmod prepends: the last one read comes first).
    /// `updates` alone when no file has a `search` line.
    pub searches: Vec<Search>,
    /// `override MODULE VERSION DIR` as `DIR/MODULE`, in kmod's list order (last read first).
    pub overrides: Vec<Vec<u8>>,
    /// `external VERSION DIR` directories, in kmod's list order (last read first).
    pub externals: Vec<Vec<u8>>,
    /// `exclude` names: entries of these names are skipped at any depth.
    pub excludes: Vec<Vec<u8>>,
}

impl Default for DepmodConfig {
    fn default() -> Self {
        DepmodConfig {
            searches: vec![Search::Path(b"updates".to_vec())],
            overrides: Vec::new(),
            externals: Vec::new(),
            excludes: Vec::new(),
        }
    }
}

/// A depmod.d line kmod rejects, or one modinit cannot follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepmodWarning {
    /// kmod: `FILE:LINE: ignoring bad line starting with 'CMD'`.
    BadLine { file: String, line: usize, command: String },
    /// A kernel version pattern that is a regular expression beyond literal text, `.`, `^`, `$`.
    Unsupported { file: String, line: usize, pattern: String },
}

impl core::fmt::Display for DepmodWarning {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DepmodWarning::BadLine { file, line, command } => {
                write!(f, "{file}:{line}: ignoring bad line starting with '{command}'")
            }
            DepmodWarning::Unsupported { file, line, pattern } => write!(
                f,
                "{file}:{line}: kernel version pattern '{pattern}' is a regular expression modinit does not \
                 evaluate (only literal text, '.', '^', '$' and '*' alone): line ignored"
            ),
        }
    }
}

impl DepmodConfig {
    /// The configuration of `files` ((path as shown, text), in reading order) for kernel
    /// version `kversion`.
    pub fn parse(files: &[DepmodFile], kversion: &[u8], warn: &mut dyn FnMut(DepmodWarning)) -> DepmodConfig {
        let mut cfg =
            DepmodConfig { searches: Vec::new(), overrides: Vec::new(), externals: Vec::new(), excludes: Vec::new() };
        for (file, text) in files {
            for (line, text) in LogicalLines::new(text) {
                if text.first().is_none_or(|&c| c == b'#') {
                    continue;
                }
                let mut words = text.split(|&c| c == b' ' || c == b'\t').filter(|w| !w.is_empty());
                let Some(cmd) = words.next() else { continue };
                let bad = || DepmodWarning::BadLine {
                    file: file.clone(),
                    line,
                    command: String::from_utf8_lossy(cmd).into_owned(),
                };
                let mut matches = |pattern: &[u8]| match kernel_matches(pattern, kversion) {
                    Some(m) => m,
                    None => {
                        let pattern = String::from_utf8_lossy(pattern).into_owned();
                        warn(DepmodWarning::Unsupported { file: file.clone(), line, pattern });
                        false
                    }
                };
                match cmd {
                    b"search" => {
                        for w in words {
                            let search = match w {
                                b"built-in" => Search::BuiltIn,
                                b"external" => Search::External,
                                path => Search::Path(path.to_vec()),
                            };
                            cfg.searches.insert(0, search);
                        }
                    }
                    b"override" => match (words.next(), words.next(), words.next()) {
                        (Some(module), Some(version), Some(dir)) => {
                            if matches(version) {
                                cfg.overrides.insert(0, [dir, b"/", module].concat());
                            }
                        }
                        _ => warn(bad()),
                    },
                    b"external" => match (words.next(), words.next()) {
                        (Some(version), Some(dir)) => {
                            if matches(version) {
                                cfg.externals.insert(0, dir.to_vec());
                            }
                        }
                        _ => warn(bad()),
                    },
                    b"exclude" => cfg.excludes.extend(words.map(<[u8]>::to_vec)),
                    // kmod: "command %s not implemented yet", at info level.
                    b"include" | b"make_map_files" => {}
                    _ => warn(bad()),
                }
            }
        }
        if cfg.searches.is_empty() {
            cfg.searches.push(Search::Path(b"updates".to_vec()));
        }
        cfg
    }

    /// Whether depmod keeps the module file `old` (path relative to the modules dir) over `new`,
    /// another file of the same module, which it found later (`depmod_module_is_higher_priority`).
    /// `name_len` is the length of the module's name: paths are compared up to its end.
    pub fn keeps_old(&self, old: &[u8], new: &[u8], name_len: usize) -> bool {
        let cut = |p: &'_ [u8]| -> Vec<u8> {
            let base = p.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
            p[..(base + name_len).min(p.len())].to_vec()
        };
        let (old, new) = (cut(old), cut(new));
        for o in &self.overrides {
            if new == *o {
                return false;
            }
            if old == *o {
                return true;
            }
        }
        let under = |p: &[u8], dir: &[u8]| p.len() > dir.len() && p[dir.len()] == b'/' && p.starts_with(dir);
        let (mut builtin, mut old_prio, mut new_prio) = (-1i64, -1i64, -1i64);
        for (i, s) in self.searches.iter().enumerate() {
            match s {
                Search::BuiltIn => builtin = i as i64,
                // Module files outside the modules dir are refused before this is asked.
                Search::External => {}
                Search::Path(dir) if under(&new, dir) => new_prio = i as i64,
                Search::Path(dir) if under(&old, dir) => old_prio = i as i64,
                Search::Path(_) => {}
            }
        }
        if new_prio < 0 {
            new_prio = builtin;
        }
        if old_prio < 0 {
            old_prio = builtin;
        }
        new_prio <= old_prio
    }

    /// Whether depmod does not enter the directory entry `name` (`should_exclude_dir`: also
    /// `build` and `source`, at any depth, and files of those names).
    pub fn excludes(&self, name: &[u8]) -> bool {
        name == b"build" || name == b"source" || self.excludes.iter().any(|e| e == name)
    }
}

/// `cfg_kernel_matches`: `*`, or a POSIX extended regular expression found anywhere in the
/// version. None for an expression beyond literal characters, `.`, and `^`/`$` anchors.
fn kernel_matches(pattern: &[u8], kversion: &[u8]) -> Option<bool> {
    if pattern == b"*" {
        return Some(true);
    }
    let (anchored_start, rest) = match pattern.strip_prefix(b"^") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (anchored_end, body) = match rest.strip_suffix(b"$") {
        Some(body) => (true, body),
        None => (false, rest),
    };
    if body.iter().any(|c| b"*+?[](){}|\\^$".contains(c)) {
        return None;
    }
    let at = |start: usize| {
        kversion.get(start..start + body.len()).is_some_and(|w| w.iter().zip(body).all(|(&v, &p)| p == b'.' || v == p))
    };
    let last = kversion.len().checked_sub(body.len());
    Some(match (anchored_start, anchored_end, last) {
        (_, _, None) => false,
        (true, true, Some(last)) => last == 0 && at(0),
        (true, false, _) => at(0),
        (false, true, Some(last)) => at(last),
        (false, false, Some(last)) => (0..=last).any(at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn parse(text: &str) -> (DepmodConfig, Vec<String>) {
        let mut warnings = Vec::new();
        let files = [("d/a.conf".to_string(), text.as_bytes().to_vec())];
        let cfg = DepmodConfig::parse(&files, b"6.1.0-57-amd64", &mut |w| warnings.push(w.to_string()));
        (cfg, warnings)
    }

    #[test]
    fn directives_are_read_as_kmod_lists_them() {
        let (cfg, warnings) = parse(
            "# c\nsearch updates built-in\noverride e1000e 6.1.* extra\noverride ahci * weird\n\
             override x ^6\\.1 y\nexclude foo bar\nexternal * /opt/mods\nbogus line\noverride a b\n",
        );
        let path = |p: &str| Search::Path(p.as_bytes().to_vec());
        assert_eq!(cfg.searches, [Search::BuiltIn, path("updates")]);
        // The line reader takes `\.` as `.` (kmod's `freadline_wrapped`), so `^6.1` matches.
        assert_eq!(cfg.overrides, [b"y/x".to_vec(), b"weird/ahci".to_vec()]);
        assert_eq!(cfg.excludes, [b"foo".to_vec(), b"bar".to_vec()]);
        assert_eq!(cfg.externals, [b"/opt/mods".to_vec()]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(warnings[1], "d/a.conf:8: ignoring bad line starting with 'bogus'");
        assert_eq!(parse("").0, DepmodConfig::default());
    }

    #[test]
    fn priorities_follow_search_and_override() {
        let (cfg, _) = parse("");
        assert!(!cfg.keeps_old(b"kernel/a.ko", b"updates/a.ko", 1), "updates wins");
        assert!(cfg.keeps_old(b"updates/a.ko", b"kernel/a.ko", 1));
        assert!(cfg.keeps_old(b"kernel/a.ko", b"extra/a.ko", 1), "the first found stays");
        let (cfg, _) = parse("search extra built-in\noverride a 6.1.0-57-amd64 kernel\n");
        assert!(cfg.keeps_old(b"extra/b.ko", b"kernel/b.ko", 1), "extra before built-in");
        assert!(!cfg.keeps_old(b"extra/a.ko", b"kernel/a.ko", 1), "the override wins");
    }

    #[test]
    fn version_patterns() {
        assert_eq!(kernel_matches(b"6.1", b"6.1.0"), Some(true));
        assert_eq!(kernel_matches(b"^6.1$", b"6.1.0"), Some(false));
        assert_eq!(kernel_matches(b"0$", b"6.1.0"), Some(true));
        assert_eq!(kernel_matches(b"6.1.*", b"6.1.0"), None);
    }
}
