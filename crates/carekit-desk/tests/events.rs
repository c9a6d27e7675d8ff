//! `GET /api/events`, the live event stream, and presence:
//!
//! - a signed X webhook's message reaches a connected client in under 1 s;
//! - two desk servers on one Postgres schema: what is done through one
//!   (the webhook, an assignment, a reply) reaches a client of the other;
//! - no token 401, a token without `read` 403, a revoked token's stream
//!   ends, a disabled agent's too;
//! - presence announced by agent X reaches agent Y with X's authenticated
//!   id whatever the body claims; typing needs `reply`;
//! - `Last-Event-ID` resumes with exactly the missed events; garbage or an
//!   id from the future is 400; an id older than the feed keeps gets an
//!   explicit `reset`.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Limits, TestDesk, postgres_url, tweet};

/// One Server-Sent Event.
#[derive(Clone, Debug)]
struct SseEvent {
    id: Option<String>,
    event: String,
    data: Value,
}

/// What the next read of a stream gave.
#[derive(Debug)]
enum Next {
    Event(SseEvent),
    /// The server ended the stream.
    Ended,
    /// Nothing within the time given.
    Quiet,
}

/// A tiny SSE reader over reqwest's streaming body.
struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    /// Opens `/api/events` with `token` (and `Last-Event-ID`): the client,
    /// or the refusal's status and JSON.
    async fn open(
        desk: &TestDesk,
        token: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<Self, (u16, Value)> {
        let mut request = reqwest::Client::new().get(desk.url("/api/events"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            return Err((status, response.json().await.unwrap_or(Value::Null)));
        }
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Ok(Self {
            response,
            buffer: String::new(),
        })
    }

    /// The next event (keep-alive comments skipped) within `within`.
    async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Next::Event(event);
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(bytes))) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8 events")),
                Ok(Ok(None)) | Ok(Err(_)) => return Next::Ended,
            }
        }
    }

    /// The next event named `name` for which `matches` holds, skipping
    /// others; panics after `within`.
    async fn wait_for(
        &mut self,
        name: &str,
        within: Duration,
        matches: impl Fn(&SseEvent) -> bool,
    ) -> SseEvent {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Next::Event(e) if e.event == name && matches(&e) => return e,
                Next::Event(_) => {}
                other => panic!("no {name} event within {within:?}: {other:?}"),
            }
        }
    }

    /// Every event until the stream is quiet for `quiet`.
    async fn drain(&mut self, quiet: Duration) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Next::Event(e) = self.next(quiet).await {
            out.push(e);
        }
        out
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    let event = event?;
    Some(SseEvent {
        id,
        event,
        data: serde_json::from_str(&data).expect("event data is JSON"),
    })
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("desk.db").display())
}

const SECRET_WORDS: &str = "my card 4111 and parcel 77 are lost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_message_reaches_a_connected_client_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let desk = TestDesk::start(&sqlite_url(&dir), None).await;
    let mut client = SseClient::open(&desk, Some(&desk.token), None)
        .await
        .unwrap();
    let started = Instant::now();
    let status = desk
        .post_tweet(tweet(
            "1001",
            "1111",
            "ann",
            &format!("@acme {SECRET_WORDS}"),
        ))
        .await;
    assert_eq!(status, 200);
    let message = client
        .wait_for("message", Duration::from_secs(5), |e| {
            e.data["direction"] == "inbound"
        })
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "the message took {elapsed:?}"
    );
    let conversations = desk.conversations(1).await;
    assert_eq!(message.data["conversation"], conversations[0]["id"]);
    assert_eq!(message.data["type"], "message");
    assert_eq!(message.data["visibility"], "public");
    assert_eq!(message.id.as_deref(), message.data["position"].as_str());
    // Ids and states only: never the customer's words or platform JSON.
    let raw = message.data.to_string();
    assert!(!raw.contains("parcel") && !raw.contains("4111") && !raw.contains("id_str"));
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_server_reaches_clients_of_another() {
    let Some(url) = postgres_url("a_change_through_one_server_reaches_clients_of_another") else {
        return;
    };
    let schema = format!("desk_events_{}", std::process::id());
    let a = TestDesk::start(&url, Some(&schema)).await;
    let b = TestDesk::start(&url, Some(&schema)).await;
    let mut on_b = SseClient::open(&b, Some(&b.token), None).await.unwrap();

    let started = Instant::now();
    assert_eq!(
        a.post_tweet(tweet("2001", "2222", "bo", "@acme where is my order"))
            .await,
        200
    );
    let message = on_b
        .wait_for("message", Duration::from_secs(5), |e| {
            e.data["direction"] == "inbound"
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let conversation = message.data["conversation"].as_str().unwrap().to_owned();

    // The admin takes it and replies, through A.
    let (_, me) = a.api("/api/me").await;
    let admin = me["agent"]["id"].as_str().unwrap().to_owned();
    let (status, answer) = a
        .api_post(
            &format!("/api/conversations/{conversation}/assign"),
            json!({ "agent": admin }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    // (A policy may have routed it to a team first: that is an assignment too.)
    on_b.wait_for("assigned", Duration::from_secs(5), |e| {
        e.data["conversation"] == conversation.as_str() && e.data["agent"] == admin.as_str()
    })
    .await;
    let (status, answer) = a
        .api_post(
            &format!("/api/conversations/{conversation}/reply"),
            json!({ "text": "So sorry, looking now" }),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let reply_id = answer["message_id"].as_str().unwrap().to_owned();
    on_b.wait_for("message", Duration::from_secs(5), |e| {
        e.data["message"] == reply_id.as_str() && e.data["direction"] == "outbound"
    })
    .await;
    // Whichever worker's outbox sends it, B's clients hear the delivery.
    let sent = on_b
        .wait_for("delivery", Duration::from_secs(10), |e| {
            e.data["message"] == reply_id.as_str()
        })
        .await;
    assert_eq!(sent.data["state"], "sent");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tokens_that_read_get_a_stream_and_revoking_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let desk = TestDesk::start(&sqlite_url(&dir), None).await;
    let (status, answer) = SseClient::open(&desk, None, None).await.err().unwrap();
    assert_eq!(status, 401, "{answer}");
    let (status, _) = SseClient::open(&desk, Some("ckd_forged-token-of-nobody"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    let writer = desk.make_agent("wren", "agent", None).await;
    let (reply_only, _) = desk.make_token(&writer, Some(&["reply"])).await;
    let (status, answer) = SseClient::open(&desk, Some(&reply_only), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["missing_scope"], "read");

    // A revoked token's stream ends within a few seconds.
    let (reader, reader_id) = desk.make_token(&writer, None).await;
    let mut stream = SseClient::open(&desk, Some(&reader), None).await.unwrap();
    let (status, _) = desk
        .api_post(&format!("/api/tokens/{reader_id}/revoke"), json!({}))
        .await;
    assert_eq!(status, 200);
    let revoked_at = Instant::now();
    // Changes keep coming; none reaches the revoked stream after its end.
    assert_eq!(
        desk.post_tweet(tweet("3001", "3333", "cy", "@acme hello"))
            .await,
        200
    );
    loop {
        match stream.next(Duration::from_secs(6)).await {
            Next::Ended => break,
            Next::Event(e) => assert!(
                revoked_at.elapsed() < Duration::from_secs(3),
                "an event after revocation: {e:?}"
            ),
            Next::Quiet => panic!("the revoked token's stream is still open"),
        }
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(5));

    // A disabled agent's stream ends too.
    let (second, _) = desk.make_token(&writer, None).await;
    let mut stream = SseClient::open(&desk, Some(&second), None).await.unwrap();
    let (status, _) = desk
        .api_post(&format!("/api/agents/{writer}/disable"), json!({}))
        .await;
    assert_eq!(status, 200);
    let disabled_at = Instant::now();
    while let Next::Event(_) = stream.next(Duration::from_secs(6)).await {}
    assert!(disabled_at.elapsed() < Duration::from_secs(5));
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_names_the_authenticated_agent() {
    let dir = tempfile::tempdir().unwrap();
    let desk = TestDesk::start(&sqlite_url(&dir), None).await;
    assert_eq!(
        desk.post_tweet(tweet("4001", "4444", "di", "@acme hi"))
            .await,
        200
    );
    let conversation = desk.conversations(1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let xavier = desk.make_agent("xavier", "agent", None).await;
    let yara = desk.make_agent("yara", "agent", None).await;
    let (x_token, _) = desk.make_token(&xavier, None).await;
    let (y_token, _) = desk.make_token(&yara, None).await;
    let mut y_stream = SseClient::open(&desk, Some(&y_token), None).await.unwrap();

    // X claims to be Y in the body: ignored.
    let path = format!("/api/conversations/{conversation}/presence");
    let (status, answer) = desk
        .api_post_as(
            &x_token,
            &path,
            json!({ "activity": "typing", "agent": yara }),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["agent"], xavier.as_str());
    let seen = y_stream
        .wait_for("presence", Duration::from_secs(5), |_| true)
        .await;
    assert_eq!(seen.data["agent"], xavier.as_str());
    assert_eq!(seen.data["activity"], "typing");
    assert_eq!(seen.data["conversation"], conversation.as_str());
    assert!(seen.data["until"].is_string());

    // Typing needs `reply`; viewing needs only `read`.
    let (read_only, _) = desk.make_token(&yara, Some(&["read"])).await;
    let (status, answer) = desk
        .api_post_as(&read_only, &path, json!({ "activity": "typing" }))
        .await;
    assert_eq!(status, 403, "{answer}");
    let (status, _) = desk
        .api_post_as(&read_only, &path, json!({ "activity": "viewing" }))
        .await;
    assert_eq!(status, 202);
    let seen = y_stream
        .wait_for("presence", Duration::from_secs(5), |_| true)
        .await;
    assert_eq!(seen.data["agent"], yara.as_str());
    assert_eq!(seen.data["activity"], "viewing");

    // Bad input: typed refusals, nothing announced.
    for (path, body) in [
        (path.clone(), json!({ "activity": "dancing" })),
        (path.clone(), json!({ "activity": "ποιώ" })),
        (path.clone(), json!({})),
        (
            "/api/conversations/not-an-id/presence".to_owned(),
            json!({ "activity": "viewing" }),
        ),
        (
            format!(
                "/api/conversations/{}/presence",
                "00000000-0000-4000-8000-000000000000"
            ),
            json!({ "activity": "viewing" }),
        ),
    ] {
        let (status, answer) = desk.api_post_as(&x_token, &path, body).await;
        assert!((400..500).contains(&status), "{path}: {status} {answer}");
    }
    let huge = "x".repeat(300_000);
    let (status, _) = desk
        .api_post_as(&x_token, &path, json!({ "activity": huge }))
        .await;
    assert_eq!(status, 413);
    let others = y_stream.drain(Duration::from_millis(600)).await;
    assert!(others.iter().all(|e| e.event != "presence"), "{others:?}");
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resumes_with_exactly_the_missed_events() {
    let dir = tempfile::tempdir().unwrap();
    let desk = TestDesk::start(&sqlite_url(&dir), None).await;
    let mut steady = SseClient::open(&desk, Some(&desk.token), None)
        .await
        .unwrap();
    let mut leaving = SseClient::open(&desk, Some(&desk.token), None)
        .await
        .unwrap();
    assert_eq!(
        desk.post_tweet(tweet("5001", "5555", "ed", "@acme one"))
            .await,
        200
    );
    let first = leaving
        .wait_for("message", Duration::from_secs(5), |_| true)
        .await;
    let last_seen = first.id.clone().unwrap();
    drop(leaving);

    // Missed while away: more messages, a tag, a reply.
    let conversation = first.data["conversation"].as_str().unwrap().to_owned();
    assert_eq!(
        desk.post_tweet(tweet("5002", "5555", "ed", "@acme two"))
            .await,
        200
    );
    let (status, _) = desk
        .api_post(
            &format!("/api/conversations/{conversation}/tags"),
            json!({ "tag": "late" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = desk
        .api_post(
            &format!("/api/conversations/{conversation}/reply"),
            json!({ "text": "On it" }),
        )
        .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let everything = steady.drain(Duration::from_millis(800)).await;
    let missed: Vec<String> = everything
        .iter()
        .skip_while(|e| e.id.as_deref() != Some(last_seen.as_str()))
        .skip(1)
        .map(|e| e.id.clone().unwrap())
        .collect();
    assert!(missed.len() >= 4, "{everything:?}");

    let mut back = SseClient::open(&desk, Some(&desk.token), Some(&last_seen))
        .await
        .unwrap();
    let replayed: Vec<String> = back
        .drain(Duration::from_millis(800))
        .await
        .into_iter()
        .map(|e| e.id.unwrap())
        .collect();
    assert_eq!(replayed, missed, "exactly the missed events, in order");

    // Garbage, or an id this desk never gave: 400.
    for bad in ["banana", "1-2-3", "-1", "0-99999999", "ä-1", ""] {
        let (status, answer) = SseClient::open(&desk, Some(&desk.token), Some(bad))
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert_eq!(status, 400, "{bad:?}: {answer}");
    }
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_older_than_the_feed_keeps_gets_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    // The tick prunes the feed once a minute of the desk's clock: the test
    // moves that clock on once the messages are in.
    let clock = carekit_core::FakeClock::new(chrono::Utc::now());
    let desk = TestDesk::start_with(
        &sqlite_url(&dir),
        None,
        Limits {
            desk_extra: "events_poll_ms = 5\nevents_kept = 2".into(),
            clock: Some(std::sync::Arc::new(clock.clone())),
            ..Limits::default()
        },
    )
    .await;
    let mut client = SseClient::open(&desk, Some(&desk.token), None)
        .await
        .unwrap();
    for n in 0..4 {
        let id = format!("600{n}");
        assert_eq!(
            desk.post_tweet(tweet(&id, &format!("66{n}"), "fi", "@acme hey"))
                .await,
            200
        );
    }
    let first = client
        .wait_for("message", Duration::from_secs(5), |_| true)
        .await;
    let old = first.id.unwrap();
    clock.advance(chrono::Duration::minutes(2));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut late = SseClient::open(&desk, Some(&desk.token), Some(&old))
            .await
            .unwrap();
        match late.next(Duration::from_secs(2)).await {
            Next::Event(e) if e.event == "reset" => {
                assert!(e.id.is_some());
                assert_eq!(e.data["position"].as_str(), e.id.as_deref());
                break;
            }
            // Not pruned yet: replayed instead.
            Next::Event(_) => {}
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "never pruned");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    desk.stop().await;
}
