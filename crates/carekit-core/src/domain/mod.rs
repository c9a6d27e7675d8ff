//! Plain data types: customers, events, messages, conversations, the audit trail.

mod audit;
mod conversation;
mod event;
mod identity;
mod message;

pub use audit::{
    Actor, AuditEntry, AuditKind, SlaEvent, SlaEventKind, SlaMetric, ThreadDecision, ThreadRule,
};
pub use conversation::{Conversation, ConversationRecord, Priority, Status};
pub use event::{EventKind, InboundEvent, MAX_RAW_BYTES, MAX_TEXT_BYTES, ThreadHints};
pub use identity::{AuthorProfile, Customer, Identity};
pub use message::{Attachment, Author, Direction, Message};
