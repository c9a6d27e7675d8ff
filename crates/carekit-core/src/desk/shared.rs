//! Decisions every worker of one desk must agree on live in the store, not
//! in one process's memory: crisis mode and its holding statement, each
//! channel's health (a channel degraded by a revoked token holds its sends
//! on every worker, and recovers on every worker), and the assignment
//! rotation with each agent's load (changed in the commit that assigns).
//! Each process keeps a copy, read again when it is older than
//! [`SHARED_STATE_MAX_AGE`], so a switch made through one worker holds on
//! all of them within that time.

use super::{AssignmentState, ChannelHealth, Desk, DeskError};
use crate::channel::ChannelKind;
use crate::domain::ConversationRecord;
use crate::key_values::KeyValues;
use crate::store::Commit;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How old this process's copy of the shared state may be before a
/// decision reads the store again.
pub const SHARED_STATE_MAX_AGE: Duration = Duration::from_secs(1);

/// The ledger key crisis mode is kept under.
pub const CRISIS_KEY: &str = "desk:crisis";

/// The ledger key the assignment rotation and loads are kept under.
pub const ASSIGNMENT_KEY: &str = "desk:assignment";

/// The assignment state as read for one commit: written back, guarded by
/// the value it was read with, only if something changed.
#[derive(Clone, Debug)]
pub(crate) struct AssignmentDraft {
    read: Option<String>,
    pub(crate) state: AssignmentState,
    pub(crate) dirty: bool,
}

/// Who holds a conversation as far as loads go: its assignee while it is
/// active.
pub(crate) fn holder(record: &ConversationRecord) -> Option<String> {
    record
        .assignee
        .clone()
        .filter(|_| record.status.is_active())
}

/// The ledger key a channel's health is kept under.
pub fn health_key(kind: ChannelKind) -> String {
    format!("desk:health:{kind}")
}

/// Crisis mode as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CrisisState {
    on: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holding_statement: Option<String>,
}

struct SwitchInner {
    on: AtomicBool,
    holding: RwLock<Option<String>>,
    /// When the copy was last read from (or written to) the store.
    synced: Mutex<Option<Instant>>,
}

/// This process's copy of crisis mode, shared (cheap to clone) between the
/// desk and whatever else consults it (a crisis SLA policy, a rule
/// wrapper). The desk keeps it in step with the store; reading it never
/// waits.
#[derive(Clone)]
pub struct CrisisSwitch {
    inner: Arc<SwitchInner>,
}

impl std::fmt::Debug for CrisisSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisSwitch")
            .field("on", &self.is_on())
            .field("holding_statement", &self.holding_statement().is_some())
            .finish()
    }
}

impl Default for CrisisSwitch {
    fn default() -> Self {
        Self::new()
    }
}

impl CrisisSwitch {
    /// Off, with no holding statement, never read from a store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(SwitchInner {
                on: AtomicBool::new(false),
                holding: RwLock::new(None),
                synced: Mutex::new(None),
            }),
        }
    }

    /// Whether crisis mode is on, as this process last read it.
    pub fn is_on(&self) -> bool {
        self.inner.on.load(Ordering::SeqCst)
    }

    /// The holding statement, as this process last read it.
    pub fn holding_statement(&self) -> Option<String> {
        self.inner
            .holding
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets this process's copy only (a switch no desk shares, or a test).
    /// A desk's next read of the store overwrites it: to switch a desk,
    /// use [`Desk::set_crisis_mode`].
    pub fn set_local(&self, on: bool) {
        self.inner.on.store(on, Ordering::SeqCst);
    }

    /// Sets this process's holding statement (empty clears it).
    pub fn set_local_holding_statement(&self, text: impl Into<String>) {
        let text = text.into();
        *self
            .inner
            .holding
            .write()
            .unwrap_or_else(|p| p.into_inner()) = (!text.trim().is_empty()).then_some(text);
    }

    fn adopt(&self, state: &CrisisState) {
        self.inner.on.store(state.on, Ordering::SeqCst);
        if let Some(text) = &state.holding_statement {
            self.set_local_holding_statement(text.clone());
        }
        *self.inner.synced.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn is_fresh(&self) -> bool {
        self.inner
            .synced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < SHARED_STATE_MAX_AGE)
    }
}

fn decode(value: Option<&str>) -> CrisisState {
    value
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

impl Desk {
    /// Crisis mode holds back public automated replies on every worker of
    /// this desk (a prepared holding statement goes out by hand instead).
    /// Stored, so every worker sharing the store follows within
    /// [`SHARED_STATE_MAX_AGE`]; `holding_statement` replaces the stored
    /// one when given. Off by default.
    ///
    /// # Errors
    /// The store's error; the switch is then unchanged everywhere.
    pub async fn set_crisis_mode(
        &self,
        on: bool,
        holding_statement: Option<String>,
    ) -> Result<(), DeskError> {
        let store = &self.inner.store;
        // Read, change, swap from what was read: a holding statement set by
        // another worker in between is not lost.
        for _ in 0..8 {
            let read = store.load_value(CRISIS_KEY).await?;
            let mut state = decode(read.as_deref());
            state.on = on;
            if let Some(text) = &holding_statement {
                state.holding_statement = (!text.trim().is_empty()).then(|| text.clone());
            }
            let value = serde_json::to_string(&state)
                .map_err(|e| DeskError::InvalidRequest(e.to_string()))?;
            if store
                .swap_value(CRISIS_KEY, read.as_deref(), &value)
                .await?
            {
                self.inner.crisis.adopt(&state);
                return Ok(());
            }
        }
        Err(DeskError::Store(crate::store::StoreError::Conflict(
            "crisis mode changed by other workers eight times in a row".into(),
        )))
    }

    /// Whether crisis mode is on, as this process last read it (never older
    /// than [`SHARED_STATE_MAX_AGE`] when a decision used it).
    pub fn crisis_mode(&self) -> bool {
        self.inner.crisis.is_on()
    }

    /// This desk's crisis switch, to share with policies and rules that
    /// consult it.
    pub fn crisis_switch(&self) -> CrisisSwitch {
        self.inner.crisis.clone()
    }

    /// Reads the shared state again when this process's copy is older than
    /// [`SHARED_STATE_MAX_AGE`]. The desk calls it before each ingest and
    /// each outbox round; a store that cannot be read leaves the copy as it
    /// was (the decision that follows will meet the same store error).
    pub async fn refresh_shared_state(&self) {
        if self.inner.crisis.is_fresh() {
            return;
        }
        let store = &self.inner.store;
        let mut health = Vec::new();
        for kind in self.channel_kinds() {
            match store.load_value(&health_key(kind)).await {
                Ok(value) => health.push((kind, value)),
                Err(e) => {
                    tracing::debug!(error = %e, "shared desk state not refreshed");
                    return;
                }
            }
        }
        match store.load_value(CRISIS_KEY).await {
            Ok(value) => self.inner.crisis.adopt(&decode(value.as_deref())),
            Err(e) => {
                tracing::debug!(error = %e, "shared desk state not refreshed");
                return;
            }
        }
        for (kind, value) in health {
            self.adopt_health(kind, value.as_deref());
        }
    }

    /// Reads one channel's stored health into this worker's copy, however
    /// fresh the copy is. A send about to be held because this copy says
    /// the channel is degraded asks the store first: another worker may
    /// have replaced the credentials and released the held sends a moment
    /// ago, and holding them again on a stale copy would keep them until
    /// the credential pause ends.
    pub(crate) async fn reread_health(&self, kind: ChannelKind) {
        match self.inner.store.load_value(&health_key(kind)).await {
            Ok(value) => self.adopt_health(kind, value.as_deref()),
            Err(e) => tracing::debug!(error = %e, channel = %kind, "channel health not re-read"),
        }
    }

    fn adopt_health(&self, kind: ChannelKind, stored: Option<&str>) {
        let mut local = self.inner.health.lock().unwrap_or_else(|p| p.into_inner());
        match stored.and_then(|v| serde_json::from_str::<ChannelHealth>(v).ok()) {
            Some(degraded @ ChannelHealth::Degraded { .. }) => {
                local.insert(kind, degraded);
            }
            _ => {
                local.remove(&kind);
            }
        }
    }

    /// The assignment rotation and each agent's load, as stored.
    ///
    /// # Errors
    /// The store's.
    pub async fn assignment_state(&self) -> Result<AssignmentState, DeskError> {
        Ok(self.load_assignment().await?.state)
    }

    pub(crate) async fn load_assignment(&self) -> Result<AssignmentDraft, DeskError> {
        let read = self.inner.store.load_value(ASSIGNMENT_KEY).await?;
        let state = read
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        Ok(AssignmentDraft {
            read,
            state,
            dirty: false,
        })
    }

    /// Counts a change of who holds a conversation (assigned, reassigned,
    /// resolved, reopened) in the assignment state, and stages the state in
    /// `commit`, guarded by the value it was read with: two workers
    /// assigning at once conflict, and the loser reads again.
    pub(crate) async fn settle_assignment(
        &self,
        before: Option<String>,
        record: &ConversationRecord,
        draft: &mut Option<AssignmentDraft>,
        commit: &mut Commit,
    ) -> Result<(), DeskError> {
        if self.inner.assigner.is_none() {
            return Ok(());
        }
        let after = holder(record);
        if before != after {
            if draft.is_none() {
                *draft = Some(self.load_assignment().await?);
            }
            if let Some(d) = draft.as_mut() {
                if let Some(old) = &before {
                    d.state.adjust(old, false);
                }
                if let Some(new) = &after {
                    d.state.adjust(new, true);
                }
                d.dirty = true;
            }
        }
        if let Some(d) = draft.as_ref().filter(|d| d.dirty) {
            let value = serde_json::to_string(&d.state)
                .map_err(|e| DeskError::InvalidRequest(e.to_string()))?;
            commit.values.push((ASSIGNMENT_KEY.to_owned(), value));
            commit
                .values_expect
                .push((ASSIGNMENT_KEY.to_owned(), d.read.clone()));
        }
        Ok(())
    }

    /// Stores a channel's health for every worker.
    pub(crate) async fn store_health(
        &self,
        kind: ChannelKind,
        health: &ChannelHealth,
    ) -> Result<(), DeskError> {
        let value =
            serde_json::to_string(health).map_err(|e| DeskError::InvalidRequest(e.to_string()))?;
        self.inner
            .store
            .save_value(&health_key(kind), &value)
            .await?;
        Ok(())
    }
}
