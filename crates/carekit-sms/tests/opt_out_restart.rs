//! An opt-out sent by SMS survives a restart of the desk: after reopening the
//! SQLite store, the desk refuses to message that number.

use carekit_core::desk::HandoffRequest;
use carekit_core::*;
use carekit_sms::{WebhookConfig, signature, webhook};
use carekit_store_sql::SqlStore;
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test]
async fn opt_out_persists_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("care.db").display());
    {
        let desk = Desk::builder()
            .store(Arc::new(SqlStore::open(&url).await.unwrap()))
            .build()
            .unwrap();
        let app = webhook::router(
            WebhookConfig::builder("tok", "https://desk.example.com").build(),
            Arc::new(desk),
        );
        let p: Vec<(String, String)> = [
            ("MessageSid", "SM1"),
            ("From", "+14155552671"),
            ("To", "+14155550100"),
            ("Body", "STOP"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let sig = signature::compute("tok", "https://desk.example.com/", &p);
        let request = axum::http::Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(axum::body::Body::from(
                serde_urlencoded::to_string(&p).unwrap(),
            ))
            .unwrap();
        assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
    }
    // A new process: nothing in memory.
    let sms = Arc::new(carekit_testing::RecordingChannel::new(ChannelKind::Sms));
    let twitter = Arc::new(carekit_testing::RecordingChannel::new(ChannelKind::Twitter));
    let desk = Desk::builder()
        .store(Arc::new(SqlStore::open(&url).await.unwrap()))
        .channel(sms.clone())
        .channel(twitter)
        .build()
        .unwrap();
    assert!(
        desk.opted_out(ChannelKind::Sms, "+14155552671")
            .await
            .unwrap()
    );
    let tweet =
        carekit_testing::sample_event(ChannelKind::Twitter, "1", "u1", "help", chrono::Utc::now());
    let id = desk.ingest(tweet).await.unwrap().conversation_id().unwrap();
    let refused = desk
        .handoff(
            id,
            HandoffRequest::new(
                ChannelKind::Sms,
                "Can we text you?",
                Actor::Agent("ann".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+14155552671")),
        )
        .await;
    assert!(matches!(
        refused,
        Err(DeskError::OptedOut(ChannelKind::Sms))
    ));
    assert!(sms.sent().is_empty());
}
