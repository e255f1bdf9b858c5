//! `rmmod`'s command line, as kmod's tools/rmmod.c reads it: `rmmod [-f] [-v] NAME|FILE...`.

use crate::getopt::{Arg, Getopt, GetoptError, Long, Spec};

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

/// A command line rmmod refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RmmodArgError<'a> {
    Getopt(GetoptError<'a>),
    /// `-h`, `--help`: the usage is wanted.
    Help,
    /// An option of kmod's rmmod that modinit's does not have (`-s`, `-V`, `-w`).
    Unsupported(u8),
    /// kmod: "missing module name."
    MissingName,
}

/// Parses `args` (without the program name); `name` is called with each module operand.
pub fn parse<'a>(args: &[&'a [u8]], mut name: impl FnMut(&'a [u8])) -> Result<RmmodOptions, RmmodArgError<'a>> {
    let mut opts = RmmodOptions::default();
    let mut names = 0;
    for arg in Getopt::new(&SPEC, args) {
        match arg.map_err(RmmodArgError::Getopt)? {
            Arg::Opt(b'h', _) => return Err(RmmodArgError::Help),
            Arg::Opt(b'f', _) => opts.force = true,
            Arg::Opt(b'v', _) => opts.verbose = opts.verbose.saturating_add(1),
            Arg::Opt(other, _) => return Err(RmmodArgError::Unsupported(other)),
            Arg::Operand(o) => {
                names += 1;
                name(o);
            }
        }
    }
    if names == 0 { Err(RmmodArgError::MissingName) } else { Ok(opts) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn run(line: &str) -> Result<(RmmodOptions, Vec<&str>), RmmodArgError<'_>> {
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
        assert_eq!(run("-v").err(), Some(RmmodArgError::MissingName));
        assert_eq!(run("--help loop").err(), Some(RmmodArgError::Help));
        assert_eq!(run("-s loop").err(), Some(RmmodArgError::Unsupported(b's')));
        assert_eq!(run("-w loop").err(), Some(RmmodArgError::Unsupported(b'w')));
        assert_eq!(run("-x loop").err(), Some(RmmodArgError::Getopt(GetoptError::InvalidOption(b'x'))));
    }
}
