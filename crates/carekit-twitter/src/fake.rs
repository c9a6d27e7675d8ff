//! A local fake of the X API v2 and signed Account Activity webhooks, for
//! tests and demos without credentials (feature `fake`).
//!
//! [`FakeX`] serves, on 127.0.0.1, the routes [`XClient`](crate::XClient)
//! calls: `POST /2/tweets`, `POST /2/dm_conversations/with/{id}/messages`,
//! `GET /2/users/{id}/tweets` (what was posted, newest first, 100 a page, as
//! crash reconciliation reads it), `GET /2/users/{id}/mentions`,
//! `GET /2/dm_events` and `GET /2/tweets/{id}`, in X's documented shapes.
//! It records every request and what it accepted in a [`Ledger`], refuses
//! requests without `Authorization` with a 401, and injects the ledger's
//! faults (500, 503, 429 with `x-rate-limit-reset`, an accepted write whose
//! answer is lost, an answer that comes late).
//!
//! [`Webhooks`] builds `tweet_create_events` deliveries signed with
//! [`webhook::signature`](crate::webhook::signature), the function the
//! webhook router verifies against.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use carekit_twitter::fake::{FakeX, Ledger, Tweet, Webhooks};
//! let x = FakeX::start(Ledger::default()).await?;
//! // Point an XClient at x.base_url(), send, then look:
//! println!("{:?}", x.ledger().delivered());
//! let webhook = Webhooks::new("consumer-secret", "2244994945")
//!     .tweet(&Tweet::new("1800000000000000001", "6253282", "@acme late again"), 1_772_442_000_000);
//! assert_eq!(webhook.path, "/webhooks/twitter");
//! # Ok(()) }
//! ```

use crate::webhook::signature;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
pub use carekit_testing::fake_platform::{
    Delivered, FaultKind, Faults, Ledger, Platform, Received, SignedWebhook,
};
use carekit_testing::fake_platform::{FakeServer, Gate, has_authorization};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A tweet the fake posted: (id, text, the tweet it answers).
type Posted = (String, String, String);

/// The running fake X API. Clones share it; it lives as long as the
/// runtime.
#[derive(Clone, Debug)]
pub struct FakeX {
    server: FakeServer,
}

#[derive(Clone)]
struct XState {
    ledger: Ledger,
    /// What was posted, oldest first.
    timeline: Arc<Mutex<Vec<Posted>>>,
}

impl std::ops::Deref for FakeX {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeX {
    /// Starts the fake on a free port of 127.0.0.1, recording in `ledger`.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start(ledger: Ledger) -> std::io::Result<Self> {
        let state = XState {
            ledger: ledger.clone(),
            timeline: Arc::default(),
        };
        let routes = Router::new()
            .route("/2/tweets", post(post_tweet))
            .route("/2/tweets/{id}", get(lookup))
            .route("/2/dm_conversations/with/{participant}/messages", post(dm))
            .route("/2/users/{id}/tweets", get(timeline))
            .route("/2/users/{id}/mentions", get(empty_list))
            .route("/2/dm_events", get(empty_list))
            .with_state(state);
        let gate = Gate {
            ledger: ledger.clone(),
            platform: Platform::X,
            authorized: has_authorization,
            unauthorized_body: || json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
            rate_limited_body: || json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
            refused_body: || json!({"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"}),
        };
        let server = FakeServer::start(gate, routes).await?;
        Ok(Self { server })
    }
}

async fn post_tweet(State(state): State<XState>, Json(body): Json<Value>) -> Response {
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let parent = body["reply"]["in_reply_to_tweet_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if text.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"title": "Invalid Request", "detail": "text is required"})),
        )
            .into_response();
    }
    let id = state
        .ledger
        .record(Platform::X, "reply", parent.clone(), text.clone());
    state
        .timeline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id.clone(), text.clone(), parent));
    (
        StatusCode::CREATED,
        Json(json!({"data": {"id": id, "text": text}})),
    )
        .into_response()
}

async fn dm(
    State(state): State<XState>,
    Path(participant): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let id = state
        .ledger
        .record(Platform::X, "dm", participant.clone(), text);
    (
        StatusCode::CREATED,
        Json(json!({"data": {"dm_conversation_id": format!("{participant}-2244994945"), "dm_event_id": id}})),
    )
        .into_response()
}

async fn timeline(
    State(state): State<XState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let offset: usize = q
        .get("pagination_token")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let posted = state.timeline.lock().unwrap_or_else(|p| p.into_inner());
    let data: Vec<Value> = posted
        .iter()
        .rev()
        .skip(offset)
        .take(100)
        .map(|(id, text, parent)| {
            json!({"id": id, "text": text, "referenced_tweets": [{"type": "replied_to", "id": parent}]})
        })
        .collect();
    let mut meta = json!({"result_count": data.len()});
    if offset + 100 < posted.len() {
        meta["next_token"] = json!((offset + 100).to_string());
    }
    Json(json!({"data": data, "meta": meta}))
}

async fn empty_list() -> Json<Value> {
    Json(json!({"meta": {"result_count": 0}}))
}

async fn lookup(Path(id): Path<String>) -> Json<Value> {
    Json(
        json!({"errors": [{"resource_id": id, "title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]}),
    )
}

/// A customer's tweet mentioning the brand, as a webhook carries it.
#[derive(Clone, Debug)]
pub struct Tweet {
    /// The tweet's id.
    pub id: String,
    /// The author's user id.
    pub user_id: String,
    /// The author's handle (also their display name).
    pub handle: String,
    /// The author's follower count.
    pub followers: u64,
    /// What it says.
    pub text: String,
    /// The brand's tweet it answers, if any.
    pub in_reply_to: Option<String>,
}

impl Tweet {
    /// A tweet by `user_id` (handle `user<id>`, 10 followers) answering
    /// nothing.
    pub fn new(id: impl Into<String>, user_id: impl Into<String>, text: impl Into<String>) -> Self {
        let user_id = user_id.into();
        Self {
            id: id.into(),
            handle: format!("user{user_id}"),
            user_id,
            followers: 10,
            text: text.into(),
            in_reply_to: None,
        }
    }
}

/// Builds Account Activity deliveries for one brand account, signed with
/// its consumer secret. `Debug` shows no secret.
#[derive(Clone)]
pub struct Webhooks {
    consumer_secret: SecretString,
    brand_user_id: String,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("brand_user_id", &self.brand_user_id)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Deliveries for `brand_user_id`, signed with `consumer_secret`.
    pub fn new(consumer_secret: impl Into<String>, brand_user_id: impl Into<String>) -> Self {
        Self {
            consumer_secret: SecretString::from(consumer_secret.into()),
            brand_user_id: brand_user_id.into(),
        }
    }

    /// The `tweet_create_events` delivery of `tweet`, sent at `epoch_ms`,
    /// for `POST /webhooks/twitter`.
    pub fn tweet(&self, tweet: &Tweet, epoch_ms: i64) -> SignedWebhook {
        let created = chrono::DateTime::from_timestamp_millis(epoch_ms)
            .unwrap_or_default()
            .format("%a %b %d %H:%M:%S +0000 %Y")
            .to_string();
        let brand = &self.brand_user_id;
        let body = json!({
            "for_user_id": brand,
            "tweet_create_events": [{
                "created_at": created,
                "id_str": tweet.id,
                "text": tweet.text,
                "in_reply_to_status_id_str": tweet.in_reply_to,
                "in_reply_to_user_id_str": tweet.in_reply_to.as_ref().map(|_| brand),
                "user": { "id_str": tweet.user_id, "name": tweet.handle, "screen_name": tweet.handle, "followers_count": tweet.followers },
                "entities": { "user_mentions": [{ "screen_name": "acme", "id_str": brand, "indices": [0, 5] }] },
                "timestamp_ms": epoch_ms.to_string()
            }]
        })
        .to_string()
        .into_bytes();
        self.signed(body)
    }

    /// Any body (a DM event, a delete, a forged payload) signed as X signs
    /// it, for `POST /webhooks/twitter`.
    pub fn signed(&self, body: Vec<u8>) -> SignedWebhook {
        SignedWebhook {
            path: "/webhooks/twitter",
            headers: vec![
                (
                    "x-twitter-webhooks-signature",
                    signature(self.consumer_secret.expose_secret(), &body),
                ),
                ("content-type", "application/json".into()),
            ],
            body,
        }
    }
}
