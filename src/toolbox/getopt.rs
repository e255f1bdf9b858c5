//! A command line read as glibc's `getopt_long` reads it, for the applets kmod and util-linux
//! parse that way: short flags that combine (`-fv`), values inline or in the next argument
//! (`-lerr`, `-l err`, `--level=err`, `--level err`), long names shortened to a unique prefix
//! (`--verb`), `--` ending the options. Like GNU getopt it permutes: options may follow
//! operands.

use crate::line::Bytes;
use core::fmt;

/// The options a program takes: its short letters (a `:` after one that takes a value, as
/// in getopt's optstring) and its long names, each with the short letter it stands for.
pub struct Spec {
    pub short: &'static [u8],
    pub long: &'static [Long],
}

/// A long option: `--name`, which takes a value when `value`, reported as `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Long {
    pub name: &'static str,
    pub value: bool,
    pub id: u8,
}

/// One step of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// An option (by its short letter or the `id` of its long name), with its value.
    Opt(u8, Option<&'a [u8]>),
    Operand(&'a [u8]),
}

/// A command line getopt refuses, displayed in glibc's words (without the program name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetoptError<'a> {
    /// `-x`, not one of the short letters.
    InvalidOption(u8),
    /// `--xyz` (the whole argument), no long name starts so.
    UnrecognizedOption(&'a [u8]),
    /// `--v` (the whole argument), the prefix of several long names, listed after it as glibc
    /// lists them.
    Ambiguous { given: &'a [u8], options: &'static [Long] },
    /// A short option that needs a value came last.
    MissingValue(u8),
    /// A long option that needs a value came last (its full name).
    MissingLongValue(&'static str),
    /// `--name=value` for an option that takes none (its full name).
    UnexpectedValue(&'static str),
}

impl fmt::Display for GetoptError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GetoptError::InvalidOption(c) => write!(f, "invalid option -- '{}'", char::from(c)),
            GetoptError::UnrecognizedOption(o) => write!(f, "unrecognized option '{}'", Bytes(o)),
            GetoptError::Ambiguous { given, options } => {
                write!(f, "option '{}' is ambiguous; possibilities:", Bytes(given))?;
                let name = given.get(2..).unwrap_or_default();
                let name = name.split(|&b| b == b'=').next().unwrap_or_default();
                for o in options.iter().filter(|o| o.name.as_bytes().starts_with(name)) {
                    write!(f, " '--{}'", o.name)?;
                }
                Ok(())
            }
            GetoptError::MissingValue(c) => write!(f, "option requires an argument -- '{}'", char::from(c)),
            GetoptError::MissingLongValue(name) => write!(f, "option '--{name}' requires an argument"),
            GetoptError::UnexpectedValue(name) => write!(f, "option '--{name}' doesn't allow an argument"),
        }
    }
}

impl Spec {
    /// How a refusal names the option reported as `id`: by its short letter, else by its first
    /// long name.
    pub fn name(&self, id: u8) -> OptionName {
        let short = id != b':' && self.short.contains(&id);
        match self.long.iter().find(|l| l.id == id) {
            Some(long) if !short => OptionName::Long(long.name),
            _ => OptionName::Short(id),
        }
    }
}

/// An option as a message names it: `-f`, or `--force-vermagic` for one with no short letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionName {
    Short(u8),
    Long(&'static str),
}

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OptionName::Short(c) => write!(f, "-{}", char::from(c)),
            OptionName::Long(name) => write!(f, "--{name}"),
        }
    }
}

/// A command line an applet does not run: the kinds every applet shares, and `E`, the
/// applet's own reasons (displayed in the words of the tool it stands in for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal<'a, E> {
    /// `-h`, `--help`: not an error, the usage is wanted.
    Help,
    Getopt(GetoptError<'a>),
    /// An option of the tool modinit stands in for that modinit's applet does not have.
    Unsupported(OptionName),
    /// Exit 1 without a word, as the tool does (util-linux's dmesg for `-l ,err`).
    Quiet,
    Tool(E),
}

impl<'a, E: fmt::Display> Refusal<'a, E> {
    /// The same refusal with the applet's own reason as a `dyn Display`: one reporter, not
    /// one per applet, formats them all.
    pub fn as_dyn(&self) -> Refusal<'a, &dyn fmt::Display> {
        match self {
            Refusal::Help => Refusal::Help,
            Refusal::Getopt(e) => Refusal::Getopt(*e),
            Refusal::Unsupported(option) => Refusal::Unsupported(*option),
            Refusal::Quiet => Refusal::Quiet,
            Refusal::Tool(e) => Refusal::Tool(e),
        }
    }
}

impl<'a, E> From<GetoptError<'a>> for Refusal<'a, E> {
    fn from(e: GetoptError<'a>) -> Self {
        Refusal::Getopt(e)
    }
}

/// Walks `args` (without the program name) as `spec` says, yielding each option and operand
/// in order; stops at the first error.
pub struct Getopt<'s, 'a> {
    spec: &'s Spec,
    args: &'s [&'a [u8]],
    next: usize,
    /// The rest of a group of short flags being read (`fv` of `-xfv`).
    flags: &'a [u8],
    only_operands: bool,
    failed: bool,
}

impl<'s, 'a> Getopt<'s, 'a> {
    pub fn new(spec: &'s Spec, args: &'s [&'a [u8]]) -> Self {
        Getopt { spec, args, next: 0, flags: &[], only_operands: false, failed: false }
    }

    fn take_next(&mut self) -> Option<&'a [u8]> {
        let arg = self.args.get(self.next).copied()?;
        self.next += 1;
        Some(arg)
    }

    fn short(&mut self) -> Result<Arg<'a>, GetoptError<'a>> {
        let (&c, rest) = self.flags.split_first().ok_or(GetoptError::InvalidOption(b'-'))?;
        self.flags = rest;
        let at = self.spec.short.iter().position(|&s| s == c && c != b':').ok_or(GetoptError::InvalidOption(c))?;
        if self.spec.short.get(at + 1) != Some(&b':') {
            return Ok(Arg::Opt(c, None));
        }
        let value = match core::mem::take(&mut self.flags) {
            [] => self.take_next().ok_or(GetoptError::MissingValue(c))?,
            inline => inline,
        };
        Ok(Arg::Opt(c, Some(value)))
    }

    fn long(&mut self, arg: &'a [u8], body: &'a [u8]) -> Result<Arg<'a>, GetoptError<'a>> {
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
            None => (body, None),
        };
        let exact = self.spec.long.iter().find(|l| l.name.as_bytes() == name);
        let mut prefixed = self.spec.long.iter().filter(|l| l.name.as_bytes().starts_with(name));
        let long = match (exact, prefixed.next()) {
            (Some(l), _) => l,
            (None, None) => return Err(GetoptError::UnrecognizedOption(arg)),
            // Several long names for one option (kmod's --show/--dry-run) are not ambiguous.
            (None, Some(first)) if prefixed.all(|l| l.id == first.id) => first,
            (None, Some(_)) => return Err(GetoptError::Ambiguous { given: arg, options: self.spec.long }),
        };
        match (long.value, inline) {
            (false, None) => Ok(Arg::Opt(long.id, None)),
            (false, Some(_)) => Err(GetoptError::UnexpectedValue(long.name)),
            (true, Some(v)) => Ok(Arg::Opt(long.id, Some(v))),
            (true, None) => {
                self.take_next().map(|v| Arg::Opt(long.id, Some(v))).ok_or(GetoptError::MissingLongValue(long.name))
            }
        }
    }
}

impl<'a> Iterator for Getopt<'_, 'a> {
    type Item = Result<Arg<'a>, GetoptError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = if !self.flags.is_empty() {
            self.short()
        } else {
            let arg = self.take_next()?;
            match arg {
                _ if self.only_operands || arg.len() < 2 || arg[0] != b'-' => Ok(Arg::Operand(arg)),
                b"--" => {
                    self.only_operands = true;
                    return self.next();
                }
                _ => match arg.strip_prefix(b"--") {
                    Some(body) => self.long(arg, body),
                    None => {
                        self.flags = &arg[1..];
                        self.short()
                    }
                },
            }
        };
        self.failed = step.is_err();
        Some(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    const SPEC: Spec = Spec {
        short: b"fvl:h",
        long: &[
            Long { name: "force", value: false, id: b'f' },
            Long { name: "verbose", value: false, id: b'v' },
            Long { name: "level", value: true, id: b'l' },
            Long { name: "show", value: false, id: b'n' },
            Long { name: "show-more", value: false, id: b'n' },
            Long { name: "help", value: false, id: b'h' },
            Long { name: "hello", value: false, id: b'H' },
        ],
    };

    fn run(line: &str) -> Vec<String> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        Getopt::new(&SPEC, &args)
            .map(|a| match a {
                Ok(Arg::Opt(c, None)) => format!("-{}", char::from(c)),
                Ok(Arg::Opt(c, Some(v))) => format!("-{}={}", char::from(c), String::from_utf8_lossy(v)),
                Ok(Arg::Operand(o)) => String::from_utf8_lossy(o).into_owned(),
                Err(e) => format!("error: {e}"),
            })
            .collect()
    }

    #[test]
    fn flags_combine_values_come_inline_or_next_and_options_may_follow_operands() {
        assert_eq!(run("-fv a -lerr b -l warn"), ["-f", "-v", "a", "-l=err", "b", "-l=warn"]);
        assert_eq!(run("-fl err"), ["-f", "-l=err"]);
        assert_eq!(run("--level=err,warn --level info x"), ["-l=err,warn", "-l=info", "x"]);
        assert_eq!(run("- -- -f --force"), ["-", "-f", "--force"], "`-` is an operand; after `--` all are");
    }

    #[test]
    fn long_names_may_be_shortened_to_a_unique_prefix() {
        assert_eq!(run("--verb --for --sh"), ["-v", "-f", "-n"], "--sh: two names, one option");
        assert_eq!(run("--he"), ["error: option '--he' is ambiguous; possibilities: '--help' '--hello'"]);
        assert_eq!(run("--help"), ["-h"], "an exact name wins over longer ones");
    }

    /// glibc's own wording for each refusal, and nothing after the first.
    #[test]
    fn refusals_read_like_glibcs() {
        assert_eq!(run("-x -f"), ["error: invalid option -- 'x'"]);
        assert_eq!(run("-fx"), ["-f", "error: invalid option -- 'x'"]);
        assert_eq!(run("-:"), ["error: invalid option -- ':'"]);
        assert_eq!(run("--nope"), ["error: unrecognized option '--nope'"]);
        assert_eq!(run("a -l"), ["a", "error: option requires an argument -- 'l'"]);
        assert_eq!(run("--level"), ["error: option '--level' requires an argument"]);
        assert_eq!(run("--force=1"), ["error: option '--force' doesn't allow an argument"]);
        assert_eq!(GetoptError::UnrecognizedOption(b"--\xff").to_string(), "unrecognized option '--\\xff'");
    }

    #[test]
    fn options_are_named_by_their_short_letter_else_their_long_name() {
        assert_eq!(SPEC.name(b'f').to_string(), "-f");
        assert_eq!(SPEC.name(b'n').to_string(), "--show", "no -n: the first long name");
        assert_eq!(SPEC.name(b'H').to_string(), "--hello");
    }
}
