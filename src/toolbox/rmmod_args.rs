//! `rmmod`'s command line, as kmod's tools/rmmod.c reads it: `rmmod [-f] [-v] NAME|FILE...`.

use crate::toolbox::getopt::{Arg, Getopt, Long, Refusal, Spec};
use core::fmt;

const SPEC: Spec = Spec {
    short: b"fsvVwh",
    long: &[
        Long { name: "force", value: false, id: b'f' },
        Long { name: "syslog", value: false, id: b's' },
        Long { name: "verbose", value: false, id: b'v' },
        Long { name: "version", value: false, id: b'V' },
        Long { name: "help", value: false, id: b'h' },
    ],
};

/// The options modinit's rmmod takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RmmodOptions {
    /// `-f`: no in-use checks, and `O_TRUNC` to delete_module (needs CONFIG_MODULE_FORCE_UNLOAD).
    pub force: bool,
    /// `-v`, once per use. kmod prints nothing more for it unless libkmod has more to say.
    pub verbose: u8,
}

/// rmmod's own reason to refuse a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RmmodArgError {
    MissingName,
}

impl fmt::Display for RmmodArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RmmodArgError::MissingName => f.write_str("missing module name."),
        }
    }
}

/// Parses `args` (without the program name); `name` is called with each module operand.
pub fn parse<'a>(
    args: &[&'a [u8]],
    mut name: impl FnMut(&'a [u8]),
) -> Result<RmmodOptions, Refusal<'a, RmmodArgError>> {
    let mut opts = RmmodOptions::default();
    let mut names = 0;
    for arg in Getopt::new(&SPEC, args) {
        match arg? {
            Arg::Opt(b'h', _) => return Err(Refusal::Help),
            Arg::Opt(b'f', _) => opts.force = true,
            Arg::Opt(b'v', _) => opts.verbose = opts.verbose.saturating_add(1),
            // kmod's `-s`, `-V`, `-w`.
            Arg::Opt(other, _) => return Err(Refusal::Unsupported(SPEC.name(other))),
            Arg::Operand(o) => {
                names += 1;
                name(o);
            }
        }
    }
    if names == 0 { Err(Refusal::Tool(RmmodArgError::MissingName)) } else { Ok(opts) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::getopt::{GetoptError, OptionName};
    use std::vec::Vec;

    fn run(line: &str) -> Result<(RmmodOptions, Vec<&str>), Refusal<'_, RmmodArgError>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        let mut names = Vec::new();
        let opts = parse(&args, |n| names.push(core::str::from_utf8(n).unwrap()))?;
        Ok((opts, names))
    }

    #[test]
    fn names_and_flags_in_any_order() {
        assert_eq!(run("loop").unwrap(), (RmmodOptions::default(), vec!["loop"]));
        assert_eq!(
            run("-fv snd-pcm -v --force loop").unwrap(),
            (RmmodOptions { force: true, verbose: 2 }, vec!["snd-pcm", "loop"])
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(run("-v").err(), Some(Refusal::Tool(RmmodArgError::MissingName)));
        assert_eq!(run("--help loop").err(), Some(Refusal::Help));
        assert_eq!(run("-s loop").err(), Some(Refusal::Unsupported(OptionName::Short(b's'))));
        assert_eq!(run("-w loop").err(), Some(Refusal::Unsupported(OptionName::Short(b'w'))));
        assert_eq!(run("-x loop").err(), Some(Refusal::Getopt(GetoptError::InvalidOption(b'x'))));
    }
}
