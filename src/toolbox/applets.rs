//! The toolbox's applets: their names, and where an image links each to `/init`. The binary
//! dispatches on these names (src/applets/), and the image builder makes these links
//! (xtask/src/initramfs.rs): one list for both.

/// An applet, by the name the binary answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applet {
    Modprobe,
    Lsmod,
    Insmod,
    Rmmod,
    Dmesg,
    Modinfo,
    Depmod,
    /// `modinit blame`: the boot record read back (no link: no other tool has the name).
    Blame,
}

impl Applet {
    /// Every applet, in the order `modinit` lists them.
    pub const ALL: [Applet; 8] = [
        Applet::Modprobe,
        Applet::Lsmod,
        Applet::Insmod,
        Applet::Rmmod,
        Applet::Modinfo,
        Applet::Depmod,
        Applet::Dmesg,
        Applet::Blame,
    ];

    /// The name it answers to (argv[0]'s basename, or `modinit NAME`).
    pub const fn name(self) -> &'static str {
        match self {
            Applet::Modprobe => "modprobe",
            Applet::Lsmod => "lsmod",
            Applet::Insmod => "insmod",
            Applet::Rmmod => "rmmod",
            Applet::Dmesg => "dmesg",
            Applet::Modinfo => "modinfo",
            Applet::Depmod => "depmod",
            Applet::Blame => "blame",
        }
    }

    /// Where an image links it to `/init`, relative to the image's root: where kmod and
    /// util-linux install the tool (the kernel's request_module() runs /sbin/modprobe); None
    /// for modinit's own, run as `modinit NAME`.
    pub const fn link(self) -> Option<&'static str> {
        match self {
            Applet::Modprobe => Some("sbin/modprobe"),
            Applet::Lsmod => Some("sbin/lsmod"),
            Applet::Insmod => Some("sbin/insmod"),
            Applet::Rmmod => Some("sbin/rmmod"),
            Applet::Dmesg => Some("bin/dmesg"),
            Applet::Modinfo => Some("sbin/modinfo"),
            Applet::Depmod => Some("sbin/depmod"),
            Applet::Blame => None,
        }
    }

    /// The applet named `name`.
    pub fn named(name: &[u8]) -> Option<Applet> {
        Applet::ALL.into_iter().find(|a| a.name().as_bytes() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_applet_is_found_by_its_name_and_links_under_its_name() {
        for applet in Applet::ALL {
            assert_eq!(Applet::named(applet.name().as_bytes()), Some(applet));
            let link = applet.link().unwrap_or("bin/blame");
            assert!(link.ends_with(&format!("bin/{}", applet.name())), "{applet:?}");
        }
        assert_eq!(Applet::named(b"modinit"), None);
    }
}
