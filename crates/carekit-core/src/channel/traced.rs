//! Tracing as a wrapper. Logs ids, lengths and outcomes, never message text
//! or credentials.

use super::{Capabilities, Channel, ChannelError, ChannelKind, Delivery, OutboundMessage};
use async_trait::async_trait;
use tracing::Instrument;

/// Emits a `tracing` span per call with the channel, message id and outcome.
#[derive(Debug, Clone)]
pub struct Traced<C> {
    inner: C,
}

impl<C> Traced<C> {
    /// Wraps `inner`.
    pub fn new(inner: C) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl<C: Channel> Channel for Traced<C> {
    fn kind(&self) -> ChannelKind {
        self.inner.kind()
    }
    fn account(&self) -> Option<String> {
        self.inner.account()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let span = tracing::info_span!(
            "channel.send",
            channel = %self.inner.kind(),
            message_id = %message.id,
            visibility = message.visibility.as_str(),
            length = message.text.chars().count(),
        );
        async {
            let result = self.inner.send(message).await;
            match &result {
                Ok(d) => tracing::info!(provider_id = %d.provider_id, "sent"),
                Err(e) => tracing::warn!(error = %e, retryable = e.is_retryable(), "send failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        let result = self.inner.hide(external_id, hidden).await;
        tracing::info!(channel = %self.inner.kind(), external_id, hidden, ok = result.is_ok(), "channel.hide");
        result
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        let result = self.inner.delete(external_id).await;
        tracing::info!(channel = %self.inner.kind(), external_id, ok = result.is_ok(), "channel.delete");
        result
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        self.inner.find_sent(message).await
    }
}
