//! An in-memory store: the default for tests and examples, and the reference
//! the conformance suite holds the SQL stores to.

use super::{
    Change, ChangeEntry, ChangePage, ChangePosition, Claim, Commit, ConsentRecord,
    ConversationFilter, ConversationStats, ConversationStatsBuilder, ConversationWrite,
    MessageLocation, OutboxItem, Presence, StateCount, Store, StoreError, changes_of, count_states,
};
use crate::canned::{CannedId, CannedResponse, CannedResponses};
use crate::channel::{ChannelKind, DeliveryState};
use crate::domain::{AuditEntry, ConversationRecord, Customer, Message, Status};
use crate::ids::{ConversationId, CustomerId, MessageId, ThreadKey};
use crate::people::{AgentAccount, AgentDirectory, AgentId, TokenId, TokenRecord, normalize_login};
use crate::store::Lease;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

type ThreadIndexKey = (ChannelKind, String, ThreadKey);

#[derive(Default)]
struct Inner {
    dedupe: HashSet<(ChannelKind, String)>,
    customers: HashMap<CustomerId, Customer>,
    identities: HashMap<(ChannelKind, String), CustomerId>,
    conversations: HashMap<ConversationId, ConversationRecord>,
    messages: HashMap<MessageId, Message>,
    conversation_messages: HashMap<ConversationId, Vec<MessageId>>,
    message_index: HashMap<(ChannelKind, String), MessageLocation>,
    threads: HashMap<ThreadIndexKey, Vec<ConversationId>>,
    /// A customer's conversations per channel, so a lookup by customer
    /// (`awaiting_handoff`) reads theirs, not every conversation.
    by_customer: HashMap<(CustomerId, ChannelKind), Vec<ConversationId>>,
    audit: HashMap<ConversationId, Vec<AuditEntry>>,
    outbox: HashMap<MessageId, OutboxItem>,
    consent: HashMap<(ChannelKind, String), ConsentRecord>,
    values: HashMap<String, String>,
    deadlines: BTreeSet<(DateTime<Utc>, ConversationId)>,
    deadline_leases: HashMap<ConversationId, DateTime<Utc>>,
    agents: Vec<AgentAccount>,
    tokens: Vec<TokenRecord>,
    canned: Vec<CannedResponse>,
    /// The change feed, oldest first; positions are `(0, n)`.
    changes: std::collections::VecDeque<Change>,
    /// The last position given out.
    change_seq: u64,
    /// The newest position pruned.
    changes_pruned: ChangePosition,
}

/// Keeps everything in memory behind one lock. Fast, and lost on exit: use
/// `carekit-store-sql` for anything that must survive a restart.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn active_with_key(inner: &Inner, record: &ConversationRecord) -> Option<ConversationId> {
    let key = record.thread_key.clone()?;
    inner
        .threads
        .get(&(record.channel, record.account.clone(), key))?
        .iter()
        .copied()
        .find(|id| {
            *id != record.id
                && inner
                    .conversations
                    .get(id)
                    .is_some_and(|c| c.status != Status::Closed)
        })
}

impl Inner {
    fn validate(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut keys = HashSet::new();
        for (channel, external_id) in &commit.dedupe {
            if self.dedupe.contains(&(*channel, external_id.clone()))
                || !keys.insert((*channel, external_id.clone()))
            {
                return Err(StoreError::Duplicate {
                    channel: *channel,
                    external_id: external_id.clone(),
                });
            }
        }
        let mut claimed: HashMap<(ChannelKind, String), CustomerId> = HashMap::new();
        for customer in &commit.customers {
            for identity in &customer.identities {
                let key = (identity.channel, identity.handle.clone());
                // Owned by a customer this commit rewrites: that rewrite
                // decides whether it keeps the identity.
                let stored_owner = self
                    .identities
                    .get(&key)
                    .filter(|owner| !commit.customers.iter().any(|c| c.id == **owner));
                let taken = stored_owner.is_some_and(|owner| *owner != customer.id)
                    || claimed
                        .insert(key, customer.id)
                        .is_some_and(|other| other != customer.id);
                if taken {
                    return Err(StoreError::Constraint(format!(
                        "identity {}:{} belongs to another customer",
                        identity.channel, identity.handle
                    )));
                }
            }
        }
        for (name, expected) in &commit.values_expect {
            if self.values.get(name) != expected.as_ref() {
                return Err(StoreError::Conflict(format!(
                    "value {name} no longer holds the value it was read with"
                )));
            }
        }
        for (id, expected) in &commit.outbox_expect {
            let found = self.outbox.get(id).map(|item| item.state);
            if found != Some(*expected) {
                return Err(StoreError::Conflict(format!(
                    "outbox item {id} is {}, not {}",
                    found.map_or("missing", |s| s.as_str()),
                    expected.as_str()
                )));
            }
        }
        for write in &commit.conversations {
            let record = write.record();
            match write {
                ConversationWrite::Insert(_) if self.conversations.contains_key(&record.id) => {
                    return Err(StoreError::Constraint(format!(
                        "conversation {} exists",
                        record.id
                    )));
                }
                ConversationWrite::Update {
                    expected_version, ..
                } => {
                    let stored = self.conversations.get(&record.id).ok_or_else(|| {
                        StoreError::Conflict(format!("conversation {} does not exist", record.id))
                    })?;
                    if stored.version != *expected_version {
                        return Err(StoreError::Conflict(format!(
                            "conversation {} is at version {}, not {}",
                            record.id, stored.version, expected_version
                        )));
                    }
                }
                ConversationWrite::Insert(_) => {}
            }
            if record.status != Status::Closed && active_with_key(self, record).is_some() {
                return Err(StoreError::Constraint(format!(
                    "another open conversation has thread key {:?}",
                    record.thread_key
                )));
            }
        }
        for message in &commit.messages {
            let known = self.conversations.contains_key(&message.conversation_id)
                || commit
                    .conversations
                    .iter()
                    .any(|w| w.record().id == message.conversation_id);
            if !known {
                return Err(StoreError::Backend(format!(
                    "message {} refers to unknown conversation {}",
                    message.id, message.conversation_id
                )));
            }
        }
        Ok(())
    }

    fn append_change(&mut self, entry: ChangeEntry) {
        self.change_seq += 1;
        let position = ChangePosition::new(0, self.change_seq);
        self.changes.push_back(entry.at_position(position));
    }

    fn write(&mut self, commit: Commit) {
        for entry in changes_of(&commit) {
            self.append_change(entry);
        }
        for key in commit.dedupe {
            self.dedupe.insert(key);
        }
        for customer in &commit.customers {
            if let Some(old) = self.customers.get(&customer.id) {
                for identity in &old.identities {
                    let key = (identity.channel, identity.handle.clone());
                    if self.identities.get(&key) == Some(&customer.id) {
                        self.identities.remove(&key);
                    }
                }
            }
        }
        for customer in commit.customers {
            for identity in &customer.identities {
                self.identities
                    .insert((identity.channel, identity.handle.clone()), customer.id);
            }
            self.customers.insert(customer.id, customer);
        }
        for write in commit.conversations {
            let mut record = match write {
                ConversationWrite::Insert(r) | ConversationWrite::Update { record: r, .. } => r,
            };
            record.messages.clear();
            if let Some(old) = self.conversations.get(&record.id)
                && let Some(at) = old.next_deadline
            {
                self.deadlines.remove(&(at, record.id));
            }
            if let Some(at) = record.next_deadline {
                self.deadlines.insert((at, record.id));
            }
            self.deadline_leases.remove(&record.id);
            if let Some(key) = record.thread_key.clone() {
                let ids = self
                    .threads
                    .entry((record.channel, record.account.clone(), key))
                    .or_default();
                if !ids.contains(&record.id) {
                    ids.push(record.id);
                }
            }
            let key = (record.customer.id, record.channel);
            if let Some(old) = self.conversations.get(&record.id)
                && (old.customer.id, old.channel) != key
                && let Some(ids) = self.by_customer.get_mut(&(old.customer.id, old.channel))
            {
                ids.retain(|id| *id != record.id);
            }
            let ids = self.by_customer.entry(key).or_default();
            if !ids.contains(&record.id) {
                ids.push(record.id);
            }
            self.customers
                .entry(record.customer.id)
                .or_insert_with(|| record.customer.clone());
            self.conversations.insert(record.id, record);
        }
        for message in commit.messages {
            let channel = self.conversations[&message.conversation_id].channel;
            if let Some(external_id) = &message.external_id {
                self.message_index.insert(
                    (channel, external_id.clone()),
                    MessageLocation {
                        conversation_id: message.conversation_id,
                        message_id: message.id,
                    },
                );
            }
            if !self.messages.contains_key(&message.id) {
                self.conversation_messages
                    .entry(message.conversation_id)
                    .or_default()
                    .push(message.id);
            }
            self.messages.insert(message.id, message);
        }
        for entry in commit.audit {
            self.audit
                .entry(entry.conversation_id)
                .or_default()
                .push(entry);
        }
        for item in commit.outbox {
            let regresses = self.outbox.get(&item.id).is_some_and(|stored| {
                stored.state.is_accepted()
                    && matches!(item.state, DeliveryState::Queued | DeliveryState::Sending)
            });
            if !regresses {
                self.outbox.insert(item.id, item);
            }
        }
        for record in commit.consent {
            self.consent
                .insert((record.channel, record.handle.clone()), record);
        }
        for (name, value) in commit.values {
            self.values.insert(name, value);
        }
    }

    fn full(&self, id: ConversationId) -> Option<ConversationRecord> {
        let mut record = self.conversations.get(&id)?.clone();
        if let Some(customer) = self.customers.get(&record.customer.id) {
            record.customer = customer.clone();
        }
        record.messages = self
            .conversation_messages
            .get(&id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|m| self.messages.get(m).cloned())
                    .collect()
            })
            .unwrap_or_default();
        record.messages.sort_by_key(|m| m.at);
        Some(record)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.validate(&commit)?;
        inner.write(commit);
        Ok(())
    }

    async fn seen(&self, channel: ChannelKind, external_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .dedupe
            .contains(&(channel, external_id.to_owned())))
    }

    async fn customer_by_identity(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<Customer>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .identities
            .get(&(channel, handle.to_owned()))
            .and_then(|id| inner.customers.get(id))
            .cloned())
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        Ok(self.lock().customers.get(&id).cloned())
    }

    async fn locate_message(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<MessageLocation>, StoreError> {
        Ok(self
            .lock()
            .message_index
            .get(&(channel, external_id.to_owned()))
            .copied())
    }

    async fn conversation_by_thread(
        &self,
        channel: ChannelKind,
        account: &str,
        key: &ThreadKey,
    ) -> Result<Option<ConversationId>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .threads
            .get(&(channel, account.to_owned(), key.clone()))
            .and_then(|ids| {
                ids.iter()
                    .filter_map(|id| inner.conversations.get(id))
                    .max_by_key(|c| (c.opened_at, c.id))
                    .map(|c| c.id)
            }))
    }

    async fn awaiting_handoff(
        &self,
        customer: CustomerId,
        channel: ChannelKind,
    ) -> Result<Option<ConversationId>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .by_customer
            .get(&(customer, channel))
            .into_iter()
            .flatten()
            .filter_map(|id| inner.conversations.get(id))
            .filter(|c| c.customer.id == customer && c.awaiting_customer && c.status.is_active())
            .max_by_key(|c| (c.opened_at, c.id))
            .map(|c| c.id))
    }

    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        Ok(self.lock().full(id))
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let inner = self.lock();
        // Everything but the search reads the stored row; only the
        // candidates are made whole (current customer, messages), which a
        // search reads.
        let mut cheap = filter.clone();
        cheap.search = None;
        let mut candidates: Vec<&ConversationRecord> = inner
            .conversations
            .values()
            .filter(|c| cheap.matches(c))
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse((c.opened_at, c.id)));
        Ok(candidates
            .into_iter()
            .filter_map(|c| inner.full(c.id))
            .filter(|c| filter.matches(c))
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn audit_trail(&self, id: ConversationId) -> Result<Vec<AuditEntry>, StoreError> {
        let mut trail = self.lock().audit.get(&id).cloned().unwrap_or_default();
        // Oldest first; entries of one instant keep their insertion order.
        trail.sort_by_key(|e| e.at);
        Ok(trail)
    }

    async fn consent(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        Ok(self
            .lock()
            .consent
            .get(&(channel, handle.to_owned()))
            .cloned())
    }

    async fn value(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().values.get(name).cloned())
    }

    async fn outbox_item(&self, id: MessageId) -> Result<Option<OutboxItem>, StoreError> {
        Ok(self.lock().outbox.get(&id).cloned())
    }

    async fn changes_after(
        &self,
        after: ChangePosition,
        limit: usize,
    ) -> Result<ChangePage, StoreError> {
        let inner = self.lock();
        let start = inner.changes.partition_point(|c| c.position <= after);
        let changes = inner.changes.range(start..).take(limit).cloned().collect();
        Ok(ChangePage::new(changes, after < inner.changes_pruned))
    }

    async fn change_head(&self) -> Result<ChangePosition, StoreError> {
        let inner = self.lock();
        Ok(inner
            .changes
            .back()
            .map_or(inner.changes_pruned, |c| c.position))
    }

    async fn announce(&self, presence: &Presence) -> Result<(), StoreError> {
        self.lock().append_change(ChangeEntry::presence(presence));
        Ok(())
    }

    async fn prune_changes(&self, keep: usize) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut pruned = 0;
        while inner.changes.len() > keep {
            if let Some(change) = inner.changes.pop_front() {
                inner.changes_pruned = inner.changes_pruned.max(change.position);
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    async fn claim_outbox(&self, claim: &Claim) -> Result<Vec<OutboxItem>, StoreError> {
        let mut inner = self.lock();
        let mut due: Vec<&mut OutboxItem> = inner
            .outbox
            .values_mut()
            .filter(|item| {
                let claimable = match item.state {
                    DeliveryState::Queued => {
                        item.lease.as_ref().is_none_or(|l| l.until <= claim.now)
                    }
                    DeliveryState::Sending => {
                        item.lease.as_ref().is_none_or(|l| l.until <= claim.now)
                    }
                    _ => false,
                };
                claimable && item.next_attempt_at <= claim.now
            })
            .collect();
        due.sort_by_key(|item| (item.next_attempt_at, item.created_at, item.id));
        let mut claimed = Vec::new();
        for item in due.into_iter().take(claim.limit) {
            claimed.push(item.clone());
            // The state stays: `sending` is written by the worker right
            // before it calls the platform.
            item.lease = Some(Lease {
                worker: claim.worker.clone(),
                until: claim.now + claim.lease,
            });
        }
        Ok(claimed)
    }

    async fn outbox_in_states(
        &self,
        states: &[DeliveryState],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let inner = self.lock();
        let mut items: Vec<OutboxItem> = inner
            .outbox
            .values()
            .filter(|i| states.contains(&i.state))
            .cloned()
            .collect();
        items.sort_by_key(|i| (i.created_at, i.id));
        items.truncate(limit);
        Ok(items)
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<ConversationId>, StoreError> {
        let mut inner = self.lock();
        let mut picked = Vec::new();
        for (at, id) in inner.deadlines.iter() {
            if *at > claim.now || picked.len() >= claim.limit {
                break;
            }
            let held = inner
                .deadline_leases
                .get(id)
                .is_some_and(|until| *until > claim.now);
            if !held {
                picked.push(*id);
            }
        }
        for id in &picked {
            inner.deadline_leases.insert(*id, claim.now + claim.lease);
        }
        Ok(picked)
    }

    async fn outbox_counts(&self, states: &[DeliveryState]) -> Result<Vec<StateCount>, StoreError> {
        let inner = self.lock();
        Ok(count_states(
            states,
            inner.outbox.values().map(|i| &i.state),
        ))
    }

    async fn conversation_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ConversationStats, StoreError> {
        let inner = self.lock();
        let empty: Vec<AuditEntry> = Vec::new();
        Ok(ConversationStatsBuilder::from_records(
            from,
            to,
            inner
                .conversations
                .values()
                .map(|c| (c, inner.audit.get(&c.id).unwrap_or(&empty).as_slice())),
        ))
    }
}

#[async_trait]
impl AgentDirectory for MemoryStore {
    async fn create_agent(&self, agent: &AgentAccount) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .agents
            .iter()
            .any(|a| a.id == agent.id || a.login == agent.login)
        {
            return Err(StoreError::Constraint(format!(
                "an agent with login {:?} exists",
                agent.login
            )));
        }
        inner.agents.push(agent.clone());
        Ok(())
    }

    async fn agent(&self, id: AgentId) -> Result<Option<AgentAccount>, StoreError> {
        Ok(self.lock().agents.iter().find(|a| a.id == id).cloned())
    }

    async fn agent_by_login(&self, login: &str) -> Result<Option<AgentAccount>, StoreError> {
        let login = normalize_login(login);
        Ok(self
            .lock()
            .agents
            .iter()
            .find(|a| a.login == login)
            .cloned())
    }

    async fn agents(&self) -> Result<Vec<AgentAccount>, StoreError> {
        Ok(self.lock().agents.clone())
    }

    async fn set_agent_disabled(&self, id: AgentId, disabled: bool) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        Ok(match inner.agents.iter_mut().find(|a| a.id == id) {
            Some(agent) => {
                agent.disabled = disabled;
                true
            }
            None => false,
        })
    }

    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .tokens
            .iter()
            .any(|t| t.id == token.id || t.digest == token.digest)
        {
            return Err(StoreError::Constraint("the token exists".into()));
        }
        inner.tokens.push(token.clone());
        Ok(())
    }

    async fn token_by_digest(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self
            .lock()
            .tokens
            .iter()
            .find(|t| t.digest == digest)
            .cloned())
    }

    async fn token(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.lock().tokens.iter().find(|t| t.id == id).cloned())
    }

    async fn tokens(&self, agent: Option<AgentId>) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(self
            .lock()
            .tokens
            .iter()
            .filter(|t| agent.is_none_or(|a| t.agent == a))
            .cloned()
            .collect())
    }

    async fn revoke_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        Ok(match inner.tokens.iter_mut().find(|t| t.id == id) {
            Some(token) => {
                token.revoked_at.get_or_insert(at);
                true
            }
            None => false,
        })
    }

    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(token) = self.lock().tokens.iter_mut().find(|t| t.id == id) {
            token.last_used_at = Some(at);
        }
        Ok(())
    }
}

#[async_trait]
impl CannedResponses for MemoryStore {
    async fn save_canned(&self, response: &CannedResponse) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .canned
            .iter()
            .any(|c| c.id != response.id && c.name == response.name)
        {
            return Err(StoreError::Constraint(format!(
                "a canned response named {:?} exists",
                response.name
            )));
        }
        match inner.canned.iter_mut().find(|c| c.id == response.id) {
            Some(stored) => *stored = response.clone(),
            None => inner.canned.push(response.clone()),
        }
        Ok(())
    }

    async fn canned(&self, id: CannedId) -> Result<Option<CannedResponse>, StoreError> {
        Ok(self.lock().canned.iter().find(|c| c.id == id).cloned())
    }

    async fn canned_all(&self) -> Result<Vec<CannedResponse>, StoreError> {
        let mut all = self.lock().canned.clone();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn delete_canned(&self, id: CannedId) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let before = inner.canned.len();
        inner.canned.retain(|c| c.id != id);
        Ok(inner.canned.len() < before)
    }
}
