//! The webhook route: Meta's verification handshake (GET) and signed event
//! POSTs, as an axum [`Router`] the host app mounts where it likes.
//!
//! A POST is verified over its raw bytes before anything is parsed, then
//! each normalised event goes to the [`EventSink`]. The route answers 200
//! only after the sink accepted every event; if the sink is unavailable it
//! answers 503 so Meta delivers the batch again (the desk dedupes what it
//! already stored).

use crate::config::FacebookConfig;
use crate::error::FacebookError;
use crate::normalize::parse_webhook;
use crate::signature::{LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER, verify};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use carekit_core::{Clock, EventSink, IntakeError};
use std::collections::HashMap;
use std::sync::Arc;

/// Longest `hub.challenge` echoed back (Meta sends a short number).
const MAX_CHALLENGE: usize = 256;

struct WebhookState {
    config: FacebookConfig,
    sink: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
}

/// The webhook router for `config`'s page, mounted at `/` (nest it under
/// the path registered with Meta). Bodies over the configured limit get 413.
pub fn router(config: FacebookConfig, sink: Arc<dyn EventSink>, clock: Arc<dyn Clock>) -> Router {
    let limit = config.body_limit();
    let state = Arc::new(WebhookState {
        config,
        sink,
        clock,
    });
    Router::new()
        .route("/", get(verify_subscription).post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

impl IntoResponse for FacebookError {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

async fn verify_subscription(
    State(state): State<Arc<WebhookState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match handshake(&state.config, &query) {
        Ok(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "facebook webhook verification refused");
            e.into_response()
        }
    }
}

fn handshake(
    config: &FacebookConfig,
    query: &HashMap<String, String>,
) -> Result<String, FacebookError> {
    if query.get("hub.mode").map(String::as_str) != Some("subscribe") {
        return Err(FacebookError::Verification(
            "hub.mode must be subscribe".into(),
        ));
    }
    let offered = query.get("hub.verify_token").map(String::as_bytes);
    let expected = config.verify_token().as_bytes();
    let matches = offered.is_some_and(|o| constant_time_eq(o, expected));
    if !matches {
        return Err(FacebookError::Verification(
            "hub.verify_token does not match".into(),
        ));
    }
    let challenge = query
        .get("hub.challenge")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE)
        .ok_or_else(|| FacebookError::Verification("hub.challenge missing or too long".into()))?;
    Ok(challenge.clone())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use hmac::Mac;
    // Compare MACs of both values under a fixed key: equal-length digests,
    // compared with `verify_slice`, leak neither length nor content.
    let digest = |v: &[u8]| {
        let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(b"carekit-verify-token") {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        };
        mac.update(v);
        mac
    };
    let b_digest = digest(b).finalize().into_bytes();
    digest(a).verify_slice(&b_digest).is_ok()
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    let legacy = headers.contains_key(LEGACY_SIGNATURE_HEADER);
    if let Err(e) = verify(state.config.app_secret(), signature, legacy, &body) {
        tracing::warn!(error = %e, "facebook webhook refused");
        return e.into_response();
    }
    let batch = match parse_webhook(&body, state.config.page_id(), state.clock.now()) {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(error = %e, bytes = body.len(), "facebook webhook body unreadable");
            return e.into_response();
        }
    };
    let total = batch.events.len();
    let mut rejected = 0usize;
    for event in batch.events {
        let external_id = event.external_id.clone();
        match state.sink.accept(event).await {
            Ok(()) => {}
            Err(IntakeError::Rejected(reason)) => {
                // Retrying the same event fails again: log it, keep going, and
                // still answer 200 so Meta does not disable the subscription.
                rejected += 1;
                tracing::warn!(%external_id, %reason, "facebook event rejected by the desk");
            }
            Err(e) => {
                tracing::warn!(%external_id, error = %e, "desk unavailable; asking Meta to retry");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response();
            }
        }
    }
    tracing::debug!(
        accepted = total - rejected,
        rejected,
        skipped = batch.skipped.len(),
        "facebook webhook processed"
    );
    (StatusCode::OK, "EVENT_RECEIVED").into_response()
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
