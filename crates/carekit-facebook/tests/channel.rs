//! The channel against a local Graph API (wiremock): request shapes checked
//! against Meta's Postman collection, Meta's windows and the
//! one-private-reply rule under a fake clock, error mapping, usage pauses.

mod support;

use carekit_core::KeyValues;
use carekit_core::{
    Channel, ChannelError, ChannelKind, Clock, FakeClock, Identity, MemoryStore, OutboundMessage,
    ReplyContext, Visibility,
};
use carekit_facebook::{FacebookChannel, GraphClient, private_reply_key};
use carekit_testing::at;
use chrono::Duration;
use serde_json::{Value, json};
use std::sync::Arc;
use support::*;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NOW: &str = "2026-03-01T12:00:00Z";

struct Rig {
    server: MockServer,
    clock: FakeClock,
    store: Arc<MemoryStore>,
    channel: FacebookChannel,
}

async fn rig() -> Rig {
    let server = MockServer::start().await;
    let clock = FakeClock::new(at(NOW));
    let store = Arc::new(MemoryStore::new());
    let channel = channel_on(&server, &clock, store.clone());
    Rig {
        server,
        clock,
        store,
        channel,
    }
}

fn channel_on(server: &MockServer, clock: &FakeClock, store: Arc<MemoryStore>) -> FacebookChannel {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let client = GraphClient::new(config(&server.uri()), clock).unwrap();
    FacebookChannel::new(client, store)
}

fn sent_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "recipient_id": "5275811702471834",
        "message_id": "m_qr6GPBlzTU4jqP0PBqaIoIAcfn2p3T7uiO5jm0L"
    }))
}

fn messenger(text: &str, last: &str, human: bool) -> OutboundMessage {
    OutboundMessage::new(ChannelKind::Facebook, Visibility::Private, text)
        .with_recipient(Identity::new(ChannelKind::Facebook, "5275811702471834"))
        .with_context(ReplyContext {
            customer_last_message_at: Some(at(last)),
            human_agent: human,
            in_reply_to_at: None,
        })
}

fn private_reply(comment: &str, written: Option<&str>) -> OutboundMessage {
    OutboundMessage::new(
        ChannelKind::Facebook,
        Visibility::Private,
        "Sorry! Can you DM us your order number?",
    )
    .with_account(PAGE)
    .with_reply_privately_to(comment)
    .with_context(ReplyContext {
        customer_last_message_at: None,
        human_agent: true,
        in_reply_to_at: written.map(at),
    })
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("JSON body")
}

/// Checks a Send API request against "Text Message" of Meta's collection:
/// method, path template, bearer auth, and every documented body key.
fn assert_matches_postman_text_message(request: &Request) {
    let Some(collection) = postman() else { return };
    let documented = postman_request(&collection, "Text Message");
    assert_eq!(
        request.method.as_str(),
        documented["method"].as_str().unwrap()
    );
    let vars = match_path(&documented["url"]["path"], request.url.path())
        .unwrap_or_else(|| panic!("{} does not match the documented path", request.url.path()));
    assert_eq!(vars[0], ("version".into(), "v23.0".into()));
    assert_eq!(vars[1], ("page-id".into(), PAGE.into()));
    assert_eq!(collection["auth"]["type"], "bearer");
    let auth = request
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(auth, format!("Bearer {TOKEN}"));
    assert!(
        !request.url.as_str().contains(TOKEN),
        "token must not be in the URL"
    );
    let example: Value =
        serde_json::from_str(documented["body"]["raw"].as_str().unwrap()).expect("documented body");
    let body = json_body(request);
    if body["recipient"].get("comment_id").is_some() {
        // Private replies address a comment instead of a PSID; the rest of
        // the documented shape must hold.
        assert_has_shape(&example["message"], &body["message"], "message");
    } else {
        assert_has_shape(&example, &body, "body");
    }
}

// --- Messenger windows ---------------------------------------------------------

#[tokio::test]
async fn messenger_send_inside_24_hours_is_a_documented_response() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .respond_with(sent_ok())
        .expect(1)
        .mount(&rig.server)
        .await;
    let delivery = rig
        .channel
        .send(&messenger("Hello!", "2026-03-01T00:00:00Z", false))
        .await
        .unwrap();
    assert_eq!(
        delivery.provider_id,
        "m_qr6GPBlzTU4jqP0PBqaIoIAcfn2p3T7uiO5jm0L"
    );
    assert_eq!(
        delivery.thread_key.unwrap().as_str(),
        "1234567890:5275811702471834"
    );
    let sent = requests(&rig.server).await;
    assert_matches_postman_text_message(&sent[0]);
    let body = json_body(&sent[0]);
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert_eq!(body["recipient"]["id"], "5275811702471834");
    assert_eq!(body["message"]["text"], "Hello!");
    assert!(body.get("tag").is_none());
}

#[tokio::test]
async fn after_24_hours_only_a_human_agent_may_write_and_only_for_7_days() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .respond_with(sent_ok())
        .mount(&rig.server)
        .await;
    let last = "2026-03-01T11:00:00Z";
    rig.clock.advance(Duration::hours(24)); // 25 h after the customer's message
    let bot = rig
        .channel
        .send(&messenger("Still there?", last, false))
        .await;
    assert!(
        matches!(bot, Err(ChannelError::OutsideWindow { ref reason }) if reason.contains("24-hour")),
        "{bot:?}"
    );
    rig.channel
        .send(&messenger("A person here.", last, true))
        .await
        .unwrap();
    let sent = requests(&rig.server).await;
    assert_eq!(sent.len(), 1, "the refused bot message never left");
    assert_matches_postman_text_message(&sent[0]);
    let body = json_body(&sent[0]);
    assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(body["tag"], "HUMAN_AGENT");

    rig.clock.advance(Duration::days(6)); // 7 days and 1 hour
    let late = rig
        .channel
        .send(&messenger("Sorry for the wait.", last, true))
        .await;
    assert!(
        matches!(late, Err(ChannelError::OutsideWindow { ref reason }) if reason.contains("7-day")),
        "{late:?}"
    );
    let never = OutboundMessage::new(ChannelKind::Facebook, Visibility::Private, "Hi")
        .with_recipient(Identity::new(ChannelKind::Facebook, "5275811702471834"));
    assert!(matches!(
        rig.channel.send(&never).await,
        Err(ChannelError::OutsideWindow { .. })
    ));
    assert_eq!(requests(&rig.server).await.len(), 1);
}

// --- Private replies --------------------------------------------------------------

#[tokio::test]
async fn one_private_reply_per_comment_recorded_durably() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .and(body_string_contains("comment_id"))
        .respond_with(sent_ok())
        .expect(1)
        .mount(&rig.server)
        .await;
    let comment = "444444444_555555555";
    let first = private_reply(comment, Some("2026-02-27T12:00:00Z"));
    let delivery = rig.channel.send(&first).await.unwrap();
    assert_eq!(
        delivery.thread_key.unwrap().as_str(),
        "1234567890:5275811702471834",
        "the private conversation learns the customer's PSID"
    );
    let sent = requests(&rig.server).await;
    assert_matches_postman_text_message(&sent[0]);
    let body = json_body(&sent[0]);
    assert_eq!(body["recipient"], json!({ "comment_id": comment }));
    assert_eq!(
        body["message"]["text"],
        "Sorry! Can you DM us your order number?"
    );

    let stored = rig
        .store
        .load_value(&private_reply_key(comment))
        .await
        .unwrap();
    assert_eq!(
        stored.as_deref(),
        Some("sent:m_qr6GPBlzTU4jqP0PBqaIoIAcfn2p3T7uiO5jm0L")
    );

    let second = private_reply(comment, Some("2026-02-27T12:00:00Z"));
    let refused = rig.channel.send(&second).await;
    assert!(
        matches!(refused, Err(ChannelError::Rejected { code: Some(ref c), .. }) if c == "private_reply_used"),
        "{refused:?}"
    );
    // A new process on the same store remembers.
    let restarted = channel_on(&rig.server, &rig.clock, rig.store.clone());
    assert!(matches!(
        restarted.send(&first).await,
        Err(ChannelError::Rejected { .. })
    ));
    // expect(1) is verified when the server drops.
}

/// A ledger with a database's round trip: each read and write takes a
/// few milliseconds, as over a network to Postgres.
struct RemoteLedger(Arc<MemoryStore>);

#[async_trait::async_trait]
impl carekit_core::KeyValues for RemoteLedger {
    async fn load_value(&self, name: &str) -> Result<Option<String>, carekit_core::StoreError> {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        self.0.load_value(name).await
    }
    async fn save_value(&self, name: &str, value: &str) -> Result<(), carekit_core::StoreError> {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        self.0.save_value(name, value).await
    }
    async fn swap_value(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, carekit_core::StoreError> {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        self.0.swap_value(name, expected, value).await
    }
}

/// Eight workers on one store, each with a different message for the same
/// comment, all at once: the comment gets one private reply, the others
/// are refused before they call Meta.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_racing_for_one_comment_send_one_private_reply() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .respond_with(sent_ok().set_delay(std::time::Duration::from_millis(50)))
        .mount(&rig.server)
        .await;
    let comment = "444444444_777777777";
    // Build every worker first (a client takes a while to build), then let
    // them go at once.
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let clock: Arc<dyn Clock> = Arc::new(rig.clock.clone());
        let client = GraphClient::new(config(&rig.server.uri()), clock).unwrap();
        let channel = FacebookChannel::new(client, Arc::new(RemoteLedger(rig.store.clone())));
        let message = private_reply(comment, Some("2026-02-27T12:00:00Z"));
        let start = start.clone();
        workers.spawn(async move {
            start.wait().await;
            channel.send(&message).await
        });
    }
    let mut sent = 0;
    while let Some(result) = workers.join_next().await {
        match result.unwrap() {
            Ok(_) => sent += 1,
            Err(ChannelError::Rejected { code: Some(c), .. }) => {
                assert_eq!(c, "private_reply_used")
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, 1);
    assert_eq!(requests(&rig.server).await.len(), 1, "Meta was called once");
}

#[tokio::test]
async fn private_reply_window_is_7_days_from_the_comment() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .respond_with(sent_ok())
        .mount(&rig.server)
        .await;
    let written = "2026-02-22T12:00:00Z"; // 7 days before NOW
    rig.channel
        .send(&private_reply("1_1", Some(written)))
        .await
        .unwrap();
    rig.clock.advance(Duration::minutes(1));
    let late = rig.channel.send(&private_reply("1_2", Some(written))).await;
    assert!(
        matches!(late, Err(ChannelError::OutsideWindow { .. })),
        "{late:?}"
    );
    assert_eq!(requests(&rig.server).await.len(), 1);
    assert_eq!(
        rig.store
            .load_value(&private_reply_key("1_2"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn private_reply_without_a_known_time_asks_graph_when_the_comment_was_written() {
    let rig = rig().await;
    Mock::given(method("GET"))
        .and(path("/v23.0/444_555"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "444_555", "created_time": "2026-02-20T09:00:00+0000"
        })))
        .expect(1)
        .mount(&rig.server)
        .await;
    let refused = rig.channel.send(&private_reply("444_555", None)).await;
    assert!(
        matches!(refused, Err(ChannelError::OutsideWindow { .. })),
        "{refused:?}"
    );
    let get = &requests(&rig.server).await[0];
    assert!(get.url.query().unwrap_or_default().contains("created_time"));
}

#[tokio::test]
async fn a_refused_private_reply_leaves_the_comment_its_chance_and_a_lost_answer_allows_only_the_same_retry()
 {
    let rig = rig().await;
    let refusal = ResponseTemplate::new(400).set_body_json(json!({"error": {
        "message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "fbtrace_id": "x"}}));
    Mock::given(method("POST"))
        .respond_with(refusal)
        .up_to_n_times(1)
        .mount(&rig.server)
        .await;
    let first = private_reply("9_9", Some(NOW));
    assert!(matches!(
        rig.channel.send(&first).await,
        Err(ChannelError::Rejected { .. })
    ));
    // Meta refused, so the comment may still get one.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream reset"))
        .up_to_n_times(1)
        .mount(&rig.server)
        .await;
    let second = private_reply("9_9", Some(NOW));
    assert_eq!(
        rig.channel.send(&second).await,
        Err(ChannelError::Server { status: 500 })
    );
    // The outcome of `second` is unknown: a different message is refused,
    // the same one (a retry) may go.
    let third = private_reply("9_9", Some(NOW));
    assert!(matches!(
        rig.channel.send(&third).await,
        Err(ChannelError::Rejected { .. })
    ));
    Mock::given(method("POST"))
        .respond_with(sent_ok())
        .mount(&rig.server)
        .await;
    rig.channel.send(&second).await.unwrap();
    assert_eq!(requests(&rig.server).await.len(), 3);
}

// --- Public replies, hide, delete, fetch ----------------------------------------------

#[tokio::test]
async fn public_reply_posts_a_comment_on_the_comment() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/444444444_555555555/comments"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "444444444_999"})))
        .expect(1)
        .mount(&rig.server)
        .await;
    let reply = OutboundMessage::new(
        ChannelKind::Facebook,
        Visibility::Public,
        "So sorry — we'll fix it.",
    )
    .with_in_reply_to("444444444_555555555");
    let delivery = rig.channel.send(&reply).await.unwrap();
    assert_eq!(delivery.provider_id, "444444444_999");
    let sent = &requests(&rig.server).await[0];
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&sent.body)
        .into_owned()
        .collect();
    assert_eq!(
        form,
        vec![("message".to_owned(), "So sorry — we'll fix it.".to_owned())]
    );

    let orphan = OutboundMessage::new(ChannelKind::Facebook, Visibility::Public, "Hi");
    assert!(matches!(
        rig.channel.send(&orphan).await,
        Err(ChannelError::Invalid(_))
    ));
    let too_long =
        OutboundMessage::new(ChannelKind::Facebook, Visibility::Public, "x".repeat(8001))
            .with_in_reply_to("1_2");
    assert!(matches!(
        rig.channel.send(&too_long).await,
        Err(ChannelError::TooLong { max: 8000, .. })
    ));
    let other_page = reply.clone().with_account("555");
    assert!(matches!(
        rig.channel.send(&other_page).await,
        Err(ChannelError::Invalid(_))
    ));
    let crafted = OutboundMessage::new(ChannelKind::Facebook, Visibility::Public, "Hi")
        .with_in_reply_to("../me/feed");
    assert!(matches!(
        rig.channel.send(&crafted).await,
        Err(ChannelError::Invalid(_))
    ));
}

#[tokio::test]
async fn hide_sets_is_hidden_and_delete_happens_only_when_called() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/444_555"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .mount(&rig.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v23.0/444_555"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&rig.server)
        .await;
    let caps = rig.channel.capabilities();
    assert!(caps.hide && caps.delete && caps.private_reply_to_public && caps.public_reply);
    rig.channel.hide("444_555", true).await.unwrap();
    rig.channel.hide("444_555", false).await.unwrap();
    let sent = requests(&rig.server).await;
    assert_eq!(sent.len(), 2, "hiding never deletes");
    assert_eq!(&sent[0].body[..], b"is_hidden=true");
    assert_eq!(&sent[1].body[..], b"is_hidden=false");
    rig.channel.delete("444_555").await.unwrap();
    assert_eq!(requests(&rig.server).await[2].method.as_str(), "DELETE");
}

#[tokio::test]
async fn fetching_a_comment_gives_the_event_its_webhook_would_have() {
    let rig = rig().await;
    Mock::given(method("GET"))
        .and(path("/v23.0/444444444_666"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "444444444_666", "message": "Still waiting!", "created_time": "2026-02-28T10:00:00+0000",
            "from": {"id": "156407155145863", "name": "Cinderella Hoover"},
            "parent": {"id": "444444444_555"}
        })))
        .mount(&rig.server)
        .await;
    let event = rig
        .channel
        .client()
        .fetch_comment("444444444_666")
        .await
        .unwrap();
    assert_eq!(event.external_id, "444444444_666");
    assert_eq!(event.visibility, Visibility::Public);
    assert_eq!(event.account, PAGE);
    assert_eq!(
        event.thread.key.unwrap().as_str(),
        "1234567890_444444444:156407155145863",
        "one conversation per commenter and post"
    );
    assert_eq!(
        event.thread.parents,
        vec![
            "444444444_555".to_owned(),
            "1234567890_444444444".to_owned()
        ]
    );
    assert_eq!(event.occurred_at, at("2026-02-28T10:00:00Z"));
    assert_eq!(
        event.author.display_name.as_deref(),
        Some("Cinderella Hoover")
    );
}

// --- Errors and usage ---------------------------------------------------------------------

#[tokio::test]
async fn graph_errors_are_typed() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/1_190/comments"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: Session has expired on Friday.",
            "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "A1"}})))
        .mount(&rig.server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#551) This person isn't available right now.", "type": "OAuthException",
            "code": 551, "error_subcode": 1545041, "fbtrace_id": "A2"}})))
        .mount(&rig.server)
        .await;
    let public = |target: &str| {
        OutboundMessage::new(ChannelKind::Facebook, Visibility::Public, "Hi")
            .with_in_reply_to(target)
    };
    let expired = rig.channel.send(&public("1_190")).await.unwrap_err();
    assert!(expired.is_credential_failure());
    assert!(
        expired.to_string().contains("page access token"),
        "{expired}"
    );
    assert!(!expired.to_string().contains(TOKEN));
    let gone = rig
        .channel
        .send(&messenger("Hi", NOW, false))
        .await
        .unwrap_err();
    assert!(
        matches!(gone, ChannelError::Rejected { .. }) && !gone.is_retryable(),
        "{gone:?}"
    );
}

#[tokio::test]
async fn network_failures_are_transport_errors() {
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(at(NOW)));
    // Port 9 (discard) on localhost: nothing listens.
    let client = GraphClient::new(config("http://127.0.0.1:9"), clock).unwrap();
    let channel = FacebookChannel::new(client, Arc::new(MemoryStore::new()));
    let reply = OutboundMessage::new(ChannelKind::Facebook, Visibility::Public, "Hi")
        .with_in_reply_to("1_2");
    let err = channel.send(&reply).await.unwrap_err();
    assert!(matches!(err, ChannelError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn throttling_codes_and_usage_headers_pause_calls() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PAGE}/messages")))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header(
                    "x-business-use-case-usage",
                    r#"{"1234567890":[{"type":"messenger","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":5}]}"#,
                )
                .set_body_json(json!({"error": {"message": "(#80006) There have been too many messenger api calls",
                    "type": "OAuthException", "code": 80006, "fbtrace_id": "A3"}})),
        )
        .mount(&rig.server)
        .await;
    let err = rig
        .channel
        .send(&messenger("Hi", NOW, false))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: std::time::Duration::from_secs(300)
        }
    );
    // Paused: the next call does not reach Meta.
    rig.clock.advance(Duration::minutes(4));
    let err = rig
        .channel
        .send(&messenger("Hi", NOW, false))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: std::time::Duration::from_secs(60)
        }
    );
    assert_eq!(requests(&rig.server).await.len(), 1);
    assert_eq!(rig.channel.client().usage().map(|u| u.percent), Some(100));
}

#[tokio::test]
async fn usage_near_the_limit_slows_down_before_meta_refuses() {
    let rig = rig().await;
    Mock::given(method("POST"))
        .respond_with(sent_ok().insert_header(
            "x-app-usage",
            r#"{"call_count":95,"total_time":40,"total_cputime":30}"#,
        ))
        .mount(&rig.server)
        .await;
    rig.channel
        .send(&messenger("one", NOW, false))
        .await
        .unwrap();
    let paused = rig.channel.send(&messenger("two", NOW, false)).await;
    assert!(
        matches!(paused, Err(ChannelError::RateLimited { .. })),
        "{paused:?}"
    );
    assert_eq!(requests(&rig.server).await.len(), 1);
    rig.clock.advance(Duration::seconds(61));
    rig.channel
        .send(&messenger("two", NOW, false))
        .await
        .unwrap();
    assert_eq!(requests(&rig.server).await.len(), 2);
}

#[tokio::test]
async fn find_sent_reconciles_comment_replies_and_messenger_messages() {
    let rig = rig().await;
    // The page's comments under the customer's comment: a stranger's with
    // the same text does not count, the page's does (on the second page).
    Mock::given(method("GET"))
        .and(path("/v23.0/444444444_555555555/comments"))
        .and(wiremock::matchers::query_param("after", "c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "444444444_901", "message": "So sorry — we'll fix it.", "from": {"id": PAGE, "name": "Acme"}}
        ]})))
        .mount(&rig.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/444444444_555555555/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "444444444_900", "message": "So sorry — we'll fix it.", "from": {"id": "156407155145863"}}],
            "paging": {"cursors": {"after": "c1"}, "next": "https://graph.facebook.com/next"}
        })))
        .mount(&rig.server)
        .await;
    let reply = OutboundMessage::new(
        ChannelKind::Facebook,
        Visibility::Public,
        "So sorry — we'll fix it.",
    )
    .with_in_reply_to("444444444_555555555");
    let found = rig.channel.find_sent(&reply).await.unwrap().unwrap();
    assert_eq!(found.provider_id, "444444444_901");
    let other = OutboundMessage::new(ChannelKind::Facebook, Visibility::Public, "Never sent")
        .with_in_reply_to("444444444_555555555");
    assert!(rig.channel.find_sent(&other).await.unwrap().is_none());

    // Messenger: the page's thread with the customer.
    Mock::given(method("GET"))
        .and(path(format!("/v23.0/{PAGE}/conversations")))
        .and(wiremock::matchers::query_param(
            "user_id",
            "5275811702471834",
        ))
        .and(wiremock::matchers::query_param("platform", "messenger"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{
            "id": "t_1",
            "messages": {"data": [
                {"id": "m_customer", "message": "Where is it?", "from": {"id": "5275811702471834"}},
                {"id": "m_ours", "message": "It ships today.", "from": {"id": PAGE}}
            ]}
        }]})))
        .mount(&rig.server)
        .await;
    let dm = messenger("It ships today.", NOW, false);
    let found = rig.channel.find_sent(&dm).await.unwrap().unwrap();
    assert_eq!(found.provider_id, "m_ours");
    assert!(found.thread_key.is_some());
    let customer_words = messenger("Where is it?", NOW, false);
    assert!(
        rig.channel
            .find_sent(&customer_words)
            .await
            .unwrap()
            .is_none(),
        "only the page's own messages count"
    );
    // A private reply to a comment is guarded by its ledger, not looked up.
    assert!(matches!(
        rig.channel
            .find_sent(&private_reply("444444444_555555555", None))
            .await,
        Err(ChannelError::Unsupported(_))
    ));
}
