//! One case: every message the customer sent and was sent across the
//! linked conversations in one timeline, private notes among them, the SLA
//! clock, the audit trail, the customer, who else is viewing, and the
//! actions.

use crate::pages::inbox::{customer_name, deadline};
use crate::pages::layout::{display_name, error, page};
use crate::session::{self, Session};
use crate::state::ConsoleState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use carekit_core::{
    AuditEntry, AuditKind, Author, ChannelKind, ConversationFilter, ConversationId,
    ConversationRecord, DeskError, Direction, Message, Scope, Visibility,
};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// The snoozes the status form offers, in hours.
pub(crate) const SNOOZE_HOURS: [i64; 4] = [1, 4, 24, 72];

/// Earlier conversations of the customer shown at most.
const EARLIER: usize = 20;

/// What the timeline holds.
enum Entry<'a> {
    Message(&'a ConversationRecord, &'a Message),
    Note {
        at: DateTime<Utc>,
        text: &'a str,
        by: String,
    },
}

impl Entry<'_> {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Entry::Message(_, m) => m.at,
            Entry::Note { at, .. } => *at,
        }
    }
}

/// The conversation a path names: `None` when it is not one.
pub(crate) fn parse_id(id: &str) -> Option<ConversationId> {
    id.parse().ok()
}

/// `GET /cases/{id}`
pub(crate) async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if !session.who.may(Scope::Read) {
        return error(
            StatusCode::FORBIDDEN,
            Some(&session),
            "this session cannot read conversations",
        );
    }
    let Some(id) = parse_id(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            Some(&session),
            "no such conversation",
        );
    };
    match render(&state, &session, id).await {
        Ok(body) => {
            Html(page("Case", Some(&session), Some(state.desk.clock().now()), body).into_string())
                .into_response()
        }
        Err(DeskError::UnknownConversation(_)) => error(
            StatusCode::NOT_FOUND,
            Some(&session),
            "no such conversation",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "console case failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&session),
                "the desk cannot be read now",
            )
        }
    }
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    id: ConversationId,
) -> Result<Markup, DeskError> {
    let desk = &state.desk;
    let main = desk.conversation(id).await?;
    let mut conversations = vec![main.clone()];
    for linked in &main.linked {
        if let Ok(c) = desk.conversation(*linked).await {
            conversations.push(c);
        }
    }
    let mut trails: Vec<AuditEntry> = Vec::new();
    for c in &conversations {
        trails.extend(desk.audit_trail(c.id).await?);
    }
    trails.sort_by_key(|e| e.at);
    let agents = state.accounts.agents().await.unwrap_or_default();
    let name_of = |id: &str| -> String {
        agents
            .iter()
            .find(|a| a.id.to_string() == id)
            .map(|a| display_name(a).to_owned())
            .unwrap_or_else(|| id.to_owned())
    };
    let mut entries: Vec<Entry<'_>> = conversations
        .iter()
        .flat_map(|c| c.messages.iter().map(move |m| Entry::Message(c, m)))
        .collect();
    for e in &trails {
        if let AuditKind::AgentNote { text, by } = &e.kind {
            entries.push(Entry::Note {
                at: e.at,
                text,
                by: actor_name(by, &name_of),
            });
        }
    }
    entries.sort_by_key(Entry::at);
    let earlier = desk
        .conversations(
            &ConversationFilter::all()
                .with_customer(main.customer.id)
                .with_limit(EARLIER + conversations.len()),
        )
        .await?;
    let now = desk.clock().now();
    let csrf = session.csrf();
    let limit = (main.channel == ChannelKind::Twitter && main.visibility == Visibility::Public)
        .then_some(carekit_twitter::length::MAX_WEIGHTED_LENGTH);
    Ok(html! {
        main #main {
            div #case.case data-conversation=(main.id.to_string()) {
                section.timeline-pane {
                    h1 { (customer_name(&main)) " " span.badge { (main.channel.as_str()) } }
                    div #case-state data-live {
                        p.meta {
                            "Status: " strong #case-status { (main.status.as_str()) }
                            " · Priority: " (format!("{:?}", main.priority).to_lowercase())
                            " · Assigned: " (main.assignee.as_deref().map(&name_of).unwrap_or_else(|| "no one".into()))
                            @if let Some(at) = main.next_deadline { " · SLA: " (deadline(at, now)) }
                        }
                    }
                    ol #timeline.timeline data-live aria-live="polite" {
                        @for entry in &entries { (timeline_entry(entry, &name_of)) }
                    }
                    (actions(session, &main, &csrf, limit))
                }
                aside {
                    section aria-label="Who else is viewing" {
                        h2 { "Viewing" }
                        ul #viewers {}
                        ul #agent-names hidden {
                            @for a in &agents { li data-id=(a.id.to_string()) { (display_name(a)) } }
                        }
                    }
                    section #customer data-live {
                        h2 { "Customer" }
                        p { (customer_name(&main)) }
                        ul.identities {
                            @for i in &main.customer.identities {
                                li { span.badge { (i.channel.as_str()) } " " (i.handle) }
                            }
                        }
                        h3 { "Conversations" }
                        ul #earlier {
                            @for c in earlier.iter().take(EARLIER + conversations.len()) {
                                li {
                                    a href={ "/cases/" (c.id) } { (c.channel.as_str()) " · " (c.visibility.as_str()) }
                                    " · " (c.status.as_str()) " · " (c.opened_at.format("%Y-%m-%d"))
                                    @if c.id == main.id { " (this one)" }
                                }
                            }
                        }
                    }
                    section #audit data-live {
                        h2 { "Audit trail" }
                        ol.audit {
                            @for e in &trails {
                                li { span.meta { (e.at.format("%Y-%m-%d %H:%M:%S")) } " " (audit_text(&e.kind, &name_of)) }
                            }
                        }
                    }
                }
            }
        }
    })
}

fn actor_name(actor: &carekit_core::Actor, name_of: &dyn Fn(&str) -> String) -> String {
    match actor {
        carekit_core::Actor::Agent(id) => name_of(id),
        other => format!("{other:?}"),
    }
}

fn author_name(author: &Author, name_of: &dyn Fn(&str) -> String) -> String {
    match author {
        Author::Customer(_) => "customer".into(),
        Author::Agent(id) => name_of(id),
        Author::Bot => "automation".into(),
        Author::Brand => "brand".into(),
        _ => "participant".into(),
    }
}

fn timeline_entry(entry: &Entry<'_>, name_of: &dyn Fn(&str) -> String) -> Markup {
    match entry {
        Entry::Message(c, m) => {
            let outbound = m.direction == Direction::Outbound;
            html! {
                li class=(if outbound { "message outbound" } else { "message inbound" })
                    data-message=(m.id.to_string()) data-visibility=(m.visibility.as_str()) {
                    div.meta {
                        span class={ "badge " (m.visibility.as_str()) } { (m.visibility.as_str()) }
                        " " span.badge { (c.channel.as_str()) }
                        " " (author_name(&m.author, name_of))
                        " · " time datetime=(m.at.to_rfc3339()) { (m.at.format("%Y-%m-%d %H:%M:%S")) }
                        @if let Some(state) = m.delivery {
                            " · " span class={ "badge delivery " (state.as_str()) } data-delivery=(state.as_str()) { (state.as_str()) }
                            @if let Some(reason) = &m.delivery_error { " " span.error { (reason) } }
                        }
                    }
                    div.text { (m.text) }
                }
            }
        }
        Entry::Note { at, text, by } => html! {
            li.internal.note {
                div.meta {
                    span.badge.note { "private note" } " " (by)
                    " · " time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S")) }
                }
                div.text { (text) }
            }
        },
    }
}

/// One line of the audit trail: what happened and, for a person's action,
/// who (by name).
fn audit_text(kind: &AuditKind, name_of: &dyn Fn(&str) -> String) -> String {
    let by = |actor: &carekit_core::Actor| actor_name(actor, name_of);
    match kind {
        AuditKind::AgentNote { by: who, .. } => format!("private note by {}", by(who)),
        AuditKind::StatusChanged { from, to, by: who } => {
            format!("status {} → {} by {}", from.as_str(), to.as_str(), by(who))
        }
        AuditKind::Assigned {
            agent,
            team,
            by: who,
        } => {
            let to = match (agent, team) {
                (Some(a), Some(t)) => format!("{} ({t})", name_of(a)),
                (Some(a), None) => name_of(a),
                (None, Some(t)) => format!("team {t}"),
                (None, None) => "no one".into(),
            };
            format!("assigned to {to} by {}", by(who))
        }
        AuditKind::HandedOff {
            channel, by: who, ..
        } => {
            format!("handed off to {} by {}", channel.as_str(), by(who))
        }
        AuditKind::Delivery { state, error, .. } => match error {
            Some(e) => format!("delivery: {} ({e})", state.as_str()),
            None => format!("delivery: {}", state.as_str()),
        },
        AuditKind::Escalated(e) => format!("escalated to level {}: {}", e.level, e.explanation),
        AuditKind::Tagged { tag, added, .. } => {
            format!("tag {tag} {}", if *added { "added" } else { "removed" })
        }
        AuditKind::PriorityChanged { from, to, .. } => format!(
            "priority {} → {}",
            format!("{from:?}").to_lowercase(),
            format!("{to:?}").to_lowercase()
        ),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "change".into())
            .replace('_', " "),
    }
}

fn actions(session: &Session, c: &ConversationRecord, csrf: &str, limit: Option<usize>) -> Markup {
    let may_reply = session.who.may(Scope::Reply);
    let base = format!("/cases/{}", c.id);
    html! {
        @if may_reply {
            div.actions {
                form #reply method="post" action={ (base) "/reply" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="reply-text" { "Reply (" (c.visibility.as_str()) ", " (c.channel.as_str()) ")" }
                    textarea #reply-text name="text" data-limit=[limit] required {}
                    p { span #reply-counter aria-live="polite" {} " " button #reply-send type="submit" { "Send reply" } }
                }
                form #note method="post" action={ (base) "/note" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="note-text" { "Private note (never sent)" }
                    textarea #note-text name="text" required {}
                    p { button #note-add type="submit" { "Add note" } }
                }
                form #handoff method="post" action={ (base) "/handoff" } {
                    input type="hidden" name="csrf" value=(csrf);
                    fieldset {
                        legend { "Hand off to a private channel" }
                        label { "To " select #handoff-to name="to" {
                            option value="sms" { "SMS" }
                            option value="twitter" { "X direct message" }
                            option value="email" { "Email" }
                            option value="facebook" { "Messenger" }
                        } }
                        label { " Recipient " input #handoff-recipient name="recipient" placeholder="+14155552671 or address"; }
                        label for="handoff-public" { "Public answer" }
                        textarea #handoff-public name="public_text" required { "We've sent you a private message." }
                        label for="handoff-private" { "Private message" }
                        textarea #handoff-private name="private_text" {}
                        p { button #handoff-send type="submit" { "Hand off" } }
                    }
                }
                div.row {
                    form #assign method="post" action={ (base) "/assign" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button #assign-me type="submit" { "Assign to me" }
                    }
                    form #resolve method="post" action={ (base) "/resolve" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button #resolve-send type="submit" { "Resolve" }
                    }
                    form #status method="post" action={ (base) "/status" } {
                        input type="hidden" name="csrf" value=(csrf);
                        select #status-to name="status" aria-label="New status" {
                            option value="pending" { "Pending (waiting on the customer)" }
                            option value="snooze" { "Snooze" }
                            option value="open" { "Reopen" }
                        }
                        select #status-hours name="hours" aria-label="Snooze for" {
                            @for h in SNOOZE_HOURS {
                                option value=(h) { (h) " h" }
                            }
                        }
                        button #status-send type="submit" { "Set status" }
                    }
                }
            }
        }
    }
}
