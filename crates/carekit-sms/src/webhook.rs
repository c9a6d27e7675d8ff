//! Twilio webhooks: inbound messages (`POST /`) and status callbacks
//! (`POST /status`), as an axum [`Router`] the app mounts where Twilio
//! posts (for example under `/webhooks/twilio/sms`).
//!
//! Every request is checked against `X-Twilio-Signature` using the
//! configured public origin plus the request's own path and query, so it
//! works behind TLS terminators and load balancers. A request answers 2xx
//! only after the desk has stored what it carried.

use crate::{SmsError, normalize, signature};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use carekit_core::{
    Attachment, ChannelKind, DeliveryState, EventKind, EventSink, Identity, InboundEvent,
    IntakeError, Visibility,
};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

const STOP_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const START_WORDS: [&str; 3] = ["START", "YES", "UNSTOP"];
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// Webhook settings. Build with [`WebhookConfig::builder`].
#[derive(Clone)]
pub struct WebhookConfig {
    auth_token: SecretString,
    public_origin: String,
    help_text: Option<String>,
    region: Option<String>,
    max_body: usize,
    verify: bool,
    clock: Arc<dyn carekit_core::Clock>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("auth_token", &"[redacted]")
            .field("public_origin", &self.public_origin)
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WebhookConfig`].
#[derive(Debug)]
pub struct WebhookConfigBuilder {
    config: WebhookConfig,
}

impl WebhookConfig {
    /// `public_origin` is the scheme, host and port Twilio calls
    /// (`https://desk.example.com`); the request's path and query are
    /// appended to it for signature checks.
    pub fn builder(
        auth_token: impl Into<String>,
        public_origin: impl Into<String>,
    ) -> WebhookConfigBuilder {
        WebhookConfigBuilder {
            config: WebhookConfig {
                auth_token: SecretString::from(auth_token.into()),
                public_origin: public_origin.into().trim_end_matches('/').to_owned(),
                help_text: None,
                region: None,
                max_body: 64 * 1024,
                verify: true,
                clock: Arc::new(carekit_core::SystemClock),
            },
        }
    }
}

impl WebhookConfigBuilder {
    /// The answer to HELP.
    pub fn help_text(mut self, text: impl Into<String>) -> Self {
        self.config.help_text = Some(text.into());
        self
    }
    /// Region for national-format numbers.
    pub fn default_region(mut self, region: impl Into<String>) -> Self {
        self.config.region = Some(region.into());
        self
    }
    /// Largest accepted body in bytes (default 64 KiB; Twilio's are far smaller).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.config.max_body = bytes;
        self
    }
    /// The clock stamping events (Twilio's inbound webhooks carry no time).
    pub fn clock(mut self, clock: Arc<dyn carekit_core::Clock>) -> Self {
        self.config.clock = clock;
        self
    }
    /// Turns signature checks off. Only for local experiments: anyone can
    /// then post messages into the desk.
    pub fn insecure_skip_signature_check(mut self) -> Self {
        self.config.verify = false;
        self
    }
    /// Finishes.
    pub fn build(self) -> WebhookConfig {
        self.config
    }
}

#[derive(Clone)]
struct AppState {
    config: WebhookConfig,
    sink: Arc<dyn EventSink>,
}

/// The webhook routes: `POST /` for messages, `POST /status` for status callbacks.
pub fn router(config: WebhookConfig, sink: Arc<dyn EventSink>) -> Router {
    let limit = config.max_body;
    Router::new()
        .route("/", post(inbound))
        .route("/status", post(status))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(AppState { config, sink })
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn reject(status: StatusCode, err: &SmsError) -> Response {
    tracing::warn!(error = %err, "twilio webhook rejected");
    (status, err.to_string()).into_response()
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Reads and authenticates a webhook: form body, then signature.
fn authenticate(
    state: &AppState,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<(String, String)>, (StatusCode, SmsError)> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            SmsError::NotForm("wrong Content-Type".into()),
        ));
    }
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, SmsError::NotForm(e.to_string())))?;
    if state.config.verify {
        let signature = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or((StatusCode::FORBIDDEN, SmsError::MissingSignature))?;
        let path = uri.0.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{}", state.config.public_origin, path);
        if !signature::validate(
            state.config.auth_token.expose_secret(),
            &url,
            &params,
            signature,
        ) {
            return Err((StatusCode::FORBIDDEN, SmsError::BadSignature));
        }
    }
    Ok(params)
}

async fn deliver(sink: &Arc<dyn EventSink>, events: Vec<InboundEvent>) -> Result<(), Response> {
    match sink.accept_all(events).await {
        Ok(()) => Ok(()),
        Err(IntakeError::Rejected(reason)) => {
            Err((StatusCode::BAD_REQUEST, reason).into_response())
        }
        Err(e) => {
            tracing::warn!(error = %e, "desk could not store the SMS; Twilio will retry");
            Err((StatusCode::SERVICE_UNAVAILABLE, "try again").into_response())
        }
    }
}

/// Turns an inbound message webhook into events (the message, and a consent
/// change for STOP/START words). Also returns whether it asked for HELP.
pub fn parse_inbound(
    params: &[(String, String)],
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Vec<InboundEvent>, bool), SmsError> {
    let sid = field(params, "MessageSid")
        .or_else(|| field(params, "SmsSid"))
        .filter(|s| !s.is_empty())
        .ok_or(SmsError::MissingField("MessageSid"))?;
    let from = normalize(
        field(params, "From").ok_or(SmsError::MissingField("From"))?,
        region,
    )?;
    let to = normalize(
        field(params, "To").ok_or(SmsError::MissingField("To"))?,
        region,
    )?;
    let body = field(params, "Body").unwrap_or_default();
    let media = field(params, "NumMedia")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(10);
    let mut event = InboundEvent::message(
        ChannelKind::Sms,
        Visibility::Private,
        sid,
        Identity::new(ChannelKind::Sms, from.clone()),
        body,
        now,
    )
    .with_account(to.clone())
    .with_thread_key(format!("{to}:{from}"));
    for i in 0..media {
        event = event.with_attachment(Attachment {
            name: None,
            content_type: field(params, &format!("MediaContentType{i}")).map(str::to_owned),
            url: field(params, &format!("MediaUrl{i}")).map(str::to_owned),
            size: None,
        });
    }
    let keyword = body
        .trim()
        .trim_end_matches(['.', '!'])
        .to_ascii_uppercase();
    let consent = if STOP_WORDS.contains(&keyword.as_str()) {
        Some(false)
    } else if START_WORDS.contains(&keyword.as_str()) {
        Some(true)
    } else {
        None
    };
    let mut events = vec![event.clone()];
    if let Some(opted_in) = consent {
        events.push(
            event
                .without_auto_reply()
                .with_kind(EventKind::Consent { opted_in })
                .with_external(format!("{sid}:consent")),
        );
    }
    if consent == Some(false) {
        events[0] = events[0].clone().without_auto_reply();
    }
    Ok((events, keyword == "HELP" || keyword == "INFO"))
}

trait WithExternal {
    fn with_external(self, id: String) -> Self;
}

impl WithExternal for InboundEvent {
    fn with_external(mut self, id: String) -> Self {
        self.external_id = id;
        self
    }
}

async fn inbound(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match authenticate(&state, &uri, &headers, &body) {
        Ok(p) => p,
        Err((status, err)) => return reject(status, &err),
    };
    let (events, help) = match parse_inbound(
        &params,
        state.config.region.as_deref(),
        state.config.clock.now(),
    ) {
        Ok(parsed) => parsed,
        Err(e) => return reject(StatusCode::BAD_REQUEST, &e),
    };
    if let Err(response) = deliver(&state.sink, events).await {
        return response;
    }
    match (&state.config.help_text, help) {
        (Some(text), true) => twiml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            escape_xml(text)
        )),
        _ => twiml(EMPTY_TWIML.to_owned()),
    }
}

/// Maps Twilio's `MessageStatus` to a delivery state.
pub fn delivery_state(status: &str) -> Option<DeliveryState> {
    Some(match status {
        "accepted" | "scheduled" | "queued" => DeliveryState::Queued,
        "sending" => DeliveryState::Sending,
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "undelivered" | "failed" | "canceled" => DeliveryState::Failed,
        _ => return None,
    })
}

/// Turns a status callback into a delivery event.
pub fn parse_status(
    params: &[(String, String)],
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<InboundEvent>, SmsError> {
    let sid = field(params, "MessageSid")
        .or_else(|| field(params, "SmsSid"))
        .filter(|s| !s.is_empty())
        .ok_or(SmsError::MissingField("MessageSid"))?;
    let status = field(params, "MessageStatus")
        .or_else(|| field(params, "SmsStatus"))
        .ok_or(SmsError::MissingField("MessageStatus"))?;
    let Some(state) = delivery_state(status) else {
        tracing::info!(status, "unknown Twilio message status; skipped");
        return Ok(None);
    };
    let to = field(params, "To")
        .map(|t| normalize(t, region))
        .transpose()?
        .unwrap_or_default();
    let error = field(params, "ErrorCode")
        .filter(|c| !c.is_empty())
        .map(|c| format!("twilio error {c}"));
    Ok(Some(
        InboundEvent::message(
            ChannelKind::Sms,
            Visibility::Private,
            format!("{sid}:status:{status}"),
            Identity::new(ChannelKind::Sms, to),
            "",
            now,
        )
        .with_kind(EventKind::Delivery {
            provider_id: sid.to_owned(),
            state,
            error,
        }),
    ))
}

async fn status(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match authenticate(&state, &uri, &headers, &body) {
        Ok(p) => p,
        Err((status, err)) => return reject(status, &err),
    };
    let event = match parse_status(
        &params,
        state.config.region.as_deref(),
        state.config.clock.now(),
    ) {
        Ok(event) => event,
        Err(e) => return reject(StatusCode::BAD_REQUEST, &e),
    };
    if let Err(response) = deliver(&state.sink, event.into_iter().collect()).await {
        return response;
    }
    twiml(EMPTY_TWIML.to_owned())
}
