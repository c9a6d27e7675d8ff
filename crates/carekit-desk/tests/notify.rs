//! `[[notify]]`: escalations reach people. A crisis tweet through the
//! running server posts to the crisis team's chat webhook (a local
//! receiver speaking the Slack-compatible incoming-webhook shape), routes
//! for other teams or higher levels stay silent, and a misconfigured route
//! stops the start with an error that says what is wrong.

mod support;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use carekit_desk::{DeskConfig, DeskServer, DeskServerError, Secrets};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

/// What the receiver was posted: the room and the JSON body.
type Posted = Arc<Mutex<Vec<(String, Value)>>>;

/// A chat's incoming webhook: keeps what was posted, answers "ok".
async fn receiver() -> (String, Posted) {
    let seen: Posted = Arc::default();
    async fn hook(
        State((room, seen)): State<(&'static str, Posted)>,
        Json(body): Json<Value>,
    ) -> &'static str {
        seen.lock().unwrap().push((room.to_owned(), body));
        "ok"
    }
    let app = axum::Router::new()
        .route(
            "/hooks/crisis",
            post(hook).with_state(("crisis", seen.clone())),
        )
        .route(
            "/hooks/billing",
            post(hook).with_state(("billing", seen.clone())),
        )
        .route(
            "/hooks/everyone-l4",
            post(hook).with_state(("l4", seen.clone())),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_tweet_reaches_the_crisis_teams_chat_and_no_other() {
    let (hooks, seen) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start_with(
        &url,
        None,
        Limits {
            extra: r#"
            [[notify]]
            via = "chat"
            url_secret = "CHAT_CRISIS_URL"
            min_level = 3
            teams = ["crisis"]

            [[notify]]
            via = "chat"
            url_secret = "CHAT_BILLING_URL"
            teams = ["billing"]

            [[notify]]
            via = "chat"
            url_secret = "CHAT_L4_URL"
            min_level = 4
            "#
            .into(),
            extra_secrets: vec![
                ("CHAT_CRISIS_URL", format!("{hooks}/hooks/crisis")),
                ("CHAT_BILLING_URL", format!("{hooks}/hooks/billing")),
                ("CHAT_L4_URL", format!("{hooks}/hooks/everyone-l4")),
            ],
            ..Limits::default()
        },
    )
    .await;
    let body = tweet(
        "1900000000000000001",
        "4242",
        "dana_k",
        "@acme my kettle caught fire this morning and burned my hand",
    );
    let status = desk.post_tweet(body).await;
    assert_eq!(status, 200);
    for _ in 0..250 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for a wrongly routed second post to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (room, payload) = &seen[0];
    assert_eq!(room, "crisis");
    let text = payload["text"].as_str().unwrap();
    assert!(text.starts_with("*[L3] "), "{text}");
    assert!(text.contains("caught fire"), "{text}");
    assert!(text.contains("team: crisis"), "{text}");
    assert!(
        text.contains(&format!("{}/api/conversations/", desk.url(""))),
        "{text}"
    );
    desk.stop().await;
}

async fn start_error(extra: &str, secrets: Secrets) -> DeskServerError {
    let dir = tempfile::tempdir().unwrap();
    let config = DeskConfig::from_toml_str(&format!(
        "[store]\nurl = \"sqlite://{}?mode=rwc\"\n{extra}",
        dir.path().join("d.db").display()
    ))
    .unwrap();
    DeskServer::builder(config, secrets.with("CAREKIT_API_TOKEN", "t0ken"))
        .build()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_misconfigured_route_stops_the_start_saying_what_is_wrong() {
    let missing = start_error(
        "[[notify]]\nvia = \"chat\"\nurl_secret = \"CHAT_URL\"\n",
        Secrets::new(),
    )
    .await
    .to_string();
    assert!(
        missing.contains("CHAT_URL") && missing.contains("[[notify]] entry 1"),
        "{missing}"
    );

    let no_email = start_error(
        "[[notify]]\nvia = \"email\"\nto = [\"lead@acme.example\"]\n",
        Secrets::new(),
    )
    .await
    .to_string();
    assert!(
        no_email.contains("[email], which is not configured"),
        "{no_email}"
    );

    let bad_url = start_error(
        "[[notify]]\nvia = \"chat\"\nurl_secret = \"CHAT_URL\"\n",
        Secrets::new().with("CHAT_URL", "ftp://hooks.example/secret-token-123"),
    )
    .await
    .to_string();
    assert!(bad_url.contains("https://"), "{bad_url}");
    assert!(
        !bad_url.contains("secret-token-123"),
        "the URL is a secret: {bad_url}"
    );

    // Unknown ways and fields are refused when the file is read.
    for bad in [
        "[[notify]]\nvia = \"pager\"\n",
        "[[notify]]\nvia = \"chat\"\nurl = \"https://hooks.example/x\"\n",
    ] {
        assert!(
            DeskConfig::from_toml_str(&format!("[store]\nurl = \"sqlite::memory:\"\n{bad}"))
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_webhook_url_never_shows_in_debug() {
    let notifier = carekit_desk::notify::ChatWebhookNotifier::new(
        "https://hooks.example/T000/B000/secret-token-123",
    )
    .unwrap();
    let shown = format!("{notifier:?}");
    assert!(!shown.contains("secret-token-123"), "{shown}");
}
