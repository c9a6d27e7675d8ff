//! The desk server end to end: every webhook route with correctly signed
//! and forged payloads, then the result through the JSON API; on a temp
//! SQLite file, and on Postgres when `CAREKIT_TEST_POSTGRES_URL` is set.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start(&url, None).await;
    drive_every_route(&desk).await;
    desk.stop().await;
}

/// The same routes acknowledged on receipt: each webhook answers once its
/// event is journaled in `[inbox]`, and the drain ingests it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_sqlite_through_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let limits = Limits {
        inbox_dir: Some(dir.path().join("inbox")),
        ..Limits::default()
    };
    let desk = TestDesk::start_with(&url, None, limits).await;
    drive_every_route(&desk).await;
    desk.stop().await;
    // Everything acknowledged was handled: the cursor is at the journal's end.
    let cursor = std::fs::read_to_string(dir.path().join("inbox/cursor")).unwrap();
    let journal = std::fs::metadata(dir.path().join("inbox/00000000000000000000.log")).unwrap();
    assert_eq!(cursor.trim(), format!("0 {}", journal.len()));
    assert!(journal.len() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_postgres() {
    let Some(url) = postgres_url("every_route_on_postgres") else {
        return;
    };
    let schema = format!("desk_server_{}", std::process::id());
    let desk = TestDesk::start(&url, Some(&schema)).await;
    drive_every_route(&desk).await;
    desk.stop().await;
}

async fn drive_every_route(desk: &TestDesk) {
    // --- X: CRC, a signed mention, a forged one -------------------------
    let crc = desk
        .http
        .get(desk.url("/webhooks/twitter?crc_token=challenge-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(crc.status(), 200);
    let crc: Value = crc.json().await.unwrap();
    assert_eq!(
        crc["response_token"],
        x_signature(X_CONSUMER_SECRET, b"challenge-123")
    );
    let body = tweet(
        "1800000000000000001",
        "1111",
        "ann",
        "@acme my order is two weeks late",
    );
    let sig = x_signature(X_CONSUMER_SECRET, &body);
    assert_eq!(
        desk.post(
            "/webhooks/twitter",
            &[
                ("x-twitter-webhooks-signature", sig),
                ("content-type", "application/json".into())
            ],
            body
        )
        .await,
        200
    );
    let forged = tweet(
        "1800000000000000002",
        "2222",
        "mallory",
        "@acme forged complaint",
    );
    let status = desk
        .post(
            "/webhooks/twitter",
            &[(
                "x-twitter-webhooks-signature",
                x_signature("wrong-secret", &forged),
            )],
            forged,
        )
        .await;
    assert!(
        status == 401 || status == 403,
        "forged X webhook got {status}"
    );

    // --- Facebook: handshake, a comment, a Messenger message, forgeries --
    let hub = |token: &str| {
        desk.url(&format!(
            "/webhooks/facebook?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        ))
    };
    let ok = desk.http.get(hub(FB_VERIFY)).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = desk.http.get(hub("guess")).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    for body in [
        page_comment(
            "444444444_555555555",
            "156407155145863",
            "My order arrived broken.",
        ),
        messenger("m_first", "6000000000000001", "Hi, where is my refund?"),
    ] {
        let sig = meta_signature(FB_APP_SECRET, &body);
        let status = desk
            .post(
                "/webhooks/facebook",
                &[
                    ("x-hub-signature-256", sig),
                    ("content-type", "application/json".into()),
                ],
                body,
            )
            .await;
        assert_eq!(status, 200);
    }
    let forged = messenger("m_forged", "6000000000000009", "forged");
    let status = desk
        .post(
            "/webhooks/facebook",
            &[("x-hub-signature-256", meta_signature("nope", &forged))],
            forged,
        )
        .await;
    assert!(
        status == 401 || status == 403,
        "forged FB webhook got {status}"
    );

    // --- Twilio: an inbound SMS, a status callback, a forgery ------------
    let sms_url = desk.url("/webhooks/twilio/sms");
    let params = sms_params(
        "SM11111111111111111111111111111111",
        "+14155552671",
        "My package never came",
    );
    let sig = twilio_signature(TWILIO_TOKEN, &sms_url, &params);
    let status = desk
        .post(
            "/webhooks/twilio/sms",
            &[
                ("x-twilio-signature", sig),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            serde_urlencoded::to_string(&params).unwrap().into_bytes(),
        )
        .await;
    assert_eq!(status, 200);
    let forged = sms_params(
        "SM22222222222222222222222222222222",
        "+14155550199",
        "forged",
    );
    let status = desk
        .post(
            "/webhooks/twilio/sms",
            &[
                (
                    "x-twilio-signature",
                    twilio_signature("wrong", &sms_url, &forged),
                ),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            serde_urlencoded::to_string(&forged).unwrap().into_bytes(),
        )
        .await;
    assert!(status == 401 || status == 403, "forged SMS got {status}");
    let status_url = desk.url("/webhooks/twilio/sms/status");
    let callback = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("MessageStatus", "delivered"),
        ("AccountSid", TWILIO_SID),
        ("From", SMS_FROM),
        ("To", "+14155552671"),
    ];
    let status = desk
        .post(
            "/webhooks/twilio/sms/status",
            &[
                (
                    "x-twilio-signature",
                    twilio_signature(TWILIO_TOKEN, &status_url, &callback),
                ),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            serde_urlencoded::to_string(callback).unwrap().into_bytes(),
        )
        .await;
    assert!((200..300).contains(&status), "status callback got {status}");

    // --- Email: a raw message with the shared secret, and without ---------
    let status = desk
        .post(
            "/webhooks/email",
            &[
                ("x-carekit-secret", EMAIL_SECRET.into()),
                ("content-type", "message/rfc822".into()),
            ],
            email(
                "m1@customer.example",
                "dana@customer.example",
                "Invoice wrong",
                "You charged me twice.",
            ),
        )
        .await;
    assert!((200..300).contains(&status), "email got {status}");
    let status = desk
        .post(
            "/webhooks/email",
            &[
                ("x-carekit-secret", "guess".into()),
                ("content-type", "message/rfc822".into()),
            ],
            email("m2@evil.example", "eve@evil.example", "forged", "forged"),
        )
        .await;
    assert!(status == 401 || status == 403, "forged email got {status}");

    // --- Oversized bodies are refused unread --------------------------------
    let huge = vec![b'x'; 300 * 1024];
    let sig = x_signature(X_CONSUMER_SECRET, &huge);
    let status = desk
        .post(
            "/webhooks/twitter",
            &[("x-twitter-webhooks-signature", sig)],
            huge,
        )
        .await;
    assert_eq!(status, 413);

    // --- The API: auth, then exactly the five genuine conversations --------
    let anonymous = desk
        .http
        .get(desk.url("/api/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = desk
        .http
        .get(desk.url("/api/conversations"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let list = desk.conversations(5).await;
    let mut channels: Vec<String> = list
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["channel"].as_str().unwrap(),
                c["visibility"].as_str().unwrap()
            )
        })
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [
            "email/private",
            "facebook/private",
            "facebook/public",
            "sms/private",
            "twitter/public"
        ],
        "only genuine webhooks are stored: {list:#?}"
    );
    let all_text = serde_json::to_string(&list).unwrap();
    assert!(!all_text.contains("mallory") && !all_text.contains("+14155550199"));

    let by = |channel: &str, visibility: &str| -> Value {
        list.iter()
            .find(|c| c["channel"] == channel && c["visibility"] == visibility)
            .cloned()
            .unwrap()
    };
    let (status, filtered) = desk.api("/api/conversations?channel=sms").await;
    assert_eq!(status, 200);
    assert_eq!(filtered["conversations"].as_array().unwrap().len(), 1);
    let (status, mine) = desk
        .api("/api/conversations?customer=sms:%2B14155552671")
        .await;
    assert_eq!(status, 200);
    assert_eq!(mine["conversations"].as_array().unwrap().len(), 1);
    let (_, nobody) = desk.api("/api/conversations?customer=twitter:999").await;
    assert!(nobody["conversations"].as_array().unwrap().is_empty());
    let (status, _) = desk.api("/api/conversations?channel=pigeon").await;
    assert_eq!(status, 400);

    // Detail: messages and the audit trail (the SLA policy applied).
    let sms = by("sms", "private");
    let id = sms["id"].as_str().unwrap().to_owned();
    let (status, detail) = desk.api(&format!("/api/conversations/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["messages"][0]["text"], "My package never came");
    assert!(
        !detail["audit"].as_array().unwrap().is_empty(),
        "audit trail present"
    );
    let (status, _) = desk
        .api("/api/conversations/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(status, 404);

    // Reply on SMS: queued, then sent to Twilio by the outbox worker.
    let (status, queued) = desk
        .api_post(
            &format!("/api/conversations/{id}/reply"),
            json!({"text": "So sorry, Ann. A replacement ships today.", "agent": "sam"}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    wait_for(|| async {
        desk.platforms
            .twilio
            .received()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("replacement+ships+today"))
    })
    .await;
    let (_, empty) = desk
        .api_post(
            &format!("/api/conversations/{id}/reply"),
            json!({"text": "  "}),
        )
        .await;
    assert!(empty["error"].as_str().unwrap().contains("empty"));

    // Handoff: the public tweet moves to a DM, linked as one case.
    let tweet_id = by("twitter", "public")["id"].as_str().unwrap().to_owned();
    let (status, handed) = desk
        .api_post(
            &format!("/api/conversations/{tweet_id}/handoff"),
            json!({"to": "twitter", "public_text": "Sorry Ann! We've sent you a DM to sort this out.", "private_text": "Hi Ann, can you share your order number?", "agent": "sam"}),
        )
        .await;
    assert_eq!(status, 202, "{handed}");
    let private = handed["private_conversation"].as_str().unwrap();
    let (_, detail) = desk.api(&format!("/api/conversations/{tweet_id}")).await;
    assert!(
        detail["conversation"]["linked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == private),
        "{detail:#}"
    );
    wait_for(|| async {
        let requests = desk.platforms.x.received();
        let public = requests.iter().any(|r| r.path() == "/2/tweets");
        let dm = requests
            .iter()
            .any(|r| r.path().starts_with("/2/dm_conversations/with/1111/"));
        public && dm
    })
    .await;

    // Resolve.
    let (status, _) = desk
        .api_post(
            &format!("/api/conversations/{id}/resolve"),
            json!({"agent": "sam"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, detail) = desk.api(&format!("/api/conversations/{id}")).await;
    assert_eq!(detail["conversation"]["status"], "resolved");

    // The report sees what happened (the events are stamped March 2026;
    // without a range the summary covers the last 7 days of the clock).
    let (status, report) = desk
        .api("/api/reports/summary?from=2026-01-01&to=2027-01-01")
        .await;
    assert_eq!(status, 200);
    assert!(
        report["total"]["conversations"].as_u64().unwrap() >= 5,
        "{report:#}"
    );

    // Health and metrics.
    let health: Value = desk
        .http
        .get(desk.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let metrics = desk.metrics().await;
    for line in [
        "carekit_events_ingested_total{channel=\"twitter\"} 1",
        "carekit_events_ingested_total{channel=\"facebook\"} 2",
        // The inbound SMS and its delivery status callback.
        "carekit_events_ingested_total{channel=\"sms\"} 2",
        "carekit_events_ingested_total{channel=\"email\"} 1",
        "carekit_outbox_depth",
        "carekit_http_requests_total{route=\"/webhooks/twitter\",status=\"413\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    for secret in secrets().values() {
        assert!(!metrics.contains(secret), "a secret leaked into /metrics");
    }
}

async fn wait_for<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the outbox"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `/api/crisis`: only a token holder switches it; a malformed or oversized
/// request changes nothing; the switch and its holding statement show in
/// the answer and in `/healthz` (the `workers` test shows other processes
/// obeying it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crisis_mode_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start(&url, None).await;
    let (status, calm) = desk.api("/api/crisis").await;
    assert_eq!(status, 200);
    assert_eq!(
        calm,
        json!({ "crisis_mode": false, "holding_statement": null, "incidents": [] })
    );

    let forged = reqwest::Client::new()
        .post(desk.url("/api/crisis"))
        .bearer_auth("not-the-token")
        .json(&json!({ "on": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    for bad in [
        json!({ "on": "yes" }),
        json!({ "on": true, "holding": "typo" }),
        json!({ "on": true, "holding_statement": "x".repeat(300 * 1024) }),
    ] {
        let (status, _) = desk.api_post("/api/crisis", bad.clone()).await;
        assert!((400..500).contains(&status), "{status} for {bad:.60}");
    }
    assert_eq!(desk.api("/api/crisis").await.1["crisis_mode"], false);

    let (status, on) = desk
        .api_post(
            "/api/crisis",
            json!({ "on": true, "holding_statement": "We know; updates here." }),
        )
        .await;
    assert_eq!(status, 200, "{on}");
    assert_eq!(on["crisis_mode"], true);
    assert_eq!(on["holding_statement"], "We know; updates here.");
    assert_eq!(desk.api("/healthz").await.1["crisis_mode"], true);
    desk.stop().await;
}
