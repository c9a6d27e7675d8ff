//! Threading: which conversation a message belongs to, and why.
//!
//! Order of rules, first match wins:
//! 1. a parent the platform names (the tweet replied to, the parent comment,
//!    `In-Reply-To`/`References`) is already stored → its conversation;
//! 2. the platform's thread key matches a conversation → that one, unless it
//!    is closed (then a new one);
//! 3. a private message from a customer whose public complaint was handed
//!    off to this channel → the waiting private conversation;
//! 4. otherwise a new conversation.

use super::{Desk, DeskError};
use crate::channel::Visibility;
use crate::domain::{ConversationRecord, Customer, InboundEvent, Status, ThreadRule};
use crate::ids::ConversationId;

/// Where a message goes.
pub(crate) enum Target {
    /// An existing conversation.
    Existing {
        record: Box<ConversationRecord>,
        rule: ThreadRule,
        explanation: String,
    },
    /// A new conversation.
    New { explanation: String },
}

impl Desk {
    pub(crate) async fn thread(
        &self,
        event: &InboundEvent,
        customer: &Customer,
    ) -> Result<Target, DeskError> {
        let store = &self.inner.store;
        for parent in &event.thread.parents {
            if let Some(found) = store.locate_message(event.channel, parent).await? {
                let record = self.load(found.conversation_id).await?;
                let explanation = format!("replies to {parent}, already in this conversation");
                if record.status == Status::Closed {
                    return Ok(Target::New {
                        explanation: format!("{explanation}, but that conversation is closed"),
                    });
                }
                return Ok(Target::Existing {
                    record: Box::new(record),
                    rule: ThreadRule::ReplyTo {
                        parent: parent.clone(),
                    },
                    explanation,
                });
            }
        }
        if let Some(key) = &event.thread.key
            && let Some(id) = store
                .conversation_by_thread(event.channel, &event.account, key)
                .await?
        {
            let record = self.load(id).await?;
            if record.status != Status::Closed {
                return Ok(Target::Existing {
                    record: Box::new(record),
                    rule: ThreadRule::ThreadKey { key: key.clone() },
                    explanation: format!("same {} thread {key}", event.channel),
                });
            }
        }
        if event.visibility == Visibility::Private
            && let Some(id) = store.awaiting_handoff(customer.id, event.channel).await?
        {
            let record = self.load(id).await?;
            return Ok(Target::Existing {
                record: Box::new(record),
                rule: ThreadRule::Handoff,
                explanation: format!(
                    "first {} message from a customer whose public complaint was moved here",
                    event.channel
                ),
            });
        }
        let explanation = match (&event.thread.key, event.thread.parents.first()) {
            (_, Some(parent)) => {
                format!("replies to {parent}, which is not stored: new conversation")
            }
            (Some(key), None) => format!("new {} thread {key}", event.channel),
            (None, None) => "no thread or parent given: new conversation".to_owned(),
        };
        Ok(Target::New { explanation })
    }

    pub(crate) async fn load(&self, id: ConversationId) -> Result<ConversationRecord, DeskError> {
        self.inner
            .store
            .conversation(id)
            .await?
            .ok_or(DeskError::UnknownConversation(id))
    }
}
