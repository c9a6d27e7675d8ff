//! Account Activity webhook: CRC, signatures over the raw body, payloads
//! shaped like X's documentation, and bad input.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use carekit_core::{ChannelKind, EventKind, EventSink, MemoryStore, Visibility};
use carekit_testing::CollectingSink;
use carekit_twitter::webhook::{
    OAUTH2_SIGNATURE_HEADER, SIGNATURE_HEADER, WebhookConfig, crc_response_token, router,
};
use carekit_twitter::{Auth, ParentResolver, XClient};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

const CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
const OAUTH2_SECRET: &str = "oauth2-client-secret-for-tests";

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fn app(sink: Arc<CollectingSink>) -> axum::Router {
    router(
        WebhookConfig::new(CONSUMER_SECRET).with_oauth2_client_secret(OAUTH2_SECRET),
        sink,
    )
}

async fn post(app: axum::Router, body: &[u8], headers: &[(&str, String)]) -> (StatusCode, String) {
    let mut req = Request::post("/").header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = app
        .oneshot(req.body(Body::from(body.to_vec())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn post_signed(app: axum::Router, body: &[u8]) -> (StatusCode, String) {
    post(
        app,
        body,
        &[(SIGNATURE_HEADER, sign(CONSUMER_SECRET, body))],
    )
    .await
}

/// A `tweet_create_events` item in the v1.1 shape X documents.
fn tweet_event(
    id: &str,
    user_id: &str,
    screen_name: &str,
    text: &str,
    reply_to: Option<(&str, &str)>,
) -> Value {
    json!({
        "created_at": "Mon Mar 02 09:00:00 +0000 2026",
        "id": id.parse::<u64>().unwrap(),
        "id_str": id,
        "text": text,
        "source": "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
        "truncated": false,
        "in_reply_to_status_id": reply_to.map(|(s, _)| s.parse::<u64>().unwrap()),
        "in_reply_to_status_id_str": reply_to.map(|(s, _)| s),
        "in_reply_to_user_id": reply_to.map(|(_, u)| u.parse::<u64>().unwrap()),
        "in_reply_to_user_id_str": reply_to.map(|(_, u)| u),
        "in_reply_to_screen_name": reply_to.map(|(_, u)| if u == BRAND { "acme" } else { "ann" }),
        "user": {
            "id": user_id.parse::<u64>().unwrap(),
            "id_str": user_id,
            "name": screen_name.to_uppercase(),
            "screen_name": screen_name,
            "protected": false,
            "verified": false,
            "followers_count": 1234,
            "friends_count": 50,
            "created_at": "Wed Oct 10 20:19:24 +0000 2018"
        },
        "is_quote_status": false,
        "quote_count": 0, "reply_count": 0, "retweet_count": 0, "favorite_count": 0,
        "entities": { "hashtags": [], "urls": [], "user_mentions": [{ "screen_name": "acme", "id_str": BRAND, "indices": [0, 5] }], "symbols": [] },
        "favorited": false, "retweeted": false, "filter_level": "low", "lang": "en",
        "timestamp_ms": "1772442000000"
    })
}

/// A `direct_message_events` payload as X documents it.
fn dm_payload(id: &str, sender: &str, recipient: &str, text: &str) -> Value {
    json!({
        "for_user_id": BRAND,
        "direct_message_events": [{
            "type": "message_create",
            "id": id,
            "created_timestamp": "1772442300000",
            "message_create": {
                "target": { "recipient_id": recipient },
                "sender_id": sender,
                "source_app_id": "268278",
                "message_data": {
                    "text": text,
                    "entities": { "hashtags": [], "symbols": [], "user_mentions": [], "urls": [] }
                }
            }
        }],
        "apps": { "268278": { "id": "268278", "name": "Twitter Web Client", "url": "http://twitter.com" } },
        "users": {
            CUSTOMER: { "id": CUSTOMER, "created_timestamp": "1422556069340", "name": "Ann", "screen_name": "ann",
                        "location": "Somewhere", "protected": false, "verified": false, "followers_count": 1234,
                        "friends_count": 10, "statuses_count": 100, "profile_image_url_https": "https://pbs.twimg.com/x.png" },
            BRAND: { "id": BRAND, "created_timestamp": "1422556069340", "name": "Acme", "screen_name": "acme",
                     "protected": false, "verified": true, "followers_count": 99000, "friends_count": 10, "statuses_count": 1000 }
        }
    })
}

#[tokio::test]
async fn crc_is_answered_for_a_known_token_and_secret() {
    // Expected value computed independently (Python hmac/hashlib/base64).
    let expected = "sha256=tqPOfsJh4AKkr27gqwGHguOM89FeR/DuHBsp1kUulZk=";
    let token = "bCNqD9nLDaWhE8Bh5uXSyQ7yYNSKtMfe8S8h3tRgbKQ";
    assert_eq!(crc_response_token(CONSUMER_SECRET, token), expected);
    let res = app(Arc::new(CollectingSink::new()))
        .oneshot(
            Request::get(format!("/?crc_token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body, json!({ "response_token": expected }));
    let missing = app(Arc::new(CollectingSink::new()))
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_signed_mention_becomes_an_inbound_event() {
    let sink = Arc::new(CollectingSink::new());
    let body = serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "user_has_blocked": false,
        "tweet_create_events": [tweet_event("1800000000000000001", CUSTOMER, "ann", "@acme my order is two weeks late", None)]
    }))
    .unwrap();
    let (status, _) = post_signed(app(sink.clone()), &body).await;
    assert_eq!(status, StatusCode::OK);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.channel, e.kind.clone(), e.visibility),
        (ChannelKind::Twitter, EventKind::Message, Visibility::Public)
    );
    assert_eq!(e.account, BRAND);
    assert_eq!(e.external_id, "1800000000000000001");
    assert_eq!(e.author.handle, CUSTOMER);
    assert_eq!(e.author.display_name.as_deref(), Some("@ann"));
    assert_eq!(e.author_profile.followers, Some(1234));
    assert_eq!(
        e.thread.key.as_ref().unwrap().as_str(),
        "1800000000000000001"
    );
    assert_eq!(e.occurred_at.timestamp_millis(), 1_772_442_000_000);
}

#[tokio::test]
async fn oauth2_signature_is_checked_first_and_legacy_is_the_fallback() {
    let body =
        serde_json::to_vec(&dm_payload("1800000000000000010", CUSTOMER, BRAND, "hello")).unwrap();
    // OAuth2 header alone.
    let sink = Arc::new(CollectingSink::new());
    let (status, _) = post(
        app(sink.clone()),
        &body,
        &[(OAUTH2_SIGNATURE_HEADER, sign(OAUTH2_SECRET, &body))],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
    // A stale OAuth2 signature with a valid legacy one still passes.
    let sink = Arc::new(CollectingSink::new());
    let (status, _) = post(
        app(sink.clone()),
        &body,
        &[
            (OAUTH2_SIGNATURE_HEADER, sign("rotated-away", &body)),
            (SIGNATURE_HEADER, sign(CONSUMER_SECRET, &body)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
    // The OAuth2 header signed with the consumer secret is not accepted.
    let sink = Arc::new(CollectingSink::new());
    let (status, _) = post(
        app(sink.clone()),
        &body,
        &[(OAUTH2_SIGNATURE_HEADER, sign(CONSUMER_SECRET, &body))],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn forged_or_missing_signatures_hand_over_nothing() {
    let body =
        serde_json::to_vec(&dm_payload("1800000000000000010", CUSTOMER, BRAND, "hello")).unwrap();
    let sink = Arc::new(CollectingSink::new());
    let cases: Vec<(Vec<(&str, String)>, StatusCode)> = vec![
        (vec![], StatusCode::UNAUTHORIZED),
        (
            vec![(SIGNATURE_HEADER, sign("wrong-secret", &body))],
            StatusCode::FORBIDDEN,
        ),
        (
            vec![(SIGNATURE_HEADER, "sha256=not base64!".into())],
            StatusCode::FORBIDDEN,
        ),
        (
            vec![(
                SIGNATURE_HEADER,
                sign(CONSUMER_SECRET, &body).replace("sha256=", "sha1="),
            )],
            StatusCode::FORBIDDEN,
        ),
        (
            vec![(OAUTH2_SIGNATURE_HEADER, String::new())],
            StatusCode::FORBIDDEN,
        ),
    ];
    for (headers, expected) in cases {
        let (status, _) = post(app(sink.clone()), &body, &headers).await;
        assert_eq!(status, expected, "{headers:?}");
    }
    // Signed over different bytes (re-serialised JSON): rejected.
    let reserialised =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let (status, _) = post(
        app(sink.clone()),
        &body,
        &[(SIGNATURE_HEADER, sign(CONSUMER_SECRET, &reserialised))],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn customer_dm_and_brand_echo_share_one_thread() {
    let sink = Arc::new(CollectingSink::new());
    let inbound = serde_json::to_vec(&dm_payload(
        "1800000000000000010",
        CUSTOMER,
        BRAND,
        "order 4411 please",
    ))
    .unwrap();
    let echo = serde_json::to_vec(&dm_payload(
        "1800000000000000011",
        BRAND,
        CUSTOMER,
        "On it, Ann.",
    ))
    .unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &inbound).await.0,
        StatusCode::OK
    );
    assert_eq!(
        post_signed(app(sink.clone()), &echo).await.0,
        StatusCode::OK
    );
    let events = sink.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, EventKind::Message);
    assert_eq!(events[0].visibility, Visibility::Private);
    assert_eq!(events[0].author.display_name.as_deref(), Some("@ann"));
    assert_eq!(events[1].kind, EventKind::Echo);
    assert_eq!(
        events[1].author.handle, CUSTOMER,
        "an echo names the customer written to"
    );
    let key = format!("{CUSTOMER}-{BRAND}");
    assert_eq!(events[0].thread.key.as_ref().unwrap().as_str(), key);
    assert_eq!(events[1].thread.key.as_ref().unwrap().as_str(), key);
}

#[tokio::test]
async fn brand_reply_tweet_is_an_echo_and_replies_carry_their_parent() {
    let sink = Arc::new(CollectingSink::new());
    let body = serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "tweet_create_events": [
            tweet_event("1800000000000000002", BRAND, "acme", "@ann so sorry, checking", Some(("1800000000000000001", CUSTOMER))),
            tweet_event("1800000000000000003", CUSTOMER, "ann", "@acme thanks", Some(("1800000000000000002", BRAND))),
        ]
    }))
    .unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &body).await.0,
        StatusCode::OK
    );
    let events = sink.events();
    assert_eq!(events[0].kind, EventKind::Echo);
    assert_eq!(events[0].author.handle, CUSTOMER);
    assert_eq!(
        events[0].thread.parents,
        vec!["1800000000000000001".to_owned()]
    );
    assert_eq!(events[1].kind, EventKind::Message);
    assert_eq!(
        events[1].thread.parents,
        vec!["1800000000000000002".to_owned()]
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_answer_or_a_logged_skip() {
    let sink = Arc::new(CollectingSink::new());
    // Truncated JSON, correctly signed: 400, nothing handed over.
    let truncated = br#"{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1"#;
    assert_eq!(
        post_signed(app(sink.clone()), truncated).await.0,
        StatusCode::BAD_REQUEST
    );
    // Unknown event types only: 200 (X must not retry), nothing handed over.
    let unknown = serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "favorite_events": [{ "id": "a7ba59eab0bfcba386f7acedac279542", "created_at": "Mon Mar 26 16:33:26 +0000 2018" }],
        "follow_events": [{ "type": "follow" }],
        "direct_message_indicate_typing_events": [{ "created_timestamp": "1518127183443", "sender_id": CUSTOMER }]
    }))
    .unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &unknown).await.0,
        StatusCode::OK
    );
    // A tweet with no text, a malformed item, a retweet, and one good tweet.
    let mut empty = tweet_event("1800000000000000005", CUSTOMER, "ann", "", None);
    empty.as_object_mut().unwrap().remove("text");
    let mut retweet = tweet_event(
        "1800000000000000006",
        CUSTOMER,
        "ann",
        "RT @acme: sale",
        None,
    );
    retweet["retweeted_status"] = json!({ "id_str": "1" });
    let mixed = serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "tweet_create_events": [empty, { "id_str": 5 }, retweet,
            tweet_event("1800000000000000007", CUSTOMER, "ann", "@acme hello", None)],
        "direct_message_events": [{ "type": "message_create", "id": "1800000000000000008",
            "message_create": { "target": { "recipient_id": BRAND }, "sender_id": CUSTOMER, "message_data": { "text": "" } } }]
    }))
    .unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &mixed).await.0,
        StatusCode::OK
    );
    let ids: Vec<String> = sink.events().into_iter().map(|e| e.external_id).collect();
    assert_eq!(ids, vec!["1800000000000000007".to_owned()]);
    // Malformed for_user_id.
    let bad_user = serde_json::to_vec(&json!({ "for_user_id": "acme" })).unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &bad_user).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_huge_body_is_refused_unread() {
    let sink = Arc::new(CollectingSink::new());
    let small = router(
        WebhookConfig::new(CONSUMER_SECRET).with_body_limit(64 * 1024),
        sink.clone(),
    );
    let filler = "x".repeat(200 * 1024);
    let body = serde_json::to_vec(&json!({ "for_user_id": BRAND, "filler": filler })).unwrap();
    let (status, _) = post_signed(small, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // The default limit (1 MiB) also holds against a 2 MiB body.
    let huge = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        post_signed(app(sink.clone()), &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn sink_unavailable_answers_503_so_x_redelivers() {
    let sink = Arc::new(CollectingSink::new());
    sink.fail_next(1);
    let body =
        serde_json::to_vec(&dm_payload("1800000000000000010", CUSTOMER, BRAND, "hello")).unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &body).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(sink.events().is_empty());
    assert_eq!(
        post_signed(app(sink.clone()), &body).await.0,
        StatusCode::OK
    );
    assert_eq!(sink.events().len(), 1);
}

#[tokio::test]
async fn tweet_deletions_become_removed_events() {
    let sink = Arc::new(CollectingSink::new());
    let body = serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "tweet_delete_events": [{ "status": { "id": "1800000000000000001", "user_id": CUSTOMER }, "timestamp_ms": "1772442600000" }]
    }))
    .unwrap();
    assert_eq!(
        post_signed(app(sink.clone()), &body).await.0,
        StatusCode::OK
    );
    let e = &sink.events()[0];
    assert_eq!(e.kind, EventKind::Removed);
    assert_eq!(e.thread.parents, vec!["1800000000000000001".to_owned()]);
}

#[tokio::test]
async fn an_unknown_parent_is_fetched_so_the_reply_threads_correctly() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let spec = spec_or_skip!();
    let server = MockServer::start().await;
    // The customer's reply answers the brand's tweet 002, which answers the
    // customer's own 001 (conversation 001). The desk has seen neither.
    Mock::given(method("GET"))
        .and(path("/2/tweets/1800000000000000002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": v2_tweet("1800000000000000002", BRAND, "@ann so sorry", "1800000000000000001", Some("1800000000000000001")),
            "includes": { "users": [v2_user(BRAND, "acme", 99000), v2_user(CUSTOMER, "ann", 1234)] }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1800000000000000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": v2_tweet("1800000000000000001", CUSTOMER, "@acme order late", "1800000000000000001", None),
            "includes": { "users": [v2_user(CUSTOMER, "ann", 1234)] }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = XClient::builder(Auth::bearer("t"), BRAND)
        .api_base(server.uri())
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let sink = Arc::new(CollectingSink::new());
    let config = WebhookConfig::new(CONSUMER_SECRET)
        .with_parent_resolver(ParentResolver::new(client, store.clone()).with_max_depth(5));
    let body = serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "tweet_create_events": [tweet_event("1800000000000000003", CUSTOMER, "ann", "@acme still nothing", Some(("1800000000000000002", BRAND)))]
    }))
    .unwrap();
    assert_eq!(
        post_signed(router(config, sink.clone()), &body).await.0,
        StatusCode::OK
    );
    let events = sink.events();
    let ids: Vec<&str> = events.iter().map(|e| e.external_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1800000000000000001",
            "1800000000000000002",
            "1800000000000000003"
        ],
        "oldest first"
    );
    assert_eq!(events[1].kind, EventKind::Echo);
    assert_eq!(
        events[2].thread.key.as_ref().unwrap().as_str(),
        "1800000000000000001"
    );
    spec.validate_all(&server.received_requests().await.unwrap());
    // Once the desk knows the parent, nothing is fetched again.
    let known = Arc::new(carekit_core::MemoryStore::new());
    let mut commit = carekit_core::Commit::new();
    commit
        .dedupe
        .push((ChannelKind::Twitter, "1800000000000000002".into()));
    carekit_core::Store::apply(&*known, commit).await.unwrap();
    let quiet = MockServer::start().await;
    let client = XClient::builder(Auth::bearer("t"), BRAND)
        .api_base(quiet.uri())
        .build()
        .unwrap();
    let sink = Arc::new(CollectingSink::new());
    let config = WebhookConfig::new(CONSUMER_SECRET)
        .with_parent_resolver(ParentResolver::new(client, known));
    assert_eq!(
        post_signed(router(config, sink.clone()), &body).await.0,
        StatusCode::OK
    );
    assert_eq!(sink.events().len(), 1);
    assert!(quiet.received_requests().await.unwrap().is_empty());
    let _: &dyn EventSink = &*sink;
}
