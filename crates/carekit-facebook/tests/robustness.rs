//! Bad input never panics; window boundaries are exact.

use carekit_core::ChannelError;
use carekit_facebook::window::{messaging_type, private_reply_allowed};
use carekit_facebook::{MessagingType, parse_webhook};
use carekit_testing::at;
use chrono::Duration;
use proptest::prelude::*;

const FEED: &str = r#"{"entry":[{"id":"1234567890","time":1520383571,"changes":[{"field":"feed","value":{"from":{"id":"156407155145863","name":"Cinderella Hoover"},"message":"broken","post_id":"1234567890_4","comment_id":"4_5","created_time":1520383571,"item":"comment","parent_id":"1234567890_4","verb":"add"}}],"messaging":[{"sender":{"id":"6"},"recipient":{"id":"1234567890"},"timestamp":1458692752478,"message":{"mid":"m_1","text":"hi","reply_to":{"mid":"m_0"}}}]}],"object":"page"}"#;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_webhook(&body, "1234567890", at("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn truncated_or_mutated_payloads_never_panic(cut in 0usize..FEED.len(), at_byte in 0usize..FEED.len(), byte in any::<u8>()) {
        let _ = parse_webhook(&FEED.as_bytes()[..cut], "1234567890", at("2026-01-01T00:00:00Z"));
        let mut mutated = FEED.as_bytes().to_vec();
        mutated[at_byte] = byte;
        let _ = parse_webhook(&mutated, "1234567890", at("2026-01-01T00:00:00Z"));
    }
}

#[test]
fn the_untouched_payload_gives_both_events() {
    let batch = parse_webhook(FEED.as_bytes(), "1234567890", at("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(batch.events.len(), 2);
    assert!(batch.skipped.is_empty());
}

#[test]
fn window_boundaries_are_inclusive_and_exact() {
    let last = at("2026-03-01T00:00:00Z");
    assert_eq!(
        messaging_type(last + Duration::hours(24), Some(last), false),
        Ok(MessagingType::Response)
    );
    assert!(matches!(
        messaging_type(
            last + Duration::hours(24) + Duration::seconds(1),
            Some(last),
            false
        ),
        Err(ChannelError::OutsideWindow { .. })
    ));
    assert_eq!(
        messaging_type(last + Duration::days(7), Some(last), true),
        Ok(MessagingType::HumanAgent)
    );
    assert!(
        messaging_type(
            last + Duration::days(7) + Duration::seconds(1),
            Some(last),
            true
        )
        .is_err()
    );
    assert!(private_reply_allowed(last + Duration::days(7), last).is_ok());
    assert!(private_reply_allowed(last + Duration::days(7) + Duration::seconds(1), last).is_err());
}
