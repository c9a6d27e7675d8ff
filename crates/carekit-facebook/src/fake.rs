//! A local fake of the Graph API and signed page webhooks, for tests and
//! demos without credentials (feature `fake`).
//!
//! [`FakeGraph`] serves, on 127.0.0.1, what the channel calls: Send API
//! `POST /{version}/{page}/messages` (Messenger and private replies),
//! `POST /{version}/{id}/comments`, hiding with `POST /{version}/{id}`,
//! and the listings crash reconciliation reads (`GET …/conversations`,
//! `GET …/{id}/comments`, 100 a page with an `after` cursor), in the
//! Graph API's documented shapes, with JSON or form bodies. It records
//! every request and what it accepted in a [`Ledger`], refuses requests
//! without a token (header or `access_token=`) with a 401, and injects the
//! ledger's faults (500, 503, a code-4 429, an accepted write whose answer
//! is lost, an answer that comes late).
//!
//! [`Webhooks`] builds page `feed` comments and Messenger messages signed
//! with [`signature::sign`](crate::signature::sign), the same HMAC
//! the webhook router verifies with.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use carekit_facebook::fake::{FakeGraph, Ledger, Webhooks};
//! let graph = FakeGraph::start(Ledger::default(), "1234567890").await?;
//! // Point a FacebookConfig's base_url at graph.base_url(), send, then look:
//! println!("{:?}", graph.ledger().delivered());
//! let webhook = Webhooks::new("app-secret", "1234567890").messenger("m_1", "6000000000000001", "hi", 1_772_442_000_000);
//! assert_eq!(webhook.path, "/webhooks/facebook");
//! # Ok(()) }
//! ```

use crate::signature::sign;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
pub use carekit_testing::fake_platform::{
    Delivered, FaultKind, Faults, Ledger, Platform, Received, SignedWebhook,
};
use carekit_testing::fake_platform::{FakeServer, Gate, has_authorization};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The running fake Graph API, answering as one page. Clones share it; it
/// lives as long as the runtime.
#[derive(Clone, Debug)]
pub struct FakeGraph {
    server: FakeServer,
}

#[derive(Clone)]
struct GraphState {
    ledger: Ledger,
    page_id: String,
}

impl std::ops::Deref for FakeGraph {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeGraph {
    /// Starts the fake for page `page_id` on a free port of 127.0.0.1,
    /// recording in `ledger`.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start(ledger: Ledger, page_id: impl Into<String>) -> std::io::Result<Self> {
        let state = GraphState {
            ledger: ledger.clone(),
            page_id: page_id.into(),
        };
        let routes = Router::new()
            .route("/{version}/{page}/messages", post(send))
            .route("/{version}/{page}/conversations", get(threads))
            .route("/{version}/{id}/comments", post(comment).get(comments))
            .route("/{version}/{id}", post(hide).get(object))
            .with_state(state);
        let gate = Gate {
            ledger: ledger.clone(),
            platform: Platform::Graph,
            authorized: has_token,
            unauthorized_body: || json!({"error": {"message": "Error validating access token: The user has not authorized application.", "type": "OAuthException", "code": 190}}),
            rate_limited_body: || json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}}),
            refused_body: || json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "fbtrace_id": "AbCdEfGh"}}),
        };
        let server = FakeServer::start(gate, routes).await?;
        Ok(Self { server })
    }
}

/// A page token in the `Authorization` header or the query.
fn has_token(request: &Request) -> bool {
    has_authorization(request)
        || request
            .uri()
            .query()
            .is_some_and(|q| q.contains("access_token="))
}

/// Graph accepts JSON or form bodies.
fn graph_body(headers: &HeaderMap, body: &Bytes) -> Value {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        return serde_json::from_slice(body).unwrap_or_default();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut out = serde_json::Map::new();
    for (k, v) in form {
        let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
        out.insert(k, value);
    }
    Value::Object(out)
}

async fn send(State(state): State<GraphState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = graph_body(&headers, &body);
    let text = body["message"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (kind, recipient) = match (
        body["recipient"]["comment_id"].as_str(),
        body["recipient"]["id"].as_str(),
    ) {
        (Some(comment), _) => ("private_reply", comment.to_owned()),
        (None, Some(psid)) => ("messenger", psid.to_owned()),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": "(#100) The parameter recipient is required", "type": "OAuthException", "code": 100}})),
            )
                .into_response();
        }
    };
    let id = state
        .ledger
        .record(Platform::Graph, kind, recipient.clone(), text);
    Json(json!({"recipient_id": recipient, "message_id": format!("m_{id}")})).into_response()
}

async fn comment(
    State(state): State<GraphState>,
    Path((_version, comment)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = graph_body(&headers, &body);
    let text = body["message"].as_str().unwrap_or_default().to_owned();
    let id = state
        .ledger
        .record(Platform::Graph, "comment_reply", comment.clone(), text);
    Json(json!({"id": format!("{comment}_{id}")}))
}

/// The page's deliveries of `kind` to `recipient`, newest first.
fn sent_to(state: &GraphState, kind: &str, recipient: &str) -> Vec<Delivered> {
    state
        .ledger
        .delivered()
        .into_iter()
        .rev()
        .filter(|d| d.platform == Platform::Graph && d.kind == kind && d.recipient == recipient)
        .collect()
}

/// `GET /{page}/conversations?user_id=…`: the page's Messenger thread with
/// one customer, its latest 25 messages from the page, newest first.
async fn threads(
    State(state): State<GraphState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let psid = q.get("user_id").cloned().unwrap_or_default();
    let messages: Vec<Value> = sent_to(&state, "messenger", &psid)
        .iter()
        .take(25)
        .map(|d| json!({"id": format!("m_{}", d.id), "message": d.text, "from": {"id": state.page_id, "name": "Acme"}}))
        .collect();
    Json(json!({"data": [{"id": format!("t_{psid}"), "messages": {"data": messages}}]}))
}

/// `GET /{object}/comments`: the page's replies under `object`, newest
/// first, 100 a page with an `after` cursor (as the Graph API pages).
async fn comments(
    State(state): State<GraphState>,
    Path((_version, object)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let offset: usize = q.get("after").and_then(|t| t.parse().ok()).unwrap_or(0);
    let mine = sent_to(&state, "comment_reply", &object);
    let data: Vec<Value> = mine
        .iter()
        .skip(offset)
        .take(100)
        .map(|d| {
            json!({"id": format!("{object}_{}", d.id), "message": d.text, "from": {"id": state.page_id, "name": "Acme"}})
        })
        .collect();
    let mut body = json!({"data": data});
    if offset + 100 < mine.len() {
        let next = (offset + 100).to_string();
        body["paging"] =
            json!({"cursors": {"after": next}, "next": format!("/{object}/comments?after={next}")});
    }
    Json(body)
}

async fn hide(
    State(state): State<GraphState>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = graph_body(&headers, &body);
    let hidden = body["is_hidden"].to_string();
    state.ledger.record(Platform::Graph, "hide", id, hidden);
    Json(json!({"success": true}))
}

async fn object(Path((_version, id)): Path<(String, String)>) -> Json<Value> {
    Json(json!({"id": id, "message": "", "created_time": "2026-03-02T09:00:00+0000"}))
}

/// Builds page webhook deliveries for one page, signed with the app
/// secret. `Debug` shows no secret.
#[derive(Clone)]
pub struct Webhooks {
    app_secret: SecretString,
    page_id: String,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("page_id", &self.page_id)
            .finish_non_exhaustive()
    }
}

/// A visitor's comment under one of the page's posts.
#[derive(Clone, Debug)]
pub struct Comment {
    /// The comment's id.
    pub comment_id: String,
    /// The post it is under (`{page}_{post}`).
    pub post_id: String,
    /// The visitor's id.
    pub user_id: String,
    /// The visitor's name.
    pub name: String,
    /// What it says.
    pub text: String,
}

impl Webhooks {
    /// Deliveries for page `page_id`, signed with `app_secret`.
    pub fn new(app_secret: impl Into<String>, page_id: impl Into<String>) -> Self {
        Self {
            app_secret: SecretString::from(app_secret.into()),
            page_id: page_id.into(),
        }
    }

    /// The `feed` change for `comment`, made at `epoch_ms`.
    pub fn comment(&self, comment: &Comment, epoch_ms: i64) -> SignedWebhook {
        self.signed(
            json!({
                "object": "page",
                "entry": [{ "id": self.page_id, "time": epoch_ms / 1000, "changes": [{ "field": "feed", "value": {
                    "from": { "id": comment.user_id, "name": comment.name },
                    "post_id": comment.post_id,
                    "comment_id": comment.comment_id,
                    "parent_id": comment.post_id,
                    "created_time": epoch_ms / 1000,
                    "item": "comment",
                    "verb": "add",
                    "message": comment.text
                }}]}]
            })
            .to_string()
            .into_bytes(),
        )
    }

    /// A Messenger message `mid` from `psid`, sent at `epoch_ms`.
    pub fn messenger(&self, mid: &str, psid: &str, text: &str, epoch_ms: i64) -> SignedWebhook {
        self.signed(
            json!({
                "object": "page",
                "entry": [{ "id": self.page_id, "time": epoch_ms, "messaging": [{
                    "sender": { "id": psid },
                    "recipient": { "id": self.page_id },
                    "timestamp": epoch_ms,
                    "message": { "mid": mid, "text": text }
                }]}]
            })
            .to_string()
            .into_bytes(),
        )
    }

    /// Any body signed as Meta signs it (`X-Hub-Signature-256`), for
    /// `POST /webhooks/facebook`.
    pub fn signed(&self, body: Vec<u8>) -> SignedWebhook {
        SignedWebhook {
            path: "/webhooks/facebook",
            headers: vec![
                (
                    "x-hub-signature-256",
                    sign(self.app_secret.expose_secret().as_bytes(), &body),
                ),
                ("content-type", "application/json".into()),
            ],
            body,
        }
    }
}
