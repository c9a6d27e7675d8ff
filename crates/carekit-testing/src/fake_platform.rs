//! What every adapter's `fake` module shares: a [`Ledger`] that records
//! what the fake platforms accepted and every request they received,
//! decides which calls fail ([`Faults`]) and enforces a rate limit, and a
//! [`Gate`] that puts authorization, the limit and fault injection in front
//! of a fake's axum routes.
//!
//! Each adapter crate (`carekit-twitter`, `carekit-facebook`,
//! `carekit-sms`, `carekit-email`) builds its platform's fake on these
//! behind its `fake` feature; several fakes may share one ledger, so one
//! seed fixes the fault sequence across all of them.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use carekit_core::{Clock, SystemClock};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::net::TcpListener;

/// Which fake platform.
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
    /// `reply`, `dm`, `comment_reply`, `private_reply`, `messenger`, `sms`,
    /// `email`, `hide`.
    pub kind: &'static str,
    /// The tweet, comment, user, number or address it went to.
    pub recipient: String,
    /// What it said.
    pub text: String,
    /// The id the fake gave it.
    pub id: String,
}

/// One request a fake received, as it arrived (before any fault).
#[derive(Clone, Debug)]
pub struct Received {
    /// Which fake.
    pub platform: Platform,
    /// `GET`, `POST`, … (`DATA` for an SMTP message).
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The request's headers (for SMTP, none).
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Received {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
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
    /// and are counted as limit violations ([`Ledger::over_limit`]).
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

impl Default for Faults {
    fn default() -> Self {
        Self::none()
    }
}

/// What a fault looked like, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// HTTP 500 (SMTP: a 451 refusal).
    ServerError,
    /// HTTP 503 (SMTP: 421 and the connection closed).
    Unavailable,
    /// HTTP 429 with the platform's rate-limit headers (SMTP: a 451).
    RateLimited,
    /// The platform accepted the request, then the response was lost (a
    /// 502 from a proxy; SMTP: the connection dropped): the one fault that
    /// can cause a duplicate.
    LostResponse,
    /// The platform refuses the request for good: HTTP 400 with its own
    /// invalid-request body (SMTP: a 550). Only ever queued with
    /// [`Ledger::fail_next`], never drawn at random.
    Refused,
}

#[derive(Default)]
struct LedgerState {
    delivered: Vec<Delivered>,
    received: Vec<Received>,
    /// Faults forced on the next calls, before any random ones.
    queued: BTreeMap<Platform, VecDeque<FaultKind>>,
    /// Platforms whose credentials are revoked: every call gets a 401.
    revoked: BTreeMap<Platform, bool>,
    faults: BTreeMap<FaultKind, u64>,
    calls: BTreeMap<Platform, u64>,
    /// Recent accepted writes per platform, for the rate limit.
    recent: BTreeMap<Platform, VecDeque<Instant>>,
    over_limit: BTreeMap<Platform, u64>,
    rng: u64,
    next_id: u64,
}

/// The fake platforms' shared memory: what they accepted, what they
/// received, and which calls fail. Clones share it.
#[derive(Clone)]
pub struct Ledger {
    state: Arc<Mutex<LedgerState>>,
    faults: Faults,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new(Faults::none())
    }
}

impl Ledger {
    /// A ledger injecting `faults`, with the wall clock for the reset
    /// times of its 429 answers.
    pub fn new(faults: Faults) -> Self {
        Self::with_clock(faults, Arc::new(SystemClock))
    }

    /// The same, with the reset times of 429 answers read from `clock`.
    pub fn with_clock(faults: Faults, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::new(Mutex::new(LedgerState {
                rng: faults.seed.max(1),
                next_id: 1,
                ..LedgerState::default()
            })),
            faults,
            clock,
        }
    }

    /// The configured faults.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// The clock 429 answers take their reset time from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Everything accepted so far, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.lock().delivered.clone()
    }

    /// Every request received so far, in order (faulted ones included).
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests `platform` received, in order.
    pub fn received_by(&self, platform: Platform) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.platform == platform)
            .cloned()
            .collect()
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
    /// platform: a client that respects limits makes none.
    pub fn over_limit(&self) -> BTreeMap<Platform, u64> {
        self.lock().over_limit.clone()
    }

    /// Makes the next call to `platform` fail with `kind`, whatever the
    /// random faults say (queued faults go first, in order).
    pub fn fail_next(&self, platform: Platform, kind: FaultKind) {
        self.lock()
            .queued
            .entry(platform)
            .or_default()
            .push_back(kind);
    }

    /// Revokes (or restores) the credentials `platform` accepts: while
    /// revoked, every call is refused with the platform's 401, as after a
    /// user revokes the app. Refused calls are received, not counted as
    /// calls or faults.
    pub fn revoke(&self, platform: Platform, revoked: bool) {
        self.lock().revoked.insert(platform, revoked);
    }

    /// Whether `platform`'s credentials are revoked.
    pub fn is_revoked(&self, platform: Platform) -> bool {
        self.lock().revoked.get(&platform).copied().unwrap_or(false)
    }

    /// Records something `platform` accepted; the id the fake gives it.
    pub fn record(
        &self,
        platform: Platform,
        kind: &'static str,
        recipient: impl Into<String>,
        text: impl Into<String>,
    ) -> String {
        let mut s = self.lock();
        let id = format!("{}", 1_900_000_000_000_000_000u64 + s.next_id);
        s.next_id += 1;
        s.delivered.push(Delivered {
            platform,
            kind,
            recipient: recipient.into(),
            text: text.into(),
            id: id.clone(),
        });
        id
    }

    /// Remembers a request as it arrived.
    pub fn receive(&self, received: Received) {
        self.lock().received.push(received);
    }

    /// Counts a call to `platform` and decides its fate: a queued fault,
    /// else a random one at the configured rate (xorshift, so a seed fixes
    /// the sequence), else none.
    pub fn roll(&self, platform: Platform) -> Option<FaultKind> {
        let mut s = self.lock();
        *s.calls.entry(platform).or_default() += 1;
        if let Some(kind) = s.queued.get_mut(&platform).and_then(VecDeque::pop_front) {
            *s.faults.entry(kind).or_default() += 1;
            return Some(kind);
        }
        let rate = self.faults.rate;
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

    /// Counts a write to `platform` against its one-second window; false
    /// (and counted in [`Ledger::over_limit`]) when the limit is spent.
    pub fn within_limit(&self, platform: Platform) -> bool {
        let Some(limit) = self.faults.limit_per_second else {
            return true;
        };
        let mut s = self.lock();
        let now = Instant::now();
        let window = s.recent.entry(platform).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t).as_millis() >= 1_000)
        {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            *s.over_limit.entry(platform).or_default() += 1;
            return false;
        }
        window.push_back(now);
        true
    }

    fn lock(&self) -> MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What sets one platform's fake apart in front of its routes: how it
/// authenticates and how it says "unauthorized" and "too many requests".
#[derive(Clone, Debug)]
pub struct Gate {
    /// The ledger the fake records in.
    pub ledger: Ledger,
    /// Which platform.
    pub platform: Platform,
    /// Whether a request carries credentials the platform would look at.
    pub authorized: fn(&Request) -> bool,
    /// The platform's own 401 body (no or revoked credentials).
    pub unauthorized_body: fn() -> Value,
    /// The platform's own 429 body.
    pub rate_limited_body: fn() -> Value,
    /// The platform's own 400 body for a request it refuses for good.
    pub refused_body: fn() -> Value,
}

impl Gate {
    /// Wraps `routes` so every request is recorded, refused with a 401
    /// without credentials or while [revoked](Ledger::revoke), held to the rate limit (writes only) and
    /// subjected to fault injection.
    pub fn wrap(self, routes: Router) -> Router {
        routes.layer(middleware::from_fn_with_state(self, gate))
    }

    /// The platform's 429 with its reset headers (`x-rate-limit-reset` one
    /// second from the ledger's clock, `x-rate-limit-remaining: 0`,
    /// `retry-after: 1`).
    pub fn rate_limited(&self) -> Response {
        let mut headers = HeaderMap::new();
        let reset = (self.ledger.clock.now().timestamp() + 1).to_string();
        if let Ok(v) = HeaderValue::from_str(&reset) {
            headers.insert("x-rate-limit-reset", v);
        }
        headers.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        headers.insert("retry-after", HeaderValue::from_static("1"));
        (
            StatusCode::TOO_MANY_REQUESTS,
            headers,
            Json((self.rate_limited_body)()),
        )
            .into_response()
    }
}

/// The largest request body a fake keeps.
const MAX_RECORDED_BODY: usize = 4 * 1024 * 1024;

async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_RECORDED_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response(),
    };
    gate.ledger.receive(Received {
        platform: gate.platform,
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body: bytes.to_vec(),
    });
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    if !(gate.authorized)(&request) || gate.ledger.is_revoked(gate.platform) {
        return (StatusCode::UNAUTHORIZED, Json((gate.unauthorized_body)())).into_response();
    }
    let writes = request.method() == Method::POST;
    if writes && !gate.ledger.within_limit(gate.platform) {
        return gate.rate_limited();
    }
    match gate.ledger.roll(gate.platform) {
        None => next.run(request).await,
        Some(FaultKind::LostResponse) if writes => {
            // Accepted, then the answer is lost on the way back.
            let _ = next.run(request).await;
            (StatusCode::BAD_GATEWAY, "upstream connection reset").into_response()
        }
        Some(FaultKind::RateLimited) => gate.rate_limited(),
        Some(FaultKind::Refused) => {
            (StatusCode::BAD_REQUEST, Json((gate.refused_body)())).into_response()
        }
        Some(FaultKind::Unavailable) => {
            (StatusCode::SERVICE_UNAVAILABLE, "over capacity").into_response()
        }
        Some(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

/// A running fake: where it listens and the ledger it records in. Each
/// platform's fake dereferences to one.
#[derive(Clone, Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    ledger: Ledger,
    platform: Platform,
}

impl FakeServer {
    /// Serves `routes` behind `gate` on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start(gate: Gate, routes: Router) -> std::io::Result<Self> {
        let (ledger, platform) = (gate.ledger.clone(), gate.platform);
        let addr = serve(gate.wrap(routes)).await?;
        Ok(Self {
            addr,
            ledger,
            platform,
        })
    }

    /// The API's base URL (`http://127.0.0.1:port`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ledger it records in.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The requests it received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.ledger.received_by(self.platform)
    }
}

/// Whether `request` has an `Authorization` header.
pub fn has_authorization(request: &Request) -> bool {
    request.headers().contains_key("authorization")
}

/// Serves `router` on 127.0.0.1 at a free port for as long as the runtime
/// lives; its address.
///
/// # Errors
/// No port could be bound.
pub async fn serve(router: Router) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

/// A webhook delivery exactly as a platform sends it, signed: what an
/// adapter's `fake` builds and a test or the sandbox posts to a desk.
#[derive(Clone, Debug)]
pub struct SignedWebhook {
    /// Path on the desk (`/webhooks/twitter`, …).
    pub path: &'static str,
    /// Headers, signature included.
    pub headers: Vec<(&'static str, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}
