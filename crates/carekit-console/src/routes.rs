//! The console's routes.

use crate::state::ConsoleState;
use crate::{actions, assets, live, pages};
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

/// Every route, with the security headers.
pub(crate) fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(pages::inbox::home))
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/views/{view}", get(pages::inbox::show))
        .route("/cases/{id}", get(pages::case::show))
        .route("/cases/{id}/reply", post(actions::reply))
        .route("/cases/{id}/note", post(actions::note))
        .route("/cases/{id}/handoff", post(actions::handoff))
        .route("/cases/{id}/assign", post(actions::assign))
        .route("/cases/{id}/resolve", post(actions::resolve))
        .route("/cases/{id}/status", post(actions::status))
        .route("/cases/{id}/presence", post(actions::presence))
        .route("/admin", get(pages::admin::show))
        .route("/events", get(live::events))
        .route("/assets/console.js", get(assets::script))
        .route("/assets/console.css", get(assets::style))
        .layer(middleware::from_fn(crate::security::headers))
        .with_state(state)
}
