//! The one commit path. Every change to a conversation (a new customer
//! message, an agent's action, a deadline tick, a delivery) is drafted as a
//! [`Draft`], evaluated against the policies, and written by
//! [`Desk::commit`] in one store transaction, which then runs the
//! after-commit steps (events, notifications, automation's follow-ups).
//!
//! [`Desk::mutate`] is the loop for changes to an existing conversation:
//! read, draft, commit, and on a conflict read again. Ingest drafts a new
//! message the same way (its own retry loop starts again at threading).

use super::after_commit::After;
use super::shared::{AssignmentDraft, holder};
use super::{Desk, DeskError, DeskEvent};
use crate::channel::{Delivery, DeliveryState, Visibility};
use crate::domain::{
    Actor, AuditEntry, AuditKind, Author, ConversationRecord, Direction, Message, Status,
};
use crate::ids::{ConversationId, MessageId};
use crate::policy::{Escalation, Trigger};
use crate::store::{Commit, ConversationWrite, OutboxItem, StoreError};
use chrono::{DateTime, Utc};

/// One conversation's change before it is written: the record as it will
/// be, and everything the commit writes besides it.
pub(crate) struct Draft {
    /// The conversation as it will be stored.
    pub(crate) record: ConversationRecord,
    /// The version it was read at; `None` for a conversation this commit
    /// creates.
    expected: Option<u64>,
    /// The conversation's committed audit trail before this change.
    history: Vec<AuditEntry>,
    /// Other writes of the same transaction (dedupe keys, customers,
    /// messages, outbox items, linked conversations, ledger entries).
    pub(crate) commit: Commit,
    /// Audit entries this change adds.
    audit: Vec<AuditEntry>,
    /// Outbound messages queued, with whether automation wrote them.
    queued: Vec<(MessageId, bool)>,
    /// The assignment state, loaded when this change may assign.
    assignment: Option<AssignmentDraft>,
    /// Who held the conversation when it was read.
    holder_before: Option<String>,
    /// Escalations raised by evaluating the draft, new since the history.
    pub(crate) escalations: Vec<Escalation>,
    /// Events to broadcast first once committed.
    announce: Vec<DeskEvent>,
    /// Automation's work for after the commit.
    after: Vec<After>,
    /// The desk's time for this change.
    pub(crate) now: DateTime<Utc>,
}

impl Draft {
    /// A change to a stored conversation read at `record.version`.
    pub(crate) fn existing(
        record: ConversationRecord,
        history: Vec<AuditEntry>,
        commit: Commit,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            expected: Some(record.version),
            holder_before: holder(&record),
            record,
            history,
            commit,
            audit: Vec::new(),
            queued: Vec::new(),
            assignment: None,
            escalations: Vec::new(),
            announce: Vec::new(),
            after: Vec::new(),
            now,
        }
    }

    /// A conversation this commit creates.
    pub(crate) fn new_conversation(
        record: ConversationRecord,
        commit: Commit,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            expected: None,
            holder_before: None,
            ..Self::existing(record, Vec::new(), commit, now)
        }
    }

    /// Whether this commit creates the conversation.
    pub(crate) fn is_new(&self) -> bool {
        self.expected.is_none()
    }

    /// The handle through which the draft is edited.
    pub(crate) fn change(&mut self) -> Change<'_> {
        Change {
            record: &mut self.record,
            audit: &mut self.audit,
            history: &self.history,
            commit: &mut self.commit,
            now: self.now,
            queued: &mut self.queued,
            assignment: &mut self.assignment,
            after: &mut self.after,
        }
    }

    /// Queues an event to broadcast before the others once committed.
    pub(crate) fn announce(&mut self, event: DeskEvent) {
        self.announce.push(event);
    }

    /// The audit entries this change adds so far.
    pub(crate) fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }
}

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
    pub(crate) assignment: &'a mut Option<AssignmentDraft>,
    /// Automation's work for after the commit.
    pub(crate) after: &'a mut Vec<After>,
}

impl Change<'_> {
    /// Records an audit entry on the record's conversation.
    pub(crate) fn note(&mut self, kind: AuditKind) {
        self.audit
            .push(AuditEntry::new(self.record.id, self.now, kind));
    }

    /// Marks `event` as seen (its dedupe key written with this change) and
    /// returns the stored message it updates.
    pub(crate) fn update_of(
        &mut self,
        event: &crate::domain::InboundEvent,
        message: crate::ids::MessageId,
    ) -> Result<&mut crate::domain::Message, DeskError> {
        self.commit
            .dedupe
            .push((event.channel, event.external_id.clone()));
        self.record
            .messages
            .iter_mut()
            .find(|m| m.id == message)
            .ok_or(DeskError::UnknownMessage(message))
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
        let outbound =
            super::outbound::outbound_for(self.record, text, visibility, &author, subject);
        self.queue_outbound(outbound, author)
    }

    /// Queues an outbound message already addressed.
    pub(crate) fn queue_outbound(
        &mut self,
        outbound: crate::channel::OutboundMessage,
        author: Author,
    ) -> MessageId {
        let id = outbound.id;
        let automated = matches!(author, Author::Bot);
        let mut message = Message::new(
            self.record.id,
            Direction::Outbound,
            author,
            outbound.visibility,
            outbound.text.clone(),
            self.now,
        );
        message.id = id;
        message.delivery = Some(DeliveryState::Queued);
        self.record.messages.push(message.clone());
        self.commit.messages.push(message);
        self.commit
            .outbox
            .push(OutboxItem::queued(self.record.id, outbound, self.now));
        self.queued.push((id, automated));
        id
    }

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

/// Outcome of a committed change.
pub(crate) struct Applied<T> {
    pub(crate) value: T,
    pub(crate) record: ConversationRecord,
    pub(crate) escalations: Vec<Escalation>,
    pub(crate) queued: Vec<(MessageId, bool)>,
}

impl Desk {
    /// Runs the policies on the draft (see [`Desk::evaluate`]) and keeps
    /// the escalations they raise.
    pub(crate) fn evaluate_draft(&self, draft: &mut Draft, trigger: Trigger) {
        let fresh = self.evaluate(
            &mut draft.record,
            &mut draft.history,
            &mut draft.audit,
            trigger,
            draft.now,
        );
        draft.escalations.extend(fresh);
    }

    /// Loads the assignment state into the draft, so automation can assign.
    pub(crate) async fn load_assignment_into(&self, draft: &mut Draft) -> Result<(), DeskError> {
        if self.inner.assigner.is_some() && draft.assignment.is_none() {
            draft.assignment = Some(self.load_assignment().await?);
        }
        Ok(())
    }

    /// Writes `draft` in one transaction: the conversation (inserted, or
    /// updated against the version it was read at), its audit entries,
    /// every other write of the draft, and the assignment state when the
    /// holder changed. Then the after-commit steps run. A store error,
    /// [`StoreError::Conflict`] included, is returned with nothing written
    /// and nothing run.
    pub(crate) async fn commit(&self, draft: Draft) -> Result<Applied<()>, DeskError> {
        let Draft {
            mut record,
            expected,
            mut commit,
            audit,
            queued,
            mut assignment,
            holder_before,
            escalations,
            announce,
            after,
            ..
        } = draft;
        self.settle_assignment(holder_before, &record, &mut assignment, &mut commit)
            .await?;
        record.version = expected.map_or(0, |v| v + 1);
        commit.audit.extend(audit);
        // The store ignores a written record's messages (the new and changed
        // ones are in `commit.messages`): the copy leaves them out, so its
        // cost does not grow with the conversation.
        let messages = std::mem::take(&mut record.messages);
        let written = record.clone();
        record.messages = messages;
        commit.conversations.push(match expected {
            None => ConversationWrite::Insert(written),
            Some(expected_version) => ConversationWrite::Update {
                record: written,
                expected_version,
            },
        });
        self.inner.store.apply(commit).await?;
        for event in announce {
            self.emit(event);
        }
        self.after_commit(&record, &escalations, &queued).await;
        // Boxed (see `run_after`): only when automation left work.
        if !after.is_empty() {
            self.run_after(record.id, after).await;
        }
        Ok(Applied {
            value: (),
            record,
            escalations,
            queued,
        })
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
            let record = self
                .inner
                .store
                .conversation(id)
                .await?
                .ok_or(DeskError::UnknownConversation(id))?;
            let history = self.inner.store.audit_trail(id).await?;
            let mut draft = Draft::existing(record, history, Commit::new(), self.inner.clock.now());
            self.load_assignment_into(&mut draft).await?;
            let value = f(&mut draft.change())?;
            self.evaluate_draft(&mut draft, trigger.clone());
            match self.commit(draft).await {
                Ok(applied) => {
                    return Ok(Applied {
                        value,
                        record: applied.record,
                        escalations: applied.escalations,
                        queued: applied.queued,
                    });
                }
                Err(DeskError::Store(StoreError::Conflict(reason))) => {
                    tracing::debug!(conversation = %id, %reason, "conflict; retrying");
                    tokio::task::yield_now().await;
                }
                Err(other) => return Err(other),
            }
        }
        Err(DeskError::Store(StoreError::Conflict(format!(
            "conversation {id} kept changing; gave up after {} attempts",
            self.inner.conflict_retries
        ))))
    }
}
