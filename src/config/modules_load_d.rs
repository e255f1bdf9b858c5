//! One modules-load.d file, read as systemd's modules-load.c reads it.
//!
//! Lines end at `\n`, `\r`, NUL or a combination of them (`read_line`, src/basic/fileio.c:
//! one terminator holds each of `\n` and `\r` at most once and ends after a NUL). Each line is
//! stripped of blanks at both ends; an empty line, or one starting with `#` or `;`, is skipped.
//! What is left is one module name or alias, given to kmod as it is.

use super::{ConfigWarning, WarningKind};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

/// systemd's LONG_LINE_MAX: `read_line` fails on a line this long or longer, and
/// modules-load stops reading the file there.
const LONG_LINE_MAX: usize = 1 << 20;

/// systemd's MODULE_NAME_MAX_LEN: recent systemd (with parallel loading) refuses longer
/// names; older versions pass them to kmod, which finds no such module.
const MODULE_NAME_MAX_LEN: usize = 4096;

/// The module names and aliases `text` lists, in order; `file` names it in warnings.
pub fn parse_modules_load_d(file: &str, text: &[u8], warn: &mut dyn FnMut(ConfigWarning)) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    let mut rest = text;
    let mut line_number = 0;
    while let Some(line) = next_line(&mut rest) {
        line_number += 1;
        let mut warning = |message| {
            warn(ConfigWarning { file: file.to_string(), line: line_number, message, kind: WarningKind::Modinit })
        };
        let Ok(line) = line else {
            warning(format!("line of {LONG_LINE_MAX} bytes or more; the rest of the file is ignored"));
            break;
        };
        let name = strip(line);
        match name.first() {
            None | Some(b'#' | b';') => {}
            Some(_) if name.len() > MODULE_NAME_MAX_LEN => {
                warning(format!("module name longer than {MODULE_NAME_MAX_LEN} bytes, ignored"));
            }
            Some(_) => names.push(name.to_vec()),
        }
    }
    names
}

/// systemd's `strstrip`: without the blanks (`WHITESPACE`, " \t\n\r") at both ends.
fn strip(line: &[u8]) -> &[u8] {
    let is_text = |c: &u8| !matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = line.iter().position(is_text).unwrap_or(line.len());
    let end = line.iter().rposition(is_text).map_or(start, |i| i + 1);
    line.get(start..end).unwrap_or_default()
}

/// `read_line` refused a line of [`LONG_LINE_MAX`] bytes or more.
struct LineTooLong;

/// The next line of `rest` without its terminator, and `rest` moved past both; None at the end
/// of the text.
fn next_line<'a>(rest: &mut &'a [u8]) -> Option<Result<&'a [u8], LineTooLong>> {
    if rest.is_empty() {
        return None;
    }
    let text = *rest;
    let end = text.iter().position(|&c| end_of_line(c) != 0).unwrap_or(text.len());
    if end >= LONG_LINE_MAX {
        return Some(Err(LineTooLong));
    }
    let mut after = end;
    let mut seen = 0;
    while let Some(&c) = text.get(after) {
        let eol = end_of_line(c);
        if eol == 0 || seen & (eol | NUL) != 0 {
            break;
        }
        seen |= eol;
        after += 1;
    }
    *rest = text.get(after..).unwrap_or_default();
    Some(Ok(text.get(..end).unwrap_or_default()))
}

const NUL: u8 = 1;

/// Which end-of-line marker `c` is, as a bit (0: none).
fn end_of_line(c: u8) -> u8 {
    match c {
        0 => NUL,
        b'\n' => 2,
        b'\r' => 4,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn parse(text: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut warnings = Vec::new();
        let names = parse_modules_load_d("m.conf", text, &mut |w| warnings.push(w.to_string()));
        (names.into_iter().map(|n| String::from_utf8(n).unwrap()).collect(), warnings)
    }

    #[test]
    fn one_name_per_line_without_comments_or_blanks() {
        let (names, warnings) =
            parse(b"# comment\n; comment\nvirtio-net\n\n  \t\n\tloop  \n  # indented\n  ;x\nsnd hda\n");
        assert_eq!(names, ["virtio-net", "loop", "snd hda"], "names are given to kmod as written");
        assert!(warnings.is_empty());
    }

    /// read_line's terminators: each of \n and \r at most once, NUL last.
    #[test]
    fn lines_end_at_newline_return_nul_or_combinations() {
        let (names, _) = parse(b"a\r\nb\n\rc\rd\0e\r\n\0f\n\ng\r\rh\0\0i\x0cj\x0c\x0bk");
        assert_eq!(
            names,
            ["a", "b", "c", "d", "e", "f", "g", "h", "i\x0cj\x0c\x0bk"],
            "only \\t and blanks are stripped"
        );
        let mut rest = &b"x\n\r\0\ny"[..];
        let mut lines = Vec::new();
        while let Some(line) = next_line(&mut rest) {
            lines.push(line.ok().unwrap());
        }
        assert_eq!(lines, [&b"x"[..], b"", b"y"], "\\n\\r\\0 is one terminator, the next \\n another");
    }

    #[test]
    fn a_line_too_long_stops_the_file() {
        let mut text = b"before\n".to_vec();
        text.extend(core::iter::repeat_n(b'x', LONG_LINE_MAX));
        text.extend(b"\nafter\n");
        let (names, warnings) = parse(&text);
        assert_eq!(names, ["before"]);
        assert_eq!(warnings, ["m.conf line 2: line of 1048576 bytes or more; the rest of the file is ignored"]);
        let fits = [vec![b'x'; LONG_LINE_MAX - 1], b"\nz".to_vec()].concat();
        let mut rest = &fits[..];
        assert_eq!(next_line(&mut rest).and_then(Result::ok).map(<[u8]>::len), Some(LONG_LINE_MAX - 1));
        assert_eq!(rest, b"z");
    }

    #[test]
    fn overlong_names_are_refused() {
        let long = "n".repeat(MODULE_NAME_MAX_LEN + 1);
        let (names, warnings) = parse(format!("ok\n  {}  \n{long}\n", &long[1..]).as_bytes());
        assert_eq!(names, ["ok".to_string(), long[1..].to_string()]);
        assert_eq!(warnings, ["m.conf line 3: module name longer than 4096 bytes, ignored"]);
    }
}
