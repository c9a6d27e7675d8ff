//! Policies decide: they look at a draft conversation and its trail, raise
//! escalations (priority, team, level), record what they observe, and set
//! the next deadline.

use super::Desk;
use crate::domain::{Actor, AuditEntry, AuditKind, ConversationRecord, Status};
use crate::policy::{Escalation, PolicyContext, Trigger};
use chrono::{DateTime, Utc};

impl Desk {
    /// Runs the escalation policies on `record`, applies what they decide to
    /// the record and audit list, and sets the next deadline. Returns the
    /// escalations not seen before.
    ///
    /// The policies see `history` followed by `audit`: the change's entries
    /// are appended to `history` for the evaluation and removed again, so
    /// the trail, which grows with the conversation, is never cloned.
    pub(crate) fn evaluate(
        &self,
        record: &mut ConversationRecord,
        history: &mut Vec<AuditEntry>,
        audit: &mut Vec<AuditEntry>,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Vec<Escalation> {
        let snooze = match record.status {
            Status::Snoozed { until } => Some(until),
            _ => None,
        };
        if self.inner.policies.is_empty() {
            record.next_deadline = snooze;
            return Vec::new();
        }
        let committed = history.len();
        let seen = history;
        seen.extend(audit.iter().cloned());
        let mut fresh: Vec<Escalation> = Vec::new();
        let mut observed = Vec::new();
        {
            let ctx = PolicyContext::new(now, trigger.clone(), seen);
            for policy in &self.inner.policies {
                for esc in policy.evaluate(&*record, &ctx) {
                    if !ctx.already_escalated(&esc.dedupe_key)
                        && !fresh.iter().any(|e| e.dedupe_key == esc.dedupe_key)
                    {
                        fresh.push(esc);
                    }
                }
                observed.extend(policy.observe(&*record, &ctx));
            }
        }
        let mut added = Vec::new();
        for esc in &fresh {
            if let Some(priority) = esc.raise_priority_to
                && priority > record.priority
            {
                added.push(AuditKind::PriorityChanged {
                    by: None,
                    from: record.priority,
                    to: priority,
                    reason: format!("{}: {}", esc.policy, esc.reason.code()),
                });
                record.priority = priority;
            }
            if let Some(team) = &esc.team
                && record.team.as_deref() != Some(team)
            {
                record.team = Some(team.clone());
                added.push(AuditKind::Assigned {
                    agent: record.assignee.clone(),
                    team: Some(team.clone()),
                    by: Actor::Automation(esc.policy.clone()),
                });
            }
            record.escalation_level = record.escalation_level.max(esc.level);
            added.push(AuditKind::Escalated(esc.clone()));
        }
        added.extend(observed);
        for kind in added {
            let entry = AuditEntry::new(record.id, now, kind);
            seen.push(entry.clone());
            audit.push(entry);
        }
        let ctx = PolicyContext::new(now, trigger, seen);
        let policy_deadline = self
            .inner
            .policies
            .iter()
            .filter_map(|p| p.next_deadline(&*record, &ctx))
            .min();
        seen.truncate(committed);
        record.next_deadline = match (policy_deadline, snooze) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        fresh
    }
}
