//! Escalation policies: pure functions of a conversation and an instant.
//!
//! A policy says *whether* a conversation needs escalating, *why*, and
//! *when* it next needs to look (so the desk schedules a deadline instead of
//! polling). Policies never send anything: the desk turns escalations into
//! actions, records them, and deduplicates them by
//! [`Escalation::dedupe_key`].

mod combinators;
mod reason;

pub use combinators::{AllOf, AnyOf, FirstMatch};
pub use reason::EscalationReason;

use crate::domain::{AuditEntry, AuditKind, Conversation, Priority};
use crate::ids::MessageId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What prompted an evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// A customer message arrived.
    Inbound(MessageId),
    /// The brand answered.
    Outbound(MessageId),
    /// A deadline the policy asked for has come.
    Deadline,
    /// The conversation changed otherwise (status, priority, tags).
    Changed,
}

/// What a policy may consult besides the conversation.
#[derive(Clone, Debug)]
pub struct PolicyContext<'a> {
    /// The instant of evaluation (from the desk's clock, never `Utc::now()`).
    pub now: DateTime<Utc>,
    /// What prompted it.
    pub trigger: Trigger,
    /// The conversation's audit trail so far, oldest first.
    pub history: &'a [AuditEntry],
}

impl<'a> PolicyContext<'a> {
    /// A context at `now`.
    pub fn new(now: DateTime<Utc>, trigger: Trigger, history: &'a [AuditEntry]) -> Self {
        Self {
            now,
            trigger,
            history,
        }
    }

    /// Whether an escalation with this key was already recorded.
    pub fn already_escalated(&self, dedupe_key: &str) -> bool {
        self.history.iter().any(|e| match &e.kind {
            AuditKind::Escalated(esc) => esc.dedupe_key == dedupe_key,
            _ => false,
        })
    }
}

/// A policy's verdict that a conversation needs people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Escalation {
    /// The policy that decided.
    pub policy: String,
    /// Why.
    pub reason: EscalationReason,
    /// Escalation level (1 = agent, 2 = team lead, 3 = crisis team, ...).
    pub level: u8,
    /// Raise the conversation's priority to at least this.
    pub raise_priority_to: Option<Priority>,
    /// Route to this team.
    pub team: Option<String>,
    /// Notify people (through the desk's notifier).
    pub notify: bool,
    /// The same key is never escalated twice on one conversation; a policy
    /// that wants a repeat (a new next-response deadline) changes the key.
    pub dedupe_key: String,
    /// The reason in words.
    pub explanation: String,
}

impl Escalation {
    /// An escalation at level 1 that notifies, keyed by policy and reason code.
    pub fn new(
        policy: impl Into<String>,
        reason: EscalationReason,
        explanation: impl Into<String>,
    ) -> Self {
        let policy = policy.into();
        let dedupe_key = format!("{policy}:{}", reason.code());
        Self {
            policy,
            reason,
            level: 1,
            raise_priority_to: None,
            team: None,
            notify: true,
            dedupe_key,
            explanation: explanation.into(),
        }
    }
    /// Sets the level.
    pub fn with_level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }
    /// Sets the priority to raise to.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.raise_priority_to = Some(priority);
        self
    }
    /// Sets the team.
    pub fn with_team(mut self, team: impl Into<String>) -> Self {
        self.team = Some(team.into());
        self
    }
    /// Sets whether to notify.
    pub fn with_notify(mut self, notify: bool) -> Self {
        self.notify = notify;
        self
    }
    /// Sets the dedupe key.
    pub fn with_dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = key.into();
        self
    }
}

/// Decides whether a conversation needs escalating.
///
/// Implementations are pure: same conversation, same context, same answer.
/// That is what makes what-if replays and tests on a fake clock exact.
pub trait EscalationPolicy: Send + Sync {
    /// A stable name, recorded with every escalation.
    fn name(&self) -> &str;

    /// Escalations due now. Return the same escalation (same dedupe key)
    /// again freely: the desk records each key once.
    fn evaluate(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>)
    -> Vec<Escalation>;

    /// The next instant after `ctx.now` at which `evaluate` could answer
    /// differently without any new event (an SLA warning, a breach).
    fn next_deadline(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        let _ = (conversation, ctx);
        None
    }

    /// Audit entries the policy wants recorded besides escalations (SLA
    /// applied, fulfilled, paused ...). Entries already in `ctx.history` with
    /// equal content must not be returned again.
    fn observe(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        let _ = (conversation, ctx);
        Vec::new()
    }
}

impl<P: EscalationPolicy + ?Sized> EscalationPolicy for Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn evaluate(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Vec<Escalation> {
        (**self).evaluate(conversation, ctx)
    }
    fn next_deadline(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        (**self).next_deadline(conversation, ctx)
    }
    fn observe(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        (**self).observe(conversation, ctx)
    }
}

impl<P: EscalationPolicy + ?Sized> EscalationPolicy for Box<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn evaluate(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Vec<Escalation> {
        (**self).evaluate(conversation, ctx)
    }
    fn next_deadline(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        (**self).next_deadline(conversation, ctx)
    }
    fn observe(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        (**self).observe(conversation, ctx)
    }
}

// Policies are stored as `Arc<dyn EscalationPolicy>`.
const _: fn(&dyn EscalationPolicy) = |_| {};
