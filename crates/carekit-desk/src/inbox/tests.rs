use super::*;
use carekit_core::{ChannelKind, Identity, Visibility};
use mockall::Sequence;
use std::sync::atomic::AtomicUsize;

mockall::mock! {
    Sink {}
    #[async_trait]
    impl EventSink for Sink {
        async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError>;
        async fn accept_all(&self, events: Vec<InboundEvent>) -> Result<(), IntakeError>;
    }
}

fn event(id: &str) -> InboundEvent {
    InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Public,
        id,
        Identity::new(ChannelKind::Twitter, "42"),
        format!("tweet {id}"),
        chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
    )
}

fn settings(dir: &std::path::Path) -> InboxConfig {
    let mut config = InboxConfig::new(dir);
    config.sync_every_ms = 10;
    config
}

/// Runs the drain until `inbox` has nothing left, then stops it.
async fn drain_all(inbox: &Inbox, drain: Drain) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(drain.run(async {
        let _ = stop_rx.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while inbox.backlog() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "backlog stuck");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn events_reach_the_desk_in_journal_order_and_the_cursor_follows() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    let mut order = Sequence::new();
    for id in ["1", "2", "3"] {
        sink.expect_accept()
            .withf(move |e| e.external_id == id)
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(()));
    }
    let mut config = settings(dir.path());
    config.concurrency = 1;
    let (inbox, drain) = Inbox::open(&config, Arc::new(sink)).unwrap();
    for id in ["1", "2", "3"] {
        inbox.accept(event(id)).await.unwrap();
    }
    assert_eq!(inbox.backlog(), 3, "acknowledged before the desk saw them");
    drain_all(&inbox, drain).await;
    let journal = std::fs::metadata(dir.path().join("00000000000000000000.log")).unwrap();
    let cursor = std::fs::read_to_string(dir.path().join("cursor")).unwrap();
    assert_eq!(cursor.trim(), format!("0 {}", journal.len()));
}

#[tokio::test]
async fn an_unusable_event_is_refused_before_it_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    sink.expect_accept().never();
    let (inbox, _drain) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
    let err = inbox.accept(event("  ")).await.unwrap_err();
    assert!(matches!(err, IntakeError::Rejected(ref why) if why.contains("external id")));
    let journal = std::fs::metadata(dir.path().join("00000000000000000000.log")).unwrap();
    assert_eq!(journal.len(), 0);
    assert_eq!(inbox.backlog(), 0);
}

#[tokio::test]
async fn a_store_outage_is_retried_until_the_event_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    sink.expect_accept().times(3).returning(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(IntakeError::Unavailable("database down".into()))
        } else {
            Ok(())
        }
    });
    let (inbox, drain) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
    inbox.accept(event("9")).await.unwrap();
    drain_all(&inbox, drain).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refused_event_is_logged_and_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    sink.expect_accept()
        .withf(|e| e.external_id == "bad")
        .times(1)
        .returning(|_| Err(IntakeError::Rejected("no such thread".into())));
    sink.expect_accept()
        .withf(|e| e.external_id == "good")
        .times(1)
        .returning(|_| Ok(()));
    let (inbox, drain) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
    inbox.accept(event("bad")).await.unwrap();
    inbox.accept(event("good")).await.unwrap();
    drain_all(&inbox, drain).await;
    assert_eq!(inbox.backlog(), 0);
}

#[tokio::test]
async fn events_left_by_a_crash_are_replayed_on_the_next_start_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Acknowledged, then the process died before the drain ran.
        let mut sink = MockSink::new();
        sink.expect_accept().never();
        let (inbox, _never_run) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
        for id in ["a", "b", "c"] {
            inbox.accept(event(id)).await.unwrap();
        }
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let mut sink = MockSink::new();
    let into = got.clone();
    sink.expect_accept().times(4).returning(move |e| {
        into.lock().unwrap().push(e.external_id);
        Ok(())
    });
    let mut config = settings(dir.path());
    config.concurrency = 1;
    let (inbox, drain) = Inbox::open(&config, Arc::new(sink)).unwrap();
    inbox.accept(event("d")).await.unwrap();
    drain_all(&inbox, drain).await;
    assert_eq!(*got.lock().unwrap(), ["a", "b", "c", "d"]);

    let mut sink = MockSink::new();
    sink.expect_accept().never();
    let (inbox, drain) = Inbox::open(&config, Arc::new(sink)).unwrap();
    drain_all(&inbox, drain).await;
}

#[tokio::test]
async fn after_stop_new_events_are_turned_away_for_the_platform_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let sink = MockSink::new();
    let (inbox, drain) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
    drain_all(&inbox, drain).await;
    let err = inbox.accept(event("late")).await.unwrap_err();
    assert!(matches!(err, IntakeError::Unavailable(_)));
}

#[test]
fn the_journal_directory_must_be_usable() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = Inbox::open(&settings(file.path()), Arc::new(MockSink::new())).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
}

fn dead_letters(dir: &std::path::Path) -> Vec<DeadLetter> {
    read_dead_letters(dir).unwrap()
}

fn cursor_is_at_the_end(dir: &std::path::Path) {
    let journal = std::fs::metadata(dir.join("00000000000000000000.log")).unwrap();
    let cursor = std::fs::read_to_string(dir.join("cursor")).unwrap();
    assert_eq!(cursor.trim(), format!("0 {}", journal.len()));
}

#[tokio::test]
async fn an_event_refused_for_good_is_dead_lettered_and_the_cursor_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    sink.expect_accept()
        .withf(|e| e.external_id == "poison")
        .times(1)
        .returning(|_| Err(IntakeError::Rejected("constraint: a NUL byte".into())));
    sink.expect_accept()
        .withf(|e| e.external_id != "poison")
        .times(2)
        .returning(|_| Ok(()));
    let stamped = carekit_testing::at("2026-03-02T09:30:00Z");
    let metrics = Metrics::new();
    let (inbox, drain) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
    let drain = drain
        .with_clock(Arc::new(carekit_testing::FakeClock::new(stamped)))
        .with_metrics(metrics.clone());
    for id in ["before", "poison", "after"] {
        inbox.accept(event(id)).await.unwrap();
    }
    drain_all(&inbox, drain).await;
    cursor_is_at_the_end(dir.path());
    let letters = dead_letters(dir.path());
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.kind, DeadLetterKind::Rejected);
    assert_eq!(letter.at, stamped, "stamped by the desk's clock");
    assert_eq!(letter.attempts, 1, "no retry for what no retry mends");
    assert!(letter.reason.contains("NUL byte"), "{}", letter.reason);
    // The event itself, whole, ready to be replayed.
    assert_eq!(letter.inbound_event().unwrap(), event("poison"));
    assert_eq!(inbox.dead_lettered(), 1);
    let health = inbox.health();
    assert_eq!((health.backlog, health.dead_letters), (0, 1));
    assert_eq!(health.last_dead_letter_at, Some(stamped));
    assert_eq!(
        metrics.get(
            "carekit_inbox_dead_lettered_total",
            &[("channel", "twitter"), ("kind", "rejected")]
        ),
        1
    );
    // An operator moves the file away: nothing waits any more.
    std::fs::rename(
        dead_letter_path(dir.path()),
        dir.path().join("replayed.jsonl"),
    )
    .unwrap();
    assert_eq!(inbox.health().dead_letters, 0);
}

#[tokio::test]
async fn an_event_the_desk_keeps_calling_unavailable_is_dead_lettered_once_others_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    let poison_calls = Arc::new(AtomicUsize::new(0));
    let counted = poison_calls.clone();
    sink.expect_accept()
        .withf(|e| e.external_id == "poison")
        .returning(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(IntakeError::Unavailable(
                "store error: value too long".into(),
            ))
        });
    let good = Arc::new(AtomicUsize::new(0));
    let seen = good.clone();
    sink.expect_accept()
        .withf(|e| e.external_id != "poison")
        .returning(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    let mut config = settings(dir.path());
    config.max_attempts = 3;
    let (inbox, drain) = Inbox::open(&config, Arc::new(sink)).unwrap();
    inbox.accept(event("poison")).await.unwrap();
    for n in 0..50 {
        inbox.accept(event(&format!("good-{n}"))).await.unwrap();
    }
    drain_all(&inbox, drain).await;
    assert_eq!(good.load(Ordering::SeqCst), 50);
    assert_eq!(poison_calls.load(Ordering::SeqCst), 3, "max_attempts");
    cursor_is_at_the_end(dir.path());
    let letters = dead_letters(dir.path());
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].kind, DeadLetterKind::Unavailable);
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(letters[0].inbound_event().unwrap().external_id, "poison");
}

#[tokio::test]
async fn a_store_down_for_every_event_dead_letters_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = MockSink::new();
    let up_at = tokio::time::Instant::now() + Duration::from_millis(600);
    let failures = Arc::new(AtomicUsize::new(0));
    let counted = failures.clone();
    sink.expect_accept().returning(move |_| {
        if tokio::time::Instant::now() < up_at {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(IntakeError::Unavailable("connection refused".into()))
        } else {
            Ok(())
        }
    });
    let mut config = settings(dir.path());
    config.max_attempts = 2;
    let (inbox, drain) = Inbox::open(&config, Arc::new(sink)).unwrap();
    for n in 0..5 {
        inbox.accept(event(&format!("e{n}"))).await.unwrap();
    }
    drain_all(&inbox, drain).await;
    assert!(
        failures.load(Ordering::SeqCst) >= 5 * 2,
        "every event failed max_attempts times or more during the outage"
    );
    assert!(dead_letters(dir.path()).is_empty());
    assert_eq!(inbox.health().dead_letters, 0);
    cursor_is_at_the_end(dir.path());
}

#[tokio::test]
async fn a_record_that_no_longer_decodes_is_dead_lettered_on_replay() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut opened = journal::open(dir.path()).unwrap();
        opened.appender.append(br#"{"an":"older shape"}"#).unwrap();
    }
    let mut sink = MockSink::new();
    sink.expect_accept()
        .withf(|e| e.external_id == "next")
        .times(1)
        .returning(|_| Ok(()));
    let (inbox, drain) = Inbox::open(&settings(dir.path()), Arc::new(sink)).unwrap();
    inbox.accept(event("next")).await.unwrap();
    drain_all(&inbox, drain).await;
    let letters = dead_letters(dir.path());
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].kind, DeadLetterKind::Unreadable);
    assert_eq!(letters[0].event, serde_json::json!({"an": "older shape"}));
    cursor_is_at_the_end(dir.path());
}
