//! Elapsed time since /init started, for the boot report.

use rustix::time::{ClockId, Timespec, clock_gettime};

/// A point on the monotonic clock.
#[derive(Clone, Copy)]
pub struct Instant(Timespec);

impl Instant {
    pub fn now() -> Instant {
        Instant(clock_gettime(ClockId::Monotonic))
    }

    /// Microseconds since boot (the clock /dev/kmsg stamps its records with).
    pub fn micros(self) -> u64 {
        (self.0.tv_sec as u64) * 1_000_000 + (self.0.tv_nsec as u64) / 1000
    }

    /// Whole milliseconds from `self` to now.
    pub fn elapsed_ms(self) -> u64 {
        let now = clock_gettime(ClockId::Monotonic);
        let ns = (now.tv_sec - self.0.tv_sec) as i128 * 1_000_000_000 + (now.tv_nsec - self.0.tv_nsec) as i128;
        (ns / 1_000_000).max(0) as u64
    }
}

/// `ms` milliseconds as a timeout for the kernel.
pub fn timespec_of_ms(ms: u64) -> Timespec {
    Timespec { tv_sec: (ms / 1000) as i64, tv_nsec: ((ms % 1000) * 1_000_000) as i64 }
}

/// Sleeps for `ms` milliseconds (restarting after signals).
pub fn sleep_ms(ms: u64) {
    let mut request = timespec_of_ms(ms);
    while let rustix::thread::NanosleepRelativeResult::Interrupted(remaining) = rustix::thread::nanosleep(&request) {
        request = remaining;
    }
}
