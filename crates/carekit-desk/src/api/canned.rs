//! Canned responses over the API: leads and admins (`manage`) write them,
//! everyone with `read` lists and previews them, and a reply may name one
//! (`{"canned": "<id>"}`): its text, rendered for the conversation and the
//! authenticated agent, then goes through the ordinary reply path.

use super::shared::{ApiError, ApiState, parse_id};
use crate::people::Caller;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use carekit_core::canned::CannedError;
use carekit_core::template::{AGENT_VARIABLES, TemplateError};
use carekit_core::{CannedId, CannedResponse, ConversationRecord, DeskError, StoreError};
use serde::Deserialize;
use serde_json::json;

fn store_failed(e: StoreError) -> ApiError {
    match e {
        StoreError::Constraint(_) => ApiError::new(
            StatusCode::CONFLICT,
            "another canned response has that name",
        ),
        other => ApiError::from(DeskError::from(other)),
    }
}

fn invalid(e: CannedError) -> ApiError {
    let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
    match e {
        CannedError::Template(TemplateError::UnknownVariable(name)) => error
            .with("unknown_variable", name)
            .with("known_variables", AGENT_VARIABLES.to_vec()),
        _ => error,
    }
}

fn parse_canned(id: &str) -> Result<CannedId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no canned response {id}")))
}

/// The response `id`, or 404.
async fn load(state: &ApiState, id: &str) -> Result<CannedResponse, ApiError> {
    let key = parse_canned(id)?;
    state
        .canned
        .canned(key)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no canned response {id}")))
}

/// A canned response's text for `conversation`, as `caller` sends it.
pub(crate) async fn render_for(
    state: &ApiState,
    id: &str,
    conversation: &ConversationRecord,
    caller: &Caller,
) -> Result<String, ApiError> {
    let response = load(state, id).await?;
    response
        .render(conversation, &caller.agent.name)
        .map_err(|e| invalid(CannedError::Template(e)))
}

/// `POST /api/canned` and `PUT /api/canned/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CannedBody {
    /// Accepted from older clients and ignored: the audit trail names the
    /// token's agent, whatever a body claims.
    #[serde(default, rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
    name: String,
    text: String,
}

/// `GET /api/canned` (`read`): every canned response, by name.
pub(crate) async fn list(
    State(state): State<ApiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let all = state.canned.canned_all().await.map_err(store_failed)?;
    Ok(Json(json!({ "canned": all })))
}

/// `GET /api/canned/{id}` (`read`).
pub(crate) async fn read(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({ "canned": load(&state, &id).await? })))
}

/// `POST /api/canned` (`manage`): a new canned response (201); 422 naming
/// an unknown variable, 409 when the name is taken.
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<CannedBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let now = state.desk.clock().now();
    let response = CannedResponse::new(body.name, body.text, caller.agent.id.to_string(), now)
        .map_err(invalid)?;
    save(&state, &caller, response, "created")
        .await
        .map(|answer| (StatusCode::CREATED, answer))
}

/// `PUT /api/canned/{id}` (`manage`): a new name and text.
pub(crate) async fn update(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<CannedBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let stored = load(&state, &id).await?;
    let now = state.desk.clock().now();
    let response = stored
        .changed(body.name, body.text, caller.agent.id.to_string(), now)
        .map_err(invalid)?;
    save(&state, &caller, response, "changed").await
}

/// Stores a checked response and answers it, logging who `did` what.
async fn save(
    state: &ApiState,
    caller: &Caller,
    response: CannedResponse,
    did: &str,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .canned
        .save_canned(&response)
        .await
        .map_err(store_failed)?;
    tracing::info!(canned = %response.id, by = %caller.agent.id, "canned response {did}");
    Ok(Json(json!({ "canned": response })))
}

/// `DELETE /api/canned/{id}` (`manage`).
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let key = parse_canned(&id)?;
    if !state
        .canned
        .delete_canned(key)
        .await
        .map_err(store_failed)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no canned response {id}"),
        ));
    }
    tracing::info!(canned = %key, by = %caller.agent.id, "canned response deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/conversations/{id}/canned/{canned_id}` (`read`): the text
/// the response would send in this conversation, from the caller.
pub(crate) async fn preview(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, canned_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let conversation = state.desk.conversation(parse_id(&id)?).await?;
    let text = render_for(&state, &canned_id, &conversation, &caller).await?;
    Ok(Json(json!({ "text": text })))
}
