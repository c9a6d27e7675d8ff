//! A message in a conversation, in either direction.

use crate::channel::{DeliveryState, Visibility};
use crate::classify::Classification;
use crate::ids::{ConversationId, CustomerId, MessageId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// From the brand.
    Outbound,
}

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Author {
    /// The customer.
    Customer(CustomerId),
    /// A human agent, by the app's agent id.
    Agent(String),
    /// Automation (acknowledgements, surveys, holding statements).
    Bot,
    /// The brand, outside carekit (an echo of a message sent from the platform's own app).
    Brand,
    /// Someone other than the conversation's customer, writing in its
    /// private thread (a colleague answering an email thread). Shown to
    /// agents; receives nothing unless an agent adds them.
    Participant(CustomerId),
}

impl Author {
    /// Whether a person at the brand wrote it (an agent, or the brand from elsewhere).
    pub fn is_human_brand(&self) -> bool {
        matches!(self, Author::Agent(_) | Author::Brand)
    }
}

/// A file attached to a message. Only metadata: bytes stay with the platform
/// or the app's storage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name, if any.
    pub name: Option<String>,
    /// MIME type, if known.
    pub content_type: Option<String>,
    /// Where the platform serves it.
    pub url: Option<String>,
    /// Size in bytes, if known.
    pub size: Option<u64>,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// carekit's id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Who wrote it.
    pub author: Author,
    /// Public or private.
    pub visibility: Visibility,
    /// The platform's id, once known (inbound: always; outbound: after sending).
    pub external_id: Option<String>,
    /// The text (for email, the customer's new words without quote and
    /// signature).
    pub text: String,
    /// The whole text as the customer sent it, when `text` is an extract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_text: Option<String>,
    /// The platform's raw form (an email's source), bounded by the adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// When it was written (inbound: the platform's time, never later than
    /// the desk's clock allows; outbound: when queued).
    pub at: DateTime<Utc>,
    /// The time the platform stated, when the desk did not take it as
    /// [`at`](Message::at) (a clock ahead of the desk's); for display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_at: Option<DateTime<Utc>>,
    /// Outbound only: delivery progress.
    pub delivery: Option<DeliveryState>,
    /// Outbound only: why delivery failed, in the platform's words.
    pub delivery_error: Option<String>,
    /// Inbound only: what the classifiers said.
    pub classification: Option<Classification>,
    /// The message was hidden on the platform (audited separately).
    pub hidden: bool,
}

impl Message {
    /// A message with a fresh id and no platform id, attachments, delivery
    /// state or classification yet.
    pub fn new(
        conversation_id: ConversationId,
        direction: Direction,
        author: Author,
        visibility: Visibility,
        text: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: MessageId::new(),
            conversation_id,
            direction,
            author,
            visibility,
            external_id: None,
            text: text.into(),
            original_text: None,
            raw: None,
            attachments: Vec::new(),
            at,
            platform_at: None,
            delivery: None,
            delivery_error: None,
            classification: None,
            hidden: false,
        }
    }

    /// Sets the platform id.
    pub fn with_external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// The whole text as sent: [`original_text`](Message::original_text)
    /// when the adapter extracted [`text`](Message::text) from it.
    pub fn full_text(&self) -> &str {
        self.original_text.as_deref().unwrap_or(&self.text)
    }

    /// Whether this is a brand message a person (not automation) wrote.
    pub fn is_human_response(&self) -> bool {
        self.direction == Direction::Outbound && self.author.is_human_brand()
    }
}
