//! End to end with the real `Desk`: signed webhooks in, threaded into
//! conversations, a public complaint handed off by private reply, the
//! customer's Messenger answer joining the private conversation, and the
//! replies going out to a local Graph API.

mod support;

use carekit_core::desk::{HandoffRequest, ReplyRequest};
use carekit_core::{
    Actor, ChannelKind, Clock, ConversationFilter, Desk, EventSink, FakeClock, MemoryStore,
    Visibility,
};
use carekit_facebook::{FacebookChannel, GraphClient, webhook};
use carekit_testing::at;
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use support::*;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A desk with the Facebook channel against `server`, and its webhook router.
fn desk_on(server: &MockServer, clock: &FakeClock) -> (Desk, axum::Router) {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let store = Arc::new(MemoryStore::new());
    let client = GraphClient::new(config(&server.uri()), clock.clone()).unwrap();
    let desk = Desk::builder()
        .store(store.clone())
        .clock(clock.clone())
        .channel(Arc::new(FacebookChannel::new(client, store)))
        .build()
        .unwrap();
    let router = webhook::router(
        config(&server.uri()),
        Arc::new(desk.clone()) as Arc<dyn EventSink>,
        clock,
    );
    (desk, router)
}

fn comment(comment_id: &str, parent: &str, text: &str, created: i64) -> String {
    json!({"object": "page", "entry": [{"id": PAGE, "time": created, "changes": [{"field": "feed", "value": {
        "from": {"id": "156407155145863", "name": "Cinderella Hoover"},
        "item": "comment", "verb": "add", "post_id": "1234567890_444",
        "comment_id": comment_id, "parent_id": parent, "created_time": created, "message": text
    }}]}]})
    .to_string()
}

#[tokio::test]
async fn public_complaint_private_reply_and_messenger_answer_are_one_case() {
    let server = MockServer::start().await;
    let clock = FakeClock::new(at("2026-03-01T12:00:00Z"));
    let (desk, router) = desk_on(&server, &clock);

    // A complaint and a follow-up reply under it: one public conversation.
    let t = at("2026-03-01T11:50:00Z").timestamp();
    let first = comment("444_1", "1234567890_444", "My order arrived broken.", t);
    let second = comment("444_2", "444_1", "And nobody answers.", t + 60);
    for body in [&first, &second, &first] {
        assert_eq!(call(&router, signed_post(body)).await.0, StatusCode::OK);
    }
    let public = desk
        .conversations(&ConversationFilter::default())
        .await
        .unwrap();
    assert_eq!(public.len(), 1, "a replayed webhook changes nothing");
    let public = &public[0];
    assert_eq!(public.visibility, Visibility::Public);
    assert_eq!(public.messages.len(), 2);

    // Hand off: a public reply under the comment, a private reply to it.
    Mock::given(method("POST"))
        .and(path("/v23.0/444_2/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "444_3"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/444_2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "444_2", "created_time": "2026-03-01T11:51:00+0000"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .and(body_string_contains("comment_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "recipient_id": "6789012345", "message_id": "m_private"})))
        .expect(1)
        .mount(&server)
        .await;
    let handoff = desk
        .handoff(
            public.id,
            HandoffRequest::new(
                ChannelKind::Facebook,
                "Sorry! We've sent you a message.",
                Actor::Agent("ann".into()),
            )
            .with_private_text("Hi Cinderella, could you send us your order number?"),
        )
        .await
        .unwrap();
    let report = desk.run_outbox_once().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let private_reply = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path().ends_with("/messages"))
        .unwrap();
    let body: Value = serde_json::from_slice(&private_reply.body).unwrap();
    assert_eq!(body["recipient"], json!({"comment_id": "444_2"}));

    // The customer answers on Messenger: it joins the private conversation.
    clock.advance(chrono::Duration::minutes(5));
    let answer = json!({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
        "sender": {"id": "6789012345"}, "recipient": {"id": PAGE},
        "timestamp": clock.now().timestamp_millis(),
        "message": {"mid": "m_answer", "text": "Order 1234, thanks"}}]}]})
    .to_string();
    assert_eq!(call(&router, signed_post(&answer)).await.0, StatusCode::OK);
    let private = desk
        .conversation(handoff.private_conversation)
        .await
        .unwrap();
    assert_eq!(private.case_id, public.case_id);
    assert!(
        private
            .messages
            .iter()
            .any(|m| m.external_id.as_deref() == Some("m_answer")),
        "the Messenger answer threads into the handed-off conversation"
    );

    // And the agent's reply goes out as a Messenger RESPONSE.
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .and(body_string_contains("RESPONSE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "recipient_id": "6789012345", "message_id": "m_reply"})))
        .expect(1)
        .mount(&server)
        .await;
    desk.reply(
        private.id,
        ReplyRequest::agent("ann", "Thanks! A replacement ships today."),
    )
    .await
    .unwrap();
    let report = desk.run_outbox_once().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let last = server.received_requests().await.unwrap().pop().unwrap();
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["recipient"], json!({"id": "6789012345"}));
    assert_eq!(body["messaging_type"], "RESPONSE");
}

#[tokio::test]
async fn strangers_commenting_on_one_brand_post_are_separate_conversations() {
    let server = MockServer::start().await;
    let (desk, router) = desk_on(&server, &FakeClock::new(at("2026-03-01T12:00:00Z")));
    let t = at("2026-03-01T11:50:00Z").timestamp();
    let by = |who: &str, id: &str, parent: &str, text: &str| {
        comment(id, parent, text, t).replace("156407155145863", who)
    };
    // Two customers under the brand's own post; then the first answers
    // under her own comment.
    for body in [
        by("1001", "444_10", "1234567890_444", "Broken on arrival."),
        by("2002", "444_20", "1234567890_444", "Mine never came."),
        by("1001", "444_11", "444_10", "Still broken."),
        by("1001", "444_12", "1234567890_444", "Hello? Anyone?"),
    ] {
        assert_eq!(call(&router, signed_post(&body)).await.0, StatusCode::OK);
    }
    let mut all = desk
        .conversations(&ConversationFilter::default())
        .await
        .unwrap();
    all.sort_by_key(|c| c.messages.len());
    let handles: Vec<(&str, usize)> = all
        .iter()
        .map(|c| (c.customer.identities[0].handle.as_str(), c.messages.len()))
        .collect();
    assert_eq!(handles, vec![("2002", 1), ("1001", 3)]);
}
