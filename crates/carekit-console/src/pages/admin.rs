//! Administration: the agent accounts (scope `admin`; anyone else gets
//! 403).

use crate::pages::layout::{display_name, error, page};
use crate::session;
use crate::state::ConsoleState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use carekit_core::Scope;
use maud::html;

/// `GET /admin`
pub(crate) async fn show(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    let session = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if !session.who.may(Scope::Admin) {
        return error(
            StatusCode::FORBIDDEN,
            Some(&session),
            "administration needs the admin scope",
        );
    }
    let Ok(agents) = state.accounts.agents().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&session),
            "the accounts cannot be read now",
        );
    };
    let body = html! {
        main #main {
            h1 { "Agents" }
            table.list #agents {
                thead { tr { th { "Name" } th { "Login" } th { "Role" } th { "Teams" } th { "State" } } }
                tbody {
                    @for a in &agents {
                        tr {
                            td { (display_name(a)) }
                            td { (a.login) }
                            td { (a.role.as_str()) }
                            td { (a.teams.join(", ")) }
                            td { @if a.disabled { "disabled" } @else { "active" } }
                        }
                    }
                }
            }
        }
    };
    Html(page("Agents", Some(&session), None, body).into_string()).into_response()
}
