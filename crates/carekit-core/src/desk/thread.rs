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
//!
//! Ownership: a conversation's customer is fixed when it opens. When rule 1
//! or 2 finds a conversation whose customer is not the author:
//! - in public (a stranger answering a customer's tweet or comment) the
//!   message goes to the author's own conversation in that thread, linked to
//!   the first for context;
//! - in private (another sender in an email thread) it joins the thread as a
//!   participant's message, and the participant receives nothing unless an
//!   agent adds them.
//!
//! Either way no reply meant for one person reaches another. Echoes of the
//! brand's own messages belong to the conversation they answer.

use super::{Desk, DeskError};
use crate::channel::Visibility;
use crate::domain::{ConversationRecord, Customer, InboundEvent, Status, ThreadRule};
use crate::ids::{ConversationId, ThreadKey};

/// Where a message goes.
pub(crate) enum Target {
    /// An existing conversation.
    Existing {
        record: Box<ConversationRecord>,
        rule: ThreadRule,
        explanation: String,
        /// The author is not the conversation's customer (a private
        /// thread's other sender).
        participant: bool,
    },
    /// A new conversation.
    New {
        rule: ThreadRule,
        explanation: String,
        /// The thread key to open it with, when not the event's own.
        thread_key: Option<ThreadKey>,
        /// Another customer's conversation to link it to (same thread).
        link_to: Option<Box<ConversationRecord>>,
    },
}

impl Target {
    fn new(explanation: String) -> Self {
        Target::New {
            rule: ThreadRule::New,
            explanation,
            thread_key: None,
            link_to: None,
        }
    }
}

/// Marks the per-author part of a thread key.
const AUTHOR_MARK: &str = "#author=";

/// The thread key of `customer`'s own conversation inside the thread of
/// `owner` (another customer's conversation).
pub(crate) fn author_thread_key(owner: &ConversationRecord, customer: &Customer) -> ThreadKey {
    let base = owner
        .thread_key
        .as_ref()
        .map_or_else(|| owner.id.to_string(), |k| k.as_str().to_owned());
    let root = base.split(AUTHOR_MARK).next().unwrap_or(&base);
    ThreadKey::new(format!("{root}{AUTHOR_MARK}{}", customer.id))
}

impl Desk {
    /// Decides where `event` goes. `echo`: the event is the brand's own
    /// message coming back, which belongs to whatever conversation it answers.
    pub(crate) async fn thread(
        &self,
        event: &InboundEvent,
        customer: &Customer,
        echo: bool,
    ) -> Result<Target, DeskError> {
        let found = self.find_thread(event, customer, echo).await?;
        match found {
            Target::Existing {
                record,
                explanation,
                ..
            } if !echo
                && record.customer.id != customer.id
                && record.visibility == Visibility::Public =>
            {
                self.other_author(event, customer, *record, explanation)
                    .await
            }
            Target::Existing {
                record,
                rule,
                explanation,
                ..
            } if !echo && record.customer.id != customer.id => Ok(Target::Existing {
                explanation: format!(
                    "{explanation}; {} is not its customer: a participant, who receives nothing unless an agent adds them",
                    event.author.handle
                ),
                record,
                rule,
                participant: true,
            }),
            other => Ok(other),
        }
    }

    async fn find_thread(
        &self,
        event: &InboundEvent,
        customer: &Customer,
        echo: bool,
    ) -> Result<Target, DeskError> {
        let store = &self.inner.store;
        for parent in &event.thread.parents {
            if let Some(found) = store.locate_message(event.channel, parent).await? {
                let record = self.load(found.conversation_id).await?;
                let explanation = format!("replies to {parent}, already in this conversation");
                if record.status == Status::Closed {
                    return Ok(Target::new(format!(
                        "{explanation}, but that conversation is closed"
                    )));
                }
                return Ok(Target::Existing {
                    record: Box::new(record),
                    rule: ThreadRule::ReplyTo {
                        parent: parent.clone(),
                    },
                    explanation,
                    participant: false,
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
                    participant: false,
                });
            }
        }
        // Rule 3 is for the customer's first private message; the brand's
        // own message coming back belongs only where its thread says.
        if !echo
            && event.visibility == Visibility::Private
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
                participant: false,
            });
        }
        let explanation = match (&event.thread.key, event.thread.parents.first()) {
            (_, Some(parent)) => {
                format!("replies to {parent}, which is not stored: new conversation")
            }
            (Some(key), None) => format!("new {} thread {key}", event.channel),
            (None, None) => "no thread or parent given: new conversation".to_owned(),
        };
        Ok(Target::new(explanation))
    }

    /// The author wrote in another customer's thread: their own
    /// conversation there, or a new one linked to `owner`.
    async fn other_author(
        &self,
        event: &InboundEvent,
        customer: &Customer,
        owner: ConversationRecord,
        found: String,
    ) -> Result<Target, DeskError> {
        let key = author_thread_key(&owner, customer);
        let rule = ThreadRule::OtherAuthor {
            thread_of: owner.id,
        };
        let who = &event.author.handle;
        if let Some(id) = self
            .inner
            .store
            .conversation_by_thread(event.channel, &event.account, &key)
            .await?
        {
            let own = self.load(id).await?;
            if own.status != Status::Closed && own.customer.id == customer.id {
                return Ok(Target::Existing {
                    record: Box::new(own),
                    rule,
                    explanation: format!(
                        "{found}; {who} is not that conversation's customer: their own conversation in the same thread"
                    ),
                    participant: false,
                });
            }
        }
        Ok(Target::New {
            rule,
            explanation: format!(
                "{found}; {who} is not that conversation's customer: a new conversation of their own, linked to it"
            ),
            thread_key: Some(key),
            link_to: Some(Box::new(owner)),
        })
    }

    pub(crate) async fn load(&self, id: ConversationId) -> Result<ConversationRecord, DeskError> {
        self.inner
            .store
            .conversation(id)
            .await?
            .ok_or(DeskError::UnknownConversation(id))
    }
}
