//! A module file's ELF image: `modinit::module_file::elf::Elf::parse`, `modinit::module_file::modinfo::Modinfo`,
//! `modinit::module_file::symbols` (with kmod's CRCs), `modinit::module_file::strip`, the signature trailer and its PKCS#7 message, the index builder's
//! `ModuleFacts`, which reads all of them, and modinfo's output of them.
//!
//! Sections, `.modinfo` entries and symbol names must be parts of the file; the builder's
//! facts must be what the readers give one by one.

use modinit::index::builder::{FactsError, ModuleFacts};
use modinit::kernel::init_flags::Force;
use modinit::module_file::elf::Elf;
use modinit::module_file::modinfo::{Modinfo, split_signature};
use modinit::module_file::signature::signature_info;
use modinit::module_file::strip::strip;
use modinit::module_file::symbols::{dependency_symbols, exported_symbols, exports_with_crcs};
use modinit::toolbox::modinfo_output::{Format, Param, write_fields};

/// Sections the readers look up, and names no module has.
const SECTIONS: [&[u8]; 8] =
    [b".modinfo", b"__versions", b".symtab", b".strtab", b"__ksymtab_strings", b".shstrtab", b"", b".nonexistent"];

pub fn fuzz(data: &[u8]) {
    let (image, signed) = split_signature(data);
    assert!(data.starts_with(image) && (signed || image.len() == data.len()));
    if let Some(info) = signature_info(data) {
        assert!(signed, "a signature without a trailer");
        crate::assert_within(data, info.signer, "the signer");
        crate::assert_within(data, info.signature, "the signature");
        assert!(info.key_id.bytes().count() <= data.len());
    }
    image_facts(data);
    if signed {
        image_facts(image);
    }
}

fn image_facts(image: &[u8]) {
    let within = |part: &[u8], what: &str| crate::assert_within(image, part, what);
    let facts = ModuleFacts::from_image(b"kernel/fuzz.ko", image, true);
    let elf = match Elf::parse(image) {
        Ok(elf) => elf,
        Err(e) => {
            assert_eq!(facts, Err(FactsError::Elf(e)));
            assert!(Modinfo::from_elf(image).is_err());
            return;
        }
    };
    let _ = elf.machine();
    for name in SECTIONS {
        if let Ok(bytes) = elf.section(name) {
            within(bytes, "a section");
        }
    }
    let modinfo = match Modinfo::of(&elf) {
        Ok(modinfo) => modinfo,
        Err(e) => {
            assert_eq!(facts, Err(FactsError::Modinfo(e)));
            return;
        }
    };
    for (key, value) in modinfo.entries() {
        within(key, "a .modinfo key");
        within(value, "a .modinfo value");
        assert!(!key.contains(&b'=') && !key.contains(&0) && !value.contains(&0));
        assert_eq!(modinfo.get(key), modinfo.values(key).next());
    }
    let signature = signature_info(image);
    for field in [None, Some(&b"parm"[..]), Some(b"alias"), Some(b"signature")] {
        let mut params = [Param::default(); 16];
        let format = Format { field, separator: b'\n' };
        let _ = write_fields(&format, modinfo.entries(), signature.as_ref(), &mut params, &mut |_| {}, &mut |_| {});
    }
    let exports: Vec<&[u8]> = exported_symbols(&elf).collect();
    for name in &exports {
        within(name, "an exported symbol");
        assert!(!name.contains(&0));
    }
    // `modprobe --show-exports`: the same names, each with a CRC.
    if let Ok(with_crcs) = exports_with_crcs(&elf) {
        assert!(with_crcs.map(|e| e.name).eq(exports.iter().copied()), "the names of exported_symbols");
    }
    // `modprobe --force` on an image it loads with init_module: only bytes inside the image change.
    let mut stripped = image.to_vec();
    strip(&mut stripped, Force::ALL);
    assert_eq!(stripped.len(), image.len());
    let needed = match dependency_symbols(&elf) {
        Ok(symbols) => symbols.collect::<Vec<_>>(),
        Err(e) => {
            assert_eq!(facts, Err(FactsError::Symbols(e)));
            return;
        }
    };
    for symbol in &needed {
        within(symbol.name, "a needed symbol");
        assert!(!symbol.name.contains(&0));
    }
    let facts = facts.expect("the facts of an image every reader accepts");
    let owned = |names: Vec<&[u8]>| names.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>();
    assert_eq!(facts.aliases, owned(modinfo.values(b"alias").collect()));
    assert_eq!(facts.softdeps, owned(modinfo.values(b"softdep").collect()));
    assert_eq!(facts.weakdeps, owned(modinfo.values(b"weakdep").collect()));
    assert_eq!(facts.exports.iter().map(|e| e.name.as_slice()).collect::<Vec<_>>(), exports);
    assert_eq!(
        facts.imports.iter().map(|i| i.name.as_slice()).collect::<Vec<_>>(),
        needed.iter().map(|s| s.name).collect::<Vec<_>>()
    );
}
