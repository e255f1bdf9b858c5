//! What kmod's `--force` changes in a module it hands to `init_module` (a module it decompressed
//! itself), where `finit_module` would get the force flags instead: the `__versions` section's
//! `SHF_ALLOC` flag cleared (`kmod_elf_strip_section`, for `--force-modversion`) and
//! `.modinfo`'s `vermagic=` string zeroed (`kmod_elf_strip_vermagic`, for `--force-vermagic`).
//! The kernel then skips those checks; a signed module's signature no longer matches, and the
//! kernel refuses it (EKEYREJECTED) as it refuses kmod's copy.

use crate::kernel::init_flags::Force;
use crate::module_file::elf::{Elf, SH_FLAGS, c_string};
use core::ops::Range;

/// `sh_flags`'s bit of a section that occupies memory at run time.
const SHF_ALLOC: u8 = 2;
const VERMAGIC: &[u8] = b"vermagic=";

/// Changes `image` as kmod does for `force`; what kmod does not find is left alone (kmod only
/// logs it). Not an ELF image: unchanged.
pub fn strip(image: &mut [u8], force: Force) {
    let Ok(elf) = Elf::parse(image) else { return };
    let versions = elf.section_header_offset(b"__versions").filter(|_| force.modversions);
    let vermagic = vermagic(&elf).filter(|_| force.vermagic);
    if let Some(flags) = versions.and_then(|header| image.get_mut(header + SH_FLAGS)) {
        *flags &= !SHF_ALLOC;
    }
    if let Some(string) = vermagic.and_then(|at| image.get_mut(at)) {
        string.fill(0);
    }
}

/// The bytes of `.modinfo`'s `vermagic=...` string, found as `kmod_elf_strip_vermagic` finds it:
/// after the leading NULs, the first string that starts with `vermagic=` and has a byte after
/// that prefix inside the section.
fn vermagic(elf: &Elf<'_>) -> Option<Range<usize>> {
    let mut strings = elf.section(b".modinfo").ok()?;
    while let [0, rest @ ..] = strings
        && !rest.is_empty()
    {
        strings = rest;
    }
    let start = elf.offset_of(strings);
    let mut i = 0;
    while i < strings.len() {
        let at = &elf.image()[start + i..];
        if strings[i] != 0 && i + VERMAGIC.len() < strings.len() {
            if at.starts_with(VERMAGIC) {
                return Some(start + i..start + i + c_string(at).len());
            }
            i += c_string(at).len();
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module_file::elf::{EHDR_SIZE, SHDR_SIZE};
    use modinit_test_fixtures::elf;

    fn modinfo(image: &[u8]) -> &[u8] {
        Elf::parse(image).unwrap().section(b".modinfo").unwrap()
    }

    /// The flags of section 3 (`__versions` in the images below).
    fn versions_flags(image: &[u8]) -> u8 {
        image[EHDR_SIZE + 3 * SHDR_SIZE + SH_FLAGS]
    }

    #[test]
    fn force_clears_versions_alloc_and_zeroes_vermagic() {
        let info: &[u8] = b"\0\0license=GPL\0vermagic=6.1.0 SMP mod_unload\0name=x\0";
        let mut image = elf(&[(".modinfo", info), ("__versions", &[1; 64])]);
        image[EHDR_SIZE + 3 * SHDR_SIZE + SH_FLAGS] = 2 | 1;
        let original = image.clone();
        strip(&mut image, Force::NONE);
        assert_eq!(image, original);

        strip(&mut image, Force { modversions: true, vermagic: false });
        assert_eq!(versions_flags(&image), 1, "SHF_ALLOC cleared, SHF_WRITE kept");
        assert_eq!(modinfo(&image), info);

        strip(&mut image, Force::ALL);
        let zeroed = [&b"\0\0license=GPL\0"[..], &[0; 29], b"\0name=x\0"].concat();
        assert_eq!(modinfo(&image), zeroed.as_slice());
        assert_eq!(image.len(), original.len());
    }

    /// kmod's quirks: `vermagic=` must start a string and have a byte after it in the section.
    #[test]
    fn vermagic_is_found_as_kmod_finds_it() {
        let found = |info: &[u8]| {
            let image = elf(&[(".modinfo", info)]);
            let elf = Elf::parse(&image).unwrap();
            let start = elf.offset_of(elf.section(b".modinfo").unwrap());
            vermagic(&elf).map(|r| (r.start - start, r.len()))
        };
        assert_eq!(found(b"vermagic=x\0"), Some((0, 10)));
        assert_eq!(found(b"a=b\0vermagic=x y\0"), Some((4, 12)));
        assert_eq!(found(b"a=vermagic=x\0"), None, "inside another string");
        assert_eq!(found(b"a=b\0vermagic="), None, "nothing after the prefix in the section");
        assert_eq!(found(b"\0"), None);
        assert_eq!(found(b""), None);
    }
}
