//! An ELF64 little-endian image's sections, found by name and read in place, with kmod's checks.
//!
//! Shared by the readers of a module's `.modinfo` ([`crate::module_file::modinfo`]) and of its symbol tables
//! ([`crate::module_file::symbols`]). What is checked, and which section a name finds, is what kmod 30's
//! `libkmod-elf.c` does (`kmod_elf_new`, `kmod_elf_get_section`), so a module kmod can read is read
//! the same way here. Any bytes are valid input: a short, foreign or corrupt file gives an
//! [`ElfError`], never a panic. Unlike kmod, only 64-bit little-endian objects (x86_64 modules) are read.

use core::fmt;

const ELF_MAGIC: &[u8] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;

/// Size of the ELF64 header (`Elf64_Ehdr`) and offsets of the fields read from it.
pub(crate) const EHDR_SIZE: usize = 64;
pub(crate) const E_MACHINE: usize = 0x12;
pub(crate) const E_SHOFF: usize = 0x28;
pub(crate) const E_SHENTSIZE: usize = 0x3a;
pub(crate) const E_SHNUM: usize = 0x3c;
pub(crate) const E_SHSTRNDX: usize = 0x3e;

/// Size of an ELF64 section header (`Elf64_Shdr`) and offsets of the fields read from it.
pub(crate) const SHDR_SIZE: usize = 64;
pub(crate) const SH_NAME: usize = 0;
pub(crate) const SH_FLAGS: usize = 8;
pub(crate) const SH_OFFSET: usize = 24;
pub(crate) const SH_SIZE: usize = 32;

type SectionHeader = [u8; SHDR_SIZE];

/// Why an image could not be read as an ELF file at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
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
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElfError::NotElf => "not an ELF file (no \\x7fELF magic)",
            ElfError::NotElf64LittleEndian => "not a 64-bit little-endian ELF file",
            ElfError::Truncated => "file ends inside the ELF header or the section header table",
            ElfError::BadSectionTable => "bad ELF section header table (e_shentsize is not 64)",
            ElfError::BadSectionNameTable => {
                "bad ELF section name table (e_shstrndx names no section, or the table is outside the file \
                 or does not end with a NUL)"
            }
        })
    }
}

impl ElfError {
    /// The errno kmod's `kmod_elf_new` fails with: ENOEXEC without the ELF magic, else EINVAL.
    pub fn errno(self) -> i32 {
        match self {
            ElfError::NotElf => 8,
            _ => 22,
        }
    }
}

/// Why [`Elf::section`] found no section of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionError {
    /// No section has that name.
    Missing,
    /// Sections have that name, but the bytes of each lie (partly) outside the file.
    OutOfBounds,
}

impl fmt::Display for SectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SectionError::Missing => "no section of that name",
            SectionError::OutOfBounds => "the section lies outside the file",
        })
    }
}

/// An ELF64 little-endian image whose header, section header table and section name table are
/// checked to lie inside it.
#[derive(Debug, Clone, Copy)]
pub struct Elf<'a> {
    image: &'a [u8],
    headers: &'a [SectionHeader],
    /// The section name table, non-empty and ending with a NUL.
    names: &'a [u8],
    machine: u16,
}

impl<'a> Elf<'a> {
    /// Checks `image` as kmod's `kmod_elf_new` does: the ELF magic, class and byte order, a 64-byte
    /// `e_shentsize`, a section header table inside the file, and a section name table (not section 0)
    /// inside the file that is non-empty and ends with a NUL. Any `e_machine` is accepted.
    ///
    /// Pass the whole file: trailing bytes after the ELF data (a module signature) are fine.
    pub fn parse(image: &'a [u8]) -> Result<Elf<'a>, ElfError> {
        if !image.starts_with(ELF_MAGIC) {
            return Err(ElfError::NotElf);
        }
        match image.get(4..6) {
            Some(&[ELFCLASS64, ELFDATA2LSB]) => {}
            Some(_) => return Err(ElfError::NotElf64LittleEndian),
            None => return Err(ElfError::Truncated),
        }
        let header: &[u8; EHDR_SIZE] = image.first_chunk().ok_or(ElfError::Truncated)?;
        if usize::from(u16_at::<E_SHENTSIZE, _>(header)) != SHDR_SIZE {
            return Err(ElfError::BadSectionTable);
        }
        // At most 65,535 entries of 64 bytes: the product cannot overflow.
        let table_size = usize::from(u16_at::<E_SHNUM, _>(header)) * SHDR_SIZE;
        let table = file_range(image, u64_at::<E_SHOFF, _>(header), table_size as u64).ok_or(ElfError::Truncated)?;
        let (headers, _) = table.as_chunks();

        let names_index = usize::from(u16_at::<E_SHSTRNDX, _>(header));
        let names = headers
            .get(names_index)
            .filter(|_| names_index != 0)
            .and_then(|names| section_bytes(image, names))
            .filter(|names| names.last() == Some(&0))
            .ok_or(ElfError::BadSectionNameTable)?;
        Ok(Elf { image, headers, names, machine: u16_at::<E_MACHINE, _>(header) })
    }

    /// The bytes of the first section named `name` (without its NUL) whose bytes lie inside the file,
    /// as kmod's `kmod_elf_get_section` finds it: sections out of the file are passed over, and the
    /// section's type is not looked at (a `SHT_NOBITS` section is read from the file like any other).
    pub fn section(&self, name: &[u8]) -> Result<&'a [u8], SectionError> {
        let mut error = SectionError::Missing;
        // Section 0 is the null section; kmod skips it too.
        for header in self.headers.iter().skip(1) {
            if self.name(header) != Some(name) {
                continue;
            }
            match section_bytes(self.image, header) {
                Some(bytes) => return Ok(bytes),
                None => error = SectionError::OutOfBounds,
            }
        }
        Err(error)
    }

    /// The file offset and size of section `index`, as kmod's `elf_get_section_info` reads them:
    /// `None` when `index` is not below `e_shnum` or the section's bytes lie outside the file.
    pub fn section_span(&self, index: usize) -> Option<(u64, u64)> {
        let header = self.headers.get(index)?;
        section_bytes(self.image, header)?;
        Some((u64_at::<SH_OFFSET, _>(header), u64_at::<SH_SIZE, _>(header)))
    }

    /// Where the header of the section [`Elf::section`] finds for `name` lies in the image (kmod's
    /// `elf_find_section`).
    pub fn section_header_offset(&self, name: &[u8]) -> Option<usize> {
        let header = self
            .headers
            .iter()
            .skip(1)
            .find(|h| self.name(h) == Some(name) && section_bytes(self.image, h).is_some())?;
        Some(header.as_ptr() as usize - self.image.as_ptr() as usize)
    }

    /// Where `part`, a slice of the image, starts in it.
    pub fn offset_of(&self, part: &[u8]) -> usize {
        part.as_ptr() as usize - self.image.as_ptr() as usize
    }

    /// The whole image.
    pub fn image(&self) -> &'a [u8] {
        self.image
    }

    /// `e_machine`: the architecture the object is for (`EM_X86_64` = 62).
    pub fn machine(&self) -> u16 {
        self.machine
    }

    /// The section's name, or `None` when `sh_name` is not below the size of the section name table.
    fn name(&self, header: &SectionHeader) -> Option<&'a [u8]> {
        let at = usize::try_from(u32_at::<SH_NAME, _>(header)).ok()?;
        self.names.get(at..).filter(|rest| !rest.is_empty()).map(c_string)
    }
}

/// A section's bytes, or `None` when they lie outside the file.
fn section_bytes<'a>(image: &'a [u8], header: &SectionHeader) -> Option<&'a [u8]> {
    file_range(image, u64_at::<SH_OFFSET, _>(header), u64_at::<SH_SIZE, _>(header))
}

/// `size` bytes at `offset` in `image`, if all of them are in it.
fn file_range(image: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    image.get(usize::try_from(offset).ok()?..)?.get(..usize::try_from(size).ok()?)
}

/// The string at the start of `bytes`: up to its first NUL, or all of `bytes` when there is none.
pub(crate) fn c_string(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or(bytes)
}

/// The `W` bytes at offset `AT` of a fixed-size record; that they lie inside it is checked at compile time.
fn field<const AT: usize, const W: usize, const N: usize>(record: &[u8; N]) -> [u8; W] {
    const { assert!(AT + W <= N, "the field does not fit in the record") };
    let mut field = [0; W];
    field.copy_from_slice(&record[AT..AT + W]);
    field
}

/// The little-endian `u16` at offset `AT` of a fixed-size record.
pub(crate) fn u16_at<const AT: usize, const N: usize>(record: &[u8; N]) -> u16 {
    u16::from_le_bytes(field::<AT, 2, N>(record))
}

/// The little-endian `u32` at offset `AT` of a fixed-size record.
pub(crate) fn u32_at<const AT: usize, const N: usize>(record: &[u8; N]) -> u32 {
    u32::from_le_bytes(field::<AT, 4, N>(record))
}

/// The little-endian `u64` at offset `AT` of a fixed-size record.
pub(crate) fn u64_at<const AT: usize, const N: usize>(record: &[u8; N]) -> u64 {
    u64::from_le_bytes(field::<AT, 8, N>(record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use modinit_test_fixtures::{elf, put, shdr};

    fn error(image: &[u8]) -> Option<ElfError> {
        Elf::parse(image).err()
    }

    #[test]
    fn finds_sections_by_their_whole_name() {
        let image = elf(&[(".text", b"\xc3"), (".modinfo", b"name=x\0"), (".modinfo.x", b"y"), (".data", b"")]);
        let elf = Elf::parse(&image).unwrap();
        assert_eq!(elf.section(b".text"), Ok(&b"\xc3"[..]));
        assert_eq!(elf.section(b".modinfo"), Ok(&b"name=x\0"[..]));
        assert_eq!(elf.section(b".modinfo.x"), Ok(&b"y"[..]));
        assert_eq!(elf.section(b".data"), Ok(&b""[..]));
        assert_eq!(elf.section(b".shstrtab").map(|names| names.ends_with(b".data\0.shstrtab\0")), Ok(true));
        for missing in [&b".modinf"[..], b"modinfo", b".modinfo\0", b"", b".bss"] {
            assert_eq!(elf.section(missing), Err(SectionError::Missing), "{missing:?}");
        }
        assert_eq!(elf.machine(), 62);
        let range = image.as_ptr_range();
        assert!(range.contains(&elf.section(b".text").unwrap().as_ptr()), "read in place");
    }

    #[test]
    fn the_first_section_inside_the_file_counts() {
        let image = elf(&[(".a", b"first"), (".a", b"second"), (".a", b"third")]);
        assert_eq!(Elf::parse(&image).unwrap().section(b".a"), Ok(&b"first"[..]));
        let mut image = image;
        put(&mut image, shdr(2, SH_OFFSET), &u64::MAX.to_le_bytes());
        assert_eq!(Elf::parse(&image).unwrap().section(b".a"), Ok(&b"second"[..]), "kmod passes over the first");
        let len = image.len() as u64;
        put(&mut image, shdr(3, SH_SIZE), &len.to_le_bytes());
        assert_eq!(Elf::parse(&image).unwrap().section(b".a"), Ok(&b"third"[..]));
        put(&mut image, shdr(4, SH_SIZE), &u64::MAX.to_le_bytes());
        assert_eq!(Elf::parse(&image).unwrap().section(b".a"), Err(SectionError::OutOfBounds));
    }

    #[test]
    fn the_section_type_is_not_looked_at() {
        const SHT_NOBITS: u32 = 8;
        let mut image = elf(&[(".bss", b"file bytes")]);
        put(&mut image, shdr(2, 4), &SHT_NOBITS.to_le_bytes());
        assert_eq!(Elf::parse(&image).unwrap().section(b".bss"), Ok(&b"file bytes"[..]));
        put(&mut image, shdr(2, SH_SIZE), &(1u64 << 40).to_le_bytes());
        assert_eq!(Elf::parse(&image).unwrap().section(b".bss"), Err(SectionError::OutOfBounds));
    }

    #[test]
    fn a_section_ending_the_file_exactly_is_inside_it() {
        let image = elf(&[(".text", b"\xc3"), (".last", b"abc")]);
        assert_eq!(Elf::parse(&image).unwrap().section(b".last"), Ok(&b"abc"[..]));
        let cut = &image[..image.len() - 1];
        assert_eq!(Elf::parse(cut).unwrap().section(b".last"), Err(SectionError::OutOfBounds));
        let mut empty_at_end = elf(&[(".empty", b"")]);
        let end = empty_at_end.len() as u64;
        put(&mut empty_at_end, shdr(2, SH_OFFSET), &end.to_le_bytes());
        assert_eq!(Elf::parse(&empty_at_end).unwrap().section(b".empty"), Ok(&b""[..]));
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        use ElfError::*;
        let good = elf(&[(".text", b"\xc3"), (".modinfo", b"license=GPL\0"), (".data", b"12345678")]);
        let table_end = EHDR_SIZE + 5 * SHDR_SIZE;
        let names = 1;
        let edited = |at: usize, bytes: &[u8]| {
            let mut image = good.clone();
            put(&mut image, at, bytes);
            error(&image)
        };
        let u16s = |v: u16| v.to_le_bytes();
        let u64s = |v: u64| v.to_le_bytes();
        let names_end = u64::from_le_bytes(good[shdr(names, SH_OFFSET)..][..8].try_into().unwrap())
            + u64::from_le_bytes(good[shdr(names, SH_SIZE)..][..8].try_into().unwrap());
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
            (edited(shdr(names, SH_OFFSET), &u64s(u64::MAX)), Some(BadSectionNameTable), "names beyond the file"),
            (edited(shdr(names, SH_SIZE), &u64s(u64::MAX - 7)), Some(BadSectionNameTable), "huge name table"),
            (edited(shdr(names, SH_SIZE), &u64s(0)), Some(BadSectionNameTable), "an empty name table"),
            (edited(names_end as usize - 1, b"x"), Some(BadSectionNameTable), "names not ending with a NUL"),
            (edited(E_SHSTRNDX, &u16s(2)), Some(BadSectionNameTable), ".text (no final NUL) as the names"),
            (edited(E_SHSTRNDX, &u16s(3)), None, ".modinfo (a final NUL) as the names"),
        ];
        for (got, expected, what) in cases {
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn every_error_explains_itself_differently() {
        use ElfError::*;
        let all = [NotElf, NotElf64LittleEndian, Truncated, BadSectionTable, BadSectionNameTable];
        let messages: std::collections::BTreeSet<String> = all.iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), all.len());
        assert_ne!(SectionError::Missing.to_string(), SectionError::OutOfBounds.to_string());
    }

    #[test]
    fn c_strings_end_at_the_first_nul_or_the_end() {
        assert_eq!(c_string(b"abc\0def\0"), b"abc");
        assert_eq!(c_string(b"abc"), b"abc");
        assert_eq!(c_string(b"\0abc"), b"");
        assert_eq!(c_string(b""), b"");
    }
}
