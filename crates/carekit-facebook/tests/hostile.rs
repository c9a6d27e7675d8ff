//! Hostile input against the Graph webhook: Meta-shaped bodies full of
//! wrong types and odd values, arbitrary bytes, mutated bodies and forged
//! `X-Hub-Signature-256` headers, arbitrary handshake queries. The parser
//! answers `Ok` or `FacebookError::Json`, never a panic; a signature never
//! verifies a body it was not made for; events only ever name this page.

mod support;

use axum::body::Body;
use carekit_core::{ChannelKind, Clock, EventKind, EventSink, FakeClock, Visibility};
use carekit_facebook::signature::{sign, verify};
use carekit_facebook::{FacebookError, parse_webhook, webhook};
use carekit_testing::{CollectingSink, at};
use http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;
use support::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn app() -> (axum::Router, Arc<CollectingSink>) {
    let sink = Arc::new(CollectingSink::new());
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(at("2026-03-01T12:00:00Z")));
    let router = webhook::router(
        config("http://127.0.0.1:9"),
        sink.clone() as Arc<dyn EventSink>,
        clock,
    );
    (router, sink)
}

fn post(body: &[u8], signature: Option<&str>) -> Option<Request<Body>> {
    let mut request = Request::post("/").header("content-type", "application/json");
    if let Some(s) = signature {
        request = request.header("x-hub-signature-256", s);
    }
    request.body(Body::from(body.to_vec())).ok()
}

/// 256 cases in CI; `HOSTILE_CASES=20000` for a longer local run.
fn cases() -> u32 {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

// ---- strategies ---------------------------------------------------------

fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => "[0-9]{1,17}(_[0-9]{1,12})?".prop_map(Value::from),
        2 => Just(json!(PAGE)),
        1 => any::<u64>().prop_map(Value::from),
        1 => "\\PC{0,16}".prop_map(Value::from),
        1 => Just(json!(-1)),
        1 => Just(Value::Null),
        1 => Just(json!({"nested": true})),
    ]
}

fn time() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => any::<i64>().prop_map(Value::from),
        2 => Just(json!(1_772_442_000)),
        2 => Just(json!(1_772_442_000_000i64)),
        1 => Just(json!("2026-03-02T09:00:00+0000")),
        1 => "\\PC{0,24}".prop_map(Value::from),
        1 => Just(json!(1.5e300)),
        1 => Just(Value::Null),
    ]
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,40}".prop_map(Value::from),
        Just(Value::Null),
        Just(json!(7)),
    ]
}

fn feed_change() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("feed"), Just("mention"), Just("")],
        prop_oneof![
            Just(json!("comment")),
            Just(json!("post")),
            Just(json!("status")),
            Just(json!("reaction")),
            text(),
        ],
        prop_oneof![
            Just(json!("add")),
            Just(json!("edited")),
            Just(json!("remove")),
            text(),
        ],
        (id(), id(), id(), id()),
        (text(), time()),
    )
        .prop_map(
            |(field, item, verb, (from, post, comment, parent), (message, created))| {
                json!({ "field": field, "value": {
                    "from": { "id": from, "name": "Someone" },
                    "post_id": post, "comment_id": comment, "parent_id": parent,
                    "item": item, "verb": verb, "message": message, "created_time": created,
                }})
            },
        )
}

fn messaging() -> impl Strategy<Value = Value> {
    (
        (id(), id(), time()),
        0u8..6,
        (id(), text(), any::<bool>(), any::<bool>()),
        proptest::collection::vec(id(), 0..3),
    )
        .prop_map(|((sender, recipient, ts), kind, (mid, txt, echo, deleted), mids)| {
            let mut m = json!({ "sender": { "id": sender }, "recipient": { "id": recipient }, "timestamp": ts });
            match kind {
                0 => m["message"] = json!({ "mid": mid, "text": txt, "is_echo": echo, "is_deleted": deleted,
                    "attachments": [{ "type": "image", "payload": { "url": txt } }], "reply_to": { "mid": mid } }),
                1 => m["delivery"] = json!({ "mids": mids, "watermark": ts }),
                2 => m["read"] = json!({ "mid": mid, "watermark": ts }),
                3 => m["postback"] = json!({ "title": txt, "payload": "P", "mid": mid }),
                4 => m["optin"] = json!({ "ref": "x" }),
                _ => {}
            }
            m
        })
}

fn envelope() -> impl Strategy<Value = Value> {
    let entry = (
        prop_oneof![4 => Just(json!(PAGE)), 1 => id()],
        time(),
        proptest::collection::vec(feed_change(), 0..3),
        proptest::collection::vec(messaging(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(id, time, changes, messaging, standby)| {
            let mut e =
                json!({ "id": id, "time": time, "changes": changes, "messaging": messaging });
            if standby {
                e["standby"] = json!([{ "sender": { "id": "1" } }]);
            }
            e
        });
    (
        prop_oneof![6 => Just("page".to_owned()), 1 => "\\PC{0,8}"],
        proptest::collection::vec(entry, 0..3),
    )
        .prop_map(|(object, entry)| json!({ "object": object, "entry": entry }))
}

/// How many events `value` may give at most: one per change and per
/// messaging item, except deliveries (one per mid).
fn most_events(value: &Value) -> usize {
    let mut n = 0;
    for entry in value["entry"].as_array().into_iter().flatten() {
        n += entry["changes"].as_array().map_or(0, Vec::len);
        for m in entry["messaging"].as_array().into_iter().flatten() {
            n += m["delivery"]["mids"]
                .as_array()
                .map_or(1, |mids| mids.len().max(1));
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Meta-shaped envelopes with hostile values: `Ok` or `Json`, events only
    /// for this page on the Facebook channel, bounded by the items sent,
    /// each feed event public and threaded by its post, each Messenger event
    /// private and threaded by `{page}:{psid}`, and deterministic.
    #[test]
    fn envelopes_parse_to_bounded_events_for_this_page(value in envelope()) {
        let body = serde_json::to_vec(&value).unwrap();
        let now = at("2026-03-01T12:00:00Z");
        match parse_webhook(&body, PAGE, now) {
            Err(e) => prop_assert!(matches!(e, FacebookError::Json(_)), "{e:?}"),
            Ok(batch) => {
                prop_assert!(batch.events.len() <= most_events(&value), "{} events", batch.events.len());
                for event in &batch.events {
                    prop_assert_eq!(event.channel, ChannelKind::Facebook);
                    prop_assert_eq!(&event.account, PAGE);
                    let key = event.thread.key.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default();
                    match event.visibility {
                        Visibility::Private => {
                            prop_assert_eq!(key, format!("{PAGE}:{}", event.author.handle));
                            prop_assert!(event.author.handle != PAGE, "the page as its own customer");
                        }
                        Visibility::Public if event.kind == EventKind::Echo => {
                            // The page's own comment: it joins through what it answers.
                            prop_assert!(event.thread.key.is_none());
                            prop_assert!(!event.thread.parents.is_empty());
                            prop_assert_eq!(&event.author.handle, PAGE);
                        }
                        Visibility::Public => {
                            prop_assert!(event.thread.key.is_some());
                            prop_assert!(event.author.handle != PAGE, "the page as its own customer");
                            let delivery = matches!(event.kind, EventKind::Delivery { .. });
                            prop_assert!(!delivery, "a public delivery receipt");
                        }
                    }
                }
                prop_assert_eq!(parse_webhook(&body, PAGE, now).unwrap(), batch);
            }
        }
    }

    /// Arbitrary bytes: `Ok` or `Json`, never a panic.
    #[test]
    fn arbitrary_bytes_are_ok_or_a_json_error(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = parse_webhook(&body, PAGE, at("2026-03-01T12:00:00Z")) {
            prop_assert!(matches!(e, FacebookError::Json(_)), "{e:?}");
        }
    }

    /// Through the route, signed: 200 or 400, never a 5xx; what reaches the
    /// sink is exactly what the parser returns.
    #[test]
    fn signed_envelopes_through_the_route(value in envelope()) {
        let body = serde_json::to_vec(&value).unwrap();
        let (router, sink) = app();
        let header = sign(SECRET.as_bytes(), &body);
        let (status, _) = runtime().block_on(call(&router, post(&body, Some(&header)).unwrap()));
        match parse_webhook(&body, PAGE, at("2026-03-01T12:00:00Z")) {
            Ok(batch) => {
                prop_assert_eq!(status, StatusCode::OK);
                prop_assert_eq!(sink.events(), batch.events);
            }
            Err(_) => {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
                prop_assert!(sink.events().is_empty());
            }
        }
    }

    /// A body changed in one byte, cut or extended never verifies, and the
    /// route refuses it with 403 storing nothing.
    #[test]
    fn a_mutated_body_is_never_accepted(value in envelope(), at_byte in any::<prop::sample::Index>(), byte in 1u8..=255, cut in any::<prop::sample::Index>()) {
        let body = serde_json::to_vec(&value).unwrap();
        let header = sign(SECRET.as_bytes(), &body);
        prop_assert!(verify(SECRET.as_bytes(), Some(header.as_bytes()), false, &body).is_ok());
        let mut flipped = body.clone();
        let i = at_byte.index(flipped.len());
        flipped[i] ^= byte;
        let short = body[..cut.index(body.len())].to_vec();
        let mut long = body.clone();
        long.extend_from_slice(b"\n");
        let rt = runtime();
        for mutated in [flipped, short, long] {
            prop_assert_eq!(
                verify(SECRET.as_bytes(), Some(header.as_bytes()), false, &mutated),
                Err(FacebookError::BadSignature)
            );
            let (router, sink) = app();
            let (status, _) = rt.block_on(call(&router, post(&mutated, Some(&header)).unwrap()));
            prop_assert_eq!(status, StatusCode::FORBIDDEN);
            prop_assert!(sink.events().is_empty());
        }
    }

    /// Any header value is refused unless it is the body's real digest (hex
    /// in either case); the route answers 401/403 and stores nothing.
    #[test]
    fn forged_headers_are_refused(value in envelope(), forged in "\\PC{0,80}", digest in proptest::collection::vec(any::<u8>(), 0..40), upper in any::<bool>()) {
        let body = serde_json::to_vec(&value).unwrap();
        let real = sign(SECRET.as_bytes(), &body);
        let hex_digest = if upper { hex::encode_upper(&digest) } else { hex::encode(&digest) };
        let rt = runtime();
        for header in [forged.clone(), format!("sha256={forged}"), format!("sha256={hex_digest}"), sign(b"wrong", &body)] {
            let result = verify(SECRET.as_bytes(), Some(header.as_bytes()), false, &body);
            if header.eq_ignore_ascii_case(&real) {
                continue;
            }
            prop_assert!(
                matches!(result, Err(FacebookError::BadSignature | FacebookError::MalformedSignature)),
                "{header:?} gave {result:?}"
            );
            let Some(request) = post(&body, Some(&header)) else { continue };
            let (router, sink) = app();
            let (status, _) = rt.block_on(call(&router, request));
            prop_assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN, "{status}");
            prop_assert!(sink.events().is_empty());
        }
    }

    /// The handshake echoes the challenge only for the right token and a
    /// short non-empty challenge; any query string gets a status, not a panic.
    #[test]
    fn the_handshake_answers_only_the_verify_token(token in "\\PC{0,24}", challenge in "\\PC{0,300}", raw in "[ -~]{0,80}") {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "subscribe")
            .append_pair("hub.verify_token", &token)
            .append_pair("hub.challenge", &challenge)
            .finish();
        let rt = runtime();
        let (router, _) = app();
        let (status, answer) = rt.block_on(call(&router, Request::get(format!("/?{query}")).body(Body::empty()).unwrap()));
        if token == VERIFY && !challenge.is_empty() && challenge.len() <= 256 {
            prop_assert_eq!(status, StatusCode::OK);
            prop_assert_eq!(answer, challenge);
        } else {
            prop_assert_eq!(status, StatusCode::FORBIDDEN);
        }
        if let Ok(request) = Request::get(format!("/?{raw}")).body(Body::empty()) {
            let (status, _) = rt.block_on(call(&router, request));
            prop_assert!(status == StatusCode::OK || status.is_client_error(), "{status}");
        }
    }
}

/// A missing or SHA-1-only signature is refused before the body is read.
#[test]
fn unsigned_and_sha1_only_posts_store_nothing() {
    let body = br#"{"object":"page","entry":[]}"#;
    let rt = runtime();
    let (router, sink) = app();
    let (status, _) = rt.block_on(call(&router, post(body, None).unwrap()));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let sha1 = Request::post("/")
        .header(
            "x-hub-signature",
            "sha1=0123456789abcdef0123456789abcdef01234567",
        )
        .body(Body::from(body.to_vec()))
        .unwrap();
    let (status, text) = rt.block_on(call(&router, sha1));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("SHA-1"), "{text}");
    assert!(sink.events().is_empty());
}

/// The counterexample the property test found: a read receipt or postback
/// whose sender is the page itself used to become an event with the page
/// as its own customer (messages were already refused).
#[test]
fn receipts_and_postbacks_from_the_page_itself_are_skipped() {
    for event in [
        json!({ "read": { "mid": "m_1", "watermark": 0 } }),
        json!({ "delivery": { "mids": ["m_1"] } }),
        json!({ "postback": { "title": "Help", "payload": "HELP" } }),
    ] {
        let mut messaging = json!({ "sender": { "id": PAGE }, "recipient": { "id": "6000000000000001" }, "timestamp": 1_772_442_000_000i64 });
        for (k, v) in event.as_object().unwrap() {
            messaging[k] = v.clone();
        }
        let body = json!({ "object": "page", "entry": [{ "id": PAGE, "messaging": [messaging] }] });
        let batch = parse_webhook(
            &serde_json::to_vec(&body).unwrap(),
            PAGE,
            at("2026-03-01T12:00:00Z"),
        )
        .unwrap();
        assert!(batch.events.is_empty(), "{event}: {:?}", batch.events);
        assert_eq!(batch.skipped.len(), 1);
    }
}
