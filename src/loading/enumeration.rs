//! The driver phase's end and buses that find their devices late: how long it waits for hubs
//! still enumerating (`modinit.hubs_ms`).
//!
//! A USB host controller's driver returns from its insert with the root hubs bound, but the hub
//! driver finds the devices on their ports only afterwards, in its own work: 100 ms of debounce
//! per connected port, a reset, descriptor reads, easily a few hundred milliseconds under
//! emulation, and no uevent meanwhile. A quiet period shorter than that ends the phase before
//! the device's interfaces (usb_storage, uas, usbhid) appear. Waiting a fixed time after every
//! controller would charge every machine with a controller and nothing plugged in.
//!
//! The rule: when the phase would end (quiet for `settle_ms`, and a last walk found nothing to
//! load), it looks at the hubs (`crate::sysfs::usb`). If none is enumerating, it ends: an idle
//! controller costs one look. If one is, the phase waits another quiet period, and looks again
//! at its end; a device that appears in the meantime is loaded for as usual. The waiting is
//! bounded: after `hubs_ms` in all from the first time it waited, the phase ends anyway and
//! says what it was waiting for (a port that never finishes enumerating must not hold up the
//! boot). Times are milliseconds on one monotonic clock.

/// What the phase does when it would end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No hub is enumerating: end.
    End,
    /// A hub is enumerating: wait another quiet period, then ask again.
    Wait,
    /// A hub is still enumerating after the limit: end, and say what it waited for.
    GiveUp { waited_ms: u64 },
}

/// How long the phase's end has waited for hubs, and may.
/// `limit_ms` 0 switches the rule off: the phase ends on its quiet period alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enumeration {
    limit_ms: u64,
    /// When the phase first waited for a hub.
    since_ms: Option<u64>,
}

impl Enumeration {
    /// A phase whose end may wait `limit_ms` in all for hubs (0: does not look at them).
    pub const fn new(limit_ms: u64) -> Self {
        Enumeration { limit_ms, since_ms: None }
    }

    /// Whether the rule is switched off (a limit of 0): then the hubs need no look.
    pub const fn is_off(&self) -> bool {
        self.limit_ms == 0
    }

    /// What to do at `now_ms`, when the phase would end and a look at the hubs found one still
    /// enumerating (`enumerating`) or none.
    pub fn verdict(&mut self, now_ms: u64, enumerating: bool) -> Verdict {
        if !enumerating || self.limit_ms == 0 {
            return Verdict::End;
        }
        let since = *self.since_ms.get_or_insert(now_ms);
        let waited_ms = now_ms.saturating_sub(since);
        if waited_ms >= self.limit_ms { Verdict::GiveUp { waited_ms } } else { Verdict::Wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_hub_at_work_ends_the_phase_at_once() {
        let mut e = Enumeration::new(3000);
        assert_eq!(e.verdict(5000, false), Verdict::End);
        assert_eq!(e.verdict(5200, false), Verdict::End, "and costs no wait later either");
    }

    #[test]
    fn a_hub_at_work_keeps_the_phase_open_until_it_is_done() {
        let mut e = Enumeration::new(3000);
        assert_eq!(e.verdict(5000, true), Verdict::Wait);
        assert_eq!(e.verdict(5200, true), Verdict::Wait);
        assert_eq!(e.verdict(5400, false), Verdict::End);
    }

    #[test]
    fn the_limit_counts_from_the_first_wait_and_is_never_exceeded() {
        let mut e = Enumeration::new(1000);
        assert_eq!(e.verdict(5000, true), Verdict::Wait);
        assert_eq!(e.verdict(5999, true), Verdict::Wait);
        assert_eq!(e.verdict(6000, true), Verdict::GiveUp { waited_ms: 1000 });
        // A hub that went idle, then busy again with a second device: the same budget.
        let mut e = Enumeration::new(1000);
        assert_eq!(e.verdict(5000, true), Verdict::Wait);
        assert_eq!(e.verdict(5400, false), Verdict::End);
        assert_eq!(e.verdict(6100, true), Verdict::GiveUp { waited_ms: 1100 });
        assert_eq!(e.verdict(6300, false), Verdict::End, "a hub done after all still ends it quietly");
    }

    #[test]
    fn a_limit_of_zero_never_waits() {
        let mut e = Enumeration::new(0);
        assert!(e.is_off() && !Enumeration::new(1).is_off());
        assert_eq!(e.verdict(5000, true), Verdict::End);
    }

    #[test]
    fn an_earlier_clock_reading_waits_rather_than_overflows() {
        let mut e = Enumeration::new(u64::MAX);
        assert_eq!(e.verdict(5000, true), Verdict::Wait);
        assert_eq!(e.verdict(4000, true), Verdict::Wait);
        assert_eq!(e.verdict(u64::MAX, true), Verdict::Wait);
    }
}
