//! The kernel command line as kmod reads it for modules (libkmod-config.c,
//! `kmod_config_parse_kcmdline`): `modprobe.blacklist=a,b` and `MODULE.PARAM[=VALUE]`.
//!
//! kmod scans the line with its own small state machine, which differs from the kernel's
//! parameter splitting in what it ignores: a `.` in the parameter name, a `=` in the module
//! name, or a quote anywhere but around the value or the whole word makes it skip the word.
//! The option text keeps the quotes (`p="a b"`) since the kernel strips them when it parses
//! module parameters; a word quoted whole (`"m.p=a b"`, as some boot loaders write) is
//! re-quoted to `p="a b"` as kmod does.

/// A module option from the command line: `text` is the pieces of `PARAM[=VALUE]` to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmdlineOption<'a> {
    /// The module name as written (compare it normalized).
    pub module: &'a [u8],
    pub text: [&'a [u8]; 3],
}

/// What a word of the command line means to kmod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KcmdlineEntry<'a> {
    /// A name from `modprobe.blacklist=` (as written, not normalized: kmod compares it so).
    Blacklist(&'a [u8]),
    Option(CmdlineOption<'a>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Ignore,
    Module,
    Param,
    Value,
}

/// Calls `found` for each module-related word of `cmdline`, in order.
pub fn for_each_entry<'a>(cmdline: &'a [u8], mut found: impl FnMut(KcmdlineEntry<'a>)) {
    let mut state = State::Module;
    let (mut module, mut param, mut value) = (0usize, None::<usize>, None::<usize>);
    let mut quoted = false;
    let mut quote_start = None::<usize>;
    let mut i = 0;
    // A NUL (or the end) ends the line like in kmod's C string.
    let end = cmdline.iter().position(|&b| b == 0).unwrap_or(cmdline.len());
    while i <= end {
        let c = if i == end { 0 } else { cmdline[i] };
        let mut complete = false;
        match c {
            b'"' => {
                quoted = !quoted;
                if quoted && state == State::Module && i == module {
                    quote_start = Some(i);
                    module = i + 1;
                } else if state != State::Value {
                    state = State::Ignore;
                }
            }
            0 | b' ' | b'\n' | b'\t' | 0x0b | 0x0c | b'\r' => {
                if quoted && state == State::Value && c != 0 {
                    // Spaces belong to a quoted value.
                } else if quoted {
                    state = State::Ignore;
                    if c == 0 {
                        break;
                    }
                } else if state == State::Value || state == State::Param {
                    complete = true;
                } else {
                    module = i + 1;
                    state = State::Module;
                    quote_start = None;
                }
            }
            b'.' => match state {
                State::Module => {
                    param = Some(i + 1);
                    state = State::Param;
                }
                State::Param => state = State::Ignore,
                _ => {}
            },
            b'=' => match state {
                State::Param => {
                    value = Some(i + 1);
                    state = State::Value;
                }
                State::Module => state = State::Ignore,
                _ => {}
            },
            _ => {}
        }
        if complete {
            if let Some(p) = param {
                emit(cmdline, module, p, value.filter(|_| state == State::Value), i, quote_start, &mut found);
            }
            module = i + 1;
            param = None;
            value = None;
            state = State::Module;
            quote_start = None;
        }
        if c == 0 {
            break;
        }
        i += 1;
    }
}

/// Whether the command line's `modprobe.blacklist=` names module `name` (kmod compares each
/// entry as written with the module's normalized name).
pub fn blacklists(cmdline: &[u8], name: &[u8]) -> bool {
    let mut listed = false;
    for_each_entry(cmdline, |e| {
        if let KcmdlineEntry::Blacklist(entry) = e {
            listed |= crate::name::module_name(name).eq(entry.iter().copied());
        }
    });
    listed
}

/// Whether the kernel's own `module_blacklist=a,b` names module `name`: the kernel then
/// refuses to load it (EPERM), comparing each entry with the module's name (`_`, not `-`).
/// The kernel reads its parameters as `crate::cmdline::params` does: quotes, and nothing after `--`.
pub fn kernel_blacklists(cmdline: &[u8], name: &[u8]) -> bool {
    crate::cmdline::params(cmdline)
        .take_while(|p| p.key != b"--")
        .filter(|p| p.key == b"module_blacklist")
        .filter_map(|p| p.value)
        .flat_map(|list| list.split(|&b| b == b','))
        .any(|entry| crate::name::module_name(name).eq(entry.iter().copied()))
}

/// The command line's options for module `name` as kmod joins them: the text of each
/// `NAME.PARAM[=VALUE]` whose NAME is `name` (both normalized), in order, separated by
/// spaces, handed to `piece` in pieces.
pub fn options_for(cmdline: &[u8], name: &[u8], mut piece: impl FnMut(&[u8])) {
    let mut first = true;
    for_each_entry(cmdline, |e| {
        if let KcmdlineEntry::Option(o) = e
            && crate::name::same_module_name(o.module, name)
        {
            if !first {
                piece(b" ");
            }
            first = false;
            o.text.iter().for_each(|p| piece(p));
        }
    });
}

fn emit<'a>(
    line: &'a [u8],
    module: usize,
    param: usize,
    value: Option<usize>,
    end: usize,
    quote_start: Option<usize>,
    found: &mut impl FnMut(KcmdlineEntry<'a>),
) {
    let name = &line[module..param - 1];
    let text = &line[param..end];
    if name == b"modprobe" && text.starts_with(b"blacklist=") {
        for entry in text[b"blacklist=".len()..].split(|&b| b == b',') {
            found(KcmdlineEntry::Blacklist(entry));
        }
        return;
    }
    let text = match (quote_start, value) {
        // `"m.p=v"`: kmod moves the opening quote to the value: `p="v"`.
        (Some(q), Some(v)) if q < module => [&line[param..v], b"\"", &line[v..end]],
        _ => [text, b"", b""],
    };
    found(KcmdlineEntry::Option(CmdlineOption { module: name, text }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn entries(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_entry(line.as_bytes(), |e| {
            out.push(match e {
                KcmdlineEntry::Blacklist(m) => format!("blacklist {}", String::from_utf8_lossy(m)),
                KcmdlineEntry::Option(o) => {
                    format!("{}: {}", String::from_utf8_lossy(o.module), String::from_utf8_lossy(&o.text.concat()))
                }
            })
        });
        out
    }

    #[test]
    fn options_and_blacklists_as_kmod_reads_them() {
        assert_eq!(
            entries("BOOT_IMAGE=/vmlinuz root=/dev/vda e1000.debug=5 snd-hda-intel.model=auto quiet\n"),
            ["e1000: debug=5", "snd-hda-intel: model=auto"]
        );
        assert_eq!(entries("modprobe.blacklist=pcspkr,floppy ro"), ["blacklist pcspkr", "blacklist floppy"]);
        assert_eq!(entries("usbcore.nousb"), ["usbcore: nousb"], "a parameter without value");
        assert_eq!(entries("a.b.c=1 a=b.c=1 .x=1 m.p=1"), [": x=1", "m: p=1"]);
    }

    #[test]
    fn quotes_are_kept_around_values_and_moved_in_from_whole_words() {
        assert_eq!(entries(r#"parport.dyndbg="file a.c +p" x"#), [r#"parport: dyndbg="file a.c +p""#]);
        assert_eq!(entries(r#""parport.dyndbg=file a.c +p" x"#), [r#"parport: dyndbg="file a.c +p""#]);
        assert_eq!(entries(r#"m"x.p=1 m.p="unterminated"#), Vec::<String>::new());
    }

    #[test]
    fn blacklist_and_options_for_one_module() {
        let line = b"quiet modprobe.blacklist=e1000,snd_hda_intel dummy.numdummies=2 loop.max_loop=8 dummy.x=\"a b\"";
        assert!(blacklists(line, b"e1000") && blacklists(line, b"snd-hda-intel"));
        assert!(!blacklists(line, b"e1000e") && !blacklists(line, b"dummy"));
        let mut text = Vec::new();
        options_for(line, b"dummy", |p| text.extend_from_slice(p));
        assert_eq!(String::from_utf8(text).unwrap(), "numdummies=2 x=\"a b\"");
        let mut text = Vec::new();
        options_for(line, b"tun", |p| text.extend_from_slice(p));
        assert!(text.is_empty());
        let line = b"module_blacklist=dummy,snd_hda_intel quiet module_blacklist=tun";
        assert!(
            kernel_blacklists(line, b"dummy")
                && kernel_blacklists(line, b"snd-hda-intel")
                && kernel_blacklists(line, b"tun")
        );
        assert!(!kernel_blacklists(line, b"dumm") && !kernel_blacklists(b"xmodule_blacklist=dummy", b"dummy"));
        assert!(
            !kernel_blacklists(b"module_blacklist=snd-hda-intel", b"snd_hda_intel"),
            "the kernel compares with the _ form"
        );
    }
}
