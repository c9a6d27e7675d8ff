//! An axum route for providers that POST inbound mail as raw RFC 5322
//! (`Content-Type: message/rfc822`). Guarded by a shared secret header
//! (compared in constant time) unless the app guards the route itself, with
//! a body limit. Answers 2xx only after the sink stored the event, so the
//! provider retries anything not stored.

use crate::error::EmailError;
use crate::intake::{EmailIntake, IntakeOutcome};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use http::{HeaderMap, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Who may POST mail.
#[derive(Clone)]
#[non_exhaustive]
pub enum RouteGuard {
    /// Requests must carry `header: secret`.
    SharedSecret {
        /// Header name, e.g. `x-carekit-secret`.
        header: String,
        /// The expected value.
        secret: SecretString,
    },
    /// The app authenticates the route itself (mTLS, a gateway, ...). Named
    /// so the unguarded choice is visible in code review.
    GuardedByApp,
}

impl std::fmt::Debug for RouteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteGuard::SharedSecret { header, .. } => f
                .debug_struct("SharedSecret")
                .field("header", header)
                .field("secret", &"[redacted]")
                .finish(),
            RouteGuard::GuardedByApp => f.write_str("GuardedByApp"),
        }
    }
}

impl RouteGuard {
    /// A shared secret in the `x-carekit-secret` header.
    pub fn shared_secret(secret: impl Into<String>) -> Self {
        RouteGuard::SharedSecret {
            header: "x-carekit-secret".into(),
            secret: SecretString::from(secret.into()),
        }
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        match self {
            RouteGuard::GuardedByApp => true,
            RouteGuard::SharedSecret { header, secret } => {
                headers.get(header.as_str()).is_some_and(|got| {
                    bool::from(got.as_bytes().ct_eq(secret.expose_secret().as_bytes()))
                })
            }
        }
    }
}

struct RouteState {
    intake: Arc<EmailIntake>,
    guard: RouteGuard,
}

/// A router with `POST /` accepting one raw message per request; mount it
/// with `Router::nest("/inbound/email", ...)`. The body limit is the
/// intake's message limit.
///
/// Statuses: 202 stored (or a recognised duplicate, or deliberately
/// skipped), 401 wrong secret, 413 too large, 415 not `message/rfc822`,
/// 422 not a usable message, 503 store/sink unavailable (retry).
pub fn raw_mail_router(intake: Arc<EmailIntake>, guard: RouteGuard) -> Router {
    let limit = intake.max_message_bytes();
    Router::new()
        .route("/", post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(RouteState { intake, guard }))
}

async fn receive(
    State(state): State<Arc<RouteState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if !state.guard.allows(&headers) {
        tracing::warn!("email route: missing or wrong shared secret");
        return (StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let is_rfc822 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("message/rfc822"));
    if !is_rfc822 {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected message/rfc822",
        );
    }
    match state.intake.ingest_raw(&body).await {
        Ok(
            IntakeOutcome::Accepted { .. }
            | IntakeOutcome::Echo { .. }
            | IntakeOutcome::Bounce { .. },
        ) => (StatusCode::ACCEPTED, "stored"),
        Ok(IntakeOutcome::Skipped { .. }) => (StatusCode::ACCEPTED, "skipped"),
        Err(EmailError::TooLarge { .. }) => (StatusCode::PAYLOAD_TOO_LARGE, "message too large"),
        Err(e) if e.is_retryable() => {
            tracing::warn!(error = %e, "email route: could not store; asking the sender to retry");
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
        }
        Err(e) => {
            tracing::info!(error = %e, "email route: refused message");
            (StatusCode::UNPROCESSABLE_ENTITY, "not a usable message")
        }
    }
}
