//! The queues an agent works from, and the filters over them.

use carekit_core::store::SearchQuery;
use carekit_core::{
    ChannelKind, ConversationFilter, ConversationRecord, Desk, DeskError, Priority, Status,
};
use serde::Deserialize;

/// The most conversations one view reads.
pub(crate) const VIEW_LIMIT: usize = 500;
/// The tag that marks a conversation as part of a crisis.
pub const CRISIS_TAG: &str = "crisis";

/// A queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum View {
    /// Open conversations assigned to the signed-in agent.
    Mine,
    /// Open conversations assigned to no one.
    Unassigned,
    /// Every open conversation.
    Open,
    /// Open conversations a policy escalated.
    Escalated,
    /// Open conversations with an SLA deadline, the nearest first.
    DueSoon,
    /// Conversations waiting on the customer or put aside until a time.
    Waiting,
    /// Open conversations that are urgent or tagged `crisis`.
    Crisis,
}

impl View {
    /// Every view, in the order the console shows them.
    pub const ALL: [View; 7] = [
        View::Mine,
        View::Unassigned,
        View::Open,
        View::Escalated,
        View::DueSoon,
        View::Waiting,
        View::Crisis,
    ];

    /// The view's path segment (`/views/<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            View::Mine => "mine",
            View::Unassigned => "unassigned",
            View::Open => "open",
            View::Escalated => "escalated",
            View::DueSoon => "due",
            View::Waiting => "waiting",
            View::Crisis => "crisis",
        }
    }

    /// The view's title.
    pub fn title(self) -> &'static str {
        match self {
            View::Mine => "Mine",
            View::Unassigned => "Unassigned",
            View::Open => "All open",
            View::Escalated => "Escalated",
            View::DueSoon => "SLA due soonest",
            View::Waiting => "Pending and snoozed",
            View::Crisis => "Crisis",
        }
    }

    /// The view a slug names.
    pub fn from_slug(slug: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.slug() == slug)
    }
}

/// Filters over a view (a query string's `channel`, `status`, `priority`,
/// `tag`, `team`, `q`); empty values are ignored.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub q: String,
}

/// The longest filter value, in bytes.
const MAX_FILTER_BYTES: usize = 200;

impl Filters {
    /// The store filter these ask for (status aside); unknown values are
    /// ignored, so a hand-edited URL shows more rather than failing.
    fn base(&self) -> ConversationFilter {
        let mut f = ConversationFilter::all();
        let set = |v: &str| {
            let v = v.trim();
            (!v.is_empty() && v.len() <= MAX_FILTER_BYTES).then(|| v.to_owned())
        };
        if let Some(kind) = set(&self.channel).and_then(|c| c.parse::<ChannelKind>().ok()) {
            f = f.with_channel(kind);
        }
        if let Some(p) = set(&self.priority).and_then(|p| p.parse::<Priority>().ok()) {
            f = f.with_priority(p);
        }
        if let Some(tag) = set(&self.tag) {
            f = f.with_tag(tag);
        }
        if let Some(team) = set(&self.team) {
            f = f.with_team(team);
        }
        if let Some(q) = set(&self.q) {
            f = f.with_search(SearchQuery::new(q));
        }
        f
    }

    fn status(&self) -> Option<String> {
        let s = self.status.trim();
        ["open", "pending", "snoozed", "resolved", "closed"]
            .contains(&s)
            .then(|| s.to_owned())
    }
}

/// The conversations of `view` for agent `me`, with `filters` applied.
pub(crate) async fn list(
    desk: &Desk,
    view: View,
    filters: &Filters,
    me: &str,
) -> Result<Vec<ConversationRecord>, DeskError> {
    let base = filters.base().with_limit(VIEW_LIMIT);
    let open = filters.status().unwrap_or_else(|| "open".into());
    let mut found = match view {
        View::Waiting => {
            let statuses = match filters.status() {
                Some(s) => vec![s],
                None => vec!["pending".to_owned(), "snoozed".to_owned()],
            };
            let mut all = Vec::new();
            for status in statuses {
                all.extend(
                    desk.conversations(&base.clone().with_status(status))
                        .await?,
                );
            }
            all
        }
        View::Mine => {
            desk.conversations(&base.with_status(open).with_assignee(me))
                .await?
        }
        View::Escalated => {
            desk.conversations(&base.with_status(open).with_escalated(true))
                .await?
        }
        _ => desk.conversations(&base.with_status(open)).await?,
    };
    match view {
        View::Unassigned => found.retain(|c| c.assignee.is_none()),
        View::DueSoon => {
            found.retain(|c| c.next_deadline.is_some());
            found.sort_by_key(|c| c.next_deadline);
        }
        View::Crisis => {
            found.retain(|c| c.priority == Priority::Urgent || c.tags.contains(CRISIS_TAG))
        }
        View::Waiting => found.sort_by_key(|c| match c.status {
            Status::Snoozed { until } => Some(until),
            _ => None,
        }),
        _ => {}
    }
    Ok(found)
}
