//! Account Activity API intake as an axum `Router`: the CRC challenge
//! (answered only for tokens shaped as X sends them), a signature check
//! over the raw body (before any parsing), and
//! `tweet_create_events` / `direct_message_events` / `tweet_delete_events`
//! turned into `InboundEvent`s for an [`EventSink`]. X gets a 2xx only once
//! the sink has durably taken the events; `Unavailable` answers 503 so X
//! redelivers.
//!
//! Mount it where X was told to deliver:
//! `app.nest("/webhooks/x", carekit_twitter::webhook::router(config, sink))`.

use std::collections::HashMap;
use std::sync::Arc;

pub use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use carekit_core::{Clock, EventSink, InboundEvent, IntakeError, SystemClock};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::ids::is_valid_id;
use crate::normalize;
use crate::parents::ParentResolver;
use crate::wire::{AaDeleteEvent, AaDmEvent, AaPayload, AaTweet};

/// The newer header, signed with the OAuth 2.0 client secret.
pub const OAUTH2_SIGNATURE_HEADER: &str = "x-twitter-webhooks-signature-oauth2";
/// The legacy header, signed with the consumer (API key) secret.
pub const SIGNATURE_HEADER: &str = "x-twitter-webhooks-signature";
/// Default body limit: Account Activity batches are small; 1 MiB is ample.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Longest `crc_token` the CRC route answers. X sends the base64 of a
/// UUID (48 characters) today; 128 leaves room for a longer random token
/// while refusing anything that could hold an Account Activity event.
pub const MAX_CRC_TOKEN_LEN: usize = 128;

type HmacSha256 = Hmac<Sha256>;

/// How the webhook verifies and where it delivers. Secrets are redacted
/// from `Debug`.
#[derive(Clone)]
pub struct WebhookConfig {
    consumer_secret: SecretString,
    oauth2_client_secret: Option<SecretString>,
    accounts: Vec<String>,
    accept_legacy_during_migration: bool,
    body_limit: usize,
    parents: Option<ParentResolver>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("consumer_secret", &"<redacted>")
            .field(
                "oauth2_client_secret",
                &self.oauth2_client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "accept_legacy_during_migration",
                &self.accept_legacy_during_migration,
            )
            .field("accounts", &self.accounts)
            .field("body_limit", &self.body_limit)
            .field("parents", &self.parents)
            .finish()
    }
}

impl WebhookConfig {
    /// Verifies with the app's consumer secret (API key secret), which
    /// also answers the CRC challenge. With no OAuth 2.0 client secret
    /// configured, the legacy `x-twitter-webhooks-signature` is the check.
    pub fn new(consumer_secret: impl Into<String>) -> Self {
        Self {
            consumer_secret: SecretString::from(consumer_secret.into()),
            oauth2_client_secret: None,
            accept_legacy_during_migration: false,
            accounts: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            parents: None,
            clock: Arc::new(SystemClock),
        }
    }
    /// Requires `X-Twitter-Webhooks-Signature-OAuth2`, signed with this
    /// OAuth 2.0 client secret, on every POST. A request carrying only the
    /// legacy `x-twitter-webhooks-signature` is then refused with 401 (and
    /// one whose OAuth2 signature is wrong with 403), unless
    /// [`accept_legacy_signature_during_migration`](Self::accept_legacy_signature_during_migration)
    /// is also set.
    pub fn with_oauth2_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.oauth2_client_secret = Some(SecretString::from(secret.into()));
        self
    }
    /// While moving to the OAuth2 signature: a POST whose OAuth2 header is
    /// missing or does not verify is still taken when its legacy header
    /// (consumer secret) verifies. The legacy signature is weaker: it is
    /// keyed with the same secret as the CRC answer, so keep this only
    /// until X sends the OAuth2 header, then remove it. Without an OAuth2
    /// client secret it changes nothing (the legacy header is the check).
    pub fn accept_legacy_signature_during_migration(mut self) -> Self {
        self.accept_legacy_during_migration = true;
        self
    }
    /// Takes events only for these brand user ids (`for_user_id`); by
    /// default every subscribed account is taken.
    pub fn with_account(mut self, user_id: impl Into<String>) -> Self {
        self.accounts.push(user_id.into());
        self
    }
    /// Largest body accepted; larger ones get 413 unread.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
    /// Fetches unknown parents of replies so they thread correctly
    /// (webhook tweets carry no conversation id).
    pub fn with_parent_resolver(mut self, resolver: ParentResolver) -> Self {
        self.parents = Some(resolver);
        self
    }
    /// The clock for events whose time X left out.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

struct AppState {
    config: WebhookConfig,
    sink: Arc<dyn EventSink>,
}

/// The webhook routes, at `/`: `GET ?crc_token=` and `POST`.
pub fn router(config: WebhookConfig, sink: Arc<dyn EventSink>) -> Router {
    let limit = config.body_limit;
    Router::new()
        .route("/", get(crc).post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(AppState { config, sink }))
}

/// Why the CRC route refuses a `crc_token` (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrcTokenError {
    /// No `crc_token`, or an empty one.
    #[error("crc_token is missing or empty")]
    Empty,
    /// Longer than [`MAX_CRC_TOKEN_LEN`].
    #[error("crc_token is {len} bytes long; at most {max} are answered")]
    TooLong {
        /// The token's length in bytes.
        len: usize,
        /// [`MAX_CRC_TOKEN_LEN`].
        max: usize,
    },
    /// A character outside the base64 / base64url alphabet, or `=` other
    /// than at most two at the end.
    #[error("crc_token is not base64 as X sends it")]
    NotBase64,
}

/// Checks that `crc_token` is shaped as X sends it: 1 to
/// [`MAX_CRC_TOKEN_LEN`] characters of the base64 or base64url alphabet
/// (`A-Z a-z 0-9 + / - _`) with at most two `=` of padding at the end.
///
/// The CRC answer is exactly the legacy `x-twitter-webhooks-signature` of a
/// POST whose body is the token, so a route that answered any token would
/// sign whatever JSON an attacker put in it. No JSON object can be written
/// in this alphabet, so no answer can sign an event.
pub fn check_crc_token(crc_token: &str) -> Result<(), CrcTokenError> {
    if crc_token.is_empty() {
        return Err(CrcTokenError::Empty);
    }
    if crc_token.len() > MAX_CRC_TOKEN_LEN {
        return Err(CrcTokenError::TooLong {
            len: crc_token.len(),
            max: MAX_CRC_TOKEN_LEN,
        });
    }
    let body = crc_token.trim_end_matches('=');
    let padding = crc_token.len() - body.len();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    if body.is_empty() || padding > 2 || !body.bytes().all(alphabet) {
        return Err(CrcTokenError::NotBase64);
    }
    Ok(())
}

/// The CRC response token, `sha256=` + base64 HMAC-SHA256(consumer secret,
/// token), for a token that passes [`check_crc_token`]; any other token is
/// refused, so an app answering the CRC on its own route cannot be made to
/// sign an event either.
pub fn crc_response_token(consumer_secret: &str, crc_token: &str) -> Result<String, CrcTokenError> {
    check_crc_token(crc_token)?;
    Ok(signature(consumer_secret, crc_token.as_bytes()))
}

/// The `x-twitter-webhooks-signature` X sends with `body`: `sha256=` +
/// base64 HMAC-SHA256(consumer secret, body). [`verify_signature`] checks
/// it; the `fake` feature signs its webhooks with it.
pub fn signature(consumer_secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(consumer_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    format!("sha256={}", BASE64.encode(mac.finalize().into_bytes()))
}

/// Checks a `sha256=<base64>` signature over `body`, in constant time.
pub fn verify_signature(secret: &str, body: &[u8], header_value: &str) -> bool {
    let Some(encoded) = header_value.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(signature) = BASE64.decode(encoded) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

#[derive(Deserialize)]
struct CrcQuery {
    crc_token: Option<String>,
}

async fn crc(State(state): State<Arc<AppState>>, Query(q): Query<CrcQuery>) -> Response {
    let token = q.crc_token.unwrap_or_default();
    match crc_response_token(state.config.consumer_secret.expose_secret(), &token) {
        Ok(answer) => Json(serde_json::json!({ "response_token": answer })).into_response(),
        Err(e) => {
            // The token itself is not logged: it is the caller's text.
            tracing::warn!(error = %e, len = token.len(), "X CRC request with a token X never sends: refused");
            (StatusCode::BAD_REQUEST, "bad crc_token").into_response()
        }
    }
}

/// Which check let a request through, or why none did.
enum Verdict {
    Valid,
    /// No signature header at all.
    Missing,
    /// Only the legacy header, while the OAuth2 one is required.
    OAuth2Required,
    Forged,
}

fn verify(config: &WebhookConfig, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let oauth2 = header(OAUTH2_SIGNATURE_HEADER);
    let legacy = header(SIGNATURE_HEADER);
    if oauth2.is_none() && legacy.is_none() {
        return Verdict::Missing;
    }
    let legacy_valid = || {
        legacy
            .is_some_and(|sig| verify_signature(config.consumer_secret.expose_secret(), body, sig))
    };
    let Some(secret) = &config.oauth2_client_secret else {
        // No OAuth2 secret: the legacy header is the only check.
        return if legacy_valid() {
            Verdict::Valid
        } else {
            Verdict::Forged
        };
    };
    if oauth2.is_some_and(|sig| verify_signature(secret.expose_secret(), body, sig)) {
        return Verdict::Valid;
    }
    if config.accept_legacy_during_migration {
        if legacy_valid() {
            tracing::debug!("X webhook taken on its legacy signature (migration allowed)");
            return Verdict::Valid;
        }
        return Verdict::Forged;
    }
    if oauth2.is_none() {
        Verdict::OAuth2Required
    } else {
        Verdict::Forged
    }
}

async fn receive(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match verify(&state.config, &headers, &body) {
        Verdict::Valid => {}
        Verdict::Missing => {
            tracing::warn!("X webhook without a signature header: rejected");
            return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
        }
        Verdict::OAuth2Required => {
            tracing::warn!(
                "X webhook without the OAuth2 signature while an OAuth2 client secret is \
                 configured: rejected (the legacy header alone is not accepted unless \
                 accept_legacy_signature_during_migration is set)"
            );
            return (StatusCode::UNAUTHORIZED, "oauth2 signature required").into_response();
        }
        Verdict::Forged => {
            tracing::warn!("X webhook with a bad signature: rejected");
            return (StatusCode::FORBIDDEN, "bad signature").into_response();
        }
    }
    let payload: AaPayload = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "X webhook body is not an Account Activity payload");
            return (StatusCode::BAD_REQUEST, "malformed payload").into_response();
        }
    };
    let brand = payload.for_user_id.as_str();
    if !is_valid_id(brand) {
        return (StatusCode::BAD_REQUEST, "malformed for_user_id").into_response();
    }
    if !state.config.accounts.is_empty() && !state.config.accounts.iter().any(|a| a == brand) {
        tracing::warn!(
            for_user_id = brand,
            "X webhook for an account this desk does not serve: ignored"
        );
        return StatusCode::OK.into_response();
    }
    let events = normalise(&state.config, &payload).await;
    deliver(&*state.sink, events).await
}

/// Payload → events in delivery order (fetched ancestors before replies).
async fn normalise(config: &WebhookConfig, payload: &AaPayload) -> Vec<InboundEvent> {
    let brand = payload.for_user_id.as_str();
    let now = config.clock.now();
    for key in payload.other.keys() {
        if key != "apps" && key != "source" {
            tracing::debug!(kind = %key, "skipping X webhook event type carekit does not use");
        }
    }
    let mut out = Vec::new();
    for raw in &payload.tweet_create_events {
        let tweet: AaTweet = match serde_json::from_value(raw.clone()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "skipping malformed tweet_create_event");
                continue;
            }
        };
        let Some(mut event) = normalize::webhook_tweet(&tweet, brand, now) else {
            continue;
        };
        if let Some(resolver) = &config.parents
            && !event.thread.parents.is_empty()
        {
            out.extend(resolver.resolve(&mut event, &HashMap::new()).await);
        }
        out.push(event);
    }
    for raw in &payload.direct_message_events {
        match serde_json::from_value::<AaDmEvent>(raw.clone()) {
            Ok(dm) => out.extend(normalize::webhook_dm(&dm, &payload.users, brand, now)),
            Err(e) => tracing::warn!(error = %e, "skipping malformed direct_message_event"),
        }
    }
    for raw in &payload.tweet_delete_events {
        match serde_json::from_value::<AaDeleteEvent>(raw.clone()) {
            Ok(d) => out.extend(normalize::webhook_delete(&d, brand, now)),
            Err(e) => tracing::warn!(error = %e, "skipping malformed tweet_delete_event"),
        }
    }
    out
}

async fn deliver(sink: &dyn EventSink, events: Vec<InboundEvent>) -> Response {
    for event in events {
        let id = event.external_id.clone();
        match sink.accept(event).await {
            Ok(()) => {}
            Err(IntakeError::Rejected(reason)) => {
                // Redelivery cannot fix it; keep the rest of the batch.
                tracing::warn!(external_id = %id, %reason, "sink rejected an X event");
            }
            Err(e) => {
                tracing::warn!(external_id = %id, error = %e, "sink unavailable; X will redeliver");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    }
    StatusCode::OK.into_response()
}

/// Serves `router` on `listener` until `shutdown` completes, for apps with
/// no HTTP server of their own (others mount [`router`] in theirs).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
