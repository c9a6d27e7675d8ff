//! A fifth platform, defined here and nowhere in carekit: "forum", a
//! community forum with public posts and private messages. The test brings
//! what an adapter crate brings: its channel kind, a `Channel` that speaks
//! the forum's HTTP API, a signed webhook route, and a local fake of the
//! forum's API that records every request. It is added to the desk server
//! with one `DeskServerBuilder::adapter` line, and a complaint on it goes
//! through ingest, a public reply, a handoff to a private message, the
//! customer's private answer, the summary report and `/metrics`, on SQLite
//! and (when `CAREKIT_TEST_POSTGRES_URL` is set) on Postgres.
//!
//! ```text
//! cargo test --all-features --test custom_channel
//! ```

use async_trait::async_trait;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use carekit::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, EventSink, Identity, InboundEvent,
    OutboundMessage, Visibility,
};
use carekit_desk::adapters::{AdapterContext, BuiltAdapter, Mounted, ServerAdapter};
use carekit_desk::{DeskConfig, DeskServer, DeskServerError, Secrets};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------
// What an adapter crate for the forum would ship.
// ---------------------------------------------------------------------------

/// The forum's channel kind: a name, checked when the constant is built.
const FORUM: ChannelKind = ChannelKind::new("forum");

/// The forum's webhook signature: `sha256=` and the hex HMAC-SHA256 of the
/// body under the webhook secret. The route checks it with this function
/// and the fake's webhook builder signs with it, so both use one piece of code.
fn forum_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A `Channel` speaking the forum's API: `POST /api/posts {reply_to, text}`
/// for a public reply, `POST /api/messages {to, text}` for a private one;
/// both answer `{"id": …}`.
struct ForumChannel {
    http: reqwest::Client,
    api_base: String,
    token: String,
}

#[async_trait]
impl Channel for ForumChannel {
    fn kind(&self) -> ChannelKind {
        FORUM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .with_public_reply(true)
            .with_private_message(true)
            .with_max_length(Some(2_000))
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let (path, body) = match message.visibility {
            Visibility::Public => {
                let reply_to = message
                    .in_reply_to
                    .clone()
                    .ok_or_else(|| ChannelError::Invalid("a public reply needs a post".into()))?;
                (
                    "/api/posts",
                    json!({ "reply_to": reply_to, "text": message.text }),
                )
            }
            _ => {
                let to = message.recipient.as_ref().ok_or_else(|| {
                    ChannelError::Invalid("a private message needs a recipient".into())
                })?;
                (
                    "/api/messages",
                    json!({ "to": to.handle, "text": message.text }),
                )
            }
        };
        let response = self
            .http
            .post(format!("{}{path}", self.api_base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| ChannelError::Transport(e.to_string()))?;
        match response.status().as_u16() {
            200 | 201 => {
                let answer: Value = response
                    .json()
                    .await
                    .map_err(|e| ChannelError::Transport(e.to_string()))?;
                let id = answer["id"]
                    .as_str()
                    .ok_or_else(|| ChannelError::Transport("answer without an id".into()))?;
                Ok(Delivery::sent(id))
            }
            401 | 403 => Err(ChannelError::Unauthorized {
                reason: "the forum refused the token".into(),
            }),
            status => Err(ChannelError::Transport(format!("forum answered {status}"))),
        }
    }
}

/// The forum's webhook: `{id, kind: "post"|"message", author, text, topic?}`,
/// signed; anything unsigned, forged or malformed is refused before the desk
/// sees it.
async fn forum_webhook(
    State((sink, secret)): State<(Arc<dyn EventSink>, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signed = headers
        .get("x-forum-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| {
            let expected = forum_signature(&secret, &body);
            given.len() == expected.len()
                && given
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
    if !signed {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let (Some(id), Some(kind), Some(author), Some(text)) = (
        body["id"].as_str(),
        body["kind"].as_str(),
        body["author"].as_str(),
        body["text"].as_str(),
    ) else {
        return StatusCode::BAD_REQUEST;
    };
    let visibility = match kind {
        "post" => Visibility::Public,
        "message" => Visibility::Private,
        _ => return StatusCode::BAD_REQUEST,
    };
    let mut event = InboundEvent::message(
        FORUM,
        visibility,
        id,
        Identity::new(FORUM, author),
        text,
        chrono::Utc::now(),
    );
    if let Some(topic) = body["topic"].as_str() {
        event = event.with_thread_key(topic);
    }
    match sink.accept(event).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The forum's server adapter: settings from `[adapters.forum]`
/// (`api_base`), secrets `FORUM_TOKEN` and `FORUM_WEBHOOK_SECRET`.
struct ForumAdapter;

impl ServerAdapter for ForumAdapter {
    fn name(&self) -> &'static str {
        "forum"
    }

    fn build(&self, ctx: &AdapterContext<'_>) -> Result<Option<BuiltAdapter>, DeskServerError> {
        let Some(table) = ctx.config.adapters.get("forum") else {
            return Ok(None);
        };
        let api_base = table
            .get("api_base")
            .and_then(|v| v.as_str())
            .unwrap_or("https://forum.example.com")
            .to_owned();
        let token = ctx.secrets.require("FORUM_TOKEN", "[adapters.forum]")?;
        let secret = ctx
            .secrets
            .require("FORUM_WEBHOOK_SECRET", "[adapters.forum]")?
            .to_owned();
        let channel = Arc::new(ForumChannel {
            http: reqwest::Client::new(),
            api_base,
            token: token.to_owned(),
        });
        let mount = Box::new(move |sink: Arc<dyn EventSink>| {
            Mounted::new(
                "/webhooks/forum",
                axum::Router::new()
                    .route("/", post(forum_webhook))
                    .with_state((sink, secret)),
            )
        });
        Ok(Some(BuiltAdapter::new(channel, mount)))
    }
}

/// A local fake of the forum's API: records each request (path, bearer
/// token, body) and answers as the forum documents, with a fresh id.
#[derive(Clone, Default)]
struct FakeForum {
    requests: Arc<Mutex<Vec<(String, String, Value)>>>,
}

impl FakeForum {
    async fn start(&self) -> String {
        async fn record(
            State((forum, path)): State<(FakeForum, &'static str)>,
            headers: HeaderMap,
            Json(body): Json<Value>,
        ) -> (StatusCode, Json<Value>) {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut requests = forum.requests.lock().unwrap();
            requests.push((path.to_owned(), token, body));
            let id = format!("forum-{}", requests.len());
            (StatusCode::CREATED, Json(json!({ "id": id })))
        }
        let app = axum::Router::new()
            .route(
                "/api/posts",
                post(record).with_state((self.clone(), "/api/posts")),
            )
            .route(
                "/api/messages",
                post(record).with_state((self.clone(), "/api/messages")),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn requests(&self) -> Vec<(String, String, Value)> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (the outbox sends in the background).
    async fn wait_for(&self, n: usize) -> Vec<(String, String, Value)> {
        for _ in 0..250 {
            if self.requests().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.requests()
    }
}

// ---------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------

const API_TOKEN: &str = "api-token-forum-test";
const FORUM_TOKEN: &str = "forum-bot-token-1";
const WEBHOOK_SECRET: &str = "forum-webhook-secret-9";

struct Running {
    base: String,
    http: reqwest::Client,
    /// The first admin's token.
    token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn webhook(&self, body: Value, signature: Option<String>) -> u16 {
        let body = serde_json::to_vec(&body).unwrap();
        let mut request = self.http.post(format!("{}/webhooks/forum", self.base));
        if let Some(signature) = signature {
            request = request.header("x-forum-signature", signature);
        }
        request.body(body).send().await.unwrap().status().as_u16()
    }

    /// A webhook signed as the forum signs it.
    async fn signed(&self, body: Value) -> u16 {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.webhook(body, Some(forum_signature(WEBHOOK_SECRET, &bytes)))
            .await
    }

    async fn api(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    async fn api_post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn conversations(&self, query: &str) -> Vec<Value> {
        for _ in 0..250 {
            let listed = self.api(&format!("/api/conversations?{query}")).await;
            let listed = listed["conversations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !listed.is_empty() {
                return listed;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Vec::new()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}

async fn start(store_url: &str, schema: Option<&str>, forum_api: &str) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let schema = schema
        .map(|s| format!("schema = \"{s}\""))
        .unwrap_or_default();
    let config = DeskConfig::from_toml_str(&format!(
        r#"
        [server]
        listen = "{addr}"
        public_url = "http://{addr}"
        [store]
        url = "{store_url}"
        {schema}
        [desk]
        tick_ms = 20
        [adapters.forum]
        api_base = "{forum_api}"
        "#
    ))
    .unwrap();
    let secrets = Secrets::new()
        .with("CAREKIT_API_TOKEN", API_TOKEN)
        .with("FORUM_TOKEN", FORUM_TOKEN)
        .with("FORUM_WEBHOOK_SECRET", WEBHOOK_SECRET);
    let server = DeskServer::builder(config, secrets)
        .adapter(Arc::new(ForumAdapter)) // the one line that adds the platform
        .build()
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    // The configured token only bootstraps the first admin, whose token
    // the API calls use.
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let bootstrapped: Value = http
        .post(format!("{base}/api/bootstrap"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"login": "admin", "password": "forum admin passphrase", "name": "Admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = bootstrapped["token"]["token"].as_str().unwrap().to_owned();
    Running {
        base,
        http,
        token,
        stop,
        done,
    }
}

async fn a_complaint_on_the_forum_end_to_end(store_url: &str, schema: Option<&str>) {
    let forum = FakeForum::default();
    let forum_api = forum.start().await;
    let desk = start(store_url, schema, &forum_api).await;

    // A public complaint, signed as the forum signs it.
    let post = json!({
        "id": "post-1001", "kind": "post", "author": "dana_k", "topic": "topic-77",
        "text": "Third time asking: my order #5521 still has not shipped. Is anyone there?"
    });
    assert_eq!(desk.signed(post.clone()).await, 200);
    // Forged, unsigned and malformed webhooks are refused and store nothing.
    assert_eq!(
        desk.webhook(post.clone(), Some(forum_signature("not-the-secret", b"x")))
            .await,
        401
    );
    assert_eq!(desk.webhook(post.clone(), None).await, 401);
    assert_eq!(desk.signed(json!({ "id": "post-1002" })).await, 400);
    // A re-delivery is taken and not stored twice.
    assert_eq!(desk.signed(post).await, 200);

    let public = desk.conversations("channel=forum").await;
    assert_eq!(public.len(), 1, "{public:?}");
    assert_eq!(public[0]["channel"], "forum");
    assert_eq!(public[0]["visibility"], "public");
    assert_eq!(public[0]["message_count"], 1);
    let public_id = public[0]["id"].as_str().unwrap().to_owned();

    // A public reply goes to the forum's API as an answer to the post.
    let (status, body) = desk
        .api_post(
            &format!("/api/conversations/{public_id}/reply"),
            json!({ "text": "So sorry, Dana. Looking into #5521 now.", "agent": "ann" }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let sent = forum.wait_for(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "/api/posts");
    assert_eq!(sent[0].1, format!("Bearer {FORUM_TOKEN}"));
    assert_eq!(sent[0].2["reply_to"], "post-1001");

    // Handoff to a private message: a public offer on the post, the first
    // private message to the customer's own handle, a linked conversation.
    let (status, body) = desk
        .api_post(
            &format!("/api/conversations/{public_id}/handoff"),
            json!({
                "to": "forum",
                "public_text": "Dana, I've sent you a private message so we can use your order details.",
                "private_text": "Hi Dana, could you confirm the postcode on order #5521?",
                "agent": "ann"
            }),
        )
        .await;
    assert!(status == 200 || status == 202, "{status}: {body}");
    let sent = forum.wait_for(3).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    let offer = sent
        .iter()
        .find(|r| {
            r.2["text"]
                .as_str()
                .is_some_and(|t| t.contains("private message"))
        })
        .unwrap();
    assert_eq!(offer.0, "/api/posts");
    assert_eq!(offer.2["reply_to"], "post-1001");
    let private = sent.iter().find(|r| r.0 == "/api/messages").unwrap();
    assert_eq!(
        private.2["to"], "dana_k",
        "sent to the customer, nobody else"
    );

    // The customer answers privately; it joins the private conversation.
    assert_eq!(
        desk.signed(json!({
            "id": "msg-2001", "kind": "message", "author": "dana_k",
            "text": "Postcode is SW1A 1AA, thanks"
        }))
        .await,
        200
    );
    let mut private_conv = Vec::new();
    for _ in 0..250 {
        private_conv = desk
            .conversations("channel=forum")
            .await
            .into_iter()
            .filter(|c| c["visibility"] == "private")
            .collect();
        if private_conv
            .first()
            .is_some_and(|c| c["message_count"] == 2)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(private_conv.len(), 1, "{private_conv:?}");
    assert_eq!(private_conv[0]["message_count"], 2, "{private_conv:?}");
    let private_id = private_conv[0]["id"].as_str().unwrap();
    let detail = desk.api(&format!("/api/conversations/{private_id}")).await;
    assert_eq!(
        detail["messages"][1]["text"],
        "Postcode is SW1A 1AA, thanks"
    );

    // The report and the metrics count the forum under its own name.
    let summary = desk.api("/api/reports/summary").await;
    assert_eq!(
        summary["by_channel"]["forum"]["conversations"], 2,
        "{summary:#}"
    );
    let metrics = desk
        .http
        .get(format!("{}/metrics", desk.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        // Two stored and one re-delivery recognised.
        "carekit_events_ingested_total{channel=\"forum\"} 3",
        "carekit_events_duplicate_total{channel=\"forum\"} 1",
        "carekit_replies_sent_total{channel=\"forum\"} 3",
        "carekit_handoffs_total{channel=\"forum\"} 1",
        "carekit_channel_degraded{channel=\"forum\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_platform_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    a_complaint_on_the_forum_end_to_end(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_platform_on_postgres() {
    let Ok(url) = std::env::var("CAREKIT_TEST_POSTGRES_URL") else {
        eprintln!(
            "\n!!! SKIPPED a_fifth_platform_on_postgres: set CAREKIT_TEST_POSTGRES_URL (CI does) !!!\n"
        );
        return;
    };
    let schema = format!("desk_forum_{}", std::process::id());
    a_complaint_on_the_forum_end_to_end(&url, Some(&schema)).await;
}
