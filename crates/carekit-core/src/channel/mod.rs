//! The `Channel` trait and what flows through it.
//!
//! A channel only *sends*; inbound traffic is the adapter's webhook handler or
//! poller producing [`InboundEvent`](crate::InboundEvent)s, which the app hands
//! to [`Desk::ingest`](crate::Desk::ingest). Behaviour such as retries, rate
//! limits and tracing wraps a channel ([`Retrying`], [`RateLimited`],
//! [`Traced`]) instead of living in the engine.

mod capabilities;
mod error;
mod kind;
mod outbound;
mod rate_limited;
mod retrying;
mod traced;

pub use capabilities::{Capabilities, ReplyWindow};
pub use error::ChannelError;
pub use kind::{ChannelKind, UnknownChannel, Visibility};
pub use outbound::{Delivery, DeliveryState, OutboundMessage, ReplyContext};
pub use rate_limited::RateLimited;
pub use retrying::{RetryPolicy, Retrying};
pub use traced::Traced;

use async_trait::async_trait;
use std::sync::Arc;

/// A way to reach customers on one platform.
///
/// Implementations live in the adapter crates (`carekit-twitter`,
/// `carekit-facebook`, `carekit-email`, `carekit-sms`); the engine only sees
/// this trait, boxed. Keep implementations honest about
/// [`capabilities`](Channel::capabilities): the engine consults them before
/// it asks for a public reply, a private message or a hide.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Which platform this is.
    fn kind(&self) -> ChannelKind;

    /// The brand account this channel sends from, when it serves one account
    /// among several of the same kind.
    fn account(&self) -> Option<String> {
        None
    }

    /// What the channel can do.
    fn capabilities(&self) -> Capabilities;

    /// Sends one message. Must not retry on its own: wrap in [`Retrying`].
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError>;

    /// Hides (or un-hides) a public message without deleting it.
    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        let _ = (external_id, hidden);
        Err(ChannelError::Unsupported("hide"))
    }

    /// Deletes a public message. The engine never calls this on its own.
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        let _ = external_id;
        Err(ChannelError::Unsupported("delete"))
    }

    /// Looks on the platform for a message this desk may already have sent
    /// (matched by its id, recipient and text), after a crash left the outcome
    /// of a send unknown. `Ok(None)` means it is certainly not there;
    /// `Err(Unsupported)` means the platform cannot tell, and the desk will not
    /// re-post a public message blindly.
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        let _ = message;
        Err(ChannelError::Unsupported("find_sent"))
    }
}

#[async_trait]
impl<C: Channel + ?Sized> Channel for Arc<C> {
    fn kind(&self) -> ChannelKind {
        (**self).kind()
    }
    fn account(&self) -> Option<String> {
        (**self).account()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        (**self).send(message).await
    }
    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        (**self).hide(external_id, hidden).await
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        (**self).delete(external_id).await
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        (**self).find_sent(message).await
    }
}

#[async_trait]
impl<C: Channel + ?Sized> Channel for Box<C> {
    fn kind(&self) -> ChannelKind {
        (**self).kind()
    }
    fn account(&self) -> Option<String> {
        (**self).account()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        (**self).send(message).await
    }
    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        (**self).hide(external_id, hidden).await
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        (**self).delete(external_id).await
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        (**self).find_sent(message).await
    }
}

// `Channel` must stay object-safe: the engine stores `Arc<dyn Channel>`.
const _: fn(&dyn Channel) = |_| {};
