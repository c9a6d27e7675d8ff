//! The JSON API agents and dashboards use, plus `/healthz` and `/metrics`.
//!
//! Every `/api` route but login and bootstrap needs `Authorization: Bearer
//! <an agent's token>` with the route's scope (see `people`); `/metrics` needs `Bearer <CAREKIT_METRICS_TOKEN>` when that secret is
//! set. Webhooks are authenticated by their platform signatures instead,
//! and health and metrics carry no customer data.

pub(crate) mod config_view;
pub(crate) mod events;
pub(crate) mod shared;

mod canned;
mod care;
mod page;

pub(crate) use shared::{ApiError, ApiState, parse_id};

use crate::metrics::Gauge;
use crate::people::Caller;
use axum::Json;
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use carekit_core::desk::{HandoffRequest, ReplyRequest};
use carekit_core::store::{ListPosition, SearchQuery};
use carekit_core::{
    AuditEntry, AuditKind, ChannelKind, ConversationFilter, ConversationId, ConversationRecord,
    DeliveryState, DeskError, Direction, Escalation, Message, Priority, Scope, Status, Visibility,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The longest range `/api/reports/summary` aggregates over.
const MAX_SUMMARY_DAYS: i64 = 400;
/// The range it aggregates over by default: the last 7 days.
const DEFAULT_SUMMARY_DAYS: i64 = 7;

pub(crate) fn router(state: ApiState) -> Router {
    use crate::people;
    let api = Router::new()
        .route("/api/conversations", get(list))
        .route("/api/conversations/{id}", get(detail))
        .route(
            "/api/conversations/{id}/messages/{message_id}/raw",
            get(raw_message),
        )
        .route("/api/conversations/{id}/reply", post(reply))
        .route("/api/conversations/{id}/handoff", post(handoff))
        .route("/api/conversations/{id}/resolve", post(resolve))
        .route("/api/conversations/{id}/status", post(set_status))
        .route("/api/conversations/{id}/assign", post(assign))
        .route("/api/conversations/{id}/tags", post(change_tag))
        .route("/api/conversations/{id}/notes", post(add_note))
        .route("/api/conversations/{id}/priority", post(set_priority))
        .route(
            "/api/conversations/{id}/messages/{message_id}/hide",
            post(care::hide),
        )
        .route(
            "/api/conversations/{id}/messages/{message_id}/unhide",
            post(care::unhide),
        )
        .route(
            "/api/conversations/{id}/messages/{message_id}/retry",
            post(care::retry),
        )
        .route(
            "/api/conversations/{id}/canned/{canned_id}",
            get(canned::preview),
        )
        .route("/api/canned", get(canned::list).post(canned::create))
        .route(
            "/api/canned/{id}",
            get(canned::read).put(canned::update).delete(canned::delete),
        )
        .route("/api/incidents/{id}/outreach", post(care::outreach))
        .route("/api/conversations/{id}/presence", post(events::presence))
        .route("/api/events", get(events::stream))
        .route("/api/customers/{id}/merge", post(merge_customers))
        .route("/api/crisis", get(crisis).post(set_crisis))
        .route("/api/reports/summary", get(summary))
        .route(
            "/api/agents",
            get(people::list_agents).post(people::create_agent),
        )
        .route("/api/agents/{id}/disable", post(people::disable_agent))
        .route("/api/agents/{id}/enable", post(people::enable_agent))
        .route("/api/agents/{id}/tokens", post(people::create_token))
        .route("/api/tokens", get(people::list_tokens))
        .route("/api/tokens/{id}/revoke", post(people::revoke_token))
        .route("/api/me", get(people::me))
        .route("/api/me/tokens", get(people::my_tokens))
        .route("/api/admin/config", get(config_view::show))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            people::authenticate,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/login", post(people::login))
        .route("/api/bootstrap", post(people::bootstrap))
        .merge(api)
        .with_state(state)
}

/// `GET /api/conversations` query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    channel: Option<String>,
    priority: Option<String>,
    /// `channel:handle`, e.g. `twitter:1111` or `sms:+14155552671`.
    customer: Option<String>,
    /// An agent's id.
    assignee: Option<String>,
    team: Option<String>,
    tag: Option<String>,
    /// `yes` or `no`.
    escalated: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD`: the next SLA deadline is before it.
    due_before: Option<String>,
    /// Search over customer handles and message text.
    q: Option<String>,
    /// Where the previous page ended (its `next_cursor`).
    cursor: Option<String>,
    limit: Option<String>,
}

/// A page holds this many conversations unless `limit` asks for fewer…
const DEFAULT_PAGE: usize = 50;
/// …and never more than this.
const MAX_PAGE: usize = 200;
/// The longest search query, in bytes.
const MAX_QUERY_BYTES: usize = 500;

/// One conversation in a list.
#[derive(Debug, Serialize)]
struct Summary {
    id: ConversationId,
    channel: ChannelKind,
    account: String,
    visibility: Visibility,
    status: &'static str,
    priority: Priority,
    customer: CustomerView,
    message_count: usize,
    opened_at: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
    first_human_response_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    next_deadline: Option<DateTime<Utc>>,
    linked: Vec<ConversationId>,
    tags: Vec<String>,
    assignee: Option<String>,
    team: Option<String>,
    escalation_level: u8,
    escalations: Vec<EscalationView>,
}

#[derive(Debug, Serialize)]
struct CustomerView {
    id: String,
    name: Option<String>,
    handles: Vec<String>,
}

#[derive(Debug, Serialize)]
struct EscalationView {
    at: DateTime<Utc>,
    policy: String,
    reason: String,
    explanation: String,
    level: u8,
    team: Option<String>,
}

fn escalations(trail: &[AuditEntry]) -> Vec<EscalationView> {
    trail
        .iter()
        .filter_map(|e| match &e.kind {
            AuditKind::Escalated(esc) => Some(view(e.at, esc)),
            _ => None,
        })
        .collect()
}

fn view(at: DateTime<Utc>, e: &Escalation) -> EscalationView {
    EscalationView {
        at,
        policy: e.policy.clone(),
        reason: e.reason.code().to_owned(),
        explanation: e.explanation.clone(),
        level: e.level,
        team: e.team.clone(),
    }
}

fn summary_of(c: &ConversationRecord, trail: &[AuditEntry]) -> Summary {
    Summary {
        id: c.id,
        channel: c.channel,
        account: c.account.clone(),
        visibility: c.visibility,
        status: c.status.as_str(),
        priority: c.priority,
        customer: CustomerView {
            id: c.customer.id.to_string(),
            name: c.customer.name.clone(),
            handles: c
                .customer
                .identities
                .iter()
                .map(|i| format!("{}:{}", i.channel, i.handle))
                .collect(),
        },
        message_count: c.messages.len(),
        opened_at: c.opened_at,
        first_response_at: c.first_response_at,
        first_human_response_at: c.first_human_response_at,
        resolved_at: c.resolved_at,
        next_deadline: c.next_deadline,
        linked: c.linked.clone(),
        tags: c.tags.iter().cloned().collect(),
        assignee: c.assignee.clone(),
        team: c.team.clone(),
        escalation_level: c.escalation_level,
        escalations: escalations(trail),
    }
}

fn bad_filter(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// The filter a list query asks for (its page aside).
fn list_filter(q: &ListQuery) -> Result<ConversationFilter, ApiError> {
    let mut filter = ConversationFilter::all();
    if let Some(status) = &q.status {
        filter = filter.with_status(status.clone());
    }
    if let Some(channel) = &q.channel {
        let kind: ChannelKind = channel
            .parse()
            .map_err(|_| bad_filter(format!("unknown channel {channel:?}")))?;
        filter = filter.with_channel(kind);
    }
    if let Some(priority) = &q.priority {
        let p: Priority = priority
            .parse()
            .map_err(|_| bad_filter(format!("unknown priority {priority:?}")))?;
        filter = filter.with_priority(p);
    }
    for (what, value) in [
        ("assignee", &q.assignee),
        ("team", &q.team),
        ("tag", &q.tag),
    ] {
        if let Some(v) = value
            && (v.is_empty() || v.len() > 128)
        {
            return Err(bad_filter(format!("{what} is 1 to 128 characters")));
        }
    }
    if let Some(agent) = &q.assignee {
        filter = filter.with_assignee(agent.clone());
    }
    if let Some(team) = &q.team {
        filter = filter.with_team(team.clone());
    }
    if let Some(tag) = &q.tag {
        filter = filter.with_tag(tag.clone());
    }
    if let Some(escalated) = &q.escalated {
        filter = filter.with_escalated(match escalated.as_str() {
            "yes" | "true" => true,
            "no" | "false" => false,
            _ => return Err(bad_filter("escalated is yes or no")),
        });
    }
    if let Some(due) = &q.due_before {
        filter = filter.with_due_before(instant("due_before", due, false)?);
    }
    if let Some(text) = &q.q {
        if text.len() > MAX_QUERY_BYTES {
            return Err(bad_filter(format!("q is at most {MAX_QUERY_BYTES} bytes")));
        }
        if !text.trim().is_empty() {
            filter = filter.with_search(SearchQuery::new(text.clone()));
        }
    }
    Ok(filter)
}

async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| bad_filter(e.body_text()))?;
    let limit = match &q.limit {
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad_filter("limit is a number above 0"))?
            .min(MAX_PAGE),
        None => DEFAULT_PAGE,
    };
    let mut filter = list_filter(&q)?;
    if let Some(customer) = &q.customer {
        let bad = || bad_filter(format!("customer must be channel:handle, got {customer:?}"));
        let (channel, handle) = customer.split_once(':').ok_or_else(bad)?;
        let kind: ChannelKind = channel.parse().map_err(|_| bad())?;
        match state
            .desk
            .store()
            .customer_by_identity(kind, handle)
            .await
            .map_err(DeskError::from)?
        {
            Some(c) => filter = filter.with_customer(c.id),
            None => return Ok(Json(json!({ "conversations": [], "next_cursor": null }))),
        }
    }
    if let Some(cursor) = &q.cursor {
        let position = page::decode(cursor, &filter)?;
        filter = filter.after(position);
    }
    // One more than the page: whether there is a next page.
    let mut records = state
        .desk
        .conversations(&filter.clone().with_limit(limit + 1))
        .await?;
    let more = records.len() > limit;
    records.truncate(limit);
    let next_cursor = match records.last() {
        Some(last) if more => Some(page::encode(ListPosition::of(last), &filter)),
        _ => None,
    };
    let mut out = Vec::with_capacity(records.len());
    for c in &records {
        let trail = state.desk.audit_trail(c.id).await?;
        out.push(summary_of(c, &trail));
    }
    Ok(Json(
        json!({ "conversations": out, "next_cursor": next_cursor }),
    ))
}

#[derive(Debug, Serialize)]
struct MessageView<'a> {
    id: String,
    direction: Direction,
    visibility: Visibility,
    /// The text the desk works with (for email, the new words only).
    text: &'a str,
    /// The whole text as the customer sent it, when `text` is an extract.
    original_text: Option<&'a str>,
    at: DateTime<Utc>,
    /// The time the platform stated, when the desk did not take it as `at`.
    platform_at: Option<DateTime<Utc>>,
    /// Whether the platform's raw form is kept (`…/messages/{id}/raw`).
    has_raw: bool,
    author: String,
    delivery: Option<DeliveryState>,
}

fn message_view(m: &Message) -> MessageView<'_> {
    MessageView {
        id: m.id.to_string(),
        direction: m.direction,
        visibility: m.visibility,
        text: &m.text,
        original_text: m.original_text.as_deref(),
        at: m.at,
        platform_at: m.platform_at,
        has_raw: m.raw.is_some(),
        author: format!("{:?}", m.author),
        delivery: m.delivery,
    }
}

async fn detail(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = caller.readable(&id)?;
    let c = state.desk.conversation(id).await?;
    let trail = state.desk.audit_trail(id).await?;
    let messages: Vec<_> = c.messages.iter().map(message_view).collect();
    Ok(Json(json!({
        "conversation": summary_of(&c, &trail),
        "messages": messages,
        "audit": trail,
    })))
}

/// `GET /api/conversations/{id}/messages/{message_id}/raw`: the platform's
/// raw form of one message (an email's RFC 5322 source) as `text/plain`,
/// kept off the JSON views so lists stay small.
async fn raw_message(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = caller.readable(&id)?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no message {message_id} in conversation {id}"),
        )
    };
    let message_id: carekit_core::MessageId = message_id.parse().map_err(|_| not_found())?;
    let c = state.desk.conversation(id).await?;
    let message = c
        .messages
        .iter()
        .find(|m| m.id == message_id)
        .ok_or_else(not_found)?;
    let raw = message.raw.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("message {message_id} has no raw form"),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            // Never rendered as HTML, whatever the customer sent.
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        raw,
    )
        .into_response())
}

/// `POST …/reply`: `text`, or `canned` (a canned response's id) whose
/// text is rendered for the conversation and the caller.
#[derive(Debug, Deserialize)]
struct ReplyBody {
    text: Option<String>,
    canned: Option<String>,
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
    visibility: Option<Visibility>,
}

async fn reply(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<ReplyBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_id(&id)?;
    let text = match (body.text, body.canned) {
        (Some(text), None) => text,
        (None, Some(canned_id)) => {
            let conversation = state.desk.conversation(id).await?;
            canned::render_for(&state, &canned_id, &conversation, &caller).await?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a reply has either text or canned (a canned response's id)",
            ));
        }
    };
    let mut request = ReplyRequest::agent(caller.agent.id.to_string(), text);
    if let Some(v) = body.visibility {
        request = request.with_visibility(v);
    }
    let message_id = state.desk.reply(id, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "message_id": message_id.to_string(), "status": "queued" })),
    ))
}

/// `POST …/handoff`
#[derive(Debug, Deserialize)]
struct HandoffBody {
    to: ChannelKind,
    public_text: String,
    private_text: Option<String>,
    /// The customer's handle on the private channel (a phone number for
    /// SMS, an address for email) when the desk does not know it yet.
    recipient: Option<String>,
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
}

async fn handoff(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<HandoffBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_id(&id)?;
    // Writing to a recipient the desk does not know (any phone number, any
    // address) as the brand needs its own scope.
    if body
        .recipient
        .as_ref()
        .is_some_and(|h| !h.trim().is_empty())
    {
        caller.require(carekit_core::Scope::Handoff)?;
    }
    let mut request = HandoffRequest::new(body.to, body.public_text, caller.actor());
    if let Some(text) = body.private_text {
        request = request.with_private_text(text);
    }
    if let Some(handle) = body.recipient.filter(|h| !h.trim().is_empty()) {
        request = request.with_recipient(carekit_core::Identity::new(body.to, handle.trim()));
    }
    let outcome = state.desk.handoff(id, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "public_reply": outcome.public_reply.to_string(),
            "private_conversation": outcome.private_conversation.to_string(),
            "private_message": outcome.private_message.map(|m| m.to_string()),
        })),
    ))
}

/// `POST /api/customers/{keep}/merge`
#[derive(Debug, Deserialize)]
struct MergeBody {
    /// The customer merged into the one in the path.
    absorb: String,
    /// Why (required; kept in the audit trail of every conversation).
    reason: String,
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
}

/// Joins two customers a person knows are one (after a 409 naming the
/// owner of an identity): audited on every conversation of both.
async fn merge_customers(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(keep): Path<String>,
    Json(body): Json<MergeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let parse = |id: &str| {
        id.parse::<carekit_core::CustomerId>()
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no customer {id}")))
    };
    let (keep, absorb) = (parse(&keep)?, parse(&body.absorb)?);
    let outcome = state
        .desk
        .merge_customers(keep, absorb, caller.actor(), body.reason)
        .await?;
    Ok(Json(json!({
        "kept": outcome.kept.id.to_string(),
        "identities": outcome
            .kept
            .identities
            .iter()
            .map(|i| format!("{}:{}", i.channel, i.handle))
            .collect::<Vec<_>>(),
        "moved": outcome.moved.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

/// `POST …/resolve`
#[derive(Debug, Default, Deserialize)]
struct ResolveBody {
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
}

async fn resolve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    // A body is still parsed (a malformed one is refused as before); its
    // `agent` is accepted from older clients and ignored.
    _body: Option<Json<ResolveBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    state.desk.resolve(id, caller.actor()).await?;
    Ok(Json(json!({ "id": id.to_string(), "status": "resolved" })))
}

/// `POST …/status`: the new status, as the conversation shows it
/// (`{"status": "pending"}`, `{"status": "snoozed", "until": "…"}`,
/// `{"status": "open"}` to reopen).
async fn set_status(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(status): Json<Status>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    if let Status::Snoozed { until } = status
        && until <= state.desk.clock().now()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "snooze until a time in the future",
        ));
    }
    state.desk.set_status(id, status, caller.actor()).await?;
    Ok(Json(json!({ "id": id.to_string(), "status": status })))
}

/// `POST …/assign` body: the agent (an agent's id) and/or the team; both
/// absent unassigns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    agent: Option<String>,
    team: Option<String>,
}

/// `POST …/assign`: taking a conversation oneself needs `reply`; giving it
/// to someone else, to a team, or taking it away needs `manage`.
async fn assign(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<AssignBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let own = caller.agent.id.to_string();
    let to_self = body.agent.as_deref() == Some(own.as_str()) && body.team.is_none();
    if !to_self {
        caller.require(Scope::Manage)?;
    }
    for name in body.agent.iter().chain(body.team.iter()) {
        check_name("an agent or team", name)?;
    }
    state
        .desk
        .assign(id, body.agent.clone(), body.team.clone(), caller.actor())
        .await?;
    Ok(Json(
        json!({ "id": id.to_string(), "agent": body.agent, "team": body.team }),
    ))
}

/// A name a person types for a tag, team or agent: 1 to 128 characters,
/// no control characters.
fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what} is 1 to 128 characters without control characters"),
        ));
    }
    Ok(())
}

/// `POST …/tags` body: the tag, added unless `remove` is true.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    tag: String,
    #[serde(default)]
    remove: bool,
}

/// `POST …/tags`: adds or removes one tag, audited under the caller.
async fn change_tag(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<TagBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    check_name("a tag", &body.tag)?;
    state
        .desk
        .change_tag(id, body.tag.clone(), !body.remove, Some(caller.actor()))
        .await?;
    Ok(Json(
        json!({ "id": id.to_string(), "tag": body.tag, "added": !body.remove }),
    ))
}

/// `POST …/notes` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// `POST …/notes`: a private note, shown to agents in the trail, never sent.
async fn add_note(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<NoteBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_id(&id)?;
    state.desk.add_note(id, body.text, caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id.to_string() }))))
}

/// `POST …/priority` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityBody {
    priority: Priority,
    reason: String,
}

/// `POST …/priority`: sets the priority (which changes the SLA targets),
/// with a reason, audited under the caller.
async fn set_priority(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<PriorityBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    if body.reason.trim().is_empty() || body.reason.len() > 1_000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a priority change needs a reason (at most 1,000 bytes)",
        ));
    }
    state
        .desk
        .set_priority_by(id, body.priority, body.reason, Some(caller.actor()))
        .await?;
    Ok(Json(
        json!({ "id": id.to_string(), "priority": body.priority }),
    ))
}

/// `POST /api/crisis` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrisisBody {
    /// On or off.
    on: bool,
    /// Replaces the stored holding statement when given (empty clears it).
    holding_statement: Option<String>,
}

/// `GET /api/crisis`: whether the desk is in crisis mode, as this worker
/// last read it from the store (at most `SHARED_STATE_MAX_AGE` old), and
/// the crisis detector's incidents, newest first, each with its
/// conversations (the ids `POST /api/incidents/{id}/outreach` takes).
async fn crisis(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let switch = state.desk.crisis_switch();
    let mut incidents = state
        .insight
        .crisis_detector()
        .map(|detector| detector.incidents())
        .unwrap_or_default();
    incidents.sort_by(|a, b| (b.opened_at, &b.id).cmp(&(a.opened_at, &a.id)));
    let incidents: Vec<serde_json::Value> = incidents
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "channel": i.key.channel,
                "topic": i.key.topic,
                "open": i.is_open(),
                "opened_at": i.opened_at,
                "closed_at": i.closed_at,
                "opening_negative": i.opening_negative,
                "peak_negative": i.peak_negative,
                "conversations": i.conversations.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "crisis_mode": state.desk.crisis_mode(),
        "holding_statement": switch.holding_statement(),
        "incidents": incidents,
    }))
}

/// `POST /api/crisis`: switches crisis mode for every worker of the desk
/// (stored; the others follow within `SHARED_STATE_MAX_AGE`). Public
/// automated replies are held back while it is on.
async fn set_crisis(
    State(state): State<ApiState>,
    Json(body): Json<CrisisBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if body
        .holding_statement
        .as_ref()
        .is_some_and(|t| t.len() > carekit_core::domain::MAX_TEXT_BYTES)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "holding_statement is longer than a message may be",
        ));
    }
    state
        .desk
        .set_crisis_mode(body.on, body.holding_statement)
        .await?;
    Ok(crisis(State(state)).await)
}

/// `GET /api/reports/summary?from=&to=` query.
#[derive(Debug, Default, Deserialize)]
struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
}

/// An instant from a query parameter: RFC 3339, or a date (`2026-03-02`)
/// meaning its start (`end_of_day`: its end) in UTC.
fn instant(name: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .map(|d| d + Duration::days(i64::from(end_of_day)))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date"),
            )
        })
}

/// Aggregates over the conversations opened in `[from, to)`, counted by the
/// store: by default the last 7 days of the desk's clock.
async fn summary(
    State(state): State<ApiState>,
    Query(q): Query<SummaryQuery>,
) -> Result<Response, ApiError> {
    let now = state.desk.clock().now();
    let to = match &q.to {
        Some(v) => instant("to", v, true)?,
        None => now,
    };
    let from = match &q.from {
        Some(v) => instant("from", v, false)?,
        None => to - Duration::days(DEFAULT_SUMMARY_DAYS),
    };
    if from >= to {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "from must be before to",
        ));
    }
    if to - from > Duration::days(MAX_SUMMARY_DAYS) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the range is at most {MAX_SUMMARY_DAYS} days"),
        ));
    }
    let stats = state
        .desk
        .store()
        .conversation_stats(from, to)
        .await
        .map_err(DeskError::from)?;
    Ok(Json(stats).into_response())
}

/// The outbox states that count as waiting.
const WAITING: [DeliveryState; 2] = [DeliveryState::Queued, DeliveryState::Sending];
/// The states `/metrics` counts: waiting, and failed for a person to see
/// (sent items, which grow with history, are not counted).
const OUTBOX_GAUGED: [DeliveryState; 4] = [
    DeliveryState::Queued,
    DeliveryState::Sending,
    DeliveryState::Failed,
    DeliveryState::DeadLettered,
];

async fn healthz(State(state): State<ApiState>) -> Response {
    let store_ok = state.desk.store().value("healthz").await.is_ok();
    let channels: Vec<_> = state
        .desk
        .channel_health()
        .into_iter()
        .map(|(kind, health)| match health {
            carekit_core::desk::ChannelHealth::Degraded {
                reason,
                since,
                retry_at,
            } => json!({"channel": kind, "status": "degraded", "reason": reason, "since": since, "retry_at": retry_at}),
            _ => json!({"channel": kind, "status": "ok"}),
        })
        .collect();
    // Dead letters degrade the desk without stopping it: every other event
    // is served, and an operator has events to look at and replay.
    let inbox = state.inbox.as_ref().map(|inbox| {
        let health = inbox.health();
        json!({
            "status": if health.dead_letters > 0 { "degraded" } else { "ok" },
            "backlog": health.backlog,
            "dead_letters": health.dead_letters,
            "last_dead_letter_at": health.last_dead_letter_at,
        })
    });
    let degraded = channels.iter().any(|c| c["status"] == "degraded")
        || inbox.as_ref().is_some_and(|i| i["status"] == "degraded");
    let status = if !store_ok {
        "unavailable"
    } else if degraded {
        "degraded"
    } else {
        "ok"
    };
    let code = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": status,
        "store": if store_ok { "ok" } else { "unreachable" },
        "crisis_mode": state.desk.crisis_mode(),
        "channels": channels,
    });
    if let Some(inbox) = inbox {
        body["inbox"] = inbox;
    }
    (code, Json(body)).into_response()
}

async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token
        && !token.allows(&headers)
    {
        return ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
            .into_response();
    }
    let mut gauges = Vec::new();
    // Counted by the store: a scrape costs the same with 20,000 items
    // waiting as with 20, and never reads the ones long sent.
    if let Ok(counts) = state.desk.store().outbox_counts(&OUTBOX_GAUGED).await {
        let waiting: u64 = counts
            .iter()
            .filter(|c| WAITING.contains(&c.state))
            .map(|c| c.count)
            .sum();
        gauges.push(Gauge {
            name: "carekit_outbox_depth",
            help: "Outbound messages queued or being sent.",
            labels: Vec::new(),
            value: waiting as f64,
        });
        for c in counts {
            gauges.push(Gauge {
                name: "carekit_outbox_items",
                help: "Outbound messages waiting or needing a person, by delivery state.",
                labels: vec![("state", c.state.as_str().to_owned())],
                value: c.count as f64,
            });
        }
    }
    let health = state.desk.channel_health();
    for kind in state.desk.channel_kinds() {
        let degraded = health.iter().any(|(k, h)| {
            *k == kind && matches!(h, carekit_core::desk::ChannelHealth::Degraded { .. })
        });
        gauges.push(Gauge {
            name: "carekit_channel_degraded",
            help: "1 while a channel's credentials fail and its sends are paused.",
            labels: vec![("channel", kind.to_string())],
            value: if degraded { 1.0 } else { 0.0 },
        });
    }
    if let Some(inbox) = &state.inbox {
        gauges.push(Gauge {
            name: "carekit_inbox_backlog",
            help: "Webhook events journaled (acknowledged) and not yet ingested.",
            labels: Vec::new(),
            value: inbox.backlog() as f64,
        });
    }
    gauges.push(Gauge {
        name: "carekit_crisis_mode",
        help: "1 while the desk is in crisis mode.",
        labels: Vec::new(),
        value: if state.desk.crisis_mode() { 1.0 } else { 0.0 },
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&gauges),
    )
        .into_response()
}
