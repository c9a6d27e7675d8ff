//! Automation: rules look at a conversation after each customer message and
//! return actions; the desk carries them out and records them.

use super::ops::HandoffRequest;
use super::survey::{SurveyAnswer, SurveyRequest};
use crate::channel::Visibility;
use crate::domain::{AuditKind, Conversation, Identity, Message, Priority, Status};
use crate::policy::Escalation;
use chrono::{DateTime, Utc};

/// Something a rule wants done.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// An automated reply (recorded as written by a bot).
    Reply {
        /// The text.
        text: String,
        /// Public or private; `None` answers where the customer wrote.
        visibility: Option<Visibility>,
    },
    /// Move the conversation to a private channel (done after the commit).
    HandOff(HandoffRequest),
    /// Assign to the next agent with capacity, optionally within a team.
    AutoAssign {
        /// Limit to this team.
        team: Option<String>,
    },
    /// Assign to a given agent and/or team.
    Assign {
        /// The agent.
        agent: Option<String>,
        /// The team.
        team: Option<String>,
    },
    /// Add a tag.
    Tag(String),
    /// Raise (or lower) the priority.
    SetPriority(Priority),
    /// Change the status.
    SetStatus(Status),
    /// Tell people.
    Notify {
        /// One line.
        subject: String,
        /// Details.
        body: String,
        /// The team to reach.
        team: Option<String>,
    },
    /// Record an audit entry (a CSAT answer, an incident link).
    Record(AuditKind),
    /// Ask the customer for a satisfaction rating. The desk sends it only in
    /// a private conversation (this one, or the one a handoff linked) and
    /// records `CsatRequested`; with no private way it records `CsatSkipped`.
    Survey(SurveyRequest),
    /// The triggering message answered a survey with this rating: recorded
    /// as `CsatAnswered` for the agent the survey rated.
    SurveyAnswered(SurveyAnswer),
    /// Hide the triggering public message. Only carried out when the desk was
    /// built with `allow_hide(true)`; always audited.
    Hide {
        /// Why, recorded in the audit trail.
        reason: String,
    },
}

/// What a rule may consult.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RuleContext<'a> {
    /// The instant (from the desk's clock).
    pub now: DateTime<Utc>,
    /// The customer message that triggered the rule.
    pub message: &'a Message,
    /// Who wrote it, as the platform named them (for templates).
    pub author: &'a Identity,
    /// The message opened a new conversation.
    pub new_conversation: bool,
    /// An automatic answer is allowed (false for auto-submitted or bulk mail).
    pub auto_reply_allowed: bool,
    /// Escalations raised by this same message.
    pub escalations: &'a [Escalation],
}

/// An automation rule. Pure: the desk executes what it returns.
pub trait Rule: Send + Sync {
    /// A stable name, recorded as the actor of what it does.
    fn name(&self) -> &str;
    /// Actions to take after a customer message.
    fn on_inbound(&self, conversation: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action>;

    /// Actions to take when a conversation's status changes (a survey after
    /// resolution). `conversation` already has the new status.
    fn on_status(&self, conversation: &dyn Conversation, change: &StatusChange) -> Vec<Action> {
        let _ = (conversation, change);
        Vec::new()
    }
}

/// A status change, as rules see it.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusChange {
    /// The instant.
    pub now: DateTime<Utc>,
    /// Before.
    pub from: Status,
    /// After.
    pub to: Status,
}

const _: fn(&dyn Rule) = |_| {};

/// Tags a conversation `topic:<name>` for each topic a classifier found on
/// the message with at least `min_score`.
#[derive(Clone, Debug)]
pub struct TagTopics {
    min_score: f32,
}

impl TagTopics {
    /// Tags topics scoring at least `min_score`.
    pub fn new(min_score: f32) -> Self {
        Self { min_score }
    }
}

impl Rule for TagTopics {
    fn name(&self) -> &str {
        "tag-topics"
    }
    fn on_inbound(&self, conversation: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action> {
        let Some(classification) = &ctx.message.classification else {
            return Vec::new();
        };
        classification
            .topics
            .iter()
            .filter(|t| t.score >= self.min_score)
            .map(|t| format!("topic:{}", t.name))
            .filter(|tag| !conversation.tags().contains(tag))
            .map(Action::Tag)
            .collect()
    }
}
