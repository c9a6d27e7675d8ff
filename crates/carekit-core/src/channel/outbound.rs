//! What the engine hands a channel to send, and what comes back.

use crate::channel::{ChannelKind, Visibility};
use crate::domain::{Attachment, Identity};
use crate::ids::{ConversationId, MessageId, ThreadKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Facts about the conversation a channel may need to honour platform rules
/// (reply windows) without keeping state of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyContext {
    /// When the customer last wrote on this channel.
    pub customer_last_message_at: Option<DateTime<Utc>>,
    /// A human agent (not automation) wrote this message; some platforms allow
    /// a longer window for human agents (Messenger's `HUMAN_AGENT` tag).
    pub human_agent: bool,
    /// When the message being answered was written (Facebook allows one
    /// private reply to a comment within 7 days of it).
    pub in_reply_to_at: Option<DateTime<Utc>>,
}

/// A message to send. Build with [`OutboundMessage::new`] and the `with_*`
/// methods. Its [`id`](OutboundMessage::id) is the idempotency key: a channel
/// that can deduplicate on the platform side should pass it along.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutboundMessage {
    /// carekit's id for this message.
    pub id: MessageId,
    /// The conversation it belongs to, when sent by the desk.
    pub conversation_id: Option<ConversationId>,
    /// Which platform.
    pub channel: ChannelKind,
    /// The brand's account it goes out from (X user id, page id, sender
    /// number, mailbox); `None` means the channel's default.
    pub account: Option<String>,
    /// Public reply or private message.
    pub visibility: Visibility,
    /// Who receives it; required for private messages.
    pub recipient: Option<Identity>,
    /// The platform id of the message this answers (tweet id, comment id,
    /// email Message-ID).
    pub in_reply_to: Option<String>,
    /// Answer this public message privately (a Facebook private reply to a
    /// comment): the platform id of the public message.
    pub reply_privately_to: Option<String>,
    /// Older ancestors, nearest first (email `References`).
    pub references: Vec<String>,
    /// The platform thread this belongs to, if known.
    pub thread_key: Option<ThreadKey>,
    /// Subject line (email).
    pub subject: Option<String>,
    /// The text.
    pub text: String,
    /// Attachments to carry.
    pub attachments: Vec<Attachment>,
    /// Facts for platform rules.
    pub context: ReplyContext,
    /// Free-form metadata an adapter may read (for example a Messenger tag).
    pub metadata: BTreeMap<String, String>,
}

impl OutboundMessage {
    /// A message with a fresh id and nothing but its channel, visibility and text.
    pub fn new(channel: ChannelKind, visibility: Visibility, text: impl Into<String>) -> Self {
        Self {
            id: MessageId::new(),
            conversation_id: None,
            channel,
            account: None,
            visibility,
            recipient: None,
            in_reply_to: None,
            reply_privately_to: None,
            references: Vec::new(),
            thread_key: None,
            subject: None,
            text: text.into(),
            attachments: Vec::new(),
            context: ReplyContext::default(),
            metadata: BTreeMap::new(),
        }
    }
    /// Sets the id (the idempotency key).
    pub fn with_id(mut self, id: MessageId) -> Self {
        self.id = id;
        self
    }
    /// Sets the conversation.
    pub fn with_conversation(mut self, id: ConversationId) -> Self {
        self.conversation_id = Some(id);
        self
    }
    /// Sets the sending account.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }
    /// Sets the recipient.
    pub fn with_recipient(mut self, recipient: Identity) -> Self {
        self.recipient = Some(recipient);
        self
    }
    /// Sets the message this answers.
    pub fn with_in_reply_to(mut self, external_id: impl Into<String>) -> Self {
        self.in_reply_to = Some(external_id.into());
        self
    }
    /// Answers the public message `external_id` privately.
    pub fn with_reply_privately_to(mut self, external_id: impl Into<String>) -> Self {
        self.reply_privately_to = Some(external_id.into());
        self
    }
    /// Sets older ancestors, nearest first.
    pub fn with_references(mut self, references: Vec<String>) -> Self {
        self.references = references;
        self
    }
    /// Sets the thread key.
    pub fn with_thread_key(mut self, key: ThreadKey) -> Self {
        self.thread_key = Some(key);
        self
    }
    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Adds an attachment.
    pub fn with_attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }
    /// Sets the reply context.
    pub fn with_context(mut self, context: ReplyContext) -> Self {
        self.context = context;
        self
    }
    /// Adds one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Where an outbound message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Written to the outbox, not yet attempted.
    Queued,
    /// Claimed by a worker and being sent (intent recorded before the call).
    Sending,
    /// The platform accepted it.
    Sent,
    /// The platform reports it reached the recipient.
    Delivered,
    /// The recipient read it.
    Read,
    /// The platform refused it for good.
    Failed,
    /// Retries exhausted; a person must look.
    DeadLettered,
}

impl DeliveryState {
    /// `"queued"`, `"sent"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
            DeliveryState::DeadLettered => "dead_lettered",
        }
    }

    /// Whether the platform has accepted the message (sent or later).
    pub fn is_accepted(self) -> bool {
        matches!(
            self,
            DeliveryState::Sent | DeliveryState::Delivered | DeliveryState::Read
        )
    }

    /// Ordering used to ignore status callbacks that arrive out of order:
    /// a `sent` after a `delivered` changes nothing.
    pub fn rank(self) -> u8 {
        match self {
            DeliveryState::Queued => 0,
            DeliveryState::Sending => 1,
            DeliveryState::Sent => 2,
            DeliveryState::Delivered => 3,
            DeliveryState::Read => 4,
            DeliveryState::Failed => 5,
            DeliveryState::DeadLettered => 6,
        }
    }
}

/// The platform's receipt for a sent message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Delivery {
    /// The platform's id for the message it created (tweet id, comment id,
    /// Twilio SID, email Message-ID).
    pub provider_id: String,
    /// Usually [`DeliveryState::Sent`]; some platforms queue first.
    pub state: DeliveryState,
    /// How many billable parts it took (SMS segments), if known.
    pub parts: Option<u32>,
    /// The platform thread this send established (an X DM conversation id,
    /// an email reply token), so later customer messages thread here.
    pub thread_key: Option<ThreadKey>,
    /// The identity the platform says it delivered to, when it names one
    /// the desk did not address (Messenger answers a private reply to a
    /// comment with the commenter's page-scoped id): the platform vouches
    /// that it is the same person, so the desk links it to the customer.
    pub recipient: Option<Identity>,
}

impl Delivery {
    /// A message the platform accepted under `provider_id`.
    pub fn sent(provider_id: impl Into<String>) -> Self {
        Self {
            provider_id: provider_id.into(),
            state: DeliveryState::Sent,
            parts: None,
            thread_key: None,
            recipient: None,
        }
    }
    /// Names the identity the platform delivered to.
    pub fn with_recipient(mut self, recipient: Identity) -> Self {
        self.recipient = Some(recipient);
        self
    }
    /// Sets the state.
    pub fn with_state(mut self, state: DeliveryState) -> Self {
        self.state = state;
        self
    }
    /// Sets the thread key the send established.
    pub fn with_thread_key(mut self, key: ThreadKey) -> Self {
        self.thread_key = Some(key);
        self
    }
    /// Keeps the thread of the message it delivered (a reply stays in the
    /// thread it answered), if that message named one.
    pub fn in_thread_of(mut self, message: &OutboundMessage) -> Self {
        if let Some(key) = &message.thread_key {
            self.thread_key = Some(key.clone());
        }
        self
    }
    /// Sets the number of billable parts.
    pub fn with_parts(mut self, parts: u32) -> Self {
        self.parts = Some(parts);
        self
    }
}
