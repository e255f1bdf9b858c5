//! The symbols a module exports and the symbols it needs, read in place from its ELF image exactly as
//! kmod 30's depmod reads them (`kmod_elf_get_symbols` and `kmod_elf_get_dependency_symbols`,
//! libkmod-elf.c), for computing modules.dep and modules.symbols the way depmod does.
//!
//! depmod makes each exported symbol's owner the module that exports it, and makes a module depend on
//! the owners of the symbols it needs; the `depends=` field of `.modinfo` plays no part. No allocation:
//! each list is an iterator over the image. Strings end at their first NUL or at the end of their
//! section or `__versions` entry (kmod reads on past either end: only a corrupt file can tell).

use crate::module_file::elf::{Elf, SectionError, c_string, u16_at, u32_at, u64_at};
use core::fmt;
use core::iter::FusedIterator;
use core::slice::{self, Split};

/// Size of an ELF64 symbol (`Elf64_Sym`) and offsets of the fields read from it.
const SYM_SIZE: usize = 24;
const ST_NAME: usize = 0;
const ST_INFO: usize = 4;
const ST_SHNDX: usize = 6;
const ST_VALUE: usize = 8;
/// `st_shndx` of a symbol the object uses but does not define.
const SHN_UNDEF: u16 = 0;
/// `st_shndx` of an absolute symbol: its value is not an offset into a section.
const SHN_ABS: u16 = 0xfff1;
/// The binding (`st_info >> 4`) of a weak symbol.
const STB_WEAK: u8 = 2;
/// On SPARC, undefined symbols of this type (`st_info & 0xf`) are global registers, not references.
const STT_REGISTER: u8 = 13;
const EM_SPARC: u16 = 2;
const EM_SPARCV9: u16 = 43;

/// Size of a `__versions` entry (`struct modversion_info`): a 64-bit CRC, then the symbol's name,
/// NUL-padded.
const VERSION_SIZE: usize = 64;

/// The prefix of the `.symtab` symbol that modpost adds for each exported symbol's CRC.
const CRC_PREFIX: &[u8] = b"__crc_";

type Symbol = [u8; SYM_SIZE];
type Version = [u8; VERSION_SIZE];

/// Why a module's dependency symbols could not be read (kmod's `kmod_elf_get_dependency_symbols`
/// fails with `-EINVAL` in each case, and depmod then gives the module no dependencies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolError {
    /// There is no `section` (`.strtab` or `.symtab`) whose bytes lie inside the file.
    NoSection { section: &'static str, error: SectionError },
    /// The size of `.symtab`, `size` bytes, is not a multiple of 24 (an `Elf64_Sym`).
    SymbolTableSize { size: usize },
    /// The name of undefined symbol `index`, at `offset`, lies past the end of `.strtab` (`strtab_size` bytes).
    NameOutOfBounds { index: usize, offset: u32, strtab_size: usize },
}

impl fmt::Display for SymbolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SymbolError::NoSection { section, error: SectionError::Missing } => write!(f, "no {section} section"),
            SymbolError::NoSection { section, error: SectionError::OutOfBounds } => {
                write!(f, "the {section} section lies outside the file")
            }
            SymbolError::SymbolTableSize { size } => {
                write!(f, "the .symtab section's size ({size} bytes) is not a multiple of 24 (Elf64_Sym)")
            }
            SymbolError::NameOutOfBounds { index, offset, strtab_size } => write!(
                f,
                "the name of undefined symbol {index} (at {offset}) lies past the end of .strtab ({strtab_size} bytes)"
            ),
        }
    }
}

/// The names of the symbols a module exports, in kmod's order, from [`exported_symbols`].
#[derive(Debug, Clone)]
pub struct ExportedSymbols<'a>(Exports<'a>);

#[derive(Debug, Clone)]
enum Exports<'a> {
    /// The `.symtab` symbols named `__crc_NAME`, in symbol table order.
    Crcs { names: &'a [u8], symbols: slice::Iter<'a, Symbol> },
    /// The strings of `__ksymtab_strings`.
    Strings(Split<'a, u8, fn(&u8) -> bool>),
}

/// The symbols the module exports, as kmod's `kmod_elf_get_symbols` lists them for depmod.
///
/// The names of the `.symtab` symbols that start with `__crc_`, that prefix removed, in symbol table
/// order. When that gives nothing (no `.strtab` or `.symtab` inside the file, a `.symtab` size that is
/// not a multiple of 24, a symbol whose name lies past the end of `.strtab`, or no `__crc_` symbol at
/// all), the NUL-separated strings of `__ksymtab_strings` instead, empty ones skipped, and none when
/// that section is missing or holds a single byte after its leading NULs (kmod's quirk).
pub fn exported_symbols<'a>(elf: &Elf<'a>) -> ExportedSymbols<'a> {
    let crcs = symbol_table(elf).ok().filter(|table| {
        // kmod gives up on the table at the first bad name, even after `__crc_` symbols. Only
        // where a name starts matters here: a name starts with `__crc_` when its bytes do.
        let mut names = table.symbols.iter().map(|symbol| name_bytes(table.names, symbol));
        names.clone().all(|name| name.is_some()) && names.any(|name| name.is_some_and(|n| n.starts_with(CRC_PREFIX)))
    });
    ExportedSymbols(match crcs {
        Some(table) => Exports::Crcs { names: table.names, symbols: table.symbols.iter() },
        None => Exports::Strings(ksymtab_strings(elf).split(is_nul)),
    })
}

impl<'a> ExportedSymbols<'a> {
    /// The next name, with its `__crc_` symbol when it comes from `.symtab`.
    fn next_export(&mut self) -> Option<(&'a [u8], Option<&'a Symbol>)> {
        match &mut self.0 {
            Exports::Crcs { names, symbols } => {
                symbols.find_map(|symbol| Some((symbol_name(names, symbol)?.strip_prefix(CRC_PREFIX)?, Some(symbol))))
            }
            Exports::Strings(strings) => strings.find(|string| !string.is_empty()).map(|name| (name, None)),
        }
    }
}

impl<'a> Iterator for ExportedSymbols<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_export().map(|(name, _)| name)
    }
}

impl FusedIterator for ExportedSymbols<'_> {}

/// An exported symbol and its CRC, from [`exports_with_crcs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export<'a> {
    pub name: &'a [u8],
    pub crc: u64,
}

/// The symbols of [`exported_symbols`] with their CRCs, from [`exports_with_crcs`].
#[derive(Debug, Clone)]
pub struct ExportsWithCrcs<'a> {
    symbols: ExportedSymbols<'a>,
    elf: Elf<'a>,
}

/// kmod's `kmod_module_get_symbols` (what `modprobe --show-exports` prints): the symbols of
/// [`exported_symbols`], each with its CRC. A `__crc_NAME` symbol's CRC is its value when it is
/// absolute (or undefined), else the `u32` at that offset of its section, and `u64::MAX` when
/// the section or the offset is not in the file; names from `__ksymtab_strings` have CRC 0.
/// Fails as kmod does (ENOENT) when the names would come from `__ksymtab_strings` and no such
/// section lies inside the file.
pub fn exports_with_crcs<'a>(elf: &Elf<'a>) -> Result<ExportsWithCrcs<'a>, SectionError> {
    let symbols = exported_symbols(elf);
    if let Exports::Strings(_) = symbols.0 {
        elf.section(b"__ksymtab_strings")?;
    }
    Ok(ExportsWithCrcs { symbols, elf: *elf })
}

impl<'a> Iterator for ExportsWithCrcs<'a> {
    type Item = Export<'a>;

    fn next(&mut self) -> Option<Export<'a>> {
        let (name, symbol) = self.symbols.next_export()?;
        Some(Export { name, crc: symbol.map_or(0, |symbol| crc(&self.elf, symbol)) })
    }
}

impl FusedIterator for ExportsWithCrcs<'_> {}

/// kmod's `kmod_elf_resolve_crc` for a `__crc_` symbol.
fn crc(elf: &Elf<'_>, symbol: &Symbol) -> u64 {
    let (value, index) = (u64_at::<ST_VALUE, _>(symbol), u16_at::<ST_SHNDX, _>(symbol));
    if index == SHN_ABS || index == SHN_UNDEF {
        return value;
    }
    let Some((offset, size)) = elf.section_span(usize::from(index)) else { return u64::MAX };
    if size.checked_sub(4).is_some_and(|last| value > last) {
        return u64::MAX;
    }
    let at = offset.checked_add(value).and_then(|at| usize::try_from(at).ok());
    at.and_then(|at| elf.image().get(at..)?.first_chunk::<4>()).map_or(u64::MAX, |b| u64::from(u32::from_le_bytes(*b)))
}

/// `__ksymtab_strings` as kmod's `kmod_elf_get_symbols_symtab` reads it: without its leading NULs,
/// and empty when that leaves at most one byte (kmod keeps one byte while skipping, then reads
/// nothing from a single byte).
fn ksymtab_strings<'a>(elf: &Elf<'a>) -> &'a [u8] {
    let mut strings = elf.section(b"__ksymtab_strings").unwrap_or_default();
    while let [0, rest @ ..] = strings {
        strings = rest;
    }
    if strings.len() > 1 { strings } else { &[] }
}

fn is_nul(b: &u8) -> bool {
    *b == 0
}

/// A symbol a module needs from the kernel or from another module, from [`dependency_symbols`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DependencySymbol<'a> {
    /// The symbol's name as written. depmod looks it up with a leading `.` dropped (PPC64's `.foo`).
    pub name: &'a [u8],
    /// A weak reference (`STB_WEAK`): depmod does not warn when no module or the kernel has it.
    pub weak: bool,
}

/// The symbols a module needs, in kmod's order, from [`dependency_symbols`].
#[derive(Debug, Clone)]
pub struct DependencySymbols<'a> {
    undefined: UndefinedSymbols<'a>,
    unmatched_versions: UnmatchedVersions<'a>,
}

/// The symbols the module needs, as kmod's `kmod_elf_get_dependency_symbols` lists them for depmod.
///
/// First the undefined `.symtab` symbols (`st_shndx` = `SHN_UNDEF`; from index 1; empty names skipped;
/// on SPARC not the `STT_REGISTER` ones) in symbol table order, each weak or not by its binding. Then,
/// when `__versions` is inside the file and its size is a multiple of 64, its entries not matched by
/// those names, in order, as non-weak: `module_layout` in practice. An entry is matched when it is the
/// first one of its name and an undefined symbol has that name.
///
/// Fails, as kmod does, when `.strtab` or `.symtab` is not inside the file, when `.symtab`'s size is
/// not a multiple of 24, or when an undefined symbol's name lies past the end of `.strtab`.
pub fn dependency_symbols<'a>(elf: &Elf<'a>) -> Result<DependencySymbols<'a>, SymbolError> {
    // kmod lists the symbols without `__versions` when it is missing or badly sized.
    let versions = match elf.section(b"__versions").map(<[u8]>::as_chunks) {
        Ok((entries, [])) => entries,
        _ => &[],
    };
    let table = symbol_table(elf)?;
    let skip_registers = matches!(elf.machine(), EM_SPARC | EM_SPARCV9);
    // kmod checks the name of every undefined symbol before it lists any. Only the span from the first
    // to the last of them is worth walking again (and again to match `__versions`): they are among the
    // globals, which ELF puts after the locals (the last 6,000 of amdgpu's 26,000 symbols).
    let mut span = None;
    for (index, symbol) in table.symbols.iter().enumerate() {
        if !is_needed(symbol, skip_registers) {
            continue;
        }
        if name_bytes(table.names, symbol).is_none() {
            let (index, offset, strtab_size) = (index + 1, u32_at::<ST_NAME, _>(symbol), table.names.len());
            return Err(SymbolError::NameOutOfBounds { index, offset, strtab_size });
        }
        span = Some((span.map_or(index, |(first, _)| first), index + 1));
    }
    let needed = span.and_then(|(first, end)| table.symbols.get(first..end)).unwrap_or_default();
    let undefined = UndefinedSymbols { names: table.names, symbols: needed.iter(), skip_registers };
    Ok(DependencySymbols {
        undefined: undefined.clone(),
        unmatched_versions: UnmatchedVersions { versions, next: 0, after_last_match: undefined.clone(), undefined },
    })
}

impl<'a> Iterator for DependencySymbols<'a> {
    type Item = DependencySymbol<'a>;

    fn next(&mut self) -> Option<DependencySymbol<'a>> {
        self.undefined.next().or_else(|| self.unmatched_versions.next())
    }
}

impl FusedIterator for DependencySymbols<'_> {}

/// Whether kmod lists `symbol` as needed: undefined, and on SPARC not a global register.
fn is_needed(symbol: &Symbol, skip_registers: bool) -> bool {
    u16_at::<ST_SHNDX, _>(symbol) == SHN_UNDEF && !(skip_registers && symbol[ST_INFO] & 0xf == STT_REGISTER)
}

/// The undefined symbols of a symbol table, their names checked to start inside `.strtab` (`names`).
#[derive(Debug, Clone)]
struct UndefinedSymbols<'a> {
    names: &'a [u8],
    symbols: slice::Iter<'a, Symbol>,
    skip_registers: bool,
}

impl<'a> Iterator for UndefinedSymbols<'a> {
    type Item = DependencySymbol<'a>;

    fn next(&mut self) -> Option<DependencySymbol<'a>> {
        let (names, skip_registers) = (self.names, self.skip_registers);
        self.symbols.find_map(|symbol| {
            if !is_needed(symbol, skip_registers) {
                return None;
            }
            let name = symbol_name(names, symbol).filter(|name| !name.is_empty())?;
            Some(DependencySymbol { name, weak: symbol[ST_INFO] >> 4 == STB_WEAK })
        })
    }
}

impl FusedIterator for UndefinedSymbols<'_> {}

/// The `__versions` entries that no undefined symbol matched.
#[derive(Debug, Clone)]
struct UnmatchedVersions<'a> {
    versions: &'a [Version],
    /// The index of the next entry to look at.
    next: usize,
    /// All the undefined symbols, to match entries against.
    undefined: UndefinedSymbols<'a>,
    /// The undefined symbols after the one the last entry matched: modpost writes `__versions` in
    /// symbol table order, so the next entry's symbol is usually the first of these.
    after_last_match: UndefinedSymbols<'a>,
}

impl<'a> Iterator for UnmatchedVersions<'a> {
    type Item = DependencySymbol<'a>;

    fn next(&mut self) -> Option<DependencySymbol<'a>> {
        loop {
            let (earlier, rest) = self.versions.split_at_checked(self.next)?;
            let name = version_name(rest.first()?);
            self.next += 1;
            // kmod's `kmod_elf_crc_find` marks the first entry of the symbol's name only.
            let entry = &rest[0];
            let is_first = !earlier.iter().any(|earlier| same_version_name(earlier, entry));
            if !(is_first && self.is_undefined(name)) {
                return Some(DependencySymbol { name, weak: false });
            }
        }
    }
}

impl UnmatchedVersions<'_> {
    /// Whether an undefined symbol is named `name`.
    fn is_undefined(&mut self, name: &[u8]) -> bool {
        let mut after = self.after_last_match.clone();
        if after.any(|symbol| symbol.name == name) {
            self.after_last_match = after;
            return true;
        }
        self.undefined.clone().any(|symbol| symbol.name == name)
    }
}

impl FusedIterator for UnmatchedVersions<'_> {}

/// The `__versions` entries (symbol name, CRC) in order, when that section is inside the file and
/// its size a multiple of 64 (none otherwise, as kmod reads it).
pub fn versions<'a>(elf: &Elf<'a>) -> impl Iterator<Item = (&'a [u8], u64)> {
    let entries: &'a [Version] = match elf.section(b"__versions").map(<[u8]>::as_chunks) {
        Ok((entries, [])) => entries,
        _ => &[],
    };
    entries.iter().map(|entry| {
        let [c0, c1, c2, c3, c4, c5, c6, c7, ..] = *entry;
        (version_name(entry), u64::from_le_bytes([c0, c1, c2, c3, c4, c5, c6, c7]))
    })
}

/// Whether two `__versions` entries name the same symbol: [`version_name`] of each equal.
/// Every entry is compared with those before it, so the first 8 bytes of the names are
/// compared as one word: most pairs differ there, and then the names are the same only when
/// both ended before the first differing byte.
fn same_version_name(a: &Version, b: &Version) -> bool {
    let word = |v: &Version| u64::from_le_bytes([v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]]);
    let differ = word(a) ^ word(b);
    if differ != 0 {
        let first_difference = (differ.trailing_zeros() / 8) as usize;
        return a[8..8 + first_difference].contains(&0);
    }
    version_name(a) == version_name(b)
}

/// The symbol name of a `__versions` entry: after the 8-byte CRC, up to a NUL or the entry's end.
fn version_name(entry: &Version) -> &[u8] {
    let [_crc0, _crc1, _crc2, _crc3, _crc4, _crc5, _crc6, _crc7, name @ ..] = entry;
    c_string(name)
}

/// `.symtab` without its null symbol (index 0), and the names it points into, `.strtab`.
#[derive(Debug, Clone, Copy)]
struct SymbolTable<'a> {
    symbols: &'a [Symbol],
    names: &'a [u8],
}

/// The symbol's name in `names` (`.strtab`), or `None` when `st_name` is not below the size of
/// `.strtab` (kmod's check, even for a `.strtab` without a final NUL).
fn symbol_name<'a>(names: &'a [u8], symbol: &Symbol) -> Option<&'a [u8]> {
    name_bytes(names, symbol).map(c_string)
}

/// `.strtab` from where the symbol's name starts: [`symbol_name`] without looking for its end.
fn name_bytes<'a>(names: &'a [u8], symbol: &Symbol) -> Option<&'a [u8]> {
    let at = usize::try_from(u32_at::<ST_NAME, _>(symbol)).ok()?;
    names.get(at..).filter(|rest| !rest.is_empty())
}

/// The symbol table as kmod finds it: `.strtab`, then `.symtab`, whose size must be a multiple of 24.
fn symbol_table<'a>(elf: &Elf<'a>) -> Result<SymbolTable<'a>, SymbolError> {
    let section = |section: &'static str| {
        elf.section(section.as_bytes()).map_err(|error| SymbolError::NoSection { section, error })
    };
    let names = section(".strtab")?;
    let symtab = section(".symtab")?;
    let (symbols, rest) = symtab.as_chunks();
    if !rest.is_empty() {
        return Err(SymbolError::SymbolTableSize { size: symtab.len() });
    }
    let symbols = symbols.split_first().map_or(&[][..], |(_null, symbols)| symbols);
    Ok(SymbolTable { symbols, names })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module_file::elf::{SH_OFFSET, SH_SIZE};
    use crate::module_file::modinfo::Modinfo;
    use modinit_test_fixtures::{corruptions, elf, modules_under, put, real_module_tree, shdr, smallest_module_or};
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    const LOCAL: u8 = 0;
    const GLOBAL: u8 = 1 << 4;
    const WEAK: u8 = STB_WEAK << 4;
    const GNU_UNIQUE: u8 = 10 << 4;
    const STT_FUNC: u8 = 2;
    /// `st_shndx` of a symbol defined in `.text` (section 2 of [`module`]'s images) and of an absolute one.
    const TEXT: u16 = 2;
    const ABS: u16 = 0xfff1;

    /// `.symtab` and `.strtab` for `symbols` (name, st_shndx, st_info) after the null symbol. Each name
    /// is stored after `.strtab`'s leading NUL; an empty name is offset 0.
    fn symbol_sections(symbols: &[(&str, u16, u8)]) -> (Vec<u8>, Vec<u8>) {
        let (mut symtab, mut strtab) = (vec![0; SYM_SIZE], vec![0]);
        for &(name, shndx, info) in symbols {
            let mut symbol = [0; SYM_SIZE];
            if !name.is_empty() {
                symbol[ST_NAME..][..4].copy_from_slice(&(strtab.len() as u32).to_le_bytes());
                strtab.extend(name.bytes().chain([0]));
            }
            symbol[ST_INFO] = info;
            symbol[ST_SHNDX..][..2].copy_from_slice(&shndx.to_le_bytes());
            symtab.extend(symbol);
        }
        (symtab, strtab)
    }

    /// `__versions` with an entry for each name (CRC = the entry's index), NUL-padded.
    fn versions(names: &[&str]) -> Vec<u8> {
        let mut section = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let mut entry = [0; VERSION_SIZE];
            entry[..8].copy_from_slice(&(index as u64).to_le_bytes());
            entry[8..][..name.len()].copy_from_slice(name.as_bytes());
            section.extend(entry);
        }
        section
    }

    /// An image with `.text` (section 2), the `extra` sections, then `.symtab` and `.strtab`, which
    /// ends the file.
    fn module(symbols: &[(&str, u16, u8)], extra: &[(&str, &[u8])]) -> Vec<u8> {
        let (symtab, strtab) = symbol_sections(symbols);
        let sections = [&[(".text", &b"\xc3"[..])], extra, &[(".symtab", &symtab[..]), (".strtab", &strtab[..])]];
        elf(&sections.concat())
    }

    /// Where section `name`'s bytes start in `image`.
    fn offset_of(image: &[u8], name: &str) -> usize {
        let section = Elf::parse(image).unwrap().section(name.as_bytes()).unwrap();
        section.as_ptr() as usize - image.as_ptr() as usize
    }

    /// The index of section `name` in an image from [`module`].
    fn index_of(image: &[u8], name: &str) -> usize {
        let names = Elf::parse(image).unwrap().section(b".shstrtab").unwrap();
        let at = names.windows(name.len() + 1).position(|w| w == [name.as_bytes(), b"\0"].concat()).unwrap();
        (2..).find(|&index| image[shdr(index, 0)..][..4] == (at as u32).to_le_bytes()).unwrap()
    }

    fn text(names: impl Iterator<Item = impl AsRef<[u8]>>) -> Vec<String> {
        names.map(|name| String::from_utf8_lossy(name.as_ref()).into_owned()).collect()
    }

    fn exports(image: &[u8]) -> Vec<String> {
        text(exported_symbols(&Elf::parse(image).unwrap()))
    }

    fn dependencies(image: &[u8]) -> Result<Vec<(String, bool)>, SymbolError> {
        let symbols = dependency_symbols(&Elf::parse(image).unwrap())?;
        Ok(symbols.map(|s| (String::from_utf8_lossy(s.name).into_owned(), s.weak)).collect())
    }

    #[test]
    fn exports_are_the_crc_symbols_in_symbol_table_order() {
        let symbols = [
            ("__crc_b", ABS, LOCAL),
            ("b", TEXT, GLOBAL),
            ("__crc_a", ABS, LOCAL),
            ("a", TEXT, GLOBAL | STT_FUNC),
            ("printk", SHN_UNDEF, GLOBAL),
            ("x__crc_y", TEXT, LOCAL),
            ("__crc_", ABS, LOCAL),
            ("__crc_c", SHN_UNDEF, WEAK),
        ];
        let image = module(&symbols, &[("__ksymtab_strings", b"a\0b\0from_strings\0")]);
        assert_eq!(exports(&image), ["b", "a", "", "c"], "kmod takes every __crc_ name, whatever its symbol");
        let range = image.as_ptr_range();
        assert!(exported_symbols(&Elf::parse(&image).unwrap()).all(|name| range.contains(&name.as_ptr())));
    }

    #[test]
    fn a_crc_name_at_the_end_of_strtab_ends_there() {
        let mut image = module(&[("__crc_last", ABS, LOCAL)], &[]);
        let strtab = index_of(&image, ".strtab");
        let size = u64::from_le_bytes(image[shdr(strtab, SH_SIZE)..][..8].try_into().unwrap());
        put(&mut image, shdr(strtab, SH_SIZE), &(size - 1).to_le_bytes());
        assert_eq!(exports(&image), ["last"]);
        put(&mut image, shdr(strtab, SH_SIZE), &(size - 3).to_le_bytes());
        assert_eq!(exports(&image), ["la"]);
    }

    #[test]
    fn exports_fall_back_to_ksymtab_strings() {
        let strings: (&str, &[u8]) = ("__ksymtab_strings", b"\0\0s1\0\0s2");
        let crcs = [("__crc_c1", ABS, LOCAL), ("c1", TEXT, GLOBAL), ("__crc_c2", ABS, LOCAL)];
        let good = module(&crcs, &[strings]);
        assert_eq!(exports(&good), ["c1", "c2"]);
        let edited = |field: &str, at: usize, value: u64| {
            let mut image = good.clone();
            let at = match field {
                "symbol name" => offset_of(&image, ".symtab") + at * SYM_SIZE + ST_NAME,
                section_field => shdr(index_of(&image, section_field), at),
            };
            let width = if field == "symbol name" { 4 } else { 8 };
            put(&mut image, at, &value.to_le_bytes()[..width]);
            exports(&image)
        };
        let strtab_len = symbol_sections(&crcs).1.len() as u64;
        let (symtab, strtab) = symbol_sections(&crcs);
        let cases = [
            (exports(&module(&[("c1", TEXT, GLOBAL), ("printk", SHN_UNDEF, GLOBAL)], &[strings])), "no __crc_"),
            (exports(&module(&[], &[strings])), "no symbols"),
            (exports(&elf(&[strings, ("symtab", &symtab), (".strtab", &strtab)])), "no .symtab"),
            (exports(&elf(&[strings, (".symtab", &symtab), ("strtab", &strtab)])), "no .strtab"),
            (exports(&elf(&[strings, (".strtab", &strtab), (".symtab", &[&symtab[..], b"\0"].concat())])), "size"),
            (edited(".symtab", SH_OFFSET, u64::MAX), ".symtab outside the file"),
            (edited(".strtab", SH_SIZE, u64::MAX), ".strtab outside the file"),
            (edited("symbol name", 3, strtab_len), "the last symbol's name just past .strtab"),
            (edited("symbol name", 2, u32::MAX.into()), "a defined symbol's name past .strtab"),
        ];
        for (got, what) in cases {
            assert_eq!(got, ["s1", "s2"], "{what}");
        }
        assert_eq!(edited("symbol name", 3, strtab_len - 1), ["c1"], "an (empty) name at .strtab's last byte");
    }

    /// kmod's `kmod_elf_resolve_crc`: an absolute symbol's value, else the `u32` at that offset of
    /// its section, `u64::MAX` when that is not in the file; 0 for `__ksymtab_strings` names,
    /// and ENOENT when that section is missing too.
    #[test]
    fn exports_come_with_their_crcs_as_kmod_reads_them() {
        let crcs: &[u8] = &[0x78, 0x56, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde];
        let symbols = [("__crc_abs", ABS, GLOBAL), ("__crc_in", 3, GLOBAL), ("__crc_past", 3, GLOBAL)];
        let mut image = module(&symbols, &[("__kcrctab", crcs)]);
        let values = [0xcafe_u64, 4, 5];
        let symtab = offset_of(&image, ".symtab");
        for (i, value) in values.iter().enumerate() {
            put(&mut image, symtab + (i + 1) * SYM_SIZE + ST_VALUE, &value.to_le_bytes());
        }
        let got: Vec<(String, u64)> = exports_with_crcs(&Elf::parse(&image).unwrap())
            .unwrap()
            .map(|e| (String::from_utf8_lossy(e.name).into_owned(), e.crc))
            .collect();
        let expected = [("abs", 0xcafe), ("in", 0xdeadbeef), ("past", u64::MAX)];
        assert_eq!(got, expected.map(|(n, c)| (n.to_string(), c)));

        let strings = module(&[], &[("__ksymtab_strings", b"\0s1\0")]);
        let got: Vec<Export<'_>> = exports_with_crcs(&Elf::parse(&strings).unwrap()).unwrap().collect();
        assert_eq!(got, [Export { name: b"s1", crc: 0 }]);
        let none = module(&[], &[]);
        assert_eq!(exports_with_crcs(&Elf::parse(&none).unwrap()).err(), Some(SectionError::Missing));
    }

    #[test]
    fn ksymtab_strings_are_split_as_kmod_splits_them() {
        let cases: [(&[u8], &[&str]); 12] = [
            (b"", &[]),
            (b"\0", &[]),
            (b"\0\0\0\0", &[]),
            (b"a", &[]),
            (b"\0\0a", &[]),
            (b"a\0", &["a"]),
            (b"ab", &["ab"]),
            (b"\0ab", &["ab"]),
            (b"a\0b", &["a", "b"]),
            (b"\0\0foo\0\0\0bar\0", &["foo", "bar"]),
            (b"x\0\0", &["x"]),
            (b"\0x\0\0y\0", &["x", "y"]),
        ];
        for (strings, expected) in cases {
            assert_eq!(exports(&module(&[], &[("__ksymtab_strings", strings)])), expected, "{strings:?}");
        }
        assert_eq!(exports(&module(&[], &[])), [""; 0], "no __ksymtab_strings");
        let mut outside = module(&[], &[("__ksymtab_strings", b"a\0b\0")]);
        put(&mut outside, shdr(3, SH_SIZE), &u64::MAX.to_le_bytes());
        assert_eq!(exports(&outside), [""; 0], "__ksymtab_strings outside the file");
    }

    #[test]
    fn dependencies_are_the_undefined_symbols_then_the_unmatched_versions() {
        let symbols = [
            ("local_fn", TEXT, LOCAL),
            ("printk", SHN_UNDEF, GLOBAL),
            ("optional_hook", SHN_UNDEF, WEAK | STT_FUNC),
            ("", SHN_UNDEF, GLOBAL),
            ("init_module", TEXT, GLOBAL | STT_FUNC),
            ("kfree", SHN_UNDEF, GLOBAL),
            ("unique", SHN_UNDEF, GNU_UNIQUE),
            ("undefined_local", SHN_UNDEF, LOCAL),
            ("kfree", SHN_UNDEF, WEAK),
        ];
        let entries = ["module_layout", "kfree", "printk", "kfree", "not_needed", "", "init_module"];
        let image = module(&symbols, &[("__versions", &versions(&entries))]);
        let expected = [
            ("printk", false),
            ("optional_hook", true),
            ("kfree", false),
            ("unique", false),
            ("undefined_local", false),
            ("kfree", true),
            ("module_layout", false),
            ("kfree", false),
            ("not_needed", false),
            ("", false),
            ("init_module", false),
        ];
        assert_eq!(dependencies(&image).unwrap(), expected.map(|(name, weak)| (name.to_string(), weak)));
        let range = image.as_ptr_range();
        assert!(dependency_symbols(&Elf::parse(&image).unwrap()).unwrap().all(|s| range.contains(&s.name.as_ptr())));
    }

    #[test]
    fn versions_are_left_out_when_missing_or_badly_sized() {
        let symbols = [("printk", SHN_UNDEF, GLOBAL)];
        let expected = Ok(vec![("printk".to_string(), false)]);
        let entries = versions(&["module_layout", "printk"]);
        assert_eq!(dependencies(&module(&symbols, &[])), expected);
        assert_eq!(dependencies(&module(&symbols, &[("__versions", &entries[..64 + 63])])), expected);
        assert_eq!(dependencies(&module(&symbols, &[("__versions", &[&entries[..], b"\0"].concat())])), expected);
        assert_eq!(dependencies(&module(&symbols, &[("__versions", b"")])), expected);
        let mut outside = module(&symbols, &[("__versions", &entries)]);
        put(&mut outside, shdr(3, SH_OFFSET), &u64::MAX.to_le_bytes());
        assert_eq!(dependencies(&outside), expected);
        let only_versions = module(&[("", SHN_UNDEF, GLOBAL)], &[("__versions", &entries)]);
        assert_eq!(dependencies(&only_versions).unwrap().len(), 2);
    }

    #[test]
    fn a_version_name_ends_with_its_entry() {
        let long = "x".repeat(56);
        let mut entries = versions(&["", "module_layout"]);
        entries[8..64].copy_from_slice(long.as_bytes());
        let image = |symbol: &str| module(&[(symbol, SHN_UNDEF, GLOBAL)], &[("__versions", &entries)]);
        let listed = |symbol: &str| text(dependencies(&image(symbol)).unwrap().iter().map(|(name, _)| name));
        assert_eq!(listed(&long), [&long[..], "module_layout"], "matched by its 56 bytes");
        let longer = format!("{long}y");
        assert_eq!(listed(&longer), [&longer[..], &long[..], "module_layout"]);
    }

    #[test]
    fn the_null_symbol_is_never_listed() {
        let mut image = module(&[("printk", TEXT, GLOBAL)], &[("__versions", &versions(&["printk"]))]);
        let symtab = offset_of(&image, ".symtab");
        put(&mut image, symtab + ST_NAME, &1u32.to_le_bytes()); // "printk", undefined
        assert_eq!(dependencies(&image).unwrap(), [("printk".to_string(), false)], "from __versions only");
        put(&mut image, symtab + ST_NAME, &u32::MAX.to_le_bytes());
        assert!(dependencies(&image).is_ok(), "its name is not checked");
        let empty = elf(&[(".symtab", b""), (".strtab", b"\0"), ("__versions", &versions(&["module_layout"]))]);
        assert_eq!(dependencies(&empty).unwrap(), [("module_layout".to_string(), false)]);
        assert_eq!(exports(&empty), [""; 0]);
    }

    #[test]
    fn sparc_register_symbols_are_not_dependencies() {
        let register = GLOBAL | STT_REGISTER;
        let mut image = module(&[("%g2", SHN_UNDEF, register), ("printk", SHN_UNDEF, GLOBAL)], &[]);
        assert_eq!(text(dependencies(&image).unwrap().iter().map(|(name, _)| name)), ["%g2", "printk"]);
        let symtab = offset_of(&image, ".symtab");
        for machine in [EM_SPARC, EM_SPARCV9] {
            put(&mut image, crate::module_file::elf::E_MACHINE, &machine.to_le_bytes());
            assert_eq!(dependencies(&image).unwrap(), [("printk".to_string(), false)], "machine {machine}");
            let mut bad_name = image.clone();
            put(&mut bad_name, symtab + SYM_SIZE + ST_NAME, &u32::MAX.to_le_bytes());
            assert!(dependencies(&bad_name).is_ok(), "a register's name is not checked");
        }
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        use SymbolError::*;
        let symbols = [("init_module", TEXT, GLOBAL), ("printk", SHN_UNDEF, GLOBAL), ("kfree", SHN_UNDEF, WEAK)];
        let (symtab, strtab) = symbol_sections(&symbols);
        let good = module(&symbols, &[("__versions", &versions(&["printk"]))]);
        let symbol_name = |index: usize, value: u32| {
            let mut image = good.clone();
            let at = offset_of(&image, ".symtab") + index * SYM_SIZE + ST_NAME;
            put(&mut image, at, &value.to_le_bytes());
            dependencies(&image).err()
        };
        let outside = |section: &str| {
            let mut image = good.clone();
            let at = shdr(index_of(&image, section), SH_SIZE);
            put(&mut image, at, &u64::MAX.to_le_bytes());
            dependencies(&image).err()
        };
        let sections = |sections: &[(&str, &[u8])]| dependencies(&elf(sections)).err();
        let missing = |section| Some(NoSection { section, error: SectionError::Missing });
        let outside_the_file = |section| Some(NoSection { section, error: SectionError::OutOfBounds });
        let strtab_size = strtab.len();
        let past = strtab_size as u32;
        let long_symtab = [&symtab[..], &[0; 23]].concat();
        let cases = [
            (dependencies(&good).err(), None, "the unedited image"),
            (sections(&[(".symtab", &symtab)]), missing(".strtab"), "no .strtab"),
            (sections(&[(".strtab", &strtab)]), missing(".symtab"), "no .symtab"),
            (sections(&[]), missing(".strtab"), "neither"),
            (outside(".strtab"), outside_the_file(".strtab"), ".strtab outside the file"),
            (outside(".symtab"), outside_the_file(".symtab"), ".symtab outside the file"),
            (sections(&[(".strtab", &strtab), (".symtab", &long_symtab)]), Some(SymbolTableSize { size: 119 }), "size"),
            (sections(&[(".strtab", &strtab), (".symtab", &symtab[..23])]), Some(SymbolTableSize { size: 23 }), "23"),
            (symbol_name(2, past), Some(NameOutOfBounds { index: 2, offset: past, strtab_size }), "just past"),
            (symbol_name(3, u32::MAX), Some(NameOutOfBounds { index: 3, offset: u32::MAX, strtab_size }), "a weak one"),
            (symbol_name(2, strtab_size as u32 - 1), None, "the last byte of .strtab (an empty name)"),
            (symbol_name(1, u32::MAX), None, "a defined symbol's name"),
        ];
        for (got, expected, what) in cases {
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn every_error_explains_itself_differently() {
        use SymbolError::*;
        let all = [
            NoSection { section: ".strtab", error: SectionError::Missing },
            NoSection { section: ".symtab", error: SectionError::Missing },
            NoSection { section: ".symtab", error: SectionError::OutOfBounds },
            SymbolTableSize { size: 25 },
            NameOutOfBounds { index: 7, offset: 1000, strtab_size: 999 },
        ];
        let messages: BTreeSet<String> = all.iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), all.len());
        assert_eq!(all[1].to_string(), "no .symtab section");
        assert_eq!(
            all[4].to_string(),
            "the name of undefined symbol 7 (at 1000) lies past the end of .strtab (999 bytes)"
        );
    }

    /// A real module's symbol lists, owned.
    struct TreeModule {
        /// The path under the tree, as modules.order and modules.dep write it.
        path: String,
        /// kmod's module name: the file name without `.ko`, `-` as `_`.
        name: String,
        exports: Vec<Vec<u8>>,
        needs: Result<Vec<(Vec<u8>, bool)>, SymbolError>,
        /// The modules `depends=` of `.modinfo` names, `-` as `_`.
        depends: BTreeSet<String>,
    }

    /// Every module of `tree`, in modules.order's order (then the others by path), and the time spent
    /// listing their symbols.
    fn read_tree(tree: &Path) -> (Vec<TreeModule>, Duration) {
        let order = std::fs::read_to_string(tree.join("modules.order")).unwrap_or_default();
        let position: HashMap<&str, usize> = order.lines().enumerate().map(|(i, path)| (path, i)).collect();
        let mut paths: Vec<String> = modules_under(tree)
            .iter()
            .map(|path| path.strip_prefix(tree).unwrap().to_str().unwrap().to_string())
            .collect();
        paths.sort_by_key(|path| (position.get(path.as_str()).copied().unwrap_or(usize::MAX), path.clone()));
        let mut listing = Duration::ZERO;
        let modules = paths
            .into_iter()
            .map(|path| {
                let file = std::fs::read(tree.join(&path)).unwrap();
                let started = Instant::now();
                let elf = Elf::parse(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
                let exports: Vec<Vec<u8>> = exported_symbols(&elf).map(<[u8]>::to_vec).collect();
                let needs = dependency_symbols(&elf).map(|list| list.map(|s| (s.name.to_vec(), s.weak)).collect());
                listing += started.elapsed();
                let depends = Modinfo::from_elf(&file).unwrap().get(b"depends").unwrap_or_default();
                let depends = depends.split(|&b| b == b',').filter(|d| !d.is_empty());
                let depends = text(depends).iter().map(|d| d.replace('-', "_")).collect();
                let name = Path::new(&path).file_stem().unwrap().to_str().unwrap().replace('-', "_");
                TreeModule { path, name, exports, needs, depends }
            })
            .collect();
        (modules, listing)
    }

    /// The names depmod can resolve and to what: each exported symbol to the index of the LAST module,
    /// in modules.order's order, that exports it (depmod's `hash_add` replaces an earlier owner).
    fn symbol_owners(modules: &[TreeModule]) -> HashMap<&[u8], usize> {
        let mut owners = HashMap::new();
        for (index, module) in modules.iter().enumerate() {
            for symbol in &module.exports {
                owners.insert(&symbol[..], index);
            }
        }
        owners
    }

    /// depmod's `depmod_symbol_find`: a leading `.` is dropped (PPC64), then the name is looked up.
    fn look_up<'a, T>(table: &'a HashMap<&[u8], T>, name: &[u8]) -> Option<&'a T> {
        table.get(name.strip_prefix(b".").unwrap_or(name))
    }

    /// Each module's direct dependencies as depmod's `mod_add_dependency` makes them: the owners of
    /// its symbols, in order of first use, each once (a module owning a symbol it needs is not skipped).
    fn direct_dependencies(modules: &[TreeModule], owners: &HashMap<&[u8], usize>) -> Vec<Vec<usize>> {
        let mut all = Vec::new();
        for module in modules {
            let mut dependencies = Vec::new();
            for (name, _weak) in module.needs.iter().flatten() {
                if let Some(&owner) = look_up(owners, name)
                    && !dependencies.contains(&owner)
                {
                    dependencies.push(owner);
                }
            }
            all.push(dependencies);
        }
        all
    }

    /// Every module reachable from `start` through `direct`, `start` itself left out.
    fn all_dependencies(direct: &[Vec<usize>], start: usize) -> BTreeSet<usize> {
        let (mut found, mut pending) = (BTreeSet::new(), direct[start].clone());
        while let Some(module) = pending.pop() {
            if module != start && found.insert(module) {
                pending.extend(&direct[module]);
            }
        }
        found
    }

    /// modules.dep as computed here: each module's path, and the paths of its direct and indirect
    /// dependencies.
    fn modules_dep(modules: &[TreeModule]) -> BTreeMap<String, BTreeSet<String>> {
        let direct = direct_dependencies(modules, &symbol_owners(modules));
        let paths = |indexes: BTreeSet<usize>| indexes.into_iter().map(|d| modules[d].path.clone()).collect();
        (0..modules.len()).map(|index| (modules[index].path.clone(), paths(all_dependencies(&direct, index)))).collect()
    }

    /// depmod's modules.dep (`MODULE: DEPENDENCY...` lines), with the dependencies as a set.
    fn parse_modules_dep(text: &str) -> BTreeMap<String, BTreeSet<String>> {
        let line = |line: &str| {
            let (module, dependencies) = line.split_once(':').unwrap();
            (module.to_string(), dependencies.split_whitespace().map(String::from).collect())
        };
        text.lines().map(line).collect()
    }

    /// A temporary root holding a module tree, `ROOT/lib/modules/VERSION`, for depmod to write into;
    /// removed when dropped.
    struct DepmodRoot {
        root: PathBuf,
        version: String,
    }

    impl DepmodRoot {
        /// A root named after `test`, with an empty tree for `version`.
        fn new(test: &str, version: &str) -> DepmodRoot {
            let root = std::env::temp_dir().join(format!("modinit-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let root = DepmodRoot { root, version: version.to_string() };
            std::fs::create_dir_all(root.dir()).unwrap();
            root
        }

        /// A root whose tree is a hard-linked copy of `tree`, without depmod's output files.
        fn linked_to(tree: &Path) -> DepmodRoot {
            let copy = DepmodRoot::new("depmod", tree.file_name().unwrap().to_str().unwrap());
            std::fs::remove_dir(copy.dir()).unwrap();
            let status = Command::new("cp").arg("-al").arg(tree).arg(copy.dir()).status().unwrap();
            assert!(status.success(), "cp -al {} {}", tree.display(), copy.dir().display());
            for entry in std::fs::read_dir(copy.dir()).unwrap().flatten() {
                let name = entry.file_name().into_string().unwrap();
                let keep = ["modules.order", "modules.builtin", "modules.builtin.modinfo"].contains(&name.as_str());
                if name.starts_with("modules.") && !keep {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
            copy
        }

        fn dir(&self) -> PathBuf {
            self.root.join("lib/modules").join(&self.version)
        }

        /// Runs `depmod ARGS -b ROOT VERSION`; returns its stderr.
        fn depmod(&self, depmod: &Path, args: &[&str]) -> String {
            let output = Command::new(depmod).args(args).arg("-b").arg(&self.root).arg(&self.version).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "depmod {args:?}: {stderr}");
            stderr
        }

        fn read(&self, file: &str) -> String {
            std::fs::read_to_string(self.dir().join(file)).unwrap()
        }
    }

    impl Drop for DepmodRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    /// kmod's depmod, if installed.
    fn find_depmod() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]);
        dirs.map(|dir| dir.join("depmod")).find(|depmod| depmod.exists())
    }

    /// Prints up to 10 of `differences`, then asserts there are none.
    fn assert_none_differ(what: &str, differences: &[String]) {
        for difference in differences.iter().take(10) {
            println!("{what}: {difference}");
        }
        assert!(differences.is_empty(), "{} modules differ in {what}", differences.len());
    }

    /// The whole real tree: the dependencies computed here from the symbol lists the way depmod does
    /// are modules.dep's, module by module (as sets: direct and indirect); the owners of the exported
    /// symbols are modules.symbols'; and, with the kernel's System.map, the non-weak symbols nothing
    /// provides are the ones `depmod -e` warns about. Also counts (for information) the modules whose
    /// direct dependencies are not their `depends=`.
    #[test]
    fn dependencies_match_depmod_on_the_real_tree() {
        let Some(tree) = real_module_tree() else { return };
        let Some(depmod) = find_depmod() else {
            return modinit_test_fixtures::unavailable("kmod's depmod");
        };
        let (modules, listing) = read_tree(&tree);
        let unreadable: Vec<String> =
            modules.iter().filter_map(|m| m.needs.as_ref().err().map(|e| format!("{}: {e}", m.path))).collect();
        assert_none_differ("dependency symbols", &unreadable);
        let owners = symbol_owners(&modules);
        let direct = direct_dependencies(&modules, &owners);

        let copy = DepmodRoot::linked_to(&tree);
        copy.depmod(&depmod, &[]);
        let kmod = parse_modules_dep(&copy.read("modules.dep"));
        let ours = modules_dep(&modules);
        assert_eq!(ours.len(), modules.len(), "a module is listed twice");
        let differences: Vec<String> = ours
            .iter()
            .filter(|&(module, dependencies)| kmod.get(module) != Some(dependencies))
            .map(|(module, dependencies)| format!("{module}: ours {dependencies:?}, depmod's {:?}", kmod.get(module)))
            .chain(kmod.keys().filter(|module| !ours.contains_key(*module)).map(|module| format!("{module}: not ours")))
            .collect();
        assert_none_differ("modules.dep", &differences);

        let ours: BTreeSet<String> = owners
            .iter()
            .map(|(symbol, &owner)| format!("alias symbol:{} {}", String::from_utf8_lossy(symbol), modules[owner].name))
            .collect();
        let modules_symbols = copy.read("modules.symbols");
        let kmod: BTreeSet<String> =
            modules_symbols.lines().filter(|line| !line.starts_with('#')).map(String::from).collect();
        let differences: Vec<String> = ours.symmetric_difference(&kmod).cloned().collect();
        assert_none_differ("modules.symbols", &differences);

        let version = &copy.version;
        let system_map = tree.join(format!("../../../boot/System.map-{version}"));
        let unknown_checked = system_map.exists();
        if unknown_checked {
            let stderr = copy.depmod(&depmod, &["-n", "-e", "-F", system_map.to_str().unwrap()]);
            let prefix = format!("{}/", copy.dir().display());
            let kmod: BTreeSet<(String, String)> = stderr
                .lines()
                .filter_map(|line| line.split_once(" needs unknown symbol "))
                .map(|(module, symbol)| {
                    let module = &module[module.find(&prefix).unwrap() + prefix.len()..];
                    (module.to_string(), symbol.to_string())
                })
                .collect();
            let map = std::fs::read_to_string(&system_map).unwrap();
            let kernel = map.lines().filter_map(|line| line.splitn(3, ' ').nth(2)?.strip_prefix("__ksymtab_"));
            let fake = ["__this_module", "_GLOBAL_OFFSET_TABLE_", "TOC."];
            let known: HashMap<&[u8], ()> =
                kernel.chain(fake).map(str::as_bytes).chain(owners.keys().copied()).map(|s| (s, ())).collect();
            let ours: BTreeSet<(String, String)> = modules
                .iter()
                .flat_map(|module| {
                    let needs = module.needs.iter().flatten();
                    let unknown = needs.filter(|(name, weak)| !weak && look_up(&known, name).is_none());
                    unknown.map(|(name, _)| (module.path.clone(), String::from_utf8_lossy(name).into_owned()))
                })
                .collect();
            let differences: Vec<String> = ours.symmetric_difference(&kmod).map(|d| format!("{d:?}")).collect();
            assert_none_differ("unknown symbols", &differences);
            println!("{} unknown symbols agree with `depmod -e -F System.map`", kmod.len());
        }

        let names = |indexes: &[usize]| indexes.iter().map(|&d| modules[d].name.clone()).collect::<BTreeSet<_>>();
        let not_depends: Vec<&TreeModule> =
            modules.iter().zip(&direct).filter(|(m, direct)| names(direct) != m.depends).map(|m| m.0).collect();
        for module in not_depends.iter().take(5) {
            println!("not its depends=: {} (depends={:?})", module.path, module.depends);
        }
        let owned_twice = modules.iter().map(|m| m.exports.len()).sum::<usize>() - owners.len();
        let weak = modules.iter().flat_map(|m| m.needs.iter().flatten()).filter(|(_, weak)| *weak).count();
        println!(
            "{} modules, {} exported symbols ({owned_twice} exported again by a later module), {weak} weak \
             references: symbols listed in {:.1} ms; modules.dep and modules.symbols{} agree; {} modules' \
             direct dependencies differ from their depends=",
            modules.len(),
            owners.len(),
            listing.as_secs_f64() * 1e3,
            if unknown_checked { " and the unknown symbols" } else { "" },
            not_depends.len(),
        );
    }

    /// On a tree of synthetic modules, depmod's rules as modelled here: a symbol exported by two
    /// modules belongs to the later one in modules.order, and dependencies are transitive. (No symbol of
    /// the real tree is exported twice, so this is the check of that rule.)
    #[test]
    fn the_owner_of_a_symbol_is_the_last_module_in_order_exporting_it() {
        let Some(depmod) = find_depmod() else {
            return modinit_test_fixtures::unavailable("kmod's depmod");
        };
        let root = DepmodRoot::new("owners", "0.0.0-test");
        let modinfo: &[(&str, &[u8])] = &[(".modinfo", b"license=GPL\0")];
        let exporter = module(&[("__crc_shared", ABS, LOCAL), ("shared", TEXT, GLOBAL)], modinfo);
        let user_symbols = [("shared", SHN_UNDEF, GLOBAL), ("__crc_used", ABS, LOCAL), ("used", TEXT, GLOBAL)];
        let user = module(&user_symbols, modinfo);
        let user_of_user = module(&[("used", SHN_UNDEF, GLOBAL), ("printk", SHN_UNDEF, GLOBAL)], modinfo);
        let (first, second, user_path) = ("kernel/a/first.ko", "kernel/b/second.ko", "kernel/c/user.ko");
        let user_of_user_path = "kernel/user-of-user.ko";
        let files = [(first, &exporter), (second, &exporter), (user_path, &user), (user_of_user_path, &user_of_user)];
        for (path, image) in files {
            std::fs::create_dir_all(root.dir().join(path).parent().unwrap()).unwrap();
            std::fs::write(root.dir().join(path), image).unwrap();
        }
        for (earlier, later) in [(first, second), (second, first)] {
            let order = format!("{earlier}\n{later}\n{user_path}\n{user_of_user_path}\n");
            std::fs::write(root.dir().join("modules.order"), order).unwrap();
            root.depmod(&depmod, &[]);
            let ours = modules_dep(&read_tree(&root.dir()).0);
            assert_eq!(ours[user_path], BTreeSet::from([later.to_string()]), "{earlier} before {later}");
            assert_eq!(ours[user_of_user_path], BTreeSet::from([later.to_string(), user_path.to_string()]));
            assert_eq!(ours, parse_modules_dep(&root.read("modules.dep")), "{earlier} before {later}");
        }
    }

    /// What binutils' nm lists in symbol table order: (name, type letter), the null symbol left out.
    fn nm(path: &Path) -> Vec<(String, char)> {
        let output = Command::new("nm").args(["-P", "-p"]).arg(path).output().unwrap();
        assert!(output.status.success(), "nm {}", path.display());
        let text = String::from_utf8(output.stdout).unwrap();
        let symbol = |line: &str| {
            let mut fields = line.split_whitespace();
            Some((fields.next()?.to_string(), fields.next()?.chars().next()?))
        };
        text.lines().filter_map(symbol).collect()
    }

    /// The names in a module's `__versions`, as kmod's `modprobe --dump-modversions` prints them.
    fn dumped_versions(path: &Path) -> Vec<String> {
        let output = Command::new("modprobe").arg("--dump-modversions").arg(path).output().unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines().map(|line| line.split_once('\t').unwrap().1.to_string()).collect()
    }

    /// The strings binutils copies out of `__ksymtab_strings`, empty ones dropped.
    fn objcopy_ksymtab_strings(path: &Path) -> Vec<String> {
        let output = Command::new("objcopy")
            .args(["-O", "binary", "--only-section=__ksymtab_strings"])
            .arg(path)
            .arg("/dev/stdout")
            .output()
            .unwrap();
        assert!(output.status.success(), "objcopy {}", path.display());
        text(output.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()))
    }

    /// Every 13th module of the tree: the exports are nm's `__crc_` symbols in order (or, without any,
    /// the strings of `__ksymtab_strings` as objcopy extracts them), and the dependency symbols are
    /// nm's undefined symbols in order, weak when nm says `w`/`v`, then the `__versions` names that
    /// `modprobe --dump-modversions` prints and no undefined symbol matches.
    #[test]
    fn symbol_lists_match_binutils_and_kmod_on_a_sample_of_the_real_tree() {
        let Some(tree) = real_module_tree() else { return };
        let tools = ["nm", "objcopy", "modprobe"].map(|tool| Command::new(tool).arg("--version").output().is_ok());
        if tools.contains(&false) {
            return modinit_test_fixtures::unavailable("nm and objcopy (binutils), modprobe (kmod)");
        }
        let paths = modules_under(&tree);
        let sample: Vec<&PathBuf> = paths.iter().step_by(13).collect();
        let (mut from_strings, mut versions_appended) = (0, 0);
        for path in &sample {
            let file = std::fs::read(path).unwrap();
            let elf = Elf::parse(&file).unwrap();
            let symbols = nm(path);

            let crcs: Vec<&str> = symbols.iter().filter_map(|(name, _)| name.strip_prefix("__crc_")).collect();
            let expected = if crcs.is_empty() {
                let strings = objcopy_ksymtab_strings(path);
                from_strings += usize::from(!strings.is_empty());
                strings
            } else {
                crcs.iter().map(|crc| crc.to_string()).collect()
            };
            assert_eq!(text(exported_symbols(&elf)), expected, "{} exports", path.display());

            let undefined: Vec<(String, bool)> = symbols
                .iter()
                .filter(|(_, kind)| matches!(kind, 'U' | 'w' | 'v'))
                .map(|(name, kind)| (name.clone(), *kind != 'U'))
                .collect();
            let mut expected = undefined.clone();
            let versions = dumped_versions(path);
            for (index, name) in versions.iter().enumerate() {
                let first = !versions[..index].contains(name);
                if !(first && undefined.iter().any(|(undefined, _)| undefined == name)) {
                    expected.push((name.clone(), false));
                    versions_appended += 1;
                }
            }
            let ours: Vec<(String, bool)> = dependency_symbols(&elf)
                .unwrap()
                .map(|symbol| (String::from_utf8_lossy(symbol.name).into_owned(), symbol.weak))
                .collect();
            assert_eq!(ours, expected, "{} dependency symbols", path.display());
        }
        println!(
            "{} of {} modules match nm, objcopy and modprobe --dump-modversions ({from_strings} export from \
             __ksymtab_strings; {versions_appended} __versions names appended)",
            sample.len(),
            paths.len()
        );
        assert!(sample.len() >= 300 || paths.len() < 300 * 13, "the sample is too small");
    }

    /// Lists everything from a possibly corrupt image; what is listed must lie inside it.
    fn read_all(image: &[u8]) -> Result<(usize, usize), String> {
        let elf = Elf::parse(image).map_err(|e| format!("{e:?}"))?;
        let range = image.as_ptr_range();
        let inside = |name: &[u8]| {
            let name = name.as_ptr_range();
            assert!(range.start <= name.start && name.end <= range.end, "a name outside the image");
        };
        let mut exports = 0;
        for name in exported_symbols(&elf) {
            inside(name);
            assert!(!name.contains(&0));
            exports += 1;
        }
        let symbols = dependency_symbols(&elf).map_err(|e| format!("{e:?}").split(' ').next().unwrap().to_string())?;
        let mut needed = 0;
        for symbol in symbols {
            inside(symbol.name);
            assert!(!symbol.name.contains(&0));
            needed += 1;
        }
        Ok((exports, needed))
    }

    /// Every truncation and 50,000 random corruptions of a real module (the tree's smallest, or a
    /// synthetic one without the tree), aimed also at its symbols' names and section indexes and at
    /// its `__versions` names, give lists or an error, never a panic.
    #[test]
    fn corrupt_modules_never_panic() {
        let original = smallest_module_or(|| {
            let symbols = [("__crc_a", ABS, LOCAL), ("a", TEXT, GLOBAL), ("printk", SHN_UNDEF, GLOBAL)];
            module(&symbols, &[("__versions", &versions(&["module_layout", "printk"])), ("__ksymtab_strings", b"a\0")])
        });
        let expected = read_all(&original).unwrap();
        let symtab = offset_of(&original, ".symtab");
        let symbols = Elf::parse(&original).unwrap().section(b".symtab").unwrap().len() / SYM_SIZE;
        let symbol_fields = |i| [(symtab + i * SYM_SIZE + ST_NAME, 4), (symtab + i * SYM_SIZE + ST_SHNDX, 2)];
        let mut fields: Vec<(usize, usize)> = (0..symbols).flat_map(symbol_fields).collect();
        if let Ok(versions) = Elf::parse(&original).unwrap().section(b"__versions") {
            let at = versions.as_ptr() as usize - original.as_ptr() as usize;
            fields.extend((0..versions.len() / VERSION_SIZE).map(|i| (at + i * VERSION_SIZE + 8, 8)));
        }
        let mut outcomes = BTreeMap::<String, usize>::new();
        corruptions(&original, &fields, 50_000, |image| {
            let outcome = match read_all(image) {
                Ok(lists) if lists == expected => "Ok, the same lists".to_string(),
                Ok(_) => "Ok, other lists".to_string(),
                Err(error) => error,
            };
            *outcomes.entry(outcome).or_default() += 1;
        });
        println!("{} bytes, {expected:?} symbols; outcomes: {outcomes:?}", original.len());
        for outcome in ["Ok, other lists", "NameOutOfBounds", "NoSection", "SymbolTableSize"] {
            assert!(outcomes.contains_key(outcome), "the mutations never gave {outcome}: {outcomes:?}");
        }
    }
}
