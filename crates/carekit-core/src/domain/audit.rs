//! The per-conversation audit trail: every decision the desk takes is
//! recorded with its reason, so every figure and action can be explained later.

use crate::channel::{ChannelKind, DeliveryState};
use crate::domain::{Priority, Status};
use crate::ids::{ConversationId, CustomerId, MessageId, ThreadKey};
use crate::policy::Escalation;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which rule put a message into its conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ThreadRule {
    /// Someone other than the conversation's customer wrote in its public
    /// thread (or email thread): the message went to that author's own
    /// conversation, linked to the other for context. A conversation's
    /// customer never changes on ingest.
    OtherAuthor {
        /// The conversation whose thread the author wrote in.
        thread_of: ConversationId,
    },
    /// It answers a message already in the conversation.
    ReplyTo {
        /// The parent's platform id.
        parent: String,
    },
    /// The platform's thread key matched an active conversation.
    ThreadKey {
        /// The key.
        key: ThreadKey,
    },
    /// First message on a private channel after a handoff to it.
    Handoff,
    /// Nothing matched: a new conversation.
    New,
}

/// Why a message landed where it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadDecision {
    /// The message.
    pub message_id: MessageId,
    /// The conversation it joined.
    pub conversation_id: ConversationId,
    /// The rule that decided.
    pub rule: ThreadRule,
    /// A resolved conversation was reopened by this message.
    pub reopened: bool,
    /// The decision in words, for people reading the trail.
    pub explanation: String,
}

/// Which response-time target an SLA event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaMetric {
    /// Time to the first brand reply.
    FirstResponse,
    /// Time from each customer message after a brand reply to the next reply.
    NextResponse,
    /// Time to resolution.
    Resolution,
}

impl SlaMetric {
    /// `"first_response"`, `"next_response"`, `"resolution"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaMetric::FirstResponse => "first_response",
            SlaMetric::NextResponse => "next_response",
            SlaMetric::Resolution => "resolution",
        }
    }
}

/// What happened to an SLA target (after Zendesk's metric events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SlaEventKind {
    /// A policy's target now applies.
    Applied,
    /// The warning point passed without a response.
    Warning,
    /// The target passed without a response.
    Breached,
    /// The target was met (or met late, after a breach).
    Fulfilled,
    /// The clock stopped (pending on the customer, snoozed).
    Paused,
    /// The clock runs again.
    Resumed,
}

/// One SLA event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEvent {
    /// The SLA policy's name.
    pub policy: String,
    /// Which target.
    pub metric: SlaMetric,
    /// What happened.
    pub kind: SlaEventKind,
    /// The deadline in force at that moment, if any.
    pub due: Option<DateTime<Utc>>,
}

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Actor {
    /// A person, by the app's agent id.
    Agent(String),
    /// A policy or rule, by name.
    Automation(String),
    /// The customer.
    Customer,
    /// The desk itself.
    System,
}

/// What an audit entry records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A message was threaded.
    Threaded(ThreadDecision),
    /// Status changed.
    StatusChanged {
        /// Before.
        from: Status,
        /// After.
        to: Status,
        /// Who.
        by: Actor,
    },
    /// Priority changed.
    PriorityChanged {
        /// Before.
        from: Priority,
        /// After.
        to: Priority,
        /// Why.
        reason: String,
        /// The person who changed it; `None` when a policy or rule did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Actor>,
    },
    /// A policy escalated.
    Escalated(Escalation),
    /// An SLA event.
    Sla(SlaEvent),
    /// A public message was hidden or un-hidden on the platform.
    Hidden {
        /// carekit's message id.
        message_id: MessageId,
        /// The platform id.
        external_id: String,
        /// Hidden (`true`) or shown again (`false`).
        hidden: bool,
        /// Who decided.
        by: Actor,
        /// Why, in their words.
        reason: String,
    },
    /// Assigned to an agent and/or team.
    Assigned {
        /// The agent.
        agent: Option<String>,
        /// The team.
        team: Option<String>,
        /// Who assigned.
        by: Actor,
    },
    /// A tag was added or removed.
    Tagged {
        /// The tag.
        tag: String,
        /// Added (`true`) or removed.
        added: bool,
        /// The person who tagged; `None` when a rule or classifier did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Actor>,
    },
    /// The conversation was handed off to a private channel.
    HandedOff {
        /// The private conversation.
        to: ConversationId,
        /// Its channel.
        channel: ChannelKind,
        /// Who.
        by: Actor,
    },
    /// Linked to another conversation (the handoff's other side, or another
    /// author's conversation in the same public thread).
    Linked {
        /// The other conversation.
        other: ConversationId,
    },
    /// Two customers were found to be one person and merged by a person.
    CustomersMerged {
        /// The customer kept (who now holds every identity).
        kept: CustomerId,
        /// The customer merged into it.
        absorbed: CustomerId,
        /// Who merged them.
        by: Actor,
        /// Why.
        reason: String,
    },
    /// A private note by a person: shown to agents with the conversation,
    /// never sent to the customer.
    AgentNote {
        /// The note.
        text: String,
        /// Who wrote it.
        by: Actor,
    },
    /// A notification went out.
    Notified {
        /// To whom (a team, a channel name).
        target: String,
        /// What about.
        subject: String,
    },
    /// An outbound message changed delivery state.
    Delivery {
        /// The message.
        message_id: MessageId,
        /// Its new state.
        state: DeliveryState,
        /// The platform's reason, for failures.
        error: Option<String>,
    },
    /// A satisfaction survey went out (always privately).
    CsatRequested {
        /// The survey message.
        message_id: MessageId,
        /// The agent who resolved the conversation, whom the answer rates.
        #[serde(default)]
        agent: Option<String>,
    },
    /// The customer answered a satisfaction survey.
    CsatAnswered {
        /// 1 (very unhappy) to 5 (very happy).
        rating: u8,
        /// The customer's words.
        answer: String,
        /// The agent the answer rates (the one who resolved).
        #[serde(default)]
        agent: Option<String>,
    },
    /// A survey was not sent: there was no private way to reach the customer
    /// (surveys are never sent publicly), or the channel refused.
    CsatSkipped {
        /// Why, in words.
        reason: String,
        /// The agent who resolved the conversation.
        #[serde(default)]
        agent: Option<String>,
    },
    /// A free-form note.
    Note {
        /// The text.
        text: String,
    },
}

/// One entry of a conversation's audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: AuditKind,
}

impl AuditEntry {
    /// An entry for `conversation_id` at `at`.
    pub fn new(conversation_id: ConversationId, at: DateTime<Utc>, kind: AuditKind) -> Self {
        Self {
            conversation_id,
            at,
            kind,
        }
    }
}
