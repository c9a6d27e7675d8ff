//! The escalation reasons of carekit's built-in policies: their codes and
//! how each is built, so reports, metrics and apps read them by name.

use carekit_core::{EscalationReason, SlaMetric};
use chrono::{DateTime, Utc};

/// An SLA target is about to be missed (details `metric`, `due`).
pub const SLA_WARNING: &str = "sla_warning";
/// An SLA target was missed (details `metric`, `due`).
pub const SLA_BREACH: &str = "sla_breach";
/// The customer is angry (detail `score`, in [-1, 1]).
pub const NEGATIVE_SENTIMENT: &str = "negative_sentiment";
/// A crisis term appeared (detail `term`).
pub const CRISIS_TERM: &str = "crisis_term";
/// The customer wrote again and again without an answer (detail `count`).
pub const REPEATED_CONTACT: &str = "repeated_contact";
/// The author has a large audience (detail `followers`).
pub const AUDIENCE: &str = "audience";
/// The customer is on the VIP list.
pub const VIP: &str = "vip";
/// A negative message in public (detail `score`).
pub const PUBLIC_NEGATIVE: &str = "public_negative";
/// Written in a language the classifiers do not read (detail `language`
/// when one was detected).
pub const UNSUPPORTED_LANGUAGE: &str = "unsupported_language";

/// `sla_warning`: `metric` is due at `due`.
pub fn sla_warning(metric: SlaMetric, due: DateTime<Utc>) -> EscalationReason {
    EscalationReason::new(SLA_WARNING)
        .with_detail("metric", metric)
        .with_detail("due", due)
}

/// `sla_breach`: `metric` was due at `due`.
pub fn sla_breach(metric: SlaMetric, due: DateTime<Utc>) -> EscalationReason {
    EscalationReason::new(SLA_BREACH)
        .with_detail("metric", metric)
        .with_detail("due", due)
}

/// `negative_sentiment` with its score.
pub fn negative_sentiment(score: f32) -> EscalationReason {
    EscalationReason::new(NEGATIVE_SENTIMENT).with_detail("score", score)
}

/// `crisis_term` with the term matched.
pub fn crisis_term(term: impl Into<String>) -> EscalationReason {
    EscalationReason::new(CRISIS_TERM).with_detail("term", term.into())
}

/// `repeated_contact`: customer messages since the last brand reply.
pub fn repeated_contact(count: usize) -> EscalationReason {
    EscalationReason::new(REPEATED_CONTACT).with_detail("count", count)
}

/// `audience` with the author's followers.
pub fn audience(followers: u64) -> EscalationReason {
    EscalationReason::new(AUDIENCE).with_detail("followers", followers)
}

/// `vip`.
pub fn vip() -> EscalationReason {
    EscalationReason::new(VIP)
}

/// `public_negative` with its score.
pub fn public_negative(score: f32) -> EscalationReason {
    EscalationReason::new(PUBLIC_NEGATIVE).with_detail("score", score)
}

/// `unsupported_language`, with the language when one was detected.
pub fn unsupported_language(language: Option<&str>) -> EscalationReason {
    let reason = EscalationReason::new(UNSUPPORTED_LANGUAGE);
    match language {
        Some(language) => reason.with_detail("language", language),
        None => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_reasons_keep_the_codes_and_shapes_stored_before() {
        let due: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        assert_eq!(
            serde_json::to_value(sla_breach(SlaMetric::FirstResponse, due)).unwrap(),
            serde_json::json!({"reason": "sla_breach", "metric": "first_response", "due": "2026-03-02T10:00:00Z"})
        );
        assert_eq!(
            serde_json::to_value(crisis_term("lawyer")).unwrap(),
            serde_json::json!({"reason": "crisis_term", "term": "lawyer"})
        );
        assert_eq!(
            serde_json::to_value(vip()).unwrap(),
            serde_json::json!({"reason": "vip"})
        );
        assert_eq!(repeated_contact(3).detail::<usize>("count"), Some(3));
        assert_eq!(audience(50_000).detail::<u64>("followers"), Some(50_000));
        let score = negative_sentiment(-0.75).detail::<f32>("score").unwrap();
        assert!((score + 0.75).abs() < 1e-6);
    }
}
