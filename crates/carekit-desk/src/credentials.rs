//! New credentials for a running desk: after a token expired or was
//! revoked (the channel shows `degraded` in `/healthz`), the operator puts
//! the new secrets in place and the desk swaps its outbound adapters and
//! releases the sends it held, without a restart.
//!
//! The binary does this on `SIGHUP`, re-reading the environment and the
//! `CAREKIT_SECRETS_FILE`. The notifier and the team digests send through
//! [`FollowedChannel`]s, so the new credentials reach them too. Webhook
//! signing secrets, chat-webhook addresses and pollers keep the values
//! they started with until a restart.

use crate::adapters::{AdapterContext, ServerAdapter, build_all};
use crate::{DeskConfig, DeskServerError, Secrets};
use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, Desk, OutboundMessage,
};
use std::sync::{Arc, RwLock};

/// A channel that forwards to whichever adapter holds its kind and account
/// now: what the server hands to senders outside the desk (the notifier,
/// the digests), so that a credential swap reaches them as it reaches the
/// desk.
#[derive(Clone)]
pub(crate) struct FollowedChannel {
    current: Arc<RwLock<Arc<dyn Channel>>>,
}

impl FollowedChannel {
    /// Follows `channel` until a swap replaces it.
    pub(crate) fn new(channel: Arc<dyn Channel>) -> Self {
        Self {
            current: Arc::new(RwLock::new(channel)),
        }
    }

    fn get(&self) -> Arc<dyn Channel> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the channel when `channel` serves the same kind and account.
    fn follow(&self, channel: &Arc<dyn Channel>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.kind() == channel.kind() && current.account() == channel.account() {
            *current = channel.clone();
        }
    }
}

#[async_trait]
impl Channel for FollowedChannel {
    fn kind(&self) -> ChannelKind {
        self.get().kind()
    }
    fn account(&self) -> Option<String> {
        self.get().account()
    }
    fn capabilities(&self) -> Capabilities {
        self.get().capabilities()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        self.get().send(message).await
    }
    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        self.get().hide(external_id, hidden).await
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        self.get().delete(external_id).await
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        self.get().find_sent(message).await
    }
}

/// Swaps the adapters of a running desk for ones built with new secrets.
/// Cheap to clone; get one from [`DeskServer::credentials`](crate::DeskServer::credentials)
/// before serving.
#[derive(Clone)]
pub struct CredentialSwap {
    pub(crate) config: DeskConfig,
    pub(crate) desk: Desk,
    pub(crate) adapters: Vec<Arc<dyn ServerAdapter>>,
    /// The channels handed to senders outside the desk.
    pub(crate) followed: Vec<FollowedChannel>,
}

impl std::fmt::Debug for CredentialSwap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSwap").finish_non_exhaustive()
    }
}

/// What one swap did for a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Swapped {
    /// The channel.
    pub channel: ChannelKind,
    /// Sends that were held for credentials and are due again now.
    pub released: usize,
}

impl CredentialSwap {
    /// Builds every configured adapter with `secrets` and puts each in
    /// place of the running one. All adapters are built before any is
    /// swapped, so a missing secret changes nothing.
    ///
    /// # Errors
    /// A missing or invalid secret ([`DeskServerError`]), or a store error
    /// while releasing held sends.
    pub async fn replace(&self, secrets: &Secrets) -> Result<Vec<Swapped>, DeskServerError> {
        let ctx = AdapterContext {
            config: &self.config,
            secrets,
            clock: self.desk.clock(),
            store: self.desk.store(),
        };
        let built = build_all(&self.adapters, &ctx)?;
        let mut swapped = Vec::with_capacity(built.len());
        for channel in built.into_iter().map(|b| b.channel) {
            let kind = channel.kind();
            for followed in &self.followed {
                followed.follow(&channel);
            }
            let released = self.desk.replace_channel(channel).await?;
            tracing::info!(channel = %kind, released, "credentials replaced");
            swapped.push(Swapped {
                channel: kind,
                released,
            });
        }
        Ok(swapped)
    }
}

#[cfg(test)]
mod tests {
    use super::FollowedChannel;
    use carekit_core::{Channel, ChannelKind, OutboundMessage, Visibility};
    use carekit_testing::RecordingChannel;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_followed_channel_sends_through_the_adapter_swapped_in_for_its_kind() {
        let old = Arc::new(RecordingChannel::new(ChannelKind::Email));
        let new = Arc::new(RecordingChannel::new(ChannelKind::Email));
        let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
        let followed = FollowedChannel::new(old.clone());
        let message = OutboundMessage::new(ChannelKind::Email, Visibility::Private, "digest");
        followed.send(&message).await.unwrap();
        // Another kind's swap leaves it alone; its own kind's replaces it.
        followed.follow(&(sms.clone() as Arc<dyn Channel>));
        followed.follow(&(new.clone() as Arc<dyn Channel>));
        followed.send(&message).await.unwrap();
        assert_eq!(old.sent().len(), 1);
        assert_eq!(new.sent().len(), 1);
        assert!(sms.sent().is_empty());
        assert_eq!(followed.kind(), ChannelKind::Email);
    }
}
