//! Writing first: what a channel can do, who hears about trouble, and a
//! private message to a customer who has no conversation on that channel
//! yet (outreach during an incident).

use super::commit::Draft;
use super::outbound::outbound_for;
use super::{Desk, DeskError, Notifier, ReplyRequest};
use crate::channel::{Capabilities, ChannelKind, Visibility};
use crate::domain::{AuditKind, ConversationRecord, Status};
use crate::ids::{ConversationId, CustomerId, MessageId};
use crate::policy::Trigger;
use crate::store::Commit;
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
        let conversation_id = record.id;
        let mut draft = Draft::new_conversation(record, Commit::new(), now);
        let message_id = {
            let mut change = draft.change();
            change.note(AuditKind::Note {
                text: format!("opened by the brand on {kind} (proactive message)"),
            });
            let outbound = outbound_for(
                change.record,
                request.text.clone(),
                Visibility::Private,
                &request.author,
                request.subject.clone(),
            )
            .with_recipient(recipient);
            change.queue_outbound(outbound, request.author.clone())
        };
        self.evaluate_draft(&mut draft, Trigger::Changed);
        self.commit(draft).await?;
        Ok((conversation_id, message_id))
    }
}
