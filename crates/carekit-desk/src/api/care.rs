//! Care actions on one message or one incident, beside the conversation
//! routes: hiding a public customer message (only when `[desk] allow_hide`
//! is on, with a reason), sending a failed reply again (only where the
//! outbox's trust rules allow), and outreach to an incident's customers.
//! Each names the authenticated agent in the audit trail.

use super::shared::{ApiError, ApiState, parse_id};
use crate::people::Caller;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use carekit_core::desk::HideRequest;
use carekit_core::{ConversationId, DeliveryState, MessageId};
use carekit_insight::Outreach;
use serde::Deserialize;
use serde_json::json;

/// The longest reason a hide keeps, in bytes.
const MAX_REASON_BYTES: usize = 1_000;

fn parse_message(id: ConversationId, message_id: &str) -> Result<MessageId, ApiError> {
    message_id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no message {message_id} in conversation {id}"),
        )
    })
}

/// `POST …/messages/{message_id}/hide` and `…/unhide` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HideBody {
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(default, rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
    reason: String,
}

async fn set_hidden(
    state: &ApiState,
    caller: &Caller,
    (id, message_id): (String, String),
    reason: String,
    hidden: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let message_id = parse_message(id, &message_id)?;
    if reason.trim().is_empty() || reason.len() > MAX_REASON_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hiding or showing a message needs a reason (at most 1,000 bytes)",
        ));
    }
    let request = if hidden {
        HideRequest::new(caller.actor(), reason)
    } else {
        HideRequest::unhide(caller.actor(), reason)
    };
    state.desk.hide(id, message_id, request).await?;
    Ok(Json(json!({
        "id": id.to_string(),
        "message_id": message_id.to_string(),
        "hidden": hidden,
    })))
}

/// `POST /api/conversations/{id}/messages/{message_id}/hide` (`manage`):
/// hides a public customer message on the platform; 409 while
/// `[desk] allow_hide` is off.
pub(crate) async fn hide(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<(String, String)>,
    Json(body): Json<HideBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_hidden(&state, &caller, path, body.reason, true).await
}

/// `POST /api/conversations/{id}/messages/{message_id}/unhide` (`manage`).
pub(crate) async fn unhide(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<(String, String)>,
    Json(body): Json<HideBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_hidden(&state, &caller, path, body.reason, false).await
}

/// `POST …/messages/{message_id}/retry` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryBody {
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(default, rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
    /// The caller looked on the platform and the message is not there:
    /// needed when the last attempt's outcome is unknown.
    #[serde(default)]
    checked: bool,
}

/// `POST /api/conversations/{id}/messages/{message_id}/retry` (`reply`):
/// sends a failed or dead-lettered message again. A message the platform
/// accepted, or one the outbox still holds, is refused (409
/// `not_retryable`); one whose last attempt may have reached the platform
/// is refused (409 `outcome_unknown`) until the caller says they checked
/// (`{"checked": true}`), which the audit trail records under their name.
pub(crate) async fn retry(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, message_id)): Path<(String, String)>,
    body: Option<Json<RetryBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let message_id = parse_message(id, &message_id)?;
    let checked = body.is_some_and(|Json(b)| b.checked);
    let item = state
        .desk
        .store()
        .outbox_item(message_id)
        .await
        .map_err(carekit_core::DeskError::from)?
        .filter(|item| item.conversation_id == id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no outbound message {message_id} in conversation {id}"),
            )
        })?;
    let retryable = matches!(
        item.state,
        DeliveryState::Failed | DeliveryState::DeadLettered
    );
    if retryable && item.outcome_unknown && !checked {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the last attempt may have reached the platform: check there, then retry with \
             {\"checked\": true}",
        )
        .with("kind", "outcome_unknown")
        .with("state", item.state.as_str()));
    }
    if checked {
        state
            .desk
            .retry_message_after_check(message_id, caller.actor())
            .await?;
    } else {
        state
            .desk
            .retry_message_by(message_id, caller.actor())
            .await?;
    }
    Ok(Json(json!({
        "id": id.to_string(),
        "message_id": message_id.to_string(),
        "status": "queued",
    })))
}

/// `POST /api/incidents/{id}/outreach` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutreachBody {
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(default, rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
    /// The notice; absent: the one prepared in `[outreach]`.
    text: Option<String>,
    subject: Option<String>,
    /// Count the customers it would reach, send nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/incidents/{id}/outreach` (`manage`): a private notice to
/// every customer with a conversation in the incident, sent as the caller:
/// the body's text, or the notice prepared in `[outreach]`.
/// `dry_run` answers how many customers it would consider and sends
/// nothing.
pub(crate) async fn outreach(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(incident): Path<String>,
    Json(body): Json<OutreachBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let notice = match (&body.text, state.insight.outreach()) {
        (Some(text), _) => {
            let mut builder = Outreach::builder(text.clone()).agent(caller.agent.id.to_string());
            if let Some(subject) = body.subject.clone() {
                builder = builder.subject(subject);
            }
            builder
                .build()
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
        }
        (None, Some(prepared)) => prepared.sent_by(caller.agent.id.to_string()),
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give a text: no notice is prepared in [outreach]",
            ));
        }
    };
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("no incident {incident}"));
    let found = state
        .insight
        .crisis_detector()
        .ok_or_else(not_found)?
        .incidents()
        .into_iter()
        .find(|i| i.id == incident)
        .ok_or_else(not_found)?;
    if body.dry_run {
        let mut customers = Vec::new();
        for id in &found.conversations {
            let record = state.desk.conversation(*id).await?;
            if !customers.contains(&record.customer.id) {
                customers.push(record.customer.id);
            }
        }
        return Ok(Json(json!({
            "incident": found.id,
            "dry_run": true,
            "conversations": found.conversations.len(),
            "customers": customers.len(),
        })));
    }
    let report = notice.to_incident(&state.desk, &found).await.map_err(|e| {
        tracing::warn!(error = %e, incident = %found.id, "outreach failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    })?;
    tracing::info!(incident = %found.id, by = %caller.agent.id, queued = report.queued.len(), "outreach sent");
    Ok(Json(json!({
        "incident": found.id,
        "dry_run": false,
        "customers": report.total(),
        "report": report,
    })))
}
