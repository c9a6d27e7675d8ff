//! `GET /events`: the desk's live event stream for the signed-in agent,
//! which the page's script follows to refresh what it shows.

use crate::session;
use crate::state::ConsoleState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use carekit_core::Scope;

/// `GET /events` (scope `read`).
pub(crate) async fn events(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    let session = match session::current(&state, &headers).await {
        Ok(s) => s,
        // An event source cannot follow a redirect to a page.
        Err(_) => return StatusCode::UNAUTHORIZED.into_response(),
    };
    if !session.who.may(Scope::Read) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    state.accounts.events(&session.credential, last).await
}
