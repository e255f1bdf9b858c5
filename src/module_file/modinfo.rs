//! A kernel module's `.modinfo` strings (`alias=...`, `depends=...`), read in place from its ELF image.
//!
//! No copies and no allocation: the index builder reads a whole module tree with this, and the boot
//! path may too. Any bytes are valid input: a short, foreign or corrupt file gives a [`ModinfoError`],
//! never a panic. The section is found as kmod finds it (see [`crate::module_file::elf`]).

use crate::module_file::elf::{Elf, ElfError, SectionError};
use crate::module_file::signature::Trailer;
use core::fmt;
use core::iter::FusedIterator;
use core::slice::Split;

/// Why a module's .modinfo could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModinfoError {
    /// The file does not start with the ELF magic `\x7fELF`.
    NotElf,
    /// An ELF file, but not ELFCLASS64 + ELFDATA2LSB (a 32-bit or big-endian object).
    NotElf64LittleEndian,
    /// The file ends inside the ELF header or the section header table.
    Truncated,
    /// `e_shentsize` is not the size of an ELF64 section header (64 bytes).
    BadSectionTable,
    /// `e_shstrndx` names no section (0, or not below `e_shnum`), the section name table's bytes lie
    /// outside the file, or the table is empty or does not end with a NUL.
    BadSectionNameTable,
    /// No section is named `.modinfo`.
    NoModinfo,
    /// Sections are named `.modinfo`, but the bytes (`sh_offset`, `sh_size`) of each lie outside the file.
    ModinfoOutOfBounds,
}

impl From<ElfError> for ModinfoError {
    fn from(error: ElfError) -> ModinfoError {
        match error {
            ElfError::NotElf => ModinfoError::NotElf,
            ElfError::NotElf64LittleEndian => ModinfoError::NotElf64LittleEndian,
            ElfError::Truncated => ModinfoError::Truncated,
            ElfError::BadSectionTable => ModinfoError::BadSectionTable,
            ElfError::BadSectionNameTable => ModinfoError::BadSectionNameTable,
        }
    }
}

impl fmt::Display for ModinfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let elf_error = match self {
            ModinfoError::NoModinfo => return f.write_str("no .modinfo section"),
            ModinfoError::ModinfoOutOfBounds => return f.write_str("the .modinfo section lies outside the file"),
            ModinfoError::NotElf => ElfError::NotElf,
            ModinfoError::NotElf64LittleEndian => ElfError::NotElf64LittleEndian,
            ModinfoError::Truncated => ElfError::Truncated,
            ModinfoError::BadSectionTable => ElfError::BadSectionTable,
            ModinfoError::BadSectionNameTable => ElfError::BadSectionNameTable,
        };
        elf_error.fmt(f)
    }
}

/// The `.modinfo` section of a module image.
#[derive(Debug, Clone, Copy)]
pub struct Modinfo<'a> {
    section: &'a [u8],
}

impl<'a> Modinfo<'a> {
    /// Finds `.modinfo` in an ELF64 little-endian image (x86_64 modules; accept any e_machine).
    ///
    /// The first section of that name whose bytes lie inside the file counts, as for kmod. Trailing
    /// bytes after the ELF data (a signature) are fine.
    pub fn from_elf(image: &'a [u8]) -> Result<Modinfo<'a>, ModinfoError> {
        Self::of(&Elf::parse(image)?)
    }

    /// The `.modinfo` section of an image already parsed.
    pub fn of(elf: &Elf<'a>) -> Result<Modinfo<'a>, ModinfoError> {
        let section = elf.section(b".modinfo").map_err(|error| match error {
            SectionError::Missing => ModinfoError::NoModinfo,
            SectionError::OutOfBounds => ModinfoError::ModinfoOutOfBounds,
        })?;
        Ok(Modinfo { section })
    }

    /// Every `key=value` entry in file order (NUL-separated strings; empty strings/padding skipped;
    /// an entry without '=' yields (whole, b"")).
    pub fn entries(&self) -> Entries<'a> {
        Entries::new(self.section, 0)
    }

    /// The values of `key`, in file order (e.g. every `alias`).
    pub fn values(&self, key: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.entries().filter_map(move |(k, value)| (k == key).then_some(value))
    }

    /// The first value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.entries().find_map(|(k, value)| (k == key).then_some(value))
    }
}

/// `(key, value)` pairs, in file order: of a [`Modinfo`] ([`Modinfo::entries`]), or of a builtin
/// module ([`crate::module_file::builtin_modinfo::builtin_entries`]).
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    strings: Split<'a, u8, fn(&u8) -> bool>,
    /// Bytes of each string before its key (`MODNAME.` in modules.builtin.modinfo).
    prefix: usize,
}

impl<'a> Entries<'a> {
    /// The entries of NUL-separated `key=value` strings, each after `prefix` bytes.
    pub(crate) fn new(strings: &'a [u8], prefix: usize) -> Entries<'a> {
        Entries { strings: strings.split(is_nul), prefix }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.strings.find(|string| !string.is_empty())?;
        let entry = entry.get(self.prefix..).unwrap_or_default();
        let (key, rest) = entry.split_at(entry.iter().position(|&b| b == b'=').unwrap_or(entry.len()));
        // Without '=' the value is the empty tail of the key, so it too points into the section.
        Some((key, rest.split_first().map_or(rest, |(_equals, value)| value)))
    }
}

impl FusedIterator for Entries<'_> {}

fn is_nul(b: &u8) -> bool {
    *b == 0
}

/// The module's signature trailer, if the file ends with "~Module signature appended~\n": the length of
/// the image without it ([`crate::module_file::signature`] reads the signature itself).
///
/// Returns the image before the signature and `true`, or the whole file and `false` when there is no
/// well-formed trailer (the magic, then `struct module_signature` whose enums are in range and whose
/// lengths fit in the file, with a non-empty signature), as kmod's `kmod_module_signature_info` decides.
pub fn split_signature(file: &[u8]) -> (&[u8], bool) {
    match Trailer::of(file) {
        Some(trailer) => (trailer.image, true),
        None => (file, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module_file::elf::{E_SHENTSIZE, E_SHNUM, E_SHOFF, E_SHSTRNDX, SH_NAME, SH_OFFSET, SH_SIZE, SHDR_SIZE};
    use crate::module_file::signature::SIGNATURE_MAGIC;
    use modinit_test_fixtures::{corruptions, elf, put, real_modules, shdr, smallest_module_or};
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn error(image: &[u8]) -> Option<ModinfoError> {
        Modinfo::from_elf(image).err()
    }

    fn entries(image: &[u8]) -> Vec<(&[u8], &[u8])> {
        Modinfo::from_elf(image).unwrap().entries().collect()
    }

    #[test]
    fn entries_in_file_order_without_padding() {
        let image = elf(&[
            (".text", b"\xc3"),
            (".modinfo", b"\0\0license=GPL\0alias=pci:v1*\0\0\0alias=usb:v2*\0intree\0description=a=b\0name=\0\0\0"),
            (".data", b"alias=not:modinfo\0"),
        ]);
        let expected: [(&[u8], &[u8]); 6] = [
            (b"license", b"GPL"),
            (b"alias", b"pci:v1*"),
            (b"alias", b"usb:v2*"),
            (b"intree", b""),
            (b"description", b"a=b"),
            (b"name", b""),
        ];
        assert_eq!(entries(&image), expected);
        let modinfo = Modinfo::from_elf(&image).unwrap();
        assert_eq!(modinfo.values(b"alias").collect::<Vec<_>>(), [b"pci:v1*", b"usb:v2*"]);
        assert_eq!(modinfo.values(b"depends").count(), 0);
        assert_eq!(modinfo.get(b"description"), Some(&b"a=b"[..]));
        assert_eq!(modinfo.get(b"intree"), Some(&b""[..]));
        assert_eq!((modinfo.get(b"licens"), modinfo.get(b"GPL")), (None, None));
        let range = image.as_ptr_range();
        assert!(modinfo.entries().all(|(k, v)| range.contains(&k.as_ptr()) && range.contains(&v.as_ptr())));
        // The iterators outlive the Modinfo they came from.
        let aliases = Modinfo::from_elf(&image).unwrap().values(b"alias");
        assert_eq!(aliases.count(), 2);
        let mut all = Modinfo::from_elf(&image).unwrap().entries();
        assert_eq!(all.by_ref().count(), 6);
        assert_eq!(all.next(), None);
    }

    #[test]
    fn empty_and_padding_only_sections_have_no_entries() {
        for bytes in [&b""[..], b"\0", b"\0\0\0\0\0\0\0\0"] {
            assert_eq!(entries(&elf(&[(".modinfo", bytes)])), [], "{bytes:?}");
        }
    }

    #[test]
    fn modinfo_last_in_the_file_without_a_final_nul() {
        let image = elf(&[(".text", b"\xc3"), (".modinfo", b"name=e1000\0vermagic=6.1.0")]);
        assert_eq!(entries(&image), [(&b"name"[..], &b"e1000"[..]), (b"vermagic", b"6.1.0")]);
        assert_eq!(error(&image[..image.len() - 1]), Some(ModinfoError::ModinfoOutOfBounds));
    }

    #[test]
    fn the_first_modinfo_section_counts() {
        let image = elf(&[(".modinfo", b"name=first\0"), (".modinfo", b"name=second\0")]);
        assert_eq!(Modinfo::from_elf(&image).unwrap().get(b"name"), Some(&b"first"[..]));
    }

    #[test]
    fn a_modinfo_outside_the_file_is_passed_over() {
        let mut image = elf(&[(".modinfo", b"name=first\0"), (".modinfo", b"name=second\0")]);
        put(&mut image, shdr(2, SH_OFFSET), &u64::MAX.to_le_bytes());
        assert_eq!(Modinfo::from_elf(&image).unwrap().get(b"name"), Some(&b"second"[..]), "as kmod does");
    }

    #[test]
    fn any_machine_is_accepted() {
        let mut image = elf(&[(".modinfo", b"name=x\0")]);
        put(&mut image, 18, &183u16.to_le_bytes()); // EM_AARCH64
        assert_eq!(entries(&image), [(&b"name"[..], &b"x"[..])]);
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        use ModinfoError::*;
        let good = elf(&[(".text", b"\xc3"), (".modinfo", b"license=GPL\0"), (".data", b"12345678")]);
        let modinfo = 3;
        let edited = |at: usize, bytes: &[u8]| {
            let mut image = good.clone();
            put(&mut image, at, bytes);
            error(&image)
        };
        let u16s = |v: u16| v.to_le_bytes();
        let u32s = |v: u32| v.to_le_bytes();
        let u64s = |v: u64| v.to_le_bytes();
        // The ELF-level cases are crate::module_file::elf's; one of each checks they reach ModinfoError.
        let cases = [
            (error(&good), None, "the unedited image"),
            (error(b"MZ\x90\0\x03\0\0\0"), Some(NotElf), "a PE file"),
            (edited(4, &[1]), Some(NotElf64LittleEndian), "ELFCLASS32"),
            (edited(E_SHOFF, &u64s(u64::MAX)), Some(Truncated), "e_shoff = u64::MAX"),
            (edited(E_SHENTSIZE, &u16s(40)), Some(BadSectionTable), "ELF32-sized section headers"),
            (edited(E_SHSTRNDX, &u16s(0)), Some(BadSectionNameTable), "e_shstrndx = SHN_UNDEF"),
            (edited(E_SHNUM, &u16s(3)), Some(NoModinfo), ".modinfo beyond e_shnum"),
            (edited(shdr(modinfo, SH_NAME), &u32s(1)), Some(NoModinfo), "named .text"),
            (edited(shdr(modinfo, SH_NAME), &u32s(8)), Some(NoModinfo), "named modinfo (a suffix)"),
            (edited(shdr(modinfo, SH_NAME), &u32s(u32::MAX)), Some(NoModinfo), "a name past the table"),
            (error(&elf(&[(".modinf", b"a=b\0"), (".modinfo.x", b"a=b\0")])), Some(NoModinfo), "near names"),
            (edited(shdr(modinfo, SH_OFFSET), &u64s(u64::MAX - 3)), Some(ModinfoOutOfBounds), "offset+size wraps"),
            (edited(shdr(modinfo, SH_SIZE), &u64s(u64::MAX)), Some(ModinfoOutOfBounds), "size = u64::MAX"),
            (edited(shdr(modinfo, SH_OFFSET), &u64s(good.len() as u64 - 4)), Some(ModinfoOutOfBounds), "past end"),
        ];
        for (got, expected, what) in cases {
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn every_error_explains_itself_differently() {
        use ModinfoError::*;
        let all = [NotElf, NotElf64LittleEndian, Truncated, BadSectionTable, BadSectionNameTable, NoModinfo];
        let messages: std::collections::BTreeSet<String> =
            all.iter().chain(&[ModinfoOutOfBounds]).map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), all.len() + 1);
        assert_eq!(NoModinfo.to_string(), "no .modinfo section");
        assert_eq!(Truncated.to_string(), ElfError::Truncated.to_string());
    }

    /// `image` with a signature appended as the kernel's sign-file does: signer, key id and signature
    /// data, `struct module_signature`, the magic.
    fn signed(image: &[u8], signer: &[u8], key_id: &[u8], signature: &[u8], sig_len: u32) -> Vec<u8> {
        let id_type = if signer.is_empty() { 2 } else { 1 }; // PKEY_ID_PKCS7 or PKEY_ID_X509
        let info = [0, 0, id_type, signer.len() as u8, key_id.len() as u8, 0, 0, 0];
        [image, signer, key_id, signature, &info, &sig_len.to_be_bytes(), SIGNATURE_MAGIC].concat()
    }

    #[test]
    fn splits_a_well_formed_signature_off() {
        let image = elf(&[(".modinfo", b"name=x\0")]);
        let pkcs7 = signed(&image, b"", b"", &[0x30; 700], 700);
        assert_eq!(split_signature(&pkcs7), (&image[..], true));
        let old_style = signed(&image, b"Build time key", b"\x01\x02\x03\x04", &[0x30; 256], 256);
        assert_eq!(split_signature(&old_style), (&image[..], true));
        let nothing_before = signed(b"", b"", b"", b"sig", 3);
        assert_eq!(split_signature(&nothing_before), (&b""[..], true));
        for file in [&pkcs7, &old_style] {
            assert_eq!(Modinfo::from_elf(file).unwrap().get(b"name"), Some(&b"x"[..]), "signed images parse");
        }
    }

    #[test]
    fn keeps_files_without_a_well_formed_signature_whole() {
        let image = elf(&[(".modinfo", b"name=x\0")]);
        let cases = [
            (image.clone(), "no signature"),
            (SIGNATURE_MAGIC.to_vec(), "only the magic"),
            ([&[0; 11], SIGNATURE_MAGIC].concat(), "a short signature info"),
            (signed(&image, b"", b"", b"", 0), "sig_len = 0"),
            (signed(b"", b"", b"", b"sig", 4), "sig_len past the start of the file"),
            (signed(&image, b"", b"", b"sig", u32::MAX), "sig_len = u32::MAX"),
            (signed(b"", b"signer", b"", b"sig", 3)[1..].to_vec(), "the signer's name past the start"),
            (signed(&image, b"", b"", b"sig", 3)[..image.len() + 3 + 12 + 27].to_vec(), "a cut magic"),
        ];
        for (file, what) in cases {
            assert_eq!(split_signature(&file), (&file[..], false), "{what}");
        }
    }

    /// Where the ELF data ends: the furthest of the section header table and every section's bytes
    /// but `SHT_NOBITS` ones (read here independently of crate::module_file::elf).
    fn elf_end(image: &[u8]) -> usize {
        const SHT_NOBITS: u32 = 8;
        let u64_at = |at: usize| u64::from_le_bytes(image[at..][..8].try_into().unwrap()) as usize;
        let table_offset = u64_at(E_SHOFF);
        let count = usize::from(u16::from_le_bytes(image[E_SHNUM..][..2].try_into().unwrap()));
        (0..count)
            .map(|index| table_offset + index * SHDR_SIZE)
            .filter(|&header| u32::from_le_bytes(image[header + 4..][..4].try_into().unwrap()) != SHT_NOBITS)
            .map(|header| u64_at(header + SH_OFFSET) + u64_at(header + SH_SIZE))
            .fold(table_offset + count * SHDR_SIZE, usize::max)
    }

    /// Every module of the tree: its .modinfo is found, names the module and has a vermagic; and the
    /// signature split leaves exactly the ELF data.
    #[test]
    fn every_module_of_the_real_tree_parses() {
        let Some(paths) = real_modules() else { return };
        let (mut bytes, mut entries, mut signed) = (0, 0, 0);
        let (mut reading, mut parsing) = (Duration::ZERO, Duration::ZERO);
        for path in &paths {
            let started = Instant::now();
            let file = std::fs::read(path).unwrap();
            reading += started.elapsed();
            let started = Instant::now();
            let modinfo = Modinfo::from_elf(&file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (count, name) = (modinfo.entries().count(), modinfo.get(b"name"));
            parsing += started.elapsed();

            let stem = path.file_stem().unwrap().to_str().unwrap().replace('-', "_");
            assert_eq!(name, Some(stem.as_bytes()), "{}", path.display());
            assert!(modinfo.get(b"vermagic").is_some(), "{}", path.display());
            let (image, is_signed) = split_signature(&file);
            if is_signed {
                assert_eq!(image.len(), elf_end(&file), "{}", path.display());
                signed += 1;
            }
            bytes += file.len();
            entries += count;
        }
        println!(
            "{} modules ({} MB, {signed} signed, {entries} entries): parsed in {:.1} ms ({:.2} µs each), \
             read in {} ms",
            paths.len(),
            bytes / 1_000_000,
            parsing.as_secs_f64() * 1e3,
            parsing.as_secs_f64() * 1e6 / paths.len() as f64,
            reading.as_millis(),
        );
    }

    /// The strings binutils extracts from the section, split on NUL, padding dropped.
    fn objcopy_modinfo(path: &Path) -> Vec<Vec<u8>> {
        let output = Command::new("objcopy")
            .args(["-O", "binary", "--only-section=.modinfo"])
            .arg(path)
            .arg("/dev/stdout")
            .output()
            .unwrap();
        assert!(output.status.success(), "objcopy {}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
        output.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()).map(<[u8]>::to_vec).collect()
    }

    /// What kmod's modinfo says `field` is, value by value.
    fn kmod_field(path: &Path, field: &str) -> Vec<Vec<u8>> {
        let output = Command::new("/sbin/modinfo").args(["-0", "-F", field]).arg(path).output().unwrap();
        assert!(output.status.success(), "modinfo {}", path.display());
        output.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()).map(<[u8]>::to_vec).collect()
    }

    /// Every 13th module of the tree: the same entries in the same order as binutils' copy of the
    /// section, and the same aliases and dependencies as kmod's modinfo.
    #[test]
    fn entries_match_objcopy_and_kmod_on_a_sample_of_the_real_tree() {
        let Some(paths) = real_modules() else { return };
        if Command::new("objcopy").arg("--version").output().is_err() {
            return modinit_test_fixtures::unavailable("objcopy (binutils)");
        }
        if !Path::new("/sbin/modinfo").exists() {
            return modinit_test_fixtures::unavailable("kmod's /sbin/modinfo");
        }
        let sample: Vec<_> = paths.iter().step_by(13).collect();
        let (mut entries, mut aliases) = (0, 0);
        for path in &sample {
            let file = std::fs::read(path).unwrap();
            let modinfo = Modinfo::from_elf(&file).unwrap();
            let ours: Vec<_> = modinfo.entries().collect();
            let strings = objcopy_modinfo(path);
            assert_eq!(ours.len(), strings.len(), "{}", path.display());
            for ((key, value), string) in ours.iter().zip(&strings) {
                let rebuilt = [*key, b"=", *value].concat();
                assert!(
                    rebuilt == *string || (value.is_empty() && key == string),
                    "{}: {:?} is not {:?}",
                    path.display(),
                    String::from_utf8_lossy(&rebuilt),
                    String::from_utf8_lossy(string)
                );
            }
            for field in ["alias", "depends"] {
                let ours: Vec<_> = modinfo.values(field.as_bytes()).filter(|v| !v.is_empty()).collect();
                assert_eq!(ours, kmod_field(path, field), "{} {field}", path.display());
            }
            entries += ours.len();
            aliases += modinfo.values(b"alias").count();
        }
        println!(
            "{} of {} modules match objcopy and kmod's modinfo: {entries} entries, {aliases} aliases",
            sample.len(),
            paths.len()
        );
        assert!(sample.len() >= 300 || paths.len() < 300 * 13, "the sample is too small");
    }

    /// Reads everything from a possibly corrupt image; what it yields must lie inside it, well split.
    fn read_all(image: &[u8]) -> Result<usize, ModinfoError> {
        let (_, _) = split_signature(image);
        let modinfo = Modinfo::from_elf(image)?;
        let range = image.as_ptr_range();
        let mut count = 0;
        for (key, value) in modinfo.entries() {
            for part in [key, value] {
                let inside = part.as_ptr_range();
                assert!(range.start <= inside.start && inside.end <= range.end, "{part:?} is not in the image");
                assert!(!part.contains(&0));
            }
            assert!(!key.contains(&b'='));
            assert_eq!(modinfo.values(key).next(), Some(modinfo.get(key).unwrap()));
            count += 1;
        }
        Ok(count)
    }

    /// Every truncation and 50,000 random corruptions of a real module (the tree's smallest, or a
    /// synthetic one without the tree) give a result or an error, never a panic.
    #[test]
    fn corrupt_modules_never_panic() {
        let original = smallest_module_or(|| {
            elf(&[(".text", b"\xc3"), (".modinfo", b"license=GPL\0name=x\0"), (".data", b"1234")])
        });
        let expected = read_all(&original).unwrap();
        let mut outcomes = BTreeMap::<String, usize>::new();
        corruptions(&original, &[], 50_000, |image| {
            let outcome = read_all(image).map_or_else(|e| format!("{e:?}"), |_| "Ok".into());
            *outcomes.entry(outcome).or_default() += 1;
        });
        println!("{} bytes, {expected} entries; outcomes: {outcomes:?}", original.len());
        assert!(outcomes.len() > 3 && outcomes["Ok"] > 0, "the mutations reached few paths: {outcomes:?}");
    }
}
