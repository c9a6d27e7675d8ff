//! Graph (Facebook) webhook bodies and `X-Hub-Signature-256` headers: the
//! parser answers `Ok` or a JSON error, events only name the configured
//! page; a header that is not the body's digest never verifies.
#![no_main]
use carekit_facebook::signature::{sign, verify};
use carekit_facebook::{FacebookError, parse_webhook};
use libfuzzer_sys::fuzz_target;

const PAGE: &str = "1234567890";

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default();
    match parse_webhook(data, PAGE, now) {
        Ok(batch) => {
            for event in &batch.events {
                assert_eq!(event.account, PAGE);
            }
        }
        Err(e) => assert!(matches!(e, FacebookError::Json(_)), "{e:?}"),
    }
    // The first line is a signature header for the rest.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let real = sign(b"fuzz-app-secret", body);
    let ok = verify(b"fuzz-app-secret", Some(header), false, body).is_ok();
    let is_real = std::str::from_utf8(header).is_ok_and(|h| {
        h.strip_prefix("sha256=")
            .is_some_and(|hex| hex.trim().eq_ignore_ascii_case(&real["sha256=".len()..]))
    });
    assert_eq!(ok, is_real, "verify disagrees for header {header:?}");
});
