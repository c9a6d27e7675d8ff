//! Building a desk.

use super::{Assigner, CrisisSwitch, Desk, DeskError, Inner, LogNotifier, Notifier, Rule};
use crate::channel::{Channel, ChannelKind};
use crate::classify::Classifier;
use crate::clock::{Clock, SystemClock};
use crate::policy::EscalationPolicy;
use crate::store::{MemoryStore, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How the outbox worker behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// How long a claimed item stays with one worker before another may take
    /// it over (longer than the slowest send, retries included).
    pub lease: chrono::Duration,
    /// Attempts before an item is dead-lettered.
    pub max_attempts: u32,
    /// Items claimed per round.
    pub batch: usize,
    /// First backoff between durable re-attempts; doubles per attempt.
    pub backoff: chrono::Duration,
    /// Cap on that backoff.
    pub max_backoff: chrono::Duration,
    /// How long sends on a channel with failed credentials wait before the
    /// desk tries again.
    pub credential_pause: chrono::Duration,
    /// Conversations sent to concurrently in one round (one conversation's
    /// replies always go out in order).
    pub concurrency: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            lease: chrono::Duration::minutes(2),
            max_attempts: 8,
            batch: 32,
            backoff: chrono::Duration::seconds(5),
            max_backoff: chrono::Duration::minutes(30),
            credential_pause: chrono::Duration::minutes(1),
            concurrency: 8,
        }
    }
}

impl OutboxConfig {
    /// Sets [`OutboxConfig::lease`].
    pub fn with_lease(mut self, lease: chrono::Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Sets [`OutboxConfig::max_attempts`].
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
    /// Sets [`OutboxConfig::batch`].
    pub fn with_batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }
    /// Sets [`OutboxConfig::backoff`] and [`OutboxConfig::max_backoff`].
    pub fn with_backoff(mut self, first: chrono::Duration, max: chrono::Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max;
        self
    }
    /// Sets [`OutboxConfig::concurrency`].
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Sets [`OutboxConfig::credential_pause`].
    pub fn with_credential_pause(mut self, pause: chrono::Duration) -> Self {
        self.credential_pause = pause;
        self
    }
}

/// Builds a [`Desk`]. Everything has a default except the channels: a desk
/// with no channel can ingest and report but not answer.
pub struct DeskBuilder {
    store: Option<Arc<dyn Store>>,
    clock: Option<Arc<dyn Clock>>,
    channels: Vec<Arc<dyn Channel>>,
    classifiers: Vec<Arc<dyn Classifier>>,
    policies: Vec<Arc<dyn EscalationPolicy>>,
    rules: Vec<Arc<dyn Rule>>,
    notifier: Option<Arc<dyn Notifier>>,
    assigner: Option<Assigner>,
    allow_hide: bool,
    worker: Option<String>,
    outbox: OutboxConfig,
    conflict_retries: usize,
    event_buffer: usize,
    crisis: Option<CrisisSwitch>,
    changes_kept: usize,
}

impl std::fmt::Debug for DeskBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskBuilder")
            .field("channels", &self.channels.len())
            .field("policies", &self.policies.len())
            .field("allow_hide", &self.allow_hide)
            .finish_non_exhaustive()
    }
}

impl Default for DeskBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DeskBuilder {
    /// Defaults: in-memory store, system clock, no channels, no policies,
    /// hiding disabled.
    pub fn new() -> Self {
        Self {
            store: None,
            clock: None,
            channels: Vec::new(),
            classifiers: Vec::new(),
            policies: Vec::new(),
            rules: Vec::new(),
            notifier: None,
            assigner: None,
            allow_hide: false,
            worker: None,
            outbox: OutboxConfig::default(),
            conflict_retries: 16,
            event_buffer: 1024,
            crisis: None,
            changes_kept: crate::store::DEFAULT_CHANGES_KEPT,
        }
    }
    /// Where to persist (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }
    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Adds a channel. Wrap it in [`Retrying`](crate::Retrying) and
    /// [`RateLimited`](crate::RateLimited) as the platform needs.
    pub fn channel(mut self, channel: Arc<dyn Channel>) -> Self {
        // A kind of the app's own becomes parseable (API filters, config).
        channel.kind().register();
        self.channels.push(channel);
        self
    }
    /// Adds a classifier; all run on every customer message.
    pub fn classifier(mut self, classifier: Arc<dyn Classifier>) -> Self {
        self.classifiers.push(classifier);
        self
    }
    /// Adds an escalation policy.
    pub fn policy(mut self, policy: Arc<dyn EscalationPolicy>) -> Self {
        self.policies.push(policy);
        self
    }
    /// Adds an automation rule.
    pub fn rule(mut self, rule: Arc<dyn Rule>) -> Self {
        self.rules.push(rule);
        self
    }
    /// Where escalation notifications go (default: a `tracing` log line).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }
    /// Assigns new conversations to agents (round-robin within capacity).
    pub fn assigner(mut self, assigner: Assigner) -> Self {
        self.assigner = Some(assigner);
        self
    }
    /// Shares `switch` (a crisis policy's, say) as this desk's copy of
    /// crisis mode, so what the desk reads from the store they see too.
    pub fn crisis_switch(mut self, switch: CrisisSwitch) -> Self {
        self.crisis = Some(switch);
        self
    }
    /// Allows hiding public comments. Off by default: hiding bad press is an
    /// explicit decision, and every hide is audited with who and why.
    pub fn allow_hide(mut self, allow: bool) -> Self {
        self.allow_hide = allow;
        self
    }
    /// This worker's name (default: a random one). Must differ between
    /// workers sharing a store.
    pub fn worker_name(mut self, name: impl Into<String>) -> Self {
        self.worker = Some(name.into());
        self
    }
    /// Outbox behaviour.
    pub fn outbox(mut self, config: OutboxConfig) -> Self {
        self.outbox = config;
        self
    }
    /// How often to re-read and retry when another worker changed the same
    /// conversation concurrently (default 16).
    pub fn conflict_retries(mut self, n: usize) -> Self {
        self.conflict_retries = n;
        self
    }

    /// How many of the store's newest changes the tick keeps in the change
    /// feed (default [`DEFAULT_CHANGES_KEPT`](crate::store::DEFAULT_CHANGES_KEPT));
    /// older ones are pruned about once a minute of the desk's clock, so
    /// the feed stays bounded whoever reads it.
    pub fn keep_changes(mut self, n: usize) -> Self {
        self.changes_kept = n;
        self
    }

    /// Builds the desk.
    ///
    /// # Errors
    /// [`DeskError::Config`] when two channels claim the same kind and
    /// account, or the outbox settings make no sense.
    pub fn build(self) -> Result<Desk, DeskError> {
        let mut channels: HashMap<ChannelKind, Vec<Arc<dyn Channel>>> = HashMap::new();
        for channel in self.channels {
            let list = channels.entry(channel.kind()).or_default();
            if list.iter().any(|c| c.account() == channel.account()) {
                return Err(DeskError::Config(format!(
                    "two {} channels for account {:?}",
                    channel.kind(),
                    channel.account()
                )));
            }
            list.push(channel);
        }
        if self.outbox.max_attempts == 0 || self.outbox.batch == 0 {
            return Err(DeskError::Config(
                "outbox max_attempts and batch must be at least 1".into(),
            ));
        }
        if self.outbox.lease <= chrono::Duration::zero() {
            return Err(DeskError::Config("outbox lease must be positive".into()));
        }
        let (events, _) = broadcast::channel(self.event_buffer.max(1));
        Ok(Desk {
            inner: Arc::new(Inner {
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                channels: std::sync::RwLock::new(channels),
                classifiers: self.classifiers,
                policies: self.policies,
                rules: self.rules,
                notifier: self.notifier.unwrap_or_else(|| Arc::new(LogNotifier)),
                assigner: self.assigner,
                allow_hide: self.allow_hide,
                worker: self
                    .worker
                    .unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4().simple())),
                outbox: self.outbox,
                conflict_retries: self.conflict_retries.max(1),
                events,
                health: Mutex::new(HashMap::new()),
                crisis: self.crisis.unwrap_or_default(),
                unrecorded: Mutex::new(HashMap::new()),
                ingest_stripes: super::ingest::Stripes::default(),
                changes_kept: self.changes_kept,
                changes_pruned_at: Mutex::new(None),
                recent_presence: Mutex::default(),
            }),
        })
    }
}
