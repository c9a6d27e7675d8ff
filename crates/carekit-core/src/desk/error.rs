//! Errors the desk returns.

use crate::channel::{ChannelError, ChannelKind, DeliveryState};
use crate::domain::Identity;
use crate::ids::{ConversationId, CustomerId, MessageId};
use crate::store::StoreError;

/// Why a desk operation failed. Nothing already stored is lost when one is
/// returned: every write is one commit, applied whole or not at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    /// The inbound event is unusable (empty external id, no author).
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// No conversation with this id.
    #[error("unknown conversation {0}")]
    UnknownConversation(ConversationId),
    /// No customer with this id.
    #[error("unknown customer {0}")]
    UnknownCustomer(CustomerId),
    /// No message with this id in the conversation.
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    /// No channel is registered for this kind.
    #[error("no channel registered for {0}")]
    NoChannel(ChannelKind),
    /// The channel cannot do what was asked (checked against its capabilities).
    #[error("{channel} cannot {what}")]
    Unsupported {
        /// The channel.
        channel: ChannelKind,
        /// What was asked.
        what: &'static str,
    },
    /// Hiding is off: the app must enable it explicitly on the builder.
    #[error("hiding comments is disabled; enable it with DeskBuilder::allow_hide")]
    HideDisabled,
    /// The customer opted out of this channel.
    #[error("the customer opted out of {0}")]
    OptedOut(ChannelKind),
    /// The customer has no identity on the requested channel.
    #[error("the customer has no {0} identity; pass one in the request")]
    NoIdentity(ChannelKind),
    /// The message cannot be retried in its state: only failed or
    /// dead-lettered messages can (queued and sending ones belong to the
    /// outbox, accepted ones are done).
    #[error("a {} message cannot be retried; only failed or dead-lettered ones can", state.as_str())]
    NotRetryable {
        /// Its delivery state when the retry was asked for.
        state: DeliveryState,
    },
    /// The identity belongs to another known customer. Nothing was sent or
    /// linked; merge the two customers first if they are one person
    /// ([`Desk::merge_customers`](crate::Desk::merge_customers)).
    #[error("{} {} belongs to another customer ({customer})", identity.channel, identity.handle)]
    IdentityOwned {
        /// The identity asked for.
        identity: Identity,
        /// The customer who owns it.
        customer: CustomerId,
    },
    /// The request is invalid (empty text, bad handoff target).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The builder was misconfigured.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A channel failed.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeskError {
    /// Whether trying again can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            DeskError::Channel(e) => e.is_retryable(),
            DeskError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }
}
