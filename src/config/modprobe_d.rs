//! One modprobe.d file, parsed line by line as libkmod's `kmod_config_parse` does.
//!
//! kmod reads logical lines with `freadline_wrapped` (shared/util.c): `\` + newline joins the
//! next physical line, `\` + any other byte keeps that byte alone, and a NUL ends what C sees of
//! the line. A line starting with `#` is a comment; anywhere else `#` is text, so an indented
//! comment is a bad line. Words are split with `strtok_r(" \t")`; the free text of `options`,
//! `install`, ... is what `strtok_r` leaves after the blank that ends the module name.

use super::{ConfigWarning, Directive, WarningKind};
use crate::line::Bytes;
use crate::name::normalize_alias;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

/// Parses one modprobe.d file's text; `file` names it in warnings. Each directive comes with
/// its line number (the last physical line of a continued line, as kmod counts). Lines kmod
/// rejects are reported through `warn` with kmod's message, and skipped.
pub fn parse_modprobe_d(file: &str, text: &[u8], warn: &mut dyn FnMut(ConfigWarning)) -> Vec<(usize, Directive)> {
    let mut directives = Vec::new();
    for (line_number, line) in LogicalLines::new(text) {
        if matches!(line.first(), None | Some(b'#')) {
            continue;
        }
        let mut words = Words { rest: &line };
        let Some(command) = words.next_word() else { continue };
        let (message, kind) = match parse_directive(command, &mut words) {
            Ok(directive) => {
                directives.push((line_number, directive));
                continue;
            }
            Err(Rejected::Deprecated) => {
                (format!("command {} is deprecated and not parsed anymore", Bytes(command)), WarningKind::Deprecated)
            }
            Err(Rejected::BadLine) => {
                (format!("ignoring bad line starting with '{}'", Bytes(command)), WarningKind::BadLine)
            }
        };
        warn(ConfigWarning { file: file.to_string(), line: line_number, message, kind });
    }
    directives
}

/// Why kmod skips a line.
enum Rejected {
    /// `include` and `config`, from module-init-tools.
    Deprecated,
    /// An unknown command, a missing field or a bad name.
    BadLine,
}

fn parse_directive(command: &[u8], words: &mut Words<'_>) -> Result<Directive, Rejected> {
    Ok(match command {
        b"alias" => Directive::Alias { pattern: words.name()?, module: words.name()? },
        b"blacklist" => Directive::Blacklist { module: words.name()? },
        b"options" => Directive::Options {
            module: words.name()?,
            options: words.text()?.iter().map(|&c| if c == b'\t' { b' ' } else { c }).collect(),
        },
        b"install" => Directive::Install { module: words.name()?, command: words.text()?.to_vec() },
        b"remove" => Directive::Remove { module: words.name()?, command: words.text()?.to_vec() },
        b"softdep" => {
            let module = words.name()?;
            let (pre, post) = softdep_lists(words.text()?);
            Directive::Softdep { module, pre, post }
        }
        b"weakdep" => Directive::Weakdep {
            module: words.name()?,
            deps: dep_words(words.text()?).into_iter().map(<[u8]>::to_vec).collect(),
        },
        b"include" | b"config" => return Err(Rejected::Deprecated),
        _ => return Err(Rejected::BadLine),
    })
}

/// kmod's `underscores()`: a name or pattern normalized, None when its brackets do not match.
fn underscores(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; name.len()];
    let len = normalize_alias(name, &mut out)?;
    out.truncate(len);
    Some(out)
}

/// The `pre:` and `post:` lists of a softdep: words after `pre:` go to the first, after
/// `post:` to the second, each keyword switching as often as it appears; earlier words are
/// dropped (kmod_config_add_softdep).
fn softdep_lists(text: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut pre, mut post) = (Vec::new(), Vec::new());
    let mut list: Option<&mut Vec<Vec<u8>>> = None;
    for word in dep_words(text) {
        match word {
            b"pre:" => list = Some(&mut pre),
            b"post:" => list = Some(&mut post),
            _ => {
                if let Some(list) = list.as_deref_mut() {
                    list.push(word.to_vec());
                }
            }
        }
    }
    (pre, post)
}

/// The words of a softdep/weakdep list, split at C `isspace` bytes by a port of kmod's loop.
/// Its quirk is kept: a single blank at the start stays on the first word (kmod skips leading
/// blanks only from the second one on), so in `softdep m  pre: a` (two blanks after the module
/// name) the first word is ` pre:`, which is not the keyword.
fn dep_words(text: &[u8]) -> Vec<&[u8]> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut after_space = false;
    for (i, &c) in text.iter().enumerate() {
        if !is_c_space(c) {
            after_space = false;
        } else if after_space {
            start = i + 1;
        } else {
            after_space = true;
            if start < i {
                words.extend(text.get(start..i));
                start = i + 1;
            }
        }
    }
    if !after_space {
        words.extend(text.get(start..));
    }
    words
}

/// C's `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtok_r` over one logical line (which has no NUL: [`LogicalLines`] cut it there).
struct Words<'a> {
    rest: &'a [u8],
}

impl<'a> Words<'a> {
    /// `strtok_r(.., " \t", ..)`: skips blanks, returns the word, and steps over the one blank
    /// after it.
    fn next_word(&mut self) -> Option<&'a [u8]> {
        let is_blank = |c: &u8| *c == b' ' || *c == b'\t';
        let start = self.rest.iter().position(|c| !is_blank(c)).unwrap_or(self.rest.len());
        let text = self.rest.get(start..).unwrap_or_default();
        let (word, rest) = match text.iter().position(is_blank) {
            Some(end) => (text.get(..end), text.get(end + 1..)),
            None => (Some(text), None),
        };
        self.rest = rest.unwrap_or_default();
        word.filter(|w| !w.is_empty())
    }

    /// `strtok_r(NULL, "\0", ..)`, an empty delimiter set: all that is left, if anything.
    fn rest_of_line(&mut self) -> Option<&'a [u8]> {
        let rest = core::mem::take(&mut self.rest);
        Some(rest).filter(|r| !r.is_empty())
    }

    /// The module name (or alias pattern) a command needs next, through kmod's `underscores`;
    /// a missing one or a bracket error rejects the line.
    fn name(&mut self) -> Result<Vec<u8>, Rejected> {
        self.next_word().and_then(underscores).ok_or(Rejected::BadLine)
    }

    /// The free text a command needs after its name; none rejects the line.
    fn text(&mut self) -> Result<&'a [u8], Rejected> {
        self.rest_of_line().ok_or(Rejected::BadLine)
    }
}

/// kmod's `freadline_wrapped` over a whole file: (line number, logical line) pairs.
struct LogicalLines<'a> {
    rest: &'a [u8],
    /// Physical lines consumed so far.
    line: usize,
}

impl<'a> LogicalLines<'a> {
    fn new(text: &'a [u8]) -> Self {
        LogicalLines { rest: text, line: 0 }
    }
}

impl Iterator for LogicalLines<'_> {
    type Item = (usize, Vec<u8>);

    fn next(&mut self) -> Option<(usize, Vec<u8>)> {
        let mut line = Vec::new();
        let mut newlines = 0;
        loop {
            let Some((&c, rest)) = self.rest.split_first() else {
                // End of file: the end of a last line without newline, or of everything.
                if line.is_empty() {
                    return None;
                }
                newlines += 1;
                break;
            };
            self.rest = rest;
            match c {
                b'\n' => {
                    newlines += 1;
                    break;
                }
                b'\\' => match self.rest.split_first() {
                    Some((b'\n', rest)) => {
                        self.rest = rest;
                        newlines += 1;
                    }
                    Some((&escaped, rest)) => {
                        self.rest = rest;
                        line.push(escaped);
                    }
                    // kmod >= 34 drops a `\` at the very end; older kmod stored a 0xff byte there.
                    None => {}
                },
                _ => line.push(c),
            }
        }
        self.line += newlines;
        // What C sees of a line ends at its first NUL.
        if let Some(nul) = line.iter().position(|&c| c == 0) {
            line.truncate(nul);
        }
        Some((self.line, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> (Vec<(usize, Directive)>, Vec<String>) {
        let mut warnings = Vec::new();
        let directives = parse_modprobe_d("t.conf", text, &mut |w| warnings.push(w.to_string()));
        (directives, warnings)
    }

    fn only(text: &str) -> Directive {
        let (mut directives, warnings) = parse(text.as_bytes());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(directives.len(), 1, "{directives:?}");
        directives.remove(0).1
    }

    fn bytes(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn softdep(text: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        match only(text) {
            Directive::Softdep { pre, post, .. } => (pre, post),
            other => panic!("{other:?}"),
        }
    }

    /// kmod's testsuite input for freadline_wrapped (test-util/freadline_wrapped-input.txt)
    /// and what it expects (freadline_wrapped-correct.txt): the logical lines, and how many
    /// physical lines each took.
    #[test]
    fn logical_lines_join_continuations_as_kmods_testsuite_expects() {
        let line_256 = format!("this line has exactly 256 chars {}", "x".repeat(256 - 31));
        let line_2015 = format!("this line is very large {}", "word ".repeat(398));
        let input = format!(
            "this is the first line \\\nwrapped by one \\\\\nthis is a single line\nthree line \\\nlines \\\nin a row\n\
             {line_256}\n{line_2015}\nwrapped without newline\\"
        );
        let lines: Vec<_> = LogicalLines::new(input.as_bytes()).collect();
        let expected = [
            (2, "this is the first line wrapped by one \\".to_string()),
            (3, "this is a single line".to_string()),
            (6, "three line lines in a row".to_string()),
            (7, line_256),
            (8, line_2015),
            (9, "wrapped without newline".to_string()),
        ];
        let expected: Vec<_> = expected.into_iter().map(|(n, l)| (n, l.into_bytes())).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn backslash_keeps_the_next_byte_and_nul_ends_the_line() {
        let lines: Vec<_> = LogicalLines::new(b"a\\ b\\\\c\\#\nx\0y\\\nz\n\\\n").map(|(_, l)| l).collect();
        assert_eq!(lines, [&b"a b\\c#"[..], b"x"]);
        assert_eq!(
            LogicalLines::new(b"\n\nlast").collect::<Vec<_>>(),
            [(1, vec![]), (2, vec![]), (3, b"last".to_vec())]
        );
    }

    #[test]
    fn comments_only_at_the_start_of_a_line() {
        let (directives, warnings) = parse(b"# comment\n\n   \n\t\nblacklist a # not a comment\n  # indented\n");
        assert_eq!(directives, [(5, Directive::Blacklist { module: b"a".to_vec() })]);
        assert_eq!(warnings, ["t.conf line 6: ignoring bad line starting with '#'"]);
    }

    #[test]
    fn names_and_patterns_are_normalized_but_not_cut_at_dots() {
        assert_eq!(
            only("alias\tpci:v00008086d*sv*-[0-9a-f-]*  snd-hda-intel.ko extra words"),
            Directive::Alias {
                pattern: b"pci:v00008086d*sv*_[0-9a-f-]*".to_vec(),
                module: b"snd_hda_intel.ko".to_vec()
            }
        );
        assert_eq!(only("blacklist pc-spkr ignored"), Directive::Blacklist { module: b"pc_spkr".to_vec() });
        assert_eq!(
            only("install  floppy-x /bin/true  --x\t"),
            Directive::Install { module: b"floppy_x".to_vec(), command: b"/bin/true  --x\t".to_vec() }
        );
        assert_eq!(
            only("remove usb-storage\t\t/sbin/rmmod usb-storage"),
            Directive::Remove { module: b"usb_storage".to_vec(), command: b"\t/sbin/rmmod usb-storage".to_vec() }
        );
    }

    #[test]
    fn options_keep_quotes_and_leading_blanks_and_turn_tabs_into_spaces() {
        assert_eq!(
            only("options snd-hda-intel model=\"a b\"\tindex=0,1 "),
            Directive::Options { module: b"snd_hda_intel".to_vec(), options: b"model=\"a b\" index=0,1 ".to_vec() }
        );
        assert_eq!(
            only("options  iwlwifi   power_save=0"),
            Directive::Options { module: b"iwlwifi".to_vec(), options: b"  power_save=0".to_vec() }
        );
        assert_eq!(
            only("options nfs a=1 \\\n\tb=2"),
            Directive::Options { module: b"nfs".to_vec(), options: b"a=1  b=2".to_vec() }
        );
    }

    #[test]
    fn missing_fields_and_bad_names_reject_the_line() {
        let text = "alias only-pattern\nalias a]b m\nalias a m[\nblacklist\noptions m\noptions m \nremove m\n\
                    install\nsoftdep m\nweakdep m \noptions a[b x=1\nblacklist ok";
        let (directives, warnings) = parse(text.as_bytes());
        assert_eq!(directives, [(12, Directive::Blacklist { module: b"ok".to_vec() })]);
        let commands = ["alias", "alias", "alias", "blacklist", "options", "options", "remove", "install", "softdep"];
        let mut expected: Vec<_> = commands
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t.conf line {}: ignoring bad line starting with '{c}'", i + 1))
            .collect();
        expected.push("t.conf line 10: ignoring bad line starting with 'weakdep'".into());
        expected.push("t.conf line 11: ignoring bad line starting with 'options'".into());
        assert_eq!(warnings, expected);
    }

    #[test]
    fn unknown_and_deprecated_commands_are_reported() {
        let (directives, warnings) =
            parse(b"frobnicate x\ninclude /etc/x.conf\nconfig y\nBlacklist z\nblacklist\xff x\n");
        assert!(directives.is_empty());
        assert_eq!(
            warnings,
            [
                "t.conf line 1: ignoring bad line starting with 'frobnicate'",
                "t.conf line 2: command include is deprecated and not parsed anymore",
                "t.conf line 3: command config is deprecated and not parsed anymore",
                "t.conf line 4: ignoring bad line starting with 'Blacklist'",
                "t.conf line 5: ignoring bad line starting with 'blacklist\\xff'",
            ]
        );
    }

    #[test]
    fn softdep_lists_follow_their_keywords() {
        assert_eq!(softdep("softdep x pre: a b post: c"), (bytes(&["a", "b"]), bytes(&["c"])));
        assert_eq!(softdep("softdep x post: c pre: a post: d pre: b"), (bytes(&["a", "b"]), bytes(&["c", "d"])));
        assert_eq!(softdep("softdep x before pre:\ta\x0bb\x0c\rc  post:"), (bytes(&["a", "b", "c"]), vec![]));
        assert_eq!(softdep("softdep x lonely words"), (vec![], vec![]), "kept: it still hides later softdeps");
        assert_eq!(softdep("softdep x pre:post: a"), (vec![], vec![]), "keywords are whole words");
        assert_eq!(softdep("softdep x pre: dash-ed under_score"), (bytes(&["dash-ed", "under_score"]), vec![]));
        // tests/rootfs-pristine/test-multi-softdep of kmod.
        assert_eq!(
            softdep("softdep\tmod-softdep-b\tpost: mod-foo-b mod-foo-c"),
            (vec![], bytes(&["mod-foo-b", "mod-foo-c"]))
        );
    }

    /// Two blanks after the module name leave one on the text, and kmod's splitter keeps it on
    /// the first word; one or three blanks do not. modprobe -c shows `softdep x ` for it.
    #[test]
    fn softdep_after_exactly_two_blanks_loses_its_keyword_as_in_kmod() {
        assert_eq!(softdep("softdep x  pre: a"), (vec![], vec![]));
        assert_eq!(softdep("softdep x\t pre: a"), (vec![], vec![]));
        assert_eq!(softdep("softdep x   pre: a"), (bytes(&["a"]), vec![]));
        assert_eq!(softdep("softdep x pre: a "), (bytes(&["a"]), vec![]));
    }

    /// kmod's tests/rootfs-pristine/test-weakdep/etc/modprobe.d/dumb-weakdep.conf.
    #[test]
    fn weakdep_lists_every_word() {
        let (directives, warnings) = parse(b"weakdep mod-loop-a \t\nweakdep mod-loop-b mod-loop-a mod-simple\n");
        assert!(warnings.is_empty());
        assert_eq!(
            directives,
            [
                (1, Directive::Weakdep { module: b"mod_loop_a".to_vec(), deps: vec![] }),
                (2, Directive::Weakdep { module: b"mod_loop_b".to_vec(), deps: bytes(&["mod-loop-a", "mod-simple"]) }),
            ]
        );
    }

    /// kmod 33's parser rejects a weakdep line without a module name, with a bad bracket in
    /// it, or with nothing after the blank that ends it (`strtok_r(NULL, "\0")` is NULL).
    #[test]
    fn malformed_weakdep_lines_are_rejected_as_kmod_33_does() {
        let (directives, warnings) = parse(b"weakdep\nweakdep m\nweakdep m \nweakdep a]b x\nweakdep m\\\n x\n");
        let bad = |line: usize| format!("t.conf line {line}: ignoring bad line starting with 'weakdep'");
        assert_eq!(warnings, [bad(1), bad(2), bad(3), bad(4)]);
        assert_eq!(directives, [(6, Directive::Weakdep { module: b"m".to_vec(), deps: bytes(&["x"]) })]);
    }

    /// As for softdep, two blanks after the module name leave one on the first word (kmod's
    /// splitter in kmod_config_add_weakdep): the line keeps it, and no module has that name.
    #[test]
    fn weakdep_after_exactly_two_blanks_keeps_a_blank_on_its_first_name() {
        let weakdep = |text: &str| match only(text) {
            Directive::Weakdep { deps, .. } => deps,
            other => panic!("{other:?}"),
        };
        assert_eq!(weakdep("weakdep m  a b"), bytes(&[" a", "b"]));
        assert_eq!(weakdep("weakdep m   a\tb\x0bc"), bytes(&["a", "b", "c"]));
    }

    #[test]
    fn continued_lines_are_numbered_by_their_last_line() {
        let (directives, warnings) = parse(b"blacklist a\\\nb\nbogus \\\n\\\nx\nblacklist c");
        assert_eq!(
            directives,
            [(2, Directive::Blacklist { module: b"ab".to_vec() }), (6, Directive::Blacklist { module: b"c".to_vec() })]
        );
        assert_eq!(warnings, ["t.conf line 5: ignoring bad line starting with 'bogus'"]);
    }

    #[test]
    fn carriage_returns_and_high_bytes_are_part_of_names() {
        assert_eq!(only("blacklist crlf\r\n"), Directive::Blacklist { module: b"crlf\r".to_vec() });
        assert_eq!(only("blacklist h\u{e9}-x"), Directive::Blacklist { module: "h\u{e9}_x".as_bytes().to_vec() });
    }
}
