//! modules.symbols, the text file kmod's depmod writes beside its indexes: one `alias
//! symbol:NAME MODULE` line per exported symbol, naming the module that exports it. The kernel
//! asks `modprobe symbol:NAME` for it (`request_symbol`, `symbol_request`); modinit's index has
//! no symbol table, so the text file is read in place (kmod reads its trie copy,
//! modules.symbols.bin, built from the same data).

use crate::fnmatch::fnmatch;

/// What `symbol:` keys are looked up in: the text of a modules.symbols file, empty when there
/// is none (then no `symbol:` key matches, as in kmod without the file).
#[derive(Debug, Clone, Copy, Default)]
pub struct ModulesSymbols<'a>(&'a [u8]);

/// The prefix of the keys kmod looks up in modules.symbols.
pub const SYMBOL_PREFIX: &[u8] = b"symbol:";

impl<'a> ModulesSymbols<'a> {
    /// No file: no `symbol:` key matches.
    pub const NONE: ModulesSymbols<'static> = ModulesSymbols(&[]);

    pub fn new(text: &'a [u8]) -> Self {
        ModulesSymbols(text)
    }

    /// The modules of the `alias` lines whose pattern matches `key` (a normalized `symbol:NAME`
    /// key), in file order (kmod's depmod writes one line per symbol). Other lines (comments,
    /// blank or short ones) are passed over.
    pub fn owners(self, key: &[u8]) -> impl Iterator<Item = &'a [u8]> {
        self.entries().filter_map(move |(pattern, module)| fnmatch(pattern, key).then_some(module))
    }

    /// Every `alias symbol:NAME MODULE` line's pattern and module, in file order.
    pub fn entries(self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.0.split(|&b| b == b'\n').filter_map(|line| {
            let mut words = line.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
            let (Some(b"alias"), Some(pattern), Some(module)) = (words.next(), words.next(), words.next()) else {
                return None;
            };
            pattern.starts_with(SYMBOL_PREFIX).then_some((pattern, module))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn owners_are_the_modules_of_the_matching_lines() {
        let text = b"# Aliases for symbols, used by symbol_request().\n\
                     alias symbol:ata_link_printk libata\n\
                     alias symbol:usb_register_driver usbcore\n\
                     alias\tsymbol:ata_host_init  libata  \n\
                     alias symbol:short\n\
                     alias ata_link_printk wrong\n";
        let symbols = ModulesSymbols::new(text);
        let owners = |key: &[u8]| symbols.owners(key).collect::<Vec<_>>();
        assert_eq!(owners(b"symbol:ata_link_printk"), [&b"libata"[..]]);
        assert_eq!(owners(b"symbol:ata_host_init"), [&b"libata"[..]], "tabs and trailing blanks");
        assert_eq!(owners(b"symbol:usb_register"), Vec::<&[u8]>::new(), "whole names only");
        assert_eq!(owners(b"symbol:short"), Vec::<&[u8]>::new(), "a line without a module");
        assert_eq!(owners(b"ata_link_printk"), Vec::<&[u8]>::new(), "only symbol: patterns");
        assert_eq!(ModulesSymbols::NONE.owners(b"symbol:ata_link_printk").count(), 0);
    }
}
