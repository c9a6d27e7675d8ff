//! The `Channel` implementation: threading, lengths, errors, capabilities.

mod support;

use std::sync::Arc;
use std::time::Duration;

use carekit_core::{
    Channel, ChannelError, ChannelKind, FakeClock, Identity, OutboundMessage, Visibility,
};
use carekit_testing::at;
use carekit_twitter::{Auth, TwitterChannel, XClient};
use serde_json::json;
use support::*;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-03-02T09:30:00Z";

fn channel(server: &MockServer) -> TwitterChannel {
    let client = XClient::builder(Auth::oauth1("ck", "cs", "at", "as"), BRAND)
        .api_base(server.uri())
        .clock(Arc::new(FakeClock::new(at(NOW))))
        .build()
        .unwrap();
    TwitterChannel::new(client)
}

fn reply(text: &str) -> OutboundMessage {
    OutboundMessage::new(ChannelKind::Twitter, Visibility::Public, text)
        .with_account(BRAND)
        .with_in_reply_to("1800000000000000003")
        .with_recipient(Identity::new(ChannelKind::Twitter, CUSTOMER))
}

#[tokio::test]
async fn public_reply_is_threaded_under_the_customer_tweet() {
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(body_json(json!({
            "text": "@ann so sorry, looking now",
            "reply": { "in_reply_to_tweet_id": "1800000000000000003" }
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "id": "1900000000000000001", "text": "@ann so sorry, looking now" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let delivery = channel(&server)
        .send(&reply("@ann so sorry, looking now"))
        .await
        .unwrap();
    assert_eq!(delivery.provider_id, "1900000000000000001");
    spec.validate_all(&server.received_requests().await.unwrap());
}

#[tokio::test]
async fn private_message_is_a_dm_and_returns_the_conversation() {
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/2/dm_conversations/with/{CUSTOMER}/messages")))
        .and(body_json(json!({ "text": "Hi Ann, Maya here." })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "dm_conversation_id": format!("{CUSTOMER}-{BRAND}"), "dm_event_id": "1900000000000000009" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let msg = OutboundMessage::new(
        ChannelKind::Twitter,
        Visibility::Private,
        "Hi Ann, Maya here.",
    )
    .with_recipient(Identity::new(ChannelKind::Twitter, CUSTOMER))
    .with_reply_privately_to("1800000000000000003");
    let delivery = channel(&server).send(&msg).await.unwrap();
    assert_eq!(delivery.provider_id, "1900000000000000009");
    assert_eq!(
        delivery.thread_key.unwrap().as_str(),
        format!("{CUSTOMER}-{BRAND}")
    );
    spec.validate_all(&server.received_requests().await.unwrap());
}

#[tokio::test]
async fn too_long_and_malformed_messages_fail_before_any_request() {
    let server = MockServer::start().await;
    let ch = channel(&server);
    let long = "日".repeat(141);
    assert_eq!(
        ch.send(&reply(&long)).await,
        Err(ChannelError::TooLong {
            length: 282,
            max: 280
        })
    );
    // 270 ASCII + a long URL weighs 270 + 1 + 23 = 294.
    let with_url = format!("{} https://example.com/{}", "a".repeat(270), "p".repeat(50));
    assert!(matches!(
        ch.send(&reply(&with_url)).await,
        Err(ChannelError::TooLong { length: 294, .. })
    ));
    let standalone = OutboundMessage::new(ChannelKind::Twitter, Visibility::Public, "hello");
    assert!(matches!(
        ch.send(&standalone).await,
        Err(ChannelError::Invalid(_))
    ));
    let bad_parent = reply("hi").with_in_reply_to("not-a-tweet");
    assert!(matches!(
        ch.send(&bad_parent).await,
        Err(ChannelError::Invalid(_))
    ));
    let no_recipient = OutboundMessage::new(ChannelKind::Twitter, Visibility::Private, "hi");
    assert!(matches!(
        ch.send(&no_recipient).await,
        Err(ChannelError::Invalid(_))
    ));
    let other_account = reply("hi").with_account("999");
    assert!(matches!(
        ch.send(&other_account).await,
        Err(ChannelError::Invalid(_))
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
    // Exactly 280 of mixed weight fits (the request is made).
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "data": { "id": "1", "text": "x" } })),
        )
        .mount(&server)
        .await;
    let exact = format!("{}{}", "日".repeat(100), "a".repeat(80));
    assert!(ch.send(&reply(&exact)).await.is_ok());
}

#[tokio::test]
async fn a_429_becomes_rate_limited_until_the_reset() {
    let server = MockServer::start().await;
    let reset = at(NOW).timestamp() + 420;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(rate_headers(
            ResponseTemplate::new(429).set_body_json(json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429 })),
            100,
            0,
            reset,
        ))
        .mount(&server)
        .await;
    let ch = channel(&server);
    let err = ch.send(&reply("hi")).await.unwrap_err();
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: Duration::from_secs(420)
        }
    );
    assert!(err.is_retryable());
    let limit = ch
        .client()
        .rate_limit(carekit_twitter::Endpoint::CreateTweet)
        .unwrap();
    assert_eq!((limit.limit, limit.remaining), (Some(100), Some(0)));
}

#[tokio::test]
async fn platform_errors_map_to_typed_channel_errors() {
    let cases = [
        (
            401,
            json!({ "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized" }),
            "unauthorized",
        ),
        (
            403,
            json!({ "title": "Unsupported Authentication", "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.", "type": "https://api.twitter.com/2/problems/unsupported-authentication", "status": 403 }),
            "unauthorized",
        ),
        (
            403,
            json!({ "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403 }),
            "rejected",
        ),
        (
            400,
            json!({ "errors": [{ "parameters": {}, "message": "bad" }], "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.", "type": "https://api.twitter.com/2/problems/invalid-request" }),
            "rejected",
        ),
        (503, json!({}), "server"),
    ];
    for (status, body, expect) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2/tweets"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let err = channel(&server).send(&reply("hi")).await.unwrap_err();
        let ok = match expect {
            "unauthorized" => err.is_credential_failure(),
            "rejected" => matches!(err, ChannelError::Rejected { .. }) && !err.is_retryable(),
            "server" => matches!(err, ChannelError::Server { status: 503 }) && err.is_retryable(),
            _ => false,
        };
        assert!(ok, "HTTP {status}: got {err:?}");
    }
    // 201 with an unexpected body: a typed error, no panic.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(201).set_body_string("{\"data\":"))
        .mount(&server)
        .await;
    assert!(channel(&server).send(&reply("hi")).await.is_err());
}

#[tokio::test]
async fn transport_failure_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = XClient::builder(Auth::bearer("t"), BRAND)
        .api_base(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let ch = TwitterChannel::new(client);
    let err = ch.send(&reply("hi")).await.unwrap_err();
    assert!(matches!(err, ChannelError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn capabilities_are_truthful() {
    let server = MockServer::start().await;
    let ch = channel(&server);
    let caps = ch.capabilities();
    assert!(caps.public_reply && caps.private_message);
    assert!(!caps.hide, "X cannot hide a customer's mention");
    assert!(!caps.delete);
    assert_eq!(caps.max_length, Some(280));
    assert_eq!(ch.account().as_deref(), Some(BRAND));
    assert_eq!(
        ch.hide("1800000000000000003", true).await,
        Err(ChannelError::Unsupported("hide"))
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let client = XClient::builder(
        Auth::oauth1("ck-SECRET1", "cs-SECRET2", "at-SECRET3", "as-SECRET4"),
        BRAND,
    )
    .build()
    .unwrap();
    let bearer = XClient::builder(Auth::bearer("AAAA-SECRET5"), BRAND)
        .build()
        .unwrap();
    let webhook = carekit_twitter::webhook::WebhookConfig::new("SECRET6")
        .with_oauth2_client_secret("SECRET7");
    let printed = format!(
        "{client:?} {:?} {bearer:?} {webhook:?} {:?}",
        TwitterChannel::new(client.clone()),
        XClient::builder(Auth::bearer("AAAA-SECRET5"), BRAND)
    );
    assert!(!printed.contains("SECRET"), "{printed}");
    assert!(printed.contains(BRAND));
}

#[tokio::test]
async fn find_sent_finds_the_brand_reply_on_its_timeline() {
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/tweets")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                { "id": "1900000000000000007", "text": "@ann Thanks! Other thread",
                  "referenced_tweets": [{ "type": "replied_to", "id": "1800000000000000999" }] },
                { "id": "1900000000000000008", "text": "@ann so sorry &amp; looking now https://t.co/x1",
                  "created_at": "2026-03-02T09:29:00.000Z",
                  "referenced_tweets": [{ "type": "replied_to", "id": "1800000000000000003" }] }
            ],
            "meta": { "result_count": 2 }
        })))
        .mount(&server)
        .await;
    let channel = channel(&server);
    let found = channel
        .find_sent(&reply("so sorry & looking now https://acme.example/help"))
        .await
        .unwrap()
        .expect("the reply is on the timeline");
    assert_eq!(found.provider_id, "1900000000000000008");
    // A different text under the same tweet is not ours.
    assert!(
        channel
            .find_sent(&reply("we have refunded you"))
            .await
            .unwrap()
            .is_none()
    );
    // DMs cannot be matched: the desk treats them as at-least-once.
    let dm = OutboundMessage::new(ChannelKind::Twitter, Visibility::Private, "hi")
        .with_recipient(Identity::new(ChannelKind::Twitter, CUSTOMER));
    assert!(matches!(
        channel.find_sent(&dm).await,
        Err(ChannelError::Unsupported(_))
    ));
    spec.validate_all(&server.received_requests().await.unwrap());
}

#[tokio::test]
async fn find_sent_reports_a_failed_lookup_as_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/tweets")))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = channel(&server)
        .find_sent(&reply("so sorry"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn find_sent_pages_back_through_the_timeline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/tweets")))
        .and(wiremock::matchers::query_param("pagination_token", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{ "id": "1900000000000000002", "text": "@ann so sorry",
                       "referenced_tweets": [{ "type": "replied_to", "id": "1800000000000000003" }] }],
            "meta": { "result_count": 1 }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/tweets")))
        .and(wiremock::matchers::query_param_is_missing(
            "pagination_token",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{ "id": "1900000000000000009", "text": "newer, unrelated" }],
            "meta": { "result_count": 1, "next_token": "p2" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let found = channel(&server)
        .find_sent(&reply("so sorry"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.provider_id, "1900000000000000002");
}
