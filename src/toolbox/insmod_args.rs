//! `insmod`'s command line, as kmod's tools/insmod.c reads it: `insmod [options] FILE
//! [PARAM...]`, the parameters joined by single spaces for the kernel; `-f` asks the kernel to
//! ignore the module's symbol versions and version magic.

use crate::kernel::init_flags::Force;
use crate::toolbox::getopt::{Arg, Getopt, Long, Refusal, Spec};
use core::fmt;

const SPEC: Spec = Spec {
    short: b"psfVh",
    long: &[Long { name: "version", value: false, id: b'V' }, Long { name: "help", value: false, id: b'h' }],
};

/// What to insert: the file, how many bytes of the caller's buffer hold its parameters, and
/// what the kernel is to ignore (`-f`: both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insmod<'a> {
    pub file: &'a [u8],
    pub params_len: usize,
    pub force: Force,
}

/// insmod's own reasons to refuse a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsmodArgError {
    MissingFile,
    /// `-` for the file.
    Stdin,
    /// The parameters do not fit the caller's buffer, of this many bytes.
    ParamsTooLong(usize),
}

impl fmt::Display for InsmodArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InsmodArgError::MissingFile => f.write_str("missing filename."),
            InsmodArgError::Stdin => f.write_str("this tool does not support loading from stdin!"),
            InsmodArgError::ParamsTooLong(max) => write!(f, "parameters longer than {max} bytes"),
        }
    }
}

/// Parses `args` (without the program name); the parameters go to `params`, space-separated.
/// `-p` and `-s` are accepted and ignored, as kmod does.
pub fn parse<'a>(args: &[&'a [u8]], params: &mut [u8]) -> Result<Insmod<'a>, Refusal<'a, InsmodArgError>> {
    let mut file = None;
    let mut len = 0;
    let mut force = Force::NONE;
    for arg in Getopt::new(&SPEC, args) {
        match arg? {
            Arg::Opt(b'h', _) => return Err(Refusal::Help),
            Arg::Opt(b'p' | b's', _) => {}
            Arg::Opt(b'f', _) => force = Force::ALL,
            // kmod's `-V`.
            Arg::Opt(other, _) => return Err(Refusal::Unsupported(SPEC.name(other))),
            Arg::Operand(o) if file.is_none() => file = Some(o),
            Arg::Operand(param) => {
                let sep = usize::from(len > 0);
                let too_long = Refusal::Tool(InsmodArgError::ParamsTooLong(params.len()));
                let dst = params.get_mut(len..len + sep + param.len()).ok_or(too_long)?;
                dst[..sep].fill(b' ');
                dst[sep..].copy_from_slice(param);
                len += sep + param.len();
            }
        }
    }
    match file {
        None => Err(Refusal::Tool(InsmodArgError::MissingFile)),
        Some(b"-") => Err(Refusal::Tool(InsmodArgError::Stdin)),
        Some(file) => Ok(Insmod { file, params_len: len, force }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::getopt::{GetoptError, OptionName};
    use std::vec::Vec;

    fn run(line: &str) -> Result<(&str, String), Refusal<'_, InsmodArgError>> {
        parsed(line).map(|(file, params, _)| (file, params))
    }

    fn parsed(line: &str) -> Result<(&str, String, Force), Refusal<'_, InsmodArgError>> {
        let args: Vec<&[u8]> = line.split(' ').filter(|a| !a.is_empty()).map(str::as_bytes).collect();
        let mut buf = [0u8; 32];
        let i = parse(&args, &mut buf)?;
        let params = String::from_utf8(buf[..i.params_len].to_vec()).unwrap();
        Ok((core::str::from_utf8(i.file).unwrap(), params, i.force))
    }

    #[test]
    fn the_file_then_its_parameters_joined_by_spaces() {
        assert_eq!(run("/lib/e1000.ko.zst"), Ok(("/lib/e1000.ko.zst", String::new())));
        assert_eq!(run("-p e1000.ko copybreak=64 -s debug=1"), Ok(("e1000.ko", "copybreak=64 debug=1".into())));
        assert_eq!(run("-- x.ko -f"), Ok(("x.ko", "-f".into())), "after -- nothing is an option");
        assert_eq!(parsed("x.ko").map(|p| p.2), Ok(Force::NONE));
        assert_eq!(parsed("x.ko -f a=1").map(|p| p.2), Ok(Force::ALL), "-f: both, as kmod's insmod");
    }

    #[test]
    fn refusals() {
        assert_eq!(run(""), Err(Refusal::Tool(InsmodArgError::MissingFile)));
        assert_eq!(run("-"), Err(Refusal::Tool(InsmodArgError::Stdin)));
        assert_eq!(run("-h x.ko"), Err(Refusal::Help));
        assert_eq!(run("--help"), Err(Refusal::Help));
        assert_eq!(run("-V x.ko"), Err(Refusal::Unsupported(OptionName::Short(b'V'))));
        assert_eq!(run("-q x.ko"), Err(Refusal::Getopt(GetoptError::InvalidOption(b'q'))));
        let too_long = Err(Refusal::Tool(InsmodArgError::ParamsTooLong(32)));
        assert_eq!(run("x.ko aaaaaaaaaaaaaaaa=bbbbbbbbbbbbbbbbbbbb"), too_long);
    }
}
