//! `modprobe`'s command line, as kmod's getopt_long reads it (tools/modprobe.c): short flags
//! that combine (`-qb`), options with a value inline or next (`-S6.1.0`, `-S 6.1.0`,
//! `--set-version=6.1.0`), `--` ending the options. getopt permutes, so options may follow
//! names; module parameters (`foo=1`) are operands like names.

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
    /// `-v`: print what is inserted.
    pub verbose: bool,
    /// `--first-time`: fail if the module is in the kernel already.
    pub first_time: bool,
    /// `-S VERSION`: the kernel release whose modules to use.
    pub version: Option<&'a [u8]>,
    /// `-d DIR`: the root holding lib/modules.
    pub dirname: Option<&'a [u8]>,
}

/// A command line modprobe refuses, in getopt's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// `-x` that is not an option.
    InvalidOption(u8),
    /// `--xyz` that is not an option.
    UnrecognizedOption(&'a [u8]),
    /// An option that needs a value came last.
    MissingValue(&'a [u8]),
    /// An option kmod has that modinit's modprobe does not.
    Unsupported(&'a [u8]),
    /// Nothing to do: no module named.
    NoModule,
    /// `-D` and `-R` both given, or with `-r`.
    Conflicting,
    Help,
}

/// Parses `args` (without the program name). `operand` is called with each name or
/// parameter, in order.
pub fn parse<'a>(args: &[&'a [u8]], mut operand: impl FnMut(&'a [u8])) -> Result<Options<'a>, ArgError<'a>> {
    let mut opts = Options::default();
    let mut operands = 0;
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if only_operands || arg.len() < 2 || arg[0] != b'-' {
            operand(arg);
            operands += 1;
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
            let mut value = || inline.or_else(|| args.get(i).copied().inspect(|_| i += 1)).ok_or(ArgError::MissingValue(arg));
            match name {
                b"all" => opts.all = true,
                b"remove" => opts.remove = true,
                b"use-blacklist" => opts.use_blacklist = true,
                b"quiet" => opts.quiet = true,
                b"dry-run" | b"show" => opts.dry_run = true,
                b"verbose" => opts.verbose = true,
                b"first-time" => opts.first_time = true,
                b"show-depends" => set_mode(&mut opts, Mode::ShowDepends)?,
                b"resolve-alias" => set_mode(&mut opts, Mode::ResolveAlias)?,
                b"showconfig" | b"show-config" => opts.show_config = true,
                b"set-version" => opts.version = Some(value()?),
                b"dirname" => opts.dirname = Some(value()?),
                b"help" => return Err(ArgError::Help),
                b"config" | b"force" | b"force-vermagic"
                | b"force-modversion" | b"ignore-install" | b"ignore-remove" | b"dump-modversions" | b"show-modversions"
                | b"show-exports" | b"remove-dependencies" | b"wait" | b"syslog" | b"version" => {
                    return Err(ArgError::Unsupported(arg));
                }
                _ => return Err(ArgError::UnrecognizedOption(arg)),
            }
            continue;
        }
        for (at, &flag) in arg[1..].iter().enumerate() {
            let rest = &arg[2 + at..];
            let mut value = || match rest {
                [] => args.get(i).copied().inspect(|_| i += 1).ok_or(ArgError::MissingValue(arg)),
                r => Ok(r),
            };
            match flag {
                b'a' => opts.all = true,
                b'r' => opts.remove = true,
                b'b' => opts.use_blacklist = true,
                b'q' => opts.quiet = true,
                b'n' => opts.dry_run = true,
                b'v' => opts.verbose = true,
                b'D' => set_mode(&mut opts, Mode::ShowDepends)?,
                b'R' => set_mode(&mut opts, Mode::ResolveAlias)?,
                b'c' => opts.show_config = true,
                b'S' => {
                    opts.version = Some(value()?);
                    break;
                }
                b'd' => {
                    opts.dirname = Some(value()?);
                    break;
                }
                b'h' => return Err(ArgError::Help),
                b'C' | b'f' | b'i' | b's' | b'V' | b'w' => return Err(ArgError::Unsupported(arg)),
                other => return Err(ArgError::InvalidOption(other)),
            }
        }
    }
    if operands == 0 && !opts.show_config {
        return Err(ArgError::NoModule);
    }
    Ok(opts)
}

fn set_mode<'a>(opts: &mut Options<'a>, mode: Mode) -> Result<(), ArgError<'a>> {
    if opts.mode != Mode::Insert && opts.mode != mode {
        return Err(ArgError::Conflicting);
    }
    opts.mode = mode;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn run(line: &str) -> Result<(Options<'_>, Vec<&str>), ArgError<'_>> {
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
        assert!(opts.remove && opts.quiet && opts.verbose);
        assert_eq!(names, ["loop", "fat"]);
        assert!(run("-c -d /tmp/root").unwrap().0.show_config, "-c needs no name");
        assert!(run("--showconfig -D x").unwrap().0.show_config);
    }

    #[test]
    fn bad_command_lines_say_why() {
        assert_eq!(run("-x e1000").err(), Some(ArgError::InvalidOption(b'x')));
        assert_eq!(run("--frobnicate e1000").err(), Some(ArgError::UnrecognizedOption(b"--frobnicate")));
        assert_eq!(run("e1000 -S").err(), Some(ArgError::MissingValue(b"-S")));
        assert_eq!(run("-f e1000").err(), Some(ArgError::Unsupported(b"-f")));
        assert_eq!(run("-q").err(), Some(ArgError::NoModule));
        assert_eq!(run("-D -R x").err(), Some(ArgError::Conflicting));
        assert_eq!(run("--help").err(), Some(ArgError::Help));
    }
}
