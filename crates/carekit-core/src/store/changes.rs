//! The change feed: what each commit changed, in commit order, so that live
//! views (the desk server's event stream) follow the store rather than one
//! process's memory. Every worker on one store reads the same feed.
//!
//! A store derives the rows of a [`Commit`] with [`changes_of`] (one rule
//! for every backend) and writes them in the commit's own transaction, so a
//! change is in the feed exactly when its commit is. Presence (an agent
//! viewing or typing on a conversation) is written on its own with
//! [`Store::announce`](super::Store::announce): it changes no conversation.
//!
//! Positions are opaque and totally ordered: a reader that asks for the
//! changes after the last position it saw gets every later change exactly
//! once, whichever worker wrote it and in whatever order the transactions
//! started. Old changes are pruned
//! ([`Store::prune_changes`](super::Store::prune_changes)); a read from
//! before the pruned part says so ([`ChangePage::gap`]).

use super::{Commit, ConversationWrite};
use crate::channel::{ChannelKind, DeliveryState, Visibility};
use crate::domain::{AuditKind, Direction, Priority, SlaEventKind, SlaMetric};
use crate::ids::{ConversationId, MessageId};
use crate::people::AgentId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a change sits in the feed. Opaque: compare positions, show them
/// (`Display`) and parse them back (`FromStr`); what the two numbers mean
/// is the store's business (a Postgres transaction id and a row id; 0 and
/// a row id on SQLite and in memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangePosition {
    major: u64,
    minor: u64,
}

impl ChangePosition {
    /// Before every change.
    pub const ORIGIN: ChangePosition = ChangePosition { major: 0, minor: 0 };

    /// A position from a store's two numbers (compared in this order).
    pub const fn new(major: u64, minor: u64) -> Self {
        Self { major, minor }
    }

    /// The store's two numbers.
    pub const fn parts(self) -> (u64, u64) {
        (self.major, self.minor)
    }
}

impl fmt::Display for ChangePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.major, self.minor)
    }
}

/// A string that is not a [`ChangePosition`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a change position (expected two decimal numbers joined by `-`)")]
pub struct ChangePositionError;

impl FromStr for ChangePosition {
    type Err = ChangePositionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            // Digits only: no sign, no spaces, nothing `u64` would also take.
            if part.is_empty() || part.len() > 20 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ChangePositionError);
            }
            part.parse::<u64>().map_err(|_| ChangePositionError)
        };
        let (major, minor) = s.split_once('-').ok_or(ChangePositionError)?;
        Ok(Self::new(number(major)?, number(minor)?))
    }
}

impl Serialize for ChangePosition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChangePosition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What an agent is doing on a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activity {
    /// Has the conversation open.
    Viewing,
    /// Is writing a reply.
    Typing,
}

impl Activity {
    /// `"viewing"` or `"typing"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Viewing => "viewing",
            Activity::Typing => "typing",
        }
    }
}

/// An agent's announcement that they are viewing or typing on a
/// conversation, true until `until` unless announced again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Presence {
    /// The conversation.
    pub conversation: ConversationId,
    /// The authenticated agent.
    pub agent: AgentId,
    /// What they are doing.
    pub activity: Activity,
    /// When they said so (the desk's clock).
    pub at: DateTime<Utc>,
    /// When it stops being true unless announced again.
    pub until: DateTime<Utc>,
}

impl Presence {
    /// `agent` is doing `activity` on `conversation` from `at` until `until`.
    pub fn new(
        conversation: ConversationId,
        agent: AgentId,
        activity: Activity,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Self {
        Self {
            conversation,
            agent,
            activity,
            at,
            until,
        }
    }
}

/// What changed. Ids and states only: never a message's text, platform
/// JSON or anything secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A conversation was opened.
    Opened {
        /// Its channel.
        channel: ChannelKind,
        /// Public or private.
        visibility: Visibility,
    },
    /// A message was written: a new one (a customer's, or a reply queued),
    /// or a stored one changed (edited, hidden, queued again).
    Message {
        /// The message.
        message: MessageId,
        /// Inbound or outbound.
        direction: Direction,
        /// Public or private.
        visibility: Visibility,
    },
    /// An outbound message's delivery state changed (sent, delivered, read,
    /// failed, dead-lettered).
    Delivery {
        /// The message.
        message: MessageId,
        /// Its new state.
        state: DeliveryState,
    },
    /// Assigned to an agent and/or a team (both `None`: unassigned).
    Assigned {
        /// The agent.
        agent: Option<String>,
        /// The team.
        team: Option<String>,
    },
    /// A policy escalated the conversation.
    Escalated {
        /// The reason's code (`sla_breach`, `anger`, an app's own code).
        reason: String,
        /// The level reached.
        level: u8,
        /// The team it went to.
        team: Option<String>,
    },
    /// An SLA target is about to be missed.
    SlaWarning {
        /// Which target.
        metric: SlaMetric,
        /// Its deadline.
        due: Option<DateTime<Utc>>,
    },
    /// An SLA target was missed.
    SlaBreach {
        /// Which target.
        metric: SlaMetric,
        /// Its deadline.
        due: Option<DateTime<Utc>>,
    },
    /// The status changed.
    Status {
        /// The new status (`open`, `pending`, `snoozed`, `resolved`, `closed`).
        status: String,
    },
    /// The priority changed.
    Priority {
        /// The new priority.
        priority: Priority,
    },
    /// A tag was added or removed.
    Tagged {
        /// The tag.
        tag: String,
        /// Added (`true`) or removed.
        added: bool,
    },
    /// A person added a private note.
    Note,
    /// The conversation was handed off to a private channel.
    HandedOff {
        /// The private conversation.
        to: ConversationId,
        /// Its channel.
        channel: ChannelKind,
    },
    /// An agent is viewing or typing on the conversation.
    Presence {
        /// The agent (the authenticated account).
        agent: AgentId,
        /// What they are doing.
        activity: Activity,
        /// Until when.
        until: DateTime<Utc>,
    },
    /// A change a newer carekit wrote that this build does not know (during
    /// a rolling upgrade): skipped by live views, never an error.
    #[serde(other)]
    Unknown,
}

impl ChangeKind {
    /// The kind's name, as the `type` field and the event stream's `event:`.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeKind::Opened { .. } => "opened",
            ChangeKind::Message { .. } => "message",
            ChangeKind::Delivery { .. } => "delivery",
            ChangeKind::Assigned { .. } => "assigned",
            ChangeKind::Escalated { .. } => "escalated",
            ChangeKind::SlaWarning { .. } => "sla_warning",
            ChangeKind::SlaBreach { .. } => "sla_breach",
            ChangeKind::Status { .. } => "status",
            ChangeKind::Priority { .. } => "priority",
            ChangeKind::Tagged { .. } => "tagged",
            ChangeKind::Note => "note",
            ChangeKind::HandedOff { .. } => "handed_off",
            ChangeKind::Presence { .. } => "presence",
            ChangeKind::Unknown => "unknown",
        }
    }
}

/// A change before the store gives it a position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangeEntry {
    /// When it happened (the time of the record it comes from).
    pub at: DateTime<Utc>,
    /// The conversation it is about.
    pub conversation: Option<ConversationId>,
    /// What changed.
    pub kind: ChangeKind,
}

impl ChangeEntry {
    /// A change of `kind` on `conversation` at `at`.
    pub fn new(at: DateTime<Utc>, conversation: Option<ConversationId>, kind: ChangeKind) -> Self {
        Self {
            at,
            conversation,
            kind,
        }
    }

    /// The entry a presence announcement writes.
    pub fn presence(presence: &Presence) -> Self {
        Self::new(
            presence.at,
            Some(presence.conversation),
            ChangeKind::Presence {
                agent: presence.agent,
                activity: presence.activity,
                until: presence.until,
            },
        )
    }

    /// The change at `position`.
    pub fn at_position(self, position: ChangePosition) -> Change {
        Change {
            position,
            at: self.at,
            conversation: self.conversation,
            kind: self.kind,
        }
    }
}

/// One change in the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// Where it sits in the feed.
    pub position: ChangePosition,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The conversation it is about.
    pub conversation: Option<ConversationId>,
    /// What changed (its fields beside these, under `type`).
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// The answer of [`Store::changes_after`](super::Store::changes_after).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangePage {
    /// Changes after the position asked for, oldest first.
    pub changes: Vec<Change>,
    /// Changes after the position asked for were pruned before this read:
    /// the reader missed some and should start over from a fresh view.
    pub gap: bool,
}

impl ChangePage {
    /// A page of `changes`, `gap` as the store found it.
    pub fn new(changes: Vec<Change>, gap: bool) -> Self {
        Self { changes, gap }
    }
}

/// How many changes a store keeps by default
/// ([`Store::prune_changes`](super::Store::prune_changes)).
pub const DEFAULT_CHANGES_KEPT: usize = 100_000;

/// The changes `commit` makes, in this order: conversations opened, messages
/// written (an outbound message whose delivery state is past queued counts
/// as a delivery change), then its audit entries that live views show
/// (assignment, escalation, SLA warning and breach, status, priority, tags,
/// notes, handoffs). Every store writes exactly these rows, in the commit's
/// transaction.
pub fn changes_of(commit: &Commit) -> Vec<ChangeEntry> {
    let mut out = Vec::new();
    for write in &commit.conversations {
        if let ConversationWrite::Insert(record) = write {
            out.push(ChangeEntry::new(
                record.opened_at,
                Some(record.id),
                ChangeKind::Opened {
                    channel: record.channel,
                    visibility: record.visibility,
                },
            ));
        }
    }
    for message in &commit.messages {
        let kind = match (message.direction, message.delivery) {
            (Direction::Outbound, Some(state)) if state != DeliveryState::Queued => {
                ChangeKind::Delivery {
                    message: message.id,
                    state,
                }
            }
            _ => ChangeKind::Message {
                message: message.id,
                direction: message.direction,
                visibility: message.visibility,
            },
        };
        out.push(ChangeEntry::new(
            message.at,
            Some(message.conversation_id),
            kind,
        ));
    }
    for entry in &commit.audit {
        let kind = match &entry.kind {
            AuditKind::Assigned { agent, team, .. } => ChangeKind::Assigned {
                agent: agent.clone(),
                team: team.clone(),
            },
            AuditKind::Escalated(e) => ChangeKind::Escalated {
                reason: e.reason.code().to_owned(),
                level: e.level,
                team: e.team.clone(),
            },
            AuditKind::Sla(sla) => match sla.kind {
                SlaEventKind::Warning => ChangeKind::SlaWarning {
                    metric: sla.metric,
                    due: sla.due,
                },
                SlaEventKind::Breached => ChangeKind::SlaBreach {
                    metric: sla.metric,
                    due: sla.due,
                },
                _ => continue,
            },
            AuditKind::StatusChanged { to, .. } => ChangeKind::Status {
                status: to.as_str().to_owned(),
            },
            AuditKind::PriorityChanged { to, .. } => ChangeKind::Priority { priority: *to },
            AuditKind::Tagged { tag, added, .. } => ChangeKind::Tagged {
                tag: tag.clone(),
                added: *added,
            },
            AuditKind::AgentNote { .. } => ChangeKind::Note,
            AuditKind::HandedOff { to, channel, .. } => ChangeKind::HandedOff {
                to: *to,
                channel: *channel,
            },
            _ => continue,
        };
        out.push(ChangeEntry::new(
            entry.at,
            Some(entry.conversation_id),
            kind,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_print_parse_and_order() {
        let p = ChangePosition::new(812, 9);
        assert_eq!(p.to_string(), "812-9");
        assert_eq!("812-9".parse::<ChangePosition>(), Ok(p));
        assert!(ChangePosition::new(1, 900) < ChangePosition::new(2, 1));
        assert!(ChangePosition::ORIGIN < ChangePosition::new(0, 1));
        for garbage in [
            "",
            "12",
            "-1-2",
            "1--2",
            "+1-2",
            "1-2-3",
            " 1-2",
            "1-2 ",
            "a-b",
            "١-٢",
            "99999999999999999999999-1",
            "18446744073709551616-0",
        ] {
            assert!(garbage.parse::<ChangePosition>().is_err(), "{garbage:?}");
        }
        let later: ChangeKind =
            serde_json::from_str(r#"{"type": "sentiment_shift", "score": 3}"#).unwrap();
        assert_eq!(later, ChangeKind::Unknown);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"812-9\"");
        assert_eq!(serde_json::from_str::<ChangePosition>(&json).unwrap(), p);
    }
}
