//! `modinfo`'s command line, as kmod 30's tools/modinfo.c reads it with getopt_long:
//! `modinfo [-a|-d|-l|-p|-n|-F FIELD] [-0] [-m] [-k VERSION] [-b BASEDIR] NAME|ALIAS|FILE...`.

use crate::toolbox::getopt::{Arg, Getopt, Long, Refusal, Spec};
use core::fmt;

const SPEC: Spec = Spec { short: b"adlpn0mF:k:b:Vh", long: LONGS };
const LONGS: &[Long] = &[
    Long { name: "author", value: false, id: b'a' },
    Long { name: "description", value: false, id: b'd' },
    Long { name: "license", value: false, id: b'l' },
    Long { name: "parameters", value: false, id: b'p' },
    Long { name: "filename", value: false, id: b'n' },
    Long { name: "null", value: false, id: b'0' },
    Long { name: "modname", value: false, id: b'm' },
    Long { name: "field", value: true, id: b'F' },
    Long { name: "set-version", value: true, id: b'k' },
    Long { name: "basedir", value: true, id: b'b' },
    Long { name: "version", value: false, id: b'V' },
    Long { name: "help", value: false, id: b'h' },
];

/// What the options ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options<'a> {
    /// The one field to print (`-F`, or `-a` author, `-d` description, `-l` license, `-p` parm,
    /// `-n` filename; the last given wins).
    pub field: Option<&'a [u8]>,
    /// `\n`, or NUL with `-0`.
    pub separator: u8,
    /// `-m`: every operand is a module name (not a file or an alias).
    pub modname: bool,
    /// `-k VERSION`: the kernel release whose modules to read.
    pub version: Option<&'a [u8]>,
    /// `-b DIR`: the root holding lib/modules.
    pub basedir: Option<&'a [u8]>,
}

/// What modinfo is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    Show(Options<'a>),
    /// `-V`, `--version`.
    Version,
}

/// modinfo's own reason to refuse a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgError {
    NoModule,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::NoModule => f.write_str("missing module or filename."),
        }
    }
}

/// Parses `args` (without the program name); `operand` is called with each module, alias or
/// file in order. As in kmod, `-h` and `-V` act when they are read, before later errors.
pub fn parse<'a>(args: &[&'a [u8]], operand: &mut dyn FnMut(&'a [u8])) -> Result<Action<'a>, Refusal<'a, ArgError>> {
    let mut opts = Options { field: None, separator: b'\n', modname: false, version: None, basedir: None };
    let mut operands = 0;
    for arg in Getopt::new(&SPEC, args) {
        let (short, value) = match arg? {
            Arg::Operand(o) => {
                operand(o);
                operands += 1;
                continue;
            }
            Arg::Opt(short, value) => (short, value),
        };
        match short {
            b'a' => opts.field = Some(b"author"),
            b'd' => opts.field = Some(b"description"),
            b'l' => opts.field = Some(b"license"),
            b'p' => opts.field = Some(b"parm"),
            b'n' => opts.field = Some(b"filename"),
            b'0' => opts.separator = 0,
            b'm' => opts.modname = true,
            b'F' => opts.field = value,
            b'k' => opts.version = value,
            b'b' => opts.basedir = value,
            b'h' => return Err(Refusal::Help),
            _ => return Ok(Action::Version),
        }
    }
    if operands == 0 {
        return Err(Refusal::Tool(ArgError::NoModule));
    }
    Ok(Action::Show(opts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::getopt::GetoptError;
    use std::vec::Vec;

    fn run(line: &str) -> Result<(Action<'_>, Vec<&str>), Refusal<'_, ArgError>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        let mut names = Vec::new();
        let action = parse(&args, &mut |n| names.push(core::str::from_utf8(n).unwrap()))?;
        Ok((action, names))
    }

    fn options(line: &str) -> Options<'_> {
        match run(line).unwrap().0 {
            Action::Show(o) => o,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn fields_the_last_one_wins() {
        assert_eq!(options("-a e1000").field, Some(&b"author"[..]));
        assert_eq!(options("-F alias -d e1000").field, Some(&b"description"[..]));
        assert_eq!(options("-p -Fvermagic e1000").field, Some(&b"vermagic"[..]));
        assert_eq!(options("--parameters e1000").field, Some(&b"parm"[..]));
        assert_eq!(options("-ln e1000").field, Some(&b"filename"[..]));
        assert_eq!(options("e1000").field, None);
    }

    #[test]
    fn the_rest_of_the_options() {
        let o = options("-0m -k 6.1.0 --basedir=/tmp/root e1000 snd");
        assert_eq!((o.separator, o.modname), (0, true));
        assert_eq!((o.version, o.basedir), (Some(&b"6.1.0"[..]), Some(&b"/tmp/root"[..])));
        assert_eq!(run("e1000 -0 snd").unwrap().1, ["e1000", "snd"]);
    }

    #[test]
    fn help_version_and_errors() {
        assert_eq!(run("-h -z").err(), Some(Refusal::Help), "acts before the bad option");
        assert_eq!(run("--vers").unwrap().0, Action::Version);
        assert_eq!(run("-z -h").err(), Some(Refusal::Getopt(GetoptError::InvalidOption(b'z'))));
        assert_eq!(run("-0").err(), Some(Refusal::Tool(ArgError::NoModule)));
        assert_eq!(run("").err(), Some(Refusal::Tool(ArgError::NoModule)));
    }
}
