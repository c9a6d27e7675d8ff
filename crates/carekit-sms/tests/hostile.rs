//! Arbitrary webhook input: the parsers and the signature check answer, never panic.

use carekit_sms::{signature, webhook};
use proptest::prelude::*;

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
