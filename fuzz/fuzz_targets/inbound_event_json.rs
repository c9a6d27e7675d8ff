//! Normalised events as JSON (what a queue or an app hands the desk).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<carekit_core::InboundEvent>(data);
});
