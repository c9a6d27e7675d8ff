//! Nothing the customer wrote is lost: the event (and the desk's stored
//! message) carries the extracted reply as `text`, the whole decoded body
//! as `original_text`, and the RFC 5322 source as `raw`, bounded.
//! Fixtures are small messages written for these tests (tests/fixtures).

mod common;

use axum::body::Body;
use carekit_core::{ChannelKind, Clock, EventSink, Store};
use carekit_email::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailIntake, MAX_RAW_BYTES, RouteGuard, parse_message,
    raw_mail_router,
};
use carekit_testing::CollectingSink;
use common::*;
use http::{Request, StatusCode};
use std::sync::Arc;
use tower::ServiceExt;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn a_reply_keeps_its_quote_signature_and_phone_number_beside_the_extract() {
    let raw = fixture("reply_quote_signature_phone.eml");
    let r = rig();
    let (_, _, event) = r.intake.prepare(&raw).await.unwrap();
    assert_eq!(
        event.text,
        "Still nothing arrived. Please call me back today."
    );
    let original = event.original_text.as_deref().expect("original text kept");
    for part in [
        "Still nothing arrived. Please call me back today.",
        "Ann Lee",
        "+44 20 7946 0958",
        "On Mon, 1 Jun 2026 at 10:02, Acme Support <support@example.com> wrote:",
        "> Your parcel ships today.",
        "> Kind regards, Acme",
    ] {
        assert!(
            original.contains(part),
            "{part:?} missing from {original:?}"
        );
    }

    // The desk stores all of it on the message.
    r.intake.ingest_raw(&raw).await.unwrap();
    let found = r
        .store
        .locate_message(ChannelKind::Email, "sig-phone-1@mail.example.net")
        .await
        .unwrap()
        .unwrap();
    let record = r.desk.conversation(found.conversation_id).await.unwrap();
    let message = &record.messages[0];
    assert_eq!(
        message.text,
        "Still nothing arrived. Please call me back today."
    );
    assert!(message.full_text().contains("+44 20 7946 0958"));
    assert!(message.full_text().contains("> Your parcel ships today."));
    assert_eq!(
        message.raw.as_deref().map(str::as_bytes),
        Some(raw.as_slice())
    );
}

#[tokio::test]
async fn a_bottom_posted_reply_is_extracted_and_the_rest_kept() {
    let raw = fixture("bottom_posted_thunderbird.eml");
    let (_, _, event) = rig().intake.prepare(&raw).await.unwrap();
    assert_eq!(
        event.text,
        "Nein, die Verbindung bricht weiter jede Stunde ab."
    );
    let original = event.original_text.unwrap();
    assert!(original.contains("> Hat der Neustart geholfen?"));
    assert!(original.contains("-Bruno"));
}

#[tokio::test]
async fn a_raw_message_round_trips_through_the_route() {
    let sink = Arc::new(CollectingSink::new());
    let intake = Arc::new(EmailIntake::new(
        MAILBOX,
        sink.clone() as Arc<dyn EventSink>,
        Arc::new(clock()) as Arc<dyn Clock>,
    ));
    let app = raw_mail_router(intake, RouteGuard::shared_secret("s3cret"));
    for name in [
        "reply_quote_signature_phone.eml",
        "bottom_posted_thunderbird.eml",
        "text_image_text.eml",
    ] {
        let raw = fixture(name);
        let response = app
            .clone()
            .oneshot(
                Request::post("/")
                    .header("content-type", "message/rfc822")
                    .header("x-carekit-secret", "s3cret")
                    .body(Body::from(raw.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        let event = sink.events().pop().unwrap();
        assert_eq!(
            event.raw.as_deref().map(str::as_bytes),
            Some(raw.as_slice()),
            "{name}"
        );
        // The kept source parses to the same message.
        let again =
            parse_message(event.raw.unwrap().as_bytes(), DEFAULT_MAX_MESSAGE_BYTES).unwrap();
        assert_eq!(
            again,
            parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap()
        );
    }
}

#[tokio::test]
async fn text_parts_around_an_inline_image_are_all_kept() {
    let raw = fixture("text_image_text.eml");
    let parsed = parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert!(
        parsed.text.contains("The lid arrived broken"),
        "{}",
        parsed.text
    );
    assert!(
        parsed
            .text
            .contains("I would like a replacement, not a refund."),
        "{}",
        parsed.text
    );
    let (_, _, event) = rig().intake.prepare(&raw).await.unwrap();
    assert!(
        event
            .text
            .contains("I would like a replacement, not a refund.")
    );
}

#[tokio::test]
async fn an_8bit_latin1_body_is_decoded_and_the_raw_form_says_bytes_were_replaced() {
    let raw = fixture("latin1_8bit.eml");
    assert!(std::str::from_utf8(&raw).is_err(), "the fixture is Latin-1");
    let (parsed, _, event) = rig().intake.prepare(&raw).await.unwrap();
    assert!(!parsed.raw_complete);
    assert!(
        event.text.contains("arrivée, j'ai déjà payé"),
        "{}",
        event.text
    );
    let kept = event.raw.unwrap();
    let first = kept.lines().next().unwrap();
    assert_eq!(
        first,
        format!("X-Carekit-Raw: size={}; invalid-utf8-replaced", raw.len())
    );
    assert!(kept.contains("Message-ID: <latin1-1@example.fr>"));
    assert!(kept.contains("Ma commande n'est pas arriv\u{fffd}e"));
}

/// A customer mail with a text part and a `size`-byte attachment.
fn with_attachment(text: &str, size: usize) -> Vec<u8> {
    let mut raw = format!(
        concat!(
            "From: Dana <dana@example.net>\r\nTo: support@example.com\r\nSubject: Scan\r\n",
            "Message-ID: <scan-1@example.net>\r\nMIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"S\"\r\n\r\n",
            "--S\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
            "--S\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n",
            "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n",
        ),
        text
    );
    for _ in 0..size.div_ceil(57) {
        raw.push_str(&"A".repeat(76));
        raw.push_str("\r\n");
    }
    raw.push_str(
        "--S\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nP.S. Order 1234.\r\n--S--\r\n",
    );
    raw.into_bytes()
}

#[tokio::test]
async fn above_the_bound_the_raw_form_keeps_headers_and_text_parts_and_says_so() {
    let raw = with_attachment("Here is the scan you asked for.", 3 * 1024 * 1024);
    assert!(raw.len() > MAX_RAW_BYTES);
    let (_, _, event) = rig().intake.prepare(&raw).await.unwrap();
    event.validate().unwrap();
    let kept = event.raw.unwrap();
    assert!(
        kept.len() < 2048,
        "attachment body left out: {} bytes",
        kept.len()
    );
    assert!(
        kept.starts_with(&format!(
            "X-Carekit-Raw: size={}; attachments-omitted=1\r\n",
            raw.len()
        )),
        "{}",
        kept.lines().next().unwrap()
    );
    // Still a readable message: the same headers, both text parts, and the
    // attachment's headers, with an empty body.
    let again = parse_message(kept.as_bytes(), DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    let original = parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert_eq!(again.message_id, original.message_id);
    assert_eq!(again.subject, original.subject);
    assert_eq!(again.text, original.text);
    assert!(again.text.contains("P.S. Order 1234."));
    assert_eq!(again.attachments.len(), 1);
    assert_eq!(again.attachments[0].name.as_deref(), Some("scan.pdf"));
    assert_eq!(again.attachments[0].size, Some(0));
}

#[tokio::test]
async fn a_text_larger_than_the_bound_is_cut_on_a_char_boundary_and_says_so() {
    let long = "é".repeat(700 * 1024);
    let raw = with_attachment(&long, 100);
    let (_, _, event) = rig().intake.prepare(&raw).await.unwrap();
    event.validate().unwrap();
    let kept = event.raw.unwrap();
    assert!(kept.len() <= MAX_RAW_BYTES && kept.len() > MAX_RAW_BYTES - 8);
    assert!(
        kept.starts_with(&format!(
            "X-Carekit-Raw: size={}; attachments-omitted=1; cut\r\n",
            raw.len()
        )),
        "{}",
        kept.lines().next().unwrap()
    );
    assert!(
        event.text.ends_with(" bytes]"),
        "the extract says it was cut"
    );
    assert!(event.text.starts_with("éé"));
}

#[tokio::test]
async fn a_mail_that_is_all_quote_keeps_the_whole_text_and_its_source() {
    for body in [
        "On Mon, 1 Jun 2026 at 10:02, Acme <support@example.com> wrote:\r\n> Did it work?\r\n",
        "On 01/06/2026 10:02, Acme Support wrote:\r\n> Did it work?\r\n\r\n-- \r\nAnn\r\n",
        "-----Original Message-----\r\nFrom: Acme\r\nSent: Monday\r\n\r\nDid it work?\r\n",
        "-Ann\r\n",
    ] {
        let raw = format!(
            "From: ann@example.net\r\nTo: support@example.com\r\nMessage-ID: <all-quote@example.net>\r\n\r\n{body}"
        );
        let (_, _, event) = rig().intake.prepare(raw.as_bytes()).await.unwrap();
        // Extraction would leave nothing: the text is the whole text.
        assert_eq!(event.text, body.replace("\r\n", "\n").trim(), "{body:?}");
        assert_eq!(event.original_text, None, "nothing beyond the text");
        assert_eq!(event.raw.as_deref(), Some(raw.as_str()));
    }
}
