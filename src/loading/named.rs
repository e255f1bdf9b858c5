//! What the driver phase loads besides devices' drivers, and where each name came from: the
//! module lists of the kernel command line, in the spellings of the init systems people
//! already use, and the modules-load.d lists baked into the index.
//!
//! | parameter | from | when it loads | the blacklist stops it |
//! |---|---|---|---|
//! | `rd.driver.pre=a,b` | dracut | first, before any device's driver | no (dracut's `modprobe NAME`) |
//! | `earlymodules=a,b` | mkinitcpio | first, before any device's driver | yes (mkinitcpio's `modprobe -ab`) |
//! | `modules_load=a,b`, `rd.modules_load=a,b` | systemd | next, before devices' drivers | yes (systemd-modules-load) |
//! | modules-load.d lists | systemd | with `modules_load=` | yes |
//! | `rd.driver.post=a,b` | dracut | once the driver phase has settled | no, but held back from devices until then |
//!
//! `rd.driver.blacklist=a,b` (dracut) holds modules back from devices' aliases as
//! `modprobe.blacklist=` does (kmod's `blacklist`): a name asked for explicitly still loads.
//! Each parameter may be given several times; lists are read in command-line order, and not
//! after a bare `--`.

use crate::cmdline;
use crate::name::module_name;

/// Where a name the driver phase loads came from: it decides when the name loads, whether the
/// blacklist applies, and what an error about it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// dracut's `rd.driver.pre=`.
    DriverPre,
    /// mkinitcpio's `earlymodules=`.
    EarlyModules,
    /// systemd's `modules_load=`.
    ModulesLoad,
    /// systemd's `rd.modules_load=`.
    RdModulesLoad,
    /// A modules-load.d list baked into the index.
    ModulesLoadD,
    /// dracut's `rd.driver.post=`.
    DriverPost,
    /// A device's modalias, from the /sys walk or a uevent.
    Device,
    /// The `fs-TYPE` alias of a filesystem the root is mounted as, which the kernel lacks.
    RootFilesystem,
}

impl Origin {
    /// What loads first, before any device's driver: dracut's and mkinitcpio's early lists.
    pub const EARLY: &[Origin] = &[Origin::DriverPre, Origin::EarlyModules];
    /// What loads next on the command line's word, before devices' drivers.
    pub const MODULES_LOAD: &[Origin] = &[Origin::ModulesLoad, Origin::RdModulesLoad];
    /// What loads once the driver phase has settled.
    pub const LATE: &[Origin] = &[Origin::DriverPost];

    /// Where the name was written, as a user would look for it.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::DriverPre => "rd.driver.pre=",
            Origin::EarlyModules => "earlymodules=",
            Origin::ModulesLoad => "modules_load=",
            Origin::RdModulesLoad => "rd.modules_load=",
            Origin::ModulesLoadD => "modules-load.d",
            Origin::DriverPost => "rd.driver.post=",
            Origin::Device => "a device",
            Origin::RootFilesystem => "the root filesystem's type",
        }
    }

    /// Whether the blacklist stops a module this origin names (not only those found through an
    /// alias), as the tool that reads the list does: `modprobe -b` for mkinitcpio and systemd,
    /// plain `modprobe` for dracut.
    pub fn applies_blacklist(self) -> bool {
        !matches!(self, Origin::DriverPre | Origin::DriverPost)
    }

    /// Whether a name that resolves to nothing is an error: always for a list's names; not for
    /// a device's alias (most devices have no driver module) or a filesystem's (the mount says
    /// what failed).
    pub fn must_resolve(self) -> bool {
        !matches!(self, Origin::Device | Origin::RootFilesystem)
    }

    /// The command-line parameter that gives this origin's lists; None when the command line
    /// does not.
    fn parameter(self) -> Option<&'static [u8]> {
        Some(match self {
            Origin::DriverPre => b"rd.driver.pre",
            Origin::EarlyModules => b"earlymodules",
            Origin::ModulesLoad => b"modules_load",
            Origin::RdModulesLoad => b"rd.modules_load",
            Origin::DriverPost => b"rd.driver.post",
            Origin::ModulesLoadD | Origin::Device | Origin::RootFilesystem => return None,
        })
    }

    fn of_parameter(key: &[u8]) -> Option<Origin> {
        [Origin::DriverPre, Origin::EarlyModules, Origin::ModulesLoad, Origin::RdModulesLoad, Origin::DriverPost]
            .into_iter()
            .find(|o| o.parameter() == Some(key))
    }
}

/// A name (module name, alias or modalias) to load, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named<'a> {
    pub name: &'a [u8],
    pub origin: Origin,
}

/// Every name the command line's lists of `origins` give, in command-line order.
pub fn on_cmdline<'a>(cmdline: &'a [u8], origins: &'a [Origin]) -> impl Iterator<Item = Named<'a>> + 'a {
    lists(cmdline)
        .filter(move |(origin, _)| origins.contains(origin))
        .flat_map(|(origin, list)| names(list).map(move |name| Named { name, origin }))
}

/// Why the command line holds a module back from devices' aliases during the driver phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBack {
    /// dracut's `rd.driver.blacklist=` names it: as a `blacklist` line.
    Blacklisted,
    /// dracut's `rd.driver.post=` names it: it loads once the phase has settled.
    UntilSettled,
}

/// Whether, and why, the command line holds module `name` back from devices' aliases during
/// the driver phase.
pub fn held_back(cmdline: &[u8], name: &[u8]) -> Option<HeldBack> {
    let names_it = |key: &[u8]| {
        cmdline::params(cmdline)
            .take_while(|p| p.key != b"--")
            .filter(|p| p.key == key)
            .filter_map(|p| p.value)
            .flat_map(names)
            .any(|entry| module_name(name).eq(module_name(entry)))
    };
    if names_it(b"rd.driver.blacklist") {
        Some(HeldBack::Blacklisted)
    } else if names_it(b"rd.driver.post") {
        Some(HeldBack::UntilSettled)
    } else {
        None
    }
}

/// The module lists of the command line with their origin, in order.
fn lists(cmdline: &[u8]) -> impl Iterator<Item = (Origin, &[u8])> {
    cmdline::params(cmdline)
        .take_while(|p| p.key != b"--")
        .filter_map(|p| Some((Origin::of_parameter(p.key)?, p.value?)))
}

fn names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b',').filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn named<'a>(cmdline: &'a [u8], origins: &'a [Origin]) -> Vec<(&'a [u8], Origin)> {
        on_cmdline(cmdline, origins).map(|n| (n.name, n.origin)).collect()
    }

    #[test]
    fn each_list_is_read_in_command_line_order() {
        let line = b"earlymodules=e rd.driver.pre=a,b modules_load=m rd.driver.pre=c,,d rd.modules_load=r rd.driver.post=p -- rd.driver.pre=x";
        assert_eq!(
            named(line, Origin::EARLY),
            [
                (&b"e"[..], Origin::EarlyModules),
                (b"a", Origin::DriverPre),
                (b"b", Origin::DriverPre),
                (b"c", Origin::DriverPre),
                (b"d", Origin::DriverPre)
            ]
        );
        assert_eq!(
            named(line, Origin::MODULES_LOAD),
            [(&b"m"[..], Origin::ModulesLoad), (b"r", Origin::RdModulesLoad)]
        );
        assert_eq!(named(line, Origin::LATE), [(&b"p"[..], Origin::DriverPost)]);
        assert!(named(b"rd.driver.pre modules_load= earlymodules", Origin::EARLY).is_empty());
    }

    #[test]
    fn blacklist_and_post_hold_modules_back_by_module_name() {
        let line = b"rd.driver.blacklist=snd-hda-intel,e1000 rd.driver.post=dummy -- rd.driver.blacklist=tun";
        assert_eq!(held_back(line, b"snd_hda_intel"), Some(HeldBack::Blacklisted));
        assert_eq!(held_back(line, b"e1000"), Some(HeldBack::Blacklisted));
        assert_eq!(held_back(line, b"dummy"), Some(HeldBack::UntilSettled));
        assert_eq!(held_back(line, b"e1000e").or(held_back(line, b"tun")), None);
        assert_eq!(held_back(b"rd.driver.pre=dummy", b"dummy"), None);
    }

    #[test]
    fn dracut_lists_do_not_apply_the_blacklist_to_what_they_name() {
        assert!(!Origin::DriverPre.applies_blacklist() && !Origin::DriverPost.applies_blacklist());
        assert!(Origin::EarlyModules.applies_blacklist() && Origin::ModulesLoadD.applies_blacklist());
        assert!(Origin::ModulesLoad.must_resolve() && !Origin::Device.must_resolve());
    }
}
