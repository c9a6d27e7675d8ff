//! The console mounted in an app's own axum router, over the app's own
//! accounts (an `Accounts` of its own) and an in-memory desk on a fake
//! clock, driven without a socket.

mod app;

use app::{App, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use carekit_core::{AuditKind, ChannelKind};
use carekit_testing::{at, sample_event};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(app: &App, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn form(uri: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut r =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn an_app_mounts_the_console_over_its_own_accounts() {
    let app = app().await;
    let outcome = app
        .desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "t-1",
            "casey",
            "@acme <b>bold</b> claim & more",
            at("2026-03-02T08:59:00Z"),
        ))
        .await
        .unwrap();
    let case = outcome.conversation_id().unwrap();

    // The app's own route is still there.
    let (status, _, body) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));

    let (status, _, _) = send(&app, form("/login", None, "login=pat&password=wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = send(
        &app,
        form(
            "/login",
            None,
            &format!("login=pat&password={}", app::PASSWORD.replace(' ', "+")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    // Relaxed for tests only: no `Secure`, no `__Host-` prefix.
    assert!(set.starts_with("carekit_console=app-session-0;"), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    assert!(!set.contains("Secure"));
    let cookie = set.split(';').next().unwrap().to_owned();

    // The open view lists the case; its times come from the desk's clock.
    let (status, _, page) = send(&app, get("/views/open", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&case.to_string()));
    assert!(
        page.contains("content=\"2026-03-02T09:00:00+00:00\""),
        "desk-now"
    );
    assert!(page.contains("&lt;b&gt;bold&lt;/b&gt; claim &amp; more"));
    let at_csrf = page.find("name=\"csrf-token\" content=\"").unwrap() + 27;
    let csrf = page[at_csrf..at_csrf + 64].to_owned();

    // A note goes through the desk under the agent's id, never to X.
    let (status, _, _) = send(
        &app,
        form(
            &format!("/cases/{case}/note"),
            Some(&cookie),
            "text=called+them",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    let (status, _, _) = send(
        &app,
        form(
            &format!("/cases/{case}/note"),
            Some(&cookie),
            &format!("text=called+them&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let trail = app.desk.audit_trail(case).await.unwrap();
    assert!(trail.iter().any(|e| matches!(
        &e.kind,
        AuditKind::AgentNote { text, by: carekit_core::Actor::Agent(id) }
            if text == "called them" && *id == app.agent.id.to_string()
    )));
    app.desk.run_outbox_once().await.ok();
    assert!(app.twitter.sent().is_empty(), "a note is never sent");

    // Crisis mode shows on the queues.
    let (_, _, page) = send(&app, get("/views/crisis", &cookie)).await;
    assert!(!page.contains("crisis-mode"));
    app.desk.set_crisis_mode(true, None).await.unwrap();
    let (_, _, page) = send(&app, get("/views/crisis", &cookie)).await;
    assert!(page.contains("id=\"crisis-mode\""));

    // Signing out ends the session.
    let (status, _, _) = send(
        &app,
        form("/logout", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, headers, _) = send(&app, get("/views/open", &cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");
}
