//! Writing first: what a channel can do, who hears about trouble, and a
//! private message to a customer who has no conversation on that channel
//! yet (outreach during an incident).

use super::evaluate::outbound_for;
use super::{Desk, DeskError, DeskEvent, Notifier, ReplyRequest};
use crate::channel::{Capabilities, ChannelKind, DeliveryState, Visibility};
use crate::domain::{AuditEntry, AuditKind, ConversationRecord, Direction, Message, Status};
use crate::ids::{ConversationId, CustomerId, MessageId};
use crate::store::{Commit, ConversationWrite, OutboxItem};
use std::sync::Arc;

impl Desk {
    /// The notifier the desk was built with, so components outside the
    /// engine (crisis detection, digests) reach the same people the same way.
    pub fn notifier(&self) -> &Arc<dyn Notifier> {
        &self.inner.notifier
    }

    /// The capabilities of the channel the desk would use for `kind` and
    /// `account` (reply window, private messages ...), or `None` when the desk
    /// has no such channel. Lets callers refuse early what the platform would
    /// refuse later.
    pub fn channel_capabilities(&self, kind: ChannelKind, account: &str) -> Option<Capabilities> {
        self.channel_for(kind, account)
            .ok()
            .map(|c| c.capabilities())
    }

    /// Opens a private conversation on `kind` with a known customer and
    /// queues `request` as its first message, through the outbox like any
    /// reply. The conversation waits for the customer (status pending), so
    /// their answer threads into it.
    ///
    /// # Errors
    /// Unknown customer; no identity on `kind`; no channel or no private
    /// messaging on it; the customer opted out; an empty text.
    pub async fn message_privately(
        &self,
        customer_id: CustomerId,
        kind: ChannelKind,
        request: ReplyRequest,
    ) -> Result<(ConversationId, MessageId), DeskError> {
        if request.text.trim().is_empty() {
            return Err(DeskError::InvalidRequest("empty message".into()));
        }
        let customer = self
            .inner
            .store
            .customer(customer_id)
            .await?
            .ok_or_else(|| DeskError::InvalidRequest(format!("unknown customer {customer_id}")))?;
        let recipient = customer
            .identity_on(kind)
            .cloned()
            .ok_or(DeskError::NoIdentity(kind))?;
        let channel = self.channel_for(kind, "")?;
        if !channel.capabilities().private_message {
            return Err(DeskError::Unsupported {
                channel: kind,
                what: "message privately",
            });
        }
        if self.opted_out(kind, &recipient.handle).await? {
            return Err(DeskError::OptedOut(kind));
        }
        let now = self.inner.clock.now();
        let mut record = ConversationRecord::new(
            kind,
            channel.account().unwrap_or_default(),
            Visibility::Private,
            customer,
            now,
        );
        record.awaiting_customer = true;
        record.status = Status::Pending;
        record.subject = request.subject.clone();
        let outbound = outbound_for(
            &record,
            request.text.clone(),
            Visibility::Private,
            &request.author,
            request.subject.clone(),
        )
        .with_recipient(recipient);
        let mut message = Message::new(
            record.id,
            Direction::Outbound,
            request.author.clone(),
            Visibility::Private,
            request.text.clone(),
            now,
        );
        message.id = outbound.id;
        message.delivery = Some(DeliveryState::Queued);
        let (conversation_id, message_id) = (record.id, message.id);
        let mut commit = Commit::new();
        commit.audit.push(AuditEntry::new(
            conversation_id,
            now,
            AuditKind::Note {
                text: format!("opened by the brand on {kind} (proactive message)"),
            },
        ));
        commit
            .outbox
            .push(OutboxItem::queued(conversation_id, outbound, now));
        commit.messages.push(message);
        commit.conversations.push(ConversationWrite::Insert(record));
        self.inner.store.apply(commit).await?;
        self.emit(DeskEvent::Queued {
            conversation_id,
            message_id,
            channel: kind,
            automated: matches!(request.author, crate::Author::Bot),
        });
        Ok((conversation_id, message_id))
    }
}
