//! carekit's `Channel` for a Facebook page: public replies to comments,
//! private replies to comments, Messenger sends inside Meta's windows, and
//! hides (never deletes unless the app calls [`Channel::delete`] itself).

use crate::graph::{GraphClient, MessagingType};
use crate::window::{HUMAN_AGENT_WINDOW, STANDARD_WINDOW, messaging_type, private_reply_allowed};
use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, Identity, KeyValues,
    OutboundMessage, ReplyWindow, StoreError, ThreadKey, Visibility,
};
use std::sync::Arc;

/// Longest Messenger text Meta accepts, in characters.
pub const MAX_MESSENGER_LENGTH: usize = 2000;

/// Longest comment Meta accepts, in characters.
pub const MAX_COMMENT_LENGTH: usize = 8000;

/// The ledger key recording the one private reply a comment may get.
pub fn private_reply_key(comment_id: &str) -> String {
    format!("facebook:private_reply:{comment_id}")
}

/// A Facebook page as a carekit [`Channel`].
///
/// Private replies are recorded in a durable ledger (any carekit `Store`
/// is one, through [`KeyValues`]) so a comment never gets a second one, not
/// even after a restart: a record `pending:{message id}` is written before
/// the call (swapped from what was read, in one step, so two workers never
/// both claim a comment) and `sent:{mid}` after it. Only the same outbound message may
/// retry a pending record, so a retry after a lost answer stays possible
/// while a second, different private reply is refused.
#[derive(Clone)]
pub struct FacebookChannel {
    client: GraphClient,
    ledger: Arc<dyn KeyValues>,
}

impl std::fmt::Debug for FacebookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookChannel")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl FacebookChannel {
    /// A channel sending through `client`, recording private replies in
    /// `ledger` (usually the desk's store).
    pub fn new<C: KeyValues + ?Sized + 'static>(client: GraphClient, ledger: Arc<C>) -> Self {
        Self {
            client,
            ledger: carekit_core::shared_key_values(ledger),
        }
    }

    /// The Graph client (for fetches and explicit deletes).
    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    async fn public_reply(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let target = message.in_reply_to.as_deref().ok_or_else(|| {
            ChannelError::Invalid(
                "a public Facebook reply needs the comment or post it answers".into(),
            )
        })?;
        check_length(&message.text, MAX_COMMENT_LENGTH)?;
        let id = self.client.reply_to_comment(target, &message.text).await?;
        Ok(Delivery::sent(id).in_thread_of(message))
    }

    async fn messenger(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let psid = message
            .recipient
            .as_ref()
            .filter(|r| r.channel == ChannelKind::Facebook && !r.handle.trim().is_empty())
            .map(|r| r.handle.as_str())
            .ok_or_else(|| {
                ChannelError::Invalid("a Messenger message needs the customer's PSID".into())
            })?;
        check_length(&message.text, MAX_MESSENGER_LENGTH)?;
        let kind = messaging_type(
            self.client.clock().now(),
            message.context.customer_last_message_at,
            message.context.human_agent,
        )?;
        if kind == MessagingType::HumanAgent {
            tracing::debug!(psid, "outside 24 h: sending with the HUMAN_AGENT tag");
        }
        let receipt = self.client.send_message(psid, &message.text, kind).await?;
        Ok(self.messenger_delivery(receipt.message_id, &receipt.recipient_id))
    }

    /// A Messenger message delivered to `psid`: its thread is the page's
    /// thread with that customer, so their answer joins the conversation.
    /// Messenger names the recipient's page-scoped id, also when the message
    /// was addressed to a comment: the desk links it to the commenter.
    fn messenger_delivery(&self, mid: String, psid: &str) -> Delivery {
        Delivery::sent(mid)
            .with_thread_key(ThreadKey::new(self.client.thread_key_for(psid)))
            .with_recipient(Identity::new(ChannelKind::Facebook, psid))
    }

    /// Takes the comment's one private reply for this message: read the
    /// ledger, then swap it from what was read to `mine` in one step, so of
    /// two workers (or two messages) only one ever gets it.
    async fn claim_private_reply(
        &self,
        comment_id: &str,
        key: &str,
        mine: &str,
    ) -> Result<(), ChannelError> {
        let used = |reason: String| ChannelError::Rejected {
            code: Some("private_reply_used".into()),
            reason,
        };
        // A swap fails only when another writer changed the record since
        // it was read; the next read then shows why (or a cleared failure).
        for _ in 0..4 {
            let record = self.ledger.load_value(key).await.map_err(ledger_error)?;
            match record.as_deref() {
                Some(r) if r == mine => return Ok(()),
                Some(r) if r.starts_with("sent:") => {
                    return Err(used(format!(
                        "comment {comment_id} already got its one private reply ({})",
                        &r["sent:".len()..]
                    )));
                }
                Some(r) if r.starts_with("pending:") => {
                    return Err(used(format!(
                        "another private reply to comment {comment_id} was attempted and its outcome is unknown"
                    )));
                }
                _ => {}
            }
            if self
                .ledger
                .swap_value(key, record.as_deref(), mine)
                .await
                .map_err(ledger_error)?
            {
                return Ok(());
            }
        }
        Err(used(format!(
            "the private reply to comment {comment_id} is being claimed by another worker"
        )))
    }

    async fn private_reply(
        &self,
        comment_id: &str,
        message: &OutboundMessage,
    ) -> Result<Delivery, ChannelError> {
        check_length(&message.text, MAX_MESSENGER_LENGTH)?;
        let comment_at = match message.context.in_reply_to_at {
            Some(at) => at,
            None => self.client.comment_created_at(comment_id).await?,
        };
        private_reply_allowed(self.client.clock().now(), comment_at)?;
        let key = private_reply_key(comment_id);
        let mine = format!("pending:{}", message.id);
        self.claim_private_reply(comment_id, &key, &mine).await?;
        match self.client.private_reply(comment_id, &message.text).await {
            Ok(receipt) => {
                if let Err(e) = self
                    .ledger
                    .save_value(&key, &format!("sent:{}", receipt.message_id))
                    .await
                {
                    // The reply went out; the pending record still blocks others.
                    tracing::warn!(comment_id, error = %e, "private reply sent but not recorded as sent");
                }
                Ok(self.messenger_delivery(receipt.message_id, &receipt.recipient_id))
            }
            Err(e) => {
                // Meta answered and refused, or told us to wait: nothing went
                // out, so the comment may still get its private reply.
                let certainly_not_sent = matches!(
                    e,
                    ChannelError::Rejected { .. }
                        | ChannelError::Unauthorized { .. }
                        | ChannelError::OutsideWindow { .. }
                        | ChannelError::RateLimited { .. }
                        | ChannelError::Invalid(_)
                );
                if certainly_not_sent
                    && let Err(save) = self
                        .ledger
                        .save_value(&key, &format!("failed:{}", message.id))
                        .await
                {
                    tracing::warn!(comment_id, error = %save, "could not clear a failed private reply");
                }
                Err(e)
            }
        }
    }
}

fn check_length(text: &str, max: usize) -> Result<(), ChannelError> {
    let length = text.chars().count();
    if text.trim().is_empty() {
        return Err(ChannelError::Invalid("the text is empty".into()));
    }
    if length > max {
        return Err(ChannelError::TooLong { length, max });
    }
    Ok(())
}

fn ledger_error(e: StoreError) -> ChannelError {
    ChannelError::Transport(format!("private-reply ledger: {e}"))
}

#[async_trait]
impl Channel for FacebookChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Facebook
    }

    fn account(&self) -> Option<String> {
        Some(self.client.config().page_id().to_owned())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .with_public_reply(true)
            .with_private_message(true)
            .with_private_reply_to_public(true)
            .with_hide(true)
            .with_delete(true)
            .with_max_length(Some(MAX_MESSENGER_LENGTH))
            .with_reply_window(Some(ReplyWindow {
                standard: STANDARD_WINDOW,
                extended: Some(HUMAN_AGENT_WINDOW),
            }))
            .with_attachments(false)
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        if message.channel != ChannelKind::Facebook {
            return Err(ChannelError::Invalid(format!(
                "a {} message sent to the Facebook channel",
                message.channel
            )));
        }
        let page = self.client.config().page_id();
        if let Some(account) = message.account.as_deref()
            && account != page
        {
            return Err(ChannelError::Invalid(format!(
                "message is for page {account}, this channel serves page {page}"
            )));
        }
        if !message.attachments.is_empty() {
            return Err(ChannelError::Unsupported("attachments"));
        }
        if let Some(comment_id) = message.reply_privately_to.as_deref() {
            return self.private_reply(comment_id, message).await;
        }
        match message.visibility {
            Visibility::Public => self.public_reply(message).await,
            Visibility::Private => self.messenger(message).await,
        }
    }

    /// A public comment reply is looked up under the comment it answers, a
    /// Messenger message in the customer's thread (Conversations API); a
    /// private reply to a comment is guarded by its own ledger instead.
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        match (
            message.visibility,
            message.in_reply_to.as_deref(),
            message.reply_privately_to.as_deref(),
        ) {
            (Visibility::Public, Some(parent), None) => {
                let found = self.client.find_own_comment(parent, &message.text).await?;
                Ok(found.map(|id| Delivery::sent(id).in_thread_of(message)))
            }
            (Visibility::Private, _, None) => {
                let Some(psid) = message
                    .recipient
                    .as_ref()
                    .filter(|r| r.channel == ChannelKind::Facebook)
                    .map(|r| r.handle.as_str())
                else {
                    return Err(ChannelError::Unsupported("find_sent"));
                };
                let found = self.client.find_own_message(psid, &message.text).await?;
                Ok(found.map(|mid| self.messenger_delivery(mid, psid)))
            }
            _ => Err(ChannelError::Unsupported("find_sent")),
        }
    }

    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        self.client.set_hidden(external_id, hidden).await
    }

    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        self.client.delete_object(external_id).await
    }
}
