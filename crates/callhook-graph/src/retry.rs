//! Retries with exponential backoff and jitter, honouring `Retry-After`, inside a deadline.

use std::time::{Duration, Instant, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};

/// The platform's answer window: an incoming call is answered, rejected or redirected within 15 s
/// of its notification.
pub const ANSWER_WINDOW: Duration = Duration::from_secs(15);

/// The answer window of policy-based recording bots: 5 s.
pub const POLICY_RECORDING_WINDOW: Duration = Duration::from_secs(5);

/// The instant after which no request of an action is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    /// The answer window ([`ANSWER_WINDOW`]) counted from when the notification arrived.
    #[must_use]
    pub fn answer_window(arrived: Instant) -> Self {
        Self(arrived + ANSWER_WINDOW)
    }

    /// The policy-based recording window ([`POLICY_RECORDING_WINDOW`]) from `arrived`.
    #[must_use]
    pub fn policy_recording(arrived: Instant) -> Self {
        Self(arrived + POLICY_RECORDING_WINDOW)
    }

    /// A deadline at `instant`.
    #[must_use]
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `duration` from now.
    #[must_use]
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now() + duration)
    }

    /// The instant.
    #[must_use]
    pub fn instant(self) -> Instant {
        self.0
    }

    /// The time left, zero once passed.
    #[must_use]
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// How failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Requests per action at most, the first included.
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// At most `attempts` requests per action, the first included (at least one).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Backoff from `initial`, doubling, up to `max`.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Honours a `Retry-After` of at most `max`; a longer one ends the retries.
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The wait before retry `retry` (1 for the first retry): `Retry-After` when the answer gave
    /// one, else exponential backoff with equal jitter, in `[b/2, b]` for the backoff `b`.
    pub(crate) fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(retry_after) = retry_after {
            return retry_after;
        }
        let doubling = 2_u32.saturating_pow(retry.saturating_sub(1));
        let backoff = self
            .initial_backoff
            .saturating_mul(doubling)
            .min(self.max_backoff);
        let half = backoff / 2;
        half + half.mul_f64(jitter())
    }
}

/// A uniform number in `[0, 1)`.
fn jitter() -> f64 {
    let mut bytes = [0_u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    // 53 random bits, the precision of an f64.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1_u64 << 53) as f64
}

/// Reads `Retry-After`: delay seconds, or an HTTP date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_maximum() {
        let policy = RetryPolicy::default();
        for _ in 0..50 {
            let first = policy.wait(1, None);
            assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
            let third = policy.wait(3, None);
            assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800));
            let late = policy.wait(30, None);
            assert!(late >= Duration::from_secs(2) && late <= Duration::from_secs(4));
        }
        assert_eq!(
            policy.wait(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(20));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(20))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(20));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn deadlines_count_from_the_arrival() {
        let arrived = Instant::now();
        assert_eq!(
            Deadline::answer_window(arrived).instant(),
            arrived + Duration::from_secs(15)
        );
        assert_eq!(
            Deadline::policy_recording(arrived).instant(),
            arrived + Duration::from_secs(5)
        );
        assert_eq!(
            Deadline::at(arrived - Duration::from_secs(1)).remaining(),
            Duration::ZERO
        );
    }
}
