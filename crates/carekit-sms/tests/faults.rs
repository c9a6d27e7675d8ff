//! Fault injection: a fake Twilio fails 30% of calls at random (12% 500,
//! 11% 503, 1% 429 with Retry-After: 1, 6% timeouts) and enforces a send rate. 1,000
//! replies go through the desk's outbox. Every reply must reach the fake,
//! none may be lost, the fake's rate limit must never be exceeded. After a
//! timeout (the fake accepted, the client gave up) the outbox asks the
//! fake's message list before sending again, so duplicates can only come
//! from a list that does not show the message yet; they are reported.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carekit_core::desk::{OutboxConfig, ReplyRequest};
use carekit_core::*;
use carekit_sms::{SmsChannel, TwilioConfig, TwilioProvider};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REPLIES: usize = 1000;
const RATE_PER_SECOND: usize = 400;

#[derive(Default)]
struct Fake {
    accepted: HashMap<String, usize>,
    /// (sid, to, body) of every accepted message, for the list endpoint.
    log: Vec<(String, String, String)>,
    faults: HashMap<&'static str, usize>,
    window: Vec<Instant>,
    max_in_window: usize,
    seed: u64,
}

impl Fake {
    fn roll(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % 100
    }
}

async fn messages(State(fake): State<Arc<Mutex<Fake>>>, body: axum::body::Bytes) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let text = form
        .iter()
        .find(|(k, _)| k == "Body")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (fault, sid) = {
        let mut f = fake.lock().unwrap();
        let now = Instant::now();
        f.window
            .retain(|t| now.duration_since(*t) < Duration::from_secs(1));
        f.window.push(now);
        f.max_in_window = f.max_in_window.max(f.window.len());
        let roll = f.roll();
        let fault = match roll {
            0..=11 => Some("500"),
            12..=22 => Some("503"),
            23 => Some("429"),
            24..=29 => Some("timeout"),
            _ => None,
        };
        if let Some(kind) = fault {
            *f.faults.entry(kind).or_default() += 1;
        }
        let sid = format!("SM{:032x}", f.seed);
        if matches!(fault, None | Some("timeout")) {
            *f.accepted.entry(text.clone()).or_default() += 1;
            let to = form
                .iter()
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            f.log.push((sid.clone(), to, text.clone()));
        }
        (fault, sid)
    };
    match fault {
        Some("500") => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Some("503") => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Some("429") => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "1")],
            r#"{"code":20429,"message":"Too Many Requests"}"#,
        )
            .into_response(),
        Some(_) => {
            // Accepted, but the answer comes after the client's timeout.
            tokio::time::sleep(Duration::from_millis(400)).await;
            (
                StatusCode::CREATED,
                axum::Json(serde_json::json!({"sid": sid, "status": "queued"})),
            )
                .into_response()
        }
        None => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({"sid": sid, "status": "queued"})),
        )
            .into_response(),
    }
}

/// `GET Messages.json?To=…`: what was accepted for that number, newest first.
async fn list(
    State(fake): State<Arc<Mutex<Fake>>>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let f = fake.lock().unwrap();
    let to = q.get("To").cloned().unwrap_or_default();
    let messages: Vec<serde_json::Value> = f
        .log
        .iter()
        .rev()
        .filter(|(_, t, _)| *t == to)
        .take(50)
        .map(|(sid, to, body)| serde_json::json!({"sid": sid, "to": to, "body": body, "status": "sent"}))
        .collect();
    axum::Json(serde_json::json!({ "messages": messages }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_replies_survive_thirty_percent_faults() {
    let fake = Arc::new(Mutex::new(Fake {
        seed: 0x2545_F491_4F6C_DD1D,
        ..Fake::default()
    }));
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(messages).get(list),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = TwilioConfig::builder("AC0123456789abcdef0123456789abcdef", "token")
        .base_url(base)
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let sms = SmsChannel::builder(Arc::new(TwilioProvider::new(config)), "+14155550100")
        .build()
        .unwrap();
    // Stay under the platform's limit on our side.
    let channel = RateLimited::new(
        sms,
        (RATE_PER_SECOND * 3 / 4) as u32,
        Duration::from_secs(1),
    );
    let desk = Desk::builder()
        .channel(Arc::new(channel))
        .outbox(
            OutboxConfig::default()
                .with_max_attempts(50)
                .with_batch(64)
                .with_backoff(
                    chrono::Duration::milliseconds(5),
                    chrono::Duration::milliseconds(200),
                ),
        )
        .build()
        .unwrap();
    let mut expected = Vec::new();
    for c in 0..100 {
        let event = InboundEvent::message(
            ChannelKind::Sms,
            Visibility::Private,
            format!("SMin{c}"),
            Identity::new(ChannelKind::Sms, format!("+1415555{:04}", 1000 + c)),
            "help",
            chrono::Utc::now(),
        );
        let id = desk.ingest(event).await.unwrap().conversation_id().unwrap();
        for r in 0..REPLIES / 100 {
            let text = format!("reply {c}-{r}");
            desk.reply(id, ReplyRequest::agent("ann", text.clone()))
                .await
                .unwrap();
            expected.push(text);
        }
    }
    let started = Instant::now();
    loop {
        let report = desk.run_outbox_once().await.unwrap();
        let pending = desk
            .store()
            .outbox_in_states(&[DeliveryState::Queued, DeliveryState::Sending], 1)
            .await
            .unwrap();
        if report.claimed == 0 && pending.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "outbox did not drain"
        );
        if report.claimed == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let failed = desk
        .store()
        .outbox_in_states(&[DeliveryState::Failed, DeliveryState::DeadLettered], 10)
        .await
        .unwrap();
    assert!(failed.is_empty(), "nothing failed for good: {failed:?}");
    let f = fake.lock().unwrap();
    let lost: Vec<&String> = expected
        .iter()
        .filter(|t| !f.accepted.contains_key(*t))
        .collect();
    assert!(
        lost.is_empty(),
        "lost {} replies, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let duplicates: usize = f.accepted.values().map(|n| n - 1).sum();
    let timeouts = f.faults.get("timeout").copied().unwrap_or(0);

    assert!(
        duplicates <= timeouts,
        "duplicates ({duplicates}) only come from timeouts ({timeouts})"
    );
    assert!(
        f.max_in_window <= RATE_PER_SECOND,
        "rate limit exceeded: {} in one second",
        f.max_in_window
    );
    eprintln!(
        "fault injection: {REPLIES} replies, faults {:?}, duplicates {duplicates} (timeouts reconciled from the message list), \
         peak {} requests/s (limit {RATE_PER_SECOND}), {:.1}s",
        f.faults,
        f.max_in_window,
        started.elapsed().as_secs_f64()
    );
}
