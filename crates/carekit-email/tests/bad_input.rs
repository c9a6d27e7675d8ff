//! Bad input: malformed MIME, unknown charsets, a 20 MB attachment, header
//! injection in a reply subject, and the raw-mail HTTP route's refusals.
//! Clear errors, never a panic, nothing handed over that should not be.

mod common;

use axum::body::Body;
use carekit_core::{
    ChannelKind, Clock, EventSink, FakeClock, Identity, OutboundMessage, Visibility,
};
use carekit_email::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailChannel, EmailError, EmailIntake, ImapConfig, RouteGuard,
    SmtpConfig, SmtpSecurity, extract_reply, parse_message, raw_mail_router,
};
use carekit_testing::CollectingSink;
use common::*;
use http::{Request, StatusCode};
use proptest::prelude::*;
use std::sync::Arc;
use tower::ServiceExt;

fn with_attachment(size: usize) -> Vec<u8> {
    // Base64 of zeros: 4 chars per 3 bytes, 76-char lines.
    let line = "A".repeat(76);
    let lines = size.div_ceil(57);
    let mut raw = String::with_capacity(lines * 78 + 1024);
    raw.push_str(concat!(
        "From: ann@example.net\r\nTo: support@example.com\r\nSubject: big\r\n",
        "Message-ID: <big@example.net>\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=\"X\"\r\n\r\n",
        "--X\r\nContent-Type: text/plain\r\n\r\nSee the attached scan.\r\n",
        "--X\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n",
        "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n",
        "Content-Transfer-Encoding: base64\r\n\r\n",
    ));
    for _ in 0..lines {
        raw.push_str(&line);
        raw.push_str("\r\n");
    }
    raw.push_str("--X--\r\n");
    raw.into_bytes()
}

#[test]
fn a_20_mb_attachment_is_metadata_and_a_low_limit_refuses_it() {
    let raw = with_attachment(20 * 1024 * 1024);
    let parsed = parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert_eq!(parsed.text.trim(), "See the attached scan.");
    assert_eq!(parsed.attachments.len(), 1);
    let a = &parsed.attachments[0];
    assert_eq!(a.name.as_deref(), Some("scan.pdf"));
    assert_eq!(a.content_type.as_deref(), Some("application/pdf"));
    assert!(a.size.unwrap() >= 20 * 1024 * 1024, "{:?}", a.size);

    match parse_message(&raw, 10 * 1024 * 1024) {
        Err(EmailError::TooLarge { size, limit }) => {
            assert_eq!(size, raw.len());
            assert_eq!(limit, 10 * 1024 * 1024);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_messages_are_clear_errors() {
    for (raw, why) in [
        (&b""[..], "empty"),
        (b"   \r\n\r\n", "blank"),
        (b"\x00\x01\x02 binary junk \xff\xfe", "junk"),
        (b"Subject: no sender\r\n\r\nbody", "no From"),
        (
            b"From: not an address\r\nSubject: x\r\n\r\nbody",
            "From without @",
        ),
    ] {
        match parse_message(raw, DEFAULT_MAX_MESSAGE_BYTES) {
            Err(EmailError::Malformed(reason)) => eprintln!("{why}: {reason}"),
            other => panic!("{why}: {other:?}"),
        }
    }
    // Truncated multipart (no closing boundary, cut mid-header) still parses
    // what is there.
    let truncated = b"From: a@example.net\r\nMessage-ID: <t@x>\r\nContent-Type: multipart/mixed; boundary=\"Q\"\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\nhello\r\n--Q\r\nContent-Ty";
    let parsed = parse_message(truncated, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert!(parsed.text.contains("hello"));
}

#[test]
fn shared_broken_messages_parse_without_panicking() {
    let Some(dir) = shared_email_dir("broken messages") else {
        return;
    };
    let cc = std::fs::read(dir.join("broken/broken-cc")).unwrap();
    let parsed = parse_message(&cc, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert_eq!(parsed.message_id, "multiple-cc@example.org");
    let empty = std::fs::read(dir.join("broken/empty-part")).unwrap();
    let parsed = parse_message(&empty, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert_eq!(
        parsed.message_id,
        "1782193672-98446-mlmmj-36f22ff2@FreeBSD.org"
    );
    // A list-server notice: never auto-answered.
    eprintln!("empty-part noise: {:?}", parsed.noise);
}

#[test]
fn unknown_and_mislabelled_charsets_decode_lossily() {
    let raw = b"From: =?x-klingon?Q?Worf?= <worf@example.org>\r\nSubject: =?x-klingon?B?SGVsbG8=?=\r\nMessage-ID: <k@example.org>\r\nContent-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: 8bit\r\n\r\nQapla\xe2\x80\x99 \xff\xfe order 42\r\n";
    let parsed = parse_message(raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert!(parsed.text.contains("order 42"), "{:?}", parsed.text);
    assert_eq!(parsed.from.handle(), "worf@example.org");
    // Latin-1 labelled correctly is decoded.
    let latin = b"From: a@example.org\r\nMessage-ID: <l@x>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe\r\n";
    assert_eq!(
        parse_message(latin, DEFAULT_MAX_MESSAGE_BYTES)
            .unwrap()
            .text
            .trim(),
        "Grüße"
    );
}

#[test]
fn a_message_without_message_id_gets_a_stable_synthetic_one() {
    let raw = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
    let a = parse_message(raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    let b = parse_message(raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert!(a.message_id_synthesised);
    assert_eq!(a.message_id, b.message_id);
    let other = parse_message(
        b"From: a@example.org\r\nSubject: hi\r\n\r\nhello!\r\n",
        DEFAULT_MAX_MESSAGE_BYTES,
    )
    .unwrap();
    assert_ne!(a.message_id, other.message_id);
}

fn channel() -> EmailChannel {
    let config = SmtpConfig::builder("127.0.0.1", "support@example.com")
        .security(SmtpSecurity::PlainForTests)
        .build()
        .unwrap();
    EmailChannel::new(config, Arc::new(clock())).unwrap()
}

#[tokio::test]
async fn header_injection_in_a_reply_subject_is_impossible() {
    let out = OutboundMessage::new(ChannelKind::Email, Visibility::Private, "Hello")
        .with_recipient(Identity::new(ChannelKind::Email, "ann@example.net"))
        .with_subject("Re: hi\r\nBcc: victim@evil.example\r\nX-Injected: 1")
        .with_in_reply_to("m1@example.net>\r\nBcc: other@evil.example")
        .with_references(vec!["r1@example.net\nX-Evil: 2".into()]);
    let composed = channel().compose(&out).unwrap();
    let bytes = composed.formatted();
    let text = String::from_utf8_lossy(&bytes);
    for line in text.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        assert!(!lower.starts_with("bcc:"), "injected header line: {line}");
        assert!(
            !lower.starts_with("x-injected:"),
            "injected header line: {line}"
        );
        assert!(
            !lower.starts_with("x-evil:"),
            "injected header line: {line}"
        );
    }
    let parsed = parse_message(&bytes, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert_eq!(parsed.to.len(), 1);
    assert!(parsed.cc.is_empty());
    assert!(parsed.subject.unwrap().contains("Bcc: victim@evil.example"));

    // An address with CR/LF in it is refused, not smuggled.
    let bad = OutboundMessage::new(ChannelKind::Email, Visibility::Private, "x").with_recipient(
        Identity::new(ChannelKind::Email, "ann@example.net\r\nBcc: x@evil.example"),
    );
    assert!(matches!(
        channel().compose(&bad),
        Err(carekit_core::ChannelError::Invalid(_))
    ));
    // Public email does not exist.
    let public = OutboundMessage::new(ChannelKind::Email, Visibility::Public, "x")
        .with_recipient(Identity::new(ChannelKind::Email, "ann@example.net"));
    assert!(matches!(
        channel().compose(&public),
        Err(carekit_core::ChannelError::Unsupported(_))
    ));
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let smtp = SmtpConfig::builder("smtp.example.com", "support@example.com")
        .credentials("support", "smtp-hunter2")
        .build()
        .unwrap();
    let imap = ImapConfig::builder("imap.example.com", "support", "imap-hunter2")
        .plain_for_tests()
        .build()
        .unwrap();
    let guard = RouteGuard::shared_secret("route-hunter2");
    let printed = format!(
        "{smtp:?} {imap:?} {guard:?} {:?}",
        EmailChannel::new(smtp.clone(), Arc::new(clock())).unwrap()
    );
    for secret in ["smtp-hunter2", "imap-hunter2", "route-hunter2"] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
    assert!(printed.contains("[redacted]"));
}

proptest! {
    #[test]
    fn parsing_and_extraction_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_message(&bytes, DEFAULT_MAX_MESSAGE_BYTES);
        let _ = extract_reply(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mail_shaped_input_never_panics(
        headers in proptest::collection::vec("[A-Za-z-]{1,12}: [ -~]{0,40}", 0..8),
        body in "[ -~\r\n>]{0,400}",
    ) {
        let raw = format!("From: a@example.org\r\n{}\r\n\r\n{body}", headers.join("\r\n"));
        let _ = parse_message(raw.as_bytes(), DEFAULT_MAX_MESSAGE_BYTES);
    }
}

// ---- the raw-mail HTTP route -------------------------------------------

fn route(sink: Arc<CollectingSink>, limit: usize) -> axum::Router {
    let intake = EmailIntake::new(
        MAILBOX,
        sink as Arc<dyn EventSink>,
        Arc::new(FakeClock::new(clock().now())),
    )
    .with_max_message_bytes(limit);
    raw_mail_router(Arc::new(intake), RouteGuard::shared_secret("s3cret"))
}

fn post(body: Vec<u8>, secret: Option<&str>, content_type: &str) -> Request<Body> {
    let mut req = Request::post("/").header("content-type", content_type);
    if let Some(s) = secret {
        req = req.header("x-carekit-secret", s);
    }
    req.body(Body::from(body)).unwrap()
}

const GOOD: &[u8] = b"From: Ann <ann@example.net>\r\nTo: support@example.com\r\nMessage-ID: <r1@example.net>\r\nSubject: help\r\n\r\nMy order is late.\r\n";

#[tokio::test]
async fn route_accepts_with_the_secret_and_hands_over_once_stored() {
    let sink = Arc::new(CollectingSink::new());
    let res = route(sink.clone(), 1 << 20)
        .oneshot(post(GOOD.to_vec(), Some("s3cret"), "message/rfc822"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].external_id, "r1@example.net");
    assert_eq!(events[0].author.handle, "ann@example.net");
    assert_eq!(events[0].text, "My order is late.");
}

#[tokio::test]
async fn route_refuses_bad_secrets_types_sizes_and_junk() {
    let sink = Arc::new(CollectingSink::new());
    let cases = [
        (
            post(GOOD.to_vec(), None, "message/rfc822"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(GOOD.to_vec(), Some("s3cres"), "message/rfc822"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(GOOD.to_vec(), Some("s3cret"), "application/json"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            post(with_attachment(2 << 20), Some("s3cret"), "message/rfc822"),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            post(
                b"junk without headers".to_vec(),
                Some("s3cret"),
                "message/rfc822",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (req, expected) in cases {
        let res = route(sink.clone(), 1 << 20).oneshot(req).await.unwrap();
        assert_eq!(res.status(), expected);
    }
    assert!(sink.events().is_empty(), "nothing may be handed over");
}

#[tokio::test]
async fn route_answers_503_when_the_sink_cannot_store() {
    let sink = Arc::new(CollectingSink::new());
    sink.fail_next(1);
    let res = route(sink.clone(), 1 << 20)
        .oneshot(post(GOOD.to_vec(), Some("s3cret"), "message/rfc822"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The provider retries; now it is stored.
    let res = route(sink.clone(), 1 << 20)
        .oneshot(post(
            GOOD.to_vec(),
            Some("s3cret"),
            "message/rfc822; charset=utf-8",
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(sink.events().len(), 1);
}
