//! The care actions a case page posts: each checks the session, its CSRF
//! token and its scope, then goes through the same `carekit_core::Desk`
//! method the JSON API uses, with the signed-in agent as the actor the
//! audit trail names.

use crate::pages::case::{SNOOZE_HOURS, parse_id};
use crate::pages::layout::error;
use crate::session::{self, Session};
use crate::state::ConsoleState;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use carekit_core::desk::{HandoffRequest, ReplyRequest};
use carekit_core::store::Activity;
use carekit_core::{ChannelKind, ConversationId, DeskError, Identity, Scope, Status, Visibility};
use serde::Deserialize;

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub(crate) struct Plain {
    #[serde(default)]
    csrf: String,
}

/// A form with text.
#[derive(Deserialize)]
pub(crate) struct Text {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// The status form: `open` (reopen), `pending`, or `snooze` for `hours`.
#[derive(Deserialize)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
    #[serde(default)]
    hours: String,
}

/// The hand-off form.
#[derive(Deserialize)]
pub(crate) struct Handoff {
    #[serde(default)]
    csrf: String,
    to: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    public_text: String,
    #[serde(default)]
    private_text: String,
}

/// The value of a [`checked`] request, or a return of the answer that
/// refuses it.
macro_rules! or_refuse {
    ($checked:expr) => {
        match $checked {
            Ok(ok) => ok,
            Err(refused) => return refused,
        }
    };
}

/// A checked request: the session, the conversation, or the answer that
/// refuses it.
async fn checked(
    state: &ConsoleState,
    headers: &HeaderMap,
    id: &str,
    csrf: Option<&str>,
    scope: Scope,
) -> Result<(Session, ConversationId), Response> {
    let session = session::current(state, headers)
        .await
        .map_err(IntoResponse::into_response)?;
    let header = headers
        .get(crate::csrf::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    if !crate::csrf::valid(
        &session.credential,
        csrf.filter(|c| !c.is_empty()).or(header),
    ) {
        return Err(error(
            StatusCode::FORBIDDEN,
            Some(&session),
            "missing or wrong CSRF token",
        ));
    }
    if !session.who.may(scope) {
        return Err(error(
            StatusCode::FORBIDDEN,
            Some(&session),
            &format!("this session lacks the {scope} scope"),
        ));
    }
    let Some(id) = parse_id(id) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            Some(&session),
            "no such conversation",
        ));
    };
    Ok((session, id))
}

/// Back to the case, or the desk's refusal as a page.
fn done(session: &Session, id: ConversationId, result: Result<(), DeskError>) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/cases/{id}")).into_response(),
        Err(e) => {
            let status = match &e {
                DeskError::UnknownConversation(_) => StatusCode::NOT_FOUND,
                DeskError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                DeskError::OptedOut(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            if status.is_server_error() {
                tracing::warn!(error = %e, "console action failed");
            }
            error(status, Some(session), &e.to_string())
        }
    }
}

/// `POST /cases/{id}/reply` (`reply`): refused when a public tweet would
/// weigh more than X allows.
pub(crate) async fn reply(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Text>,
) -> Response {
    let (session, id) =
        or_refuse!(checked(&state, &headers, &id, Some(&f.csrf), Scope::Reply).await);
    let conversation = match state.desk.conversation(id).await {
        Ok(c) => c,
        Err(e) => return done(&session, id, Err(e)),
    };
    if conversation.channel == ChannelKind::Twitter && conversation.visibility == Visibility::Public
    {
        let weight = carekit_twitter::length::weighted_length(&f.text);
        if weight > carekit_twitter::length::MAX_WEIGHTED_LENGTH {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&session),
                &format!(
                    "a tweet weighs at most {} (this one weighs {weight})",
                    carekit_twitter::length::MAX_WEIGHTED_LENGTH
                ),
            );
        }
    }
    let request = ReplyRequest::agent(session.who.agent.id.to_string(), f.text);
    let result = state.desk.reply(id, request).await.map(|_| ());
    done(&session, id, result)
}

/// `POST /cases/{id}/note` (`reply`): a private note, never sent.
pub(crate) async fn note(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Text>,
) -> Response {
    let (session, id) =
        or_refuse!(checked(&state, &headers, &id, Some(&f.csrf), Scope::Reply).await);
    let result = state.desk.add_note(id, f.text, session.who.actor()).await;
    done(&session, id, result)
}

/// `POST /cases/{id}/handoff` (`reply`; `handoff` too to name a recipient).
pub(crate) async fn handoff(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Handoff>,
) -> Response {
    let (session, id) =
        or_refuse!(checked(&state, &headers, &id, Some(&f.csrf), Scope::Reply).await);
    let Ok(to) = f.to.parse::<ChannelKind>() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&session),
            "unknown channel",
        );
    };
    let recipient = f.recipient.trim();
    if !recipient.is_empty() && !session.who.may(Scope::Handoff) {
        return error(
            StatusCode::FORBIDDEN,
            Some(&session),
            "this session lacks the handoff scope",
        );
    }
    let mut request = HandoffRequest::new(to, f.public_text, session.who.actor());
    if !f.private_text.trim().is_empty() {
        request = request.with_private_text(f.private_text);
    }
    if !recipient.is_empty() {
        request = request.with_recipient(Identity::new(to, recipient));
    }
    let result = state.desk.handoff(id, request).await.map(|_| ());
    done(&session, id, result)
}

/// `POST /cases/{id}/assign` (`reply`): the signed-in agent takes it.
pub(crate) async fn assign(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Plain>,
) -> Response {
    let (session, id) =
        or_refuse!(checked(&state, &headers, &id, Some(&f.csrf), Scope::Reply).await);
    let me = session.who.agent.id.to_string();
    let result = state
        .desk
        .assign(id, Some(me), None, session.who.actor())
        .await;
    done(&session, id, result)
}

/// `POST /cases/{id}/resolve` (`reply`).
pub(crate) async fn resolve(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Plain>,
) -> Response {
    let (session, id) =
        or_refuse!(checked(&state, &headers, &id, Some(&f.csrf), Scope::Reply).await);
    let result = state.desk.resolve(id, session.who.actor()).await;
    done(&session, id, result)
}

/// `POST /cases/{id}/status` (`reply`): waiting on the customer, snoozed
/// for one of [`SNOOZE_HOURS`] on the desk's clock, or reopened.
pub(crate) async fn status(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    let (session, id) =
        or_refuse!(checked(&state, &headers, &id, Some(&f.csrf), Scope::Reply).await);
    let status = match f.status.as_str() {
        "open" => Status::Open,
        "pending" => Status::Pending,
        "snooze" => match f.hours.parse::<i64>() {
            Ok(hours) if SNOOZE_HOURS.contains(&hours) => Status::Snoozed {
                until: state.desk.clock().now() + chrono::Duration::hours(hours),
            },
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&session),
                    "snooze for 1, 4, 24 or 72 hours",
                );
            }
        },
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&session),
                "the status is open, pending or snooze",
            );
        }
    };
    let result = state.desk.set_status(id, status, session.who.actor()).await;
    done(&session, id, result)
}

/// `POST /cases/{id}/presence` (`read`; the token in `X-CSRF-Token`): the
/// signed-in agent is viewing, through the desk's presence announcements.
pub(crate) async fn presence(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (session, id) = or_refuse!(checked(&state, &headers, &id, None, Scope::Read).await);
    match state
        .desk
        .announce_presence(id, session.who.agent.id, Activity::Viewing)
        .await
    {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => done(&session, id, Err(e)),
    }
}
