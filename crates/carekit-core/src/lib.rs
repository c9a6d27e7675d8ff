//! # carekit-core
//!
//! The platform-free heart of carekit: plain data types, the three traits
//! the rest of carekit composes around, and the [`Desk`] engine.
//!
//! - [`Channel`]: sends on one platform (adapters implement it).
//! - [`Conversation`]: the read view policies evaluate (the engine's
//!   [`ConversationRecord`] implements it; so can an app's own ticket).
//! - [`EscalationPolicy`]: decides when people must look, and why.
//!
//! Plus [`Store`], [`Clock`] and [`Classifier`]. Inbound traffic arrives as
//! [`InboundEvent`]s from adapters and goes through [`Desk::ingest`].
//!
//! See `docs/architecture.md` in the repository for the data flow.

pub mod canned;
pub mod channel;
pub mod classify;
pub mod clock;
pub mod desk;
pub mod domain;
pub mod ids;
pub mod intake;
pub mod key_values;
pub mod people;
pub mod policy;
pub mod store;
pub mod template;

pub use canned::{CannedId, CannedResponse, CannedResponses};
pub use channel::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, DeliveryState, OutboundMessage,
    RateLimited, ReplyContext, ReplyWindow, RetryPolicy, Retrying, Traced, Visibility,
};
pub use classify::{Classification, Classifier, Topic};
pub use clock::{Clock, FakeClock, SystemClock, TokioClock};
pub use desk::{Desk, DeskBuilder, DeskError};
pub use domain::{
    Actor, Attachment, AuditEntry, AuditKind, Author, AuthorProfile, Conversation,
    ConversationRecord, Customer, Direction, EventKind, Identity, InboundEvent, Message, Priority,
    SlaEvent, SlaEventKind, SlaMetric, Status, ThreadDecision, ThreadHints, ThreadRule,
};
pub use ids::{CaseId, ConversationId, CustomerId, MessageId, ThreadKey};
pub use intake::{EventSink, IntakeError};
pub use key_values::{KeyValues, shared_key_values};
pub use people::{
    AgentAccount, AgentDirectory, AgentId, PasswordHash, Role, Scope, TokenId, TokenRecord,
};
pub use policy::{Escalation, EscalationPolicy, EscalationReason, PolicyContext, Trigger};
pub use store::{Commit, ConsentRecord, ConversationFilter, MemoryStore, Store, StoreError};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
