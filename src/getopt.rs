//! glibc's `getopt_long` for the applets: the same options accepted, in the same order, with the
//! same error messages, so a command line means what it means to kmod's tools.
//!
//! Short options combine (`-0F alias`) and take a value inline or from the next argument
//! (`-Falias`, `-F alias`); long options take `--name=value` or `--name value` and may be
//! abbreviated to any unique prefix (`--fie`). Operands may come before, between or after
//! options (glibc permutes them to the end: they are handed out in order, as they come); `--`
//! makes every argument after it an operand, and `-` alone is one.

use crate::line::Bytes;
use core::fmt;

/// A long option: `--name`, the same as the short option `short`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongOption {
    pub name: &'static str,
    pub has_arg: bool,
    pub short: u8,
}

/// One argument, as getopt reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// An option, by its short letter (long options too), with its value if it takes one.
    Option {
        short: u8,
        value: Option<&'a [u8]>,
    },
    Operand(&'a [u8]),
}

/// A command line getopt refuses. Displayed as glibc prints it after `PROGRAM: `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetoptError<'a> {
    /// `-x`, not an option.
    InvalidOption(u8),
    /// `-F` last, without its value.
    MissingValue(u8),
    /// `--xyz`, no option's name or prefix; what follows `--`.
    Unrecognized(&'a [u8]),
    /// `--f`, a prefix of several options' names; what follows `--`, and the table.
    Ambiguous { given: &'a [u8], options: &'static [LongOption] },
    /// `--author=x` for an option without a value.
    ValueNotAllowed(&'static str),
    /// `--field` last, without its value.
    LongMissingValue(&'static str),
}

impl fmt::Display for GetoptError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GetoptError::InvalidOption(c) => write!(f, "invalid option -- '{}'", char::from(c)),
            GetoptError::MissingValue(c) => write!(f, "option requires an argument -- '{}'", char::from(c)),
            GetoptError::Unrecognized(given) => write!(f, "unrecognized option '--{}'", Bytes(given)),
            GetoptError::Ambiguous { given, options } => {
                write!(f, "option '--{}' is ambiguous; possibilities:", Bytes(given))?;
                for o in options.iter().filter(|o| o.name.as_bytes().starts_with(name_part(given))) {
                    write!(f, " '--{}'", o.name)?;
                }
                Ok(())
            }
            GetoptError::ValueNotAllowed(name) => write!(f, "option '--{name}' doesn't allow an argument"),
            GetoptError::LongMissingValue(name) => write!(f, "option '--{name}' requires an argument"),
        }
    }
}

/// The arguments of a command line, one by one.
#[derive(Debug, Clone)]
pub struct Getopt<'o, 'a> {
    args: &'o [&'a [u8]],
    /// The short options as getopt's optstring: each letter, followed by `:` if it takes a value.
    shorts: &'static [u8],
    longs: &'static [LongOption],
    /// The rest of a cluster of short options being read (`-abc` after `a`).
    cluster: &'a [u8],
    only_operands: bool,
}

impl<'o, 'a> Getopt<'o, 'a> {
    /// Reads `args` (without the program name) with the options `shorts` and `longs`.
    pub fn new(args: &'o [&'a [u8]], shorts: &'static [u8], longs: &'static [LongOption]) -> Self {
        Getopt { args, shorts, longs, cluster: &[], only_operands: false }
    }

    fn next_arg(&mut self) -> Option<&'a [u8]> {
        let (first, rest) = self.args.split_first()?;
        self.args = rest;
        Some(first)
    }

    /// The short option `c`, taken off the cluster.
    fn short(&mut self, c: u8) -> Result<Arg<'a>, GetoptError<'a>> {
        let at = self.shorts.iter().position(|&s| s == c && s != b':').ok_or(GetoptError::InvalidOption(c))?;
        if self.shorts.get(at + 1) != Some(&b':') {
            return Ok(Arg::Option { short: c, value: None });
        }
        let value = match core::mem::take(&mut self.cluster) {
            [] => self.next_arg().ok_or(GetoptError::MissingValue(c))?,
            inline => inline,
        };
        Ok(Arg::Option { short: c, value: Some(value) })
    }

    fn long(&mut self, given: &'a [u8]) -> Result<Arg<'a>, GetoptError<'a>> {
        let name = name_part(given);
        let mut matching = self.longs.iter().filter(|o| o.name.as_bytes().starts_with(name));
        let exact = self.longs.iter().find(|o| o.name.as_bytes() == name);
        let option = match (exact, matching.next(), matching.next()) {
            (Some(o), _, _) | (None, Some(o), None) => o,
            (None, None, _) => return Err(GetoptError::Unrecognized(given)),
            (None, Some(_), Some(_)) => return Err(GetoptError::Ambiguous { given, options: self.longs }),
        };
        let inline = given.get(name.len() + 1..).filter(|_| name.len() < given.len());
        let value = match (option.has_arg, inline) {
            (false, Some(_)) => return Err(GetoptError::ValueNotAllowed(option.name)),
            (false, None) => None,
            (true, Some(v)) => Some(v),
            (true, None) => Some(self.next_arg().ok_or(GetoptError::LongMissingValue(option.name))?),
        };
        Ok(Arg::Option { short: option.short, value })
    }
}

impl<'a> Iterator for Getopt<'_, 'a> {
    type Item = Result<Arg<'a>, GetoptError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((&c, rest)) = self.cluster.split_first() {
            self.cluster = rest;
            return Some(self.short(c));
        }
        loop {
            let arg = self.next_arg()?;
            if self.only_operands || arg.len() < 2 || arg[0] != b'-' {
                return Some(Ok(Arg::Operand(arg)));
            }
            if arg == b"--" {
                self.only_operands = true;
                continue;
            }
            if let Some(given) = arg.strip_prefix(b"--") {
                return Some(self.long(given));
            }
            self.cluster = &arg[2..];
            return Some(self.short(arg[1]));
        }
    }
}

/// A long option's name as given: up to its `=`.
fn name_part(given: &[u8]) -> &[u8] {
    given.split(|&b| b == b'=').next().unwrap_or(given)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    const LONGS: &[LongOption] = &[
        LongOption { name: "author", has_arg: false, short: b'a' },
        LongOption { name: "field", has_arg: true, short: b'F' },
        LongOption { name: "filename", has_arg: false, short: b'n' },
        LongOption { name: "fil", has_arg: false, short: b'x' },
    ];

    fn run(line: &str) -> Result<Vec<String>, String> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        Getopt::new(&args, b"anF:0", LONGS)
            .map(|arg| match arg {
                Ok(Arg::Operand(o)) => Ok(String::from_utf8_lossy(o).into_owned()),
                Ok(Arg::Option { short, value: None }) => Ok(format!("-{}", char::from(short))),
                Ok(Arg::Option { short, value: Some(v) }) => {
                    Ok(format!("-{}={}", char::from(short), String::from_utf8_lossy(v)))
                }
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn short_options_combine_and_take_values_inline_or_next() {
        assert_eq!(run("-a0F alias e1000").unwrap(), ["-a", "-0", "-F=alias", "e1000"]);
        assert_eq!(run("-Falias -F -a").unwrap(), ["-F=alias", "-F=-a"], "a value may look like an option");
        assert_eq!(run("e1000 -n - snd").unwrap(), ["e1000", "-n", "-", "snd"], "operands anywhere");
        assert_eq!(run("-a -- -n --field").unwrap(), ["-a", "-n", "--field"], "after --, operands only");
    }

    #[test]
    fn long_options_by_name_or_unique_prefix() {
        assert_eq!(run("--author --field=x --field y").unwrap(), ["-a", "-F=x", "-F=y"]);
        assert_eq!(run("--auth --fie= --filen").unwrap(), ["-a", "-F=", "-n"]);
        assert_eq!(run("--fil").unwrap(), ["-x"], "an exact name beats longer ones");
    }

    #[test]
    fn glibcs_messages() {
        let cases = [
            ("-z", "invalid option -- 'z'"),
            ("-aF", "option requires an argument -- 'F'"),
            ("--frob=1", "unrecognized option '--frob=1'"),
            ("--fi=3", "option '--fi=3' is ambiguous; possibilities: '--field' '--filename' '--fil'"),
            ("--author=me", "option '--author' doesn't allow an argument"),
            ("--fiel", "option '--field' requires an argument"),
        ];
        for (line, message) in cases {
            let got = run(line).unwrap_err();
            assert_eq!(got, message, "{line}");
        }
    }
}
