//! Policies built from policies.

use super::{Escalation, EscalationPolicy, PolicyContext};
use crate::domain::{AuditKind, Conversation};
use chrono::{DateTime, Utc};
use std::sync::Arc;

type Policies = Vec<Arc<dyn EscalationPolicy>>;

fn earliest(
    policies: &Policies,
    conversation: &dyn Conversation,
    ctx: &PolicyContext<'_>,
) -> Option<DateTime<Utc>> {
    policies
        .iter()
        .filter_map(|p| p.next_deadline(conversation, ctx))
        .min()
}

fn observe_all(
    policies: &Policies,
    conversation: &dyn Conversation,
    ctx: &PolicyContext<'_>,
) -> Vec<AuditKind> {
    policies
        .iter()
        .flat_map(|p| p.observe(conversation, ctx))
        .collect()
}

/// Every escalation any member raises.
pub struct AnyOf {
    name: String,
    policies: Policies,
}

impl AnyOf {
    /// Combines `policies` under `name`.
    pub fn new(name: impl Into<String>, policies: Policies) -> Self {
        Self {
            name: name.into(),
            policies,
        }
    }
}

impl EscalationPolicy for AnyOf {
    fn name(&self) -> &str {
        &self.name
    }
    fn evaluate(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Vec<Escalation> {
        self.policies
            .iter()
            .flat_map(|p| p.evaluate(conversation, ctx))
            .collect()
    }
    fn next_deadline(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        earliest(&self.policies, conversation, ctx)
    }
    fn observe(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        observe_all(&self.policies, conversation, ctx)
    }
}

/// Escalates only when every member does (for example "public" and
/// "negative"); then it returns all of their escalations.
pub struct AllOf {
    name: String,
    policies: Policies,
}

impl AllOf {
    /// Combines `policies` under `name`.
    pub fn new(name: impl Into<String>, policies: Policies) -> Self {
        Self {
            name: name.into(),
            policies,
        }
    }
}

impl EscalationPolicy for AllOf {
    fn name(&self) -> &str {
        &self.name
    }
    fn evaluate(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Vec<Escalation> {
        let mut all = Vec::new();
        for p in &self.policies {
            let found = p.evaluate(conversation, ctx);
            if found.is_empty() {
                return Vec::new();
            }
            all.extend(found);
        }
        all
    }
    fn next_deadline(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        earliest(&self.policies, conversation, ctx)
    }
    fn observe(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        observe_all(&self.policies, conversation, ctx)
    }
}

/// The escalations of the first member that raises any.
pub struct FirstMatch {
    name: String,
    policies: Policies,
}

impl FirstMatch {
    /// Combines `policies` under `name`, in order.
    pub fn new(name: impl Into<String>, policies: Policies) -> Self {
        Self {
            name: name.into(),
            policies,
        }
    }
}

impl EscalationPolicy for FirstMatch {
    fn name(&self) -> &str {
        &self.name
    }
    fn evaluate(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Vec<Escalation> {
        self.policies
            .iter()
            .map(|p| p.evaluate(conversation, ctx))
            .find(|found| !found.is_empty())
            .unwrap_or_default()
    }
    fn next_deadline(
        &self,
        conversation: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        earliest(&self.policies, conversation, ctx)
    }
    fn observe(&self, conversation: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        observe_all(&self.policies, conversation, ctx)
    }
}
