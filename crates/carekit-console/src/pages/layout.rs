//! The page around every view: head, stylesheet and script, the signed-in
//! agent, and the CSRF token scripts send.

use crate::session::Session;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// A whole page.
///
/// `now` is the desk's clock (pages with deadlines): the script counts SLA deadlines from it, not
/// from the browser's clock (which may differ, or the desk's be virtual).
pub(crate) fn page(
    title: &str,
    session: Option<&Session>,
    now: Option<chrono::DateTime<chrono::Utc>>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · carekit" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
                @if let Some(s) = session {
                    meta name="csrf-token" content=(s.csrf());
                }
                @if let Some(now) = now {
                    meta name="desk-now" content=(now.to_rfc3339());
                }
            }
            @match session {
                Some(s) => body data-agent=(s.who.agent.id.to_string()) {
                    header.top {
                        span.brand { a href="/" { "carekit" } }
                        span #signed-in { (display_name(&s.who.agent)) " (" (s.who.agent.role.as_str()) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf());
                            button type="submit" { "Sign out" }
                        }
                    }
                    (body)
                },
                None => body { (body) },
            }
        }
    }
}

/// The name to show for an agent.
pub(crate) fn display_name(agent: &carekit_core::AgentAccount) -> &str {
    if agent.name.trim().is_empty() {
        &agent.login
    } else {
        &agent.name
    }
}

/// An error page with `status`.
pub(crate) fn error(status: StatusCode, session: Option<&Session>, message: &str) -> Response {
    let body = html! {
        main #main {
            h1 { (status.canonical_reason().unwrap_or("Error")) }
            p.error #error { (message) }
            p { a href="/" { "Back to the console" } }
        }
    };
    (
        status,
        Html(page("Error", session, None, body).into_string()),
    )
        .into_response()
}
