//! A channel kind of the app's own ("line", a messenger carekit does not
//! ship) flows through the engine, the store (SQLite, and Postgres when
//! `CAREKIT_TEST_POSTGRES_URL` is set), the API, the report and the
//! metrics under its own name, next to the built-in adapters.

mod support;

use carekit_core::ChannelKind;
use carekit_testing::{RecordingChannel, sample_event};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::*;

const LINE: ChannelKind = ChannelKind::new("line");

async fn own_kind_end_to_end(store_url: &str, schema: Option<&str>) {
    let line = Arc::new(RecordingChannel::new(LINE));
    let desk = TestDesk::start_with(
        store_url,
        schema,
        Limits {
            channels: vec![line.clone()],
            ..Limits::default()
        },
    )
    .await;
    let event = sample_event(
        LINE,
        "line-msg-1",
        "U4af4980629",
        "My parcel is two days late",
        chrono::Utc::now(),
    );
    let id = desk
        .desk
        .ingest(event)
        .await
        .unwrap()
        .conversation_id()
        .unwrap();

    let (status, listed) = desk.api("/api/conversations?channel=line").await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["conversations"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["channel"], "line");
    assert_eq!(listed[0]["id"], id.to_string());
    let (_, by_customer) = desk
        .api("/api/conversations?customer=line:U4af4980629")
        .await;
    assert_eq!(by_customer["conversations"].as_array().unwrap().len(), 1);
    // A typo is still refused, not taken as a new kind.
    assert_eq!(desk.api("/api/conversations?channel=lien").await.0, 400);

    let (status, body) = desk
        .api_post(
            &format!("/api/conversations/{id}/reply"),
            json!({ "text": "So sorry, checking with the courier now.", "agent": "ann" }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    for _ in 0..200 {
        if !line.sent().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = line.sent();
    assert_eq!(sent.len(), 1, "the reply went out on the app's channel");
    assert_eq!(sent[0].text, "So sorry, checking with the courier now.");

    let (_, detail) = desk.api(&format!("/api/conversations/{id}")).await;
    assert_eq!(detail["conversation"]["channel"], "line");
    assert_eq!(detail["messages"][1]["delivery"], "sent");
    let (_, summary) = desk.api("/api/reports/summary").await;
    assert_eq!(
        summary["by_channel"]["line"]["conversations"], 1,
        "{summary:#}"
    );
    let metrics = desk.metrics().await;
    assert!(
        metrics.contains("carekit_channel_degraded{channel=\"line\"} 0"),
        "{metrics}"
    );
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_own_channel_kind_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    own_kind_end_to_end(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_own_channel_kind_on_postgres() {
    let Some(url) = postgres_url("an_apps_own_channel_kind_on_postgres") else {
        return;
    };
    let schema = format!("desk_own_kind_{}", std::process::id());
    own_kind_end_to_end(&url, Some(&schema)).await;
}
