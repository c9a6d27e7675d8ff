//! Outbound requests checked against Twilio's official OpenAPI description
//! (`../shared/specs/twilio-api-v2010.openapi.json`) on a local server.

mod support;

use carekit_core::*;
use carekit_sms::{SmsChannel, SmsProvider, TwilioConfig, TwilioProvider};
use std::sync::Arc;
use support::{SID, TOKEN, check_against_spec, server_answering, spec};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn channel(server: &MockServer, split: bool) -> SmsChannel {
    let config = TwilioConfig::builder(SID, TOKEN)
        .base_url(server.uri())
        .build()
        .unwrap();
    SmsChannel::builder(Arc::new(TwilioProvider::new(config)), "+1 (415) 555-0100")
        .status_callback("https://desk.example.com/webhooks/twilio/sms/status")
        .max_segments(1)
        .split_long_messages(split)
        .build()
        .unwrap()
}

fn sms(to: &str, text: &str) -> OutboundMessage {
    OutboundMessage::new(ChannelKind::Sms, Visibility::Private, text)
        .with_recipient(Identity::new(ChannelKind::Sms, to))
}

#[tokio::test]
async fn send_matches_the_official_spec() {
    let Some(spec) = spec() else { return };
    let server = server_answering(201, serde_json::json!({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "num_segments": "1"})).await;
    let delivery = channel(&server, true)
        .send(&sms("+14155552671", "We're on it, Ann."))
        .await
        .unwrap();
    assert_eq!(delivery.provider_id, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(
        delivery.thread_key.unwrap().as_str(),
        "+14155550100:+14155552671"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let form = check_against_spec(&spec, &requests[0]);
    assert!(form.contains(&("From".into(), "+14155550100".into())));
    assert!(form.contains(&("Body".into(), "We're on it, Ann.".into())));
}

#[tokio::test]
async fn long_replies_are_split_or_refused_never_silently_billed() {
    let Some(spec) = spec() else { return };
    let server = server_answering(201, serde_json::json!({"sid": "SMx", "status": "queued"})).await;
    let long =
        "Sorry for the trouble with your order, we are looking into it right now. ".repeat(4);
    let delivery = channel(&server, true)
        .send(&sms("+14155552671", &long))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(requests.len() >= 2);
    for r in &requests {
        let form = check_against_spec(&spec, r);
        let body = &form.iter().find(|(k, _)| k == "Body").unwrap().1;
        assert_eq!(carekit_sms::segments::count(body).segments, 1);
    }
    assert_eq!(delivery.parts, Some(requests.len() as u32));
    let refused = channel(&server, false)
        .send(&sms("+14155552671", &long))
        .await;
    assert!(matches!(refused, Err(ChannelError::TooLong { max: 1, .. })));
}

#[tokio::test]
async fn twilio_errors_become_typed_errors() {
    let cases = [
        (
            400,
            serde_json::json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
        ),
        (
            400,
            serde_json::json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        ),
        (
            401,
            serde_json::json!({"code": 20003, "message": "Authenticate", "status": 401}),
        ),
        (503, serde_json::json!({"message": "unavailable"})),
    ];
    let mut got = Vec::new();
    for (status, body) in cases {
        let server = server_answering(status, body).await;
        got.push(
            channel(&server, true)
                .send(&sms("+14155552671", "hi"))
                .await
                .unwrap_err(),
        );
    }
    assert_eq!(got[0], ChannelError::OptedOut);
    assert!(!got[0].is_retryable(), "21610 is never retried");
    assert!(matches!(&got[1], ChannelError::Rejected { code: Some(c), .. } if c == "21211"));
    assert!(matches!(&got[2], ChannelError::Unauthorized { reason } if !reason.contains(TOKEN)));
    assert_eq!(got[3], ChannelError::Server { status: 503 });

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(serde_json::json!({"code": 20429, "message": "Too Many Requests"})),
        )
        .mount(&server)
        .await;
    let err = channel(&server, true)
        .send(&sms("+14155552671", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: std::time::Duration::from_secs(7)
        }
    );
}

#[tokio::test]
async fn bad_recipients_and_public_replies_are_refused_before_the_network() {
    let server = server_answering(201, serde_json::json!({"sid": "SMx"})).await;
    let ch = channel(&server, true);
    assert!(matches!(
        ch.send(&sms("not a number", "hi")).await,
        Err(ChannelError::Rejected { .. })
    ));
    let public = OutboundMessage::new(ChannelKind::Sms, Visibility::Public, "hi");
    assert!(matches!(
        ch.send(&public).await,
        Err(ChannelError::Unsupported(_))
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
    let unreachable = TwilioConfig::builder(SID, TOKEN)
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let err = TwilioProvider::new(unreachable)
        .send(&carekit_sms::SmsRequest::new("+14155552671", "hi").from_number("+14155550100"))
        .await
        .unwrap_err();
    assert!(
        err.is_retryable(),
        "a network failure is retryable: {err:?}"
    );
}

#[tokio::test]
async fn a_send_of_unknown_outcome_is_found_in_the_message_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Messages\.json$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "messages": [{"sid": "SMold", "body": "other"}, {"sid": "SMhit", "body": "We're on it, Ann.", "status": "delivered"}]
        })))
        .mount(&server)
        .await;
    let found = channel(&server, true)
        .find_sent(&sms("+14155552671", "We're on it, Ann."))
        .await
        .unwrap();
    assert_eq!(found.unwrap().provider_id, "SMhit");
    assert!(
        channel(&server, true)
            .find_sent(&sms("+14155552671", "never sent"))
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn secrets_never_reach_debug_output() {
    let config = TwilioConfig::builder(SID, TOKEN).build().unwrap();
    let shown = format!("{config:?} {:?}", TwilioProvider::new(config.clone()));
    assert!(!shown.contains(TOKEN));
    assert!(shown.contains("redacted"));
    let webhook = carekit_sms::WebhookConfig::builder(TOKEN, "https://desk.example.com").build();
    assert!(!format!("{webhook:?}").contains(TOKEN));
    assert!(TwilioConfig::builder("nope", TOKEN).build().is_err());
}
