//! Conversations: the `Conversation` read view policies evaluate, and the
//! engine's own record that implements it.

use crate::channel::{ChannelKind, Visibility};
use crate::domain::{Author, Customer, Direction, Message};
use crate::ids::{CaseId, ConversationId, ThreadKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a conversation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Waiting on the brand.
    Open,
    /// Waiting on the customer; SLA clocks pause.
    Pending,
    /// Put aside until a time; SLA clocks pause.
    Snoozed {
        /// When it wakes up on its own.
        until: DateTime<Utc>,
    },
    /// Answered and done; a new customer message reopens it.
    Resolved,
    /// Finished for good; a new customer message starts a new conversation.
    Closed,
}

impl Status {
    /// `"open"`, `"pending"`, `"snoozed"`, `"resolved"`, `"closed"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed { .. } => "snoozed",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }
    /// Whether the conversation still needs work (open, pending or snoozed).
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Status::Open | Status::Pending | Status::Snoozed { .. }
        )
    }
    /// Whether SLA clocks are stopped (pending or snoozed).
    pub fn is_paused(&self) -> bool {
        matches!(self, Status::Pending | Status::Snoozed { .. })
    }
}

/// How urgent a conversation is. Ordered: `Low < Normal < High < Urgent`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Sooner than the rest.
    High,
    /// Now.
    Urgent,
}

impl Priority {
    /// `"low"`, `"normal"`, `"high"`, `"urgent"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            other => Err(format!("unknown priority `{other}`")),
        }
    }
}

/// The read view that escalation policies, SLA policies and rules evaluate.
///
/// The engine's [`ConversationRecord`] implements it. An app with its own
/// ticket model can implement it too and reuse every policy: map your
/// ticket's fields onto these methods (timestamps in UTC; `messages` in the
/// order they happened) and call
/// [`EscalationPolicy::evaluate`](crate::EscalationPolicy::evaluate) with it.
///
/// ```
/// use carekit_core::{Conversation, ConversationId, ChannelKind, Visibility, Customer,
///     Identity, Status, Priority, Message};
/// use chrono::{DateTime, Utc};
/// use std::collections::BTreeSet;
///
/// struct MyTicket { id: ConversationId, customer: Customer, opened: DateTime<Utc>,
///     tags: BTreeSet<String> }
///
/// impl Conversation for MyTicket {
///     fn id(&self) -> ConversationId { self.id }
///     fn channel(&self) -> ChannelKind { ChannelKind::Email }
///     fn visibility(&self) -> Visibility { Visibility::Private }
///     fn customer(&self) -> &Customer { &self.customer }
///     fn status(&self) -> Status { Status::Open }
///     fn priority(&self) -> Priority { Priority::Normal }
///     fn tags(&self) -> &BTreeSet<String> { &self.tags }
///     fn messages(&self) -> &[Message] { &[] }
///     fn opened_at(&self) -> DateTime<Utc> { self.opened }
///     fn first_response_at(&self) -> Option<DateTime<Utc>> { None }
///     fn last_inbound_at(&self) -> Option<DateTime<Utc>> { Some(self.opened) }
///     fn last_outbound_at(&self) -> Option<DateTime<Utc>> { None }
///     fn resolved_at(&self) -> Option<DateTime<Utc>> { None }
/// }
/// ```
pub trait Conversation: Send + Sync {
    /// Its id.
    fn id(&self) -> ConversationId;
    /// The platform it is on.
    fn channel(&self) -> ChannelKind;
    /// Public or private.
    fn visibility(&self) -> Visibility;
    /// The customer.
    fn customer(&self) -> &Customer;
    /// Where it is in its life.
    fn status(&self) -> Status;
    /// How urgent.
    fn priority(&self) -> Priority;
    /// Tags.
    fn tags(&self) -> &BTreeSet<String>;
    /// Its messages, oldest first.
    fn messages(&self) -> &[Message];
    /// When it opened (the first customer message).
    fn opened_at(&self) -> DateTime<Utc>;
    /// The first brand reply.
    fn first_response_at(&self) -> Option<DateTime<Utc>>;
    /// The latest customer message.
    fn last_inbound_at(&self) -> Option<DateTime<Utc>>;
    /// The latest brand message.
    fn last_outbound_at(&self) -> Option<DateTime<Utc>>;
    /// When it was last resolved, if it is.
    fn resolved_at(&self) -> Option<DateTime<Utc>>;
    /// Agent it is assigned to.
    fn assignee(&self) -> Option<&str> {
        None
    }
    /// Team it is assigned to.
    fn team(&self) -> Option<&str> {
        None
    }
    /// The brand account it is on (for reports per brand).
    fn account(&self) -> &str {
        ""
    }

    /// Customer messages since a person at the brand last wrote: the
    /// "posting again and again unanswered" count. An automated
    /// acknowledgement is not an answer, so it does not reset the count.
    fn unanswered_inbound(&self) -> usize {
        self.messages()
            .iter()
            .rev()
            .take_while(|m| m.direction == Direction::Inbound || m.author == Author::Bot)
            .filter(|m| m.direction == Direction::Inbound)
            .count()
    }
}

/// The engine's conversation record. Stores persist it; it implements
/// [`Conversation`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationRecord {
    /// Its id.
    pub id: ConversationId,
    /// Incremented by every write; stores reject a write whose expected
    /// version is stale, so two workers never overwrite each other.
    pub version: u64,
    /// The platform.
    pub channel: ChannelKind,
    /// The brand account.
    pub account: String,
    /// Public or private.
    pub visibility: Visibility,
    /// The platform thread, if the platform has one.
    pub thread_key: Option<ThreadKey>,
    /// The case it belongs to (shared by linked conversations).
    pub case_id: CaseId,
    /// Conversations linked to this one (a handoff's other half).
    pub linked: Vec<ConversationId>,
    /// Created by a handoff and waiting for the customer to write on the
    /// private channel; the first such message is threaded here.
    pub awaiting_customer: bool,
    /// The subject of the first message, where the platform has subjects (email).
    pub subject: Option<String>,
    /// The customer (loaded with the record). Fixed when the conversation
    /// opens: ingest never changes it (a person may merge customers).
    pub customer: Customer,
    /// The customer's identity this conversation talks to (the handle that
    /// wrote, or the one a handoff addressed); replies go here. Always one
    /// of the customer's identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<crate::domain::Identity>,
    /// Other people who wrote in this private thread (an email thread's
    /// other senders). They receive nothing unless an agent adds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<crate::domain::Identity>,
    /// Status.
    pub status: Status,
    /// Priority.
    pub priority: Priority,
    /// Tags.
    pub tags: BTreeSet<String>,
    /// Assigned agent.
    pub assignee: Option<String>,
    /// Assigned team.
    pub team: Option<String>,
    /// Current escalation level (0 = none).
    pub escalation_level: u8,
    /// Opened at.
    pub opened_at: DateTime<Utc>,
    /// First brand response.
    pub first_response_at: Option<DateTime<Utc>>,
    /// First response by a person (not automation).
    pub first_human_response_at: Option<DateTime<Utc>>,
    /// Latest customer message.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Latest brand message.
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// Last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the policies next need to look (an SLA warning or breach).
    pub next_deadline: Option<DateTime<Utc>>,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
}

impl ConversationRecord {
    /// Where replies in this conversation go: its [`contact`] when that is
    /// still one of the customer's identities, else the customer's identity
    /// on the conversation's channel.
    ///
    /// [`contact`]: ConversationRecord::contact
    pub fn reply_to(&self) -> Option<&crate::domain::Identity> {
        self.contact
            .as_ref()
            .filter(|c| {
                c.channel == self.channel
                    && self.customer.identities.iter().any(|i| i.same_account(c))
            })
            .or_else(|| self.customer.identity_on(self.channel))
    }

    /// A new, open conversation for `customer`, with no messages.
    pub fn new(
        channel: ChannelKind,
        account: impl Into<String>,
        visibility: Visibility,
        customer: Customer,
        opened_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: ConversationId::new(),
            version: 0,
            channel,
            account: account.into(),
            visibility,
            thread_key: None,
            case_id: CaseId::new(),
            linked: Vec::new(),
            awaiting_customer: false,
            subject: None,
            contact: customer.identity_on(channel).cloned(),
            customer,
            participants: Vec::new(),
            status: Status::Open,
            priority: Priority::Normal,
            tags: BTreeSet::new(),
            assignee: None,
            team: None,
            escalation_level: 0,
            opened_at,
            first_response_at: None,
            first_human_response_at: None,
            last_inbound_at: None,
            last_outbound_at: None,
            resolved_at: None,
            next_deadline: None,
            messages: Vec::new(),
        }
    }

    /// The message with this id.
    pub fn message(&self, id: crate::ids::MessageId) -> Option<&Message> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// The latest inbound message.
    pub fn last_inbound(&self) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound)
    }
}

impl Conversation for ConversationRecord {
    fn id(&self) -> ConversationId {
        self.id
    }
    fn channel(&self) -> ChannelKind {
        self.channel
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    fn customer(&self) -> &Customer {
        &self.customer
    }
    fn status(&self) -> Status {
        self.status
    }
    fn priority(&self) -> Priority {
        self.priority
    }
    fn tags(&self) -> &BTreeSet<String> {
        &self.tags
    }
    fn messages(&self) -> &[Message] {
        &self.messages
    }
    fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }
    fn first_response_at(&self) -> Option<DateTime<Utc>> {
        self.first_response_at
    }
    fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.last_inbound_at
    }
    fn last_outbound_at(&self) -> Option<DateTime<Utc>> {
        self.last_outbound_at
    }
    fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.resolved_at
    }
    fn assignee(&self) -> Option<&str> {
        self.assignee.as_deref()
    }
    fn team(&self) -> Option<&str> {
        self.team.as_deref()
    }
    fn account(&self) -> &str {
        &self.account
    }
}
