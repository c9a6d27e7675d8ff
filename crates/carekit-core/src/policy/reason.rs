//! Why a conversation was escalated: an open code and its details.
//!
//! Core knows no particular reason. Each policy crate names its own codes
//! (`carekit_policy::reasons`, the crisis detector's `spike`), and an app's
//! policy adds its own the same way; reports and metrics group by the code.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why a conversation was escalated: a short machine-readable code
/// (`"sla_breach"`, `"crisis_term"`, an app's `"chargeback"`) and details
/// (`{"term": "lawyer"}`).
///
/// Stored and sent as one JSON object, `{"reason": code, ...details}`; this
/// is the shape every earlier version stored, so audit trails written
/// before reasons were open read back with the same codes (an old
/// `{"reason": "custom", "code": "x"}` reads as code `x`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct EscalationReason {
    code: String,
    details: Map<String, Value>,
}

impl EscalationReason {
    /// A reason with this code and no details. Codes are `snake_case` by
    /// convention; they become labels in reports and metrics, so keep
    /// their number small (a kind of reason, not a value).
    pub fn new(code: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            details: Map::new(),
        }
    }

    /// Adds a detail. A value that cannot be written as JSON (a map with
    /// non-string keys) is recorded as `null`.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.details.insert(key.into(), value);
        self
    }

    /// The code (`"sla_breach"`, `"crisis_term"`, ...), for reports and metrics.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Whether the code is this one.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    /// A detail read as `T`; `None` when absent or of another shape.
    pub fn detail<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.details.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// All details.
    pub fn details(&self) -> &Map<String, Value> {
        &self.details
    }
}

/// The stored shape: the code under `reason`, the details beside it.
#[derive(Serialize, Deserialize)]
struct Stored {
    reason: String,
    #[serde(flatten)]
    details: Map<String, Value>,
}

impl From<Stored> for EscalationReason {
    fn from(mut stored: Stored) -> Self {
        // Before codes were open, an app's reason was stored as
        // `{"reason": "custom", "code": "..."}`.
        if stored.reason == "custom"
            && let Some(Value::String(code)) = stored.details.remove("code")
        {
            stored.reason = code;
        }
        Self {
            code: stored.reason,
            details: stored.details,
        }
    }
}

impl From<EscalationReason> for Stored {
    fn from(reason: EscalationReason) -> Self {
        Self {
            reason: reason.code,
            details: reason.details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_shape_is_the_code_beside_its_details() {
        let reason = EscalationReason::new("crisis_term").with_detail("term", "lawyer");
        let json = serde_json::to_value(&reason).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"reason": "crisis_term", "term": "lawyer"})
        );
        let back: EscalationReason = serde_json::from_value(json).unwrap();
        assert_eq!(back, reason);
        assert_eq!(back.detail::<String>("term").as_deref(), Some("lawyer"));
        assert_eq!(back.detail::<u64>("term"), None);
    }

    #[test]
    fn reasons_stored_by_0_1_keep_their_codes() {
        let vip: EscalationReason = serde_json::from_str(r#"{"reason":"vip"}"#).unwrap();
        assert_eq!(vip.code(), "vip");
        let custom: EscalationReason =
            serde_json::from_str(r#"{"reason":"custom","code":"unsupported_language"}"#).unwrap();
        assert_eq!(custom.code(), "unsupported_language");
        assert!(custom.details().is_empty());
        let breach: EscalationReason = serde_json::from_str(
            r#"{"reason":"sla_breach","metric":"first_response","due":"2026-03-02T10:00:00Z"}"#,
        )
        .unwrap();
        assert!(breach.is("sla_breach"));
        assert_eq!(
            breach.detail::<String>("metric").as_deref(),
            Some("first_response")
        );
    }

    #[test]
    fn a_reason_without_a_code_is_refused() {
        assert!(serde_json::from_str::<EscalationReason>(r#"{"term":"x"}"#).is_err());
    }
}
