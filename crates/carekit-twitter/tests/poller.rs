//! Polling: resume from the stored cursor, never hand a tweet over twice,
//! slow down on rate limits.

mod support;

use std::sync::Arc;
use std::time::Duration;

use carekit_core::{EventSink, FakeClock, KeyValues, MemoryStore, TokioClock};
use carekit_testing::{CollectingSink, at};
use carekit_twitter::{Auth, PollError, Poller, TwitterError, XClient};
use support::*;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> XClient {
    XClient::builder(Auth::oauth1("ck", "cs", "at", "as"), BRAND)
        .api_base(server.uri())
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:30:00Z"))))
        .build()
        .unwrap()
}

fn mention(id: &str) -> serde_json::Value {
    v2_tweet(id, CUSTOMER, &format!("@acme message {id}"), id, None)
}

fn mentions_path() -> String {
    format!("/2/users/{BRAND}/mentions")
}

fn ids(sink: &CollectingSink) -> Vec<String> {
    sink.events().into_iter().map(|e| e.external_id).collect()
}

#[tokio::test]
async fn resumes_from_the_stored_since_id_after_a_restart_and_never_hands_over_twice() {
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    // First start: no cursor, the latest page.
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .and(query_param_is_missing("since_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![
                mention("1800000000000000002"),
                mention("1800000000000000001"),
            ],
            Some("older-page-token"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    // After: everything newer than 002, over two pages (newest first);
    // X repeats 002 at the edge, which must not be handed over again.
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .and(query_param("since_id", "1800000000000000002"))
        .and(query_param_is_missing("pagination_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![
                mention("1800000000000000005"),
                mention("1800000000000000004"),
            ],
            Some("page2"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .and(query_param("since_id", "1800000000000000002"))
        .and(query_param("pagination_token", "page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![
                mention("1800000000000000003"),
                mention("1800000000000000002"),
            ],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .and(query_param("since_id", "1800000000000000005"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(vec![], None)))
        .expect(1)
        .mount(&server)
        .await;

    let store = Arc::new(MemoryStore::new());
    let sink = Arc::new(CollectingSink::new());
    let first = Poller::builder(
        client(&server),
        sink.clone() as Arc<dyn EventSink>,
        store.clone(),
    )
    .direct_messages(false)
    .build();
    let report = first.poll_once().await.unwrap();
    assert_eq!(report.pages, 1, "first start reads only the latest page");
    assert_eq!(
        ids(&sink),
        ["1800000000000000001", "1800000000000000002"],
        "oldest first"
    );
    assert_eq!(
        store
            .load_value(&first.mentions_cursor())
            .await
            .unwrap()
            .as_deref(),
        Some("1800000000000000002")
    );
    drop(first);

    // "Restart": a new poller over the same store.
    let second = Poller::builder(
        client(&server),
        sink.clone() as Arc<dyn EventSink>,
        store.clone(),
    )
    .direct_messages(false)
    .build();
    second.poll_once().await.unwrap();
    second.poll_once().await.unwrap();
    let all = ids(&sink);
    assert_eq!(
        all,
        [
            "1800000000000000001",
            "1800000000000000002",
            "1800000000000000003",
            "1800000000000000004",
            "1800000000000000005"
        ]
    );
    spec.validate_all(&server.received_requests().await.unwrap());
}

#[tokio::test]
async fn a_sink_failure_keeps_the_cursor_at_the_last_event_taken() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .and(query_param("since_id", "1800000000000000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![
                mention("1800000000000000004"),
                mention("1800000000000000003"),
                mention("1800000000000000002"),
            ],
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .and(query_param("since_id", "1800000000000000002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![
                mention("1800000000000000004"),
                mention("1800000000000000003"),
            ],
            None,
        )))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let sink = Arc::new(FailOnce::new(CollectingSink::new(), "1800000000000000003"));
    let poller = Poller::builder(
        client(&server),
        sink.clone() as Arc<dyn EventSink>,
        store.clone(),
    )
    .direct_messages(false)
    .build();
    store
        .save_value(&poller.mentions_cursor(), "1800000000000000001")
        .await
        .unwrap();
    assert!(matches!(poller.poll_once().await, Err(PollError::Sink(_))));
    assert_eq!(
        store
            .load_value(&poller.mentions_cursor())
            .await
            .unwrap()
            .as_deref(),
        Some("1800000000000000002")
    );
    poller.poll_once().await.unwrap();
    assert_eq!(
        ids(&sink.inner),
        [
            "1800000000000000002",
            "1800000000000000003",
            "1800000000000000004"
        ]
    );
}

/// Refuses the event with `id` once (the database blinked).
struct FailOnce {
    inner: CollectingSink,
    id: String,
    failed: std::sync::atomic::AtomicBool,
}

impl FailOnce {
    fn new(inner: CollectingSink, id: &str) -> Self {
        Self {
            inner,
            id: id.into(),
            failed: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl EventSink for FailOnce {
    async fn accept(
        &self,
        event: carekit_core::InboundEvent,
    ) -> Result<(), carekit_core::IntakeError> {
        if event.external_id == self.id
            && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(carekit_core::IntakeError::Unavailable("db down".into()));
        }
        self.inner.accept(event).await
    }
}

#[tokio::test]
async fn dm_polling_reads_until_a_known_event_and_resumes() {
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/dm_events"))
        .and(query_param_is_missing("pagination_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dm_page(
            vec![
                dm_event("1800000000000000013", BRAND, "On it"),
                dm_event("1800000000000000012", CUSTOMER, "order 4411"),
            ],
            Some("1EF1LRTTD6T9ZXN5"),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/dm_events"))
        .and(query_param("pagination_token", "1EF1LRTTD6T9ZXN5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dm_page(
            vec![
                dm_event("1800000000000000011", CUSTOMER, "hello?"),
                dm_event("1800000000000000010", CUSTOMER, "old, already taken"),
            ],
            Some("1EF1LRTTD6T9ZXN6"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let sink = Arc::new(CollectingSink::new());
    let poller = Poller::builder(
        client(&server),
        sink.clone() as Arc<dyn EventSink>,
        store.clone(),
    )
    .mentions(false)
    .build();
    store
        .save_value(&poller.dm_cursor(), "1800000000000000010")
        .await
        .unwrap();
    poller.poll_once().await.unwrap();
    let events = sink.events();
    let got: Vec<&str> = events.iter().map(|e| e.external_id.as_str()).collect();
    assert_eq!(
        got,
        [
            "1800000000000000011",
            "1800000000000000012",
            "1800000000000000013"
        ]
    );
    assert_eq!(events[2].kind, carekit_core::EventKind::Echo);
    assert_eq!(events[2].author.handle, CUSTOMER);
    assert_eq!(
        store
            .load_value(&poller.dm_cursor())
            .await
            .unwrap()
            .as_deref(),
        Some("1800000000000000013")
    );
    spec.validate_all(&server.received_requests().await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_429_reports_the_wait_until_the_reset() {
    let server = MockServer::start().await;
    let anchor = at("2026-03-02T09:30:00Z");
    let reset = anchor.timestamp() + 90;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .respond_with(rate_headers(
            ResponseTemplate::new(429).set_body_json(serde_json::json!({ "title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests" })),
            75,
            0,
            reset,
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(mentions_page(vec![mention("1800000000000000001")], None)),
        )
        .mount(&server)
        .await;
    let client = XClient::builder(Auth::bearer("t"), BRAND)
        .api_base(server.uri())
        .clock(Arc::new(TokioClock::new(anchor)))
        .http_client(
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let sink = Arc::new(CollectingSink::new());
    let poller = Poller::builder(
        client,
        sink.clone() as Arc<dyn EventSink>,
        Arc::new(MemoryStore::new()),
    )
    .interval(Duration::from_secs(10))
    .direct_messages(false)
    .build();

    // The first round meets the 429 and says how long to wait.
    let first = poller.poll_once().await;
    match &first {
        Err(PollError::Api(TwitterError::RateLimited { retry_after })) => {
            assert_eq!(*retry_after, Duration::from_secs(90))
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(poller.next_wait(&first), Duration::from_secs(90));
    // Nothing was handed over and the cursor did not move.
    assert!(sink.events().is_empty());
    let second = poller.poll_once().await.unwrap();
    assert_eq!(second.handed_over, 1);
}

#[tokio::test(start_paused = true)]
async fn the_run_loop_waits_out_the_reset_instead_of_hammering() {
    let server = MockServer::start().await;
    let anchor = at("2026-03-02T09:30:00Z");
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .respond_with(rate_headers(
            ResponseTemplate::new(429).set_body_json(serde_json::json!({ "title": "Too Many Requests", "type": "about:blank", "status": 429 })),
            75,
            0,
            anchor.timestamp() + 90,
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(mentions_path()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(mentions_page(vec![mention("1800000000000000001")], None)),
        )
        .mount(&server)
        .await;
    let client = XClient::builder(Auth::bearer("t"), BRAND)
        .api_base(server.uri())
        .clock(Arc::new(TokioClock::new(anchor)))
        .http_client(
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let sink = Arc::new(CollectingSink::new());
    let poller = Poller::builder(
        client,
        sink.clone() as Arc<dyn EventSink>,
        Arc::new(MemoryStore::new()),
    )
    .interval(Duration::from_secs(10))
    .direct_messages(false)
    .build();
    let start = tokio::time::Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let poller = poller.clone();
        async move {
            poller
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let count = || async { server.received_requests().await.unwrap().len() };
    while count().await < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Well past the 10 s interval, still only the one (429) call.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(count().await, 1, "polled again before X's reset");
    while count().await < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(90),
        "second call after {waited:?}"
    );
    while sink.events().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ids(&sink), ["1800000000000000001"]);
    let _ = stop.send(());
    task.await.unwrap();
}

#[test]
fn pacing_spreads_the_remaining_calls_over_the_window() {
    // Covered through next_wait: remaining 2 of 75 with 300 s to the reset
    // gives 100 s between rounds, more than a 10 s interval.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = MockServer::start().await;
        let now = at("2026-03-02T09:30:00Z");
        Mock::given(method("GET"))
            .and(path(mentions_path()))
            .respond_with(rate_headers(
                ResponseTemplate::new(200).set_body_json(mentions_page(vec![], None)),
                75,
                2,
                now.timestamp() + 300,
            ))
            .mount(&server)
            .await;
        let poller = Poller::builder(
            client(&server),
            Arc::new(CollectingSink::new()) as Arc<dyn EventSink>,
            Arc::new(MemoryStore::new()),
        )
        .interval(Duration::from_secs(10))
        .direct_messages(false)
        .build();
        let result = poller.poll_once().await;
        assert_eq!(poller.next_wait(&result), Duration::from_secs(100));
    });
}
