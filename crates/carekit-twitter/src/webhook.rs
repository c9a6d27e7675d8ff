//! Account Activity API intake as an axum `Router`: the CRC challenge, a
//! signature check over the raw body (before any parsing), and
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

type HmacSha256 = Hmac<Sha256>;

/// How the webhook verifies and where it delivers. Secrets are redacted
/// from `Debug`.
#[derive(Clone)]
pub struct WebhookConfig {
    consumer_secret: SecretString,
    oauth2_client_secret: Option<SecretString>,
    accounts: Vec<String>,
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
            .field("accounts", &self.accounts)
            .field("body_limit", &self.body_limit)
            .field("parents", &self.parents)
            .finish()
    }
}

impl WebhookConfig {
    /// Verifies with the app's consumer secret (API key secret), which
    /// also answers the CRC challenge.
    pub fn new(consumer_secret: impl Into<String>) -> Self {
        Self {
            consumer_secret: SecretString::from(consumer_secret.into()),
            oauth2_client_secret: None,
            accounts: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            parents: None,
            clock: Arc::new(SystemClock),
        }
    }
    /// Also accepts `X-Twitter-Webhooks-Signature-OAuth2`, checked first.
    pub fn with_oauth2_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.oauth2_client_secret = Some(SecretString::from(secret.into()));
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

/// The CRC response token: `sha256=` + base64 HMAC-SHA256(consumer secret, token).
pub fn crc_response_token(consumer_secret: &str, crc_token: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(consumer_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(crc_token.as_bytes());
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
    match q.crc_token.filter(|t| !t.is_empty()) {
        Some(token) => Json(serde_json::json!({
            "response_token": crc_response_token(state.config.consumer_secret.expose_secret(), &token)
        }))
        .into_response(),
        None => (StatusCode::BAD_REQUEST, "missing crc_token").into_response(),
    }
}

/// Which check let a request through, or why none did.
enum Verdict {
    Valid,
    Missing,
    Forged,
}

fn verify(config: &WebhookConfig, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let oauth2 = header(OAUTH2_SIGNATURE_HEADER);
    let legacy = header(SIGNATURE_HEADER);
    if oauth2.is_none() && legacy.is_none() {
        return Verdict::Missing;
    }
    if let (Some(sig), Some(secret)) = (oauth2, &config.oauth2_client_secret)
        && verify_signature(secret.expose_secret(), body, sig)
    {
        return Verdict::Valid;
    }
    if let Some(sig) = legacy
        && verify_signature(config.consumer_secret.expose_secret(), body, sig)
    {
        return Verdict::Valid;
    }
    Verdict::Forged
}

async fn receive(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match verify(&state.config, &headers, &body) {
        Verdict::Valid => {}
        Verdict::Missing => {
            tracing::warn!("X webhook without a signature header: rejected");
            return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
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
