//! `modprobe`'s command line, as kmod 30's tools/modprobe.c reads it with getopt_long: short
//! flags that combine (`-qb`), options with a value inline or next (`-S6.1.0`, `-S 6.1.0`,
//! `--set-version=6.1.0`), `--` ending the options. getopt permutes, so options may follow
//! names; module parameters (`foo=1`) are operands like names.

use crate::kernel::init_flags::Force;
use crate::toolbox::getopt::{Arg, Getopt, Long, Refusal, Spec};
use core::fmt;

/// kmod's optstring and long options, all of them and in its order (getopt lists an ambiguous
/// prefix's candidates so), so that the unsupported ones are named as such.
const SPEC: Spec = Spec { short: b"arw:RibfDcnC:d:S:sqvVh", long: LONGS };
const LONGS: &[Long] = &[
    Long { name: "all", value: false, id: b'a' },
    Long { name: "remove", value: false, id: b'r' },
    Long { name: "remove-dependencies", value: false, id: REMOVE_HOLDERS },
    Long { name: "remove-holders", value: false, id: REMOVE_HOLDERS },
    Long { name: "wait", value: true, id: b'w' },
    Long { name: "resolve-alias", value: false, id: b'R' },
    Long { name: "first-time", value: false, id: FIRST_TIME },
    Long { name: "ignore-install", value: false, id: b'i' },
    Long { name: "ignore-remove", value: false, id: b'i' },
    Long { name: "use-blacklist", value: false, id: b'b' },
    Long { name: "force", value: false, id: b'f' },
    Long { name: "force-modversion", value: false, id: FORCE_MODVERSION },
    Long { name: "force-vermagic", value: false, id: FORCE_VERMAGIC },
    Long { name: "show-depends", value: false, id: b'D' },
    Long { name: "showconfig", value: false, id: b'c' },
    Long { name: "show-config", value: false, id: b'c' },
    Long { name: "show-modversions", value: false, id: SHOW_MODVERSIONS },
    Long { name: "dump-modversions", value: false, id: SHOW_MODVERSIONS },
    Long { name: "show-exports", value: false, id: SHOW_EXPORTS },
    Long { name: "dry-run", value: false, id: b'n' },
    Long { name: "show", value: false, id: b'n' },
    Long { name: "config", value: true, id: b'C' },
    Long { name: "dirname", value: true, id: b'd' },
    Long { name: "set-version", value: true, id: b'S' },
    Long { name: "syslog", value: false, id: b's' },
    Long { name: "quiet", value: false, id: b'q' },
    Long { name: "verbose", value: false, id: b'v' },
    Long { name: "version", value: false, id: b'V' },
    Long { name: "help", value: false, id: b'h' },
];
// kmod's values for the options with no short letter.
const FORCE_VERMAGIC: u8 = 1;
const FORCE_MODVERSION: u8 = 2;
const FIRST_TIME: u8 = 3;
const SHOW_MODVERSIONS: u8 = 4;
const REMOVE_HOLDERS: u8 = 5;
const SHOW_EXPORTS: u8 = 6;

/// What modprobe was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Insert,
    /// `-D`, `--show-depends`: print the insmod/builtin lines, load nothing.
    ShowDepends,
    /// `-R`, `--resolve-alias`: print the names a key resolves to.
    ResolveAlias,
}

/// The options modinit's modprobe supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options<'a> {
    pub mode: Mode,
    /// `-c`, `--showconfig`: print the configuration and the module aliases instead; needs no
    /// names and, as in kmod, wins over every other mode.
    pub show_config: bool,
    /// `--show-exports FILE`: print the symbols the module file exports, with their CRCs;
    /// after `-c`, it wins over the other modes.
    pub show_exports: bool,
    /// `-r`: remove the modules (every operand is one), then their unused dependencies.
    pub remove: bool,
    /// `-a`: every operand is a module; else the first is, and the rest are its parameters.
    pub all: bool,
    /// `-b`: the blacklist applies to names too, not only to aliases.
    pub use_blacklist: bool,
    /// `-q`: no message when a module is not found.
    pub quiet: bool,
    /// `-n`: do everything but insert.
    pub dry_run: bool,
    /// `-v`: print what is inserted or removed (not with `-q`, as kmod).
    pub verbose: bool,
    /// `--first-time`: fail if the module is in the kernel already.
    pub first_time: bool,
    /// `-i`, `--ignore-install`, `--ignore-remove`: do not run the configuration's install and
    /// remove commands (modinit never runs them: the index does not keep them).
    pub ignore_commands: bool,
    /// `--remove-holders` (`--remove-dependencies`): with `-r`, first remove the modules that
    /// hold each module.
    pub remove_holders: bool,
    /// `-f`: remove with O_TRUNC (`-r`), or insert as `force` says.
    pub force: bool,
    /// What the kernel is to ignore when inserting: `-f` both, `--force-modversion` the
    /// symbol versions, `--force-vermagic` the version magic.
    pub force_insert: Force,
    /// `-S VERSION`: the kernel release whose modules to use.
    pub version: Option<&'a [u8]>,
    /// `-d DIR`: the root holding lib/modules.
    pub dirname: Option<&'a [u8]>,
    /// `-C PATH`, any number of times: modprobe.d is these files and directories, in place of
    /// kmod's directories.
    pub config: ConfigPaths<'a>,
}

/// The paths given with `-C`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigPaths<'a> {
    paths: [&'a [u8]; CONFIG_PATHS_MAX],
    len: usize,
}

/// How many `-C` paths modprobe takes (kmod takes any number).
pub const CONFIG_PATHS_MAX: usize = 16;

impl<'a> ConfigPaths<'a> {
    /// None when no `-C` was given: kmod's own directories apply.
    pub fn given(&self) -> Option<&[&'a [u8]]> {
        (self.len > 0).then(|| &self.paths[..self.len])
    }

    fn push(&mut self, path: &'a [u8]) -> Result<(), ArgError> {
        *self.paths.get_mut(self.len).ok_or(ArgError::TooManyConfigs)? = path;
        self.len += 1;
        Ok(())
    }
}

impl Options<'_> {
    /// The level of kmod modprobe's LOG() messages: `FATAL`, `WARNING` with `-a` (one missing
    /// name is no longer fatal); None with `-q`.
    pub fn log_level(&self) -> Option<&'static str> {
        match (self.quiet, self.all) {
            (true, _) => None,
            (false, true) => Some("WARNING"),
            (false, false) => Some("FATAL"),
        }
    }
}

/// modprobe's own reasons to refuse a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgError {
    /// Nothing to do: no module named.
    NoModule,
    /// `-D` and `-R` both given.
    Conflicting,
    /// More than [`CONFIG_PATHS_MAX`] `-C` paths.
    TooManyConfigs,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::NoModule => f.write_str("missing parameters. See -h."),
            ArgError::Conflicting => f.write_str("-D and -R cannot be used together"),
            ArgError::TooManyConfigs => write!(f, "more than {CONFIG_PATHS_MAX} -C paths"),
        }
    }
}

/// Parses `args` (without the program name). `operand` is called with each name or
/// parameter, in order. As in kmod, `-h` acts when it is read, before later errors.
pub fn parse<'a>(args: &[&'a [u8]], mut operand: impl FnMut(&'a [u8])) -> Result<Options<'a>, Refusal<'a, ArgError>> {
    let mut opts = Options::default();
    let mut operands = 0;
    for arg in Getopt::new(&SPEC, args) {
        match arg? {
            Arg::Operand(o) => {
                operand(o);
                operands += 1;
            }
            Arg::Opt(b'a', _) => opts.all = true,
            Arg::Opt(b'r', _) => opts.remove = true,
            Arg::Opt(b'b', _) => opts.use_blacklist = true,
            Arg::Opt(b'q', _) => opts.quiet = true,
            Arg::Opt(b'n', _) => opts.dry_run = true,
            Arg::Opt(b'v', _) => opts.verbose = true,
            Arg::Opt(FIRST_TIME, _) => opts.first_time = true,
            Arg::Opt(b'i', _) => opts.ignore_commands = true,
            Arg::Opt(b'f', _) => {
                opts.force = true;
                opts.force_insert = Force::ALL;
            }
            Arg::Opt(FORCE_MODVERSION, _) => opts.force_insert.modversions = true,
            Arg::Opt(FORCE_VERMAGIC, _) => opts.force_insert.vermagic = true,
            Arg::Opt(SHOW_EXPORTS, _) => opts.show_exports = true,
            Arg::Opt(REMOVE_HOLDERS, _) => opts.remove_holders = true,
            Arg::Opt(b'D', _) => set_mode(&mut opts, Mode::ShowDepends)?,
            Arg::Opt(b'R', _) => set_mode(&mut opts, Mode::ResolveAlias)?,
            Arg::Opt(b'c', _) => opts.show_config = true,
            Arg::Opt(b'S', version) => opts.version = version,
            Arg::Opt(b'd', dirname) => opts.dirname = dirname,
            Arg::Opt(b'C', Some(path)) => opts.config.push(path).map_err(Refusal::Tool)?,
            Arg::Opt(b'h', _) => return Err(Refusal::Help),
            Arg::Opt(other, _) => return Err(Refusal::Unsupported(SPEC.name(other))),
        }
    }
    // kmod's -q lowers the verbosity below what -v raises it to.
    opts.verbose &= !opts.quiet;
    if operands == 0 && !opts.show_config {
        return Err(Refusal::Tool(ArgError::NoModule));
    }
    Ok(opts)
}

fn set_mode<'a>(opts: &mut Options<'a>, mode: Mode) -> Result<(), Refusal<'a, ArgError>> {
    if opts.mode != Mode::Insert && opts.mode != mode {
        return Err(Refusal::Tool(ArgError::Conflicting));
    }
    opts.mode = mode;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::getopt::{GetoptError, OptionName};
    use std::vec::Vec;

    fn run(line: &str) -> Result<(Options<'_>, Vec<&str>), Refusal<'_, ArgError>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        let mut names = Vec::new();
        let opts = parse(&args, |n| names.push(core::str::from_utf8(n).unwrap()))?;
        Ok((opts, names))
    }

    #[test]
    fn the_kernels_request_module_form() {
        let (opts, names) = run("-q -- fs-ext4").unwrap();
        assert!(opts.quiet && !opts.use_blacklist && opts.mode == Mode::Insert);
        assert_eq!(names, ["fs-ext4"]);
        assert_eq!(run("-q -- -odd-name").unwrap().1, ["-odd-name"], "after -- nothing is an option");
    }

    #[test]
    fn flags_combine_and_values_come_inline_or_next() {
        let (opts, names) = run("-qab -S 6.1.0 -d/tmp/root e1000 snd").unwrap();
        assert!(opts.quiet && opts.all && opts.use_blacklist);
        assert_eq!((opts.version, opts.dirname), (Some(&b"6.1.0"[..]), Some(&b"/tmp/root"[..])));
        assert_eq!(names, ["e1000", "snd"]);
        let (opts, names) = run("--show-depends --set-version=6.2 ahci copybreak=1").unwrap();
        assert_eq!((opts.mode, opts.version), (Mode::ShowDepends, Some(&b"6.2"[..])));
        assert_eq!(names, ["ahci", "copybreak=1"]);
        assert!(run("e1000 -v").unwrap().0.verbose, "options may follow names");
        let (opts, names) = run("-rqv loop --remove fat").unwrap();
        assert!(opts.remove && opts.quiet && !opts.verbose, "-q hides what -v shows, as in kmod");
        assert_eq!(names, ["loop", "fat"]);
        assert!(run("-c -d /tmp/root").unwrap().0.show_config, "-c needs no name");
        assert!(run("--showconfig -D x").unwrap().0.show_config);
        let (opts, _) = run("-C /dev/null --config=/etc/x.d -c").unwrap();
        assert_eq!(opts.config.given(), Some(&[&b"/dev/null"[..], b"/etc/x.d"][..]));
        assert_eq!(run("-c").unwrap().0.config.given(), None);
    }

    #[test]
    fn force_ignore_install_and_show_exports() {
        let (opts, _) = run("-f e1000").unwrap();
        assert!(opts.force && opts.force_insert == Force::ALL);
        let (opts, _) = run("--force-v e1000").unwrap();
        assert!(!opts.force && opts.force_insert == Force { modversions: false, vermagic: true });
        let (opts, _) = run("--force-modversion e1000").unwrap();
        assert_eq!(opts.force_insert, Force { modversions: true, vermagic: false });
        assert_eq!(run("e1000").unwrap().0.force_insert, Force::NONE);
        assert!(run("-r --remove-holders fat").unwrap().0.remove_holders);
        assert!(run("-r --remove-dep fat").unwrap().0.remove_holders);
        assert!(run("-i e1000").unwrap().0.ignore_commands && run("--ignore-remove -r x").unwrap().0.ignore_commands);
        assert_eq!(run("e1000").unwrap().0.log_level(), Some("FATAL"));
        assert_eq!(run("-a e1000").unwrap().0.log_level(), Some("WARNING"));
        assert_eq!(run("-a -q e1000").unwrap().0.log_level(), None);
        let (opts, names) = run("--show-exports /x/e1000.ko").unwrap();
        assert!(opts.show_exports);
        assert_eq!(names, ["/x/e1000.ko"]);
    }

    #[test]
    fn bad_command_lines_say_why() {
        assert_eq!(run("-x e1000").err(), Some(Refusal::Getopt(GetoptError::InvalidOption(b'x'))));
        assert_eq!(run("e1000 -S").err(), Some(Refusal::Getopt(GetoptError::MissingValue(b'S'))));
        assert_eq!(run("-s e1000").err(), Some(Refusal::Unsupported(OptionName::Short(b's'))));
        assert_eq!(run("--show-m e1000").err(), Some(Refusal::Unsupported(OptionName::Long("show-modversions"))));
        assert_eq!(run("-q").err(), Some(Refusal::Tool(ArgError::NoModule)));
        assert_eq!(run("-D -R x").err(), Some(Refusal::Tool(ArgError::Conflicting)));
        assert_eq!(run(&"-C x ".repeat(17)).err(), Some(Refusal::Tool(ArgError::TooManyConfigs)));
        assert_eq!(run("--help -x").err(), Some(Refusal::Help), "acts before the bad option");
    }

    /// What kmod 30's modprobe says for these (tests/applets_vs_kmod.rs runs it).
    #[test]
    fn getopt_reads_kmods_long_options() {
        let refused = |line| {
            run(line).err().map(|e| match e {
                Refusal::Getopt(e) => e.to_string(),
                other => format!("{other:?}"),
            })
        };
        assert_eq!(
            refused("--sh x").as_deref(),
            Some(
                "option '--sh' is ambiguous; possibilities: '--show-depends' '--showconfig' '--show-config' \
                  '--show-modversions' '--show-exports' '--show'"
            )
        );
        assert_eq!(refused("--set-version").as_deref(), Some("option '--set-version' requires an argument"));
        assert_eq!(refused("--remove=1 x").as_deref(), Some("option '--remove' doesn't allow an argument"));
        assert!(run("--showc").unwrap().0.show_config, "a unique prefix");
        assert!(run("--dry x").unwrap().0.dry_run);
        assert_eq!(run("--first x --reso y").unwrap().0.mode, Mode::ResolveAlias);
    }
}
