//! `modprobe -c`: kmod 33's configuration dump (tools/modprobe.c `show_config`), from what the
//! index holds and the kernel command line.
//!
//! kmod prints its configuration lists (blacklist, install, remove, alias, options, softdep,
//! and since kmod 33 weakdep), each in the order it read them, then dumps modules.alias and
//! modules.symbols. The index holds the configuration as it was when the index was built
//! (docs/index-format.md), so this is the configuration baked in, not what /etc says now. What
//! the index lacks is left out: `install`/`remove` commands (the builder warns about them and
//! does not keep them). The `alias symbol:NAME MODULE` lines come from kmod's text modules.symbols
//! beside the index ([`dump_symbols`]), when it is there.

use crate::cmdline::modules::{self, KcmdlineEntry};
use crate::index::{Index, ModuleId};
use crate::name::normalize_alias;
use crate::resolve::symbols::ModulesSymbols;
use alloc::vec::Vec;

/// kmod's line between the configuration and the indexes.
const END_OF_CONFIG: &[u8] = b"\n# End of configuration files. Dumping indexes now:\n\n";

/// Appends the dump of `index`, with `cmdline` (the kernel command line, which kmod reads for
/// `modprobe.blacklist=` and `MODULE.PARAM=VALUE`), to `out`.
pub fn show_config(index: &Index<'_>, cmdline: &[u8], out: &mut Vec<u8>) {
    // The command line's entries come after the files' in kmod's lists: gather them in one pass.
    let (mut cmdline_blacklist, mut cmdline_options) = (Vec::new(), Vec::new());
    modules::for_each_entry(cmdline, |e| match e {
        KcmdlineEntry::Blacklist(name) => line(&mut cmdline_blacklist, &[b"blacklist ", name]),
        KcmdlineEntry::Option(o) => {
            let mut buf = [0u8; 256];
            // kmod drops an option whose module name has an unmatched bracket.
            if let Some(n) = normalize_alias(o.module, &mut buf) {
                let [a, b, c] = o.text;
                line(&mut cmdline_options, &[b"options ", &buf[..n], b" ", a, b, c]);
            }
        }
    });
    for name in index.blacklist() {
        line(out, &[b"blacklist ", name]);
    }
    out.extend_from_slice(&cmdline_blacklist);
    for (pattern, module) in index.config_aliases() {
        line(out, &[b"alias ", pattern, b" ", module]);
    }
    for (module, options) in index.options() {
        line(out, &[b"options ", module, b" ", options]);
    }
    out.extend_from_slice(&cmdline_options);
    for sd in index.softdeps() {
        // kmod's softdep_to_char puts no blank between the lists: "pre: a bpost: c".
        let label = |names: &[u8], label: &'static [u8]| if names.is_empty() { &b""[..] } else { label };
        let (pre, post) = (label(sd.pre, b"pre: "), label(sd.post, b"post: "));
        line(out, &[b"softdep ", sd.pattern, b" ", pre, sd.pre, post, sd.post]);
    }
    for wd in index.weakdeps() {
        // kmod 33's weakdep_to_char (libkmod-config.c): the names joined by one blank, and
        // show_config puts a blank before that value even when it is empty.
        line(out, &[b"weakdep ", wd.pattern, b" ", wd.names]);
    }
    out.extend_from_slice(END_OF_CONFIG);
    dump_module_aliases(index, out);
}

/// Appends modules.symbols as kmod's `index_dump` walks modules.symbols.bin, after the dump of
/// [`show_config`]: by pattern (bytewise), one `alias symbol:NAME MODULE` line per entry.
pub fn dump_symbols(symbols: ModulesSymbols<'_>, out: &mut Vec<u8>) {
    let mut entries: Vec<(&[u8], &[u8])> = symbols.entries().collect();
    crate::sort::sort(&mut entries);
    for (pattern, module) in entries {
        line(out, &[b"alias ", pattern, b" ", module]);
    }
}

/// Appends `fields` and a newline to `out`.
fn line(out: &mut Vec<u8>, fields: &[&[u8]]) {
    for f in fields {
        out.extend_from_slice(f);
    }
    out.push(b'\n');
}

/// modules.alias as kmod's `index_dump` walks its trie: by pattern (bytewise), then by module
/// priority (the module's id), one `alias PATTERN MODULE` line per entry, duplicates included.
fn dump_module_aliases(index: &Index<'_>, out: &mut Vec<u8>) {
    let mut entries: Vec<(Vec<u8>, u16)> = Vec::new();
    index.module_aliases().for_each(|prefix, rest, module| entries.push(([prefix, rest].concat(), module)));
    crate::sort::sort(&mut entries);
    for (pattern, id) in &entries {
        let Some(module) = index.module(ModuleId(*id)) else { continue };
        out.extend_from_slice(b"alias ");
        out.extend_from_slice(pattern);
        out.push(b' ');
        out.extend(module.name());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decompress::Compression;
    use crate::index::writer::{IndexContents, ModprobeConfig, ModuleEntry, write};
    use std::string::String;
    use std::vec;

    fn module(stem: &str) -> ModuleEntry {
        let dir = Some(b"kernel".to_vec());
        ModuleEntry {
            stem: stem.as_bytes().to_vec(),
            dir,
            compression: Compression::None,
            builtin: false,
            deps: vec![],
        }
    }

    #[test]
    fn configuration_then_module_aliases_sorted() {
        let contents = IndexContents {
            modules: vec![module("snd-hda-intel"), module("ahci"), module("e1000")],
            module_aliases: vec![
                (b"pci:v00008086d*".to_vec(), 0),
                (b"pci:v*d*sv*sd*bc01sc06i01*".to_vec(), 1),
                (b"pci:v00008086d*".to_vec(), 2),
                (b"pci:v00008086d000010D3".to_vec(), 2),
            ],
            config: ModprobeConfig {
                aliases: vec![(b"my_nic".to_vec(), b"e1000".to_vec())],
                options: vec![(b"e1000".to_vec(), b"debug=16  x".to_vec())],
                blacklist: vec![b"pcspkr".to_vec()],
                softdeps: vec![
                    (b"ahci".to_vec(), b"crc32c libahci".to_vec(), b"sd_mod".to_vec()),
                    (b"e1000".to_vec(), b"".to_vec(), b"a".to_vec()),
                ],
                weakdeps: vec![(b"e1000".to_vec(), b"ptp pps_core".to_vec()), (b"ahci".to_vec(), b"".to_vec())],
            },
            ..IndexContents::default()
        };
        let bytes = write(&contents).unwrap();
        let mut out = Vec::new();
        let cmdline = b"quiet modprobe.blacklist=floppy,bad snd-hda-intel.model=\"a b\" e1000.x";
        show_config(&Index::open(&bytes).unwrap(), cmdline, &mut out);
        let expected = "blacklist pcspkr\nblacklist floppy\nblacklist bad\nalias my_nic e1000\n\
            options e1000 debug=16  x\noptions snd_hda_intel model=\"a b\"\noptions e1000 x\n\
            softdep ahci pre: crc32c libahcipost: sd_mod\nsoftdep e1000 post: a\n\
            weakdep e1000 ptp pps_core\nweakdep ahci \n\
            \n# End of configuration files. Dumping indexes now:\n\n\
            alias pci:v*d*sv*sd*bc01sc06i01* ahci\nalias pci:v00008086d* snd_hda_intel\n\
            alias pci:v00008086d* e1000\nalias pci:v00008086d000010D3 e1000\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
