//! Webhook intake through the axum router, without a socket. Payloads are
//! shaped as Meta's documentation shows them (Messenger `messages`,
//! `message_echoes`, `message_deliveries`, `message_reads`,
//! `messaging_postbacks`; Pages `feed`).

mod support;

use axum::body::Body;
use carekit_core::{
    ChannelKind, Clock, DeliveryState, EventKind, EventSink, FakeClock, Visibility,
};
use carekit_facebook::{parse_webhook, webhook};
use carekit_testing::{CollectingSink, at};
use http::{Request, StatusCode};
use std::sync::Arc;
use support::*;

fn setup() -> (axum::Router, Arc<CollectingSink>) {
    let sink = Arc::new(CollectingSink::new());
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(at("2026-03-01T12:00:00Z")));
    let router = webhook::router(
        config("http://127.0.0.1:9"),
        sink.clone() as Arc<dyn EventSink>,
        clock,
    );
    (router, sink)
}

// --- Messenger -----------------------------------------------------------

const MESSAGE: &str = r#"{
  "object":"page",
  "entry":[
    {
      "id":"1234567890",
      "time":1458692752478,
      "messaging":[
        {
          "sender":{"id":"6789012345"},
          "recipient":{"id":"1234567890"},
          "timestamp":1458692752478,
          "message":{
            "mid":"mid.1457764197618:41d102a3e1ae206a38",
            "text":"hello, world!",
            "quick_reply": {"payload": "<DEVELOPER_DEFINED_PAYLOAD>"}
          }
        }
      ]
    }
  ]
}"#;

#[tokio::test]
async fn messenger_text_message_becomes_a_private_event() {
    let (router, sink) = setup();
    let (status, body) = call(&router, signed_post(MESSAGE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.channel, ChannelKind::Facebook);
    assert_eq!(e.account, PAGE);
    assert_eq!(e.kind, EventKind::Message);
    assert_eq!(e.visibility, Visibility::Private);
    assert_eq!(e.external_id, "mid.1457764197618:41d102a3e1ae206a38");
    assert_eq!(e.author.handle, "6789012345");
    assert_eq!(e.text, "hello, world!");
    assert_eq!(
        e.thread.key.as_ref().unwrap().as_str(),
        "1234567890:6789012345"
    );
    assert_eq!(e.occurred_at, at("2016-03-23T00:25:52.478Z"));
}

#[tokio::test]
async fn messenger_echo_attachment_reply_and_postback() {
    let body = r#"{"object":"page","entry":[{"id":"1234567890","time":1458692752478,"messaging":[
      {"sender":{"id":"1234567890"},"recipient":{"id":"6789012345"},"timestamp":1457764197627,
       "message":{"is_echo":true,"app_id":1517776481860111,"metadata":"<DEVELOPER_DEFINED_METADATA_STRING>",
                  "mid":"mid.1457764197618:41d102a3e1ae206a38","text":"We are on it."}},
      {"sender":{"id":"6789012345"},"recipient":{"id":"1234567890"},"timestamp":1458692752500,
       "message":{"mid":"m_photo","attachments":[{"type":"image","payload":{"url":"https://scontent.example/img.jpg"}}],
                  "reply_to":{"mid":"m_earlier"}}},
      {"sender":{"id":"6789012345"},"recipient":{"id":"1234567890"},"timestamp":1458692752600,
       "postback":{"title":"Talk to a person","payload":"HUMAN","mid":"m_postback"}}
    ]}]}"#;
    let (router, sink) = setup();
    assert_eq!(call(&router, signed_post(body)).await.0, StatusCode::OK);
    let events = sink.events();
    assert_eq!(events.len(), 3);
    let echo = &events[0];
    assert_eq!(echo.kind, EventKind::Echo);
    assert_eq!(
        echo.author.handle, "6789012345",
        "echo author is the customer written to"
    );
    assert_eq!(
        echo.thread.key.as_ref().unwrap().as_str(),
        "1234567890:6789012345"
    );
    let photo = &events[1];
    assert_eq!(photo.thread.parents, vec!["m_earlier".to_owned()]);
    assert_eq!(photo.attachments.len(), 1);
    assert_eq!(
        photo.attachments[0].url.as_deref(),
        Some("https://scontent.example/img.jpg")
    );
    assert_eq!(
        photo.attachments[0].content_type.as_deref(),
        Some("image/*")
    );
    let postback = &events[2];
    assert_eq!(postback.kind, EventKind::Message);
    assert_eq!(postback.external_id, "m_postback");
    assert_eq!(postback.text, "Talk to a person");
}

#[tokio::test]
async fn deliveries_become_one_event_per_mid_and_watermark_reads_are_skipped() {
    let body = r#"{"object":"page","entry":[{"id":"1234567890","time":1458668856463,"messaging":[
      {"sender":{"id":"6789012345"},"recipient":{"id":"1234567890"},
       "delivery":{"mids":["mid.1458668856218:ed81099e15d3f4f233","mid.2"],"watermark":1458668856253}},
      {"sender":{"id":"6789012345"},"recipient":{"id":"1234567890"},"timestamp":1458668856463,
       "read":{"watermark":1458668856253}}
    ]}]}"#;
    let batch = parse_webhook(body.as_bytes(), PAGE, at("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(batch.events.len(), 2);
    let ids: Vec<_> = batch
        .events
        .iter()
        .map(|e| e.external_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "mid.1458668856218:ed81099e15d3f4f233:delivered",
            "mid.2:delivered"
        ]
    );
    assert_eq!(
        batch.events[0].kind,
        EventKind::Delivery {
            provider_id: "mid.1458668856218:ed81099e15d3f4f233".into(),
            state: DeliveryState::Delivered,
            error: None
        }
    );
    // No timestamp on the delivery: the caller's "now" stands in.
    assert_eq!(batch.events[0].occurred_at, at("2026-01-01T00:00:00Z"));
    assert_eq!(batch.skipped.len(), 1);
    assert!(
        batch.skipped[0].contains("watermark"),
        "{:?}",
        batch.skipped
    );
}

// --- Page feed -----------------------------------------------------------

fn feed(value: &str) -> String {
    format!(
        r#"{{"entry":[{{"id":"1234567890","time":1520383571,"changes":[{{"field":"feed","value":{value}}}]}}],"object":"page"}}"#
    )
}

const COMMENT_ADD: &str = r#"{
  "from": {"id": "156407155145863", "name": "Cinderella Hoover"},
  "post": {"status_type": "added_photos", "is_published": true, "updated_time": "2018-03-11T23:45:12+0000",
           "permalink_url": "https://www.facebook.com/permalink.php?story_fbid=1", "promotion_status": "inactive",
           "id": "1234567890_444444444"},
  "message": "My order arrived broken.",
  "post_id": "1234567890_444444444",
  "comment_id": "444444444_555555555",
  "created_time": 1520383571,
  "item": "comment",
  "parent_id": "1234567890_444444444",
  "verb": "add"
}"#;

#[tokio::test]
async fn feed_comment_add_is_public_and_threaded_by_post() {
    let (router, sink) = setup();
    assert_eq!(
        call(&router, signed_post(&feed(COMMENT_ADD))).await.0,
        StatusCode::OK
    );
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, EventKind::Message);
    assert_eq!(e.visibility, Visibility::Public);
    assert_eq!(e.external_id, "444444444_555555555");
    assert_eq!(
        e.thread.key.as_ref().unwrap().as_str(),
        "1234567890_444444444:156407155145863"
    );
    assert_eq!(e.thread.parents, vec!["1234567890_444444444".to_owned()]);
    assert_eq!(e.author.handle, "156407155145863");
    assert_eq!(e.author.display_name.as_deref(), Some("Cinderella Hoover"));
    assert_eq!(e.text, "My order arrived broken.");
    assert_eq!(e.occurred_at, at("2018-03-07T00:46:11Z"));
}

#[tokio::test]
async fn nested_reply_names_its_parent_comment_first() {
    let reply = COMMENT_ADD
        .replace("444444444_555555555", "444444444_666666666")
        .replace(
            r#""parent_id": "1234567890_444444444""#,
            r#""parent_id": "444444444_555555555""#,
        );
    let batch = parse_webhook(feed(&reply).as_bytes(), PAGE, at("2026-01-01T00:00:00Z")).unwrap();
    let e = &batch.events[0];
    assert_eq!(e.external_id, "444444444_666666666");
    assert_eq!(
        e.thread.parents,
        vec![
            "444444444_555555555".to_owned(),
            "1234567890_444444444".to_owned()
        ]
    );
    assert_eq!(
        e.thread.key.as_ref().unwrap().as_str(),
        "1234567890_444444444:156407155145863"
    );
}

#[tokio::test]
async fn edits_get_an_id_per_edit_and_removals_name_the_comment() {
    let edit1 = COMMENT_ADD
        .replace(r#""verb": "add""#, r#""verb": "edited""#)
        .replace(
            "My order arrived broken.",
            "My order arrived broken. Twice!",
        );
    let edit2 = edit1.replace("Twice!", "Three times!");
    let remove = COMMENT_ADD.replace(r#""verb": "add""#, r#""verb": "remove""#);
    let now = at("2026-01-01T00:00:00Z");
    let e1 = parse_webhook(feed(&edit1).as_bytes(), PAGE, now)
        .unwrap()
        .events
        .remove(0);
    let e1_again = parse_webhook(feed(&edit1).as_bytes(), PAGE, now)
        .unwrap()
        .events
        .remove(0);
    let e2 = parse_webhook(feed(&edit2).as_bytes(), PAGE, now)
        .unwrap()
        .events
        .remove(0);
    let removed = parse_webhook(feed(&remove).as_bytes(), PAGE, now)
        .unwrap()
        .events
        .remove(0);
    assert_eq!(e1.kind, EventKind::Edited);
    assert_eq!(e1.thread.parents[0], "444444444_555555555");
    assert_eq!(e1.text, "My order arrived broken. Twice!");
    assert!(e1.external_id.starts_with("444444444_555555555:edit:"));
    assert_eq!(
        e1.external_id, e1_again.external_id,
        "a replayed edit keeps its id"
    );
    assert_ne!(e1.external_id, e2.external_id, "each edit has its own id");
    assert_eq!(removed.kind, EventKind::Removed);
    assert_eq!(removed.external_id, "444444444_555555555:removed");
    assert_eq!(removed.thread.parents[0], "444444444_555555555");
}

#[tokio::test]
async fn page_posts_become_their_own_conversation_root() {
    let post = r#"{"from":{"id":"42","name":"Ann Lee"},"item":"status","post_id":"1234567890_777",
                   "verb":"add","published":1,"created_time":1520383571,"message":"Where is my refund?"}"#;
    let batch = parse_webhook(feed(post).as_bytes(), PAGE, at("2026-01-01T00:00:00Z")).unwrap();
    let e = &batch.events[0];
    assert_eq!(e.external_id, "1234567890_777");
    assert_eq!(e.thread.key.as_ref().unwrap().as_str(), "1234567890_777");
    assert!(e.thread.parents.is_empty());
}

#[tokio::test]
async fn several_entries_and_changes_in_one_post_are_all_processed() {
    let second = COMMENT_ADD.replace("444444444_555555555", "444444444_888");
    let body = format!(
        r#"{{"object":"page","entry":[
          {{"id":"1234567890","time":1520383571,"changes":[
             {{"field":"feed","value":{COMMENT_ADD}}},
             {{"field":"feed","value":{second}}}]}},
          {{"id":"1234567890","time":1458692752478,"messaging":[
             {{"sender":{{"id":"6789012345"}},"recipient":{{"id":"1234567890"}},"timestamp":1458692752478,
               "message":{{"mid":"m_1","text":"hi"}}}},
             {{"sender":{{"id":"6789012346"}},"recipient":{{"id":"1234567890"}},"timestamp":1458692752479,
               "message":{{"mid":"m_2","text":"hello"}}}}]}}
        ]}}"#
    );
    let (router, sink) = setup();
    assert_eq!(call(&router, signed_post(&body)).await.0, StatusCode::OK);
    let ids: Vec<_> = sink.events().into_iter().map(|e| e.external_id).collect();
    assert_eq!(ids, ["444444444_555555555", "444444444_888", "m_1", "m_2"]);
}

// --- Handshake -------------------------------------------------------------

#[tokio::test]
async fn verification_handshake_echoes_the_challenge_only_for_the_right_token() {
    let (router, _) = setup();
    let get = |query: &str| {
        Request::get(format!("/?{query}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = call(
        &router,
        get("hub.mode=subscribe&hub.verify_token=verify-token-123&hub.challenge=1158201444"),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1158201444"));
    for bad in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444",
        "hub.mode=unsubscribe&hub.verify_token=verify-token-123&hub.challenge=1158201444",
        "hub.mode=subscribe&hub.challenge=1158201444",
        "hub.mode=subscribe&hub.verify_token=verify-token-123",
    ] {
        let (status, body) = call(&router, get(bad)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad}");
        assert!(!body.contains("1158201444"), "{bad} echoed the challenge");
    }
}

// --- Refusals ----------------------------------------------------------------

#[tokio::test]
async fn forged_missing_and_sha1_only_signatures_reach_nothing() {
    use hmac::{Hmac, Mac};
    let (router, sink) = setup();
    let post = |header: Option<(&str, String)>| {
        let mut builder = Request::post("/").header("content-type", "application/json");
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(MESSAGE)).unwrap()
    };
    let forged = carekit_facebook::signature::sign(b"not-the-app-secret", MESSAGE.as_bytes());
    let mut sha1 = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    sha1.update(MESSAGE.as_bytes());
    let sha1 = format!("sha1={}", hex::encode(sha1.finalize().into_bytes()));
    let cases = [
        (Some(("x-hub-signature-256", forged)), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
        (Some(("x-hub-signature", sha1)), StatusCode::UNAUTHORIZED),
        (
            Some(("x-hub-signature-256", "sha256=nothex".into())),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (header, expected) in cases {
        let shown = format!("{header:?}");
        let (status, body) = call(&router, post(header)).await;
        assert_eq!(status, expected, "{shown}: {body}");
    }
    // A body signed correctly but altered in transit.
    let mut tampered = signed_post(MESSAGE);
    *tampered.body_mut() = Body::from(MESSAGE.replace("hello, world!", "hello, world?"));
    assert_eq!(call(&router, tampered).await.0, StatusCode::FORBIDDEN);
    assert!(sink.events().is_empty(), "nothing may reach the sink");
}

#[tokio::test]
async fn truncated_json_is_a_clear_400_and_nothing_is_ingested() {
    let (router, sink) = setup();
    let truncated = &MESSAGE[..MESSAGE.len() / 2];
    let (status, body) = call(&router, signed_post(truncated)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("malformed webhook JSON"), "{body}");
    for junk in ["", "[]", "null", r#"{"object":"page","entry":{}}"#] {
        assert_eq!(
            call(&router, signed_post(junk)).await.0,
            StatusCode::BAD_REQUEST,
            "{junk}"
        );
    }
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn unknown_fields_event_types_and_other_pages_are_skipped_not_fatal() {
    let body = format!(
        r#"{{"object":"page","brand_new_top_level_field":true,"entry":[
          {{"id":"999999","time":1,"changes":[{{"field":"feed","value":{COMMENT_ADD}}}]}},
          {{"id":"1234567890","time":1520383571,"changes":[
             {{"field":"feed","value":{{"item":"reaction","verb":"add","reaction_type":"angry","post_id":"1234567890_1",
                                        "from":{{"id":"5"}},"created_time":1520383571}}}},
             {{"field":"ratings","value":{{"rating":1}}}},
             {{"field":"feed","value":{{"item":"comment"}}}},
             {{"field":"feed","value":{{"item":"comment","verb":"add","post_id":"1234567890_1","comment_id":"1_2",
                                        "from":{{"id":"1234567890","name":"The Brand"}},"message":"our own reply"}}}},
             {{"field":"feed","value":{{"item":"comment","verb":"hide","post_id":"1234567890_1","comment_id":"1_3"}}}}],
           "messaging":[
             {{"sender":{{"id":"6789012345"}},"recipient":{{"id":"1234567890"}},"timestamp":1,
               "optin":{{"ref":"x"}}}},
             {{"sender":{{"id":"6789012345"}},"recipient":{{"id":"1234567890"}},"timestamp":1,
               "message":{{"mid":"m_ok","text":"still processed","future_field":{{"a":1}}}}}},
             {{"nonsense":true}}],
           "standby":[{{"sender":{{"id":"1"}}}}]}}
        ]}}"#
    );
    let batch = parse_webhook(body.as_bytes(), PAGE, at("2026-01-01T00:00:00Z")).unwrap();
    let ids: Vec<_> = batch
        .events
        .iter()
        .map(|e| e.external_id.as_str())
        .collect();
    // The page's own comment is the echo of its reply; the rest is skipped.
    assert_eq!(ids, ["1_2", "m_ok"]);
    assert_eq!(batch.events[0].kind, EventKind::Echo);
    assert_eq!(batch.skipped.len(), 8, "{:#?}", batch.skipped);
    assert!(batch.skipped[0].contains("page 999999"));

    let (router, sink) = setup();
    assert_eq!(call(&router, signed_post(&body)).await.0, StatusCode::OK);
    assert_eq!(sink.events().len(), 2);

    let instagram = r#"{"object":"instagram","entry":[{"id":"1","time":1,"changes":[]}]}"#;
    assert_eq!(
        call(&router, signed_post(instagram)).await.0,
        StatusCode::OK
    );
    assert_eq!(sink.events().len(), 2);
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_parsing() {
    let sink = Arc::new(CollectingSink::new());
    let config = carekit_facebook::FacebookConfig::builder(PAGE)
        .page_token(TOKEN)
        .app_secret(SECRET)
        .verify_token(VERIFY)
        .body_limit(256)
        .build()
        .unwrap();
    let router = webhook::router(
        config,
        sink.clone() as Arc<dyn EventSink>,
        Arc::new(FakeClock::new(at("2026-01-01T00:00:00Z"))),
    );
    let (status, _) = call(&router, signed_post(MESSAGE)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn an_unavailable_sink_gets_503_so_meta_retries() {
    let (router, sink) = setup();
    sink.fail_next(1);
    let (status, _) = call(&router, signed_post(MESSAGE)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(sink.events().is_empty());
    let (status, _) = call(&router, signed_post(MESSAGE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
}
