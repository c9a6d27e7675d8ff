//! Raw form bodies through the Twilio webhook route (content type, form
//! decoding, signature over the decoded parameters, parsing): signed as
//! Twilio would sign what it decodes to, or with the input's own header.
//! Never a panic or a 5xx; a wrong signature stores nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

const TOKEN: &str = "fuzz-auth-token";
const ORIGIN: &str = "https://desk.example.com";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = if mode & 2 == 0 { "/" } else { "/status" };
    let url = format!("{ORIGIN}{path}");
    let (signature, body) = if mode & 1 == 0 {
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(rest).unwrap_or_default();
        (carekit_sms::signature::compute(TOKEN, &url, &params), rest)
    } else {
        let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        (
            String::from_utf8_lossy(&rest[..split]).into_owned(),
            rest.get(split + 1..).unwrap_or_default(),
        )
    };
    let params: Option<Vec<(String, String)>> = serde_urlencoded::from_bytes(body).ok();
    let genuine = params
        .as_ref()
        .is_some_and(|p| carekit_sms::signature::validate(TOKEN, &url, p, &signature));
    let sink = Arc::new(carekit_testing::CollectingSink::new());
    let config = carekit_sms::WebhookConfig::builder(TOKEN, ORIGIN)
        .clock(Arc::new(carekit_core::FakeClock::new(
            chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default(),
        )))
        .build();
    let app = carekit_sms::webhook::router(config, sink.clone());
    let Ok(request) = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(axum::body::Body::from(body.to_vec()))
    else {
        return;
    };
    let response = runtime()
        .block_on(app.oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{status}");
    if !genuine {
        assert!(status.is_client_error(), "unsigned form got {status}");
        assert!(sink.events().is_empty());
    }
});
