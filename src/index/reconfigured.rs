//! An index with another modprobe.d configuration: what the applets answer from, since they
//! read the configuration as kmod's tools do, at every call, where the boot keeps what was
//! baked in.

use super::format::{OFF_KERNEL_RELEASE, Section};
use super::reader::section_table;
use super::strings::StringsWriter;
use super::writer::{Interner, ModprobeConfig, WriteError, assemble, put_config};
use crate::index::Index;
use alloc::vec::Vec;

impl ModprobeConfig {
    /// Whether `index` holds exactly this configuration: then it needs no replacing.
    pub fn is_baked_into(&self, index: &Index<'_>) -> bool {
        self.aliases.iter().map(pair).eq(index.config_aliases())
            && self.options.iter().map(pair).eq(index.options())
            && self.blacklist.iter().map(Vec::as_slice).eq(index.blacklist())
            && self
                .softdeps
                .iter()
                .map(|(p, pre, post)| (p.as_slice(), pre.as_slice(), post.as_slice()))
                .eq(index.softdeps().map(|s| (s.pattern, s.pre, s.post)))
            && self.weakdeps.iter().map(pair).eq(index.weakdeps().map(|w| (w.pattern, w.names)))
    }
}

fn pair((x, y): &(Vec<u8>, Vec<u8>)) -> (&[u8], &[u8]) {
    (x, y)
}

/// `file`, an index, with its modprobe.d configuration replaced by `config` (what the applets
/// read at every call): the modules, their aliases and the modules-load.d list stay byte for
/// byte, the new strings follow the old ones. The result is an index of the current version.
pub fn replace_config(file: &[u8], config: &ModprobeConfig) -> Result<Vec<u8>, WriteError> {
    Index::open(file).map_err(WriteError::Unreadable)?;
    let table = section_table(file).map_err(WriteError::Unreadable)?;
    let mut sections: [Vec<u8>; Section::ALL.len()] = Default::default();
    for (slot, bytes) in sections.iter_mut().zip(table) {
        *slot = bytes.to_vec();
    }
    let mut s = Interner { strings: StringsWriter::appending_to(table[Section::Strings.slot()]), error: None };
    put_config(&mut s, config, &mut |section, bytes| sections[section.slot()] = bytes);
    if let Some(e) = s.error {
        return Err(e);
    }
    sections[Section::Strings.slot()] = s.strings.into_bytes().ok_or(WriteError::TooLarge)?;
    let release = crate::index::bytes::u32_at(file, OFF_KERNEL_RELEASE).unwrap_or_default();
    assemble(release, &sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::IndexError;
    use crate::index::writer::tests::sample;
    use crate::index::writer::{IndexContents, write};
    use std::format;
    use std::vec;

    /// The applets' live configuration: the same file as if the contents had held it from the
    /// start, as far as a reader can tell, with the rest of the file kept.
    #[test]
    fn replaced_configuration_reads_as_written_and_the_rest_stays() {
        let old = sample();
        let config = ModprobeConfig {
            aliases: vec![(b"my_disk".to_vec(), b"ahci".to_vec())],
            blacklist: vec![b"snd_hda_intel".to_vec(), b"ahci".to_vec()],
            softdeps: vec![(b"e1000".to_vec(), b"".to_vec(), b"new_name".to_vec())],
            ..ModprobeConfig::default()
        };
        let file = write(&old).unwrap();
        assert!(old.config.is_baked_into(&Index::open(&file).unwrap()));
        assert!(!config.is_baked_into(&Index::open(&file).unwrap()));
        let replaced = replace_config(&file, &config).unwrap();
        assert!(config.is_baked_into(&Index::open(&replaced).unwrap()));
        let expected = IndexContents { config: config.clone(), ..old.clone() };
        let (got, want) = (Index::open(&replaced).unwrap(), write(&expected).unwrap());
        let want = Index::open(&want).unwrap();
        let config_of = |i: &Index<'_>| {
            let aliases: Vec<_> = i.config_aliases().collect();
            let blacklist: Vec<_> = i.blacklist().collect();
            let softdeps: Vec<_> = i.softdeps().collect();
            let options: Vec<_> = i.options().collect();
            let weakdeps: Vec<_> = i.weakdeps().collect();
            format!("{aliases:?} {blacklist:?} {softdeps:?} {options:?} {weakdeps:?}")
        };
        assert_eq!(config_of(&got), config_of(&want));
        assert_eq!(got.modules_load().collect::<Vec<_>>(), [&b"loop"[..]]);
        assert_eq!(got.kernel_release(), b"6.1.0-test");
        let mut buf = [0u8; 64];
        let module = got.find(b"ahci", false).unwrap();
        assert_eq!(module.path(&mut buf), Some(&b"kernel/drivers/ata/ahci.ko.zst"[..]));
        let mut hits = vec![];
        got.module_aliases()
            .for_each_match(b"pci:v00001234d00005678sv00000000sd00000000bc01sc06i01", |h| hits.push(h.module));
        assert_eq!(hits, [1]);
    }

    #[test]
    fn a_configuration_is_not_put_into_a_file_that_is_no_index() {
        let mut file = write(&sample()).unwrap();
        let last = file.len() - 1;
        file[last] ^= 1;
        let e = replace_config(&file, &ModprobeConfig::default()).unwrap_err();
        assert!(matches!(e, WriteError::Unreadable(IndexError::ChecksumMismatch { .. })), "{e:?}");
    }
}
