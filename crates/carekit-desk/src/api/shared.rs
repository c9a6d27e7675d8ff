//! What every API handler shares: the state they are given and the JSON
//! error they answer with. The conversation routes (`api`) and the people
//! routes (`people`) both build on it.

use crate::auth::BearerToken;
use crate::metrics::Metrics;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carekit_core::{AgentDirectory, CannedResponses, ConversationId, Desk, DeskError};
use std::sync::Arc;

/// What the API handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub desk: Desk,
    /// Agent accounts and tokens.
    pub directory: Arc<dyn AgentDirectory>,
    /// Canned responses.
    pub canned: Arc<dyn CannedResponses>,
    /// The crisis detector (its incidents, for outreach), when configured.
    pub insight: crate::Insight,
    /// `CAREKIT_API_TOKEN`, which only bootstraps the first admin; `None`
    /// when it is empty.
    pub bootstrap: Option<BearerToken>,
    /// `Some` when `/metrics` needs a token.
    pub metrics_token: Option<BearerToken>,
    pub metrics: Metrics,
    pub inbox: Option<crate::inbox::Inbox>,
    /// What `GET /api/admin/config` answers (secrets redacted).
    pub config: Arc<serde_json::Value>,
    /// This process's view of the store's change feed (`/api/events`).
    pub live: crate::live::LiveFeed,
}

/// A conversation id from a path: 404 when it is not one.
pub(crate) fn parse_id(id: &str) -> Result<ConversationId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no conversation {id}")))
}

/// A JSON error body: `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// Machine-readable fields beside `error` (the customer who owns an
    /// identity, the state of a message that cannot be retried).
    detail: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            detail: serde_json::Map::new(),
        }
    }

    /// The status it answers with.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.detail;
        body.insert("error".into(), self.message.into());
        (self.status, Json(serde_json::Value::Object(body))).into_response()
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        let status = match &e {
            DeskError::UnknownConversation(_)
            | DeskError::UnknownMessage(_)
            | DeskError::UnknownCustomer(_) => StatusCode::NOT_FOUND,
            // A constraint that cannot succeed is not contention: the
            // caller must change something (merge the customers, pick
            // another message), so 409 and never 503.
            DeskError::IdentityOwned { identity, customer } => {
                return ApiError::new(StatusCode::CONFLICT, e.to_string())
                    .with("kind", "identity_owned")
                    .with("owner", customer.to_string())
                    .with("channel", identity.channel.as_str())
                    .with("handle", identity.handle.clone());
            }
            DeskError::NotRetryable { state } => {
                return ApiError::new(StatusCode::CONFLICT, e.to_string())
                    .with("kind", "not_retryable")
                    .with("state", state.as_str());
            }
            DeskError::Store(carekit_core::StoreError::Constraint(_)) => StatusCode::CONFLICT,
            DeskError::InvalidRequest(_)
            | DeskError::Unsupported { .. }
            | DeskError::NoChannel(_)
            | DeskError::NoIdentity(_)
            | DeskError::Channel(_) => StatusCode::UNPROCESSABLE_ENTITY,
            DeskError::HideDisabled => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "hiding is disabled on this desk ([desk] allow_hide = false)",
                )
                .with("kind", "hide_disabled");
            }
            DeskError::OptedOut(_) => StatusCode::CONFLICT,
            DeskError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(error = %e, "API request failed");
        }
        ApiError::new(status, e.to_string())
    }
}
