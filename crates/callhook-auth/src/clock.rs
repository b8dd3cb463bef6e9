//! Time as seen by the verifier: a point in Unix seconds and the clock that tells it.
//!
//! The clock is injected so that expiry can be tested without sleeping: production code uses
//! [`SystemClock`], tests (ours, the server's, a bot developer's) use [`ManualClock`] and move it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time, in whole seconds since the Unix epoch (the JWT `NumericDate` scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The Unix epoch itself.
    pub const EPOCH: UnixTime = UnixTime(0);

    /// The point `seconds` seconds after the Unix epoch.
    #[must_use]
    pub const fn from_secs(seconds: u64) -> UnixTime {
        UnixTime(seconds)
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This point moved `seconds` later, saturating instead of overflowing.
    #[must_use]
    pub const fn saturating_add_secs(self, seconds: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(seconds))
    }

    /// This point moved `seconds` earlier, saturating at the epoch.
    #[must_use]
    pub const fn saturating_sub_secs(self, seconds: u64) -> UnixTime {
        UnixTime(self.0.saturating_sub(seconds))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Something that tells the current time. Implementations must be cheap: it is read on every request.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        // A host clock set before 1970 is broken; it is read as the epoch rather than panicking.
        // The platform's tokens carry `nbf`, so on such a host they are refused as not yet valid.
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        UnixTime(seconds)
    }
}

/// A clock that only moves when told to: for tests of expiry, caching and cooldowns.
///
/// It is public on purpose so that the server's and users' tests can move time too.
#[derive(Debug, Default)]
pub struct ManualClock {
    seconds: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: UnixTime) -> ManualClock {
        ManualClock {
            seconds: AtomicU64::new(start.as_secs()),
        }
    }

    /// Moves the clock to `time` (backwards too: clocks on real hosts do that).
    pub fn set(&self, time: UnixTime) {
        self.seconds.store(time.as_secs(), Ordering::SeqCst);
    }

    /// Moves the clock `seconds` forward.
    pub fn advance_secs(&self, seconds: u64) {
        // fetch_update cannot fail here because the closure always returns Some.
        let _previous = self
            .seconds
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(current.saturating_add(seconds))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.seconds.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(UnixTime::from_secs(100));
        assert_eq!(clock.now(), UnixTime::from_secs(100));
        clock.advance_secs(5);
        assert_eq!(clock.now(), UnixTime::from_secs(105));
        clock.set(UnixTime::from_secs(7));
        assert_eq!(clock.now().as_secs(), 7);
        clock.advance_secs(u64::MAX);
        assert_eq!(clock.now().as_secs(), u64::MAX);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > UnixTime::from_secs(1_577_836_800));
    }
}
