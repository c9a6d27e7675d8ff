//! How long the console takes to answer its two heaviest pages over an
//! in-memory desk: a queue (every view's count, so seven store queries, and
//! a page of conversations) and a case, with `CONVERSATIONS` open.
//!
//! ```text
//! cargo bench -p carekit-console --bench render
//! ```

#[path = "../tests/app/mod.rs"]
mod app;

use axum::body::Body;
use axum::http::{Request, header};
use carekit_core::ChannelKind;
use carekit_testing::{at, sample_event};
use http_body_util::BodyExt;
use std::time::Instant;
use tower::ServiceExt;

const CONVERSATIONS: usize = 200;
const ROUNDS: usize = 50;

async fn fetch(router: &axum::Router, uri: &str, cookie: &str) -> usize {
    let request = Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert!(
        response.status().is_success(),
        "{uri}: {}",
        response.status()
    );
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = app::app().await;
        let mut case = None;
        for i in 0..CONVERSATIONS {
            let outcome = app
                .desk
                .ingest(sample_event(
                    ChannelKind::Twitter,
                    &format!("t-{i}"),
                    &format!("customer{i}"),
                    "@acme my order is late <again> & I am \"upset\"",
                    at("2026-03-02T08:00:00Z"),
                ))
                .await
                .unwrap();
            case = outcome.conversation_id();
        }
        let login = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "login=pat&password={}",
                app::PASSWORD.replace(' ', "+")
            )))
            .unwrap();
        let response = app.router.clone().oneshot(login).await.unwrap();
        let cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let case = format!("/cases/{}", case.unwrap());
        for (name, uri) in [
            ("queue /views/open", "/views/open"),
            ("case", case.as_str()),
        ] {
            let bytes = fetch(&app.router, uri, &cookie).await;
            let started = Instant::now();
            for _ in 0..ROUNDS {
                std::hint::black_box(fetch(&app.router, uri, &cookie).await);
            }
            let each = started.elapsed() / ROUNDS as u32;
            println!(
                "{name}: {:.2} ms per page ({bytes} bytes, {CONVERSATIONS} open conversations)",
                each.as_secs_f64() * 1_000.0
            );
        }
    });
}
