//! The outbox worker and the deadline tick.
//!
//! Delivery state machine: `queued → sending → sent → delivered/read`, or
//! `failed` (the platform refused for good), or `dead_lettered` (retries
//! exhausted). A claim leases items to one worker; intent is recorded
//! right before the platform is called (the item becomes `sending`), so a
//! worker that dies mid-send leaves only that item `sending`, and whoever
//! claims it next first asks the channel whether the message already went
//! out ([`Channel::find_sent`]). Items claimed but not yet attempted when a
//! worker dies are simply sent by the next one. A public message
//! whose fate cannot be checked is dead-lettered, never posted twice;
//! private messages are re-sent (at-least-once).
//!
//! [`Channel::find_sent`]: crate::Channel::find_sent

use super::{Desk, DeskError, DeskEvent};
use crate::channel::{Channel, ChannelError, ChannelKind, Delivery, DeliveryState, Visibility};
use crate::domain::AuditKind;
use crate::ids::{ConversationId, MessageId};
use crate::policy::Trigger;
use crate::store::{Claim, Commit, ConsentRecord, Lease, OutboxItem, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use std::sync::Arc;

fn actor_name(actor: &crate::domain::Actor) -> String {
    match actor {
        crate::domain::Actor::Agent(id) => format!("agent {id}"),
        crate::domain::Actor::Automation(rule) => format!("automation {rule}"),
        crate::domain::Actor::Customer => "the customer".into(),
        _ => "the desk".into(),
    }
}

/// Marks a send held back by a credential failure, so replacing the
/// credentials can release exactly those.
pub(crate) const HELD_FOR_CREDENTIALS: &str = "held for credentials: ";

/// Whether a channel can send. Stored, so every worker of a desk holds
/// and releases a channel's sends together.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChannelHealth {
    /// Sending normally.
    Healthy,
    /// Credentials failed; sends wait (nothing is lost) until `retry_at`.
    Degraded {
        /// The platform's reason.
        reason: String,
        /// Since when.
        since: DateTime<Utc>,
        /// When sends are tried again.
        retry_at: DateTime<Utc>,
    },
}

/// What one outbox round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxReport {
    /// Items claimed.
    pub claimed: usize,
    /// Accepted by the platform.
    pub sent: usize,
    /// Rescheduled after a retryable failure.
    pub retried: usize,
    /// Refused for good.
    pub failed: usize,
    /// Retries exhausted, or an unknown public outcome.
    pub dead_lettered: usize,
    /// Held back (channel degraded).
    pub deferred: usize,
}

/// What one deadline tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Conversations whose deadline had come.
    pub due: usize,
    /// Escalations raised.
    pub escalations: usize,
}

enum Outcome {
    Sent,
    Retried,
    Failed,
    Dead,
    Deferred,
}

/// How often the tick prunes the change feed (desk's clock).
const CHANGES_PRUNE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

impl Desk {
    /// Sends what is due in the outbox, once. Run it in a loop (see
    /// [`Desk::run`]) or from your own scheduler; several workers may share
    /// a store, each item goes to one of them.
    pub async fn run_outbox_once(&self) -> Result<OutboxReport, DeskError> {
        self.record_unrecorded().await;
        self.refresh_shared_state().await;
        let now = self.inner.clock.now();
        let claim = Claim {
            worker: self.inner.worker.clone(),
            now,
            lease: self.inner.outbox.lease,
            limit: self.inner.outbox.batch,
        };
        let items = self.inner.store.claim_outbox(&claim).await?;
        let mut report = OutboxReport {
            claimed: items.len(),
            ..OutboxReport::default()
        };
        // One conversation's replies go out in order; different
        // conversations go out concurrently.
        let mut groups: Vec<Vec<OutboxItem>> = Vec::new();
        for item in items {
            match groups
                .iter_mut()
                .find(|g| g[0].conversation_id == item.conversation_id)
            {
                Some(group) => group.push(item),
                None => groups.push(vec![item]),
            }
        }
        let outcomes: Vec<Vec<(MessageId, Result<Outcome, DeskError>)>> =
            futures::stream::iter(groups)
                .map(|group| async move {
                    let mut results = Vec::with_capacity(group.len());
                    for item in group {
                        let id = item.id;
                        results.push((id, self.deliver(item).await));
                    }
                    results
                })
                .buffer_unordered(self.inner.outbox.concurrency.max(1))
                .collect()
                .await;
        for (id, outcome) in outcomes.into_iter().flatten() {
            match outcome {
                Ok(Outcome::Sent) => report.sent += 1,
                Ok(Outcome::Retried) => report.retried += 1,
                Ok(Outcome::Failed) => report.failed += 1,
                Ok(Outcome::Dead) => report.dead_lettered += 1,
                Ok(Outcome::Deferred) => report.deferred += 1,
                Err(e) => {
                    // The lease will lapse and another round retries.
                    tracing::warn!(message = %id, error = %e, "could not record outbox outcome");
                }
            }
        }
        Ok(report)
    }

    /// The health of each channel that has had trouble.
    pub fn channel_health(&self) -> Vec<(ChannelKind, ChannelHealth)> {
        let health = self.inner.health.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = health.iter().map(|(k, h)| (*k, h.clone())).collect();
        all.sort_by_key(|(k, _)| *k);
        all
    }

    /// Marks a channel healthy again (after replacing its credentials), so
    /// its held sends go out on the next round, on every worker of the desk
    /// (stored; the others follow within `SHARED_STATE_MAX_AGE`).
    ///
    /// # Errors
    /// The store's; this worker is healthy regardless, the others follow
    /// at the next successful send.
    pub async fn reset_channel_health(&self, kind: ChannelKind) -> Result<(), DeskError> {
        let was = self
            .inner
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&kind);
        if matches!(was, Some(ChannelHealth::Degraded { .. })) {
            self.emit(DeskEvent::ChannelRecovered { channel: kind });
        }
        self.store_health(kind, &ChannelHealth::Healthy).await
    }

    fn degraded_until(&self, kind: ChannelKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let health = self.inner.health.lock().unwrap_or_else(|p| p.into_inner());
        match health.get(&kind) {
            Some(ChannelHealth::Degraded { retry_at, .. }) if *retry_at > now => Some(*retry_at),
            _ => None,
        }
    }

    async fn deliver(&self, mut item: OutboxItem) -> Result<Outcome, DeskError> {
        let unrecorded = self
            .inner
            .unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&item.id)
            .map(|(_, delivery)| delivery.clone());
        if let Some(delivery) = unrecorded {
            // Sent by this worker already; only its record is missing.
            return self.finish_sent(item, delivery).await;
        }
        let now = self.inner.clock.now();
        let kind = item.message.channel;
        let channel = match self.channel_for(kind, item.message.account.as_deref().unwrap_or("")) {
            Ok(c) => c,
            Err(e) => {
                return self
                    .finish_failed(item, DeliveryState::Failed, e.to_string(), None)
                    .await;
            }
        };
        if self.degraded_until(kind, now).is_some() {
            self.reread_health(kind).await;
        }
        if let Some(until) = self.degraded_until(kind, now) {
            item.state = DeliveryState::Queued;
            item.next_attempt_at = until;
            item.lease = None;
            item.last_error = Some(format!("{HELD_FOR_CREDENTIALS}{kind} is degraded"));
            self.write_item(item).await?;
            return Ok(Outcome::Deferred);
        }
        // An earlier attempt may have reached the platform: ask first, so
        // what went out before an opt-out is recorded as sent, not failed.
        if item.state == DeliveryState::Sending {
            // A worker died between claiming and recording: did it go out?
            match channel.find_sent(&item.message).await {
                Ok(Some(delivery)) => return self.finish_sent(item, delivery).await,
                Ok(None) => item.outcome_unknown = false,
                Err(ChannelError::Unsupported(_))
                    if item.message.visibility == Visibility::Public =>
                {
                    let reason = "an earlier send attempt's outcome is unknown and the platform cannot be checked; \
                                  not re-posting in public (check the platform, then retry after checking)";
                    item.outcome_unknown = true;
                    return self
                        .finish_failed(item, DeliveryState::DeadLettered, reason.into(), None)
                        .await;
                }
                // Private messages are sent again (at least once), but the
                // record keeps saying an earlier copy may be out there.
                Err(ChannelError::Unsupported(_)) => item.outcome_unknown = true,
                // Still unknown: stay `sending` so the next try asks again.
                Err(e) => return self.reschedule(item, &e, true).await,
            }
        }
        if let Some(recipient) = &item.message.recipient
            && item.message.visibility == Visibility::Private
            && self.opted_out(recipient.channel, &recipient.handle).await?
        {
            return self
                .finish_failed(
                    item,
                    DeliveryState::Failed,
                    ChannelError::OptedOut.to_string(),
                    None,
                )
                .await;
        }
        // Record the attempt before the platform sees it: after a crash,
        // only an item left `sending` may have gone out. Claimed items
        // that never got this far are sent normally.
        item.attempts += 1;
        item.state = DeliveryState::Sending;
        item.lease = Some(Lease {
            worker: self.inner.worker.clone(),
            until: now + self.inner.outbox.lease,
        });
        self.write_item(item.clone()).await?;
        match channel.send(&item.message).await {
            Ok(delivery) => {
                let degraded = self
                    .inner
                    .health
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(&kind);
                if degraded && let Err(e) = self.reset_channel_health(kind).await {
                    tracing::warn!(channel = %kind, error = %e, "recovery not stored");
                }
                self.finish_sent(item, delivery).await
            }
            Err(e) => self.handle_failure(item, &channel, e).await,
        }
    }

    async fn handle_failure(
        &self,
        mut item: OutboxItem,
        channel: &Arc<dyn Channel>,
        error: ChannelError,
    ) -> Result<Outcome, DeskError> {
        let now = self.inner.clock.now();
        let kind = channel.kind();
        match &error {
            ChannelError::Unauthorized { reason } => {
                // Not the message's fault: hold it, don't spend its attempts.
                item.attempts = item.attempts.saturating_sub(1);
                let retry_at = now + self.inner.outbox.credential_pause;
                let degraded = {
                    let mut health = self.inner.health.lock().unwrap_or_else(|p| p.into_inner());
                    let since = match health.get(&kind) {
                        Some(ChannelHealth::Degraded { since, .. }) => *since,
                        _ => now,
                    };
                    let degraded = ChannelHealth::Degraded {
                        reason: reason.clone(),
                        since,
                        retry_at,
                    };
                    health.insert(kind, degraded.clone());
                    degraded
                };
                // Every worker holds this channel's sends, not only this one.
                if let Err(e) = self.store_health(kind, &degraded).await {
                    tracing::warn!(channel = %kind, error = %e, "degradation not stored");
                }
                self.emit(DeskEvent::ChannelDegraded {
                    channel: kind,
                    reason: reason.clone(),
                });
                item.state = DeliveryState::Queued;
                item.next_attempt_at = retry_at;
                item.lease = None;
                item.last_error = Some(format!("{HELD_FOR_CREDENTIALS}{error}"));
                self.write_item(item).await?;
                Ok(Outcome::Deferred)
            }
            ChannelError::OptedOut => {
                let consent = item.message.recipient.as_ref().map(|r| ConsentRecord {
                    channel: r.channel,
                    handle: r.handle.clone(),
                    opted_in: false,
                    at: now,
                    source: "platform reported the recipient opted out".into(),
                });
                self.finish_failed(item, DeliveryState::Failed, error.to_string(), consent)
                    .await
            }
            ChannelError::RateLimited { .. } => {
                // The platform said when: not the message's fault, so it
                // does not spend the message's attempts.
                item.attempts = item.attempts.saturating_sub(1);
                self.reschedule(item, &error, false).await
            }
            e if e.is_retryable() && item.attempts < self.inner.outbox.max_attempts => {
                self.reschedule(item, e, e.outcome_unknown()).await
            }
            e if e.is_retryable() => {
                item.outcome_unknown |= e.outcome_unknown();
                let reason = format!("gave up after {} attempts: {e}", item.attempts);
                self.finish_failed(item, DeliveryState::DeadLettered, reason, None)
                    .await
            }
            e => {
                self.finish_failed(item, DeliveryState::Failed, e.to_string(), None)
                    .await
            }
        }
    }

    /// Schedules the next attempt. `unknown`: the platform may have taken
    /// the message, so the item stays `sending` and the next attempt asks
    /// the platform first (as after a crash) instead of posting blindly.
    async fn reschedule(
        &self,
        mut item: OutboxItem,
        error: &ChannelError,
        unknown: bool,
    ) -> Result<Outcome, DeskError> {
        let now = self.inner.clock.now();
        let cfg = &self.inner.outbox;
        let exponent = item.attempts.saturating_sub(1).min(16);
        let backoff = cfg.backoff * 2i32.pow(exponent);
        let backoff = backoff.min(cfg.max_backoff);
        let asked = error
            .retry_after()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or_default();
        item.state = if unknown {
            DeliveryState::Sending
        } else {
            DeliveryState::Queued
        };
        // A certain failure now does not clear an earlier attempt's doubt.
        item.outcome_unknown |= unknown;
        item.next_attempt_at = now + backoff.max(asked);
        item.lease = None;
        item.last_error = Some(error.to_string());
        self.write_item(item).await?;
        Ok(Outcome::Retried)
    }

    async fn write_item(&self, item: OutboxItem) -> Result<(), DeskError> {
        let mut commit = Commit::new();
        commit.outbox.push(item);
        Ok(self.inner.store.apply(commit).await?)
    }

    /// Records a send the platform accepted. Recording depends on nothing
    /// that can fail but the write itself: a thread key the send established
    /// is adopted only if no other open conversation holds it, and when the
    /// full record cannot be written for any reason the outbox item and the
    /// message are still marked sent on their own, so the message is never
    /// sent again. If even that fails (the store is down), this worker keeps
    /// the result and records it before its next round sends anything.
    async fn finish_sent(
        &self,
        mut item: OutboxItem,
        delivery: Delivery,
    ) -> Result<Outcome, DeskError> {
        let message_id = item.id;
        let kind = item.message.channel;
        item.state = delivery.state;
        item.provider_id = Some(delivery.provider_id.clone());
        item.lease = None;
        item.last_error = None;
        item.outcome_unknown = false;
        let mut result = self.record_sent(&item, &delivery, true).await;
        if let Err(DeskError::Store(StoreError::Constraint(reason))) = &result {
            tracing::warn!(message = %message_id, %reason, "sent; recording it without the thread key or identity it established");
            result = self.record_sent(&item, &delivery, false).await;
        }
        let conversation_id = match result {
            Ok(id) => id,
            Err(error) => {
                tracing::warn!(message = %message_id, %error, "sent, but the full record failed; marking it sent alone");
                if let Err(e) = self.record_sent_alone(&item, &delivery).await {
                    self.inner
                        .unrecorded
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(message_id, (item, delivery));
                    return Err(e);
                }
                item.conversation_id
            }
        };
        self.inner
            .unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&message_id);
        self.emit(DeskEvent::Delivery {
            conversation_id,
            message_id,
            channel: kind,
            state: delivery.state,
            error: None,
        });
        Ok(Outcome::Sent)
    }

    async fn record_sent(
        &self,
        item: &OutboxItem,
        delivery: &Delivery,
        adopt_thread_key: bool,
    ) -> Result<ConversationId, DeskError> {
        let message_id = item.id;
        // The platform named who it delivered to: link it to the customer
        // unless someone else already owns it (then only say so).
        let vouched = match delivery.recipient.as_ref().filter(|_| adopt_thread_key) {
            Some(identity) => Some((
                identity.clone(),
                self.inner
                    .store
                    .customer_by_identity(identity.channel, &identity.handle)
                    .await?
                    .map(|c| c.id),
            )),
            None => None,
        };
        let applied = self
            .mutate(item.conversation_id, Trigger::Outbound(message_id), |c| {
                c.mark_sent(message_id, delivery);
                if adopt_thread_key && c.record.thread_key.is_none() {
                    c.record.thread_key = delivery.thread_key.clone();
                }
                match &vouched {
                    Some((identity, None)) => {
                        let mut customer = c.record.customer.clone();
                        if customer.link(identity.clone()) {
                            c.commit.customers.push(customer.clone());
                            c.record.customer = customer;
                        }
                        if c.record.visibility == Visibility::Private
                            && identity.channel == c.record.channel
                        {
                            c.record.contact = Some(identity.clone());
                        }
                    }
                    Some((identity, Some(owner)))
                        if *owner == c.record.customer.id
                            && c.record.visibility == Visibility::Private
                            && identity.channel == c.record.channel =>
                    {
                        c.record.contact = Some(identity.clone());
                    }
                    Some((identity, Some(owner))) if *owner != c.record.customer.id => {
                        c.note(AuditKind::Note {
                            text: format!(
                                "the platform delivered to {} {}, which belongs to customer {owner}; not linked (merge them if they are one person)",
                                identity.channel, identity.handle
                            ),
                        });
                    }
                    _ => {}
                }
                c.commit.outbox.push(item.clone());
                c.note(AuditKind::Delivery {
                    message_id,
                    state: delivery.state,
                    error: None,
                });
                Ok(())
            })
            .await?;
        Ok(applied.record.id)
    }

    /// Marks the outbox item and the message sent, touching nothing that
    /// carries a constraint (no conversation, customer or dedupe key).
    async fn record_sent_alone(
        &self,
        item: &OutboxItem,
        delivery: &Delivery,
    ) -> Result<(), DeskError> {
        let mut commit = Commit::new();
        commit.outbox.push(item.clone());
        if let Some(record) = self.inner.store.conversation(item.conversation_id).await?
            && let Some(message) = record.message(item.id)
        {
            let mut message = message.clone();
            message.delivery = Some(delivery.state);
            message.delivery_error = None;
            message.external_id = Some(delivery.provider_id.clone());
            commit.messages.push(message);
        }
        Ok(self.inner.store.apply(commit).await?)
    }

    /// Records sends this worker made but could not record yet.
    async fn record_unrecorded(&self) {
        let pending: Vec<(OutboxItem, Delivery)> = self
            .inner
            .unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for (item, delivery) in pending {
            if let Err(e) = self.finish_sent(item, delivery).await {
                tracing::warn!(error = %e, "a sent message is still not recorded");
            }
        }
    }

    async fn finish_failed(
        &self,
        mut item: OutboxItem,
        state: DeliveryState,
        reason: String,
        consent: Option<ConsentRecord>,
    ) -> Result<Outcome, DeskError> {
        let message_id = item.id;
        let kind = item.message.channel;
        item.state = state;
        item.lease = None;
        item.last_error = Some(reason.clone());
        let applied = self
            .mutate(item.conversation_id, Trigger::Changed, |c| {
                if let Some(m) = c.record.messages.iter_mut().find(|m| m.id == message_id) {
                    if m.delivery.is_some_and(DeliveryState::is_accepted) {
                        // An echo showed it went out after all.
                        return Ok(());
                    }
                    m.delivery = Some(state);
                    m.delivery_error = Some(reason.clone());
                    c.commit.messages.push(m.clone());
                }
                c.commit.outbox.push(item.clone());
                c.commit.consent.extend(consent.clone());
                c.note(AuditKind::Delivery {
                    message_id,
                    state,
                    error: Some(reason.clone()),
                });
                Ok(())
            })
            .await?;
        self.emit(DeskEvent::Delivery {
            conversation_id: applied.record.id,
            message_id,
            channel: kind,
            state,
            error: Some(reason),
        });
        Ok(if state == DeliveryState::DeadLettered {
            Outcome::Dead
        } else {
            Outcome::Failed
        })
    }

    /// Sends a failed or dead-lettered message again, now. Nothing else
    /// can be retried: a message queued or being sent is the outbox's, and
    /// one the platform accepted is done
    /// ([`DeskError::NotRetryable`]). When the last attempt's outcome is
    /// unknown (it may be on the platform already), the desk asks the
    /// platform first, as after a crash; where the platform cannot be asked
    /// and the message is public it stays dead-lettered until a person
    /// checked ([`Desk::retry_message_after_check`]).
    pub async fn retry_message(&self, message_id: MessageId) -> Result<(), DeskError> {
        self.requeue(message_id, None, false).await
    }

    /// [`Desk::retry_message`] on behalf of `by`, who is named in the
    /// audit trail. An unknown outcome is not cleared: the platform is
    /// asked first, as without a person.
    pub async fn retry_message_by(
        &self,
        message_id: MessageId,
        by: crate::domain::Actor,
    ) -> Result<(), DeskError> {
        self.requeue(message_id, Some(by), false).await
    }

    /// Sends a failed or dead-lettered message again after `by` checked on
    /// the platform that it is not there: the unknown outcome of its last
    /// attempt is cleared (and audited with who checked), so it is sent
    /// without asking the platform.
    pub async fn retry_message_after_check(
        &self,
        message_id: MessageId,
        by: crate::domain::Actor,
    ) -> Result<(), DeskError> {
        self.requeue(message_id, Some(by), true).await
    }

    async fn requeue(
        &self,
        message_id: MessageId,
        by: Option<crate::domain::Actor>,
        checked: bool,
    ) -> Result<(), DeskError> {
        let read = self
            .inner
            .store
            .outbox_item(message_id)
            .await?
            .ok_or(DeskError::UnknownMessage(message_id))?;
        if !matches!(
            read.state,
            DeliveryState::Failed | DeliveryState::DeadLettered
        ) {
            return Err(DeskError::NotRetryable { state: read.state });
        }
        let was = read.state;
        let mut item = read;
        if checked {
            item.outcome_unknown = false;
        }
        // An unknown outcome goes back as `sending`: the next attempt asks
        // the platform before it posts anything.
        item.state = if item.outcome_unknown {
            DeliveryState::Sending
        } else {
            DeliveryState::Queued
        };
        item.attempts = 0;
        item.lease = None;
        item.last_error = None;
        let state = item.state;
        self.mutate(item.conversation_id, Trigger::Changed, |c| {
            item.next_attempt_at = c.now;
            if let Some(m) = c.record.messages.iter_mut().find(|m| m.id == message_id) {
                m.delivery = Some(state);
                m.delivery_error = None;
                c.commit.messages.push(m.clone());
            }
            c.commit.outbox.push(item.clone());
            c.commit.outbox_expect.push((message_id, was));
            match &by {
                Some(by) if checked => c.note(AuditKind::Note {
                    text: format!(
                        "{} checked the platform: message {message_id} is not there; sending it again",
                        actor_name(by)
                    ),
                }),
                Some(by) => c.note(AuditKind::Note {
                    text: format!("{} sent message {message_id} again", actor_name(by)),
                }),
                None => {}
            }
            c.note(AuditKind::Delivery {
                message_id,
                state,
                error: None,
            });
            Ok(())
        })
        .await
        .map_err(|e| match e {
            // Someone else requeued or changed it since it was read.
            DeskError::Store(StoreError::Conflict(_)) => DeskError::NotRetryable { state: was },
            other => other,
        })?;
        Ok(())
    }

    /// Evaluates every conversation whose deadline has come (SLA warnings,
    /// breaches, snoozes ending). Several workers may tick one store; each
    /// conversation goes to one of them.
    pub async fn tick(&self) -> Result<TickReport, DeskError> {
        let now = self.inner.clock.now();
        let claim = Claim {
            worker: self.inner.worker.clone(),
            now,
            lease: self.inner.outbox.lease,
            limit: 1024,
        };
        let due = self.inner.store.claim_due(&claim).await?;
        let mut report = TickReport {
            due: due.len(),
            escalations: 0,
        };
        for id in due {
            let applied = self
                .mutate(id, Trigger::Deadline, |c| {
                    if let crate::domain::Status::Snoozed { until } = c.record.status
                        && until <= c.now
                    {
                        c.set_status(crate::domain::Status::Open, crate::domain::Actor::System);
                    }
                    Ok(())
                })
                .await;
            match applied {
                Ok(applied) => report.escalations += applied.escalations.len(),
                Err(e) => {
                    tracing::warn!(conversation = %id, error = %e, "deadline evaluation failed")
                }
            }
        }
        self.prune_changes_when_due(now).await;
        Ok(report)
    }

    /// Prunes the store's change feed to its newest `changes_kept` changes,
    /// at most once a minute of the desk's clock. Every worker may do it:
    /// pruning twice keeps the same changes. A failure is logged, and the
    /// next minute tries again.
    async fn prune_changes_when_due(&self, now: chrono::DateTime<chrono::Utc>) {
        {
            let mut last = self
                .inner
                .changes_pruned_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| now - at < CHANGES_PRUNE_EVERY) {
                return;
            }
            *last = Some(now);
        }
        match self
            .inner
            .store
            .prune_changes(self.inner.changes_kept)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "change feed pruned"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the change feed"),
        }
    }

    /// Runs the outbox and the deadline tick until `shutdown` completes,
    /// polling every `every`. In-flight work finishes before it returns.
    pub async fn run(
        &self,
        every: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.run_outbox_once().await {
                Ok(report) => report.claimed > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox round failed");
                    false
                }
            };
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "deadline tick failed");
            }
            if busy {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::task::yield_now() => {}
                }
            } else {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        }
    }
}
