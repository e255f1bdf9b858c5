//! A kernel module's `.modinfo` strings (`alias=...`, `depends=...`), read in place from its ELF image.
//!
//! No copies and no allocation: the index builder reads a whole module tree with this, and the boot
//! path may too. Any bytes are valid input: a short, foreign or corrupt file gives a [`ModinfoError`],
//! never a panic. Only what finding one section needs is checked, as kmod's `libkmod-elf.c` does:
//! the ELF header, the section header table and the section name table.

use core::fmt;
use core::iter::FusedIterator;
use core::slice::Split;

const ELF_MAGIC: &[u8] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;

/// Offsets of the fields of the ELF64 header (`Elf64_Ehdr`) that locate the sections.
const EHDR_SIZE: usize = 64;
const E_SHOFF: usize = 0x28;
const E_SHENTSIZE: usize = 0x3a;
const E_SHNUM: usize = 0x3c;
const E_SHSTRNDX: usize = 0x3e;

/// Offsets of the fields of an ELF64 section header (`Elf64_Shdr`) used here.
const SHDR_SIZE: usize = 64;
const SH_NAME: usize = 0;
const SH_TYPE: usize = 4;
const SH_OFFSET: usize = 24;
const SH_SIZE: usize = 32;
/// A section that occupies no bytes in the file (`.bss`).
const SHT_NOBITS: u32 = 8;

/// The section's name as it appears in the section name table, NUL included.
const MODINFO_NAME: &[u8] = b".modinfo\0";

const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";
/// `struct module_signature`: algo, hash, id_type, signer_len, key_id_len, 3 bytes of padding, sig_len (big endian).
const SIGNATURE_INFO_SIZE: usize = 12;

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
    /// `e_shstrndx` names no section (0, or not below `e_shnum`), or the section name table's bytes lie
    /// outside the file.
    BadSectionNameTable,
    /// No section is named `.modinfo`.
    NoModinfo,
    /// The `.modinfo` section's bytes (`sh_offset`, `sh_size`) lie outside the file.
    ModinfoOutOfBounds,
}

impl fmt::Display for ModinfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModinfoError::NotElf => "not an ELF file (no \\x7fELF magic)",
            ModinfoError::NotElf64LittleEndian => "not a 64-bit little-endian ELF file",
            ModinfoError::Truncated => "file ends inside the ELF header or the section header table",
            ModinfoError::BadSectionTable => "bad ELF section header table (e_shentsize is not 64)",
            ModinfoError::BadSectionNameTable => {
                "bad ELF section name table (e_shstrndx names no section, or the table is outside the file)"
            }
            ModinfoError::NoModinfo => "no .modinfo section",
            ModinfoError::ModinfoOutOfBounds => "the .modinfo section lies outside the file",
        })
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
    /// The first section of that name counts. Trailing bytes after the ELF data (a signature) are fine.
    pub fn from_elf(image: &'a [u8]) -> Result<Modinfo<'a>, ModinfoError> {
        if !image.starts_with(ELF_MAGIC) {
            return Err(ModinfoError::NotElf);
        }
        match image.get(4..6) {
            Some(&[ELFCLASS64, ELFDATA2LSB]) => {}
            Some(_) => return Err(ModinfoError::NotElf64LittleEndian),
            None => return Err(ModinfoError::Truncated),
        }
        let header = image.get(..EHDR_SIZE).ok_or(ModinfoError::Truncated)?;
        let header_u16 = |at| le_u16(header, at).ok_or(ModinfoError::Truncated);
        if usize::from(header_u16(E_SHENTSIZE)?) != SHDR_SIZE {
            return Err(ModinfoError::BadSectionTable);
        }
        let count = usize::from(header_u16(E_SHNUM)?);
        let table_offset = le_u64(header, E_SHOFF).ok_or(ModinfoError::Truncated)?;
        // At most 65,535 entries of 64 bytes: the product cannot overflow.
        let table_size = count * SHDR_SIZE;
        let table = file_range(image, table_offset, table_size as u64)
            .map(|bytes| SectionTable { bytes })
            .ok_or(ModinfoError::Truncated)?;

        let names_index = usize::from(header_u16(E_SHSTRNDX)?);
        let names = table
            .section(names_index)
            .filter(|_| names_index != 0)
            .and_then(|names| names.data(image))
            .ok_or(ModinfoError::BadSectionNameTable)?;

        // Section 0 is the null section; kmod skips it too.
        let modinfo = (1..count)
            .filter_map(|index| table.section(index))
            .find(|section| section.is_named(names, MODINFO_NAME))
            .ok_or(ModinfoError::NoModinfo)?;
        let section = modinfo.data(image).ok_or(ModinfoError::ModinfoOutOfBounds)?;
        Ok(Modinfo { section })
    }

    /// Every `key=value` entry in file order (NUL-separated strings; empty strings/padding skipped;
    /// an entry without '=' yields (whole, b"")).
    pub fn entries(&self) -> Entries<'a> {
        Entries { strings: self.section.split(is_nul) }
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

/// The entries of a [`Modinfo`], from [`Modinfo::entries`]: `(key, value)` pairs.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    strings: Split<'a, u8, fn(&u8) -> bool>,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.strings.find(|string| !string.is_empty())?;
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
/// the image without it (kmod's modinfo shows signer fields; just detect and return the split here).
///
/// Returns the image before the signature and `true`, or the whole file and `false` when there is no
/// well-formed trailer (the magic, then `struct module_signature` whose lengths fit in the file, with a
/// non-empty signature), as kmod's `kmod_module_signature_info` decides.
pub fn split_signature(file: &[u8]) -> (&[u8], bool) {
    match image_before_signature(file) {
        Some(image) => (image, true),
        None => (file, false),
    }
}

fn image_before_signature(file: &[u8]) -> Option<&[u8]> {
    let (rest, info) = file.strip_suffix(SIGNATURE_MAGIC)?.split_last_chunk::<SIGNATURE_INFO_SIZE>()?;
    let [_algo, _hash, _id_type, signer_len, key_id_len, _, _, _, sig_len @ ..] = *info;
    let sig_len = u32::from_be_bytes(sig_len);
    if sig_len == 0 {
        return None;
    }
    // Old-style signatures keep the signer's name and key id before the signature data; PKCS#7 ones
    // have both lengths 0.
    let trailer = usize::try_from(sig_len).ok()?.checked_add(usize::from(signer_len) + usize::from(key_id_len))?;
    rest.get(..rest.len().checked_sub(trailer)?)
}

/// The section header table, checked to lie inside the file.
struct SectionTable<'a> {
    bytes: &'a [u8],
}

impl SectionTable<'_> {
    /// The header of section `index`, or `None` past the end of the table.
    fn section(&self, index: usize) -> Option<SectionHeader> {
        let entry = self.bytes.get(index.checked_mul(SHDR_SIZE)?..)?;
        Some(SectionHeader {
            name: le_u32(entry, SH_NAME)?,
            kind: le_u32(entry, SH_TYPE)?,
            offset: le_u64(entry, SH_OFFSET)?,
            size: le_u64(entry, SH_SIZE)?,
        })
    }
}

/// The fields of an `Elf64_Shdr` needed to find a section by name and read it.
struct SectionHeader {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
}

impl SectionHeader {
    /// Whether the string at `sh_name` in the section name table `names` is `name` (NUL included).
    fn is_named(&self, names: &[u8], name: &[u8]) -> bool {
        usize::try_from(self.name).ok().and_then(|at| names.get(at..)).is_some_and(|s| s.starts_with(name))
    }

    /// The section's bytes, or `None` when they lie outside the file.
    fn data<'a>(&self, image: &'a [u8]) -> Option<&'a [u8]> {
        if self.kind == SHT_NOBITS {
            return Some(&[]);
        }
        file_range(image, self.offset, self.size)
    }
}

/// `size` bytes at `offset` in `image`, if all of them are in it.
fn file_range(image: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    image.get(usize::try_from(offset).ok()?..)?.get(..usize::try_from(size).ok()?)
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(*bytes.get(at..)?.first_chunk()?))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(*bytes.get(at..)?.first_chunk()?))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*bytes.get(at..)?.first_chunk()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    const SHT_PROGBITS: u32 = 1;
    const SHT_STRTAB: u32 = 3;
    const EM_X86_64: u16 = 62;

    /// A minimal relocatable ELF64 little-endian image holding `sections` (name, bytes), all PROGBITS.
    /// Section 0 is the null section and section 1 the name table, so `sections[i]` is section `i + 2`.
    /// The section header table follows the ELF header; the sections' bytes come after it, in order,
    /// so the last section ends the file.
    fn elf(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut names = vec![0];
        let mut headers = vec![(0, 0, Vec::new()), (0, SHT_STRTAB, Vec::new())];
        for (name, bytes) in sections {
            headers.push((names.len(), SHT_PROGBITS, bytes.to_vec()));
            names.extend(name.as_bytes().iter().chain(b"\0"));
        }
        headers[1].0 = names.len();
        names.extend(b".shstrtab\0");
        headers[1].2 = names;

        let mut image = vec![0; EHDR_SIZE + headers.len() * SHDR_SIZE];
        put(&mut image, 0, b"\x7fELF\x02\x01\x01");
        put(&mut image, 16, &1u16.to_le_bytes()); // ET_REL
        put(&mut image, 18, &EM_X86_64.to_le_bytes());
        put(&mut image, 20, &1u32.to_le_bytes()); // EV_CURRENT
        put(&mut image, E_SHOFF, &(EHDR_SIZE as u64).to_le_bytes());
        put(&mut image, 0x34, &(EHDR_SIZE as u16).to_le_bytes()); // e_ehsize
        put(&mut image, E_SHENTSIZE, &(SHDR_SIZE as u16).to_le_bytes());
        put(&mut image, E_SHNUM, &(headers.len() as u16).to_le_bytes());
        put(&mut image, E_SHSTRNDX, &1u16.to_le_bytes());
        for (index, (name, kind, bytes)) in headers.iter().enumerate() {
            let offset = if index == 0 { 0 } else { image.len() as u64 };
            put(&mut image, shdr(index, SH_NAME), &(*name as u32).to_le_bytes());
            put(&mut image, shdr(index, SH_TYPE), &kind.to_le_bytes());
            put(&mut image, shdr(index, SH_OFFSET), &offset.to_le_bytes());
            put(&mut image, shdr(index, SH_SIZE), &(bytes.len() as u64).to_le_bytes());
            image.extend(bytes);
        }
        image
    }

    /// Where `field` of section `index`'s header is in an image from [`elf`].
    fn shdr(index: usize, field: usize) -> usize {
        EHDR_SIZE + index * SHDR_SIZE + field
    }

    fn put(image: &mut [u8], at: usize, bytes: &[u8]) {
        image[at..at + bytes.len()].copy_from_slice(bytes);
    }

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
    fn a_nobits_modinfo_is_empty() {
        let mut image = elf(&[(".modinfo", b"name=x\0")]);
        put(&mut image, shdr(2, SH_TYPE), &SHT_NOBITS.to_le_bytes());
        put(&mut image, shdr(2, SH_OFFSET), &u64::MAX.to_le_bytes());
        assert_eq!(entries(&image), []);
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
        let table_end = EHDR_SIZE + 5 * SHDR_SIZE;
        let edited = |at: usize, bytes: &[u8]| {
            let mut image = good.clone();
            put(&mut image, at, bytes);
            error(&image)
        };
        let u16s = |v: u16| v.to_le_bytes();
        let u32s = |v: u32| v.to_le_bytes();
        let u64s = |v: u64| v.to_le_bytes();
        let cases = [
            (error(&good), None, "the unedited image"),
            (error(b""), Some(NotElf), "an empty file"),
            (error(b"\x7fEL"), Some(NotElf), "a partial magic"),
            (error(b"MZ\x90\0\x03\0\0\0"), Some(NotElf), "a PE file"),
            (edited(0, b"\x7fELG"), Some(NotElf), "a wrong magic"),
            (edited(4, &[1]), Some(NotElf64LittleEndian), "ELFCLASS32"),
            (edited(4, &[0]), Some(NotElf64LittleEndian), "ELFCLASSNONE"),
            (edited(5, &[2]), Some(NotElf64LittleEndian), "ELFDATA2MSB"),
            (error(&good[..5]), Some(Truncated), "cut inside e_ident"),
            (error(&good[..EHDR_SIZE - 1]), Some(Truncated), "cut inside the ELF header"),
            (error(&good[..table_end - 1]), Some(Truncated), "cut inside the section header table"),
            (edited(E_SHOFF, &u64s(good.len() as u64 - 64)), Some(Truncated), "a table running past the end"),
            (edited(E_SHOFF, &u64s(u64::MAX)), Some(Truncated), "e_shoff = u64::MAX"),
            (edited(E_SHNUM, &u16s(u16::MAX)), Some(Truncated), "e_shnum = 65535"),
            (edited(E_SHENTSIZE, &u16s(40)), Some(BadSectionTable), "ELF32-sized section headers"),
            (edited(E_SHENTSIZE, &u16s(0)), Some(BadSectionTable), "e_shentsize = 0"),
            (edited(E_SHSTRNDX, &u16s(0)), Some(BadSectionNameTable), "e_shstrndx = SHN_UNDEF"),
            (edited(E_SHSTRNDX, &u16s(5)), Some(BadSectionNameTable), "e_shstrndx = e_shnum"),
            (edited(E_SHSTRNDX, &u16s(0xffff)), Some(BadSectionNameTable), "e_shstrndx = SHN_XINDEX"),
            (edited(E_SHNUM, &u16s(0)), Some(BadSectionNameTable), "no sections at all"),
            (edited(shdr(1, SH_OFFSET), &u64s(u64::MAX)), Some(BadSectionNameTable), "names beyond the file"),
            (edited(shdr(1, SH_SIZE), &u64s(u64::MAX - 7)), Some(BadSectionNameTable), "huge name table"),
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

    /// The module tree named by MODINIT_MODULES, else the one `cargo xtask` unpacks under target/kernel/.
    fn module_tree() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("MODINIT_MODULES") {
            return Some(dir.into());
        }
        let kernels = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kernel");
        let mut trees: Vec<PathBuf> = std::fs::read_dir(kernels)
            .ok()?
            .flatten()
            .filter_map(|kernel| std::fs::read_dir(kernel.path().join("lib/modules")).ok())
            .flat_map(|versions| versions.flatten().map(|version| version.path()))
            .collect();
        trees.sort();
        trees.pop()
    }

    /// Every `*.ko` under `dir`, sorted.
    fn modules_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if entry.file_type().unwrap().is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|ext| ext == "ko") {
                    found.push(path);
                }
            }
        }
        found.sort();
        found
    }

    fn real_modules() -> Option<Vec<PathBuf>> {
        let Some(tree) = module_tree() else {
            println!("skipped: no module tree (set MODINIT_MODULES or run `cargo xtask` to unpack Debian's)");
            return None;
        };
        let modules = modules_under(&tree);
        assert!(!modules.is_empty(), "no .ko files under {}", tree.display());
        Some(modules)
    }

    /// Where the ELF data ends: the furthest of the section header table and every section's bytes.
    fn elf_end(image: &[u8]) -> usize {
        let table_offset = le_u64(image, E_SHOFF).unwrap() as usize;
        let count = usize::from(le_u16(image, E_SHNUM).unwrap());
        let table = SectionTable { bytes: &image[table_offset..table_offset + count * SHDR_SIZE] };
        (0..count)
            .map(|index| table.section(index).unwrap())
            .filter(|section| section.kind != SHT_NOBITS)
            .map(|section| (section.offset + section.size) as usize)
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
            println!("skipped: no objcopy (binutils)");
            return;
        }
        let kmod = Path::new("/sbin/modinfo").exists();
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
            if kmod {
                for field in ["alias", "depends"] {
                    let ours: Vec<_> = modinfo.values(field.as_bytes()).filter(|v| !v.is_empty()).collect();
                    assert_eq!(ours, kmod_field(path, field), "{} {field}", path.display());
                }
            }
            entries += ours.len();
            aliases += modinfo.values(b"alias").count();
        }
        println!(
            "{} of {} modules match objcopy{}: {entries} entries, {aliases} aliases",
            sample.len(),
            paths.len(),
            if kmod { " and kmod's modinfo" } else { "" }
        );
        assert!(sample.len() >= 300 || paths.len() < 300 * 13, "the sample is too small");
    }

    /// A small xorshift generator: the same mutations on every run.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
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
        let original = match real_modules() {
            Some(paths) => {
                let smallest = paths.iter().min_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
                println!("mutating {}", smallest.display());
                std::fs::read(smallest).unwrap()
            }
            None => elf(&[(".text", b"\xc3"), (".modinfo", b"license=GPL\0name=x\0"), (".data", b"1234")]),
        };
        let expected = read_all(&original).unwrap();
        let mut outcomes = BTreeMap::<String, usize>::new();
        let mut record = |result: Result<usize, ModinfoError>| {
            *outcomes.entry(result.map_or_else(|e| format!("{e:?}"), |_| "Ok".into())).or_default() += 1;
        };
        for len in 0..original.len() {
            record(read_all(&original[..len]));
        }

        let header_fields = [E_SHOFF, E_SHENTSIZE, E_SHNUM, E_SHSTRNDX, 4, 5];
        let table_offset = le_u64(&original, E_SHOFF).unwrap() as usize;
        let table_len = usize::from(le_u16(&original, E_SHNUM).unwrap()) * SHDR_SIZE;
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let mut image = original.clone();
        for _ in 0..50_000 {
            for _ in 0..1 + random.below(3) {
                let in_table = table_offset + random.below(table_len);
                match random.below(4) {
                    0 => image[random.below(original.len())] = random.next() as u8,
                    1 => image[random.below(EHDR_SIZE)] = random.next() as u8,
                    2 => image[in_table] = random.next() as u8,
                    _ => {
                        let at = match random.below(2) {
                            0 => header_fields[random.below(header_fields.len())],
                            _ => in_table - in_table % SHDR_SIZE + [SH_NAME, SH_OFFSET, SH_SIZE][random.below(3)],
                        };
                        let extremes = [0, 1, u64::MAX, u64::MAX - 1, original.len() as u64, random.next()];
                        let value = extremes[random.below(extremes.len())].to_le_bytes();
                        let width = if at < EHDR_SIZE && at != E_SHOFF { 2 } else { 8 };
                        put(&mut image, at, &value[..width]);
                    }
                }
            }
            record(read_all(&image));
            image.copy_from_slice(&original);
        }
        println!("{} bytes, {expected} entries; outcomes: {outcomes:?}", original.len());
        assert!(outcomes.len() > 3 && outcomes["Ok"] > 0, "the mutations reached few paths: {outcomes:?}");
    }
}
