//! What the boot says about the devices no driver took once the driver phase is over: one line
//! per device whose driver the image lacks, up to [`SHOWN_MAX`], and counts of the rest.

use core::fmt;

/// The most devices named one line each; the others are counted.
pub const SHOWN_MAX: usize = 10;
/// The most module names one line gives; the others are counted.
const NAMES_MAX: usize = 3;

/// Why a device with a modalias has no driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A module of the tree matches it and the image does not have it.
    Absent,
    /// A module of the image matches it, yet no driver took it (the module failed, found the
    /// device unfit, or was blacklisted: its own line said so when it was loaded).
    NotTaken,
    /// No module of the tree matches it (nor of the image, without a table of the tree's).
    Unknown,
}

/// The devices without a driver so far, by [`Verdict`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub absent: usize,
    pub not_taken: usize,
    pub unknown: usize,
}

impl Tally {
    /// Counts a device; true when it is to be named in a line of its own (one whose driver is
    /// absent, among the first [`SHOWN_MAX`]).
    pub fn count(&mut self, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Absent => self.absent += 1,
            Verdict::NotTaken => self.not_taken += 1,
            Verdict::Unknown => self.unknown += 1,
        }
        verdict == Verdict::Absent && self.absent <= SHOWN_MAX
    }

    /// Devices whose driver is absent that got no line.
    pub fn unshown(&self) -> usize {
        self.absent.saturating_sub(SHOWN_MAX)
    }

    pub fn total(&self) -> usize {
        self.absent + self.not_taken + self.unknown
    }
}

/// The distinct module names of a device's matches, in the order found: the first
/// [`NAMES_MAX`] kept, the rest counted. Shown as `a is`, `a, b are`, `a, b, c and 2 more are`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ModuleNames<'a> {
    names: [&'a [u8]; NAMES_MAX],
    len: usize,
    more: usize,
}

impl<'a> ModuleNames<'a> {
    pub fn add(&mut self, name: &'a [u8]) {
        if self.names[..self.len].contains(&name) {
            return;
        }
        match self.names.get_mut(self.len) {
            Some(slot) => {
                *slot = name;
                self.len += 1;
            }
            // Past the kept names, each match counts (a module matching twice, twice): a
            // device rarely has more than two modules, so this stays a count of modules.
            None => self.more += 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for ModuleNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.names[..self.len].iter().enumerate() {
            f.write_str(if i == 0 { "" } else { ", " })?;
            fmt::Display::fmt(&crate::line::Bytes(name), f)?;
        }
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        f.write_str(if self.len + self.more > 1 { " are" } else { " is" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_devices_whose_driver_is_absent_get_a_line() {
        let mut tally = Tally::default();
        let shown = (0..SHOWN_MAX + 5).filter(|_| tally.count(Verdict::Absent)).count();
        assert!(!tally.count(Verdict::NotTaken) && !tally.count(Verdict::Unknown));
        assert_eq!((shown, tally.unshown(), tally.total()), (SHOWN_MAX, 5, SHOWN_MAX + 7));
    }

    #[test]
    fn names_are_listed_once_each_then_counted() {
        let shown = |names: &[&'static str]| {
            let mut n = ModuleNames::default();
            names.iter().for_each(|name| n.add(name.as_bytes()));
            n.to_string()
        };
        assert_eq!(shown(&["snd_hda_intel", "snd_hda_intel"]), "snd_hda_intel is");
        assert_eq!(shown(&["a", "b", "a"]), "a, b are");
        assert_eq!(shown(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more are");
    }
}
