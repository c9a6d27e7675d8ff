//! The one place a conversation changes: load, mutate, evaluate policies,
//! commit, retry on conflict. Ingest, replies, status changes, the outbox
//! and the deadline tick all go through here.

use super::{Desk, DeskError, DeskEvent, Notification};
use crate::channel::{Delivery, DeliveryState, OutboundMessage, ReplyContext, Visibility};
use crate::domain::{
    Actor, AuditEntry, AuditKind, Author, ConversationRecord, Direction, Message, Status,
};
use crate::ids::{ConversationId, MessageId};
use crate::policy::{Escalation, PolicyContext, Trigger};
use crate::store::{Commit, ConversationWrite, OutboxItem, StoreError};
use chrono::{DateTime, Utc};

/// A change in progress: the record being edited and what the commit will
/// write besides it.
pub(crate) struct Change<'a> {
    pub(crate) record: &'a mut ConversationRecord,
    pub(crate) audit: &'a mut Vec<AuditEntry>,
    /// The conversation's committed audit trail before this change.
    pub(crate) history: &'a [AuditEntry],
    pub(crate) commit: &'a mut Commit,
    pub(crate) now: DateTime<Utc>,
    pub(crate) queued: &'a mut Vec<(MessageId, bool)>,
    /// The assignment state, when this change may assign.
    pub(crate) assignment: &'a mut Option<super::shared::AssignmentDraft>,
}

impl Change<'_> {
    /// Records an audit entry on the record's conversation.
    pub(crate) fn note(&mut self, kind: AuditKind) {
        self.audit
            .push(AuditEntry::new(self.record.id, self.now, kind));
    }

    /// Changes status, auditing the change.
    pub(crate) fn set_status(&mut self, to: Status, by: Actor) {
        let from = self.record.status;
        if from == to {
            return;
        }
        self.record.status = to;
        if to == Status::Resolved {
            self.record.resolved_at = Some(self.now);
        }
        self.note(AuditKind::StatusChanged { from, to, by });
    }

    /// Queues an outbound message in this conversation: written to the
    /// outbox in the same commit, sent by the outbox worker.
    pub(crate) fn queue(
        &mut self,
        text: String,
        visibility: Visibility,
        author: Author,
        subject: Option<String>,
    ) -> MessageId {
        let outbound = outbound_for(self.record, text, visibility, &author, subject);
        let id = outbound.id;
        let automated = matches!(author, Author::Bot);
        let message = Message {
            id,
            conversation_id: self.record.id,
            direction: Direction::Outbound,
            author,
            visibility,
            external_id: None,
            text: outbound.text.clone(),
            attachments: Vec::new(),
            at: self.now,
            delivery: Some(DeliveryState::Queued),
            delivery_error: None,
            classification: None,
            hidden: false,
            original_text: None,
            raw: None,
            platform_at: None,
        };
        self.record.messages.push(message.clone());
        self.commit.messages.push(message);
        self.commit
            .outbox
            .push(OutboxItem::queued(self.record.id, outbound, self.now));
        self.queued.push((id, automated));
        id
    }
}

impl Change<'_> {
    /// Records that the platform accepted `message_id` (its id there, its
    /// state) and the response times that follow from it. Nothing here can
    /// fail: recording a delivery must not depend on anything but the write.
    pub(crate) fn mark_sent(&mut self, message_id: MessageId, delivery: &Delivery) {
        let now = self.now;
        let human = match self.record.messages.iter_mut().find(|m| m.id == message_id) {
            Some(m) => {
                if !m
                    .delivery
                    .is_some_and(|d| d.is_accepted() && d.rank() >= delivery.state.rank())
                {
                    m.delivery = Some(delivery.state);
                }
                m.delivery_error = None;
                m.external_id = Some(delivery.provider_id.clone());
                self.commit.messages.push(m.clone());
                m.is_human_response()
            }
            None => false,
        };
        let r = &mut *self.record;
        r.last_outbound_at = r.last_outbound_at.max(Some(now));
        r.first_response_at.get_or_insert(now);
        if human {
            r.first_human_response_at.get_or_insert(now);
        }
    }
}

/// Builds the platform-facing message for a reply in `record`.
pub(crate) fn outbound_for(
    record: &ConversationRecord,
    text: String,
    visibility: Visibility,
    author: &Author,
    subject: Option<String>,
) -> OutboundMessage {
    let last_inbound = record.last_inbound();
    let mut outbound = OutboundMessage::new(record.channel, visibility, text)
        .with_conversation(record.id)
        .with_context(ReplyContext {
            customer_last_message_at: record.last_inbound_at,
            human_agent: author.is_human_brand(),
            in_reply_to_at: last_inbound.map(|m| m.at),
        });
    if !record.account.is_empty() {
        outbound = outbound.with_account(record.account.clone());
    }
    if let Some(identity) = record.reply_to() {
        outbound = outbound.with_recipient(identity.clone());
    }
    if let Some(parent) = last_inbound.and_then(|m| m.external_id.clone()) {
        if record.visibility == Visibility::Public && visibility == Visibility::Private {
            outbound = outbound.with_reply_privately_to(parent);
        } else {
            outbound = outbound.with_in_reply_to(parent);
        }
    }
    let references: Vec<String> = record
        .messages
        .iter()
        .rev()
        .filter_map(|m| m.external_id.clone())
        .skip(1)
        .collect();
    outbound = outbound.with_references(references);
    if let Some(key) = record.thread_key.clone() {
        outbound = outbound.with_thread_key(key);
    }
    let subject = subject.or_else(|| {
        record.subject.as_ref().map(|s| {
            if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
                s.clone()
            } else {
                format!("Re: {s}")
            }
        })
    });
    if let Some(subject) = subject {
        outbound = outbound.with_subject(subject);
    }
    outbound
}

/// Outcome of a committed change.
pub(crate) struct Applied<T> {
    pub(crate) value: T,
    pub(crate) record: ConversationRecord,
    pub(crate) escalations: Vec<Escalation>,
    pub(crate) queued: Vec<(MessageId, bool)>,
}

impl Desk {
    /// Runs the escalation policies on `record`, applies what they decide to
    /// the record and audit list, and sets the next deadline. Returns the
    /// escalations not seen before.
    pub(crate) fn evaluate(
        &self,
        record: &mut ConversationRecord,
        history: &[AuditEntry],
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
        let mut seen: Vec<AuditEntry> = Vec::with_capacity(history.len() + audit.len() + 4);
        seen.extend_from_slice(history);
        seen.extend(audit.iter().cloned());
        let mut fresh: Vec<Escalation> = Vec::new();
        let mut observed = Vec::new();
        {
            let ctx = PolicyContext::new(now, trigger.clone(), &seen);
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
        let ctx = PolicyContext::new(now, trigger, &seen);
        let policy_deadline = self
            .inner
            .policies
            .iter()
            .filter_map(|p| p.next_deadline(&*record, &ctx))
            .min();
        record.next_deadline = match (policy_deadline, snooze) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        fresh
    }

    /// Loads a conversation, lets `f` change it, evaluates policies and
    /// commits, retrying from a fresh read when another worker got there
    /// first. `f` may run more than once: keep it free of side effects
    /// outside the [`Change`].
    pub(crate) async fn mutate<T, F>(
        &self,
        id: ConversationId,
        trigger: Trigger,
        mut f: F,
    ) -> Result<Applied<T>, DeskError>
    where
        F: FnMut(&mut Change<'_>) -> Result<T, DeskError> + Send,
        T: Send,
    {
        for _ in 0..self.inner.conflict_retries {
            let mut record = self
                .inner
                .store
                .conversation(id)
                .await?
                .ok_or(DeskError::UnknownConversation(id))?;
            let history = self.inner.store.audit_trail(id).await?;
            let expected_version = record.version;
            let now = self.inner.clock.now();
            let mut audit = Vec::new();
            let mut commit = Commit::new();
            let mut queued = Vec::new();
            let before = super::shared::holder(&record);
            let mut assignment = match self.inner.assigner {
                Some(_) => Some(self.load_assignment().await?),
                None => None,
            };
            let value = f(&mut Change {
                record: &mut record,
                audit: &mut audit,
                history: &history,
                commit: &mut commit,
                now,
                queued: &mut queued,
                assignment: &mut assignment,
            })?;
            self.settle_assignment(before, &record, &mut assignment, &mut commit)
                .await?;
            let escalations =
                self.evaluate(&mut record, &history, &mut audit, trigger.clone(), now);
            record.version = expected_version + 1;
            commit.audit.extend(audit);
            commit.conversations.push(ConversationWrite::Update {
                record: record.clone(),
                expected_version,
            });
            match self.inner.store.apply(commit).await {
                Ok(()) => {
                    let applied = Applied {
                        value,
                        record,
                        escalations,
                        queued,
                    };
                    self.after_commit(&applied.record, &applied.escalations, &applied.queued)
                        .await;
                    return Ok(applied);
                }
                Err(StoreError::Conflict(reason)) => {
                    tracing::debug!(conversation = %id, %reason, "conflict; retrying");
                    tokio::task::yield_now().await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(DeskError::Store(StoreError::Conflict(format!(
            "conversation {id} kept changing; gave up after {} attempts",
            self.inner.conflict_retries
        ))))
    }

    /// Side effects after a commit: notifications and broadcast events.
    pub(crate) async fn after_commit(
        &self,
        record: &ConversationRecord,
        escalations: &[Escalation],
        queued: &[(MessageId, bool)],
    ) {
        for esc in escalations {
            self.emit(DeskEvent::Escalated {
                conversation_id: record.id,
                escalation: esc.clone(),
            });
            if esc.notify {
                let note = Notification::new(
                    record.id,
                    format!(
                        "Escalation ({}) on {} conversation",
                        esc.reason.code(),
                        record.channel
                    ),
                    esc.explanation.clone(),
                )
                .with_team(esc.team.clone().or_else(|| record.team.clone()))
                .with_level(esc.level);
                if let Err(e) = self.inner.notifier.notify(&note).await {
                    tracing::warn!(conversation = %record.id, error = %e, "notification failed");
                }
            }
        }
        for (message_id, automated) in queued {
            self.emit(DeskEvent::Queued {
                conversation_id: record.id,
                message_id: *message_id,
                channel: record.channel,
                automated: *automated,
            });
        }
    }
}
