//! Raw mail: MIME parsing, threading, reply extraction and the normalised
//! event. Typed errors only; parents never include the message itself.
#![no_main]
use carekit_email::thread::{parents, thread_email};
use carekit_email::{EmailError, extract_reply, html_to_readable_text, parse_message, to_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_message(data, 1024 * 1024) {
        Ok(email) => {
            assert!(email.from.address.contains('@'));
            assert!(!parents(&email).contains(&email.message_id));
            let threading = thread_email(&email, "support@acme.example");
            let now = chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default();
            let event = to_event(&email, &threading, "support@acme.example", now);
            assert!(event.occurred_at <= now);
            assert_eq!(event.external_id, email.message_id);
        }
        Err(EmailError::Malformed(_) | EmailError::TooLarge { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
    let text = String::from_utf8_lossy(data);
    let reply = extract_reply(&text);
    assert!(text.trim().is_empty() || !reply.text.is_empty());
    let _ = html_to_readable_text(&text);
});
