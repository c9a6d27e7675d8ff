//! Arbitrary webhook input: the parsers and the signature check answer,
//! never panic; raw form bodies through the route are stored only when the
//! signature covers what they decode to.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use carekit_core::FakeClock;
use carekit_sms::{WebhookConfig, signature, webhook};
use carekit_testing::{CollectingSink, at};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tower::ServiceExt;

const TOKEN: &str = "hostile-auth-token";
const ORIGIN: &str = "https://desk.example.com";

/// Posts `body` to the route with `signature`; the status and what was stored.
fn through_route(path: &str, body: &[u8], signature: &str) -> (StatusCode, usize) {
    let sink = Arc::new(CollectingSink::new());
    let config = WebhookConfig::builder(TOKEN, ORIGIN)
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:00:00Z"))))
        .build();
    let app = webhook::router(config, sink.clone());
    let request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(Body::from(body.to_vec()))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(app.oneshot(request)).unwrap().status();
    (status, sink.events().len())
}

/// What Twilio's signature covers: names sorted, each name's distinct
/// values sorted, all concatenated.
fn signed_text(params: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in params {
        by_name.entry(k).or_default().insert(v);
    }
    by_name
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}{v}")))
        .collect()
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                Just("MessageSid".to_owned()),
                Just("From".to_owned()),
                Just("To".to_owned()),
                Just("Body".to_owned()),
                Just("NumMedia".to_owned()),
                Just("MediaUrl0".to_owned()),
                Just("MessageStatus".to_owned()),
                Just("ErrorCode".to_owned()),
                "\\PC{0,8}"
            ],
            "\\PC{0,24}",
        ),
        0..10,
    )
}

proptest! {
    #[test]
    fn parsers_never_panic(params in pairs()) {
        let now = chrono::Utc::now();
        let _ = webhook::parse_inbound(&params, Some("US"), now);
        let _ = webhook::parse_status(&params, None, now);
    }

    #[test]
    fn form_decoding_of_raw_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes);
    }

    #[test]
    fn signature_checks_never_panic_and_only_accept_the_real_one(
        token in "\\PC{0,16}", url in "\\PC{0,40}", params in pairs(), forged in "\\PC{0,40}"
    ) {
        let real = signature::compute(&token, &url, &params);
        prop_assert!(signature::validate(&token, &url, &params, &real));
        if forged != real {
            prop_assert!(!signature::validate(&token, &url, &params, &forged));
        }
    }
}

proptest! {
    /// Raw form bytes, signed over what they decode to: never a 5xx or a
    /// panic; undecodable bodies get 400 and store nothing.
    #[test]
    fn raw_form_bodies_through_the_route(
        body in prop_oneof![
            "[A-Za-z0-9=&%+._-]{0,200}",
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ],
        status_route in any::<bool>(),
    ) {
        let path = if status_route { "/status" } else { "/" };
        let decoded = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body.as_bytes());
        let sig = signature::compute(TOKEN, &format!("{ORIGIN}{path}"), decoded.as_deref().unwrap_or_default());
        let (status, stored) = through_route(path, body.as_bytes(), &sig);
        prop_assert!(!status.is_server_error(), "{status}");
        if decoded.is_err() {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        if !status.is_success() {
            prop_assert_eq!(stored, 0);
        }
    }

    /// A signed form changed in one byte is refused with 403 and stores
    /// nothing, unless it decodes to the same signed parameters (`%41` for
    /// `A`, reordered pairs: the same request to Twilio's scheme).
    #[test]
    fn a_mutated_form_is_refused_unless_it_means_the_same(
        params in pairs(), at_byte in any::<prop::sample::Index>(), byte in any::<u8>(),
    ) {
        let url = format!("{ORIGIN}/");
        let body = serde_urlencoded::to_string(&params).unwrap().into_bytes();
        let sig = signature::compute(TOKEN, &url, &params);
        let mut mutated = body.clone();
        if mutated.is_empty() {
            mutated.push(byte);
        } else {
            let i = at_byte.index(mutated.len());
            mutated[i] = byte;
        }
        let (status, stored) = through_route("/", &mutated, &sig);
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&mutated) {
            Ok(decoded) if signed_text(&decoded) == signed_text(&params) => {
                prop_assert!(status != StatusCode::FORBIDDEN, "the same parameters refused");
            }
            Ok(_) => {
                prop_assert_eq!(status, StatusCode::FORBIDDEN);
                prop_assert_eq!(stored, 0);
            }
            Err(_) => {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
                prop_assert_eq!(stored, 0);
            }
        }
    }
}
