//! `GET /api/events`: the live event stream (Server-Sent Events) of what
//! changes on the desk, fed by the store's change feed so that a change
//! made through any worker reaches the clients of all; and `POST
//! /api/conversations/{id}/presence`, an agent viewing or typing.
//!
//! Each event is `id: <position>`, `event: <kind>` and `data: <JSON>` (the
//! change's ids and states: never a message's text, platform JSON or a
//! secret). A client sends the last id it saw as `Last-Event-ID` to resume:
//! it gets exactly the changes after it, read from the store, then the live
//! ones. A position older than the feed keeps gets an explicit `reset`
//! event (reload, then follow). Each client gets only the changes its agent
//! may read (`Caller::may_read`, the rule the conversation routes use), and
//! the token is read again every few seconds: a revoked token, a disabled
//! agent or a lost `read` scope ends the stream.

use super::shared::{ApiError, ApiState};
use crate::live::{Live, PAGE};
use crate::people::{Caller, recheck};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use carekit_core::Scope;
use carekit_core::store::{Activity, Change, ChangeKind, ChangePosition};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The token behind a stream is read again this often.
const RECHECK_EVERY: Duration = Duration::from_secs(2);
/// A client that resumes further back than this many changes is told to
/// reset instead of being replayed the whole feed.
const MAX_REPLAY: usize = 10_000;
/// Events queued for one client before its task waits for it.
const CLIENT_QUEUE: usize = 256;

/// `GET /api/events` (scope `read`).
pub(crate) async fn stream(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<ChangePosition>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Last-Event-ID is not an event id of this desk",
                    )
                })?,
        ),
    };
    // Subscribe before reading where the feed is, so nothing falls between.
    let changes = state.live.subscribe();
    let start = match resume {
        Some(position) => {
            let head = state
                .desk
                .store()
                .change_head()
                .await
                .map_err(carekit_core::DeskError::from)?;
            if position > head.max(state.live.position()) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Last-Event-ID is not an event id of this desk",
                ));
            }
            Start::After(position)
        }
        None => Start::Now(state.live.position()),
    };
    let (events, queue) = mpsc::channel(CLIENT_QUEUE);
    tokio::spawn(follow(state, caller, start, changes, events));
    let stream = futures::stream::unfold(queue, |mut queue| async move {
        queue.recv().await.map(|event| (Ok(event), queue))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Where a client starts.
enum Start {
    /// With what is committed from here on.
    Now(ChangePosition),
    /// With every change after this one (`Last-Event-ID`).
    After(ChangePosition),
}

/// The client hung up.
struct Gone;

/// Feeds one client until it hangs up, its token stops reading, or the
/// server stops.
async fn follow(
    state: ApiState,
    mut caller: Caller,
    start: Start,
    mut changes: broadcast::Receiver<Live>,
    events: mpsc::Sender<Event>,
) {
    let mut last = match start {
        Start::Now(position) => position,
        Start::After(position) => position,
    };
    if matches!(start, Start::After(_))
        && catch_up(&state, &caller, &mut last, &events).await.is_err()
    {
        return;
    }
    let closed = state.live.closed();
    tokio::pin!(closed);
    let mut recheck_at = tokio::time::interval(RECHECK_EVERY);
    recheck_at.reset();
    loop {
        tokio::select! {
            () = &mut closed => return,
            () = events.closed() => return,
            _ = recheck_at.tick() => match recheck(&state, &caller).await {
                Ok(fresh) if fresh.may_read(None) => caller = fresh,
                Ok(_) => return,
                // The store is down: keep serving; the next check decides.
                Err(e) if e.status().is_server_error() => {}
                Err(_) => return,
            },
            received = changes.recv() => {
                let sent = match received {
                    Ok(Live::Change(change)) if change.position > last => {
                        last = change.position;
                        send_change(&caller, &change, &events).await
                    }
                    Ok(Live::Change(_)) => Ok(()),
                    Ok(Live::Reset(position)) => {
                        last = position;
                        send(&events, reset(position)).await
                    }
                    // Behind the broadcast: read what was missed from the store.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        catch_up(&state, &caller, &mut last, &events).await
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends the client every change after `last` from the store, moving
/// `last`; a `reset` when those changes are no longer kept or too many.
async fn catch_up(
    state: &ApiState,
    caller: &Caller,
    last: &mut ChangePosition,
    events: &mpsc::Sender<Event>,
) -> Result<(), Gone> {
    let store = state.desk.store();
    let mut replayed = 0;
    loop {
        let page = match store.changes_after(*last, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                // The client reconnects with its last id and tries again.
                tracing::warn!(error = %e, "cannot replay the change feed to a client");
                return Err(Gone);
            }
        };
        if page.gap || replayed >= MAX_REPLAY {
            let head = store
                .change_head()
                .await
                .unwrap_or_else(|_| state.live.position());
            *last = head.max(*last);
            return send(events, reset(*last)).await;
        }
        let read = page.changes.len();
        for change in page.changes {
            *last = change.position;
            send_change(caller, &change, events).await?;
        }
        replayed += read;
        if read < PAGE {
            return Ok(());
        }
    }
}

async fn send_change(
    caller: &Caller,
    change: &Change,
    events: &mpsc::Sender<Event>,
) -> Result<(), Gone> {
    if matches!(change.kind, ChangeKind::Unknown) || !caller.may_read(change.conversation) {
        return Ok(());
    }
    let data = serde_json::to_string(change).unwrap_or_else(|_| "{}".into());
    send(
        events,
        Event::default()
            .id(change.position.to_string())
            .event(change.kind.name())
            .data(data),
    )
    .await
}

/// The event that tells a client to reload what it shows, then follow on
/// from `position`.
fn reset(position: ChangePosition) -> Event {
    Event::default()
        .id(position.to_string())
        .event("reset")
        .data(
            json!({ "position": position, "reason": "the missed changes are no longer kept" })
                .to_string(),
        )
}

async fn send(events: &mpsc::Sender<Event>, event: Event) -> Result<(), Gone> {
    events.send(event).await.map_err(|_| Gone)
}

/// `POST /api/conversations/{id}/presence`
#[derive(Debug, Deserialize)]
pub(crate) struct PresenceBody {
    activity: Activity,
    /// Accepted and ignored: presence is announced for the token's agent,
    /// whatever a body claims.
    #[serde(rename = "agent")]
    _agent: Option<serde::de::IgnoredAny>,
}

/// Announces the caller viewing (scope `read`) or typing (also `reply`) on
/// a conversation, for every worker's event streams (202).
pub(crate) async fn presence(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<PresenceBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = caller.readable(&id)?;
    if body.activity == Activity::Typing {
        caller.require(Scope::Reply)?;
    }
    let presence = state
        .desk
        .announce_presence(id, caller.agent.id, body.activity)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "agent": presence.agent.to_string(),
            "activity": presence.activity.as_str(),
            "until": presence.until,
        })),
    ))
}
