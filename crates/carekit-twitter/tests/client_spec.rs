//! Every request the client makes, checked against X's official OpenAPI file.

mod support;

use std::sync::Arc;

use carekit_core::{ChannelKind, EventKind, FakeClock, Visibility};
use carekit_testing::at;
use carekit_twitter::{Auth, MentionsQuery, TwitterError, XClient};
use serde_json::json;
use support::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer, auth: Auth) -> XClient {
    XClient::builder(auth, BRAND)
        .api_base(server.uri())
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:30:00Z"))))
        .build()
        .unwrap()
}

fn oauth1() -> Auth {
    Auth::oauth1("ck", "cs", "at", "as")
}

async fn mount_all(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "id": "1900000000000000001", "text": "@ann sorry!", "edit_history_tweet_ids": ["1900000000000000001"] }
        })))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/2/dm_conversations/with/{CUSTOMER}/messages")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": { "dm_conversation_id": format!("{CUSTOMER}-{BRAND}"), "dm_event_id": "1900000000000000002" }
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/mentions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(mentions_page(
            vec![
                v2_tweet(
                    "1800000000000000003",
                    CUSTOMER,
                    "@acme still waiting",
                    "1800000000000000001",
                    Some("1800000000000000002"),
                ),
                v2_tweet(
                    "1800000000000000001",
                    CUSTOMER,
                    "@acme my order is late",
                    "1800000000000000001",
                    None,
                ),
            ],
            Some("7140dibdnow9c7btw423x78o6wfl7x3ll5l1jsbqavzq6"),
        )))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/dm_events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dm_page(
            vec![dm_event(
                "1800000000000000010",
                CUSTOMER,
                "here is my order number",
            )],
            None,
        )))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1800000000000000002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": v2_tweet("1800000000000000002", BRAND, "@ann sorry, checking", "1800000000000000001", Some("1800000000000000001")),
            "includes": { "users": [v2_user(BRAND, "acme", 99000)] }
        })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn every_request_matches_the_official_spec() {
    let spec = spec_or_skip!();
    for auth in [oauth1(), Auth::bearer("user-token")] {
        let server = MockServer::start().await;
        mount_all(&server).await;
        let x = client(&server, auth);

        let id = x
            .post_reply("@ann sorry!", "1800000000000000003")
            .await
            .unwrap();
        assert_eq!(id, "1900000000000000001");
        let dm = x
            .send_dm(CUSTOMER, "Hi Ann, can you DM us your order number?")
            .await
            .unwrap();
        assert_eq!(dm.dm_event_id, "1900000000000000002");
        let page = x
            .mentions(
                &MentionsQuery::since(Some("1700000000000000000".into())).with_max_results(100),
            )
            .await
            .unwrap();
        assert_eq!(page.events.len(), 2);
        x.mentions(
            &MentionsQuery::since(Some("1700000000000000000".into()))
                .with_pagination_token(page.next_token.clone())
                .with_max_results(5),
        )
        .await
        .unwrap();
        x.mentions(&MentionsQuery::default()).await.unwrap();
        let dms = x.dm_events(None, 100).await.unwrap();
        assert_eq!(dms.events.len(), 1);
        x.dm_events(Some("18LAA5FFPEKJA52G0G"), 1).await.unwrap();
        assert!(x.tweet("1800000000000000002").await.unwrap().is_some());

        let ops = spec.validate_all(&server.received_requests().await.unwrap());
        for expected in [
            "POST /2/tweets",
            "POST /2/dm_conversations/with/{participant_id}/messages",
            "GET /2/users/{id}/mentions",
            "GET /2/dm_events",
            "GET /2/tweets/{id}",
        ] {
            assert!(
                ops.iter().any(|o| o == expected),
                "{expected} not exercised: {ops:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_validator_itself_catches_violations() {
    let spec = spec_or_skip!();
    let u = |s: &str| url::Url::parse(&format!("http://x{s}")).unwrap();
    let bad = [
        ("GET", u("/2/users/abc/mentions"), Vec::new()),
        (
            "GET",
            u(&format!("/2/users/{BRAND}/mentions?max_results=500")),
            Vec::new(),
        ),
        (
            "GET",
            u(&format!("/2/users/{BRAND}/mentions?max_results=4")),
            Vec::new(),
        ),
        (
            "GET",
            u(&format!("/2/users/{BRAND}/mentions?since_id=12x")),
            Vec::new(),
        ),
        (
            "GET",
            u(&format!("/2/users/{BRAND}/mentions?colour=red")),
            Vec::new(),
        ),
        (
            "GET",
            u(&format!("/2/users/{BRAND}/mentions?tweet.fields=nope")),
            Vec::new(),
        ),
        (
            "POST",
            u("/2/tweets"),
            br#"{"text":"x","reply":{}}"#.to_vec(),
        ),
        (
            "POST",
            u("/2/tweets"),
            br#"{"text":"x","reply":{"in_reply_to_tweet_id":"1a"}}"#.to_vec(),
        ),
        (
            "POST",
            u("/2/tweets"),
            br#"{"text":"x","in_reply_to":"1"}"#.to_vec(),
        ),
        (
            "POST",
            u("/2/dm_conversations/with/1/messages"),
            br#"{"txt":"x"}"#.to_vec(),
        ),
        ("PATCH", u("/2/tweets"), Vec::new()),
        ("GET", u("/2/nowhere"), Vec::new()),
    ];
    for (m, url, body) in bad {
        assert!(
            spec.validate(m, &url, &body).is_err(),
            "{m} {url} should be rejected"
        );
    }
    assert!(
        spec.validate(
            "POST",
            &u("/2/tweets"),
            br#"{"text":"x","reply":{"in_reply_to_tweet_id":"1"}}"#
        )
        .is_ok()
    );
}

#[tokio::test]
async fn bad_ids_and_bounds_fail_locally_without_a_request() {
    let server = MockServer::start().await;
    let x = client(&server, oauth1());
    assert!(matches!(
        x.post_reply("hi", "12a").await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(
        x.post_reply("hi", "12345678901234567890").await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(
        x.send_dm("../2/tweets", "hi").await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(
        x.mentions(&MentionsQuery::default().with_max_results(101))
            .await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(
        x.mentions(&MentionsQuery::default().with_max_results(4))
            .await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(
        x.mentions(&MentionsQuery::since(Some("abc".into()))).await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(
        x.dm_events(None, 0).await,
        Err(TwitterError::Invalid(_))
    ));
    assert!(matches!(x.tweet("").await, Err(TwitterError::Invalid(_))));
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(XClient::builder(oauth1(), "not-an-id").build().is_err());
    assert!(
        XClient::builder(oauth1(), BRAND)
            .api_base("ftp://x")
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn mentions_are_normalised_to_core_events() {
    let server = MockServer::start().await;
    mount_all(&server).await;
    let page = client(&server, oauth1())
        .mentions(&MentionsQuery::default())
        .await
        .unwrap();
    let reply = &page.events[0];
    assert_eq!(reply.channel, ChannelKind::Twitter);
    assert_eq!(reply.account, BRAND);
    assert_eq!(reply.external_id, "1800000000000000003");
    assert_eq!(reply.kind, EventKind::Message);
    assert_eq!(reply.visibility, Visibility::Public);
    assert_eq!(reply.author.handle, CUSTOMER);
    assert_eq!(reply.author.display_name.as_deref(), Some("@ann"));
    assert_eq!(reply.author_profile.followers, Some(1234));
    assert_eq!(
        reply.thread.key.as_ref().unwrap().as_str(),
        "1800000000000000001"
    );
    assert_eq!(reply.thread.parents, vec!["1800000000000000002".to_owned()]);
    assert_eq!(reply.occurred_at, at("2026-03-02T09:00:00Z"));
    assert_eq!(reply.text, "@acme still waiting");
}

#[tokio::test]
async fn oauth1_signature_verifies_independently() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let server = MockServer::start().await;
    mount_all(&server).await;
    let x = client(
        &server,
        Auth::oauth1("key-1", "consumer secret&1", "tok-2", "token*secret"),
    );
    x.mentions(&MentionsQuery::since(Some("1700000000000000000".into())))
        .await
        .unwrap();
    x.post_reply("hello ünïcode & friends", "1800000000000000003")
        .await
        .unwrap();
    for req in server.received_requests().await.unwrap() {
        let header = req
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let mut oauth: Vec<(String, String)> = header
            .trim_start_matches("OAuth ")
            .split(',')
            .map(|kv| {
                let (k, v) = kv.trim().split_once('=').unwrap();
                (k.to_owned(), pct_decode(v.trim_matches('"')))
            })
            .collect();
        let signature = oauth
            .iter()
            .position(|(k, _)| k == "oauth_signature")
            .map(|i| oauth.remove(i).1)
            .unwrap();
        assert!(
            oauth
                .iter()
                .any(|(k, v)| k == "oauth_timestamp" && v == "1772443800"),
            "timestamp from the injected clock"
        );
        // RFC 5849 §3.4.1: the signature base string, rebuilt from what arrived.
        let mut params: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        params.extend(oauth);
        let mut encoded: Vec<(String, String)> =
            params.iter().map(|(k, v)| (pct(k), pct(v))).collect();
        encoded.sort();
        let normalized = encoded
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let base_url = format!("{}{}", server.uri(), req.url.path());
        let base = format!(
            "{}&{}&{}",
            req.method.as_str(),
            pct(&base_url),
            pct(&normalized)
        );
        let key = format!("{}&{}", pct("consumer secret&1"), pct("token*secret"));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(base.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(
            signature, expected,
            "signature for {} {}",
            req.method, req.url
        );
    }
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn pct_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn deleted_parent_is_none_and_garbage_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/111"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{ "value": "111", "detail": "Could not find tweet with id: [111].", "title": "Not Found Error",
                         "resource_type": "tweet", "parameter": "id", "resource_id": "111",
                         "type": "https://api.twitter.com/2/problems/resource-not-found" }]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/2/users/{BRAND}/mentions")))
        .and(query_param("max_results", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"data":[{"id":"1","text":"#))
        .mount(&server)
        .await;
    let x = client(&server, oauth1());
    assert_eq!(x.tweet("111").await.unwrap(), None);
    assert!(matches!(
        x.mentions(&MentionsQuery::default()).await,
        Err(TwitterError::Decode(_))
    ));
}
