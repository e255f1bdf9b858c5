//! A kernel module file's parts, read in place as kmod reads them: the ELF sections, the
//! `.modinfo` strings (and a builtin module's, from `modules.builtin.modinfo`), the symbols it
//! exports and needs, and the appended signature with its DER-encoded PKCS#7 message; and what
//! kmod's `--force` strips from a module it loads with `init_module`.

pub mod builtin_modinfo;
pub mod der;
pub mod elf;
pub mod modinfo;
pub mod signature;
pub mod strip;
pub mod symbols;
