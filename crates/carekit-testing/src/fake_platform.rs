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
use std::time::{Duration, Instant};
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
/// posted twice, or sent faster than a platform allows. The kinds drawn
/// and their proportions can be set ([`Faults::with_mix`]), and how late a
/// slow answer comes ([`Faults::with_slow_by`]).
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
    /// How long a [`FaultKind::SlowResponse`] holds its answer back (one
    /// second unless [`Faults::with_slow_by`] says otherwise).
    pub slow_by: Duration,
    /// The weight of each of [`RANDOM_KINDS`] when a random fault is drawn.
    weights: [u32; RANDOM_KINDS.len()],
}

/// The kinds a random fault may be, in the order their weights are kept.
const RANDOM_KINDS: [FaultKind; 5] = [
    FaultKind::ServerError,
    FaultKind::Unavailable,
    FaultKind::RateLimited,
    FaultKind::LostResponse,
    FaultKind::SlowResponse,
];

/// By default the first four of [`RANDOM_KINDS`] in equal parts.
const DEFAULT_WEIGHTS: [u32; RANDOM_KINDS.len()] = [1, 1, 1, 1, 0];

/// How long a slow answer is held back by default.
const DEFAULT_SLOW_BY: Duration = Duration::from_secs(1);

impl Faults {
    /// No faults, no limit.
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            seed: 1,
            limit_per_second: None,
            slow_by: DEFAULT_SLOW_BY,
            weights: DEFAULT_WEIGHTS,
        }
    }

    /// Fails `rate` of the calls, in an order fixed by `seed`.
    pub fn random(rate: f64, seed: u64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            seed,
            limit_per_second: None,
            slow_by: DEFAULT_SLOW_BY,
            weights: DEFAULT_WEIGHTS,
        }
    }

    /// Enforces a limit of `per_second` writes in any one-second window.
    pub fn with_limit(mut self, per_second: u32) -> Self {
        self.limit_per_second = Some(per_second);
        self
    }

    /// Draws random faults in these proportions instead of the default
    /// (server error, unavailable, rate limited and lost response in equal
    /// parts, never a slow response): `[(FaultKind::ServerError, 12),
    /// (FaultKind::SlowResponse, 6)]` makes two in three of them 500s and
    /// one in three slow. A kind left out is never drawn, nor is
    /// [`FaultKind::Refused`] (queue it with [`Ledger::fail_next`]). The
    /// fraction of calls that fail stays [`Faults::rate`].
    pub fn with_mix(mut self, mix: &[(FaultKind, u32)]) -> Self {
        self.weights = [0; RANDOM_KINDS.len()];
        for (kind, weight) in mix {
            if let Some(i) = RANDOM_KINDS.iter().position(|k| k == kind) {
                self.weights[i] = self.weights[i].saturating_add(*weight);
            }
        }
        self
    }

    /// Holds a [`FaultKind::SlowResponse`]'s answer back for `by`: longer
    /// than a client's timeout, and the client gives up on a request the
    /// platform accepted.
    pub fn with_slow_by(mut self, by: Duration) -> Self {
        self.slow_by = by;
        self
    }

    /// The proportions random faults are drawn in (see [`Faults::with_mix`]).
    pub fn mix(&self) -> Vec<(FaultKind, u32)> {
        RANDOM_KINDS
            .iter()
            .zip(self.weights)
            .filter(|(_, weight)| *weight > 0)
            .map(|(kind, weight)| (*kind, weight))
            .collect()
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
    /// The platform handles the request (a write is accepted) and answers
    /// only after [`Faults::slow_by`] (SMTP: the `250` comes that late): a
    /// client whose timeout is shorter gives up on a request the platform
    /// accepted, so, like a lost response, it can cause a duplicate. Drawn
    /// at random only when [`Faults::with_mix`] gives it a weight.
    SlowResponse,
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
    /// The most writes per platform in any one-second window.
    peak: BTreeMap<Platform, u64>,
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

    /// The most writes `platform` took in any one-second window, refused
    /// ones not counted (kept only while a limit is set): how close a
    /// client came to the limit.
    pub fn peak_per_second(&self, platform: Platform) -> u64 {
        self.lock().peak.get(&platform).copied().unwrap_or(0)
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
        let weights = self.faults.weights;
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        // A draw in `0..total`, then the kind whose share it falls in.
        let mut pick = (next() * f64::from(total)) as u32;
        let mut kind = FaultKind::LostResponse;
        for (candidate, weight) in RANDOM_KINDS.iter().zip(weights) {
            if pick < weight {
                kind = *candidate;
                break;
            }
            pick -= weight;
        }
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
        let taken = window.len() as u64;
        let peak = s.peak.entry(platform).or_default();
        *peak = (*peak).max(taken);
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
        Some(FaultKind::SlowResponse) => {
            // Handled (and a write accepted), then answered late.
            let response = next.run(request).await;
            tokio::time::sleep(gate.ledger.faults.slow_by).await;
            response
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn gate(ledger: &Ledger) -> Gate {
        Gate {
            ledger: ledger.clone(),
            platform: Platform::Twilio,
            authorized: has_authorization,
            unauthorized_body: || serde_json::json!({"status": 401}),
            rate_limited_body: || serde_json::json!({"status": 429}),
            refused_body: || serde_json::json!({"status": 400}),
        }
    }

    /// Posts to `path` over a fresh connection; the whole answer.
    async fn post_to(server: &FakeServer, path: &str) -> String {
        let addr = server.base_url().trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: fake\r\nAuthorization: token\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[test]
    fn the_default_mix_draws_the_four_kinds_it_always_drew_and_a_mix_only_its_own() {
        let default = Faults::random(1.0, 7);
        assert_eq!(
            default.mix(),
            vec![
                (FaultKind::ServerError, 1),
                (FaultKind::Unavailable, 1),
                (FaultKind::RateLimited, 1),
                (FaultKind::LostResponse, 1),
            ]
        );
        let ledger = Ledger::new(default);
        for _ in 0..400 {
            ledger.roll(Platform::X);
        }
        let drawn = ledger.injected();
        assert_eq!(drawn.len(), 4, "{drawn:?}");
        assert!(!drawn.contains_key(&FaultKind::SlowResponse));
        assert!(drawn.values().all(|n| *n > 50), "{drawn:?}");

        let mix = Faults::random(1.0, 7).with_mix(&[
            (FaultKind::SlowResponse, 3),
            (FaultKind::ServerError, 1),
            (FaultKind::Refused, 5),
        ]);
        assert_eq!(
            mix.mix(),
            vec![(FaultKind::ServerError, 1), (FaultKind::SlowResponse, 3)]
        );
        let ledger = Ledger::new(mix);
        for _ in 0..400 {
            ledger.roll(Platform::X);
        }
        let drawn = ledger.injected();
        assert_eq!(drawn.len(), 2, "{drawn:?}");
        let slow = drawn[&FaultKind::SlowResponse];
        let errors = drawn[&FaultKind::ServerError];
        assert_eq!(slow + errors, 400);
        assert!(slow > 2 * errors, "{drawn:?}");

        // Nothing to draw from: no call fails.
        let ledger = Ledger::new(Faults::random(1.0, 7).with_mix(&[]));
        assert_eq!(ledger.roll(Platform::X), None);
    }

    #[tokio::test]
    async fn a_slow_response_is_handled_at_once_and_answered_late() {
        let slow_by = std::time::Duration::from_millis(300);
        let ledger = Ledger::new(Faults::none().with_slow_by(slow_by));
        let routes = Router::new().route(
            "/send",
            post(|State(ledger): State<Ledger>| async move {
                ledger.record(Platform::Twilio, "sms", "+14155550100", "hi");
                StatusCode::CREATED
            }),
        );
        let server = FakeServer::start(gate(&ledger), routes.with_state(ledger.clone()))
            .await
            .unwrap();

        ledger.fail_next(Platform::Twilio, FaultKind::SlowResponse);
        let started = Instant::now();
        let answer = tokio::spawn({
            let server = server.clone();
            async move { post_to(&server, "/send").await }
        });
        // Accepted before the answer comes.
        while ledger.delivered().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(!answer.is_finished());
        let answer = answer.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        assert!(started.elapsed() >= slow_by);
        assert_eq!(ledger.injected()[&FaultKind::SlowResponse], 1);

        // Without the fault the answer comes at once.
        let started = Instant::now();
        let answer = post_to(&server, "/send").await;
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        assert!(started.elapsed() < slow_by);
        assert_eq!(ledger.delivered().len(), 2);
    }
}
