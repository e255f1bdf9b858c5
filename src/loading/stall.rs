//! The driver phase's time limit (`modinit.timeout_ms`): how long it may go without progress.
//!
//! Progress is an insert that ended (loaded, failed, or given up as stuck) or a device alias or
//! module name taken up for loading for the first time. A phase that keeps making progress is
//! never cut short, however slow the machine; one that makes none for the limit ends: the
//! inserts still under way are given up, or, with none under way (uevents that keep coming and
//! bring nothing new), the phase stops listening. Times are milliseconds on one monotonic clock.

/// When the phase last made progress, and how long it may go without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    limit_ms: u64,
    last_progress_ms: u64,
}

impl Stall {
    /// A phase that may go `limit_ms` without progress, starting at `now_ms`.
    pub const fn new(limit_ms: u64, now_ms: u64) -> Self {
        Stall { limit_ms, last_progress_ms: now_ms }
    }

    /// Records progress at `now_ms` (a clock read before a later progress is ignored).
    pub fn progressed(&mut self, now_ms: u64) {
        self.last_progress_ms = self.last_progress_ms.max(now_ms);
    }

    /// How long the phase may still go without progress from `now_ms`; 0 once it stalled.
    pub fn left_ms(&self, now_ms: u64) -> u64 {
        self.last_progress_ms.saturating_add(self.limit_ms).saturating_sub(now_ms)
    }

    /// Whether the phase has gone the limit without progress at `now_ms`.
    pub fn stalled(&self, now_ms: u64) -> bool {
        self.left_ms(now_ms) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_that_keeps_progressing_never_stalls() {
        let mut stall = Stall::new(1000, 0);
        for now in (999..3_600_000).step_by(999) {
            assert!(!stall.stalled(now), "at {now} ms");
            stall.progressed(now);
        }
    }

    #[test]
    fn the_limit_counts_from_the_last_progress() {
        let mut stall = Stall::new(1000, 500);
        assert_eq!((stall.left_ms(500), stall.left_ms(1200), stall.stalled(1499)), (1000, 300, false));
        assert!(stall.stalled(1500));
        stall.progressed(1700);
        assert_eq!((stall.left_ms(1700), stall.stalled(2699), stall.stalled(2700)), (1000, false, true));
    }

    #[test]
    fn an_earlier_clock_reading_does_not_move_the_progress_back() {
        let mut stall = Stall::new(1000, 5000);
        stall.progressed(4000);
        assert_eq!(stall.left_ms(5500), 500);
        assert_eq!(stall.left_ms(100), 5900, "a reading from before the last progress");
    }

    #[test]
    fn the_largest_limit_does_not_overflow() {
        let stall = Stall::new(u64::MAX, 5);
        assert_eq!((stall.stalled(10), stall.left_ms(10)), (false, u64::MAX - 10));
        assert_eq!(Stall::new(0, 7).left_ms(7), 0);
    }
}
