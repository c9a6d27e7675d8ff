//! End to end with the real desk: a mention polled in, an agent's reply sent
//! as a threaded tweet, and the customer's answer back in the same
//! conversation.

mod support;

use std::sync::Arc;

use carekit_core::desk::ReplyRequest;
use carekit_core::{
    ConversationFilter, DeliveryState, Desk, Direction, EventSink, FakeClock, MemoryStore, Store,
};
use carekit_testing::at;
use carekit_twitter::{Auth, Poller, TwitterChannel, XClient};
use serde_json::json;
use support::*;
use wiremock::matchers::{body_partial_json, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_polled_mention_is_answered_in_thread_and_the_answer_joins_it() {
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    let clock = FakeClock::new(at("2026-03-02T09:30:00Z"));
    let client = XClient::builder(Auth::oauth1("ck", "cs", "at", "as"), BRAND)
        .api_base(server.uri())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let desk = Desk::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(TwitterChannel::new(client.clone())))
        .build()
        .unwrap();
    let poller = Poller::builder(
        client,
        Arc::new(desk.clone()) as Arc<dyn EventSink>,
        store.clone(),
    )
    .direct_messages(false)
    .build();

    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/mentions")))
        .and(query_param_is_missing("since_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![v2_tweet(
                "1800000000000000001",
                CUSTOMER,
                "@acme my order is two weeks late",
                "1800000000000000001",
                None,
            )],
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(body_partial_json(
            json!({ "reply": { "in_reply_to_tweet_id": "1800000000000000001" } }),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "id": "1800000000000000002", "text": "@ann so sorry" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Next round: X shows the brand's reply (as the parent) and Ann's answer.
    let mut page = mentions_page(
        vec![v2_tweet(
            "1800000000000000003",
            CUSTOMER,
            "@acme thanks, order 4411",
            "1800000000000000001",
            Some("1800000000000000002"),
        )],
        None,
    );
    page["includes"]["tweets"] = json!([v2_tweet(
        "1800000000000000002",
        BRAND,
        "@ann so sorry",
        "1800000000000000001",
        Some("1800000000000000001")
    )]);
    for since in ["1800000000000000001", "1800000000000000003"] {
        // The second is a replay: X repeating what was already taken.
        Mock::given(method("GET"))
            .and(path(format!("/2/users/{BRAND}/mentions")))
            .and(query_param("since_id", since))
            .respond_with(ResponseTemplate::new(200).set_body_json(page.clone()))
            .mount(&server)
            .await;
    }

    poller.poll_once().await.unwrap();
    let conversations = desk
        .conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(conversations.len(), 1);
    let id = conversations[0].id;
    desk.reply(
        id,
        ReplyRequest::agent("maya", "@ann so sorry, checking order now"),
    )
    .await
    .unwrap();
    desk.run_outbox_once().await.unwrap();
    poller.poll_once().await.unwrap();
    // A replayed round changes nothing.
    poller.poll_once().await.unwrap();

    let conversations = desk
        .conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(
        conversations.len(),
        1,
        "one conversation for the whole chain"
    );
    let record = desk.conversation(id).await.unwrap();
    // Fixture tweets all carry 09:00; compare by platform id, not position.
    let mut summary: Vec<(Direction, Option<String>)> = record
        .messages
        .iter()
        .map(|m| (m.direction, m.external_id.clone()))
        .collect();
    summary.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        summary,
        [
            (Direction::Inbound, Some("1800000000000000001".into())),
            (Direction::Outbound, Some("1800000000000000002".into())),
            (Direction::Inbound, Some("1800000000000000003".into())),
        ]
    );
    assert!(
        record
            .messages
            .iter()
            .any(|m| m.direction == Direction::Outbound && m.delivery == Some(DeliveryState::Sent))
    );
    assert_eq!(record.customer.followers, Some(1234));
    spec.validate_all(&server.received_requests().await.unwrap());
}
