//! Local fakes of the platforms' HTTP APIs (X API v2, the Graph API,
//! Twilio) and an SMTP sink, on 127.0.0.1. They speak the request and
//! response shapes the adapters use, remember what was posted (so crash
//! reconciliation can look it up), and can inject faults.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The sandbox page's id (the fake Graph API answers as this page).
pub(crate) const PAGE: &str = "1234567890";
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Which fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Platform {
    /// X API v2.
    X,
    /// Meta Graph API.
    Graph,
    /// Twilio Programmable Messaging.
    Twilio,
    /// SMTP.
    Smtp,
}

impl Platform {
    /// `X`, `Graph API`, `Twilio`, `SMTP`.
    pub fn label(self) -> &'static str {
        match self {
            Platform::X => "X",
            Platform::Graph => "Graph API",
            Platform::Twilio => "Twilio",
            Platform::Smtp => "SMTP",
        }
    }
}

/// Something a platform accepted and would have shown a customer.
#[derive(Clone, Debug, Serialize)]
pub struct Delivered {
    /// Where.
    pub platform: Platform,
    /// `reply`, `dm`, `comment_reply`, `messenger`, `sms`, `email`, `hide`.
    pub kind: &'static str,
    /// The tweet, comment, user, number or address it went to.
    pub recipient: String,
    /// What it said.
    pub text: String,
    /// The id the fake gave it.
    pub id: String,
}

/// Random platform failures and a rate limit, to prove nothing is lost,
/// posted twice, or sent faster than a platform allows.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Faults {
    /// Fraction of API calls that fail (0.0–1.0).
    pub rate: f64,
    /// Seed for the failure sequence.
    pub seed: u64,
    /// Writes a platform accepts in any one-second window; more get a 429
    /// and are counted as limit violations ([`FakePlatforms::over_limit`]).
    pub limit_per_second: Option<u32>,
}

impl Faults {
    /// No faults, no limit.
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            seed: 1,
            limit_per_second: None,
        }
    }

    /// Fails `rate` of the calls, in an order fixed by `seed`.
    pub fn random(rate: f64, seed: u64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            seed,
            limit_per_second: None,
        }
    }

    /// Enforces a limit of `per_second` writes in any one-second window.
    pub fn with_limit(mut self, per_second: u32) -> Self {
        self.limit_per_second = Some(per_second);
        self
    }
}

/// What a fault looked like, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// HTTP 500.
    ServerError,
    /// HTTP 503.
    Unavailable,
    /// HTTP 429 with the platform's rate-limit headers.
    RateLimited,
    /// The platform accepted the request, then the response was lost
    /// (a 502 from a proxy): the one fault that can cause a duplicate.
    LostResponse,
}

#[derive(Default)]
struct Shared {
    delivered: Vec<Delivered>,
    /// X timeline: (id, text, in_reply_to), oldest first.
    timeline: Vec<(String, String, String)>,
    /// Twilio messages: (sid, to, body).
    sms: Vec<(String, String, String)>,
    faults: BTreeMap<FaultKind, u64>,
    calls: BTreeMap<Platform, u64>,
    /// Recent accepted writes per platform, for the rate limit.
    recent: BTreeMap<Platform, VecDeque<Instant>>,
    over_limit: BTreeMap<Platform, u64>,
    rng: u64,
    next_id: u64,
}

/// The running fakes. Dropping them stops nothing (they live as long as the
/// runtime); they bind ephemeral ports on 127.0.0.1.
#[derive(Clone)]
pub struct FakePlatforms {
    shared: Arc<Mutex<Shared>>,
    faults: Faults,
    x: SocketAddr,
    graph: SocketAddr,
    twilio: SocketAddr,
    smtp: SocketAddr,
}

impl std::fmt::Debug for FakePlatforms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePlatforms")
            .field("x", &self.x)
            .field("graph", &self.graph)
            .field("twilio", &self.twilio)
            .field("smtp", &self.smtp)
            .finish()
    }
}

#[derive(Clone)]
struct Fake {
    shared: Arc<Mutex<Shared>>,
    faults: Faults,
    platform: Platform,
}

impl FakePlatforms {
    /// Starts the four fakes.
    ///
    /// # Errors
    /// A port could not be bound.
    pub async fn start(faults: Faults) -> std::io::Result<Self> {
        let shared = Arc::new(Mutex::new(Shared {
            rng: faults.seed.max(1),
            next_id: 1,
            ..Shared::default()
        }));
        let fake = |platform| Fake {
            shared: shared.clone(),
            faults,
            platform,
        };
        let x = serve(x_routes(fake(Platform::X))).await?;
        let graph = serve(graph_routes(fake(Platform::Graph))).await?;
        let twilio = serve(twilio_routes(fake(Platform::Twilio))).await?;
        let smtp = smtp_sink(shared.clone(), faults.rate).await?;
        Ok(Self {
            shared,
            faults,
            x,
            graph,
            twilio,
            smtp,
        })
    }

    /// X API base URL.
    pub fn x_base_url(&self) -> String {
        format!("http://{}", self.x)
    }
    /// Graph API base URL.
    pub fn graph_base_url(&self) -> String {
        format!("http://{}", self.graph)
    }
    /// Twilio API base URL.
    pub fn twilio_base_url(&self) -> String {
        format!("http://{}", self.twilio)
    }
    /// SMTP sink address.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp
    }
    /// The configured faults.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Everything accepted so far, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.lock().delivered.clone()
    }

    /// Faults injected so far, by kind.
    pub fn injected(&self) -> BTreeMap<FaultKind, u64> {
        self.lock().faults.clone()
    }

    /// API calls received, by platform.
    pub fn calls(&self) -> BTreeMap<Platform, u64> {
        self.lock().calls.clone()
    }

    /// Writes that arrived while the platform's limit was spent, by
    /// platform: a desk that respects limits makes none.
    pub fn over_limit(&self) -> BTreeMap<Platform, u64> {
        self.lock().over_limit.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn serve(router: Router) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

impl Fake {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, kind: &'static str, recipient: String, text: String) -> String {
        let mut s = self.lock();
        let id = format!("{}", 1_900_000_000_000_000_000u64 + s.next_id);
        s.next_id += 1;
        s.delivered.push(Delivered {
            platform: self.platform,
            kind,
            recipient,
            text,
            id: id.clone(),
        });
        id
    }

    /// Counts a write against the one-second window; false when the
    /// limit is already spent.
    fn within_limit(&self) -> bool {
        let Some(limit) = self.faults.limit_per_second else {
            return true;
        };
        let mut s = self.lock();
        let now = Instant::now();
        let window = s.recent.entry(self.platform).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t).as_millis() >= 1_000)
        {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            *s.over_limit.entry(self.platform).or_default() += 1;
            return false;
        }
        window.push_back(now);
        true
    }

    /// Decides this call's fate.
    fn roll(&self) -> Option<FaultKind> {
        roll(&mut self.lock(), self.platform, self.faults.rate)
    }
}

/// Counts the call and decides its fate (xorshift: deterministic for a seed).
fn roll(s: &mut Shared, platform: Platform, rate: f64) -> Option<FaultKind> {
    *s.calls.entry(platform).or_default() += 1;
    {
        if rate <= 0.0 {
            return None;
        }
        let mut next = || {
            s.rng ^= s.rng << 13;
            s.rng ^= s.rng >> 7;
            s.rng ^= s.rng << 17;
            (s.rng % 1_000_000) as f64 / 1_000_000.0
        };
        if next() >= rate {
            return None;
        }
        let kind = match (next() * 4.0) as u32 {
            0 => FaultKind::ServerError,
            1 => FaultKind::Unavailable,
            2 => FaultKind::RateLimited,
            _ => FaultKind::LostResponse,
        };
        *s.faults.entry(kind).or_default() += 1;
        Some(kind)
    }
}

/// Auth and fault injection in front of every API route.
async fn gate(State(fake): State<Fake>, request: Request, next: Next) -> Response {
    let authorized = match fake.platform {
        Platform::Graph => {
            request.headers().contains_key("authorization")
                || request
                    .uri()
                    .query()
                    .is_some_and(|q| q.contains("access_token="))
        }
        _ => request.headers().contains_key("authorization"),
    };
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "no credentials"})),
        )
            .into_response();
    }
    let writes = request.method() == axum::http::Method::POST;
    if writes && !fake.within_limit() {
        return rate_limited(fake.platform);
    }
    match fake.roll() {
        None => next.run(request).await,
        Some(FaultKind::LostResponse) if writes => {
            // Accepted, then the answer is lost on the way back.
            let _ = next.run(request).await;
            (StatusCode::BAD_GATEWAY, "upstream connection reset").into_response()
        }
        Some(FaultKind::RateLimited) => rate_limited(fake.platform),
        Some(FaultKind::Unavailable) => {
            (StatusCode::SERVICE_UNAVAILABLE, "over capacity").into_response()
        }
        Some(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

/// A 429 in the platform's own shape, with its reset headers.
fn rate_limited(platform: Platform) -> Response {
    let mut headers = HeaderMap::new();
    let reset = (Utc::now().timestamp() + 1).to_string();
    if let Ok(v) = HeaderValue::from_str(&reset) {
        headers.insert("x-rate-limit-reset", v);
    }
    headers.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
    headers.insert("retry-after", HeaderValue::from_static("1"));
    let body = match platform {
        Platform::Graph => {
            json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}})
        }
        Platform::Twilio => json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
        _ => {
            json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
        }
    };
    (StatusCode::TOO_MANY_REQUESTS, headers, Json(body)).into_response()
}

fn with_gate(router: Router<Fake>, fake: Fake) -> Router {
    router
        .layer(middleware::from_fn_with_state(fake.clone(), gate))
        .with_state(fake)
}

// ---------- X API v2 ----------

fn x_routes(fake: Fake) -> Router {
    let routes = Router::new()
        .route("/2/tweets", post(x_post_tweet))
        .route("/2/tweets/{id}", get(x_lookup))
        .route(
            "/2/dm_conversations/with/{participant}/messages",
            post(x_dm),
        )
        .route("/2/users/{id}/tweets", get(x_timeline))
        .route("/2/users/{id}/mentions", get(x_empty_list))
        .route("/2/dm_events", get(x_empty_list));
    with_gate(routes, fake)
}

async fn x_post_tweet(State(fake): State<Fake>, Json(body): Json<Value>) -> Response {
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
    let id = fake.record("reply", parent.clone(), text.clone());
    fake.lock()
        .timeline
        .push((id.clone(), text.clone(), parent));
    (
        StatusCode::CREATED,
        Json(json!({"data": {"id": id, "text": text}})),
    )
        .into_response()
}

async fn x_dm(
    State(fake): State<Fake>,
    Path(participant): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let id = fake.record("dm", participant.clone(), text);
    (
        StatusCode::CREATED,
        Json(json!({"data": {"dm_conversation_id": format!("{participant}-2244994945"), "dm_event_id": id}})),
    )
        .into_response()
}

async fn x_timeline(
    State(fake): State<Fake>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let offset: usize = q
        .get("pagination_token")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let s = fake.lock();
    let data: Vec<Value> = s
        .timeline
        .iter()
        .rev()
        .skip(offset)
        .take(100)
        .map(|(id, text, parent)| {
            json!({"id": id, "text": text, "referenced_tweets": [{"type": "replied_to", "id": parent}]})
        })
        .collect();
    let mut meta = json!({"result_count": data.len()});
    if offset + 100 < s.timeline.len() {
        meta["next_token"] = json!((offset + 100).to_string());
    }
    Json(json!({"data": data, "meta": meta}))
}

async fn x_empty_list() -> Json<Value> {
    Json(json!({"meta": {"result_count": 0}}))
}

async fn x_lookup(Path(id): Path<String>) -> Json<Value> {
    Json(
        json!({"errors": [{"resource_id": id, "title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]}),
    )
}

// ---------- Graph API ----------

fn graph_routes(fake: Fake) -> Router {
    let routes = Router::new()
        .route("/{version}/{page}/messages", post(graph_send))
        .route("/{version}/{page}/conversations", get(graph_threads))
        .route(
            "/{version}/{id}/comments",
            post(graph_comment).get(graph_comments),
        )
        .route("/{version}/{id}", post(graph_hide).get(graph_object));
    with_gate(routes, fake)
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
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (k, v) in form {
        let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
        out.insert(k, value);
    }
    Value::Object(out)
}

async fn graph_send(State(fake): State<Fake>, headers: HeaderMap, body: Bytes) -> Response {
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
    let id = fake.record(kind, recipient.clone(), text);
    Json(json!({"recipient_id": recipient, "message_id": format!("m_{id}")})).into_response()
}

async fn graph_comment(
    State(fake): State<Fake>,
    Path((_version, comment)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = graph_body(&headers, &body);
    let text = body["message"].as_str().unwrap_or_default().to_owned();
    let id = fake.record("comment_reply", comment.clone(), text);
    Json(json!({"id": format!("{comment}_{id}")}))
}

/// `GET /{page}/conversations?user_id=…`: the page's Messenger thread with
/// one customer, its latest 25 messages from the page, newest first.
async fn graph_threads(
    State(fake): State<Fake>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let psid = q.get("user_id").cloned().unwrap_or_default();
    let s = fake.lock();
    let messages: Vec<Value> = s
        .delivered
        .iter()
        .rev()
        .filter(|d| d.kind == "messenger" && d.recipient == psid)
        .take(25)
        .map(|d| json!({"id": format!("m_{}", d.id), "message": d.text, "from": {"id": PAGE, "name": "Acme"}}))
        .collect();
    Json(json!({"data": [{"id": format!("t_{psid}"), "messages": {"data": messages}}]}))
}

/// `GET /{object}/comments`: the page's replies under `object`, newest
/// first, 100 a page with an `after` cursor (as the Graph API pages).
async fn graph_comments(
    State(fake): State<Fake>,
    Path((_version, object)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let offset: usize = q.get("after").and_then(|t| t.parse().ok()).unwrap_or(0);
    let s = fake.lock();
    let mine: Vec<&Delivered> = s
        .delivered
        .iter()
        .rev()
        .filter(|d| d.kind == "comment_reply" && d.recipient == object)
        .collect();
    let data: Vec<Value> = mine
        .iter()
        .skip(offset)
        .take(100)
        .map(|d| {
            json!({"id": format!("{object}_{}", d.id), "message": d.text, "from": {"id": PAGE, "name": "Acme"}})
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

async fn graph_hide(
    State(fake): State<Fake>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = graph_body(&headers, &body);
    let hidden = body["is_hidden"].to_string();
    fake.record("hide", id, hidden);
    Json(json!({"success": true}))
}

async fn graph_object(Path((_version, id)): Path<(String, String)>) -> Json<Value> {
    Json(json!({"id": id, "message": "", "created_time": "2026-03-02T09:00:00+0000"}))
}

// ---------- Twilio ----------

fn twilio_routes(fake: Fake) -> Router {
    let routes = Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(twilio_send).get(twilio_list),
    );
    with_gate(routes, fake)
}

async fn twilio_send(State(fake): State<Fake>, body: Bytes) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (Some(to), Some(text)) = (form.get("To"), form.get("Body")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": 21604, "message": "A 'To' phone number and a 'Body' are required.", "status": 400})),
        )
            .into_response();
    };
    let id = fake.record("sms", to.clone(), text.clone());
    let sid = format!("SM{id:0>32}");
    fake.lock()
        .sms
        .push((sid.clone(), to.clone(), text.clone()));
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued", "to": to, "body": text, "num_segments": "1"})),
    )
        .into_response()
}

async fn twilio_list(
    State(fake): State<Fake>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let s = fake.lock();
    let messages: Vec<Value> = s
        .sms
        .iter()
        .rev()
        .filter(|(_, to, _)| q.get("To").is_none_or(|t| t == to))
        .take(50)
        .map(|(sid, to, body)| json!({"sid": sid, "to": to, "body": body, "status": "sent"}))
        .collect();
    Json(json!({"messages": messages}))
}

// ---------- SMTP ----------

/// A minimal SMTP server (RFC 5321 commands a submission client uses).
async fn smtp_sink(shared: Arc<Mutex<Shared>>, fault_rate: f64) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = smtp_session(stream, shared, fault_rate).await;
            });
        }
    });
    Ok(addr)
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    shared: Arc<Mutex<Shared>>,
    fault_rate: f64,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sandbox ESMTP ready\r\n").await?;
    let mut rcpt = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sandbox\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM") {
            rcpt.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO") {
            rcpt.push(
                line[8..]
                    .trim()
                    .trim_start_matches(':')
                    .trim()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_owned(),
            );
            b"250 ok\r\n"
        } else if upper.starts_with("RSET") {
            rcpt.clear();
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut message = String::new();
            while let Some(data) = lines.next_line().await? {
                if data == "." {
                    break;
                }
                // Dot-unstuffing.
                message.push_str(data.strip_prefix('.').unwrap_or(&data));
                message.push_str("\r\n");
            }
            // Decoded as a mail client would show it (lettre may pick
            // quoted-printable or base64).
            let body = mail_parser::MessageParser::default()
                .parse(message.as_bytes())
                .and_then(|m| m.body_text(0).map(|t| t.trim().to_owned()))
                .unwrap_or_default();
            let (fault, reply) = {
                let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                let fault = roll(&mut s, Platform::Smtp, fault_rate);
                let reply: &[u8] = match fault {
                    // Transient refusals (RFC 5321 4xx): the client tries again.
                    Some(FaultKind::ServerError) => b"451 4.3.0 local error, try again later\r\n",
                    Some(FaultKind::RateLimited) => b"451 4.7.1 too many messages, slow down\r\n",
                    Some(FaultKind::Unavailable) => b"421 4.3.2 service not available\r\n",
                    None | Some(FaultKind::LostResponse) => {
                        let id = format!("{}", s.next_id);
                        s.next_id += 1;
                        s.delivered.push(Delivered {
                            platform: Platform::Smtp,
                            kind: "email",
                            recipient: rcpt.join(","),
                            text: body,
                            id,
                        });
                        b"250 queued\r\n"
                    }
                };
                (fault, reply)
            };
            match fault {
                // Accepted, then the connection drops before the answer.
                Some(FaultKind::LostResponse) => return Ok(()),
                Some(FaultKind::Unavailable) => {
                    write.write_all(reply).await?;
                    return Ok(());
                }
                _ => reply,
            }
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
