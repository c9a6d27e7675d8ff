//! X's rate-limit headers. X sends no `Retry-After`: the wait is computed
//! from `x-rate-limit-reset` (Unix seconds) against the injected clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;

/// One endpoint's window as X reported it on the last response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (`x-rate-limit-limit`).
    pub limit: Option<u64>,
    /// Requests left in this window (`x-rate-limit-remaining`).
    pub remaining: Option<u64>,
    /// When the window resets (`x-rate-limit-reset`).
    pub reset: Option<DateTime<Utc>>,
}

/// Wait used when X answers 429 without a usable reset header: the length
/// of X's standard window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

impl RateLimit {
    /// Reads the three headers; absent or garbled ones are `None`.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let limit = num("x-rate-limit-limit");
        let remaining = num("x-rate-limit-remaining");
        let reset = num("x-rate-limit-reset")
            .and_then(|s| i64::try_from(s).ok())
            .and_then(|s| DateTime::from_timestamp(s, 0));
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return None;
        }
        Some(Self {
            limit,
            remaining,
            reset,
        })
    }

    /// Time from `now` until the reset (zero if it has passed); `None`
    /// without a reset header.
    pub fn until_reset(&self, now: DateTime<Utc>) -> Option<Duration> {
        let reset = self.reset?;
        Some((reset - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// Whether the window is used up (`remaining == 0`).
    pub fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    /// The wait before the next call: until the reset if the window is
    /// exhausted, else none.
    pub fn wait_before_next(&self, now: DateTime<Utc>) -> Duration {
        if self.exhausted() {
            self.until_reset(now).unwrap_or(DEFAULT_WINDOW)
        } else {
            Duration::ZERO
        }
    }
}

/// The wait after a 429: until the reset, at least one second (the reset is
/// whole seconds and clocks drift), [`DEFAULT_WINDOW`] without a header.
pub(crate) fn retry_after_429(limit: Option<&RateLimit>, now: DateTime<Utc>) -> Duration {
    limit
        .and_then(|l| l.until_reset(now))
        .map(|d| d.max(Duration::from_secs(1)))
        .unwrap_or(DEFAULT_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_headers_and_computes_wait_from_reset() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let l = RateLimit::from_headers(&headers(&[
            ("x-rate-limit-limit", "75"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1700000090"),
        ]))
        .unwrap();
        assert_eq!(l.limit, Some(75));
        assert!(l.exhausted());
        assert_eq!(l.wait_before_next(now), Duration::from_secs(90));
        assert_eq!(retry_after_429(Some(&l), now), Duration::from_secs(90));
    }

    #[test]
    fn garbled_or_missing_headers_fall_back() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(RateLimit::from_headers(&headers(&[("x-rate-limit-reset", "soon")])).is_none());
        assert_eq!(retry_after_429(None, now), DEFAULT_WINDOW);
        let past =
            RateLimit::from_headers(&headers(&[("x-rate-limit-reset", "1600000000")])).unwrap();
        assert_eq!(retry_after_429(Some(&past), now), Duration::from_secs(1));
    }
}
