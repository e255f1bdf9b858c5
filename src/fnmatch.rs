//! glibc's `fnmatch(pattern, string, 0)` in the C locale, for byte strings: how kmod matches alias patterns.
//!
//! With flags 0 a `*` matches any run of bytes (`/` and a leading `.` included) and every other element
//! of a pattern (a byte, `?`, `\x`, a bracket expression) matches exactly one byte. glibc tries the
//! elements between one `*` and the next at successive string positions, commits to the first position
//! where they all fit, and never revisits an earlier `*`. (Unless a bracket ends where the byte decides,
//! see below, that loses no match: every element has width one, so the next `*` can absorb whatever a
//! later placement would have skipped.) One saved retry point therefore does what glibc does without
//! recursion: O(pattern x string) time, constant stack, no heap.
//!
//! Bracket expressions follow glibc's posix/fnmatch_loop.c (2.36) byte for byte, quirks included; the
//! tests hold this file against the host's glibc:
//! - `!` or `^` first negates; `]` first is a member; `\` escapes the next byte, also inside brackets.
//! - `[:name:]` for the 12 POSIX classes (ASCII only: no byte >= 0x80 is in any class); an unknown name,
//!   or 2048 name letters, make the bracket match nothing, negated or not. `[=x=]` and `[.x.]` name the
//!   byte x (the C locale has no multi-byte collating elements, so a longer `[.ab.]` is invalid too).
//! - Ranges compare byte values. `a-` before `]` is two members; `a-` at the end of the pattern is
//!   invalid, not a literal `[`. In `[[.x.]-]` x is not a member but `-` is.
//! - An unterminated bracket is a literal `[`. glibc only checks the syntax of the items it reads before
//!   finding the byte, then skips the rest by simpler rules, so where a bracket ends can depend on the
//!   byte being matched (`[xa-[:b:]]` is one bracket for `x` but `[xa-[:b:]` then `]` for `b`).
//! - Pattern and string are C strings to glibc: a NUL byte ends either.
//!
//! `^` negates because glibc does so unless `POSIXLY_CORRECT` is set in its environment, which nothing
//! on a boot path sets.

/// glibc's `CHARCLASS_NAME_MAX`: a class name of this many letters makes a bracket invalid.
const CLASS_NAME_MAX: usize = 2048;

/// glibc `fnmatch(pattern, string, 0)`: true when `string` matches.
pub fn fnmatch(pattern: &[u8], string: &[u8]) -> bool {
    let pattern = until_nul(pattern);
    let string = until_nul(string);
    let (mut p, mut n) = (0, 0);
    // After a `*`: where the elements that follow it start, and where in the string they were last tried.
    let mut retry: Option<(usize, usize)> = None;
    loop {
        let next = match pattern.get(p) {
            None if n == string.len() => return true,
            None => None,
            Some(b'*') => {
                // A run of `*` and `?` is one star that first takes a byte for each `?`.
                while let Some(&wildcard @ (b'*' | b'?')) = pattern.get(p) {
                    if wildcard == b'?' {
                        if n == string.len() {
                            return false;
                        }
                        n += 1;
                    }
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                retry = Some((p, n));
                continue;
            }
            Some(_) => element(pattern, p, string.get(n).copied()),
        };
        match (next, retry) {
            (Some(after), _) => {
                p = after;
                n += 1;
            }
            // Try the elements after the last star one byte further on, as long as a byte is left for them.
            (None, Some((star_p, star_n))) if star_n + 1 < string.len() => {
                retry = Some((star_p, star_n + 1));
                (p, n) = (star_p, star_n + 1);
            }
            (None, _) => return false,
        }
    }
}

fn until_nul(s: &[u8]) -> &[u8] {
    s.split(|&b| b == 0).next().unwrap_or(s)
}

/// The pattern byte at `i`, 0 past the end (the NUL that ends the pattern in C).
fn at(pattern: &[u8], i: usize) -> u8 {
    pattern.get(i).copied().unwrap_or(0)
}

/// Matches the element at `pattern[p]` (not a `*`) against one string byte, `None` at the end of the
/// string. Returns where the next element starts.
fn element(pattern: &[u8], p: usize, byte: Option<u8>) -> Option<usize> {
    let byte = byte?;
    let next = p + 1;
    match at(pattern, p) {
        b'?' => Some(next),
        b'\\' => (pattern.get(next) == Some(&byte)).then_some(next + 1),
        b'[' => match bracket(pattern, next, byte) {
            Ok(end) => end,
            Err(Stop::Unterminated) => (byte == b'[').then_some(next),
            Err(Stop::Invalid) => None,
        },
        c => (c == byte).then_some(next),
    }
}

/// Why a bracket expression gives no answer of its own.
enum Stop {
    /// The pattern ends inside it: the `[` is then an ordinary byte.
    Unterminated,
    /// glibc rejects it: the element matches nothing.
    Invalid,
}

/// Matches the bracket expression whose items start at `start` (just past the `[`) against `byte`.
/// Returns where the next element starts if `byte` matches, `None` if it does not.
fn bracket(pattern: &[u8], start: usize, byte: u8) -> Result<Option<usize>, Stop> {
    let negated = matches!(at(pattern, start), b'!' | b'^');
    let mut i = start + usize::from(negated);
    // The first item is read before any `]` can close the expression.
    loop {
        match item(pattern, i, byte)? {
            Item::Contains(rest) => {
                let end = skip_items(pattern, rest)?;
                return Ok((!negated).then_some(end));
            }
            Item::Next(next) if at(pattern, next) == b']' => return Ok(negated.then_some(next + 1)),
            Item::Next(next) => i = next,
        }
    }
}

enum Item {
    /// The item holds the byte; the rest of the expression starts here.
    Contains(usize),
    /// It does not; the next item (or the closing `]`) starts here.
    Next(usize),
}

/// How a `-` after an item's first member is read.
#[derive(PartialEq)]
enum Dash {
    /// After a byte: a range unless `]` or the end follows.
    AfterByte,
    /// After `[.x.]`: a range, or if `]` follows, a `-` that still keeps x from matching on its own.
    AfterSymbol,
}

/// Reads the item at `pattern[i]`: a class `[:name:]`, an equivalence class `[=x=]`, or a byte or
/// collating symbol `[.x.]`, possibly the start of a range.
fn item(pattern: &[u8], i: usize, byte: u8) -> Result<Item, Stop> {
    let next = i + 1;
    let (low, low_end, dash_rule) = match at(pattern, i) {
        0 => return Err(Stop::Unterminated),
        b'\\' => match at(pattern, next) {
            0 => return Err(Stop::Invalid),
            escaped => (escaped, next + 1, Dash::AfterByte),
        },
        b'[' if at(pattern, next) == b':' => match class_name_end(pattern, next + 1)? {
            Some(name_end) => {
                let name = pattern.get(next + 1..name_end).unwrap_or_default();
                let member = in_class(name, byte).ok_or(Stop::Invalid)?;
                return Ok(if member { Item::Contains(name_end + 2) } else { Item::Next(name_end + 2) });
            }
            None => (b'[', next, Dash::AfterByte),
        },
        // `[=x=]` (x is never the pattern's end: a `=` follows it); anything else makes `[` a byte.
        b'[' if at(pattern, next) == b'=' && (at(pattern, next + 2), at(pattern, next + 3)) == (b'=', b']') => {
            let x = at(pattern, next + 1);
            return Ok(if x == byte { Item::Contains(next + 4) } else { Item::Next(next + 4) });
        }
        b'[' if at(pattern, next) == b'.' => {
            let (symbol, end) = collating_symbol(pattern, next)?;
            (symbol, end, Dash::AfterSymbol)
        }
        c => (c, next, Dash::AfterByte),
    };
    let dash = at(pattern, low_end) == b'-';
    let after_dash = at(pattern, low_end + 1);
    // glibc decides whether `low` alone is a member before it knows whether a range really follows.
    let range_pending = dash && after_dash != 0 && (dash_rule == Dash::AfterSymbol || after_dash != b']');
    if !range_pending && low == byte {
        return Ok(Item::Contains(low_end));
    }
    if !dash || after_dash == b']' {
        return Ok(Item::Next(low_end));
    }
    let (high, end) = range_end(pattern, low_end + 1)?;
    Ok(if (low..=high).contains(&byte) { Item::Contains(end) } else { Item::Next(end) })
}

/// Reads the upper end of a range at `pattern[i]`: a byte, `\x` or `[.x.]`.
fn range_end(pattern: &[u8], i: usize) -> Result<(u8, usize), Stop> {
    match (at(pattern, i), at(pattern, i + 1)) {
        (b'[', b'.') => collating_symbol(pattern, i + 1),
        (0, _) | (b'\\', 0) => Err(Stop::Invalid),
        (b'\\', escaped) => Ok((escaped, i + 2)),
        (high, _) => Ok((high, i + 1)),
    }
}

/// Reads `[.x.]` from its `.` at `pattern[dot]`: the byte x, and where the symbol ends.
fn collating_symbol(pattern: &[u8], dot: usize) -> Result<(u8, usize), Stop> {
    let close = symbol_close(pattern, dot)?;
    match pattern.get(dot + 1..close) {
        Some(&[x]) => Ok((x, close + 2)),
        _ => Err(Stop::Invalid),
    }
}

/// Finds the `.]` that closes the collating symbol opened by the `.` at `pattern[dot]`.
fn symbol_close(pattern: &[u8], dot: usize) -> Result<usize, Stop> {
    let rest = pattern.get(dot + 1..).unwrap_or_default();
    rest.windows(2).position(|w| w == b".]").map(|k| dot + 1 + k).ok_or(Stop::Invalid)
}

/// After `[:` at the start of an item: where a well-formed class name ends (at its `:]`), or `None`
/// when the `[` is an ordinary byte.
fn class_name_end(pattern: &[u8], name_start: usize) -> Result<Option<usize>, Stop> {
    let letters = class_letters(pattern, name_start, CLASS_NAME_MAX);
    if letters == CLASS_NAME_MAX {
        return Err(Stop::Invalid);
    }
    let end = name_start + letters;
    Ok((at(pattern, end) == b':' && at(pattern, end + 1) == b']').then_some(end))
}

/// How many bytes glibc takes for a class name (`a` to `y`) start at `pattern[i]`, counting up to `limit`.
fn class_letters(pattern: &[u8], i: usize, limit: usize) -> usize {
    let rest = pattern.get(i..).unwrap_or_default();
    rest.iter().take(limit).take_while(|b| (b'a'..=b'y').contains(b)).count()
}

/// Whether `byte` is in the C locale's class `name`; `None` for an unknown class.
fn in_class(name: &[u8], byte: u8) -> Option<bool> {
    Some(match name {
        b"alnum" => byte.is_ascii_alphanumeric(),
        b"alpha" => byte.is_ascii_alphabetic(),
        b"blank" => matches!(byte, b' ' | b'\t'),
        b"cntrl" => byte.is_ascii_control(),
        b"digit" => byte.is_ascii_digit(),
        b"graph" => byte.is_ascii_graphic(),
        b"lower" => byte.is_ascii_lowercase(),
        b"print" => matches!(byte, b' '..=b'~'),
        b"punct" => byte.is_ascii_punctuation(),
        // isspace: also \v, which is_ascii_whitespace leaves out.
        b"space" => matches!(byte, b' ' | b'\t'..=b'\r'),
        b"upper" => byte.is_ascii_uppercase(),
        b"xdigit" => byte.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// Skips the rest of a bracket expression that already matched, from `pattern[i]`. glibc checks less
/// here than while looking for the byte. Returns where the next element starts.
fn skip_items(pattern: &[u8], mut i: usize) -> Result<usize, Stop> {
    loop {
        let c = at(pattern, i);
        i += 1;
        match (c, at(pattern, i)) {
            (b']', _) => return Ok(i),
            (0, _) => return Err(Stop::Unterminated),
            (b'\\', 0) => return Err(Stop::Invalid),
            (b'\\', _) => i += 1,
            (b'[', b':') => {
                // Any run of name letters closed by `:]` is skipped, known class or not; otherwise the
                // `[` was an ordinary byte and skipping goes on from the `:`.
                let letters = class_letters(pattern, i + 1, CLASS_NAME_MAX - 1);
                if letters == CLASS_NAME_MAX - 1 {
                    return Err(Stop::Invalid);
                }
                let end = i + 1 + letters;
                if at(pattern, end) == b':' && at(pattern, end + 1) == b']' {
                    i = end + 2;
                }
            }
            // `[=` must be `[=x=]` here: no falling back to an ordinary `[`.
            (b'[', b'=') if (at(pattern, i + 2), at(pattern, i + 3)) == (b'=', b']') => i += 4,
            (b'[', b'=') => return Err(Stop::Invalid),
            (b'[', b'.') => i = symbol_close(pattern, i)? + 2,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modinit_test_fixtures::{
        Random, fnmatch_literal_prefix_len as literal_prefix_len, modules_under, real_module_tree,
    };
    use std::collections::BTreeSet;
    use std::ffi::{CString, c_char, c_int};
    use std::fs::{self, File};
    use std::os::unix::fs::FileExt;
    use std::path::Path;

    unsafe extern "C" {
        #[link_name = "fnmatch"]
        fn glibc_fnmatch(pattern: *const c_char, string: *const c_char, flags: c_int) -> c_int;
    }

    /// The host glibc's answer (a Rust process never calls setlocale: this is the C locale).
    fn glibc(pattern: &[u8], string: &[u8]) -> bool {
        assert!(std::env::var_os("POSIXLY_CORRECT").is_none(), "POSIXLY_CORRECT makes glibc read `[^` literally");
        let pattern = CString::new(until_nul(pattern)).expect("cut at the first NUL");
        let string = CString::new(until_nul(string)).expect("cut at the first NUL");
        // SAFETY: both pointers are NUL-terminated strings that live until the call returns; fnmatch
        // only reads them.
        let result = unsafe { glibc_fnmatch(pattern.as_ptr(), string.as_ptr(), 0) };
        assert!(result == 0 || result == 1, "glibc fnmatch returned {result}");
        result == 0
    }

    /// Counts pattern/string pairs checked against glibc.
    #[derive(Default)]
    struct Compared {
        cases: usize,
        matched: usize,
    }

    impl Compared {
        /// Asserts that fnmatch agrees with glibc, and that a match starts with the literal prefix.
        fn check(&mut self, pattern: &[u8], string: &[u8]) -> bool {
            let expected = glibc(pattern, string);
            let (p, s) = (pattern.escape_ascii(), string.escape_ascii());
            assert_eq!(fnmatch(pattern, string), expected, "fnmatch(\"{p}\", \"{s}\"): glibc says {expected}");
            self.cases += 1;
            if expected {
                self.matched += 1;
                let prefix = pattern.get(..literal_prefix_len(pattern)).expect("prefix within the pattern");
                assert!(string.starts_with(prefix), "\"{s}\" matches \"{p}\" but not its literal prefix");
            }
            expected
        }
    }

    /// A string `pattern` probably matches: `*` becomes `star()`, `?` an `X`, a bracket one of its
    /// ends (or `~` if negated), an escape the escaped byte.
    fn derive(pattern: &[u8], rng: &mut Random, star: fn(&mut Random) -> &'static [u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&c) = pattern.get(i) {
            i += 1;
            match c {
                b'*' => out.extend_from_slice(star(rng)),
                b'?' => out.push(b'X'),
                b'\\' => {
                    out.extend(pattern.get(i));
                    i += 1;
                }
                b'[' => {
                    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
                    let body = i + usize::from(negated);
                    // A `]` right after the `[` (and negation) is a member, not the end.
                    match pattern.get(body + 1..).and_then(|rest| rest.iter().position(|&b| b == b']')) {
                        Some(k) => {
                            let ends = [pattern[body], pattern[body + k]];
                            out.push(if negated { b'~' } else { *rng.pick(&ends) });
                            i = body + k + 2;
                        }
                        None => out.push(b'['),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn hand_picked_cases() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"", b"", true),
            (b"", b"a", false),
            (b"*", b"", true),
            (b"*", b".a/b", true),
            (b"?", b"", false),
            (b"?", b"/", true),
            (b"*?", b"", false),
            (b"*??", b"a", false),
            (b"*?*", b"a", true),
            (b"a*b*c", b"aXbYc", true),
            (b"a*b*c", b"aXbYcZ", false),
            (b"a*b*c", b"abcbc", true),
            (b"*a*b", b"aaab", true),
            (b"\\*", b"*", true),
            (b"\\*", b"a", false),
            (b"*\\a", b"xa", true),
            // A trailing backslash never matches, not even itself.
            (b"a\\", b"a", false),
            (b"a\\", b"a\\", false),
            (b"[abc]", b"b", true),
            (b"[abc]", b"d", false),
            (b"[a-c]", b"b", true),
            (b"[c-a]", b"b", false),
            (b"[!a-c]", b"d", true),
            (b"[^a-c]", b"b", false),
            (b"[!a]", b"", false),
            (b"[]a]", b"]", true),
            (b"[!]a]", b"]", false),
            (b"[]-a]", b"^", true),
            (b"[a-]", b"-", true),
            (b"[\\]]", b"]", true),
            (b"[a\\-c]", b"-", true),
            (b"[a\\-c]", b"b", false),
            (b"[A-\\]]", b"]", true),
            (b"[A-\\]]", b"^", false),
            // Unterminated: the `[` is an ordinary byte...
            (b"[", b"[", true),
            (b"[ab", b"[ab", true),
            (b"[ab", b"a", false),
            (b"[\\]", b"[]", true),
            // ...except that a dash at the very end is an invalid range.
            (b"[a-", b"[a-", false),
            (b"[[:alpha:]]", b"a", true),
            (b"[[:alpha:]]", b"1", false),
            (b"[[:digit:][:upper:]]", b"Q", true),
            (b"[![:digit:]]", b"x", true),
            (b"[[:space:]]", b"\x0b", true),
            (b"[[:blank:]]", b"\n", false),
            (b"[[:punct:]]", b"_", true),
            (b"[[:alpha:]]", b"\xe9", false),
            // Unknown classes match nothing, negated or not, but are not checked once the byte matched.
            (b"[[:foo:]]", b"a", false),
            (b"[![:foo:]]", b"a", false),
            (b"[a[:foo:]]", b"a", true),
            (b"[a[:foo:]]", b"b", false),
            (b"[[:alpha]", b"[", true),
            (b"[[:alpha]", b"p", true),
            (b"[[=a=]]", b"a", true),
            (b"[[=a=]]", b"b", false),
            (b"[[===]]", b"=", true),
            (b"[a[=b]", b"[", true),
            (b"[a[=b]", b"a", false),
            (b"[[.a.]]", b"a", true),
            (b"[[.ab.]]", b"a", false),
            (b"[[.].]]", b"]", true),
            (b"[[.a.]-c]", b"b", true),
            (b"[a-[.c.]]", b"b", true),
            (b"[[.a.]-]", b"a", false),
            (b"[[.a.]-]", b"-", true),
            // Where the bracket ends depends on the byte.
            (b"[xa-[:b:]]", b"x", true),
            (b"[xa-[:b:]]", b"x]", false),
            (b"[xa-[:b:]]", b"b]", true),
            (b"[\x80-\xff]", b"\xe9", true),
            (b"\xe9*", b"\xe9t", true),
            // C strings: a NUL ends pattern and string.
            (b"ab\0cd", b"ab", true),
            (b"ab", b"ab\0cd", true),
            (b"pci:v00008086d*sv*sd*bc01sc06i01*", b"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", true),
            (b"pci:v00008086d*sv*sd*bc01sc06i01*", b"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i02", false),
            (b"usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*", b"usb:v0627p0001d0000dc00dsc00dp00ic03isc01ip01in00", true),
            (b"usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*", b"usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00", false),
            (b"acpi*:PNP0C0A:*", b"acpi:PNP0C0A:", true),
            (b"acpi*:PNP0C0A:*", b"acpi:PNP0C0B:PNP0C0A:", true),
            (b"dmi*:rvnLENOVO:*", b"dmi:bvnLENOVO:bvrN1:svnLENOVO:rvnLENOVO:rn20:", true),
            (b"usb:v0BDAp8153d0[0-2]*dc*", b"usb:v0BDAp8153d0201dcFF", true),
            (b"usb:v0BDAp8153d0[0-2]*dc*", b"usb:v0BDAp8153d0301dcFF", false),
        ];
        for &(pattern, string, expected) in cases {
            let (p, s) = (pattern.escape_ascii(), string.escape_ascii());
            assert_eq!(fnmatch(pattern, string), expected, "fnmatch(\"{p}\", \"{s}\")");
            assert_eq!(glibc(pattern, string), expected, "the expectation for (\"{p}\", \"{s}\") is not glibc's");
        }
    }

    #[test]
    fn literal_prefix_stops_at_the_first_special_byte() {
        assert_eq!(literal_prefix_len(b"pci:v00008086d*sv*"), 14);
        assert_eq!(literal_prefix_len(b"acpi?x"), 4);
        assert_eq!(literal_prefix_len(b"d0[0-2]"), 2);
        assert_eq!(literal_prefix_len(b"a\\*"), 1);
        assert_eq!(literal_prefix_len(b"ab\0*"), 2);
        assert_eq!(literal_prefix_len(b"plain"), 5);
        assert_eq!(literal_prefix_len(b""), 0);
    }

    #[test]
    fn stars_backtrack_without_blowing_up() {
        let mut compared = Compared::default();
        let many_a = [b'a'; 4000];
        assert!(!compared.check(&[&b"*a".repeat(12)[..], b"*b"].concat(), &many_a));
        assert!(compared.check(&b"*a".repeat(12), &many_a));
        assert!(compared.check(&[&b"*a?".repeat(40)[..], b"*"].concat(), &many_a));
        assert!(!fnmatch(&b"*a".repeat(5000), &many_a));
        assert!(fnmatch(&b"*".repeat(100_000), b"x"));
    }

    #[test]
    fn agrees_with_glibc_on_classes_ranges_and_symbols() {
        let mut compared = Compared::default();
        let classes = ["alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space"];
        let names = classes.iter().chain(&["upper", "xdigit", "foo", "", "Alpha", "alphaa", "zz"]);
        for name in names {
            for byte in 1..=255u8 {
                for form in ["[[:N:]]", "[![:N:]]", "[x[:N:]]", "[[:N:]x]", "[^[:N:]x]"] {
                    compared.check(form.replace('N', name).as_bytes(), &[byte]);
                }
            }
        }
        let ends = [1, b'!', b'-', b'0', b'9', b'A', b'Z', b'[', b'\\', b']', b'^', b'a', b'z', 0x7f, 0x80, 0xe9, 0xff];
        for low in ends {
            for high in ends {
                let forms: [&[u8]; 5] = [
                    &[b'[', low, b'-', high, b']'],
                    &[b'[', b'!', low, b'-', high, b']'],
                    &[b'[', b'\\', low, b'-', b'\\', high, b']'],
                    &[b'[', b'[', b'.', low, b'.', b']', b'-', b'[', b'.', high, b'.', b']', b']'],
                    &[b'[', b'x', low, b'-', high, b']'],
                ];
                for form in forms {
                    for byte in 1..=255u8 {
                        compared.check(form, &[byte]);
                    }
                }
            }
        }
        for x in 1..=255u8 {
            for byte in [x, x.wrapping_add(1).max(1), b'a', b'[', b'='] {
                compared.check(&[b'[', b'[', b'=', x, b'=', b']', b']'], &[byte]);
                compared.check(&[b'[', b'[', b'.', x, b'.', b']', b']'], &[byte]);
                compared.check(&[b'[', b'a', b'[', b'=', x, b'=', b']', b']'], &[byte]);
            }
        }
        // Class names around glibc's CHARCLASS_NAME_MAX, found and skipped.
        for letters in CLASS_NAME_MAX - 3..=CLASS_NAME_MAX + 1 {
            let name = "a".repeat(letters);
            for string in ["x", "[", "a"] {
                compared.check(format!("[[:{name}:]]").as_bytes(), string.as_bytes());
                compared.check(format!("[x[:{name}:]]").as_bytes(), string.as_bytes());
                compared.check(format!("[[:{name}]").as_bytes(), string.as_bytes());
                compared.check(format!("[x[:{name}]").as_bytes(), string.as_bytes());
            }
        }
        let (cases, matched) = (compared.cases, compared.matched);
        println!("classes, ranges and symbols: {cases} cases compared with glibc, {matched} matches");
    }

    /// Every bracket expression of up to three items from a set of awkward ones.
    #[test]
    fn agrees_with_glibc_on_all_short_brackets() {
        const ITEMS: &[&[u8]] = &[
            b"a",
            b"b",
            b"-",
            b"]",
            b"!",
            b"^",
            b"\\",
            b"[",
            b":",
            b"=",
            b".",
            b"[.a.]",
            b"[=a=]",
            b"[:alpha:]",
            b"[:foo:]",
            b"[.",
            b"[:",
            b"[=",
        ];
        const BYTES: &[u8] = b"ab-][\\:=.!^Z";
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = bodies.clone();
        for _ in 0..3 {
            last = last.iter().flat_map(|body| ITEMS.iter().map(move |item| [&body[..], item].concat())).collect();
            bodies.extend_from_slice(&last);
        }
        let mut compared = Compared::default();
        for body in &bodies {
            for suffix in [&b""[..], b"]", b"]]", b"]x"] {
                let pattern = [&b"["[..], body, suffix].concat();
                for &byte in BYTES {
                    for string in [&[byte][..], &[byte, b']'], &[byte, b'x']] {
                        compared.check(&pattern, string);
                    }
                }
            }
        }
        println!("short brackets: {} cases compared with glibc, {} matches", compared.cases, compared.matched);
    }

    #[test]
    fn agrees_with_glibc_on_random_patterns() {
        const CASES: usize = 300_000;
        const PATTERN_BYTES: &[u8] = b"*?[]!^-\\:abc/.\x80\xe9\xff";
        const PIECES: &[&[u8]] = &[
            b"[:alpha:]",
            b"[:digit:]",
            b"[:punct:]",
            b"[:foo:]",
            b"[::]",
            b"[=a=]",
            b"[=]=]",
            b"[.a.]",
            b"[.-.]",
            b"[..]",
            b"[.ab.]",
            b"[.a.]-",
            b"a-c",
            b"]-",
            b"=",
            b"[a-c]",
            b"[!]b]",
            b"[:",
            b":]",
            b"[=",
            b"=]",
            b"[.",
            b".]",
        ];
        const STRING_BYTES: &[u8] = b"abc/.-]![:^\\*?=AZ09 \x80\xe9\xff";
        fn string_byte(rng: &mut Random) -> u8 {
            *rng.pick(STRING_BYTES)
        }
        let mut rng = Random::new(0x5eed);
        let mut compared = Compared::default();
        for _ in 0..CASES {
            let mut pattern = Vec::new();
            for _ in 0..rng.below(10) {
                if rng.below(4) == 0 {
                    let piece = *rng.pick(PIECES);
                    pattern.extend_from_slice(piece);
                } else {
                    pattern.push(*rng.pick(PATTERN_BYTES));
                }
            }
            let string: Vec<u8> = match rng.below(3) {
                0 => (0..rng.below(8)).map(|_| string_byte(&mut rng)).collect(),
                1 => derive(&pattern, &mut rng, |rng| *rng.pick(&[&b""[..], b"a", b"b/.", b"]"])),
                // The pattern's bytes, stars and `?` filled in, some bytes changed.
                _ => (pattern.iter())
                    .flat_map(|&c| match c {
                        b'*' => (0..rng.below(3)).map(|_| string_byte(&mut rng)).collect(),
                        b'?' => vec![string_byte(&mut rng)],
                        _ if rng.below(10) == 0 => vec![string_byte(&mut rng)],
                        _ => vec![c],
                    })
                    .collect(),
            };
            compared.check(&pattern, &string);
        }
        println!("random patterns: {} cases compared with glibc, {} matches", compared.cases, compared.matched);
        assert!(compared.matched > CASES / 10, "only {} matches: the generator tests too little", compared.matched);
    }

    /// The `.modinfo` section of a plain 64-bit little-endian ELF module.
    fn modinfo(path: &Path) -> Vec<u8> {
        let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let read = |offset: u64, len: u64| {
            let mut buf = vec![0; len as usize];
            file.read_exact_at(&mut buf, offset).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            buf
        };
        let le = |bytes: &[u8], at: usize, len: usize| {
            bytes[at..at + len].iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
        };
        let header = read(0, 64);
        assert_eq!(&header[..6], b"\x7fELF\x02\x01", "{}: not a 64-bit little-endian ELF", path.display());
        let (entry_size, count) = (le(&header, 0x3a, 2), le(&header, 0x3c, 2));
        let sections = read(le(&header, 0x28, 8), entry_size * count);
        let section = |i: u64| &sections[(i * entry_size) as usize..][..entry_size as usize];
        let names = section(le(&header, 0x3e, 2));
        let names = read(le(names, 0x18, 8), le(names, 0x20, 8));
        (0..count)
            .map(section)
            .find(|s| names[le(s, 0, 4) as usize..].starts_with(b".modinfo\0"))
            .map(|s| read(le(s, 0x18, 8), le(s, 0x20, 8)))
            .unwrap_or_default()
    }

    #[test]
    fn agrees_with_glibc_on_the_debian_alias_patterns() {
        let Some(tree) = real_module_tree() else { return };
        let modules = modules_under(&tree.join("kernel"));
        let mut patterns = BTreeSet::new();
        for module in &modules {
            for field in modinfo(module).split(|&b| b == 0) {
                patterns.extend(field.strip_prefix(b"alias=").map(<[u8]>::to_vec));
            }
        }
        let builtin = fs::read(tree.join("modules.builtin.modinfo")).unwrap_or_default();
        for field in builtin.split(|&b| b == 0) {
            let value = field.windows(7).position(|w| w == b".alias=").and_then(|at| field.get(at + 7..));
            patterns.extend(value.map(<[u8]>::to_vec));
        }
        let patterns: Vec<Vec<u8>> = patterns.into_iter().collect();
        assert!(patterns.len() > 10_000, "only {} alias patterns in {}", patterns.len(), tree.display());

        let mut rng = Random::new(0xa11a5);
        let mut own = Compared::default();
        let mut others = Compared::default();
        let star_fills: [fn(&mut Random) -> &'static [u8]; 3] =
            [|_| b"", |_| b"XYZ", |rng| *rng.pick(&[&b""[..], b"XYZ", b"0", b":", b"*"])];
        for pattern in &patterns {
            for fill in star_fills {
                let string = derive(pattern, &mut rng, fill);
                own.check(pattern, &string);
                for _ in 0..3 {
                    let other = rng.pick(&patterns);
                    others.check(other, &string);
                }
                let mut near_miss = string.clone();
                if let Some(byte) = near_miss.get_mut(rng.below(string.len().max(1))) {
                    *byte = *rng.pick(b"0aZ:*");
                }
                own.check(pattern, &near_miss);
            }
        }
        println!(
            "{} alias patterns from {} modules: {} cases against their own pattern ({} matches), {} against others",
            patterns.len(),
            modules.len(),
            own.cases,
            own.matched,
            others.cases
        );
        assert!(own.matched > own.cases / 3, "derived strings match too rarely: {} of {}", own.matched, own.cases);
    }
}
