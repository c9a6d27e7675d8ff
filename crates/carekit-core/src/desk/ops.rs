//! What people (and apps) do to conversations: reply, hand off, hide,
//! resolve, snooze, assign, tag.

use super::outbound::outbound_for;
use super::{Desk, DeskError, DeskEvent, StatusChange};
use crate::channel::{ChannelError, ChannelKind, DeliveryState, Visibility};
use crate::domain::{
    Actor, AuditKind, Author, ConversationRecord, Customer, Direction, Identity, Message, Priority,
    Status,
};
use crate::ids::{ConversationId, MessageId};
use crate::policy::Trigger;
use crate::store::{ConversationWrite, OutboxItem, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A reply to send in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplyRequest {
    /// The text.
    pub text: String,
    /// Who writes it.
    pub author: Author,
    /// Public or private; `None` answers where the customer wrote.
    pub visibility: Option<Visibility>,
    /// A subject (email); default `Re:` the conversation's subject.
    pub subject: Option<String>,
}

impl ReplyRequest {
    /// A reply written by the agent `agent_id`.
    pub fn agent(agent_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            author: Author::Agent(agent_id.into()),
            visibility: None,
            subject: None,
        }
    }
    /// A reply written by automation.
    pub fn bot(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            author: Author::Bot,
            visibility: None,
            subject: None,
        }
    }
    /// Sets the visibility.
    pub fn with_visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = Some(visibility);
        self
    }
    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

/// Moving a public conversation to a private channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HandoffRequest {
    /// The private channel (the same platform's DMs, SMS, email).
    pub to: ChannelKind,
    /// The public reply that offers the private channel; never forces it.
    pub public_text: String,
    /// A first private message, if the platform allows writing first.
    pub private_text: Option<String>,
    /// The customer's handle on the private channel when not yet linked (a
    /// phone number, an email address).
    pub recipient: Option<Identity>,
    /// Who hands off.
    pub by: Actor,
}

impl HandoffRequest {
    /// Hand off to `to`, offering it publicly with `public_text`.
    pub fn new(to: ChannelKind, public_text: impl Into<String>, by: Actor) -> Self {
        Self {
            to,
            public_text: public_text.into(),
            private_text: None,
            recipient: None,
            by,
        }
    }
    /// Sets the first private message.
    pub fn with_private_text(mut self, text: impl Into<String>) -> Self {
        self.private_text = Some(text.into());
        self
    }
    /// Sets the private recipient.
    pub fn with_recipient(mut self, recipient: Identity) -> Self {
        self.recipient = Some(recipient);
        self
    }
}

/// What a handoff created.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandoffOutcome {
    /// The public reply offering the private channel.
    pub public_reply: MessageId,
    /// The linked private conversation.
    pub private_conversation: ConversationId,
    /// The first private message, if one was sent.
    pub private_message: Option<MessageId>,
}

/// A decision to hide (or show again) a public message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HideRequest {
    /// Who decides.
    pub by: Actor,
    /// Why; required, and recorded.
    pub reason: String,
    /// Hide (`true`) or show again.
    pub hidden: bool,
}

impl HideRequest {
    /// Hide, by `by`, because `reason`.
    pub fn new(by: Actor, reason: impl Into<String>) -> Self {
        Self {
            by,
            reason: reason.into(),
            hidden: true,
        }
    }
    /// Show a hidden message again.
    pub fn unhide(by: Actor, reason: impl Into<String>) -> Self {
        Self {
            by,
            reason: reason.into(),
            hidden: false,
        }
    }
}

fn author_of(actor: &Actor) -> Author {
    match actor {
        Actor::Agent(id) => Author::Agent(id.clone()),
        _ => Author::Bot,
    }
}

impl Desk {
    /// Queues a reply in a conversation. It is sent by the outbox worker
    /// ([`Desk::run_outbox_once`]); the returned id tracks its delivery.
    ///
    /// # Errors
    /// Unknown conversation; no channel; the channel cannot answer with that
    /// visibility; the customer opted out; the text is empty or certainly
    /// too long.
    pub async fn reply(
        &self,
        conversation_id: ConversationId,
        request: ReplyRequest,
    ) -> Result<MessageId, DeskError> {
        if request.text.trim().is_empty() {
            return Err(DeskError::InvalidRequest("empty reply".into()));
        }
        let record = self.load(conversation_id).await?;
        let visibility = request.visibility.unwrap_or(record.visibility);
        self.check_can_send(&record, record.channel, visibility, &request.text)
            .await?;
        let applied = self
            .mutate(conversation_id, Trigger::Changed, |c| {
                Ok(c.queue(
                    request.text.clone(),
                    visibility,
                    request.author.clone(),
                    request.subject.clone(),
                ))
            })
            .await?;
        Ok(applied.value)
    }

    /// Refuses early what the channel or the customer would refuse later.
    pub(super) async fn check_can_send(
        &self,
        record: &ConversationRecord,
        kind: ChannelKind,
        visibility: Visibility,
        text: &str,
    ) -> Result<(), DeskError> {
        let channel = self.channel_for(kind, &record.account)?;
        let caps = channel.capabilities();
        let allowed = match visibility {
            Visibility::Public => caps.public_reply,
            Visibility::Private => {
                caps.private_message
                    || (record.visibility == Visibility::Public && caps.private_reply_to_public)
            }
        };
        if !allowed {
            return Err(DeskError::Unsupported {
                channel: kind,
                what: if visibility == Visibility::Public {
                    "reply publicly"
                } else {
                    "message privately"
                },
            });
        }
        if let Some(max) = caps.max_length {
            // Characters never weigh less than one unit, so this is a sure refusal.
            let length = text.chars().count();
            if length > max {
                return Err(DeskError::Channel(ChannelError::TooLong { length, max }));
            }
        }
        if let Some(identity) = record.customer.identity_on(kind)
            && self.opted_out(kind, &identity.handle).await?
        {
            return Err(DeskError::OptedOut(kind));
        }
        Ok(())
    }

    /// Moves a public complaint to a private channel without forcing it: a
    /// public reply offers the private channel, and a linked private
    /// conversation (same case, same customer) waits for the customer, so
    /// they never repeat themselves. The customer's first private message
    /// threads into it.
    pub async fn handoff(
        &self,
        conversation_id: ConversationId,
        request: HandoffRequest,
    ) -> Result<HandoffOutcome, DeskError> {
        let public = self.load(conversation_id).await?;
        if public.visibility != Visibility::Public {
            return Err(DeskError::InvalidRequest(
                "only a public conversation can be handed off to private".into(),
            ));
        }
        if request.public_text.trim().is_empty() {
            return Err(DeskError::InvalidRequest(
                "a handoff needs a public reply that offers the private channel".into(),
            ));
        }
        self.check_can_send(
            &public,
            public.channel,
            Visibility::Public,
            &request.public_text,
        )
        .await?;
        let channel = self.channel_for(request.to, &public.account)?;
        let caps = channel.capabilities();
        let same_platform = request.to == public.channel;
        let private_reply = same_platform && caps.private_reply_to_public;
        if !caps.private_message && !private_reply {
            return Err(DeskError::Unsupported {
                channel: request.to,
                what: "message privately",
            });
        }
        let recipient = request
            .recipient
            .clone()
            .or_else(|| public.customer.identity_on(request.to).cloned())
            .ok_or(DeskError::NoIdentity(request.to))?;
        if recipient.channel != request.to || recipient.handle.trim().is_empty() {
            return Err(DeskError::InvalidRequest(format!(
                "recipient must be a {} handle",
                request.to
            )));
        }
        if self.opted_out(request.to, &recipient.handle).await? {
            return Err(DeskError::OptedOut(request.to));
        }
        // Only the conversation's customer receives the handoff: a handle
        // someone else owns is refused, never linked or written to.
        self.check_not_owned(&recipient, &public.customer).await?;
        let now = self.inner.clock.now();
        let account = if same_platform {
            public.account.clone()
        } else {
            channel.account().unwrap_or_default()
        };
        let mut private = ConversationRecord::new(
            request.to,
            account,
            Visibility::Private,
            public.customer.clone(),
            now,
        );
        private.case_id = public.case_id;
        private.contact = Some(recipient.clone());
        private.linked.push(public.id);
        private.awaiting_customer = true;
        private.status = Status::Pending;
        private.priority = public.priority;
        private.tags = public.tags.clone();
        private.assignee = public.assignee.clone();
        private.team = public.team.clone();
        let author = author_of(&request.by);
        let private_message = request.private_text.as_ref().map(|text| {
            let mut outbound =
                outbound_for(&private, text.clone(), Visibility::Private, &author, None)
                    .with_recipient(recipient.clone());
            if private_reply && let Some(parent) = public.last_inbound() {
                if let Some(external_id) = parent.external_id.clone() {
                    outbound = outbound.with_reply_privately_to(external_id);
                }
                // The platform's window runs from the public message answered.
                let mut context = outbound.context.clone();
                context.in_reply_to_at = Some(parent.at);
                context.customer_last_message_at = public.last_inbound_at;
                outbound = outbound.with_context(context);
            }
            let message = Message {
                id: outbound.id,
                conversation_id: private.id,
                direction: Direction::Outbound,
                author: author.clone(),
                visibility: Visibility::Private,
                external_id: None,
                text: text.clone(),
                attachments: Vec::new(),
                at: now,
                delivery: Some(DeliveryState::Queued),
                delivery_error: None,
                classification: None,
                hidden: false,
                original_text: None,
                raw: None,
                platform_at: None,
            };
            (message, OutboxItem::queued(private.id, outbound, now))
        });
        let private_id = private.id;
        let applied = self
            .mutate(conversation_id, Trigger::Changed, |c| {
                let mut customer = c.record.customer.clone();
                if customer.link(recipient.clone()) {
                    c.commit.customers.push(customer.clone());
                }
                let mut private = private.clone();
                private.customer = customer.clone();
                c.record.customer = customer;
                if !c.record.linked.contains(&private_id) {
                    c.record.linked.push(private_id);
                }
                let reply = c.queue(
                    request.public_text.clone(),
                    Visibility::Public,
                    author.clone(),
                    None,
                );
                c.set_status(Status::Pending, request.by.clone());
                c.note(AuditKind::HandedOff {
                    to: private_id,
                    channel: request.to,
                    by: request.by.clone(),
                });
                c.audit.push(crate::AuditEntry::new(
                    private_id,
                    c.now,
                    AuditKind::Linked { other: c.record.id },
                ));
                c.audit.push(crate::AuditEntry::new(
                    private_id,
                    c.now,
                    AuditKind::StatusChanged {
                        from: Status::Open,
                        to: Status::Pending,
                        by: request.by.clone(),
                    },
                ));
                if let Some((message, item)) = &private_message {
                    c.commit.messages.push(message.clone());
                    c.commit.outbox.push(item.clone());
                }
                c.commit
                    .conversations
                    .push(ConversationWrite::Insert(private));
                Ok(reply)
            })
            .await;
        let applied = match applied {
            Err(DeskError::Store(StoreError::Constraint(reason))) => {
                // Another customer took the handle since the check above.
                self.check_not_owned(&recipient, &public.customer).await?;
                return Err(DeskError::Store(StoreError::Constraint(reason)));
            }
            other => other?,
        };
        self.emit(DeskEvent::HandedOff {
            from: conversation_id,
            to: private_id,
            channel: request.to,
        });
        if let Some((message, _)) = &private_message {
            self.emit(DeskEvent::Queued {
                conversation_id: private_id,
                message_id: message.id,
                channel: request.to,
                automated: matches!(author, Author::Bot),
            });
        }
        Ok(HandoffOutcome {
            public_reply: applied.value,
            private_conversation: private_id,
            private_message: private_message.map(|(m, _)| m.id),
        })
    }

    async fn check_not_owned(
        &self,
        identity: &Identity,
        customer: &Customer,
    ) -> Result<(), DeskError> {
        match self
            .inner
            .store
            .customer_by_identity(identity.channel, &identity.handle)
            .await?
        {
            Some(owner) if owner.id != customer.id => Err(DeskError::IdentityOwned {
                identity: identity.clone(),
                customer: owner.id,
            }),
            _ => Ok(()),
        }
    }

    /// Hides (or shows again) a public customer message on the platform.
    /// Off unless the desk was built with `allow_hide(true)`; the decision is
    /// recorded with who and why. Deleting is never done by the desk.
    pub async fn hide(
        &self,
        conversation_id: ConversationId,
        message_id: MessageId,
        request: HideRequest,
    ) -> Result<(), DeskError> {
        if !self.inner.allow_hide {
            return Err(DeskError::HideDisabled);
        }
        if request.reason.trim().is_empty() {
            return Err(DeskError::InvalidRequest(
                "a hide needs a reason for the audit trail".into(),
            ));
        }
        let record = self.load(conversation_id).await?;
        let message = record
            .message(message_id)
            .ok_or(DeskError::UnknownMessage(message_id))?;
        let external_id = match (&message.external_id, message.visibility, message.direction) {
            (Some(id), Visibility::Public, Direction::Inbound) => id.clone(),
            _ => {
                return Err(DeskError::InvalidRequest(
                    "only a public customer message can be hidden".into(),
                ));
            }
        };
        let channel = self.channel_for(record.channel, &record.account)?;
        if !channel.capabilities().hide {
            return Err(DeskError::Unsupported {
                channel: record.channel,
                what: "hide a message",
            });
        }
        channel.hide(&external_id, request.hidden).await?;
        self.mutate(conversation_id, Trigger::Changed, |c| {
            if let Some(m) = c.record.messages.iter_mut().find(|m| m.id == message_id) {
                m.hidden = request.hidden;
                c.commit.messages.push(m.clone());
            }
            c.note(AuditKind::Hidden {
                message_id,
                external_id: external_id.clone(),
                hidden: request.hidden,
                by: request.by.clone(),
                reason: request.reason.clone(),
            });
            Ok(())
        })
        .await?;
        self.emit(DeskEvent::Hidden {
            conversation_id,
            message_id,
            hidden: request.hidden,
        });
        Ok(())
    }

    /// Changes a conversation's status (audited). Resolving frees the
    /// assignee's capacity in the same commit.
    pub async fn set_status(
        &self,
        conversation_id: ConversationId,
        status: Status,
        by: Actor,
    ) -> Result<(), DeskError> {
        let rules = self.inner.rules.clone();
        self.mutate(conversation_id, Trigger::Changed, |c| {
            let from = c.record.status;
            c.set_status(status, by.clone());
            if from != status {
                let change = StatusChange {
                    now: c.now,
                    from,
                    to: status,
                };
                for rule in &rules {
                    for action in rule.on_status(&*c.record, &change) {
                        self.apply_action(c, rule.name(), action, None);
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Marks a conversation resolved; a new customer message reopens it.
    pub async fn resolve(
        &self,
        conversation_id: ConversationId,
        by: Actor,
    ) -> Result<(), DeskError> {
        self.set_status(conversation_id, Status::Resolved, by).await
    }

    /// Puts a conversation aside until `until`; SLA clocks pause meanwhile.
    pub async fn snooze(
        &self,
        conversation_id: ConversationId,
        until: DateTime<Utc>,
        by: Actor,
    ) -> Result<(), DeskError> {
        self.set_status(conversation_id, Status::Snoozed { until }, by)
            .await
    }

    /// Adds a private note to the conversation's trail: stored and shown to
    /// agents, never sent, and it answers nothing (no SLA clock stops).
    ///
    /// # Errors
    /// `DeskError::InvalidRequest` for an empty note or one over 10,000 bytes.
    pub async fn add_note(
        &self,
        conversation_id: ConversationId,
        text: impl Into<String>,
        by: Actor,
    ) -> Result<(), DeskError> {
        let text = text.into();
        if text.trim().is_empty() || text.len() > 10_000 {
            return Err(DeskError::InvalidRequest(
                "a note is 1 to 10,000 bytes of text".into(),
            ));
        }
        self.mutate(conversation_id, Trigger::Changed, |c| {
            c.note(AuditKind::AgentNote {
                text: text.clone(),
                by: by.clone(),
            });
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Adds a tag (as the desk itself: the audit names no person).
    pub async fn tag(
        &self,
        conversation_id: ConversationId,
        tag: impl Into<String>,
    ) -> Result<(), DeskError> {
        self.change_tag(conversation_id, tag, true, None).await
    }

    /// Adds (`added`) or removes a tag, audited under `by` (a person, or
    /// `None` for a rule). Adding a tag it has, or removing one it has
    /// not, changes and audits nothing.
    pub async fn change_tag(
        &self,
        conversation_id: ConversationId,
        tag: impl Into<String>,
        added: bool,
        by: Option<Actor>,
    ) -> Result<(), DeskError> {
        let tag = tag.into();
        self.mutate(conversation_id, Trigger::Changed, |c| {
            let changed = if added {
                c.record.tags.insert(tag.clone())
            } else {
                c.record.tags.remove(&tag)
            };
            if changed {
                c.note(AuditKind::Tagged {
                    tag: tag.clone(),
                    added,
                    by: by.clone(),
                });
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Assigns to an agent and/or team.
    pub async fn assign(
        &self,
        conversation_id: ConversationId,
        agent: Option<String>,
        team: Option<String>,
        by: Actor,
    ) -> Result<(), DeskError> {
        self.mutate(conversation_id, Trigger::Changed, |c| {
            c.record.assignee = agent.clone();
            c.record.team = team.clone();
            c.note(AuditKind::Assigned {
                agent: agent.clone(),
                team: team.clone(),
                by: by.clone(),
            });
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Sets the priority (as the desk itself: the audit names no person).
    pub async fn set_priority(
        &self,
        conversation_id: ConversationId,
        priority: Priority,
        reason: impl Into<String>,
    ) -> Result<(), DeskError> {
        self.set_priority_by(conversation_id, priority, reason, None)
            .await
    }

    /// Sets the priority, audited with the reason under `by` (a person, or
    /// `None` for a rule).
    pub async fn set_priority_by(
        &self,
        conversation_id: ConversationId,
        priority: Priority,
        reason: impl Into<String>,
        by: Option<Actor>,
    ) -> Result<(), DeskError> {
        let reason = reason.into();
        self.mutate(conversation_id, Trigger::Changed, |c| {
            let from = c.record.priority;
            if from != priority {
                c.record.priority = priority;
                c.note(AuditKind::PriorityChanged {
                    from,
                    to: priority,
                    reason: reason.clone(),
                    by: by.clone(),
                });
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }
}
