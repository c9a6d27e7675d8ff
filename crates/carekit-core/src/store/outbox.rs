//! The durable outbox: a reply is written before it is sent, so a crash
//! between "decided" and "sent" loses nothing.

use crate::channel::{DeliveryState, OutboundMessage};
use crate::ids::{ConversationId, MessageId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who holds an item and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker's name.
    pub worker: String,
    /// When the lease lapses.
    pub until: DateTime<Utc>,
}

/// One outbound message on its way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutboxItem {
    /// The outbound message's id (the idempotency key).
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// What to send.
    pub message: OutboundMessage,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before.
    pub next_attempt_at: DateTime<Utc>,
    /// The worker holding it, while sending.
    pub lease: Option<Lease>,
    /// The platform's id once accepted.
    pub provider_id: Option<String>,
    /// The last failure, in the platform's words.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The last attempt may have reached the platform (a dropped connection,
    /// a timeout, a crash mid-send): before sending again the desk asks the
    /// platform, and a manual retry needs a person to say it is not there.
    #[serde(default)]
    pub outcome_unknown: bool,
}

impl OutboxItem {
    /// A queued item for `message`, due at `now`.
    pub fn queued(
        conversation_id: ConversationId,
        message: OutboundMessage,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: message.id,
            conversation_id,
            message,
            state: DeliveryState::Queued,
            attempts: 0,
            next_attempt_at: now,
            lease: None,
            provider_id: None,
            last_error: None,
            created_at: now,
            outcome_unknown: false,
        }
    }
}

/// A claim request: who, when, for how long, how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The claiming worker's name.
    pub worker: String,
    /// The instant of the claim.
    pub now: DateTime<Utc>,
    /// How long the lease lasts.
    pub lease: chrono::Duration,
    /// At most this many.
    pub limit: usize,
}
