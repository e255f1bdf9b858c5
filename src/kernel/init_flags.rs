//! The flags modinit passes to `finit_module`: `MODULE_INIT_COMPRESSED_FILE` (4), for a file the
//! kernel decompresses itself, and the force flags only when an applet is asked for them.
//!
//! `MODULE_INIT_IGNORE_MODVERSIONS` (1) and `MODULE_INIT_IGNORE_VERMAGIC` (2) make the kernel
//! load a module built for another kernel (kmod's `modprobe --force-modversion`,
//! `--force-vermagic`, `-f` for both, and `insmod -f`); the kernel then taints itself and
//! treats the module as unsigned, and a kernel built without `CONFIG_MODULE_FORCE_LOAD`
//! (Debian's) refuses them with ENOEXEC. The boot never passes them: [`Force::NONE`].

/// What `finit_module` is told about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleInitFlags {
    /// An ELF image.
    Plain,
    /// A compressed file the kernel decompresses (Linux >= 6.4, CONFIG_MODULE_DECOMPRESS).
    CompressedFile,
}

/// `MODULE_INIT_COMPRESSED_FILE` (include/uapi/linux/module.h).
const COMPRESSED_FILE: i32 = 4;
/// `MODULE_INIT_IGNORE_MODVERSIONS` and `MODULE_INIT_IGNORE_VERMAGIC`.
const IGNORE_MODVERSIONS: i32 = 1;
const IGNORE_VERMAGIC: i32 = 2;

/// What the kernel is asked to ignore in a module: its symbol versions, its version magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Force {
    pub modversions: bool,
    pub vermagic: bool,
}

impl Force {
    /// Nothing: what the boot and an applet without a force option pass.
    pub const NONE: Force = Force { modversions: false, vermagic: false };
    /// Both (`-f`).
    pub const ALL: Force = Force { modversions: true, vermagic: true };

    /// The force bits of `finit_module`'s `flags`.
    pub const fn bits(self) -> i32 {
        let modversions = if self.modversions { IGNORE_MODVERSIONS } else { 0 };
        let vermagic = if self.vermagic { IGNORE_VERMAGIC } else { 0 };
        modversions | vermagic
    }
}

impl ModuleInitFlags {
    /// The `flags` argument of `finit_module`.
    pub const fn bits(self) -> i32 {
        match self {
            ModuleInitFlags::Plain => 0,
            ModuleInitFlags::CompressedFile => COMPRESSED_FILE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `#define NAME VALUE` in the kernel's uapi header (linux-libc-dev).
    fn header_value(name: &str) -> Option<i32> {
        let header = std::fs::read_to_string("/usr/include/linux/module.h").ok()?;
        header.lines().find_map(|l| l.strip_prefix("#define ")?.strip_prefix(name)?.trim().parse().ok())
    }

    /// The kernel's values: no variant sets a force flag, and [`Force`] sets only those.
    #[test]
    fn only_force_forces_a_load() {
        let Some(compressed) = header_value("MODULE_INIT_COMPRESSED_FILE") else {
            return modinit_test_fixtures::unavailable("/usr/include/linux/module.h (linux-libc-dev)");
        };
        assert_eq!(COMPRESSED_FILE, compressed);
        let force = header_value("MODULE_INIT_IGNORE_MODVERSIONS").unwrap()
            | header_value("MODULE_INIT_IGNORE_VERMAGIC").unwrap();
        assert_eq!(force, 3);
        for flags in [ModuleInitFlags::Plain, ModuleInitFlags::CompressedFile] {
            assert_eq!(flags.bits() & force, 0, "{flags:?}");
        }
        assert_eq!(Force::NONE.bits(), 0);
        assert_eq!(Force::ALL.bits(), force);
        assert_eq!(
            Force { modversions: true, vermagic: false }.bits(),
            header_value("MODULE_INIT_IGNORE_MODVERSIONS").unwrap()
        );
        assert_eq!(
            Force { modversions: false, vermagic: true }.bits(),
            header_value("MODULE_INIT_IGNORE_VERMAGIC").unwrap()
        );
    }

    /// Every `finit_module` call of the boot binary and the applets passes these flags (and
    /// [`Force`]'s), and no other source file names the force flags.
    #[test]
    fn every_finit_module_call_passes_these_flags() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut calls = 0;
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                if path.ends_with("kernel/init_flags.rs") {
                    continue;
                }
                for name in ["IGNORE_MODVERSIONS", "IGNORE_VERMAGIC"] {
                    assert!(!text.contains(name), "{} names {name}", path.display());
                }
                for (at, _) in text.match_indices("finit_module(") {
                    let call = &text[at..text[at..].find(')').map_or(text.len(), |end| at + end)];
                    assert!(call.ends_with(".bits("), "{}: {call}", path.display());
                    calls += 1;
                }
            }
        }
        assert!(calls >= 1, "the boot binary inserts modules with finit_module");
    }
}
