//! The `Desk`: the engine that turns inbound events into conversations,
//! decides what to do, and drives outbound replies through the outbox.
//!
//! The desk owns orchestration; adapters own platform details; the store
//! owns durability. Every decision the desk takes for one event is written
//! as one [`Commit`](crate::store::Commit), so a crash leaves all of it or
//! none of it, and a replayed webhook changes nothing.

mod acknowledge;
mod actions;
mod after_commit;
mod assign;
mod automation;
mod builder;
mod commit;
mod error;
mod evaluate;
mod events;
mod ingest;
mod merge;
mod notify;
mod ops;
mod outbound;
mod outbox;
mod presence;
mod proactive;
mod replace;
mod shared;
mod survey;
mod survey_plan;
mod thread;

pub use acknowledge::{AutoAcknowledge, AutoAcknowledgeBuilder, Mood};
pub use actions::{Action, Rule, RuleContext, StatusChange, TagTopics};
pub use assign::{Agent, AssignNew, AssignStrategy, Assigner, AssignmentState};
pub use builder::{DeskBuilder, OutboxConfig};
pub use error::DeskError;
pub use events::DeskEvent;
pub use ingest::{IngestOutcome, MAX_FUTURE_SKEW};
pub use merge::MergeOutcome;
pub use notify::{LogNotifier, Notification, Notifier, NotifyRoute, RoutedNotifier};
pub use ops::{HandoffOutcome, HandoffRequest, HideRequest, ReplyRequest};
pub use outbox::{ChannelHealth, OutboxReport, TickReport};
pub use presence::{PRESENCE_REPEAT_SECONDS, PRESENCE_TTL_SECONDS};
pub use shared::{ASSIGNMENT_KEY, CRISIS_KEY, CrisisSwitch, SHARED_STATE_MAX_AGE, health_key};
pub use survey::{SurveyAnswer, SurveyRequest};

use crate::InboundEvent;
use crate::channel::{Channel, ChannelKind};
use crate::classify::Classifier;
use crate::clock::Clock;
use crate::domain::{AuditEntry, ConversationRecord};
use crate::ids::ConversationId;
use crate::intake::{EventSink, IntakeError};
use crate::policy::EscalationPolicy;
use crate::store::{ConversationFilter, Store, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Swappable at run time ([`Desk::replace_channel`]), read per send.
    pub(crate) channels: std::sync::RwLock<HashMap<ChannelKind, Vec<Arc<dyn Channel>>>>,
    pub(crate) classifiers: Vec<Arc<dyn Classifier>>,
    pub(crate) policies: Vec<Arc<dyn EscalationPolicy>>,
    pub(crate) rules: Vec<Arc<dyn Rule>>,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) assigner: Option<Assigner>,
    pub(crate) allow_hide: bool,
    pub(crate) worker: String,
    pub(crate) outbox: OutboxConfig,
    pub(crate) conflict_retries: usize,
    pub(crate) events: broadcast::Sender<DeskEvent>,
    pub(crate) health: Mutex<HashMap<ChannelKind, ChannelHealth>>,
    /// Crisis mode as this process last read it from the store.
    pub(crate) crisis: CrisisSwitch,
    /// Sends the platform accepted whose record could not be written yet
    /// (the store was down): recorded before anything else is sent.
    pub(crate) unrecorded:
        Mutex<HashMap<crate::ids::MessageId, (crate::store::OutboxItem, crate::channel::Delivery)>>,
    /// Ingests of one thread queue here instead of racing to a conflict.
    pub(crate) ingest_stripes: ingest::Stripes,
    /// The change feed's newest changes the tick keeps.
    pub(crate) changes_kept: usize,
    /// When the tick last pruned the change feed (desk's clock).
    pub(crate) changes_pruned_at: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// This worker's last presence writes, to skip repeats.
    pub(crate) recent_presence: Mutex<presence::RecentPresence>,
}

/// The care desk engine. Cheap to clone: clones share one engine.
///
/// ```
/// # use carekit_core::*;
/// # use std::sync::Arc;
/// # async fn demo(channel: Arc<dyn Channel>) -> Result<(), DeskError> {
/// let desk = Desk::builder()
///     .store(Arc::new(MemoryStore::new()))
///     .channel(channel)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Desk {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("worker", &self.inner.worker)
            .field(
                "channels",
                &self
                    .inner
                    .channels
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .keys()
                    .copied()
                    .collect::<Vec<_>>(),
            )
            .field("policies", &self.inner.policies.len())
            .field("rules", &self.inner.rules.len())
            .field("allow_hide", &self.inner.allow_hide)
            .finish_non_exhaustive()
    }
}

impl Desk {
    /// Starts building a desk.
    pub fn builder() -> DeskBuilder {
        DeskBuilder::new()
    }

    /// The store the desk writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The desk's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// This worker's name (used for outbox and deadline leases).
    pub fn worker(&self) -> &str {
        &self.inner.worker
    }

    /// Subscribes to what this desk (this process) does, as it happens
    /// (for metrics and printing). Slow subscribers miss events rather than
    /// slowing the desk. For what every worker on the store changed, in
    /// commit order, read the store's change feed
    /// ([`Store::changes_after`]).
    pub fn subscribe(&self) -> broadcast::Receiver<DeskEvent> {
        self.inner.events.subscribe()
    }

    /// A conversation with its customer and messages.
    pub async fn conversation(&self, id: ConversationId) -> Result<ConversationRecord, DeskError> {
        self.inner
            .store
            .conversation(id)
            .await?
            .ok_or(DeskError::UnknownConversation(id))
    }

    /// Conversations matching `filter`, newest first.
    pub async fn conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRecord>, DeskError> {
        Ok(self.inner.store.list_conversations(filter).await?)
    }

    /// A conversation's audit trail: threading decisions, SLA events,
    /// escalations, hides, handoffs, delivery changes.
    pub async fn audit_trail(&self, id: ConversationId) -> Result<Vec<AuditEntry>, DeskError> {
        Ok(self.inner.store.audit_trail(id).await?)
    }

    /// The channel for `kind`, preferring one that serves `account`.
    pub(crate) fn channel_for(
        &self,
        kind: ChannelKind,
        account: &str,
    ) -> Result<Arc<dyn Channel>, DeskError> {
        let channels = self
            .inner
            .channels
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let candidates = channels.get(&kind).ok_or(DeskError::NoChannel(kind))?;
        candidates
            .iter()
            .find(|c| c.account().as_deref() == Some(account))
            .or_else(|| candidates.iter().find(|c| c.account().is_none()))
            .or_else(|| candidates.first())
            .cloned()
            .ok_or(DeskError::NoChannel(kind))
    }

    pub(crate) fn emit(&self, event: DeskEvent) {
        // No subscribers is fine.
        let _ = self.inner.events.send(event);
    }
}

#[async_trait]
impl EventSink for Desk {
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        match self.ingest(event).await {
            Ok(_) => Ok(()),
            Err(DeskError::InvalidEvent(reason)) => Err(IntakeError::Rejected(reason)),
            Err(DeskError::Store(StoreError::Corrupt(reason))) => {
                Err(IntakeError::Rejected(reason))
            }
            Err(other) => Err(IntakeError::Unavailable(other.to_string())),
        }
    }
}
