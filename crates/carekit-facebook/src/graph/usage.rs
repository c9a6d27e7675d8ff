//! Meta's usage headers, and the pause they call for.
//!
//! Every Graph response may carry `X-App-Usage`, `X-Page-Usage` and
//! `X-Business-Use-Case-Usage`: percentages of a rolling budget
//! (`call_count`, `total_time`, `total_cputime`) and, once throttled,
//! `estimated_time_to_regain_access` in minutes. The client stops calling
//! for a while when any counter reaches the configured threshold, so it
//! slows down before Meta starts refusing (codes 4, 17, 32, 613, 80xxx).

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// The usage Meta reported on the last response that carried any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// The highest percentage among all counters of all usage headers.
    pub percent: u8,
    /// How long Meta says access stays blocked, if it said.
    pub regain_after: Option<Duration>,
}

const HEADERS: [&str; 3] = ["x-app-usage", "x-page-usage", "x-business-use-case-usage"];

/// Reads the usage headers; `None` when none is present or readable.
pub(crate) fn parse(headers: &HeaderMap) -> Option<Usage> {
    let mut seen = false;
    let mut usage = Usage::default();
    for name in HEADERS {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<Value>(value) else {
            tracing::debug!(header = name, "unreadable usage header ignored");
            continue;
        };
        seen = true;
        visit(&json, &mut usage);
    }
    seen.then_some(usage)
}

/// Walks the header JSON: a flat object (`X-App-Usage`) or an object of
/// lists of objects keyed by business id (`X-Business-Use-Case-Usage`).
fn visit(value: &Value, usage: &mut Usage) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match key.as_str() {
                    "call_count" | "total_time" | "total_cputime" | "acc_id_util_pct" => {
                        if let Some(p) = v.as_f64() {
                            let p = p.clamp(0.0, 255.0) as u8;
                            usage.percent = usage.percent.max(p);
                        }
                    }
                    "estimated_time_to_regain_access" => {
                        if let Some(minutes) = v.as_u64().filter(|m| *m > 0) {
                            let wait = Duration::from_secs(minutes.saturating_mul(60));
                            usage.regain_after =
                                Some(usage.regain_after.map_or(wait, |w| w.max(wait)));
                        }
                    }
                    _ => visit(v, usage),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| visit(v, usage)),
        _ => {}
    }
}

/// When the client may call again.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    pause_until: Option<DateTime<Utc>>,
    last: Option<Usage>,
}

impl Throttle {
    /// Records a response's usage; starts or extends a pause when the
    /// threshold is reached or Meta named a wait.
    pub(crate) fn observe(
        &mut self,
        usage: Usage,
        now: DateTime<Utc>,
        threshold: u8,
        slowdown: Duration,
    ) {
        self.last = Some(usage);
        let pause = match usage.regain_after {
            Some(wait) => Some(wait.max(slowdown)),
            None if usage.percent >= threshold => Some(slowdown),
            None => None,
        };
        if let Some(pause) = pause {
            self.pause_for(now, pause);
            tracing::warn!(
                percent = usage.percent,
                pause_secs = pause.as_secs(),
                "Graph API usage near its limit; pausing calls"
            );
        }
    }

    /// Pauses until `now + pause` unless already paused longer.
    pub(crate) fn pause_for(&mut self, now: DateTime<Utc>, pause: Duration) {
        let until = now + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::hours(1));
        if self.pause_until.is_none_or(|u| u < until) {
            self.pause_until = Some(until);
        }
    }

    /// The wait left before the next call, if any.
    pub(crate) fn wait(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.pause_until
            .filter(|u| *u > now)
            .and_then(|u| (u - now).to_std().ok())
    }

    /// The last usage seen.
    pub(crate) fn last(&self) -> Option<Usage> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn reads_the_highest_counter_and_the_regain_time() {
        // The header as Meta's Postman collection records it.
        let h = headers(&[
            (
                "x-business-use-case-usage",
                r#"{"106378625516323":[{"type":"messenger","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#,
            ),
            (
                "x-app-usage",
                r#"{"call_count":28,"total_time":93,"total_cputime":25}"#,
            ),
        ]);
        assert_eq!(
            parse(&h),
            Some(Usage {
                percent: 93,
                regain_after: None
            })
        );
        let h = headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"pages","call_count":100,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":7}]}"#,
        )]);
        assert_eq!(
            parse(&h),
            Some(Usage {
                percent: 100,
                regain_after: Some(Duration::from_secs(420))
            })
        );
        assert_eq!(parse(&headers(&[("x-app-usage", "not json")])), None);
        assert_eq!(parse(&HeaderMap::new()), None);
    }

    #[test]
    fn pauses_at_the_threshold_and_for_metas_wait() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut t = Throttle::default();
        t.observe(
            Usage {
                percent: 50,
                regain_after: None,
            },
            now,
            90,
            Duration::from_secs(60),
        );
        assert_eq!(t.wait(now), None);
        t.observe(
            Usage {
                percent: 91,
                regain_after: None,
            },
            now,
            90,
            Duration::from_secs(60),
        );
        assert_eq!(t.wait(now), Some(Duration::from_secs(60)));
        t.observe(
            Usage {
                percent: 100,
                regain_after: Some(Duration::from_secs(300)),
            },
            now,
            90,
            Duration::from_secs(60),
        );
        assert_eq!(
            t.wait(now + chrono::Duration::seconds(100)),
            Some(Duration::from_secs(200))
        );
        assert_eq!(t.wait(now + chrono::Duration::seconds(300)), None);
    }
}
