//! `depmod`'s command line, as kmod 30's getopt_long reads it (tools/depmod.c): `-a`, `-b DIR`
//! (inline or next, `--basedir=DIR`), then an optional kernel version. getopt permutes, so
//! options may follow the version.

/// What depmod was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options<'a> {
    /// `-b DIR`: the root holding lib/modules/VERSION and the configuration.
    pub basedir: Option<&'a [u8]>,
    /// The kernel version; the running kernel's when None.
    pub version: Option<&'a [u8]>,
}

/// A command line depmod refuses, in getopt's and kmod's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// `-x` that is not an option.
    InvalidOption(u8),
    /// `--xyz` that is not an option.
    UnrecognizedOption(&'a [u8]),
    /// An option that needs a value came last.
    MissingValue(&'a [u8]),
    /// An option kmod's depmod has that modinit's does not.
    Unsupported(&'a [u8]),
    /// The first operand is not `N.M...` (kmod: "Bad version passed").
    BadVersion(&'a [u8]),
    /// Module files after the version: kmod indexes only those; modinit indexes the whole tree.
    ModuleFiles(&'a [u8]),
    Help,
}

/// Parses `args` (without the program name).
pub fn parse<'a>(args: &[&'a [u8]]) -> Result<Options<'a>, ArgError<'a>> {
    let mut opts = Options::default();
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if only_operands || arg.len() < 2 || arg[0] != b'-' {
            operand(&mut opts, arg)?;
            continue;
        }
        if arg == b"--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            };
            match name {
                b"all" => {}
                b"basedir" => {
                    opts.basedir = Some(inline.or_else(|| args.get(i).copied().inspect(|_| i += 1)).ok_or(ArgError::MissingValue(arg))?)
                }
                b"help" => return Err(ArgError::Help),
                // Deprecated; kmod ignores them too.
                b"unresolved-error" | b"quiet" | b"root" | b"map" => {}
                b"quick" | b"config" | b"symvers" | b"filesyms" | b"errsyms" | b"verbose" | b"show" | b"dry-run"
                | b"symbol-prefix" | b"warn" | b"version" => return Err(ArgError::Unsupported(arg)),
                _ => return Err(ArgError::UnrecognizedOption(arg)),
            }
            continue;
        }
        for (at, &flag) in arg[1..].iter().enumerate() {
            match flag {
                b'a' | b'u' | b'q' | b'r' | b'm' => {}
                b'b' => {
                    let rest = &arg[2 + at..];
                    let value = if rest.is_empty() { args.get(i).copied().inspect(|_| i += 1) } else { Some(rest) };
                    opts.basedir = Some(value.ok_or(ArgError::MissingValue(arg))?);
                    break;
                }
                b'h' => return Err(ArgError::Help),
                b'A' | b'C' | b'E' | b'F' | b'e' | b'v' | b'n' | b'P' | b'w' | b'V' => return Err(ArgError::Unsupported(arg)),
                other => return Err(ArgError::InvalidOption(other)),
            }
        }
    }
    Ok(opts)
}

fn operand<'a>(opts: &mut Options<'a>, arg: &'a [u8]) -> Result<(), ArgError<'a>> {
    if opts.version.is_some() {
        return Err(ArgError::ModuleFiles(arg));
    }
    if !is_version_number(arg) {
        return Err(ArgError::BadVersion(arg));
    }
    opts.version = Some(arg);
    Ok(())
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
    use std::vec::Vec;

    fn run(line: &str) -> Result<Options<'_>, ArgError<'_>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        parse(&args)
    }

    #[test]
    fn basedir_and_version_in_any_order() {
        let want = Options { basedir: Some(&b"/tmp/root"[..]), version: Some(&b"6.1.0-57-amd64"[..]) };
        assert_eq!(run("-b /tmp/root 6.1.0-57-amd64"), Ok(want));
        assert_eq!(run("-a -b/tmp/root 6.1.0-57-amd64"), Ok(want));
        assert_eq!(run("6.1.0-57-amd64 --basedir=/tmp/root -a"), Ok(want));
        assert_eq!(run("-ab /tmp/root -- 6.1.0-57-amd64"), Ok(want));
        assert_eq!(run("-q"), Ok(Options::default()), "deprecated options are ignored");
    }

    #[test]
    fn bad_command_lines_say_why() {
        assert_eq!(run("-x"), Err(ArgError::InvalidOption(b'x')));
        assert_eq!(run("--frobnicate"), Err(ArgError::UnrecognizedOption(b"--frobnicate")));
        assert_eq!(run("-b"), Err(ArgError::MissingValue(b"-b")));
        assert_eq!(run("-n 6.1"), Err(ArgError::Unsupported(b"-n")));
        assert_eq!(run("latest"), Err(ArgError::BadVersion(b"latest")));
        assert_eq!(run("6."), Err(ArgError::BadVersion(b"6.")));
        assert_eq!(run("6.1 /lib/modules/6.1/kernel/a.ko"), Err(ArgError::ModuleFiles(b"/lib/modules/6.1/kernel/a.ko")));
        assert_eq!(run("-h"), Err(ArgError::Help));
    }
}
