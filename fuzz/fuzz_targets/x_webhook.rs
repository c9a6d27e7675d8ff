//! X Account Activity intake through its axum route: the first byte picks
//! a CRC GET with an arbitrary token, a correctly signed POST of the rest
//! (so arbitrary bodies reach the parser), or a POST whose signature header
//! is taken from the input. Never a panic or a 5xx; a header that is not
//! the body's real signature is refused.
#![no_main]
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

const SECRET: &str = "fuzz-consumer-secret";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac");
    mac.update(body);
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let sink = Arc::new(carekit_testing::CollectingSink::new());
    let config = carekit_twitter::webhook::WebhookConfig::new(SECRET).with_clock(Arc::new(
        carekit_core::FakeClock::new(
            chrono::DateTime::from_timestamp(1_772_442_000, 0).unwrap_or_default(),
        ),
    ));
    let app = carekit_twitter::webhook::router(config, sink.clone());
    let builder = http::Request::builder();
    let (request, forged) = match mode % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            let query: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
            let Ok(r) = builder
                .method("GET")
                .uri(format!("/?crc_token={query}"))
                .body(axum::body::Body::empty())
            else {
                return;
            };
            (r, false)
        }
        1 => {
            let Ok(r) = builder
                .method("POST")
                .uri("/")
                .header(carekit_twitter::webhook::SIGNATURE_HEADER, sign(rest))
                .body(axum::body::Body::from(rest.to_vec()))
            else {
                return;
            };
            (r, false)
        }
        _ => {
            let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let (header, body) = (&rest[..split], rest.get(split + 1..).unwrap_or_default());
            let header = String::from_utf8_lossy(header).into_owned();
            assert!(
                header.trim() == sign(body)
                    || !carekit_twitter::webhook::verify_signature(SECRET, body, &header),
                "a forged signature verified"
            );
            let forged = header.trim() != sign(body);
            let Ok(r) = builder
                .method("POST")
                .uri("/")
                .header(carekit_twitter::webhook::SIGNATURE_HEADER, header)
                .body(axum::body::Body::from(body.to_vec()))
            else {
                return;
            };
            (r, forged)
        }
    };
    let response = runtime()
        .block_on(app.oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{status}");
    if forged {
        assert!(
            status == 401 || status == 403,
            "forged request got {status}"
        );
        assert!(sink.events().is_empty());
    }
    for event in sink.events() {
        assert!(
            carekit_twitter::is_valid_id(&event.author.handle),
            "{:?}",
            event.author
        );
    }
});
