//! The queues: one view's conversations, every view's count, and the
//! filter and search form.

use crate::pages::layout::{error, page};
use crate::session::{self, Session};
use crate::state::ConsoleState;
use crate::views::{Filters, View, list};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use carekit_core::{ConversationRecord, Status};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// `GET /`: the agent's own queue.
pub(crate) async fn home(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match session::current(&state, &headers).await {
        Ok(_) => Redirect::to("/views/mine").into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /views/{view}`
pub(crate) async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    filters: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let session = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some(view) = View::from_slug(&slug) else {
        return error(StatusCode::NOT_FOUND, Some(&session), "no such view");
    };
    let filters = filters.map(|Query(f)| f).unwrap_or_default();
    let me = session.who.agent.id.to_string();
    let mut counts = Vec::with_capacity(View::ALL.len());
    let mut shown = Vec::new();
    for v in View::ALL {
        match list(&state.desk, v, &filters, &me).await {
            Ok(found) => {
                counts.push((v, found.len()));
                if v == view {
                    shown = found;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "console view failed");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(&session),
                    "the desk cannot be read now",
                );
            }
        }
    }
    let now = state.desk.clock().now();
    let crisis = state.desk.crisis_mode();
    let body = render(&session, view, &counts, &filters, &shown, now, crisis);
    Html(page(view.title(), Some(&session), Some(now), body).into_string()).into_response()
}

fn query_string(filters: &Filters) -> String {
    let pairs: Vec<(&str, &str)> = [
        ("channel", &filters.channel),
        ("status", &filters.status),
        ("priority", &filters.priority),
        ("tag", &filters.tag),
        ("team", &filters.team),
        ("q", &filters.q),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k, v.as_str()))
    .collect();
    if pairs.is_empty() {
        return String::new();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("?{}", encoded.join("&"))
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// "in 3m" / "4m ago" for a deadline, at render time (the script ticks it).
pub(crate) fn deadline(at: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let secs = (at - now).num_seconds();
    let abs = secs.unsigned_abs();
    let text = format!("{}m {}s", abs / 60, abs % 60);
    html! {
        time.sla datetime=(at.to_rfc3339()) data-deadline=(at.to_rfc3339()) class=[(secs < 0).then_some("overdue")] {
            @if secs >= 0 { "due in " (text) } @else { "overdue by " (text) }
        }
    }
}

fn status_text(status: &Status) -> String {
    match status {
        Status::Snoozed { until } => format!("snoozed until {}", until.format("%Y-%m-%d %H:%M")),
        other => other.as_str().to_owned(),
    }
}

fn render(
    session: &Session,
    view: View,
    counts: &[(View, usize)],
    filters: &Filters,
    shown: &[ConversationRecord],
    now: DateTime<Utc>,
    crisis: bool,
) -> Markup {
    let _ = session;
    let qs = query_string(filters);
    html! {
        nav.views #views data-live aria-label="Views" {
            @for (v, n) in counts {
                a href={ "/views/" (v.slug()) (qs) } class=[(*v == view).then_some("current")] data-view=(v.slug()) {
                    (v.title()) span.count data-count=(v.slug()) { (n) }
                }
            }
        }
        main #main {
            @if crisis {
                p.crisis #crisis-mode role="status" {
                    "Crisis mode is on: automated public replies are held back."
                }
            }
            h1 { (view.title()) }
            form.filters method="get" action={ "/views/" (view.slug()) } role="search" {
                input type="search" name="q" placeholder="Search" value=(filters.q) aria-label="Search";
                select name="channel" aria-label="Channel" {
                    option value="" { "Any channel" }
                    @for c in ["twitter", "facebook", "email", "sms"] {
                        option value=(c) selected[filters.channel == c] { (c) }
                    }
                }
                select name="status" aria-label="Status" {
                    option value="" { "Default status" }
                    @for s in ["open", "pending", "snoozed", "resolved", "closed"] {
                        option value=(s) selected[filters.status == s] { (s) }
                    }
                }
                select name="priority" aria-label="Priority" {
                    option value="" { "Any priority" }
                    @for p in ["low", "normal", "high", "urgent"] {
                        option value=(p) selected[filters.priority == p] { (p) }
                    }
                }
                input name="tag" placeholder="Tag" value=(filters.tag) aria-label="Tag";
                input name="team" placeholder="Team" value=(filters.team) aria-label="Team";
                button type="submit" { "Filter" }
            }
            div #list data-live {
                @if shown.is_empty() {
                    p.empty { "Nothing here." }
                } @else {
                    table.list {
                        thead { tr { th { "Customer" } th { "Last message" } th { "Channel" } th { "Status" } th { "SLA" } } }
                        tbody {
                            @for c in shown {
                                tr data-conversation=(c.id.to_string()) {
                                    td {
                                        a href={ "/cases/" (c.id) } { (customer_name(c)) }
                                        @if c.priority != carekit_core::Priority::Normal {
                                            " " span.badge { (format!("{:?}", c.priority).to_lowercase()) }
                                        }
                                    }
                                    td.text { (c.messages.last().map(|m| preview(&m.text)).unwrap_or_default()) }
                                    td { (c.channel.as_str()) " " span class={ "badge " (c.visibility.as_str()) } { (c.visibility.as_str()) } }
                                    td { (status_text(&c.status)) }
                                    td { @if let Some(at) = c.next_deadline { (deadline(at, now)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The first 140 characters of a text.
fn preview(text: &str) -> String {
    let mut out: String = text.chars().take(140).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The customer's name, or their first handle.
pub(crate) fn customer_name(c: &ConversationRecord) -> String {
    c.customer
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            c.customer
                .identities
                .first()
                .map(|i| format!("@{}", i.handle))
        })
        .unwrap_or_else(|| "customer".into())
}
