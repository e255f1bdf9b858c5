//! What a failed module load means, in kmod's words (tools/insmod.c and tools/modprobe.c,
//! `mod_strerror`), so messages read like the ones admins know.

use crate::kernel::errno::{Describe, Strerror};
use core::fmt;

/// The errno of init_module/finit_module, explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadError(pub i32);

const EPERM: i32 = 1;
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const ENOEXEC: i32 = 8;
const EBUSY: i32 = 16;
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EINVAL: i32 = 22;
const EOPNOTSUPP: i32 = 95;
const EKEYREJECTED: i32 = 129;

impl LoadError {
    /// The module is loaded already: a success for anyone who wanted it loaded.
    pub fn is_already_loaded(self) -> bool {
        self.0 == EEXIST
    }

    /// ENOENT: the module needs symbols no loaded module exports (the kernel then logs
    /// [`unknown_symbol`] lines), or its init said its device is absent.
    pub fn may_be_unknown_symbols(self) -> bool {
        self.0 == ENOENT
    }

    /// EPERM: no capability, module loading disabled or locked down, or `module_blacklist=`.
    pub fn is_not_permitted(self) -> bool {
        self.0 == EPERM
    }

    /// What finit_module answers with MODULE_INIT_COMPRESSED_FILE when the kernel could not
    /// decompress the file: EINVAL from its decoder (kernel/module/decompress.c: bad magic, or
    /// "decompression failed with status N"), EOPNOTSUPP without CONFIG_MODULE_DECOMPRESS
    /// (init_module_from_file returns module_decompress()'s error as it is). EINVAL is also a
    /// bad parameter value: a caller that decompresses the file itself then gets that EINVAL
    /// again from the kernel, on the decompressed image.
    pub fn may_be_decompression(self) -> bool {
        self.0 == EINVAL || self.0 == EOPNOTSUPP
    }

    /// The driver found no device it supports (ENODEV, or ENOENT from its init): normal
    /// when an alias matched more drivers than the hardware needs, as udev treats it.
    pub fn is_no_device(self) -> bool {
        self.0 == ENODEV || self.0 == ENOENT
    }
}

/// kmod insmod's wording of a failed load (`mod_strerror` in tools/insmod.c): four special
/// cases, else strerror().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsmodReason(pub LoadError);

impl fmt::Display for InsmodReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.0 {
            ENOEXEC => f.write_str("Invalid module format"),
            ENOENT => f.write_str("Unknown symbol in module"),
            ESRCH => f.write_str("Module has wrong symbol version"),
            EINVAL => f.write_str("Invalid parameters"),
            e => write!(f, "{}", Strerror(e)),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meaning = match self.0 {
            ENOEXEC => "Invalid module format",
            ENOENT | ESRCH => "Unknown symbol in module, or unknown parameter (see dmesg)",
            EINVAL => "Invalid parameters",
            EEXIST => "Module already in kernel",
            EPERM => "Operation not permitted (module loading disabled, lockdown, or module_blacklist=)",
            EKEYREJECTED => "Key was rejected by service (module signature required)",
            EBUSY => "Device or resource busy (a module it depends on is still initializing)",
            _ => return write!(f, "{}", Describe(self.0)),
        };
        write!(f, "{meaning} ({})", Describe(self.0).name().unwrap_or("?"))
    }
}

/// The symbol named by the kernel log line `MODULE: Unknown symbol SYMBOL (err N)` when it is
/// about `module`: what the kernel logs (kernel/module/main.c, `simplify_symbols`) for each
/// symbol a module needs that no loaded module exports, before failing with ENOENT.
pub fn unknown_symbol<'t>(text: &'t [u8], module: &[u8]) -> Option<&'t [u8]> {
    unknown_symbol_line(text).filter(|(name, _)| crate::name::same_module_name(name, module)).map(|(_, symbol)| symbol)
}

/// The module and the symbol of a kernel log line `MODULE: Unknown symbol SYMBOL (err N)`.
pub fn unknown_symbol_line(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = text.iter().position(|&b| b == b':')?;
    let (name, rest) = text.split_at(colon);
    let symbol = rest.strip_prefix(b": Unknown symbol ")?;
    let symbol = &symbol[..symbol.iter().position(|&b| b == b' ').unwrap_or(symbol.len())];
    (!symbol.is_empty()).then_some((name, symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_kernels() {
        use linux_raw_sys::errno as e;
        let ours = [EPERM, ENOENT, ESRCH, ENOEXEC, EBUSY, EEXIST, ENODEV, EINVAL, EOPNOTSUPP, EKEYREJECTED];
        let kernel = [
            e::EPERM,
            e::ENOENT,
            e::ESRCH,
            e::ENOEXEC,
            e::EBUSY,
            e::EEXIST,
            e::ENODEV,
            e::EINVAL,
            e::EOPNOTSUPP,
            e::EKEYREJECTED,
        ];
        assert_eq!(ours.map(|x| x as u32), kernel);
    }

    #[test]
    fn explains_in_kmods_words_with_the_errno_name() {
        assert_eq!(LoadError(ENOEXEC).to_string(), "Invalid module format (ENOEXEC)");
        assert_eq!(LoadError(EINVAL).to_string(), "Invalid parameters (EINVAL)");
        assert_eq!(LoadError(12).to_string(), "ENOMEM (Cannot allocate memory)");
        assert!(LoadError(EEXIST).is_already_loaded());
        assert!(LoadError(ENODEV).is_no_device() && LoadError(ENOENT).is_no_device());
        assert!(!LoadError(ENOEXEC).is_no_device());
    }

    /// What `finit_module` given MODULE_INIT_COMPRESSED_FILE answers when the kernel cannot decompress the file,
    /// and answers that mean something else (not a module, unknown symbols, no memory).
    #[test]
    fn the_kernels_decompression_refusals() {
        assert!(LoadError(EINVAL).may_be_decompression() && LoadError(EOPNOTSUPP).may_be_decompression());
        for other in [ENOEXEC, ENOENT, EEXIST, EPERM, EKEYREJECTED, 12] {
            assert!(!LoadError(other).may_be_decompression(), "{other}");
        }
    }

    #[test]
    fn insmod_words_are_kmods() {
        assert_eq!(InsmodReason(LoadError(ENOENT)).to_string(), "Unknown symbol in module");
        assert_eq!(InsmodReason(LoadError(ESRCH)).to_string(), "Module has wrong symbol version");
        assert_eq!(InsmodReason(LoadError(EEXIST)).to_string(), "File exists");
    }

    /// The lines as Debian's 6.1 kernel logged them when vfat was loaded without fat
    /// (tests/qemu/faults.rs makes that happen).
    #[test]
    fn unknown_symbol_lines_name_the_symbol_of_that_module_only() {
        let line = b"vfat: Unknown symbol fat_time_unix2fat (err -2)";
        assert_eq!(unknown_symbol(line, b"vfat"), Some(&b"fat_time_unix2fat"[..]));
        assert_eq!(unknown_symbol(b"snd_hda_intel: Unknown symbol x (err -2)", b"snd-hda-intel"), Some(&b"x"[..]));
        assert_eq!(unknown_symbol(line, b"fat"), None);
        assert_eq!(unknown_symbol(b"vfat: disagrees about version of symbol fat_attach", b"vfat"), None);
        assert_eq!(unknown_symbol(b"vfat: Unknown symbol ", b"vfat"), None);
        assert_eq!(unknown_symbol(b"no colon", b"vfat"), None);
        assert_eq!(unknown_symbol_line(line), Some((&b"vfat"[..], &b"fat_time_unix2fat"[..])));
        assert!(LoadError(ENOENT).may_be_unknown_symbols() && !LoadError(EINVAL).may_be_unknown_symbols());
    }
}
