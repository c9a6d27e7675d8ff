//! The webhook routes, driven without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use carekit_core::*;
use carekit_sms::{WebhookConfig, signature, webhook};
use carekit_testing::CollectingSink;
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

const TOKEN: &str = "12345";
const ORIGIN: &str = "https://desk.example.com";

fn app(sink: Arc<CollectingSink>) -> axum::Router {
    let config = WebhookConfig::builder(TOKEN, ORIGIN)
        .help_text("Acme support: reply STOP to opt out. Msg&data rates may apply.")
        .clock(Arc::new(FakeClock::new(carekit_testing::at(
            "2026-03-02T09:00:00Z",
        ))))
        .build();
    axum::Router::new().nest("/webhooks/twilio/sms", webhook::router(config, sink))
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn signed(path: &str, pairs: &[(&str, &str)], public_url: Option<&str>) -> Request<Body> {
    let p = params(pairs);
    let url = public_url.map_or_else(|| format!("{ORIGIN}{path}"), str::to_owned);
    let sig = signature::compute(TOKEN, &url, &p);
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(Body::from(serde_urlencoded::to_string(&p).unwrap()))
        .unwrap()
}

async fn call(app: axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

const MESSAGE: &[(&str, &str)] = &[
    ("MessageSid", "SM11111111111111111111111111111111"),
    ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ("From", "+14155552671"),
    ("To", "+14155550100"),
    ("Body", "My order never arrived"),
    ("NumMedia", "1"),
    ("MediaUrl0", "https://api.twilio.com/media/ME1"),
    ("MediaContentType0", "image/jpeg"),
];

#[tokio::test]
async fn a_signed_message_reaches_the_desk() {
    let sink = Arc::new(CollectingSink::new());
    let (status, body) = call(
        app(sink.clone()),
        signed("/webhooks/twilio/sms", MESSAGE, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<Response/>"));
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.channel, e.visibility),
        (ChannelKind::Sms, Visibility::Private)
    );
    assert_eq!(e.author.handle, "+14155552671");
    assert_eq!(e.account, "+14155550100");
    assert_eq!(
        e.thread.key.as_ref().unwrap().as_str(),
        "+14155550100:+14155552671"
    );
    assert_eq!(e.attachments[0].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(e.occurred_at, carekit_testing::at("2026-03-02T09:00:00Z"));
}

#[tokio::test]
async fn the_default_port_variant_validates_too() {
    let sink = Arc::new(CollectingSink::new());
    let req = signed(
        "/webhooks/twilio/sms",
        MESSAGE,
        Some("https://desk.example.com:443/webhooks/twilio/sms"),
    );
    assert_eq!(call(app(sink.clone()), req).await.0, StatusCode::OK);
    assert_eq!(sink.events().len(), 1);
}

#[tokio::test]
async fn forged_requests_are_rejected_and_store_nothing() {
    let sink = Arc::new(CollectingSink::new());
    // Tampered parameter after signing.
    let p = params(MESSAGE);
    let sig = signature::compute(TOKEN, &format!("{ORIGIN}/webhooks/twilio/sms"), &p);
    let mut tampered = p.clone();
    tampered[4].1 = "send me a refund".into();
    let req = Request::post("/webhooks/twilio/sms")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", &sig)
        .body(Body::from(serde_urlencoded::to_string(&tampered).unwrap()))
        .unwrap();
    assert_eq!(call(app(sink.clone()), req).await.0, StatusCode::FORBIDDEN);
    // Signed for another URL.
    let wrong = signed(
        "/webhooks/twilio/sms",
        MESSAGE,
        Some("https://evil.example.com/webhooks/twilio/sms"),
    );
    assert_eq!(
        call(app(sink.clone()), wrong).await.0,
        StatusCode::FORBIDDEN
    );
    // No signature at all.
    let missing = Request::post("/webhooks/twilio/sms")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(&p).unwrap()))
        .unwrap();
    assert_eq!(
        call(app(sink.clone()), missing).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let sink = Arc::new(CollectingSink::new());
    let json = Request::post("/webhooks/twilio/sms")
        .header("content-type", "application/json")
        .body(Body::from("{\"Body\":\"hi\"}"))
        .unwrap();
    assert_eq!(
        call(app(sink.clone()), json).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let no_from = signed(
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SM1"),
            ("To", "+14155550100"),
            ("Body", "hi"),
        ],
        None,
    );
    let (status, body) = call(app(sink.clone()), no_from).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("From"));
    let bad_number = signed(
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SM1"),
            ("From", "12"),
            ("To", "+14155550100"),
        ],
        None,
    );
    assert_eq!(
        call(app(sink.clone()), bad_number).await.0,
        StatusCode::BAD_REQUEST
    );
    let huge = "x".repeat(100 * 1024);
    let too_big = signed(
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SM1"),
            ("From", "+14155552671"),
            ("To", "+14155550100"),
            ("Body", &huge),
        ],
        None,
    );
    assert_eq!(
        call(app(sink.clone()), too_big).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let garbage = Request::post("/webhooks/twilio/sms")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", "x")
        .body(Body::from(vec![0xff, 0xfe, b'%', b'z']))
        .unwrap();
    assert!(call(app(sink.clone()), garbage).await.0.is_client_error());
    assert!(sink.events().is_empty());
}

#[tokio::test]
async fn stop_start_and_help_words() {
    let sink = Arc::new(CollectingSink::new());
    let stop = signed(
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SM2"),
            ("From", "+14155552671"),
            ("To", "+14155550100"),
            ("Body", " stop "),
        ],
        None,
    );
    call(app(sink.clone()), stop).await;
    let start = signed(
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SM3"),
            ("From", "+14155552671"),
            ("To", "+14155550100"),
            ("Body", "UNSTOP"),
        ],
        None,
    );
    call(app(sink.clone()), start).await;
    let kinds: Vec<EventKind> = sink.events().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::Message,
            EventKind::Consent { opted_in: false },
            EventKind::Message,
            EventKind::Consent { opted_in: true }
        ]
    );
    assert_eq!(sink.events()[1].external_id, "SM2:consent");
    let help = signed(
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SM4"),
            ("From", "+14155552671"),
            ("To", "+14155550100"),
            ("Body", "help"),
        ],
        None,
    );
    let (status, body) = call(app(sink.clone()), help).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(
        "<Message>Acme support: reply STOP to opt out. Msg&amp;data rates may apply.</Message>"
    ));
}

#[tokio::test]
async fn status_callbacks_become_delivery_updates() {
    let sink = Arc::new(CollectingSink::new());
    let cb = signed(
        "/webhooks/twilio/sms/status",
        &[
            ("MessageSid", "SM9"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
            ("To", "+14155552671"),
            ("From", "+14155550100"),
        ],
        None,
    );
    assert_eq!(call(app(sink.clone()), cb).await.0, StatusCode::OK);
    let e = &sink.events()[0];
    assert_eq!(e.external_id, "SM9:status:undelivered");
    assert_eq!(
        e.kind,
        EventKind::Delivery {
            provider_id: "SM9".into(),
            state: DeliveryState::Failed,
            error: Some("twilio error 30003".into())
        }
    );
}

#[tokio::test]
async fn the_platform_retries_when_the_desk_cannot_store() {
    let sink = Arc::new(CollectingSink::new());
    sink.fail_next(1);
    let (status, _) = call(
        app(sink.clone()),
        signed("/webhooks/twilio/sms", MESSAGE, None),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(sink.events().is_empty());
}
