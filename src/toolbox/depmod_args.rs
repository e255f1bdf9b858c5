//! `depmod`'s command line, as kmod 30's tools/depmod.c reads it: `depmod [-aAenw] [-b DIR]
//! [-C PATH]... [-E Module.symvers | -F System.map] [-P C] [VERSION]`, through getopt_long (so
//! options may follow the version).

use crate::line::Bytes;
use crate::toolbox::getopt::{Arg, Getopt, Long, Refusal, Spec};
use core::fmt;

/// kmod's optstring and long options, all of them, so that unsupported ones are named as such.
const SPEC: Spec = Spec {
    short: b"aAb:C:E:F:euqrvnP:wmVh",
    long: &[
        Long { name: "all", value: false, id: b'a' },
        Long { name: "quick", value: false, id: b'A' },
        Long { name: "basedir", value: true, id: b'b' },
        Long { name: "config", value: true, id: b'C' },
        Long { name: "symvers", value: true, id: b'E' },
        Long { name: "filesyms", value: true, id: b'F' },
        Long { name: "errsyms", value: false, id: b'e' },
        Long { name: "unresolved-error", value: false, id: b'u' },
        Long { name: "quiet", value: false, id: b'q' },
        Long { name: "root", value: false, id: b'r' },
        Long { name: "verbose", value: false, id: b'v' },
        Long { name: "show", value: false, id: b'n' },
        Long { name: "dry-run", value: false, id: b'n' },
        Long { name: "symbol-prefix", value: true, id: b'P' },
        Long { name: "warn", value: false, id: b'w' },
        Long { name: "map", value: false, id: b'm' },
        Long { name: "version", value: false, id: b'V' },
        Long { name: "help", value: false, id: b'h' },
    ],
};

/// How many `-C` paths depmod takes.
pub const MAX_CONFIG_PATHS: usize = 8;

/// What depmod was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options<'a> {
    /// `-b DIR`: the root holding lib/modules/VERSION and the configuration.
    pub basedir: Option<&'a [u8]>,
    /// The kernel version; the running kernel's when None.
    pub version: Option<&'a [u8]>,
    /// `-n`: the text files to stdout, nothing written.
    pub dry_run: bool,
    /// `-A`: nothing to do when modules.dep is newer than every module.
    pub quick: bool,
    /// `-e`: report needed symbols nobody has (with `-E`, CRCs that disagree).
    pub errsyms: bool,
    /// `-w`: warn about keys given the same value twice.
    pub warn: bool,
    /// `-E FILE`: the kernel's symbols and CRCs from Module.symvers.
    pub symvers: Option<&'a [u8]>,
    /// `-F FILE`: the kernel's symbols from System.map.
    pub system_map: Option<&'a [u8]>,
    /// `-P C`: the architecture's symbol prefix.
    pub prefix: Option<u8>,
    /// `-C PATH`: depmod.d files or directories, instead of the default directories.
    pub config: heapless::Vec<&'a [u8], MAX_CONFIG_PATHS>,
    /// Deprecated options given (`-u`, `-q`, `-r`, `-m`), which kmod warns it ignores.
    pub deprecated: heapless::Vec<u8, 4>,
}

/// depmod's own reasons to refuse a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// The first operand is not `N.M...` (kmod: "Bad version passed").
    BadVersion(&'a [u8]),
    /// Module files after the version: kmod indexes only those; modinit indexes the whole tree.
    ModuleFiles(&'a [u8]),
    /// `-P` with more than one character (kmod: "-P only takes a single char").
    LongPrefix,
    /// More `-C` paths than [`MAX_CONFIG_PATHS`].
    TooManyConfigPaths,
}

impl fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArgError::BadVersion(v) => write!(f, "Bad version passed {}", Bytes(v)),
            ArgError::ModuleFiles(file) => {
                write!(f, "{}: modinit's depmod indexes the whole tree, not single files", Bytes(file))
            }
            ArgError::LongPrefix => f.write_str("-P only takes a single char"),
            ArgError::TooManyConfigPaths => write!(f, "modinit's depmod takes at most {MAX_CONFIG_PATHS} -C paths"),
        }
    }
}

/// Parses `args` (without the program name).
pub fn parse<'a>(args: &[&'a [u8]]) -> Result<Options<'a>, Refusal<'a, ArgError<'a>>> {
    let mut opts = Options::default();
    for arg in Getopt::new(&SPEC, args) {
        match arg? {
            Arg::Opt(b'b', dir) => opts.basedir = dir,
            Arg::Opt(b'h', _) => return Err(Refusal::Help),
            // `-a` is what depmod does anyway.
            Arg::Opt(b'a', _) => {}
            Arg::Opt(c @ (b'u' | b'q' | b'r' | b'm'), _) => {
                let _ = opts.deprecated.push(c);
            }
            Arg::Opt(b'A', _) => opts.quick = true,
            Arg::Opt(b'n', _) => opts.dry_run = true,
            Arg::Opt(b'e', _) => opts.errsyms = true,
            Arg::Opt(b'w', _) => opts.warn = true,
            Arg::Opt(b'E', file) => opts.symvers = file,
            Arg::Opt(b'F', file) => opts.system_map = file,
            Arg::Opt(b'P', Some(&[c])) => opts.prefix = Some(c),
            Arg::Opt(b'P', _) => return Err(Refusal::Tool(ArgError::LongPrefix)),
            Arg::Opt(b'C', Some(path)) => {
                opts.config.push(path).map_err(|_| Refusal::Tool(ArgError::TooManyConfigPaths))?;
            }
            Arg::Opt(other, _) => return Err(Refusal::Unsupported(SPEC.name(other))),
            Arg::Operand(o) if opts.version.is_some() => return Err(Refusal::Tool(ArgError::ModuleFiles(o))),
            Arg::Operand(o) if !is_version_number(o) => return Err(Refusal::Tool(ArgError::BadVersion(o))),
            Arg::Operand(o) => opts.version = Some(o),
        }
    }
    Ok(opts)
}

/// kmod's `is_version_number`: `sscanf(s, "%u.%u")` reads two numbers, i.e. the version starts
/// with digits, a dot and a digit.
fn is_version_number(s: &[u8]) -> bool {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && s.get(digits) == Some(&b'.') && s.get(digits + 1).is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::getopt::{GetoptError, OptionName};
    use std::vec::Vec;

    fn run(line: &str) -> Result<Options<'_>, Refusal<'_, ArgError<'_>>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        parse(&args)
    }

    #[test]
    fn basedir_and_version_in_any_order() {
        let want =
            Options { basedir: Some(&b"/tmp/root"[..]), version: Some(&b"6.1.0-57-amd64"[..]), ..Options::default() };
        assert_eq!(run("-b /tmp/root 6.1.0-57-amd64"), Ok(want.clone()));
        assert_eq!(run("-a -b/tmp/root 6.1.0-57-amd64"), Ok(want.clone()));
        assert_eq!(run("6.1.0-57-amd64 --basedir=/tmp/root -a"), Ok(want.clone()));
        assert_eq!(run("-ab /tmp/root -- 6.1.0-57-amd64"), Ok(want));
        assert_eq!(run("-q").unwrap().deprecated, [b'q'], "deprecated options are noted, to be warned about");
    }

    #[test]
    fn kmods_other_options() {
        let o = run("-nAew -E /s -F /m -P _ -C /a --config=/b 6.1").unwrap();
        assert!(o.dry_run && o.quick && o.errsyms && o.warn);
        assert_eq!((o.symvers, o.system_map, o.prefix), (Some(&b"/s"[..]), Some(&b"/m"[..]), Some(b'_')));
        assert_eq!(o.config, [&b"/a"[..], b"/b"]);
        assert_eq!(run("-P ab"), Err(Refusal::Tool(ArgError::LongPrefix)));
    }

    #[test]
    fn bad_command_lines_say_why() {
        assert_eq!(run("-x"), Err(Refusal::Getopt(GetoptError::InvalidOption(b'x'))));
        assert_eq!(run("-b"), Err(Refusal::Getopt(GetoptError::MissingValue(b'b'))));
        assert_eq!(run("-v 6.1"), Err(Refusal::Unsupported(OptionName::Short(b'v'))));
        assert_eq!(run("--version"), Err(Refusal::Unsupported(OptionName::Short(b'V'))));
        assert_eq!(run("latest"), Err(Refusal::Tool(ArgError::BadVersion(b"latest"))));
        assert_eq!(run("6."), Err(Refusal::Tool(ArgError::BadVersion(b"6."))));
        assert_eq!(
            run("6.1 /lib/modules/6.1/kernel/a.ko"),
            Err(Refusal::Tool(ArgError::ModuleFiles(b"/lib/modules/6.1/kernel/a.ko")))
        );
        assert_eq!(run("-h"), Err(Refusal::Help));
    }
}
