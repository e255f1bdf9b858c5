//! What a failed module load means, in kmod's words (tools/insmod.c and tools/modprobe.c,
//! `mod_strerror`), so messages read like the ones admins know.

use crate::errno::{Describe, Strerror};
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
const EKEYREJECTED: i32 = 129;

impl LoadError {
    /// The module is loaded already: a success for anyone who wanted it loaded.
    pub fn is_already_loaded(self) -> bool {
        self.0 == EEXIST
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_kernels() {
        use linux_raw_sys::errno as e;
        let ours = [EPERM, ENOENT, ESRCH, ENOEXEC, EBUSY, EEXIST, ENODEV, EINVAL, EKEYREJECTED];
        let kernel = [e::EPERM, e::ENOENT, e::ESRCH, e::ENOEXEC, e::EBUSY, e::EEXIST, e::ENODEV, e::EINVAL, e::EKEYREJECTED];
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

    #[test]
    fn insmod_words_are_kmods() {
        assert_eq!(InsmodReason(LoadError(ENOENT)).to_string(), "Unknown symbol in module");
        assert_eq!(InsmodReason(LoadError(ESRCH)).to_string(), "Module has wrong symbol version");
        assert_eq!(InsmodReason(LoadError(EEXIST)).to_string(), "File exists");
    }
}
