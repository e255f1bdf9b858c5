//! `modinit::config::parse_modprobe_d` and `parse_modules_load_d` on any file contents.
//!
//! Both parsers must give back, from their own results written out as a file, the same
//! results without a warning; line numbers must grow; names must be what kmod and systemd
//! can be handed (no blanks in modprobe.d names, no line breaks or NUL anywhere).

use modinit::config::{ConfigWarning, Directive, parse_modprobe_d, parse_modules_load_d};

pub fn fuzz(data: &[u8]) {
    modprobe_d(data);
    modules_load_d(data);
}

fn modprobe_d(data: &[u8]) {
    let mut warnings = Vec::new();
    let directives = parse_modprobe_d("fuzz.conf", data, &mut |w| warnings.push(w));
    let physical_lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut lines: Vec<usize> = directives.iter().map(|(line, _)| *line).collect();
    lines.extend(warnings.iter().map(|w| w.line));
    lines.sort_unstable();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "one result per logical line: {lines:?}");
    assert!(lines.iter().all(|&l| (1..=physical_lines).contains(&l)), "line numbers {lines:?} of {physical_lines}");

    let mut text = Vec::new();
    for (_, directive) in &directives {
        check_fields(directive);
        text.extend(line_of(directive));
    }
    let mut again_warnings: Vec<ConfigWarning> = Vec::new();
    let again = parse_modprobe_d("again.conf", &text, &mut |w| again_warnings.push(w));
    assert!(again_warnings.is_empty(), "warnings on written-out directives: {again_warnings:?}");
    let (before, after): (Vec<&Directive>, Vec<&Directive>) =
        (directives.iter().map(|(_, d)| d).collect(), again.iter().map(|(_, d)| d).collect());
    assert_eq!(before, after, "written out as\n{}", text.escape_ascii());
}

/// No field holds what ends a line or a C string; names are single words.
fn check_fields(directive: &Directive) {
    let fields: Vec<(&[u8], bool)> = match directive {
        Directive::Alias { pattern, module } => vec![(pattern, true), (module, true)],
        Directive::Blacklist { module } => vec![(module, true)],
        Directive::Options { module, options: text }
        | Directive::Install { module, command: text }
        | Directive::Remove { module, command: text } => vec![(module, true), (text, false)],
        Directive::Softdep { module, pre, post } => {
            std::iter::once((&module[..], true)).chain(pre.iter().chain(post).map(|w| (&w[..], true))).collect()
        }
        Directive::Weakdep { module, deps } => {
            std::iter::once((&module[..], true)).chain(deps.iter().map(|w| (&w[..], false))).collect()
        }
    };
    for (field, is_word) in fields {
        assert!(!field.contains(&b'\n') && !field.contains(&0), "line break or NUL in {directive:?}");
        if is_word {
            assert!(!field.is_empty() && !field.contains(&b' ') && !field.contains(&b'\t'), "{directive:?}");
        }
    }
    if let Directive::Options { options, .. } = directive {
        assert!(!options.contains(&b'\t'), "tabs in options become spaces");
    }
}

/// `directive` as a modprobe.d line that kmod reads back as the same directive: backslashes
/// escaped, each list after its keyword.
fn line_of(directive: &Directive) -> Vec<u8> {
    let parts: Vec<&[u8]> = match directive {
        Directive::Alias { pattern, module } => vec![b"alias ", pattern, b" ", module],
        Directive::Blacklist { module } => vec![b"blacklist ", module],
        Directive::Options { module, options } => vec![b"options ", module, b" ", options],
        Directive::Install { module, command } => vec![b"install ", module, b" ", command],
        Directive::Remove { module, command } => vec![b"remove ", module, b" ", command],
        Directive::Softdep { module, pre, post } => {
            let mut parts: Vec<&[u8]> = vec![b"softdep ", module, b" pre:"];
            for word in pre {
                parts.extend([&b" "[..], word]);
            }
            parts.push(b" post:");
            for word in post {
                parts.extend([&b" "[..], word]);
            }
            parts
        }
        // Two blanks for no names: the text after the name must not be empty.
        Directive::Weakdep { module, deps } if deps.is_empty() => vec![b"weakdep ", module, b"  "],
        Directive::Weakdep { module, deps } => {
            let mut parts: Vec<&[u8]> = vec![b"weakdep ", module];
            for word in deps {
                parts.extend([&b" "[..], word]);
            }
            parts
        }
    };
    let mut line = Vec::new();
    for &b in parts.concat().iter() {
        if b == b'\\' {
            line.push(b'\\');
        }
        line.push(b);
    }
    line.push(b'\n');
    line
}

fn modules_load_d(data: &[u8]) {
    let mut warnings = Vec::new();
    let names = parse_modules_load_d("fuzz.conf", data, &mut |w| warnings.push(w));
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    for name in &names {
        assert!(!name.is_empty() && !name.iter().any(|b| matches!(b, b'\n' | b'\r' | 0)), "name {name:?}");
        assert!(!is_blank(&name[0]) && !is_blank(&name[name.len() - 1]), "unstripped name {name:?}");
        assert!(!matches!(name[0], b'#' | b';'), "comment read as a name: {name:?}");
    }
    let text = names.join(&b'\n');
    let mut again_warnings = Vec::new();
    assert_eq!(parse_modules_load_d("again.conf", &text, &mut |w| again_warnings.push(w)), names);
    assert!(again_warnings.is_empty(), "{again_warnings:?}");
}
