//! The platform-facing form of a reply: who it goes to, what it answers,
//! and the thread it continues.

use crate::channel::{OutboundMessage, ReplyContext, Visibility};
use crate::domain::{Author, ConversationRecord};

/// Builds the platform-facing message for a reply in `record`.
pub(crate) fn outbound_for(
    record: &ConversationRecord,
    text: String,
    visibility: Visibility,
    author: &Author,
    subject: Option<String>,
) -> OutboundMessage {
    let last_inbound = record.last_inbound();
    let mut outbound = OutboundMessage::new(record.channel, visibility, text)
        .with_conversation(record.id)
        .with_context(ReplyContext {
            customer_last_message_at: record.last_inbound_at,
            human_agent: author.is_human_brand(),
            in_reply_to_at: last_inbound.map(|m| m.at),
        });
    if !record.account.is_empty() {
        outbound = outbound.with_account(record.account.clone());
    }
    if let Some(identity) = record.reply_to() {
        outbound = outbound.with_recipient(identity.clone());
    }
    if let Some(parent) = last_inbound.and_then(|m| m.external_id.clone()) {
        if record.visibility == Visibility::Public && visibility == Visibility::Private {
            outbound = outbound.with_reply_privately_to(parent);
        } else {
            outbound = outbound.with_in_reply_to(parent);
        }
    }
    let references: Vec<String> = record
        .messages
        .iter()
        .rev()
        .filter_map(|m| m.external_id.clone())
        .skip(1)
        .collect();
    outbound = outbound.with_references(references);
    if let Some(key) = record.thread_key.clone() {
        outbound = outbound.with_thread_key(key);
    }
    let subject = subject.or_else(|| {
        record.subject.as_ref().map(|s| {
            if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
                s.clone()
            } else {
                format!("Re: {s}")
            }
        })
    });
    if let Some(subject) = subject {
        outbound = outbound.with_subject(subject);
    }
    outbound
}
