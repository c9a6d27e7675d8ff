//! The `fake` feature: the X client against `FakeX` (replies recorded and
//! found again on the timeline, faults and a revoked token as X answers
//! them, requests without credentials refused, huge bodies refused without
//! a panic), and `Webhooks` deliveries accepted by the real webhook router
//! while tampered or foreign-signed ones are refused.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use carekit_testing::CollectingSink;
use carekit_twitter::fake::{FakeX, FaultKind, Ledger, Platform, Tweet, Webhooks};
use carekit_twitter::webhook::{WebhookConfig, router};
use carekit_twitter::{Auth, TwitterError, XClient};
use std::sync::Arc;
use tower::ServiceExt;

const BRAND: &str = "2244994945";
const SECRET: &str = "consumer-secret-for-the-fake";

fn client(x: &FakeX) -> XClient {
    XClient::builder(Auth::bearer("app-only-token"), BRAND)
        .api_base(x.base_url())
        .build()
        .unwrap()
}

#[tokio::test]
async fn replies_are_recorded_found_again_and_faults_answer_as_x_does() {
    let x = FakeX::start(Ledger::default()).await.unwrap();
    let client = client(&x);
    let id = client
        .post_reply("Sorry, looking now", "1800000000000000001")
        .await
        .unwrap();
    let delivered = x.ledger().delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, id);
    assert_eq!(delivered[0].recipient, "1800000000000000001");
    assert_eq!(
        client
            .find_own_reply("1800000000000000001", "Sorry, looking now")
            .await
            .unwrap(),
        Some(id)
    );
    // Another customer's tweet has no reply of ours.
    assert_eq!(
        client
            .find_own_reply("1800000000000000002", "Sorry, looking now")
            .await
            .unwrap(),
        None
    );

    x.ledger().fail_next(Platform::X, FaultKind::RateLimited);
    let limited = client
        .post_reply("again", "1800000000000000003")
        .await
        .unwrap_err();
    assert!(
        matches!(limited, TwitterError::RateLimited { .. }),
        "{limited:?}"
    );
    x.ledger().fail_next(Platform::X, FaultKind::ServerError);
    assert!(
        client
            .post_reply("again", "1800000000000000003")
            .await
            .is_err()
    );
    x.ledger().revoke(Platform::X, true);
    let revoked = client
        .post_reply("again", "1800000000000000003")
        .await
        .unwrap_err();
    assert!(
        matches!(revoked, TwitterError::Unauthorized { .. }),
        "{revoked:?}"
    );
    x.ledger().revoke(Platform::X, false);
    client
        .post_reply("again", "1800000000000000003")
        .await
        .unwrap();
    // Refused calls were received but delivered nothing.
    assert_eq!(x.ledger().delivered().len(), 2);
    assert!(x.received().len() >= 6);
    assert_eq!(x.ledger().injected().values().sum::<u64>(), 2);
}

#[tokio::test]
async fn the_fake_refuses_anonymous_and_huge_requests() {
    let x = FakeX::start(Ledger::default()).await.unwrap();
    let http = reqwest::Client::new();
    let anonymous = http
        .post(format!("{}/2/tweets", x.base_url()))
        .json(&serde_json::json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let huge = http
        .post(format!("{}/2/tweets", x.base_url()))
        .bearer_auth("t")
        .body(vec![b'a'; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let empty = http
        .post(format!("{}/2/tweets", x.base_url()))
        .bearer_auth("t")
        .json(&serde_json::json!({"text": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert!(x.ledger().delivered().is_empty());
}

async fn deliver(app: &axum::Router, webhook: &carekit_twitter::fake::SignedWebhook) -> StatusCode {
    let mut request = Request::post("/");
    for (name, value) in &webhook.headers {
        request = request.header(*name, value);
    }
    app.clone()
        .oneshot(request.body(Body::from(webhook.body.clone())).unwrap())
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signed_webhooks_pass_the_router_and_tampered_ones_do_not() {
    let sink = Arc::new(CollectingSink::new());
    let app = router(WebhookConfig::new(SECRET), sink.clone());
    let hooks = Webhooks::new(SECRET, BRAND);
    let mut tweet = Tweet::new(
        "1800000000000000010",
        "6253282",
        "@acme где мой заказ? 注文",
    );
    tweet.in_reply_to = Some("1800000000000000009".into());
    let webhook = hooks.tweet(&tweet, 1_772_442_000_000);
    assert_eq!(webhook.path, "/webhooks/twitter");
    assert_eq!(deliver(&app, &webhook).await, StatusCode::OK);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].text, "@acme где мой заказ? 注文");

    let mut tampered = webhook.clone();
    tampered.body = String::from_utf8(tampered.body)
        .unwrap()
        .replace("заказ", "refund")
        .into_bytes();
    assert!(deliver(&app, &tampered).await.is_client_error());
    let foreign = Webhooks::new("someone-elses-secret", BRAND).tweet(&tweet, 1_772_442_000_000);
    assert!(deliver(&app, &foreign).await.is_client_error());
    assert_eq!(sink.events().len(), 1, "nothing forged was accepted");
}
