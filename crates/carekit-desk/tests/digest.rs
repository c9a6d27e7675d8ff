//! `[[digest]]`: the team digest goes out at 09:00 in Berlin across the
//! end of summer time (2026-10-25): at 07:00Z before and 08:00Z from the
//! day of the change on, exactly once a day, although two workers share the
//! store and one of them is replaced by a fresh process on the way. The
//! digest is posted to a local chat-webhook receiver through a named
//! `[[notify]]` route, and the desk's clock is a virtual one.

mod support;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use carekit_core::{Clock, FakeClock};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

/// What the receiver got: the desk's time when it arrived, and the text.
type Received = Arc<Mutex<Vec<(DateTime<Utc>, String)>>>;

async fn receiver(clock: FakeClock) -> (String, Received) {
    let seen: Received = Arc::default();
    async fn hook(
        State((clock, seen)): State<(FakeClock, Received)>,
        Json(body): Json<Value>,
    ) -> &'static str {
        let text = body["text"].as_str().unwrap_or_default().to_owned();
        seen.lock().unwrap().push((clock.now(), text));
        "ok"
    }
    let app =
        axum::Router::new().route("/hooks/care", post(hook).with_state((clock, seen.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks/care"), seen)
}

const DIGEST: &str = r#"
[assignment]
assign_new = false
agents = [{ id = "ana", team = "care" }]

[[notify]]
name = "care-chat"
via = "chat"
url_secret = "CHAT_CARE_URL"
min_level = 9

[[digest]]
team = "care"
time_zone = "Europe/Berlin"
daily_at = "09:00"
route = "care-chat"
covers = "desk"
send_empty = true
"#;

const CURSOR: &str = "desk.digest.care.daily-09:00-Europe/Berlin";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn worker(store_url: &str, schema: Option<&str>, clock: &FakeClock, hook: &str) -> TestDesk {
    TestDesk::start_with(
        store_url,
        schema,
        Limits {
            tick_ms: 10,
            extra: DIGEST.into(),
            extra_secrets: vec![("CHAT_CARE_URL", hook.to_owned())],
            clock: Some(Arc::new(clock.clone())),
            ..Limits::default()
        },
    )
    .await
}

/// Enough real time for every worker's loop to look at the clock several
/// times (they look every 10 ms).
async fn let_loops_run() {
    tokio::time::sleep(Duration::from_millis(250)).await;
}

/// Sets the clock to `to` and checks that nothing is sent then.
async fn quiet_at(clock: &FakeClock, seen: &Received, to: &str) {
    let before = seen.lock().unwrap().len();
    clock.set(at(to));
    let_loops_run().await;
    let after = seen.lock().unwrap().clone();
    assert_eq!(
        after.len(),
        before,
        "nothing due at {to}, got {:?}",
        &after[before..]
    );
}

/// Sets the clock to `to`, waits for the digest, and checks that exactly
/// one arrived, at `to`, saying `local` (the team's wall clock) in its
/// subject.
async fn sent_at(clock: &FakeClock, seen: &Received, to: &str, local: &str) -> String {
    let before = seen.lock().unwrap().len();
    clock.set(at(to));
    for _ in 0..500 {
        if seen.lock().unwrap().len() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let_loops_run().await;
    let got = seen.lock().unwrap()[before..].to_vec();
    assert_eq!(got.len(), 1, "one digest at {to}: {got:?}");
    let (when, text) = got.into_iter().next().unwrap();
    assert_eq!(when, at(to));
    assert!(
        text.starts_with(&format!("*Care digest {local}:")),
        "{text}"
    );
    text
}

async fn digest_across_dst(store_url: &str, schema: Option<&str>) {
    let clock = FakeClock::new(at("2026-10-23T12:00:00Z"));
    let (hook, seen) = receiver(clock.clone()).await;
    let first = worker(store_url, schema, &clock, &hook).await;
    let second = worker(store_url, schema, &clock, &hook).await;
    // The first look records where the digest starts.
    let store = first.desk.store().clone();
    for _ in 0..500 {
        if store.value(CURSOR).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        store.value(CURSOR).await.unwrap().as_deref(),
        Some("2026-10-23T12:00:00+00:00")
    );
    // A customer writes in the afternoon.
    clock.set(at("2026-10-23T15:00:00Z"));
    let epoch = at("2026-10-23T15:00:00Z").timestamp_millis();
    let status = first
        .post_tweet(tweet_at(
            "1850000000000000001",
            "77",
            "kim",
            "@acme my order is late",
            epoch,
        ))
        .await;
    assert_eq!(status, 200);

    // Saturday 24 October, summer time (UTC+2): 09:00 is 07:00Z.
    quiet_at(&clock, &seen, "2026-10-24T06:59:59Z").await;
    let text = sent_at(
        &clock,
        &seen,
        "2026-10-24T07:00:00Z",
        "2026-10-24 09:00 CEST",
    )
    .await;
    assert!(text.contains("1 new mention"), "{text}");
    // The mention at 15:00Z is shown at 17:00 on Berlin's clocks.
    assert!(text.contains("10-23 17:00  twitter"), "{text}");
    assert!(
        text.contains("Care digest, 2026-10-23 14:00 CEST to 2026-10-24 09:00 CEST"),
        "{text}"
    );
    quiet_at(&clock, &seen, "2026-10-24T08:00:00Z").await;

    // Sunday 25 October, the day of the change (03:00 CEST → 02:00 CET):
    // 07:00Z is 08:00 local now, so nothing yet; 09:00 is 08:00Z.
    quiet_at(&clock, &seen, "2026-10-25T01:30:00Z").await;
    quiet_at(&clock, &seen, "2026-10-25T07:00:00Z").await;
    quiet_at(&clock, &seen, "2026-10-25T07:59:59Z").await;
    let text = sent_at(
        &clock,
        &seen,
        "2026-10-25T08:00:00Z",
        "2026-10-25 09:00 CET",
    )
    .await;
    assert!(text.contains("0 new mentions"), "{text}");
    assert!(
        text.contains("2026-10-24 09:00 CEST to 2026-10-25 09:00 CET"),
        "{text}"
    );
    quiet_at(&clock, &seen, "2026-10-25T20:00:00Z").await;

    // One worker is replaced by a new process on the same store: it
    // continues from the stored cursor, and still one digest a day.
    first.stop().await;
    let third = worker(store_url, schema, &clock, &hook).await;
    quiet_at(&clock, &seen, "2026-10-26T07:00:00Z").await;
    quiet_at(&clock, &seen, "2026-10-26T07:59:59Z").await;
    sent_at(
        &clock,
        &seen,
        "2026-10-26T08:00:00Z",
        "2026-10-26 09:00 CET",
    )
    .await;
    quiet_at(&clock, &seen, "2026-10-26T23:00:00Z").await;

    let days: Vec<DateTime<Utc>> = seen.lock().unwrap().iter().map(|(t, _)| *t).collect();
    assert_eq!(
        days,
        [
            at("2026-10-24T07:00:00Z"),
            at("2026-10-25T08:00:00Z"),
            at("2026-10-26T08:00:00Z"),
        ]
    );
    second.stop().await;
    third.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_berlin_digest_goes_out_at_nine_local_across_dst_once_a_day_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("desk.db").display());
    digest_across_dst(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_berlin_digest_goes_out_at_nine_local_across_dst_once_a_day_postgres() {
    let Some(url) = postgres_url("the_berlin_digest_..._postgres") else {
        return;
    };
    let schema = format!(
        "desk_digest_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    digest_across_dst(&url, Some(&schema)).await;
}
