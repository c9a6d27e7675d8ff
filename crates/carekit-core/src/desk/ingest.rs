//! `Desk::ingest`: one inbound event in, one commit out.
//!
//! 1. validate; 2. dedupe on `(channel, external_id)`; 3. classify;
//! 4. resolve the customer; 5. thread; 6. update the conversation;
//! 7. evaluate policies; 8. run rules; 9. commit everything at once;
//! 10. after the commit: notify, hand off, hide, broadcast.
//!
//! A conflict with another worker restarts from step 4 on fresh data.

use super::commit::Draft;
use super::thread::Target;
use super::{Desk, DeskError, DeskEvent};
use crate::channel::{ChannelKind, Delivery, DeliveryState};
use crate::classify::Classification;
use crate::domain::{
    Actor, AuditKind, Author, ConversationRecord, Customer, Direction, EventKind, InboundEvent,
    Message, Status, ThreadDecision,
};
use crate::ids::{ConversationId, MessageId};
use crate::policy::{Escalation, Trigger};
use crate::store::{Commit, ConsentRecord, ConversationWrite, StoreError};
use chrono::{DateTime, Utc};

/// What ingesting one event did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum IngestOutcome {
    /// A message was stored and threaded.
    Ingested {
        /// Its conversation.
        conversation_id: ConversationId,
        /// The stored message.
        message_id: MessageId,
        /// Why it went there.
        decision: ThreadDecision,
        /// It opened a new conversation.
        new_conversation: bool,
        /// Escalations it raised.
        escalations: Vec<Escalation>,
        /// Replies automation queued.
        queued: Vec<MessageId>,
    },
    /// The event was stored before; nothing changed.
    Duplicate,
    /// The platform echoed a message the desk sent: it was resolved to that
    /// message (marked sent if its own result had not been recorded yet),
    /// never stored a second time.
    Echoed {
        /// The conversation.
        conversation_id: ConversationId,
        /// The message the desk sent.
        message_id: MessageId,
    },
    /// An earlier message or delivery state was updated.
    Updated {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// An opt-in or opt-out was stored.
    Consent {
        /// The new state.
        opted_in: bool,
    },
    /// Stored as seen, but nothing to do (reason given).
    Skipped {
        /// Why.
        reason: String,
    },
}

impl IngestOutcome {
    /// The conversation touched, if any.
    pub fn conversation_id(&self) -> Option<ConversationId> {
        match self {
            IngestOutcome::Ingested {
                conversation_id, ..
            }
            | IngestOutcome::Updated { conversation_id }
            | IngestOutcome::Echoed {
                conversation_id, ..
            } => Some(*conversation_id),
            _ => None,
        }
    }
    /// Whether the event was a replay.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, IngestOutcome::Duplicate)
    }
}

impl Desk {
    /// Takes one inbound event: dedupes it, threads it into a conversation,
    /// classifies it, evaluates policies and rules, and stores all of it in
    /// one commit. Replaying the same event returns
    /// [`IngestOutcome::Duplicate`] and changes nothing.
    ///
    /// # Errors
    /// [`DeskError::InvalidEvent`] for unusable events (nothing is stored);
    /// [`DeskError::Store`] when the store fails (nothing is stored, the
    /// platform should retry).
    pub async fn ingest(&self, event: InboundEvent) -> Result<IngestOutcome, DeskError> {
        event.validate().map_err(DeskError::InvalidEvent)?;
        let store = &self.inner.store;
        if store.seen(event.channel, &event.external_id).await? {
            return Ok(self.duplicate(&event));
        }
        let classification = self.classify(&event).await;
        self.refresh_shared_state().await;
        // One thread at a time in this process; other processes sharing
        // the store are kept apart by the store's conflict checks.
        let _turn = self.inner.ingest_stripes.lock(&event).await;
        let mut last_conflict = String::new();
        let mut constraint_retries = 0;
        for attempt_no in 0..self.inner.conflict_retries {
            let attempt = match &event.kind {
                EventKind::Message | EventKind::Echo => {
                    self.try_message(&event, classification.clone()).await
                }
                EventKind::Edited | EventKind::Removed => self.try_change(&event).await,
                EventKind::Delivery {
                    provider_id,
                    state,
                    error,
                } => {
                    self.try_delivery(&event, provider_id, *state, error.clone())
                        .await
                }
                EventKind::Consent { opted_in } => self.try_consent(&event, *opted_in).await,
            };
            match attempt {
                Err(DeskError::Store(StoreError::Duplicate { .. })) => {
                    return Ok(self.duplicate(&event));
                }
                Err(DeskError::Store(StoreError::Conflict(reason))) => {
                    tracing::debug!(external_id = %event.external_id, %reason, "ingest conflict; retrying");
                    last_conflict = reason;
                    tokio::time::sleep(conflict_backoff(attempt_no, &event.external_id)).await;
                }
                // Another worker may have just created the customer or the
                // thread's conversation: reading again finds it. A rule that
                // still fails on fresh data is not contention.
                Err(DeskError::Store(StoreError::Constraint(reason)))
                    if constraint_retries < MAX_CONSTRAINT_RETRIES =>
                {
                    tracing::debug!(external_id = %event.external_id, %reason, "ingest constraint; reading again");
                    constraint_retries += 1;
                    tokio::time::sleep(conflict_backoff(attempt_no, &event.external_id)).await;
                }
                other => return other,
            }
        }
        Err(DeskError::Store(StoreError::Conflict(format!(
            "gave up after {} attempts: {last_conflict}",
            self.inner.conflict_retries
        ))))
    }

    fn duplicate(&self, event: &InboundEvent) -> IngestOutcome {
        self.emit(DeskEvent::Duplicate {
            channel: event.channel,
            external_id: event.external_id.clone(),
        });
        IngestOutcome::Duplicate
    }

    async fn classify(&self, event: &InboundEvent) -> Option<Classification> {
        if event.kind != EventKind::Message
            || event.text.trim().is_empty()
            || self.inner.classifiers.is_empty()
        {
            return None;
        }
        let mut merged = Classification::default();
        for classifier in &self.inner.classifiers {
            merged.merge(classifier.classify(&event.text).await);
        }
        Some(merged)
    }

    async fn resolve_customer(&self, event: &InboundEvent) -> Result<(Customer, bool), DeskError> {
        let now = self.inner.clock.now();
        let found = self
            .inner
            .store
            .customer_by_identity(event.channel, &event.author.handle)
            .await?;
        let (mut customer, mut dirty) = match found {
            Some(c) => (c, false),
            None => (Customer::new(event.author.clone(), now), true),
        };
        if let Some(name) = &event.author.display_name
            && let Some(identity) = customer
                .identities
                .iter_mut()
                .find(|i| i.same_account(&event.author))
            && identity.display_name.as_ref() != Some(name)
        {
            identity.display_name = Some(name.clone());
            if customer.name.is_none() {
                customer.name = Some(name.clone());
            }
            dirty = true;
        }
        let before = customer.followers;
        customer.observe_profile(&event.author_profile);
        dirty |= before != customer.followers;
        Ok((customer, dirty))
    }

    async fn try_message(
        &self,
        event: &InboundEvent,
        classification: Option<Classification>,
    ) -> Result<IngestOutcome, DeskError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let echo = event.kind == EventKind::Echo;
        if echo
            && let Some(found) = store
                .locate_message(event.channel, &event.external_id)
                .await?
        {
            // The platform echoes a message the desk sent and recorded.
            return self
                .resolved_echo(event, found.conversation_id, found.message_id)
                .await;
        }
        let (customer, customer_dirty) = self.resolve_customer(event).await?;
        let target = self.thread(event, &customer, echo).await?;
        if echo {
            match &target {
                Target::New { .. } => {
                    return self
                        .skip(
                            event,
                            "echo of a brand message outside any known conversation".into(),
                        )
                        .await;
                }
                Target::Existing { record, .. } => {
                    for (sent, recorded) in desk_sends_like(record, &event.text) {
                        // Unrecorded: the echo overtook the send's own result.
                        // Recorded: a send tried more than once may have
                        // reached the platform twice; both copies are it.
                        let retried = recorded
                            && store
                                .outbox_item(sent)
                                .await?
                                .is_some_and(|item| item.attempts > 1);
                        if !recorded || retried {
                            return self.resolved_echo(event, record.id, sent).await;
                        }
                    }
                }
            }
        }
        let (at, platform_at) = self.inbound_time(event.occurred_at, now);
        let mut commit = Commit::new();
        commit
            .dedupe
            .push((event.channel, event.external_id.clone()));
        let mut participant = false;
        let (mut draft, rule, explanation) = match target {
            Target::Existing {
                record,
                rule,
                explanation,
                participant: other,
            } => {
                participant = other;
                let history = store.audit_trail(record.id).await?;
                (
                    Draft::existing(*record, history, commit, now),
                    rule,
                    explanation,
                )
            }
            Target::New {
                rule,
                explanation,
                thread_key,
                link_to,
            } => {
                let mut record = ConversationRecord::new(
                    event.channel,
                    event.account.clone(),
                    event.visibility,
                    customer.clone(),
                    at,
                );
                record.thread_key = thread_key.or_else(|| event.thread.key.clone());
                record.subject = event.subject.clone();
                if let Some(owner) = link_to {
                    record.linked.push(owner.id);
                    let mut owner = *owner;
                    let expected_version = owner.version;
                    owner.linked.push(record.id);
                    owner.version += 1;
                    commit.audit.push(crate::AuditEntry::new(
                        owner.id,
                        now,
                        AuditKind::Linked { other: record.id },
                    ));
                    commit.audit.push(crate::AuditEntry::new(
                        record.id,
                        now,
                        AuditKind::Linked { other: owner.id },
                    ));
                    commit.conversations.push(ConversationWrite::Update {
                        record: owner,
                        expected_version,
                    });
                }
                (
                    Draft::new_conversation(record, commit, now),
                    rule,
                    explanation,
                )
            }
        };
        let new_conversation = draft.is_new();
        // Ingest never changes whose conversation it is: threading sent
        // every other author to a conversation of their own, and an echo's
        // "author" is only the person the brand wrote to.
        if !echo && draft.record.customer.id == customer.id {
            if customer_dirty {
                draft.commit.customers.push(customer.clone());
            }
            draft.record.customer = customer.clone();
            // The customer wrote from this handle: answer there.
            draft.record.contact = Some(event.author.clone());
        } else if participant {
            if customer_dirty {
                draft.commit.customers.push(customer.clone());
            }
            if !draft
                .record
                .participants
                .iter()
                .any(|i| i.same_account(&event.author))
            {
                draft.record.participants.push(event.author.clone());
            }
        } else if !echo {
            return Err(DeskError::Config(format!(
                "threading put a message by customer {} into conversation {} of customer {}",
                customer.id, draft.record.id, draft.record.customer.id
            )));
        }
        let adopt_key = match (&draft.record.thread_key, &event.thread.key) {
            (None, Some(key)) if !new_conversation => {
                self.key_is_free(&draft.record, &event.account, key).await?
            }
            _ => true,
        };
        let message = Message {
            id: MessageId::new(),
            conversation_id: draft.record.id,
            direction: if echo {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            author: if echo {
                Author::Brand
            } else if participant {
                Author::Participant(customer.id)
            } else {
                Author::Customer(draft.record.customer.id)
            },
            visibility: event.visibility,
            external_id: Some(event.external_id.clone()),
            text: event.text.clone(),
            attachments: event.attachments.clone(),
            at,
            delivery: echo.then_some(DeliveryState::Sent),
            delivery_error: None,
            classification,
            hidden: false,
            original_text: event.original_text.clone(),
            raw: event.raw.clone(),
            platform_at,
        };
        let mut reopened = false;
        {
            let mut change = draft.change();
            if echo {
                let r = &mut *change.record;
                r.last_outbound_at = r.last_outbound_at.max(Some(at));
                r.first_response_at.get_or_insert(at);
                r.first_human_response_at.get_or_insert(at);
            } else {
                match change.record.status {
                    Status::Resolved => {
                        change.set_status(Status::Open, Actor::Customer);
                        reopened = true;
                    }
                    Status::Pending | Status::Snoozed { .. } => {
                        change.set_status(Status::Open, Actor::Customer)
                    }
                    _ => {}
                }
                let r = &mut *change.record;
                r.last_inbound_at = r.last_inbound_at.max(Some(at));
                r.awaiting_customer = false;
            }
            if change.record.account.is_empty() {
                // A conversation a handoff opened before the brand account
                // was known takes the account the customer wrote to.
                change.record.account = event.account.clone();
            }
            if change.record.thread_key.is_none() && adopt_key {
                change.record.thread_key = event.thread.key.clone();
            }
            change.record.messages.push(message.clone());
            change.commit.messages.push(message.clone());
            let decision = ThreadDecision {
                message_id: message.id,
                conversation_id: change.record.id,
                rule: rule.clone(),
                reopened,
                explanation: if reopened {
                    format!("{explanation}; reopened a resolved conversation")
                } else {
                    explanation
                },
            };
            change.note(AuditKind::Threaded(decision));
            if let Some(stated) = platform_at {
                change.note(AuditKind::Note {
                    text: format!(
                        "the platform dated this message {stated}, ahead of the desk's clock; recorded at {at}"
                    ),
                });
            }
        }
        let trigger = if echo {
            Trigger::Outbound(message.id)
        } else {
            Trigger::Inbound(message.id)
        };
        self.evaluate_draft(&mut draft, trigger);
        // Automation answers the customer, never on a participant's behalf.
        if !echo && !participant {
            self.run_rules(&mut draft, event, &message).await?;
        }
        let decision = draft
            .audit()
            .iter()
            .find_map(|e| match &e.kind {
                AuditKind::Threaded(d) if d.message_id == message.id => Some(d.clone()),
                _ => None,
            })
            .ok_or_else(|| DeskError::Config("threading decision missing".into()))?;
        draft.announce(DeskEvent::Ingested {
            channel: event.channel,
            decision: decision.clone(),
        });
        let applied = self.commit(draft).await?;
        Ok(IngestOutcome::Ingested {
            conversation_id: applied.record.id,
            message_id: message.id,
            decision,
            new_conversation,
            escalations: applied.escalations,
            queued: applied.queued.into_iter().map(|(id, _)| id).collect(),
        })
    }

    /// Records that the platform echoed `message_id`, a message the desk
    /// sent: remembers the echo's id (so a replay is a duplicate) and, when
    /// the send's own result is not recorded yet, marks the message sent
    /// under that id so the outbox never sends it again.
    async fn resolved_echo(
        &self,
        event: &InboundEvent,
        conversation_id: ConversationId,
        message_id: MessageId,
    ) -> Result<IngestOutcome, DeskError> {
        let item = self.inner.store.outbox_item(message_id).await?;
        let newly_sent = item.as_ref().is_some_and(|i| !i.state.is_accepted());
        let trigger = if newly_sent {
            Trigger::Outbound(message_id)
        } else {
            Trigger::Changed
        };
        let delivery = Delivery::sent(event.external_id.clone());
        self.mutate(conversation_id, trigger, |c| {
            c.commit
                .dedupe
                .push((event.channel, event.external_id.clone()));
            let recorded = c
                .record
                .message(message_id)
                .is_some_and(|m| m.external_id.is_some());
            if !recorded {
                c.mark_sent(message_id, &delivery);
            }
            if let Some(mut item) = item.clone()
                && !item.state.is_accepted()
            {
                item.state = DeliveryState::Sent;
                item.provider_id = Some(event.external_id.clone());
                item.lease = None;
                item.last_error = None;
                c.commit.outbox.push(item);
                c.note(AuditKind::Delivery {
                    message_id,
                    state: DeliveryState::Sent,
                    error: None,
                });
            }
            c.note(AuditKind::Note {
                text: format!(
                    "the platform echoed message {message_id} as {}: recorded once",
                    event.external_id
                ),
            });
            Ok(())
        })
        .await?;
        Ok(IngestOutcome::Echoed {
            conversation_id,
            message_id,
        })
    }

    /// The time to record for an inbound event: the platform's, unless it
    /// lies ahead of the desk's clock by more than [`MAX_FUTURE_SKEW`]
    /// (a wrong clock, or a forged date), then the desk's, with the
    /// platform's kept for display.
    pub(crate) fn inbound_time(
        &self,
        stated: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        if stated > now + MAX_FUTURE_SKEW {
            (now, Some(stated))
        } else {
            (stated, None)
        }
    }

    /// Whether an existing conversation may take the thread key `key`: no
    /// other open conversation holds it (taking it would break a rule of the
    /// store that no retry mends, and the message would never be stored).
    async fn key_is_free(
        &self,
        record: &ConversationRecord,
        account: &str,
        key: &crate::ids::ThreadKey,
    ) -> Result<bool, DeskError> {
        let account = if record.account.is_empty() {
            account
        } else {
            &record.account
        };
        let holder = self
            .inner
            .store
            .conversation_by_thread(record.channel, account, key)
            .await?;
        Ok(match holder {
            None => true,
            Some(id) if id == record.id => true,
            Some(id) => self.load(id).await?.status == Status::Closed,
        })
    }

    /// Stores the event's dedupe key (so a replay is recognised) and reports
    /// why nothing else was done.
    async fn skip(&self, event: &InboundEvent, reason: String) -> Result<IngestOutcome, DeskError> {
        let mut commit = Commit::new();
        commit
            .dedupe
            .push((event.channel, event.external_id.clone()));
        self.inner.store.apply(commit).await?;
        Ok(IngestOutcome::Skipped { reason })
    }

    async fn try_change(&self, event: &InboundEvent) -> Result<IngestOutcome, DeskError> {
        let store = &self.inner.store;
        let target = match event.thread.parents.first() {
            Some(parent) => store.locate_message(event.channel, parent).await?,
            None => None,
        };
        let Some(found) = target else {
            return self
                .skip(
                    event,
                    "edit or removal of a message that is not stored".into(),
                )
                .await;
        };
        let removed = event.kind == EventKind::Removed;
        let applied = self
            .mutate(found.conversation_id, Trigger::Changed, |c| {
                let message = c.update_of(event, found.message_id)?;
                let text = if removed {
                    format!(
                        "customer removed message {}; its text is kept here",
                        message.external_id.as_deref().unwrap_or("?")
                    )
                } else {
                    let previous = std::mem::replace(&mut message.text, event.text.clone());
                    let updated = message.clone();
                    c.commit.messages.push(updated);
                    format!("customer edited their message; previous text: {previous}")
                };
                c.note(AuditKind::Note { text });
                Ok(())
            })
            .await?;
        Ok(IngestOutcome::Updated {
            conversation_id: applied.record.id,
        })
    }

    async fn try_delivery(
        &self,
        event: &InboundEvent,
        provider_id: &str,
        state: DeliveryState,
        error: Option<String>,
    ) -> Result<IngestOutcome, DeskError> {
        let store = &self.inner.store;
        let Some(found) = store.locate_message(event.channel, provider_id).await? else {
            return self
                .skip(
                    event,
                    format!("delivery update for unknown message {provider_id}"),
                )
                .await;
        };
        let item = store.outbox_item(found.message_id).await?;
        let applied = self
            .mutate(found.conversation_id, Trigger::Changed, |c| {
                let message = c.update_of(event, found.message_id)?;
                let current = message.delivery.unwrap_or(DeliveryState::Sent);
                if state.rank() <= current.rank() {
                    return Ok(false);
                }
                message.delivery = Some(state);
                message.delivery_error = error.clone();
                let updated = message.clone();
                c.commit.messages.push(updated);
                if let Some(mut item) = item.clone() {
                    item.state = state;
                    item.last_error = error.clone();
                    c.commit.outbox.push(item);
                }
                c.note(AuditKind::Delivery {
                    message_id: found.message_id,
                    state,
                    error: error.clone(),
                });
                Ok(true)
            })
            .await?;
        if applied.value {
            self.emit(DeskEvent::Delivery {
                conversation_id: applied.record.id,
                message_id: found.message_id,
                channel: event.channel,
                state,
                error,
            });
        }
        Ok(IngestOutcome::Updated {
            conversation_id: applied.record.id,
        })
    }

    async fn try_consent(
        &self,
        event: &InboundEvent,
        opted_in: bool,
    ) -> Result<IngestOutcome, DeskError> {
        let mut commit = Commit::new();
        commit
            .dedupe
            .push((event.channel, event.external_id.clone()));
        let (at, _) = self.inbound_time(event.occurred_at, self.inner.clock.now());
        commit.consent.push(ConsentRecord {
            channel: event.channel,
            handle: event.author.handle.clone(),
            opted_in,
            at,
            source: format!("customer message {}", event.external_id),
        });
        self.inner.store.apply(commit).await?;
        tracing::info!(channel = %event.channel, opted_in, "consent recorded");
        Ok(IngestOutcome::Consent { opted_in })
    }

    /// Whether the customer opted out of `channel` for `handle`.
    pub async fn opted_out(&self, channel: ChannelKind, handle: &str) -> Result<bool, DeskError> {
        Ok(self
            .inner
            .store
            .consent(channel, handle)
            .await?
            .is_some_and(|c| !c.opted_in))
    }
}

/// How far ahead of the desk's clock a platform's time may be and still be
/// taken as stated.
pub const MAX_FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// The desk's own messages in `record` that an echo with `echoed` text may
/// stand for, with whether each send is recorded as accepted: same words
/// (platforms add leading mentions, wrap links and escape `&`, `<`, `>`),
/// written by the desk, unrecorded ones first, newest first.
fn desk_sends_like(record: &ConversationRecord, echoed: &str) -> Vec<(MessageId, bool)> {
    let echoed = comparable(echoed);
    if echoed.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(MessageId, bool)> = record
        .messages
        .iter()
        .rev()
        .filter(|m| {
            m.direction == Direction::Outbound && matches!(m.author, Author::Agent(_) | Author::Bot)
        })
        .filter(|m| comparable(&m.text) == echoed)
        .map(|m| {
            let recorded =
                m.external_id.is_some() || m.delivery.is_some_and(DeliveryState::is_accepted);
            (m.id, recorded)
        })
        .collect();
    found.sort_by_key(|(_, recorded)| *recorded);
    found
}

fn comparable(text: &str) -> String {
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    text.split_whitespace()
        .skip_while(|w| w.starts_with('@'))
        .filter(|w| !(w.starts_with("http://") || w.starts_with("https://")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How often ingest reads again after a constraint failed: enough for a
/// racing insert by another worker to become visible.
const MAX_CONSTRAINT_RETRIES: usize = 2;

/// Striped locks over thread keys: bounded memory, and events of one
/// thread (or, without a thread, one author) take turns.
pub(crate) struct Stripes(Vec<tokio::sync::Mutex<()>>);

const STRIPES: usize = 1024;

impl Default for Stripes {
    fn default() -> Self {
        Self((0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect())
    }
}

impl Stripes {
    async fn lock(&self, event: &InboundEvent) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        event.channel.hash(&mut hasher);
        event.account.hash(&mut hasher);
        match &event.thread.key {
            Some(key) => key.as_str().hash(&mut hasher),
            None => event.author.handle.hash(&mut hasher),
        }
        let index = (hasher.finish() % STRIPES as u64) as usize;
        self.0[index].lock().await
    }
}

/// A short, growing, per-event jittered pause before retrying a conflict,
/// so writers in other processes stop colliding in lockstep.
fn conflict_backoff(attempt: usize, external_id: &str) -> std::time::Duration {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (external_id, attempt).hash(&mut hasher);
    let base_ms = 2u64 << attempt.min(6);
    std::time::Duration::from_millis(base_ms + hasher.finish() % (base_ms + 1))
}
