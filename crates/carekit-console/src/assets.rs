//! The script and stylesheet, built into the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The console's script.
const SCRIPT: &str = include_str!("../assets/console.js");
/// The console's stylesheet.
const STYLE: &str = include_str!("../assets/console.css");

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /assets/console.js`
pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /assets/console.css`
pub(crate) async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}
