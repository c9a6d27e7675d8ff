//! Shared test helpers: a configuration, signed requests, the spec file.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use carekit_facebook::FacebookConfig;
use carekit_facebook::signature::sign;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const PAGE: &str = "1234567890";
pub const SECRET: &str = "test-app-secret-9f8e7d";
pub const VERIFY: &str = "verify-token-123";
pub const TOKEN: &str = "EAAB-page-token-secret-42";

pub fn config(base_url: &str) -> FacebookConfig {
    FacebookConfig::builder(PAGE)
        .page_token(TOKEN)
        .app_secret(SECRET)
        .verify_token(VERIFY)
        .base_url(base_url)
        .build()
        .expect("test config")
}

pub fn signed_post(body: &str) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(Body::from(body.to_owned()))
        .expect("request")
}

pub async fn call(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Meta's Messenger Postman collection from `../shared/specs`, or `None`
/// (with a loud message) when this checkout has no shared folder.
pub fn postman() -> Option<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs/meta-messenger-platform.postman_collection.json"
    );
    match std::fs::read_to_string(path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("the Postman collection is JSON")),
        Err(e) => {
            eprintln!(
                "\n\n!!! SKIPPING spec check: {path} not readable ({e}); \
                 the shared/ folder is missing from this checkout !!!\n\n"
            );
            None
        }
    }
}

/// A request of the collection by name (searching folders).
pub fn postman_request<'a>(collection: &'a Value, name: &str) -> &'a Value {
    fn find<'a>(items: &'a Value, name: &str) -> Option<&'a Value> {
        for item in items.as_array()? {
            if item["name"] == name && item.get("request").is_some() {
                return Some(&item["request"]);
            }
            if let Some(found) = item.get("item").and_then(|i| find(i, name)) {
                return Some(found);
            }
        }
        None
    }
    find(&collection["item"], name)
        .unwrap_or_else(|| panic!("no request {name:?} in the collection"))
}

/// Checks that `actual` carries every key of the documented example body,
/// recursively (values are examples; keys are the shape).
pub fn assert_has_shape(example: &Value, actual: &Value, at: &str) {
    if let Value::Object(fields) = example {
        for (key, value) in fields {
            let Some(found) = actual.get(key) else {
                panic!("{at}.{key} is documented but missing from {actual}");
            };
            assert_has_shape(value, found, &format!("{at}.{key}"));
        }
    }
}

/// Matches a request path against the collection's `url.path` template
/// (`{{version}}`, `{{page-id}}` placeholders), returning the placeholders'
/// values.
pub fn match_path(template: &Value, path: &str) -> Option<Vec<(String, String)>> {
    let template: Vec<&str> = template
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if template.len() != actual.len() {
        return None;
    }
    let mut vars = Vec::new();
    for (t, a) in template.iter().zip(&actual) {
        if let Some(name) = t.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
            vars.push((name.to_owned(), (*a).to_owned()));
        } else if t != a {
            return None;
        }
    }
    Some(vars)
}
