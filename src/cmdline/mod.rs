//! Splitting the kernel command line (/proc/cmdline) into parameters, as the kernel does.
//!
//! The kernel's `next_arg()` (lib/cmdline.c) separates parameters by whitespace, lets double
//! quotes protect spaces (`a="b c"` or `"a=b c"`), and strips one pair of quotes around the
//! value. We follow it so that `init=` and `NAME.param=` mean what the kernel thinks they mean.
//! Read on from there: [`modules`] for what kmod takes from it (blacklists, `NAME.PARAM=VALUE`),
//! [`options`] for modinit's own `modinit.*` settings.

pub mod modules;
pub mod options;

/// One `key` or `key=value` parameter from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// Iterator over the parameters of a command line, in order.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

/// The parameters of `cmdline` (trailing newline and surrounding whitespace ignored).
pub fn params(cmdline: &[u8]) -> Params<'_> {
    Params { rest: cmdline }
}

/// Everything the kernel leaves to init after a bare `--`.
pub fn after_double_dash(cmdline: &[u8]) -> Option<&[u8]> {
    let mut it = params(cmdline);
    while let Some(p) = it.next() {
        if p.key == b"--" && p.value.is_none() {
            return Some(it.rest);
        }
    }
    None
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let start = self.rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let s = &self.rest[start..];
        let mut in_quote = false;
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            if b == b'"' {
                in_quote = !in_quote;
            } else if b.is_ascii_whitespace() && !in_quote {
                end = i;
                break;
            }
        }
        self.rest = &s[end..];
        Some(split_param(&s[..end]))
    }
}

fn split_param(token: &[u8]) -> Param<'_> {
    // A quote before the `=` wraps the whole parameter: `"a=b c"`.
    let token = strip_quotes(token);
    match token.iter().position(|&b| b == b'=') {
        Some(eq) => Param { key: &token[..eq], value: Some(strip_quotes(&token[eq + 1..])) },
        None => Param { key: token, value: None },
    }
}

fn strip_quotes(s: &[u8]) -> &[u8] {
    let s = s.strip_prefix(b"\"").unwrap_or(s);
    s.strip_suffix(b"\"").unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(cmdline: &str) -> Vec<(String, Option<String>)> {
        params(cmdline.as_bytes())
            .map(|p| {
                (String::from_utf8(p.key.to_vec()).unwrap(), p.value.map(|v| String::from_utf8(v.to_vec()).unwrap()))
            })
            .collect()
    }

    fn kv(k: &str, v: Option<&str>) -> (String, Option<String>) {
        (k.to_string(), v.map(str::to_string))
    }

    #[test]
    fn splits_on_whitespace_and_equals() {
        assert_eq!(
            all("console=ttyS0  quiet\tinit=/bin/sh\n"),
            vec![kv("console", Some("ttyS0")), kv("quiet", None), kv("init", Some("/bin/sh"))]
        );
    }

    #[test]
    fn quotes_protect_spaces_and_are_stripped() {
        assert_eq!(all(r#"a="b c" "d=e f" g"#), vec![kv("a", Some("b c")), kv("d", Some("e f")), kv("g", None)]);
    }

    #[test]
    fn empty_value_and_empty_line() {
        assert_eq!(all("root= "), vec![kv("root", Some(""))]);
        assert!(all(" \n").is_empty());
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(all("dyndbg=file a.c +p=x"), vec![kv("dyndbg", Some("file")), kv("a.c", None), kv("+p", Some("x"))]);
        assert_eq!(all("k=a=b"), vec![kv("k", Some("a=b"))]);
    }

    #[test]
    fn double_dash_hands_the_rest_to_init() {
        assert_eq!(after_double_dash(b"quiet -- single x=1"), Some(&b" single x=1"[..]));
        assert_eq!(after_double_dash(b"quiet single"), None);
    }
}
