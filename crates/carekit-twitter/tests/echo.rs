//! The platform's echo of what the channel sent names the same id: the
//! desk resolves an `Echo` to the message it already sent by its external
//! id, so the `Delivery::provider_id` a send returns must be the
//! `external_id` of the echo X delivers for that message (webhook
//! `tweet_create_events` / `direct_message_events`, and the DM events the
//! poller reads), and the echo's author must be the customer written to.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use carekit_core::{
    Channel, ChannelKind, EventKind, FakeClock, Identity, MemoryStore, OutboundMessage, Visibility,
};
use carekit_testing::{CollectingSink, at};
use carekit_twitter::webhook::{OAUTH2_SIGNATURE_HEADER, WebhookConfig, router};
use carekit_twitter::{Auth, Poller, TwitterChannel, XClient};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONSUMER_SECRET: &str = "consumer-secret-for-echo-tests";
const OAUTH2_SECRET: &str = "oauth2-secret-for-echo-tests";
/// The customer's tweet the brand answers.
const CUSTOMER_TWEET: &str = "1800000000000000003";
/// The ids X gives the brand's reply and DM.
const REPLY_ID: &str = "1900000000000000001";
const DM_EVENT_ID: &str = "1900000000000000009";

fn client(server: &MockServer) -> XClient {
    XClient::builder(Auth::oauth1("ck", "cs", "at", "as"), BRAND)
        .api_base(server.uri())
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:30:00Z"))))
        .build()
        .unwrap()
}

/// X's answers to `POST /2/tweets` and `POST /2/dm_conversations/with/…`.
async fn x() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "id": REPLY_ID, "text": "@ann so sorry, looking now" }
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/2/dm_conversations/with/{CUSTOMER}/messages")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "dm_conversation_id": format!("{CUSTOMER}-{BRAND}"), "dm_event_id": DM_EVENT_ID }
        })))
        .mount(&server)
        .await;
    server
}

async fn post_webhook(payload: &Value, sink: Arc<CollectingSink>) -> StatusCode {
    let body = serde_json::to_vec(payload).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(OAUTH2_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let signature = format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let app = router(
        WebhookConfig::new(CONSUMER_SECRET)
            .with_oauth2_client_secret(OAUTH2_SECRET)
            .with_clock(Arc::new(FakeClock::new(at("2026-03-02T09:30:00Z")))),
        sink,
    );
    let request = Request::post("/")
        .header("content-type", "application/json")
        .header(OAUTH2_SIGNATURE_HEADER, signature)
        .body(Body::from(body))
        .unwrap();
    app.oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn the_echo_of_a_public_reply_carries_the_id_the_send_returned() {
    let server = x().await;
    let reply = OutboundMessage::new(
        ChannelKind::Twitter,
        Visibility::Public,
        "@ann so sorry, looking now",
    )
    .with_account(BRAND)
    .with_in_reply_to(CUSTOMER_TWEET)
    .with_recipient(Identity::new(ChannelKind::Twitter, CUSTOMER));
    let delivery = TwitterChannel::new(client(&server))
        .send(&reply)
        .await
        .unwrap();

    // X's Account Activity echo of that tweet (v1.1 shape, as documented).
    let echo = json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "created_at": "Mon Mar 02 09:30:01 +0000 2026",
            "id": delivery.provider_id.parse::<u64>().unwrap(),
            "id_str": delivery.provider_id,
            "text": "@ann so sorry, looking now",
            "truncated": false,
            "in_reply_to_status_id": CUSTOMER_TWEET.parse::<u64>().unwrap(),
            "in_reply_to_status_id_str": CUSTOMER_TWEET,
            "in_reply_to_user_id": CUSTOMER.parse::<u64>().unwrap(),
            "in_reply_to_user_id_str": CUSTOMER,
            "in_reply_to_screen_name": "ann",
            "user": { "id": BRAND.parse::<u64>().unwrap(), "id_str": BRAND, "name": "Acme", "screen_name": "acme" },
            "entities": { "hashtags": [], "urls": [], "user_mentions": [], "symbols": [] },
            "timestamp_ms": "1772443801000"
        }]
    });
    let sink = Arc::new(CollectingSink::new());
    assert_eq!(post_webhook(&echo, sink.clone()).await, StatusCode::OK);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Echo);
    assert_eq!(events[0].external_id, delivery.provider_id);
    assert_eq!(events[0].external_id, REPLY_ID);
    assert_eq!(events[0].author.handle, CUSTOMER);
    assert_eq!(events[0].thread.parents, [CUSTOMER_TWEET.to_owned()]);

    // When the mentions timeline carries the brand's own reply (it does
    // when the reply mentions the brand), the poller echoes it the same way.
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/mentions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![v2_tweet(
                &delivery.provider_id,
                BRAND,
                "@ann so sorry, looking now (cc @acme)",
                CUSTOMER_TWEET,
                Some(CUSTOMER_TWEET),
            )],
            None,
        )))
        .mount(&server)
        .await;
    let sink = Arc::new(CollectingSink::new());
    let poller = Poller::builder(client(&server), sink.clone(), Arc::new(MemoryStore::new()))
        .direct_messages(false)
        .build();
    poller.poll_once().await.unwrap();
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, EventKind::Echo);
    assert_eq!(events[0].external_id, delivery.provider_id);
    assert_eq!(events[0].author.handle, CUSTOMER);
}

#[tokio::test]
async fn the_echo_of_a_dm_carries_the_event_id_the_send_returned() {
    let server = x().await;
    let dm = OutboundMessage::new(
        ChannelKind::Twitter,
        Visibility::Private,
        "Hi Ann, Maya here.",
    )
    .with_recipient(Identity::new(ChannelKind::Twitter, CUSTOMER));
    let delivery = TwitterChannel::new(client(&server))
        .send(&dm)
        .await
        .unwrap();

    // The webhook's echo: a message_create whose sender is the brand.
    let echo = json!({
        "for_user_id": BRAND,
        "direct_message_events": [{
            "type": "message_create",
            "id": delivery.provider_id,
            "created_timestamp": "1772443801000",
            "message_create": {
                "target": { "recipient_id": CUSTOMER },
                "sender_id": BRAND,
                "message_data": { "text": "Hi Ann, Maya here.", "entities": { "hashtags": [], "symbols": [], "user_mentions": [], "urls": [] } }
            }
        }],
        "users": {
            CUSTOMER: { "id": CUSTOMER, "name": "Ann", "screen_name": "ann" },
            BRAND: { "id": BRAND, "name": "Acme", "screen_name": "acme" }
        }
    });
    let sink = Arc::new(CollectingSink::new());
    assert_eq!(post_webhook(&echo, sink.clone()).await, StatusCode::OK);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Echo);
    assert_eq!(events[0].external_id, delivery.provider_id);
    assert_eq!(events[0].external_id, DM_EVENT_ID);
    assert_eq!(events[0].author.handle, CUSTOMER);
    assert_eq!(
        events[0].thread.key.as_ref().map(|k| k.as_str()),
        delivery.thread_key.as_ref().map(|k| k.as_str())
    );

    // The poller reads the same DM from `GET /2/dm_events`.
    Mock::given(method("GET"))
        .and(path("/2/dm_events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dm_page(
            vec![dm_event(&delivery.provider_id, BRAND, "Hi Ann, Maya here.")],
            None,
        )))
        .mount(&server)
        .await;
    let sink = Arc::new(CollectingSink::new());
    let poller = Poller::builder(client(&server), sink.clone(), Arc::new(MemoryStore::new()))
        .mentions(false)
        .build();
    poller.poll_once().await.unwrap();
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, EventKind::Echo);
    assert_eq!(events[0].external_id, delivery.provider_id);
    assert_eq!(events[0].author.handle, CUSTOMER);
}
