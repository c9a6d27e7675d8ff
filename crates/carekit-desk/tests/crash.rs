//! The desk process killed (SIGKILL) 20 times at random moments during a
//! steady webhook load: every webhook that got a 2xx is stored exactly once,
//! the outbox resumes after each restart, and SLA deadlines survive.
//!
//! The sender behaves like X: a webhook that got no 2xx (refused connection,
//! reset mid-request) is delivered again later, and some acknowledged ones
//! are re-delivered too.

mod support;

use carekit_twitter::fake::{FakeX, Ledger};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use support::process::{DeskProcess, Redelivery, customer_id, deliver_tweet, free_port, tweet_id};
use support::{API_TOKEN, BRAND, X_CONSUMER_SECRET};

const ROUNDS: usize = 20;

fn replied_to(request: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(request).ok()?;
    body["reply"]["in_reply_to_tweet_id"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_twenty_times_under_webhook_load() {
    let x = FakeX::start(Ledger::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("desk.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [server]
            listen = "127.0.0.1:{port}"
            public_url = "{base}"
            [store]
            url = "sqlite://{db}"
            [desk]
            tick_ms = 10
            outbox_lease_seconds = 2
            [acknowledge]
            complaint_public = "So sorry about this. We're on it."
            neutral_public = "Thanks, we're on it."
            praise_public = "Thank you!"
            [twitter]
            brand_user_id = "{BRAND}"
            api_base = "{x}"
            posts_per_window = 100000
            window_seconds = 1
            "#,
            db = dir.path().join("desk.db").display(),
            x = x.base_url()
        ),
    )
    .unwrap();

    let secrets = dir.path().join("secrets.env");
    std::fs::write(
        &secrets,
        format!(
            "CAREKIT_API_TOKEN={API_TOKEN}\nX_CONSUMER_KEY=k\nX_CONSUMER_SECRET={X_CONSUMER_SECRET}\n\
             X_ACCESS_TOKEN=t\nX_ACCESS_TOKEN_SECRET=s\n"
        ),
    )
    .unwrap();
    let mut desk = DeskProcess::new(&config, &secrets, port);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut load = Redelivery::new(0x5eed);

    for _round in 0..ROUNDS {
        desk.start().await;
        let kill_after = Duration::from_millis(100 + load.rng.next(400));
        let deadline = tokio::time::Instant::now() + kill_after;
        let mut in_flight = tokio::task::JoinSet::new();
        // Steady load: a webhook every 2 ms until the kill.
        while tokio::time::Instant::now() < deadline {
            let id = load.next_id();
            let (http, base) = (http.clone(), base.clone());
            in_flight.spawn(async move {
                let text = "@acme my order is late and the box was broken, terrible";
                (id, deliver_tweet(&http, &base, id, text).await)
            });
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        desk.kill();
        while let Some(result) = in_flight.join_next().await {
            let (id, ok) = result.unwrap();
            load.settle(id, ok);
        }
    }
    let (acked, redelivered_after_ack) = (load.acked.clone(), load.redelivered);

    // One last start. Let the outbox drain: queued replies go out, and
    // replies a killed worker was sending wait out their lease, then are
    // checked.
    desk.start().await;
    let mut drained = false;
    for _ in 0..300 {
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.lines().any(|l| l == "carekit_outbox_depth 0") {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(drained, "the outbox resumed and drained after the restarts");

    let posted = x.received();
    let mut replies: BTreeMap<String, usize> = BTreeMap::new();
    for r in &posted {
        if let Some(parent) = replied_to(&r.body) {
            *replies.entry(parent).or_insert(0) += 1;
        }
    }
    let (mut sent, mut held) = (0usize, 0usize);
    for id in &acked {
        let found: Value = desk
            .get(&format!(
                "/api/conversations?customer=twitter:{}",
                customer_id(*id)
            ))
            .await;
        let found = found["conversations"].as_array().unwrap();
        assert_eq!(
            found.len(),
            1,
            "acknowledged webhook {id}: {} conversations",
            found.len()
        );
        assert!(
            found[0]["next_deadline"].is_string(),
            "SLA deadline lost: {:#}",
            found[0]
        );
        let detail = desk
            .get(&format!(
                "/api/conversations/{}",
                found[0]["id"].as_str().unwrap()
            ))
            .await;
        let messages = detail["messages"].as_array().unwrap();
        let inbound = messages
            .iter()
            .filter(|m| m["direction"] == "inbound")
            .count();
        assert_eq!(inbound, 1, "webhook {id} stored {inbound} times");
        let outbound: Vec<&Value> = messages
            .iter()
            .filter(|m| m["direction"] == "outbound")
            .collect();
        assert_eq!(outbound.len(), 1, "one acknowledgement queued for {id}");
        let tweet_id = tweet_id(*id);
        let times_posted = replies.get(&tweet_id).copied().unwrap_or(0);
        // Never twice in public.
        assert!(
            times_posted <= 1,
            "reply to {tweet_id} posted {times_posted} times"
        );
        match outbound[0]["delivery"].as_str() {
            Some("sent") => {
                assert_eq!(times_posted, 1);
                sent += 1;
            }
            // Killed mid-send and the timeline could not settle it.
            Some("dead_lettered") => held += 1,
            other => panic!("reply for {id} left in {other:?}"),
        }
    }
    desk.kill();
    eprintln!(
        "crash test: {ROUNDS} SIGKILLs, {} webhooks acknowledged ({redelivered_after_ack} re-deliveries of acknowledged ones), 0 lost, 0 stored twice; replies: {sent} sent once, {held} held for review, 0 posted twice",
        acked.len()
    );
    assert!(acked.len() > 100, "the load was real");
    assert_eq!(
        held, 0,
        "every interrupted reply was settled from X's timeline"
    );
    assert_eq!(sent, acked.len());
}
