//! What the desk broadcasts as it works.

use crate::channel::{ChannelKind, DeliveryState};
use crate::domain::ThreadDecision;
use crate::ids::{ConversationId, MessageId};
use crate::policy::Escalation;

/// Something the desk did. Subscribe with [`Desk::subscribe`](super::Desk::subscribe).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DeskEvent {
    /// An inbound event was stored and threaded.
    Ingested {
        /// The channel.
        channel: ChannelKind,
        /// Where it went and why.
        decision: ThreadDecision,
    },
    /// An inbound event was a replay and changed nothing.
    Duplicate {
        /// The channel.
        channel: ChannelKind,
        /// The platform id.
        external_id: String,
    },
    /// A person merged two customers into one.
    CustomersMerged {
        /// The customer kept.
        kept: crate::ids::CustomerId,
        /// The customer merged into it.
        absorbed: crate::ids::CustomerId,
    },
    /// A conversation was escalated.
    Escalated {
        /// The conversation.
        conversation_id: ConversationId,
        /// The escalation.
        escalation: Escalation,
    },
    /// A reply was queued in the outbox.
    Queued {
        /// The conversation.
        conversation_id: ConversationId,
        /// The outbound message.
        message_id: MessageId,
        /// The channel.
        channel: ChannelKind,
        /// Written by automation.
        automated: bool,
    },
    /// An outbound message changed delivery state.
    Delivery {
        /// The conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: MessageId,
        /// The channel.
        channel: ChannelKind,
        /// The new state.
        state: DeliveryState,
        /// The failure, if any.
        error: Option<String>,
    },
    /// A conversation was handed off to a private channel.
    HandedOff {
        /// The public conversation.
        from: ConversationId,
        /// The private one.
        to: ConversationId,
        /// The private channel.
        channel: ChannelKind,
    },
    /// A public message was hidden or shown again.
    Hidden {
        /// The conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: MessageId,
        /// Hidden or shown.
        hidden: bool,
    },
    /// A channel's credentials failed; its sends are paused.
    ChannelDegraded {
        /// The channel.
        channel: ChannelKind,
        /// Why.
        reason: String,
    },
    /// A degraded channel works again.
    ChannelRecovered {
        /// The channel.
        channel: ChannelKind,
    },
}
