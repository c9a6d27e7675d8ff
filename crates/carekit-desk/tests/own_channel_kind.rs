//! A platform of the app's own ("line", a messenger carekit does not ship)
//! added to the desk server with one `DeskServerBuilder::adapter` call: its
//! settings come from `[adapters.line]`, its token from the secrets, its
//! webhook is mounted beside the built-in ones, a credential swap rebuilds
//! it, and its channel kind flows through the engine, the store (SQLite,
//! and Postgres when `CAREKIT_TEST_POSTGRES_URL` is set), the API, the
//! report and the metrics under its own name.

mod support;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use carekit_core::{ChannelKind, EventSink, InboundEvent, Visibility};
use carekit_desk::adapters::{AdapterContext, BuiltAdapter, Mounted, ServerAdapter};
use carekit_desk::{DeskConfig, DeskServer, DeskServerError, Secrets};
use carekit_testing::RecordingChannel;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const LINE: ChannelKind = ChannelKind::new("line");

/// The app's adapter. Each build makes a new channel (as new credentials
/// would) and remembers the token and greeting it was built with.
#[derive(Default)]
struct LineAdapter {
    built: Mutex<Vec<(String, String, Arc<RecordingChannel>)>>,
}

impl LineAdapter {
    fn channels(&self) -> Vec<(String, String, Arc<RecordingChannel>)> {
        self.built.lock().unwrap().clone()
    }
}

/// The adapter's webhook: `{id, user, text}`, handed to the desk's sink.
async fn line_webhook(
    State(sink): State<Arc<dyn EventSink>>,
    Json(body): Json<Value>,
) -> StatusCode {
    let (Some(id), Some(user), Some(text)) = (
        body["id"].as_str(),
        body["user"].as_str(),
        body["text"].as_str(),
    ) else {
        return StatusCode::BAD_REQUEST;
    };
    let event = InboundEvent::message(
        LINE,
        Visibility::Private,
        id,
        carekit_core::Identity::new(LINE, user),
        text,
        chrono::Utc::now(),
    );
    match sink.accept(event).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl ServerAdapter for LineAdapter {
    fn name(&self) -> &'static str {
        "line"
    }

    fn build(&self, ctx: &AdapterContext<'_>) -> Result<Option<BuiltAdapter>, DeskServerError> {
        let Some(table) = ctx.config.adapters.get("line") else {
            return Ok(None);
        };
        let token = ctx
            .secrets
            .require("LINE_CHANNEL_TOKEN", "[adapters.line]")?;
        let greeting = table
            .get("greeting")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let channel = Arc::new(RecordingChannel::new(LINE));
        self.built
            .lock()
            .unwrap()
            .push((token.to_owned(), greeting, channel.clone()));
        let mount = Box::new(|sink: Arc<dyn EventSink>| {
            Mounted::new(
                "/webhooks/line",
                axum::Router::new()
                    .route("/", post(line_webhook))
                    .with_state(sink),
            )
        });
        Ok(Some(BuiltAdapter::new(channel, mount)))
    }
}

async fn own_kind_end_to_end(store_url: &str, schema: Option<&str>) {
    let line = Arc::new(LineAdapter::default());
    let desk = TestDesk::start_with(
        store_url,
        schema,
        Limits {
            adapters: vec![line.clone()],
            extra: "[adapters.line]\ngreeting = \"hi\"\n".into(),
            extra_secrets: vec![("LINE_CHANNEL_TOKEN", "line-token-1".into())],
            ..Limits::default()
        },
    )
    .await;
    let built = line.channels();
    assert_eq!(built.len(), 1);
    assert_eq!(
        (built[0].0.as_str(), built[0].1.as_str()),
        ("line-token-1", "hi")
    );

    let webhook = |body: Value| {
        let http = desk.http.clone();
        let url = desk.url("/webhooks/line");
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let message =
        json!({ "id": "line-msg-1", "user": "U4af4980629", "text": "My parcel is two days late" });
    assert_eq!(webhook(message.clone()).await, 200);
    assert_eq!(
        webhook(message).await,
        200,
        "a re-delivery is taken, not stored twice"
    );
    assert_eq!(webhook(json!({ "id": "x" })).await, 400);

    let (status, listed) = desk.api("/api/conversations?channel=line").await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["conversations"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["channel"], "line");
    assert_eq!(listed[0]["message_count"], 1);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let (_, by_customer) = desk
        .api("/api/conversations?customer=line:U4af4980629")
        .await;
    assert_eq!(by_customer["conversations"].as_array().unwrap().len(), 1);
    // A typo, an oversized name or one in another script is refused, not
    // taken (and kept) as a new kind.
    for bad in [
        "lien".to_owned(),
        "l".repeat(10_000),
        "ライン".to_owned(),
        "LINE%00".to_owned(),
    ] {
        let (status, body) = desk.api(&format!("/api/conversations?channel={bad}")).await;
        assert_eq!(status, 400, "{bad:.40}: {body}");
    }
    assert_eq!(desk.api("/api/conversations?channel=LINE").await.0, 200);

    let reply = |text: &'static str| {
        let id = id.clone();
        let desk = &desk;
        async move {
            let (status, body) = desk
                .api_post(
                    &format!("/api/conversations/{id}/reply"),
                    json!({ "text": text, "agent": "ann" }),
                )
                .await;
            assert_eq!(status, 202, "{body}");
        }
    };
    let sent_on = |channel: &Arc<RecordingChannel>| {
        let channel = channel.clone();
        async move {
            for _ in 0..200 {
                if !channel.sent().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            channel.sent()
        }
    };
    reply("So sorry, checking with the courier now.").await;
    let sent = sent_on(&built[0].2).await;
    assert_eq!(sent.len(), 1, "the reply went out on the app's channel");
    assert_eq!(sent[0].text, "So sorry, checking with the courier now.");

    // New credentials: the swap rebuilds the app's adapter with the
    // built-in ones, and the next reply goes through the new channel.
    let swapped = desk
        .credentials
        .replace(&secrets().with("LINE_CHANNEL_TOKEN", "line-token-2"))
        .await
        .unwrap();
    assert!(swapped.iter().any(|s| s.channel == LINE), "{swapped:?}");
    let built = line.channels();
    assert_eq!(built.len(), 2);
    assert_eq!(built[1].0, "line-token-2");
    reply("The courier says tomorrow morning.").await;
    let sent = sent_on(&built[1].2).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(built[0].2.sent().len(), 1, "the old channel sends no more");

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
async fn an_apps_own_platform_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    own_kind_end_to_end(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_own_platform_on_postgres() {
    let Some(url) = postgres_url("an_apps_own_platform_on_postgres") else {
        return;
    };
    let schema = format!("desk_own_kind_{}", std::process::id());
    own_kind_end_to_end(&url, Some(&schema)).await;
}

#[tokio::test]
async fn an_apps_adapter_missing_its_secret_stops_the_start_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = DeskConfig::from_toml_str(&format!(
        "[store]\nurl = \"sqlite://{}?mode=rwc\"\n[adapters.line]\n",
        dir.path().join("d.db").display()
    ))
    .unwrap();
    let err = DeskServer::builder(config, Secrets::new().with("CAREKIT_API_TOKEN", "t0ken"))
        .adapter(Arc::new(LineAdapter::default()))
        .build()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("LINE_CHANNEL_TOKEN") && text.contains("[adapters.line]"),
        "{text}"
    );
    // Without its table the adapter is off, and nothing is asked of it.
    let config = DeskConfig::from_toml_str(&format!(
        "[store]\nurl = \"sqlite://{}?mode=rwc\"\n",
        dir.path().join("e.db").display()
    ))
    .unwrap();
    let adapter = Arc::new(LineAdapter::default());
    DeskServer::builder(config, Secrets::new().with("CAREKIT_API_TOKEN", "t0ken"))
        .adapter(adapter.clone())
        .build()
        .await
        .unwrap();
    assert!(adapter.channels().is_empty());
}
