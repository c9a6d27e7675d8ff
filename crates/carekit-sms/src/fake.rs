//! A local fake of Twilio's Messages API and signed inbound-SMS webhooks,
//! for tests and demos without credentials (feature `fake`).
//!
//! [`FakeTwilio`] serves, on 127.0.0.1,
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (answering 201
//! with a message SID of its own, `SM` + 32 digits, as Twilio does; 400
//! with code 21604 without `To` or `Body`) and `GET` of the same path (the
//! messages sent, newest first, filtered by `To`), as crash reconciliation
//! reads it. It records every request and what it accepted in a
//! [`Ledger`], refuses requests without `Authorization` with a 401, and
//! injects the ledger's faults (500, 503, a code-20429 429, an accepted
//! send whose answer is lost, an answer that comes late).
//!
//! [`Webhooks`] builds inbound-SMS form posts signed with
//! [`signature::compute`](crate::signature::compute), the code the webhook
//! router validates with.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use carekit_sms::fake::{FakeTwilio, Ledger, Webhooks};
//! let twilio = FakeTwilio::start(Ledger::default()).await?;
//! // Point a TwilioConfig's base_url at twilio.base_url(), send, then look:
//! println!("{:?}", twilio.ledger().delivered());
//! let hooks = Webhooks::new("auth-token", "https://desk.example.com", "+14155550100");
//! let webhook = hooks.sms("SM00000000000000000000000000000001", "+447700900123", "STOP");
//! assert_eq!(webhook.path, "/webhooks/twilio/sms");
//! # Ok(()) }
//! ```

use crate::signature::compute;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
pub use carekit_testing::fake_platform::{
    Delivered, FaultKind, Faults, Ledger, Platform, Received, SignedWebhook,
};
use carekit_testing::fake_platform::{FakeServer, Gate, has_authorization};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A message the fake sent: (sid, to, body).
type Sent = (String, String, String);

/// The running fake Twilio API. Clones share it; it lives as long as the
/// runtime.
#[derive(Clone, Debug)]
pub struct FakeTwilio {
    server: FakeServer,
    sent: Arc<Mutex<Vec<Sent>>>,
}

#[derive(Clone)]
struct TwilioState {
    ledger: Ledger,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl std::ops::Deref for FakeTwilio {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeTwilio {
    /// Starts the fake on a free port of 127.0.0.1, recording in `ledger`.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start(ledger: Ledger) -> std::io::Result<Self> {
        let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let routes = Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                post(send).get(list),
            )
            .with_state(TwilioState {
                ledger: ledger.clone(),
                sent: sent.clone(),
            });
        let gate = Gate {
            ledger: ledger.clone(),
            platform: Platform::Twilio,
            authorized: has_authorization,
            unauthorized_body: || json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
            rate_limited_body: || json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
            refused_body: || json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
        };
        let server = FakeServer::start(gate, routes).await?;
        Ok(Self { server, sent })
    }

    /// The SIDs it gave the messages it accepted, oldest first.
    pub fn sids(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(sid, _, _)| sid.clone())
            .collect()
    }
}

async fn send(State(state): State<TwilioState>, body: Bytes) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (Some(to), Some(text)) = (form.get("To"), form.get("Body")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": 21604, "message": "A 'To' phone number and a 'Body' are required.", "status": 400})),
        )
            .into_response();
    };
    let id = state
        .ledger
        .record(Platform::Twilio, "sms", to.clone(), text.clone());
    let sid = format!("SM{id:0>32}");
    state.sent.lock().unwrap_or_else(|p| p.into_inner()).push((
        sid.clone(),
        to.clone(),
        text.clone(),
    ));
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued", "to": to, "body": text, "num_segments": "1"})),
    )
        .into_response()
}

async fn list(
    State(state): State<TwilioState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let sent = state.sent.lock().unwrap_or_else(|p| p.into_inner());
    let messages: Vec<Value> = sent
        .iter()
        .rev()
        .filter(|(_, to, _)| q.get("To").is_none_or(|t| t == to))
        .take(50)
        .map(|(sid, to, body)| json!({"sid": sid, "to": to, "body": body, "status": "sent"}))
        .collect();
    Json(json!({"messages": messages}))
}

/// Builds Twilio's inbound-SMS webhooks to one number, signed with the
/// account's auth token. `Debug` shows no secret.
#[derive(Clone)]
pub struct Webhooks {
    auth_token: SecretString,
    public_url: String,
    number: String,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("public_url", &self.public_url)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Deliveries to `number`, for a desk reached at `public_url` (Twilio
    /// signs the full URL), signed with `auth_token`.
    pub fn new(
        auth_token: impl Into<String>,
        public_url: impl Into<String>,
        number: impl Into<String>,
    ) -> Self {
        Self {
            auth_token: SecretString::from(auth_token.into()),
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            number: number.into(),
        }
    }

    /// The inbound message `sid` from `from`, as Twilio posts it to
    /// `/webhooks/twilio/sms`.
    pub fn sms(&self, sid: &str, from: &str, text: &str) -> SignedWebhook {
        let params: Vec<(String, String)> = [
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("From", from),
            ("To", self.number.as_str()),
            ("Body", text),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        self.form("/webhooks/twilio/sms", params)
    }

    /// Any form `params` posted to `path` (a status callback, a forged
    /// field), signed as Twilio signs it.
    pub fn form(&self, path: &'static str, params: Vec<(String, String)>) -> SignedWebhook {
        let url = format!("{}{path}", self.public_url);
        SignedWebhook {
            path,
            headers: vec![
                (
                    "x-twilio-signature",
                    compute(self.auth_token.expose_secret(), &url, &params),
                ),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            body: serde_urlencoded::to_string(&params)
                .unwrap_or_default()
                .into_bytes(),
        }
    }
}
