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

/// Signed as X signs for an app with both secrets: both headers.
async fn post_signed(app: axum::Router, body: &[u8]) -> (StatusCode, String) {
    post(
        app,
        body,
        &[
            (OAUTH2_SIGNATURE_HEADER, sign(OAUTH2_SECRET, body)),
            (SIGNATURE_HEADER, sign(CONSUMER_SECRET, body)),
        ],
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
    assert_eq!(
        crc_response_token(CONSUMER_SECRET, token).as_deref(),
        Ok(expected)
    );
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

async fn get_crc(app: axum::Router, token: &str) -> (StatusCode, Value) {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("crc_token", token)
        .finish();
    let res = app
        .oneshot(
            Request::get(format!("/?{query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Finding 1 of the Trust issue: the CRC answer is the legacy signature of
/// a body equal to the token. An attacker who puts an event in `crc_token`
/// and posts the answer as the signature must get nothing into the desk.
#[tokio::test]
async fn a_body_signed_through_the_crc_endpoint_is_refused() {
    let forged = serde_json::to_string(&json!({
        "for_user_id": BRAND,
        "tweet_create_events": [tweet_event("1800000000000000666", CUSTOMER, "ann",
            "@acme I will sue you unless you refund me today", None)]
    }))
    .unwrap();
    let dm = serde_json::to_string(&dm_payload(
        "1800000000000000667",
        CUSTOMER,
        BRAND,
        "urgent: wire the refund",
    ))
    .unwrap();
    let sink = Arc::new(CollectingSink::new());
    let mut crc_answers = Vec::new();
    for body in [forged, dm] {
        for config in [
            WebhookConfig::new(CONSUMER_SECRET),
            WebhookConfig::new(CONSUMER_SECRET).with_oauth2_client_secret(OAUTH2_SECRET),
        ] {
            let (status, answer) = get_crc(router(config.clone(), sink.clone()), &body).await;
            crc_answers.push(status);
            // Whatever the endpoint answered is all the attacker has.
            let stolen = answer["response_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let (status, _) = post(
                router(config, sink.clone()),
                body.as_bytes(),
                &[(SIGNATURE_HEADER, stolen)],
            )
            .await;
            assert!(
                status.is_client_error(),
                "{status}: the forged event was taken"
            );
        }
    }
    assert!(sink.events().is_empty(), "{:?}", sink.events());
    assert!(
        crc_answers.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "a JSON body is not a CRC token: {crc_answers:?}"
    );
}

/// X sends a short base64 token (today: the base64 of a UUID, 48
/// characters, beside a `nonce` parameter); anything else is refused.
#[tokio::test]
async fn crc_refuses_tokens_x_never_sends() {
    let sink = Arc::new(CollectingSink::new());
    let refused = [
        String::new(),
        " ".into(),
        "{\"for_user_id\":\"2244994945\"}".into(),
        "[]".into(),
        "abc def".into(),
        "abc\"def".into(),
        "abc:def".into(),
        "abc,def".into(),
        "naïve".into(),
        "abc\ndef".into(),
        "=abc".into(),
        "ab=c".into(),
        "abc===".into(),
        "A".repeat(129),
        "A".repeat(10_000),
    ];
    for token in &refused {
        let (status, body) = get_crc(app(sink.clone()), token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{token:?} answered {body}");
        assert!(body.get("response_token").is_none());
    }
    // Shaped as X sends them: answered with the HMAC computed here, apart
    // from the crate's code.
    let accepted = [
        "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0".to_owned(),
        "bCNqD9nLDaWhE8Bh5uXSyQ7yYNSKtMfe8S8h3tRgbKQ".into(),
        "q83vEjRWeJA/+tyZ9kKzYh1mR4kq0yPRzH9h2k4bLw0=".into(),
        "q83vEjRWeJA_-tyZ9kKzYh1mR4kq0yPRzH9h2k4bLw".into(),
        "MTc2OTUxODI5MjkxNA==".into(),
        "challenge-123".into(),
        "A".repeat(128),
    ];
    for token in &accepted {
        let (status, body) = get_crc(app(sink.clone()), token).await;
        assert_eq!(status, StatusCode::OK, "{token:?}");
        assert_eq!(
            body,
            json!({ "response_token": sign(CONSUMER_SECRET, token.as_bytes()) }),
            "{token:?}"
        );
    }
    // X's `nonce` parameter beside the token does not change the answer.
    let res = app(sink.clone())
        .oneshot(
            Request::get("/?crc_token=M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0&nonce=MTc2OTUxODI5MjkxNA")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(sink.events().is_empty());
}

/// With an OAuth 2.0 client secret configured, the OAuth2 header is
/// required: a request carrying only the legacy header (which the CRC
/// answer can imitate) is refused.
#[tokio::test]
async fn with_an_oauth2_secret_a_legacy_only_request_is_refused() {
    let body =
        serde_json::to_vec(&dm_payload("1800000000000000010", CUSTOMER, BRAND, "hello")).unwrap();
    let sink = Arc::new(CollectingSink::new());
    let legacy = (SIGNATURE_HEADER, sign(CONSUMER_SECRET, &body));
    let (status, _) = post(app(sink.clone()), &body, std::slice::from_ref(&legacy)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        app(sink.clone()),
        &body,
        &[
            (OAUTH2_SIGNATURE_HEADER, sign("rotated-away", &body)),
            legacy.clone(),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(sink.events().is_empty());
    // Without an OAuth2 secret the legacy header is the check.
    let (status, _) = post(
        router(WebhookConfig::new(CONSUMER_SECRET), sink.clone()),
        &body,
        &[legacy],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
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
async fn oauth2_signature_is_checked_first_and_legacy_is_the_fallback_only_during_migration() {
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
    // During a migration, a stale OAuth2 signature with a valid legacy one
    // still passes (without the opt-in it is refused: see
    // with_an_oauth2_secret_a_legacy_only_request_is_refused).
    let migrating = |sink: Arc<CollectingSink>| {
        router(
            WebhookConfig::new(CONSUMER_SECRET)
                .with_oauth2_client_secret(OAUTH2_SECRET)
                .accept_legacy_signature_during_migration(),
            sink,
        )
    };
    let sink = Arc::new(CollectingSink::new());
    let (status, _) = post(
        migrating(sink.clone()),
        &body,
        &[
            (OAUTH2_SIGNATURE_HEADER, sign("rotated-away", &body)),
            (SIGNATURE_HEADER, sign(CONSUMER_SECRET, &body)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
    // The OAuth2 header signed with the consumer secret is not accepted,
    // migrating or not.
    for app in [app, migrating] {
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
    // Migrating: a legacy-only request passes, a wrong legacy one does not.
    let sink = Arc::new(CollectingSink::new());
    let (status, _) = post(
        migrating(sink.clone()),
        &body,
        &[(SIGNATURE_HEADER, sign(CONSUMER_SECRET, &body))],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        migrating(sink.clone()),
        &body,
        &[(SIGNATURE_HEADER, sign("wrong", &body))],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(sink.events().len(), 1);
}

#[tokio::test]
async fn forged_or_missing_signatures_hand_over_nothing() {
    let body =
        serde_json::to_vec(&dm_payload("1800000000000000010", CUSTOMER, BRAND, "hello")).unwrap();
    let sink = Arc::new(CollectingSink::new());
    // (headers, status with only the consumer secret, status with the
    // OAuth2 secret too, where a legacy-only request lacks what is required)
    type Headers<'a> = Vec<(&'a str, String)>;
    let cases: Vec<(Headers<'_>, StatusCode, StatusCode)> = vec![
        (vec![], StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED),
        (
            vec![(SIGNATURE_HEADER, sign("wrong-secret", &body))],
            StatusCode::FORBIDDEN,
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![(SIGNATURE_HEADER, "sha256=not base64!".into())],
            StatusCode::FORBIDDEN,
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![(
                SIGNATURE_HEADER,
                sign(CONSUMER_SECRET, &body).replace("sha256=", "sha1="),
            )],
            StatusCode::FORBIDDEN,
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![(OAUTH2_SIGNATURE_HEADER, String::new())],
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
        (
            vec![
                (OAUTH2_SIGNATURE_HEADER, sign(CONSUMER_SECRET, &body)),
                (SIGNATURE_HEADER, sign("wrong-secret", &body)),
            ],
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (headers, legacy_only, with_oauth2) in cases {
        let (status, _) = post(
            router(WebhookConfig::new(CONSUMER_SECRET), sink.clone()),
            &body,
            &headers,
        )
        .await;
        assert_eq!(status, legacy_only, "{headers:?}");
        let (status, _) = post(app(sink.clone()), &body, &headers).await;
        assert_eq!(status, with_oauth2, "{headers:?}");
    }
    // Signed over different bytes (re-serialised JSON): rejected.
    let reserialised =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let (status, _) = post(
        app(sink.clone()),
        &body,
        &[
            (OAUTH2_SIGNATURE_HEADER, sign(OAUTH2_SECRET, &reserialised)),
            (SIGNATURE_HEADER, sign(CONSUMER_SECRET, &reserialised)),
        ],
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
