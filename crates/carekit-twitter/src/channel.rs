//! `Channel` for X: a public reply threaded under the customer's tweet, or a
//! DM. Capabilities say what X really allows through this API: no hiding of
//! customers' mentions, no deleting their tweets, 280 weighted characters.

use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, OutboundMessage, ThreadKey,
    Visibility,
};

use crate::client::XClient;
use crate::ids::is_valid_id;
use crate::length::{MAX_WEIGHTED_LENGTH, weighted_length};

/// Longest DM text X accepts, in characters.
pub const MAX_DM_LENGTH: usize = 10_000;

/// Sends on X as the brand account. Wrap it in `Retrying` and
/// `RateLimited` (carekit-core) for backoff; a 429 arrives as
/// `ChannelError::RateLimited` with the wait computed from
/// `x-rate-limit-reset`.
#[derive(Debug, Clone)]
pub struct TwitterChannel {
    client: XClient,
}

impl TwitterChannel {
    /// A channel sending through `client`.
    pub fn new(client: XClient) -> Self {
        Self { client }
    }

    /// The client.
    pub fn client(&self) -> &XClient {
        &self.client
    }

    async fn reply(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let parent = message.in_reply_to.as_deref().ok_or_else(|| {
            ChannelError::Invalid(
                "a public X reply needs the tweet it answers (in_reply_to); \
                 carekit does not post standalone tweets"
                    .into(),
            )
        })?;
        if !is_valid_id(parent) {
            return Err(ChannelError::Invalid(format!(
                "in_reply_to {parent:?} is not an X tweet id"
            )));
        }
        let length = weighted_length(&message.text);
        if length > MAX_WEIGHTED_LENGTH {
            return Err(ChannelError::TooLong {
                length,
                max: MAX_WEIGHTED_LENGTH,
            });
        }
        let id = self.client.post_reply(&message.text, parent).await?;
        Ok(Delivery::sent(id).in_thread_of(message))
    }

    async fn dm(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let recipient = message
            .recipient
            .as_ref()
            .filter(|r| r.channel == ChannelKind::Twitter)
            .ok_or_else(|| ChannelError::Invalid("an X DM needs an X recipient".into()))?;
        if !is_valid_id(&recipient.handle) {
            return Err(ChannelError::Invalid(format!(
                "DM recipient {:?} is not an X user id",
                recipient.handle
            )));
        }
        let length = message.text.chars().count();
        if length > MAX_DM_LENGTH {
            return Err(ChannelError::TooLong {
                length,
                max: MAX_DM_LENGTH,
            });
        }
        let sent = self
            .client
            .send_dm(&recipient.handle, &message.text)
            .await?;
        Ok(Delivery::sent(sent.dm_event_id)
            .with_thread_key(ThreadKey::new(sent.dm_conversation_id)))
    }
}

#[async_trait]
impl Channel for TwitterChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Twitter
    }

    fn account(&self) -> Option<String> {
        Some(self.client.brand_user_id().to_owned())
    }

    fn capabilities(&self) -> Capabilities {
        // X can hide replies only under the brand's own posts
        // (`PUT /2/tweets/{id}/hidden`), not customers' mentions, and cannot
        // delete another user's tweet: both stay off.
        Capabilities::new()
            .with_public_reply(true)
            .with_private_message(true)
            .with_max_length(Some(MAX_WEIGHTED_LENGTH))
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        if message.text.trim().is_empty() {
            return Err(ChannelError::Invalid("empty message".into()));
        }
        if let Some(account) = &message.account
            && account != self.client.brand_user_id()
        {
            return Err(ChannelError::Invalid(format!(
                "message is for account {account}, this channel sends as {}",
                self.client.brand_user_id()
            )));
        }
        match message.visibility {
            Visibility::Public => self.reply(message).await,
            Visibility::Private => self.dm(message).await,
        }
    }

    /// Public replies are looked up on the brand's timeline; DMs cannot be
    /// matched reliably and stay at-least-once.
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        match (message.visibility, message.in_reply_to.as_deref()) {
            (Visibility::Public, Some(parent)) => {
                let found = self.client.find_own_reply(parent, &message.text).await?;
                Ok(found.map(|id| Delivery::sent(id).in_thread_of(message)))
            }
            _ => Err(ChannelError::Unsupported("find_sent")),
        }
    }
}
