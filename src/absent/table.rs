//! `modinit.absent`, read: an index in `modinit.idx`'s format (`writer.rs` makes it) of the
//! tree's modules the image lacks, with their device aliases only. It is read in place, checked
//! once by [`Index::open`], and a modalias is looked up in it as in the image's own index
//! ([`Resolver::lookup_in_tree`]): one binary search and a few blocks of the alias table, in
//! kmod's order.

use crate::index::{Index, IndexError};
use crate::resolve::symbols::ModulesSymbols;
use crate::resolve::{Key, LookupError, Resolver, Target};

/// The most modules one lookup names (a device matched by more gives the first ones).
const FOUND_MAX: usize = 32;

/// A table whose every byte was checked: looking it up meets no surprise.
#[derive(Clone, Copy)]
pub struct AbsentTable<'a> {
    tree: Resolver<'a>,
}

impl<'a> AbsentTable<'a> {
    /// Checks the table `file` as an index is checked.
    pub fn open(file: &'a [u8]) -> Result<AbsentTable<'a>, IndexError> {
        Ok(AbsentTable { tree: Resolver { index: Index::open(file)?, cmdline: b"", symbols: ModulesSymbols::NONE } })
    }

    /// The kernel release of the tree the table was made from.
    pub fn release(&self) -> &'a [u8] {
        self.tree.index.kernel_release()
    }

    /// Calls `hit` with the name of the module of each alias that matches `key`, in kmod's
    /// order: a module matching through two of its aliases comes twice, as kmod's lookup
    /// lists it (`modprobe -R`).
    pub fn for_each_match(&self, key: &Key, mut hit: impl FnMut(&'a [u8])) {
        let mut found = [None; FOUND_MAX];
        let n = match self.tree.lookup_in_tree(key, &mut found) {
            Ok((_, n)) => n,
            Err(LookupError::TooMany { .. }) => FOUND_MAX,
            Err(LookupError::InvalidKey) => 0,
        };
        for found in found[..n].iter().flatten() {
            if let Target::Module(module) = found.target {
                hit(module.stem);
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::index::writer::{IndexContents, write};

    /// A tree of two modules, its index, and the table for an image holding neither.
    fn table_bytes() -> Vec<u8> {
        let entry = |stem: &[u8]| crate::index::writer::ModuleEntry {
            stem: stem.to_vec(),
            dir: Some(b"kernel/drivers".to_vec()),
            compression: crate::decompress::Compression::Zstd,
            builtin: false,
            deps: Vec::new(),
        };
        let tree = IndexContents {
            kernel_release: b"6.1.0-57-amd64".to_vec(),
            modules: vec![entry(b"snd-hda-intel"), entry(b"pcspkr"), entry(b"kvm")],
            module_aliases: vec![
                (b"pci:v00008086d00002668sv*sd*bc*sc*i*".to_vec(), 0),
                (b"pci:v*d*sv*sd*bc04sc03i00*".to_vec(), 0),
                (b"platform:pcspkr".to_vec(), 1),
                (b"cpu:type:x86,ven*fea*0084*".to_vec(), 2),
                (b"fs-kvm".to_vec(), 2),
            ],
            ..IndexContents::default()
        };
        let image = IndexContents { kernel_release: tree.kernel_release.clone(), ..IndexContents::default() };
        let [tree, image] = [tree, image].map(|c| write(&c).unwrap());
        let contents = super::super::writer::contents(&Index::open(&tree).unwrap(), &Index::open(&image).unwrap());
        write(&contents).unwrap()
    }

    fn matches(table: &AbsentTable<'_>, key: &str) -> Vec<String> {
        let mut found = Vec::new();
        let key = Key::new(key.as_bytes()).unwrap();
        table.for_each_match(&key, |m| found.push(String::from_utf8_lossy(m).into_owned()));
        found
    }

    #[test]
    fn a_key_finds_the_module_of_each_alias_it_matches() {
        let bytes = table_bytes();
        let table = AbsentTable::open(&bytes).unwrap();
        assert_eq!(table.release(), b"6.1.0-57-amd64");
        let hda = "pci:v00008086d00002668sv00001AF4sd00001100bc04sc03i00";
        assert_eq!(matches(&table, hda), ["snd_hda_intel", "snd_hda_intel"], "twice, as kmod lists it");
        assert_eq!(matches(&table, "platform:pcspkr"), ["pcspkr"]);
        assert!(matches(&table, "platform:pcspkr2").is_empty());
        assert!(matches(&table, "cpu:type:x86,ven0000fam0006mod003F:feature:,0084").is_empty(), "not a device's");
        assert_eq!(Index::open(&bytes).unwrap().module_count(), 2, "kvm has no device alias: left out");
    }

    #[test]
    fn a_corrupt_table_is_refused() {
        let mut bytes = table_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(
            matches!(AbsentTable::open(&bytes), Err(IndexError::ChecksumMismatch { .. })),
            "{:?}",
            AbsentTable::open(&bytes).err()
        );
        assert!(AbsentTable::open(b"modinit-absent 1 6.1.0-57-amd64\n").is_err(), "the text table of before");
    }
}
