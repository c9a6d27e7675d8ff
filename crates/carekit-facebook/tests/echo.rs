//! The platform's echo of what the channel sent names the same id: the
//! desk resolves an `Echo` to the message it already sent by its external
//! id, so the `Delivery::provider_id` a send returns must be the
//! `external_id` of the echo Meta delivers for that message: the page's own
//! comment in a `feed` change (`comment_id` = the id `POST /{id}/comments`
//! returned) and the Messenger `message_echoes` event (`mid` = the
//! `message_id` the Send API, `POST /{page-id}/messages`, returned).

mod support;

use carekit_core::{
    Channel, ChannelKind, Clock, EventKind, EventSink, FakeClock, Identity, MemoryStore,
    OutboundMessage, ReplyContext, Visibility,
};
use carekit_facebook::{FacebookChannel, GraphClient, webhook};
use carekit_testing::{CollectingSink, at};
use http::StatusCode;
use serde_json::json;
use std::sync::Arc;
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-03-01T12:00:00Z";
const POST: &str = "1234567890_444444444";
const CUSTOMER_COMMENT: &str = "444444444_900";
const PSID: &str = "5275811702471834";

fn channel(server: &MockServer) -> FacebookChannel {
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(at(NOW)));
    let client = GraphClient::new(config(&server.uri()), clock).unwrap();
    FacebookChannel::new(client, Arc::new(MemoryStore::new()))
}

async fn deliver(body: &str) -> Vec<carekit_core::InboundEvent> {
    let sink = Arc::new(CollectingSink::new());
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(at(NOW)));
    let router = webhook::router(
        config("http://127.0.0.1:9"),
        sink.clone() as Arc<dyn EventSink>,
        clock,
    );
    assert_eq!(call(&router, signed_post(body)).await.0, StatusCode::OK);
    sink.events()
}

#[tokio::test]
async fn the_echo_of_a_comment_reply_carries_the_id_graph_returned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{CUSTOMER_COMMENT}/comments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "444444444_901" })))
        .expect(1)
        .mount(&server)
        .await;
    let reply = OutboundMessage::new(
        ChannelKind::Facebook,
        Visibility::Public,
        "So sorry — we'll fix it.",
    )
    .with_account(PAGE)
    .with_in_reply_to(CUSTOMER_COMMENT);
    let delivery = channel(&server).send(&reply).await.unwrap();

    // Meta's feed change for the page's new comment.
    let body = json!({
        "object": "page",
        "entry": [{
            "id": PAGE,
            "time": 1_772_366_401,
            "changes": [{
                "field": "feed",
                "value": {
                    "from": { "id": PAGE, "name": "Acme" },
                    "post": { "status_type": "added_photos", "is_published": true, "updated_time": "2026-03-01T12:00:01+0000", "permalink_url": "https://www.facebook.com/acme/posts/444444444", "promotion_status": "inactive", "id": POST },
                    "message": "So sorry — we'll fix it.",
                    "post_id": POST,
                    "comment_id": delivery.provider_id,
                    "created_time": 1_772_366_401,
                    "item": "comment",
                    "parent_id": CUSTOMER_COMMENT,
                    "verb": "add"
                }
            }]
        }]
    })
    .to_string();
    let events = deliver(&body).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let echo = &events[0];
    assert_eq!(echo.kind, EventKind::Echo);
    assert_eq!(echo.external_id, delivery.provider_id);
    assert_eq!(echo.external_id, "444444444_901");
    assert_eq!(echo.visibility, Visibility::Public);
    assert_eq!(
        echo.thread.parents.first().map(String::as_str),
        Some(CUSTOMER_COMMENT)
    );

    // The page editing or removing its comment, or posting, is no echo.
    for (item, verb, id) in [
        ("comment", "edited", "444444444_901"),
        ("comment", "remove", "444444444_901"),
        ("status", "add", POST),
    ] {
        let body = json!({
            "object": "page",
            "entry": [{ "id": PAGE, "time": 1_772_366_500, "changes": [{ "field": "feed", "value": {
                "from": { "id": PAGE, "name": "Acme" }, "message": "edited", "post_id": POST,
                "comment_id": id, "parent_id": CUSTOMER_COMMENT, "created_time": 1_772_366_500,
                "item": item, "verb": verb
            }}]}]
        })
        .to_string();
        assert!(deliver(&body).await.is_empty(), "{item} {verb}");
    }
}

#[tokio::test]
async fn the_echo_of_a_messenger_message_carries_the_mid_the_send_api_returned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "recipient_id": PSID,
            "message_id": "m_qr6GPBlzTU4jqP0PBqaIoIAcfn2p3T7uiO5jm0L"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let message = OutboundMessage::new(
        ChannelKind::Facebook,
        Visibility::Private,
        "It ships today.",
    )
    .with_recipient(Identity::new(ChannelKind::Facebook, PSID))
    .with_context(ReplyContext {
        customer_last_message_at: Some(at("2026-03-01T11:00:00Z")),
        human_agent: false,
        in_reply_to_at: None,
    });
    let delivery = channel(&server).send(&message).await.unwrap();

    // Meta's `message_echoes` event for it.
    let body = json!({
        "object": "page",
        "entry": [{
            "id": PAGE,
            "time": 1_772_366_401_000i64,
            "messaging": [{
                "sender": { "id": PAGE },
                "recipient": { "id": PSID },
                "timestamp": 1_772_366_401_000i64,
                "message": {
                    "is_echo": true,
                    "app_id": 1_517_776_481_860_111i64,
                    "mid": delivery.provider_id,
                    "text": "It ships today."
                }
            }]
        }]
    })
    .to_string();
    let events = deliver(&body).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let echo = &events[0];
    assert_eq!(echo.kind, EventKind::Echo);
    assert_eq!(echo.external_id, delivery.provider_id);
    assert_eq!(echo.author.handle, PSID, "the customer written to");
    assert_eq!(
        echo.thread.key.as_ref().map(|k| k.as_str()),
        delivery.thread_key.as_ref().map(|k| k.as_str())
    );
}
