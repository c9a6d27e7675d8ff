//! `[inbox]` end to end: events acknowledged before a crash are ingested by
//! the next desk that opens the journal, through the real store and API.

mod support;

use async_trait::async_trait;
use carekit_core::{ChannelKind, EventSink, Identity, InboundEvent, IntakeError, Visibility};
use carekit_desk::InboxConfig;
use carekit_desk::inbox::Inbox;
use std::sync::Arc;
use support::*;

/// A desk that died before ingesting anything.
struct Down;

#[async_trait]
impl EventSink for Down {
    async fn accept(&self, _: InboundEvent) -> Result<(), IntakeError> {
        Err(IntakeError::Unavailable("not running".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_journaled_before_a_crash_are_ingested_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("inbox");
    {
        let (inbox, _drain_never_ran) =
            Inbox::open(&InboxConfig::new(&journal), Arc::new(Down)).unwrap();
        for (id, user, text) in [
            ("1800000000000000101", "501", "@acme where is my refund"),
            ("1800000000000000102", "502", "@acme app crashes on login"),
        ] {
            let event = InboundEvent::message(
                ChannelKind::Twitter,
                Visibility::Public,
                id,
                Identity::new(ChannelKind::Twitter, user),
                text,
                chrono::Utc::now(),
            );
            inbox.accept(event).await.unwrap();
        }
    }
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let limits = Limits {
        inbox_dir: Some(journal.clone()),
        ..Limits::default()
    };
    let desk = TestDesk::start_with(&url, None, limits).await;
    let list = desk.conversations(2).await;
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_eq!(
        desk.stored().await,
        [
            "twitter: @acme app crashes on login",
            "twitter: @acme where is my refund"
        ]
    );
    desk.stop().await;
}
