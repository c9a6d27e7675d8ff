//! The local stand-in for Twilio the tests share: a server answering
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, and a check of
//! each request against Twilio's official OpenAPI description
//! (`../shared/specs/twilio-api-v2010.openapi.json`).
#![allow(dead_code, missing_docs)]

use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "s3cr3t-auth-token";
pub const MESSAGES: &str = "/2010-04-01/Accounts/{AccountSid}/Messages.json";

pub fn spec() -> Option<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs/twilio-api-v2010.openapi.json"
    );
    match std::fs::read_to_string(path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("spec is JSON")),
        Err(_) => {
            eprintln!("SKIPPED: Twilio spec not found at {path}");
            None
        }
    }
}

/// Checks a recorded request against the spec's operation.
pub fn check_against_spec(spec: &Value, request: &wiremock::Request) -> Vec<(String, String)> {
    let operation = &spec["paths"][MESSAGES]["post"];
    assert_eq!(request.method.as_str(), "POST");
    // Path parameter pattern from the spec.
    let pattern = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "AccountSid")
        .unwrap()["schema"]["pattern"]
        .as_str()
        .unwrap()
        .to_owned();
    let account = request.url.path().split('/').nth(3).unwrap();
    let hex = pattern
        .trim_start_matches("^AC[0-9a-fA-F]{")
        .trim_end_matches("}$");
    assert_eq!(pattern, format!("^AC[0-9a-fA-F]{{{hex}}}$"));
    assert!(account.starts_with("AC") && account.len() == 2 + hex.parse::<usize>().unwrap());
    assert_eq!(
        request.url.path(),
        MESSAGES.replace("{AccountSid}", account)
    );
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    let schema =
        &operation["requestBody"]["content"][content_type.split(';').next().unwrap()]["schema"];
    assert!(
        schema.is_object(),
        "the spec documents {content_type} bodies"
    );
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for (name, _) in &form {
        assert!(
            properties.contains_key(name),
            "field {name} is not in the spec"
        );
    }
    for required in schema["required"].as_array().unwrap() {
        assert!(
            form.iter().any(|(k, _)| k == required.as_str().unwrap()),
            "required {required} missing"
        );
    }
    let to = &form.iter().find(|(k, _)| k == "To").unwrap().1;
    assert_eq!(properties["To"]["format"], "phone-number");
    assert!(
        to.starts_with('+') && to[1..].chars().all(|c| c.is_ascii_digit()),
        "To is E.164: {to}"
    );
    if let Some((_, cb)) = form.iter().find(|(k, _)| k == "StatusCallback") {
        assert_eq!(properties["StatusCallback"]["format"], "uri");
        assert!(url::Url::parse(cb).is_ok());
    }
    let auth = request
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(auth, format!("Basic {expected}"));
    form
}

pub async fn server_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Messages\.json$",
        ))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// Answers every send with 201 and a message SID of its own
/// (`SM` + 32 hex digits), as Twilio does.
pub async fn server_sending() -> MockServer {
    let server = MockServer::start().await;
    let next = AtomicU64::new(1);
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Messages\.json$",
        ))
        .respond_with(move |_: &wiremock::Request| {
            let sid = format!("SM{:032x}", next.fetch_add(1, Ordering::Relaxed));
            ResponseTemplate::new(201).set_body_json(
                serde_json::json!({ "sid": sid, "status": "queued", "num_segments": "1" }),
            )
        })
        .mount(&server)
        .await;
    server
}
