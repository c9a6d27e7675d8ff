//! A Twilio webhook body: form decoding, signature check, message and status parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    let _ = carekit_sms::signature::validate(
        "token",
        "https://desk.example.com/sms",
        &params,
        "c2lnbmF0dXJl",
    );
    let now = chrono::DateTime::from_timestamp(1_760_000_000, 0).unwrap_or_default();
    let _ = carekit_sms::webhook::parse_inbound(&params, Some("US"), now);
    let _ = carekit_sms::webhook::parse_status(&params, None, now);
});
