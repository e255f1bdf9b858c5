//! Which configuration files modprobe and systemd-modules-load read, and in what order.
//!
//! kmod (`conf_files_list`, `conf_files_insert_sorted`) and systemd (`conf_files_list_nulstr`
//! with no flags, as modules-load.c calls it) agree: every directory's non-hidden `*.conf`
//! entries go into one list sorted by name (strcmp), and a name already taken by a
//! higher-precedence directory is skipped. A symlink to /dev/null is not special to either:
//! it takes the name like any file and reads as empty, so it masks lower files by that name.

use super::{ConfigDir as Dir, ConfigFile};
use crate::sort::sort_by;
use alloc::string::String;
use alloc::vec::Vec;

/// The modprobe.d files kmod reads, sorted by name, given `dirs` in precedence order (highest
/// first, e.g. [`super::MODPROBE_D_DIRS`] under a root). Masked names are left out: a /dev/null
/// file adds nothing. kmod <= 32 also took `*.alias` files; kmod >= 33 only `*.conf`.
pub fn select_modprobe_d(dirs: Vec<Dir>) -> Vec<ConfigFile> {
    select(dirs.into_iter().map(GivenPath::Dir).collect())
}

/// A path given to modprobe's `-C`: a directory, read as the default ones are, or one file,
/// read whatever its name and sorted among the others by its base name (kmod's `is_single`).
#[derive(Debug, Clone)]
pub enum GivenPath {
    Dir(Dir),
    File(ConfigFile),
}

/// The modprobe.d files kmod reads from the `-C` `paths`, in the order given (the first
/// path holding a name wins it), sorted by name.
pub fn select_given_modprobe_d(paths: Vec<GivenPath>) -> Vec<ConfigFile> {
    select(paths)
}

/// The modules-load.d files systemd reads, sorted by name, given `dirs` in precedence order
/// (e.g. [`super::MODULES_LOAD_D_DIRS`] under a root). Masked names are left out.
pub fn select_modules_load_d(dirs: Vec<Dir>) -> Vec<ConfigFile> {
    select(dirs.into_iter().map(GivenPath::Dir).collect())
}

/// Puts a file of the module directory (one of [`super::MODULE_DIR_CONFIG_FILES`]) into a
/// [`select_modprobe_d`] list where kmod reads it: sorted among the others by its name. It
/// never competes with a modprobe.d file, whose names end in `.conf`.
pub fn insert_module_dir_file(files: &mut Vec<ConfigFile>, file: ConfigFile) {
    let at = files.partition_point(|f| f.name.as_bytes() < file.name.as_bytes());
    files.insert(at, file);
}

fn select(paths: Vec<GivenPath>) -> Vec<ConfigFile> {
    // (name, precedence, directory, text), sorted by name (String orders by bytes, as strcmp
    // does), then precedence: each name's first entry is the one read.
    let mut all: Vec<(String, usize, String, Option<Vec<u8>>)> = Vec::new();
    for path in paths {
        match path {
            GivenPath::Dir((dir, entries)) => {
                for (name, text) in entries {
                    if is_config_name(&name) {
                        all.push((name, all.len(), dir.clone(), text));
                    }
                }
            }
            GivenPath::File(file) => all.push((file.name, all.len(), file.dir, Some(file.text))),
        }
    }
    sort_by(&mut all, &mut |a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    all.dedup_by(|later, first| later.0 == first.0);
    all.into_iter().filter_map(|(name, _, dir, text)| Some(ConfigFile { dir, name, text: text? })).collect()
}

/// A name both tools take: not hidden, ending in `.conf`.
fn is_config_name(name: &str) -> bool {
    !name.starts_with('.') && name.ends_with(".conf")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn dir(name: &str, entries: &[(&str, Option<&str>)]) -> Dir {
        let entries = entries.iter().map(|&(n, t)| (n.to_string(), t.map(|t| t.as_bytes().to_vec()))).collect();
        (name.to_string(), entries)
    }

    fn chosen(files: &[ConfigFile]) -> Vec<String> {
        files.iter().map(|f| format!("{}/{}={}", f.dir, f.name, String::from_utf8_lossy(&f.text))).collect()
    }

    #[test]
    fn highest_directory_wins_and_names_sort_across_directories() {
        let dirs = vec![
            dir("etc", &[("b.conf", Some("etc b")), ("z.conf", Some("etc z"))]),
            dir("run", &[("a.conf", Some("run a")), ("b.conf", Some("run b"))]),
            dir("lib", &[("B.conf", Some("lib B")), ("a.conf", Some("lib a")), ("c.conf", Some("lib c"))]),
        ];
        let expected =
            ["lib/B.conf=lib B", "run/a.conf=run a", "etc/b.conf=etc b", "lib/c.conf=lib c", "etc/z.conf=etc z"];
        assert_eq!(chosen(&select_modprobe_d(dirs.clone())), expected, "strcmp order: B < a");
        assert_eq!(chosen(&select_modules_load_d(dirs)), expected);
    }

    #[test]
    fn only_visible_conf_files_count() {
        let dirs = vec![dir(
            "etc",
            &[
                (".hidden.conf", Some("x")),
                (".conf", Some("x")),
                ("notes.txt", Some("x")),
                ("old.conf~", Some("x")),
                ("x.conf.dpkg-old", Some("x")),
                ("aliases.alias", Some("x")),
                ("conf", Some("x")),
                ("a.conf", Some("kept")),
            ],
        )];
        assert_eq!(chosen(&select_modprobe_d(dirs)), ["etc/a.conf=kept"]);
    }

    #[test]
    fn dev_null_masks_lower_files_and_is_not_read() {
        let dirs = vec![
            dir("etc", &[("masked.conf", None), ("empty.conf", Some(""))]),
            dir("lib", &[("masked.conf", Some("lib")), ("empty.conf", Some("lib")), ("other.conf", Some("o"))]),
        ];
        assert_eq!(chosen(&select_modules_load_d(dirs)), ["etc/empty.conf=", "lib/other.conf=o"]);
    }

    /// `modprobe -C /dev/null -C dir`: the file takes its base name, `null`, whatever it is.
    #[test]
    fn given_files_count_whatever_their_name_and_sort_by_base_name() {
        let file = |dir: &str, name: &str, text: &str| {
            GivenPath::File(ConfigFile { dir: dir.to_string(), name: name.to_string(), text: text.into() })
        };
        let paths = vec![
            file("/dev", "null", ""),
            GivenPath::Dir(dir(
                "/tmp/c",
                &[("a.conf", Some("a")), ("null", Some("no .conf name")), ("z.txt", Some("z"))],
            )),
            file("/tmp", "a.conf", "second a"),
        ];
        assert_eq!(chosen(&select_given_modprobe_d(paths)), ["/tmp/c/a.conf=a", "/dev/null="]);
    }

    #[test]
    fn module_dir_files_sort_in_by_name() {
        let file = |dir: &str, name: &str| ConfigFile { dir: dir.to_string(), name: name.to_string(), text: vec![] };
        let mut files = vec![file("etc", "a.conf"), file("etc", "masked.conf"), file("lib", "n.conf")];
        insert_module_dir_file(&mut files, file("moddir", "modules.softdep"));
        insert_module_dir_file(&mut files, file("moddir", "modules.weakdep"));
        let names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.conf", "masked.conf", "modules.softdep", "modules.weakdep", "n.conf"]);
    }
}
