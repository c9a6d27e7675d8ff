//! A revoked page token: the desk marks Facebook degraded (in `/healthz`
//! and `/metrics`, with the platform's reason and never the token), holds
//! the reply without hammering the Graph API, and sends it as soon as new
//! credentials are swapped in, exactly once.

mod support;

use carekit_desk::{DeskConfig, DeskServer, Secrets};
use serde_json::{Value, json};
use std::time::Duration;
use support::*;
use tokio::net::TcpListener;
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OLD_TOKEN: &str = "EAAB-revoked-page-token-1111";
const NEW_TOKEN: &str = "EAAB-fresh-page-token-2222";

fn secrets(page_token: &str) -> Secrets {
    Secrets::new()
        .with("CAREKIT_API_TOKEN", API_TOKEN)
        .with("FB_PAGE_TOKEN", page_token)
        .with("FB_APP_SECRET", FB_APP_SECRET)
        .with("FB_VERIFY_TOKEN", FB_VERIFY)
}

/// The first admin's token, once a desk is up.
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn get(http: &reqwest::Client, url: String) -> (u16, String) {
    let token = TOKEN.get().map_or("", String::as_str);
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Polls `check` every 20 ms for up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_degrades_the_channel_until_new_credentials_arrive() {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/comments$"))
        .and(header("authorization", format!("Bearer {OLD_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            "type": "OAuthException", "code": 190, "error_subcode": 460, "fbtrace_id": "A1b2C3"
        }})))
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"/comments$"))
        .and(header(
            "authorization",
            format!("Bearer {NEW_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "444444444_999"})))
        .mount(&graph)
        .await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = DeskConfig::from_toml_str(&format!(
        r#"
        [server]
        listen = "{addr}"
        public_url = "http://{addr}"
        [store]
        url = "sqlite://{db}?mode=rwc"
        [desk]
        tick_ms = 20
        [facebook]
        page_id = "{PAGE}"
        graph_base = "{graph}"
        "#,
        db = dir.path().join("desk.db").display(),
        graph = graph.uri(),
    ))
    .unwrap();
    let server = DeskServer::builder(config, secrets(OLD_TOKEN))
        .build()
        .await
        .unwrap();
    let swap = server.credentials();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let token = admin_token(&http, &base).await;
    let _ = TOKEN.set(token);

    // A page comment comes in; an agent answers it.
    let body = page_comment(
        "444444444_555",
        "156407155145863",
        "My order arrived broken.",
    );
    let status = http
        .post(format!("{base}/webhooks/facebook"))
        .header("x-hub-signature-256", meta_signature(FB_APP_SECRET, &body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let (_, list) = get(&http, format!("{base}/api/conversations")).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list["conversations"][0]["id"].as_str().unwrap().to_owned();
    let reply = http
        .post(format!("{base}/api/conversations/{id}/reply"))
        .bearer_auth(TOKEN.get().unwrap())
        .json(&json!({"text": "So sorry! We're on it.", "agent": "ann"}))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());

    // The token is refused: degraded, with Meta's reason, never the token.
    eventually("facebook degraded in /healthz", || async {
        let (_, health) = get(&http, format!("{base}/healthz")).await;
        health.contains("\"degraded\"")
    })
    .await;
    let (code, health) = get(&http, format!("{base}/healthz")).await;
    assert_eq!(code, 200, "the desk still serves: {health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded");
    let facebook = health["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "facebook")
        .unwrap();
    let reason = facebook["reason"].as_str().unwrap();
    assert!(reason.contains("190"), "typed reason: {reason}");
    let (_, metrics) = get(&http, format!("{base}/metrics")).await;
    assert!(
        metrics.contains("carekit_channel_degraded{channel=\"facebook\"} 1"),
        "{metrics}"
    );
    for text in [health.to_string(), metrics.clone()] {
        assert!(!text.contains(OLD_TOKEN) && !text.contains(NEW_TOKEN));
    }
    // Held, not failed, and not retried in a loop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, detail) = get(&http, format!("{base}/api/conversations/{id}")).await;
    assert!(
        detail.contains("\"queued\""),
        "the reply waits in the outbox: {detail}"
    );
    let attempts = |token: &'static str| {
        let graph = &graph;
        async move {
            graph
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|r| {
                    r.headers
                        .get("authorization")
                        .is_some_and(|v| v.to_str().unwrap_or_default().ends_with(token))
                })
                .count()
        }
    };
    assert_eq!(attempts(OLD_TOKEN).await, 1, "one attempt, then paused");

    // New credentials: the held reply goes out at once, exactly once.
    let swapped = swap.replace(&secrets(NEW_TOKEN)).await.unwrap();
    assert_eq!(swapped.len(), 1);
    assert_eq!(swapped[0].released, 1);
    eventually("the held reply sent with the new token", || async {
        attempts(NEW_TOKEN).await == 1
    })
    .await;
    eventually("facebook healthy again", || async {
        let (_, health) = get(&http, format!("{base}/healthz")).await;
        health.contains("\"status\":\"ok\"")
    })
    .await;
    let (_, metrics) = get(&http, format!("{base}/metrics")).await;
    assert!(metrics.contains("carekit_channel_degraded{channel=\"facebook\"} 0"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(attempts(NEW_TOKEN).await, 1);
    assert_eq!(attempts(OLD_TOKEN).await, 1);

    // A swap with a secret missing changes nothing.
    let missing = Secrets::new().with("CAREKIT_API_TOKEN", API_TOKEN);
    assert!(swap.replace(&missing).await.is_err());

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
