//! Test inputs shared by the ELF readers' tests: synthetic ELF images, the real module tree, corruptions.

use crate::elf::{E_SHNUM, E_SHOFF, E_SHENTSIZE, E_SHSTRNDX, EHDR_SIZE, SH_NAME, SH_OFFSET, SH_SIZE, SHDR_SIZE};
use std::path::{Path, PathBuf};

const SHT_PROGBITS: u32 = 1;
const SHT_STRTAB: u32 = 3;
const SH_TYPE: usize = 4;
const EM_X86_64: u16 = 62;

/// A minimal relocatable ELF64 little-endian image holding `sections` (name, bytes), all PROGBITS.
/// Section 0 is the null section and section 1 the name table, so `sections[i]` is section `i + 2`.
/// The section header table follows the ELF header; the sections' bytes come after it, in order,
/// so the last section ends the file.
pub fn elf(sections: &[(&str, &[u8])]) -> Vec<u8> {
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
pub fn shdr(index: usize, field: usize) -> usize {
    EHDR_SIZE + index * SHDR_SIZE + field
}

/// Overwrites `image` at `at` with `bytes`.
pub fn put(image: &mut [u8], at: usize, bytes: &[u8]) {
    image[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The module tree named by MODINIT_MODULES, else the one `cargo xtask` unpacks under target/kernel/.
pub fn module_tree() -> Option<PathBuf> {
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
pub fn modules_under(dir: &Path) -> Vec<PathBuf> {
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

/// The modules of the real tree, or `None` (with a note on stdout) when there is no tree.
pub fn real_modules() -> Option<Vec<PathBuf>> {
    let Some(tree) = module_tree() else {
        println!("skipped: no module tree (set MODINIT_MODULES or run `cargo xtask` to unpack Debian's)");
        return None;
    };
    let modules = modules_under(&tree);
    assert!(!modules.is_empty(), "no .ko files under {}", tree.display());
    Some(modules)
}

/// The smallest module of the real tree (to mutate), or `fallback` without the tree.
pub fn smallest_module_or(fallback: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    match real_modules() {
        Some(paths) => {
            let smallest = paths.iter().min_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
            println!("mutating {}", smallest.display());
            std::fs::read(smallest).unwrap()
        }
        None => fallback(),
    }
}

/// A small xorshift generator: the same mutations on every run.
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Calls `check` on every truncation of `original` (an ELF image whose header and section table are
/// valid), then on `rounds` copies with 1 to 3 random edits each: a random byte anywhere, in the ELF
/// header or in the section header table, or an extreme value written to a header field, a section
/// header's name/offset/size, or one of `fields` (offset and width in bytes of fields worth hitting).
pub fn corruptions(original: &[u8], fields: &[(usize, usize)], rounds: usize, mut check: impl FnMut(&[u8])) {
    for len in 0..original.len() {
        check(&original[..len]);
    }
    let header_fields = [(E_SHOFF, 8), (E_SHENTSIZE, 2), (E_SHNUM, 2), (E_SHSTRNDX, 2), (4, 1), (5, 1)];
    let table_offset = u64::from_le_bytes(original[E_SHOFF..][..8].try_into().unwrap()) as usize;
    let table_len = usize::from(u16::from_le_bytes(original[E_SHNUM..][..2].try_into().unwrap())) * SHDR_SIZE;
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut image = original.to_vec();
    for _ in 0..rounds {
        for _ in 0..1 + random.below(3) {
            let in_table = table_offset + random.below(table_len);
            match random.below(5) {
                0 => image[random.below(original.len())] = random.next() as u8,
                1 => image[random.below(EHDR_SIZE)] = random.next() as u8,
                2 => image[in_table] = random.next() as u8,
                _ => {
                    let section_field = [(SH_NAME, 4), (SH_OFFSET, 8), (SH_SIZE, 8)][random.below(3)];
                    let (at, width) = match random.below(3) {
                        0 => header_fields[random.below(header_fields.len())],
                        1 => (in_table - in_table % SHDR_SIZE + section_field.0, section_field.1),
                        _ if !fields.is_empty() => fields[random.below(fields.len())],
                        _ => header_fields[random.below(header_fields.len())],
                    };
                    let extremes = [0, 1, u64::MAX, u64::MAX - 1, original.len() as u64, random.next()];
                    let value = extremes[random.below(extremes.len())].to_le_bytes();
                    put(&mut image, at, &value[..width]);
                }
            }
        }
        check(&image);
        image.copy_from_slice(original);
    }
}
