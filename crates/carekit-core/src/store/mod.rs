//! Persistence behind one trait.
//!
//! The desk reads what it needs, decides, and writes everything one event
//! causes as a single [`Commit`], which a store applies in one transaction.
//! Stores stay simple (no engine logic); correctness under many workers
//! comes from three constraints every store enforces:
//!
//! 1. a dedupe key `(channel, external_id)` is stored once
//!    ([`StoreError::Duplicate`]);
//! 2. a conversation update succeeds only against the version it was read at
//!    ([`StoreError::Conflict`]), and at most one conversation per
//!    `(channel, account, thread_key)` is not [`Status::Closed`];
//! 3. an identity `(channel, handle)` belongs to one customer
//!    ([`StoreError::Constraint`]; a commit may move identities between the
//!    customers it writes, which is how a merge is applied).
//!
//! On `Conflict` the desk re-reads and decides again.
//!
//! Every commit also writes its rows of the change feed ([`changes_of`]) in
//! the same transaction; [`Store::changes_after`] reads them back in commit
//! order for live views, whichever worker wrote them.
//!
//! [`Status::Closed`]: crate::Status::Closed

mod changes;
mod memory;
mod outbox;
mod stats;

pub use changes::{
    Activity, Change, ChangeEntry, ChangeKind, ChangePage, ChangePosition, ChangePositionError,
    DEFAULT_CHANGES_KEPT, Presence, changes_of,
};
pub use memory::MemoryStore;
pub use outbox::{Claim, Lease, OutboxItem};
pub use stats::{
    ChannelStats, ConversationStats, ConversationStatsBuilder, ResponseMetric, ResponseTimes,
    StateCount, count_states,
};

use crate::channel::ChannelKind;
use crate::domain::{AuditEntry, ConversationRecord, Customer, Message, Priority};
use crate::ids::{ConversationId, CustomerId, MessageId, ThreadKey};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// This `(channel, external_id)` was stored before: the event is a replay.
    #[error("duplicate event {channel}:{external_id}")]
    Duplicate {
        /// The channel.
        channel: ChannelKind,
        /// The platform id.
        external_id: String,
    },
    /// Someone else changed the data since it was read; read again and retry.
    #[error("concurrent update: {0}")]
    Conflict(String),
    /// The database cannot be reached or failed transiently.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A write broke a rule of the data that no retry can mend (an identity
    /// another customer owns, a thread key another open conversation holds,
    /// a value the database cannot store). Not contention: re-reading and
    /// deciding again is the caller's call, blind retries never help.
    #[error("constraint: {0}")]
    Constraint(String),
    /// The file or database is not a carekit store (or not a database at all).
    #[error("not a carekit store: {0}")]
    NotAStore(String),
    /// The schema was written by a newer carekit; refusing to touch it.
    #[error("store schema version {found} is newer than this carekit supports ({supported})")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Stored data could not be decoded.
    #[error("corrupt data in store: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("store error: {0}")]
    Backend(String),
    /// The URL names a database this build of the store leaves out; enable
    /// the named Cargo feature of the named crate.
    #[error("{backend} is not built in: enable the `{feature}` feature of `{krate}`")]
    NotBuilt {
        /// The database asked for (`"Postgres"`, `"SQLite"`).
        backend: &'static str,
        /// The crate that has the feature.
        krate: &'static str,
        /// The Cargo feature to enable.
        feature: &'static str,
    },
}

impl StoreError {
    /// Whether trying again can help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict(_) | StoreError::Unavailable(_))
    }
}

/// Where a message lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLocation {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
}

/// A conversation write inside a [`Commit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConversationWrite {
    /// A new conversation; `Conflict` if another non-closed conversation has
    /// the same `(channel, account, thread_key)`. Its `messages` are ignored
    /// (write them in [`Commit::messages`]).
    Insert(ConversationRecord),
    /// An update; `Conflict` unless the stored version equals
    /// `expected_version`. The stored version becomes `record.version`.
    /// Also clears any deadline claim on the conversation.
    Update {
        /// The new state (its `messages` are ignored).
        record: ConversationRecord,
        /// The version it was read at.
        expected_version: u64,
    },
}

impl ConversationWrite {
    /// The record written.
    pub fn record(&self) -> &ConversationRecord {
        match self {
            ConversationWrite::Insert(r) => r,
            ConversationWrite::Update { record, .. } => record,
        }
    }
}

/// A stored opt-in/opt-out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The channel.
    pub channel: ChannelKind,
    /// The handle (an E.164 number for SMS).
    pub handle: String,
    /// `false` once opted out.
    pub opted_in: bool,
    /// When.
    pub at: DateTime<Utc>,
    /// What caused it (`"keyword STOP"`, `"twilio error 21610"`).
    pub source: String,
}

/// Everything one decision writes, applied atomically: all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Commit {
    /// Dedupe keys to insert; any already present fails the whole commit
    /// with [`StoreError::Duplicate`].
    pub dedupe: Vec<(ChannelKind, String)>,
    /// Customers to insert or replace (identities included).
    pub customers: Vec<Customer>,
    /// Conversations to insert or update.
    pub conversations: Vec<ConversationWrite>,
    /// Messages to insert or replace (by id).
    pub messages: Vec<Message>,
    /// Audit entries to append.
    pub audit: Vec<AuditEntry>,
    /// Outbox items to insert or replace (by id). Replacing releases the
    /// lease. An item the platform accepted (sent, delivered, read) is never
    /// written back to queued or sending: such a write leaves it as it is.
    pub outbox: Vec<OutboxItem>,
    /// Outbox items that must still be in the given state for the commit to
    /// apply ([`StoreError::Conflict`] otherwise): a manual retry only
    /// requeues what is still failed, never what another worker took since.
    #[serde(default)]
    pub outbox_expect: Vec<(MessageId, crate::channel::DeliveryState)>,
    /// Consent changes.
    pub consent: Vec<ConsentRecord>,
    /// Named values to save in the store's key-value ledger
    /// ([`KeyValues`](crate::KeyValues)): poll positions such as an X
    /// `since_id` or an IMAP UID, claims, shared state. (Read back as
    /// `cursors`, the name earlier versions wrote.)
    #[serde(alias = "cursors")]
    pub values: Vec<(String, String)>,
    /// Named values that must hold the given value (`None`: be absent) for
    /// the commit to apply ([`StoreError::Conflict`] otherwise). Checked and
    /// written in one step, so two workers claiming one key (a comment's
    /// one private reply) cannot both succeed. (Read back as
    /// `values_expect`, the name earlier versions wrote.)
    #[serde(default, alias = "values_expect")]
    pub values_expect: Vec<(String, Option<String>)>,
}

impl Commit {
    /// An empty commit.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.dedupe.is_empty()
            && self.customers.is_empty()
            && self.conversations.is_empty()
            && self.messages.is_empty()
            && self.audit.is_empty()
            && self.outbox.is_empty()
            && self.outbox_expect.is_empty()
            && self.consent.is_empty()
            && self.values.is_empty()
            && self.values_expect.is_empty()
    }
}

/// Which conversations to list. All fields narrow the result; the default
/// lists everything, newest first (by `opened_at`, then id, descending:
/// the order pages follow).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationFilter {
    /// Only these statuses (by [`Status::as_str`](crate::Status::as_str)).
    pub status: Option<String>,
    /// Only this channel.
    pub channel: Option<ChannelKind>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only this customer.
    pub customer: Option<CustomerId>,
    /// Only conversations opened at or after.
    pub opened_from: Option<DateTime<Utc>>,
    /// Only conversations opened before.
    pub opened_to: Option<DateTime<Utc>>,
    /// Only conversations assigned to this agent.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Only conversations of this team.
    #[serde(default)]
    pub team: Option<String>,
    /// Only conversations with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only escalated conversations (`true`: escalation level above 0) or
    /// only those never escalated (`false`).
    #[serde(default)]
    pub escalated: Option<bool>,
    /// Only conversations whose next SLA deadline is before this instant.
    #[serde(default)]
    pub due_before: Option<DateTime<Utc>>,
    /// Only conversations a search finds: see [`SearchQuery`].
    #[serde(default)]
    pub search: Option<SearchQuery>,
    /// Only conversations after this position in the listing order (the
    /// next page after a page that ended there).
    #[serde(default)]
    pub after: Option<ListPosition>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

/// A place in the listing order of conversations: `(opened_at, id)`,
/// descending. A page ends at its last conversation's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListPosition {
    /// The conversation's `opened_at`.
    pub opened_at: DateTime<Utc>,
    /// The conversation's id (breaks ties between equal times).
    pub id: ConversationId,
}

impl ListPosition {
    /// The position of `record`.
    pub fn of(record: &ConversationRecord) -> Self {
        Self {
            opened_at: record.opened_at,
            id: record.id,
        }
    }
}

/// What a search looks for: a conversation matches when one of its
/// customer's handles contains the query (case-insensitive), or when one
/// of its messages contains every word of the query as a whole word
/// (case-insensitive). Words are runs of letters and digits, so quotes,
/// operators (`AND`, `*`, `-`, `NEAR`) and other punctuation are never
/// syntax: they separate words or are themselves matched as words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    text: String,
}

impl SearchQuery {
    /// The most words a query keeps (the rest are ignored).
    pub const MAX_WORDS: usize = 16;

    /// A query for `text`, trimmed, NUL bytes read as spaces (no store
    /// keeps them in what it searches).
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into().replace('\0', " ").trim().to_owned(),
        }
    }

    /// The query as given, trimmed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The query lowercased: what a handle must contain.
    pub fn handle_needle(&self) -> String {
        self.text.to_lowercase()
    }

    /// The words a message must hold, lowercased, at most
    /// [`MAX_WORDS`](Self::MAX_WORDS), each once.
    pub fn words(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for word in words_of(&self.text) {
            if out.len() == Self::MAX_WORDS {
                break;
            }
            if !out.contains(&word) {
                out.push(word);
            }
        }
        out
    }

    /// Whether `record` is found: by a handle of its customer or by the
    /// text of one of its messages.
    pub fn finds(&self, record: &ConversationRecord) -> bool {
        let needle = self.handle_needle();
        if !needle.is_empty()
            && record
                .customer
                .identities
                .iter()
                .any(|i| i.handle.to_lowercase().contains(&needle))
        {
            return true;
        }
        let words = self.words();
        !words.is_empty()
            && record.messages.iter().any(|m| {
                let have: Vec<String> = words_of(&m.text).collect();
                words.iter().all(|w| have.contains(w))
            })
    }
}

/// The lowercased words of `text`: runs of letters and digits.
fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

impl ConversationFilter {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }
    /// Sets the status filter.
    pub fn with_status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }
    /// Sets the channel filter.
    pub fn with_channel(mut self, channel: ChannelKind) -> Self {
        self.channel = Some(channel);
        self
    }
    /// Sets the priority filter.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }
    /// Sets the customer filter.
    pub fn with_customer(mut self, customer: CustomerId) -> Self {
        self.customer = Some(customer);
        self
    }
    /// Sets the assignee filter (an agent's id).
    pub fn with_assignee(mut self, agent: impl Into<String>) -> Self {
        self.assignee = Some(agent.into());
        self
    }
    /// Sets the team filter.
    pub fn with_team(mut self, team: impl Into<String>) -> Self {
        self.team = Some(team.into());
        self
    }
    /// Sets the tag filter.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }
    /// Only escalated conversations (`true`) or only never-escalated ones.
    pub fn with_escalated(mut self, escalated: bool) -> Self {
        self.escalated = Some(escalated);
        self
    }
    /// Only conversations whose next SLA deadline is before `at`.
    pub fn with_due_before(mut self, at: DateTime<Utc>) -> Self {
        self.due_before = Some(at);
        self
    }
    /// Only conversations `query` finds (see [`SearchQuery`]).
    pub fn with_search(mut self, query: SearchQuery) -> Self {
        self.search = Some(query);
        self
    }
    /// Only conversations after `position` in the listing order.
    pub fn after(mut self, position: ListPosition) -> Self {
        self.after = Some(position);
        self
    }
    /// Sets the opened-at range.
    pub fn opened_between(
        mut self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Self {
        self.opened_from = from;
        self.opened_to = to;
        self
    }
    /// Sets the limit.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `record` passes the filter (limit aside). `record` must be
    /// whole: its current customer and its messages (a search reads both).
    /// Stores that filter in memory use this, and the SQL stores are held
    /// to it by the conformance suite, so every backend agrees.
    pub fn matches(&self, record: &ConversationRecord) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| record.status.as_str() == s)
            && self.channel.is_none_or(|c| record.channel == c)
            && self.priority.is_none_or(|p| record.priority == p)
            && self.customer.is_none_or(|c| record.customer.id == c)
            && self.opened_from.is_none_or(|t| record.opened_at >= t)
            && self.opened_to.is_none_or(|t| record.opened_at < t)
            && self
                .assignee
                .as_deref()
                .is_none_or(|a| record.assignee.as_deref() == Some(a))
            && self
                .team
                .as_deref()
                .is_none_or(|t| record.team.as_deref() == Some(t))
            && self.tag.as_ref().is_none_or(|t| record.tags.contains(t))
            && self
                .escalated
                .is_none_or(|e| (record.escalation_level > 0) == e)
            && self
                .due_before
                .is_none_or(|t| record.next_deadline.is_some_and(|d| d < t))
            && self.after.is_none_or(|p| ListPosition::of(record) < p)
            && self.search.as_ref().is_none_or(|q| q.finds(record))
    }
}

/// Where the desk keeps everything. See the module docs for the contract;
/// `carekit-store-sql` runs one conformance suite against every backend.
#[async_trait]
pub trait Store: Send + Sync {
    /// Applies `commit` atomically.
    async fn apply(&self, commit: Commit) -> Result<(), StoreError>;

    /// Whether `(channel, external_id)` was stored as a dedupe key.
    async fn seen(&self, channel: ChannelKind, external_id: &str) -> Result<bool, StoreError>;

    /// The customer who owns an identity.
    async fn customer_by_identity(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<Customer>, StoreError>;

    /// A customer by id.
    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError>;

    /// Where a message with this platform id lives (inbound, or outbound
    /// once the platform gave it an id).
    async fn locate_message(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<MessageLocation>, StoreError>;

    /// The most recently opened conversation with this thread key, whatever
    /// its status.
    async fn conversation_by_thread(
        &self,
        channel: ChannelKind,
        account: &str,
        key: &ThreadKey,
    ) -> Result<Option<ConversationId>, StoreError>;

    /// The customer's newest active conversation on `channel` that was
    /// created by a handoff and still awaits the customer's first message.
    async fn awaiting_handoff(
        &self,
        customer: CustomerId,
        channel: ChannelKind,
    ) -> Result<Option<ConversationId>, StoreError>;

    /// A conversation with its customer and messages (oldest first).
    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// Conversations matching `filter`, newest first, with customers and messages.
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRecord>, StoreError>;

    /// A conversation's audit trail, oldest first.
    async fn audit_trail(&self, id: ConversationId) -> Result<Vec<AuditEntry>, StoreError>;

    /// The latest consent record for a handle.
    async fn consent(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<ConsentRecord>, StoreError>;

    /// The value saved under `name` in the store's key-value ledger (see
    /// [`KeyValues`](crate::KeyValues), which every store is).
    async fn value(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// An outbox item by id.
    async fn outbox_item(&self, id: MessageId) -> Result<Option<OutboxItem>, StoreError>;

    /// Claims up to `claim.limit` outbox items that are due: state
    /// `Queued`, or `Sending` whose lease expired (its worker died), with
    /// `next_attempt_at <= claim.now`. Each is leased to `claim.worker` until
    /// `claim.now + claim.lease` and stored as `Sending`; no other worker gets
    /// it until the lease expires or the item is rewritten. The items are
    /// returned as they were *before* the claim, so a `Sending` state tells
    /// the caller a previous attempt's outcome is unknown.
    async fn claim_outbox(&self, claim: &Claim) -> Result<Vec<OutboxItem>, StoreError>;

    /// Outbox items in any of `states`, oldest first (for dashboards and reconciling).
    async fn outbox_in_states(
        &self,
        states: &[crate::channel::DeliveryState],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Claims up to `claim.limit` conversations whose `next_deadline <= claim.now`
    /// and which no other worker holds, earliest deadline first, leasing each
    /// until `claim.now + claim.lease`. Writing the conversation releases it.
    async fn claim_due(&self, claim: &Claim) -> Result<Vec<ConversationId>, StoreError>;

    /// Up to `limit` changes after `after`, oldest first, in commit order:
    /// a reader that passes the position of the last change it saw gets
    /// every later change exactly once. A change is readable once every
    /// commit that could be ordered before it has finished, so a commit
    /// that started earlier and finished later is never skipped.
    async fn changes_after(
        &self,
        after: ChangePosition,
        limit: usize,
    ) -> Result<ChangePage, StoreError>;

    /// The position of the newest readable change ([`ChangePosition::ORIGIN`]
    /// when there is none): a reader that wants only what happens from now
    /// on starts here.
    async fn change_head(&self) -> Result<ChangePosition, StoreError>;

    /// Writes a presence announcement into the change feed. It changes no
    /// conversation; its `until` tells readers when to forget it, and it
    /// is pruned with the other changes.
    async fn announce(&self, presence: &Presence) -> Result<(), StoreError>;

    /// Deletes every readable change but the newest `keep`; a later read
    /// from a position before the deleted ones reports
    /// [`ChangePage::gap`]. The number of changes deleted.
    async fn prune_changes(&self, keep: usize) -> Result<u64, StoreError>;

    /// How many outbox items are in each of `states` (in that order; 0 for
    /// a state with none), counted by the store (`GROUP BY` in SQL) so a
    /// metrics scrape never loads the items.
    ///
    /// The default counts what [`outbox_in_states`](Store::outbox_in_states)
    /// returns; stores with a query language should override it.
    async fn outbox_counts(
        &self,
        states: &[crate::channel::DeliveryState],
    ) -> Result<Vec<StateCount>, StoreError> {
        let items = self.outbox_in_states(states, usize::MAX).await?;
        Ok(count_states(states, items.iter().map(|i| &i.state)))
    }

    /// Aggregates over the conversations opened in `[from, to)`: counts per
    /// channel and status, response-time percentiles, escalations, SLA
    /// outcomes, handoffs and CSAT. A store computes the counts itself and
    /// reads at most one narrow column per conversation in the range for
    /// the percentiles; it never hands messages or audit trails to the
    /// caller.
    ///
    /// The default reads the conversations and their trails (correct, and
    /// as slow as that); stores with a query language should override it.
    async fn conversation_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ConversationStats, StoreError> {
        let records = self
            .list_conversations(&ConversationFilter::all().opened_between(Some(from), Some(to)))
            .await?;
        let mut trails = Vec::with_capacity(records.len());
        for c in &records {
            trails.push(self.audit_trail(c.id).await?);
        }
        Ok(ConversationStatsBuilder::from_records(
            from,
            to,
            records.iter().zip(trails.iter().map(Vec::as_slice)),
        ))
    }
}

// Stores are used as `Arc<dyn Store>`.
const _: fn(&dyn Store) = |_| {};
