//! Time, injectable. Nothing in carekit calls `Utc::now()` except
//! [`SystemClock`], so SLA logic is deterministic in tests and replays.

use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// A source of "now".
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct FakeClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl FakeClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves time forward (a negative duration is ignored: time never runs back).
    pub fn advance(&self, by: chrono::Duration) {
        if by > chrono::Duration::zero() {
            *self.lock() += by;
        }
    }

    /// Sets the time, if it is not earlier than now.
    pub fn set(&self, to: DateTime<Utc>) {
        let mut now = self.lock();
        if to > *now {
            *now = to;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// Wall time derived from tokio's clock: under `tokio::time::pause()` it
/// moves only as tokio's paused time does, so code that sleeps and code that
/// reads the time agree in tests.
#[derive(Clone, Debug)]
pub struct TokioClock {
    anchor: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Anchors tokio's "now" at `anchor`.
    pub fn new(anchor: DateTime<Utc>) -> Self {
        Self {
            anchor,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.start;
        self.anchor + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_never_runs_back_and_clones_share_time() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = FakeClock::new(start);
        let other = clock.clone();
        clock.advance(chrono::Duration::minutes(5));
        assert_eq!(other.now(), start + chrono::Duration::minutes(5));
        clock.advance(chrono::Duration::minutes(-10));
        clock.set(start);
        assert_eq!(clock.now(), start + chrono::Duration::minutes(5));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = TokioClock::new(start);
        tokio::time::sleep(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
    }
}
