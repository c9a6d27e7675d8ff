//! Two desk workers on one Postgres drain one outbox of 1,000 replies: each
//! reply is sent exactly once, none is lost.

use carekit_core::desk::ReplyRequest;
use carekit_core::*;
use carekit_store_sql::SqlStore;
use carekit_testing::RecordingChannel;
use std::collections::HashSet;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_send_each_reply_exactly_once() {
    if cfg!(not(feature = "postgres")) {
        eprintln!("SKIPPED: two workers on Postgres (built without the `postgres` feature)");
        return;
    }
    let Ok(url) = std::env::var("CAREKIT_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: two workers on Postgres (set CAREKIT_TEST_POSTGRES_URL to run it)");
        return;
    };
    let schema = format!("carekit_two_{}", uuid::Uuid::new_v4().simple());
    let open = || {
        SqlStore::builder(&url)
            .schema(schema.clone())
            .max_connections(6)
            .open()
    };
    let store_a: Arc<dyn Store> = Arc::new(open().await.unwrap());
    let store_b: Arc<dyn Store> = Arc::new(open().await.unwrap());
    let channel_a = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let channel_b = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let desk_a = Desk::builder()
        .store(store_a)
        .channel(channel_a.clone())
        .worker_name("a")
        .outbox(desk::OutboxConfig::default().with_batch(16))
        .build()
        .unwrap();
    let desk_b = Desk::builder()
        .store(store_b)
        .channel(channel_b.clone())
        .worker_name("b")
        .outbox(desk::OutboxConfig::default().with_batch(16))
        .build()
        .unwrap();
    let now = chrono::Utc::now();
    let mut expected = HashSet::new();
    for c in 0..100 {
        let event = InboundEvent::message(
            ChannelKind::Sms,
            Visibility::Private,
            format!("SM{c}"),
            Identity::new(ChannelKind::Sms, format!("+1415555{c:04}")),
            "help",
            now,
        )
        .with_thread_key(format!("biz:{c}"));
        let id = desk_a
            .ingest(event)
            .await
            .unwrap()
            .conversation_id()
            .unwrap();
        for r in 0..10 {
            expected.insert(
                desk_a
                    .reply(id, ReplyRequest::agent("ann", format!("reply {c}-{r}")))
                    .await
                    .unwrap(),
            );
        }
    }
    assert_eq!(expected.len(), 1000);
    let drain = |desk: Desk| async move {
        loop {
            let report = desk.run_outbox_once().await.expect("outbox round");
            if report.claimed == 0 {
                break;
            }
        }
    };
    tokio::join!(drain(desk_a.clone()), drain(desk_b.clone()));
    let sent: Vec<MessageId> = channel_a
        .sent()
        .into_iter()
        .chain(channel_b.sent())
        .map(|m| m.id)
        .collect();
    let unique: HashSet<_> = sent.iter().copied().collect();
    assert_eq!(
        sent.len(),
        1000,
        "every reply sent once (a: {}, b: {})",
        channel_a.sent().len(),
        channel_b.sent().len()
    );
    assert_eq!(unique, expected);
    assert!(
        !channel_a.sent().is_empty() && !channel_b.sent().is_empty(),
        "both workers took part"
    );
    let left = desk_a
        .store()
        .outbox_in_states(&[DeliveryState::Queued, DeliveryState::Sending], 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "nothing left behind");
}
