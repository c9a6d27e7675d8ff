//! What adapters hand inbound events to, and where pollers keep their place.
//!
//! An adapter's webhook route answers 2xx only after [`EventSink::accept`]
//! returned `Ok`, so a platform retries anything not durably stored. The
//! [`Desk`](crate::Desk) is the usual sink; tests use a collecting one.

use crate::domain::InboundEvent;
use crate::store::{Commit, Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;

/// Why a sink refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The event is malformed; retrying the same event will fail again.
    #[error("rejected event: {0}")]
    Rejected(String),
    /// The sink could not store it now (database down); the platform should retry.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

/// Receives normalised inbound events from adapters.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Stores (or recognises as a duplicate) one event. `Ok` means durable.
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError>;

    /// Stores a batch in order; stops at the first failure.
    async fn accept_all(&self, events: Vec<InboundEvent>) -> Result<(), IntakeError> {
        for event in events {
            self.accept(event).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<S: EventSink + ?Sized> EventSink for std::sync::Arc<S> {
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        (**self).accept(event).await
    }
    async fn accept_all(&self, events: Vec<InboundEvent>) -> Result<(), IntakeError> {
        (**self).accept_all(events).await
    }
}

const _: fn(&dyn EventSink) = |_| {};

/// Durable named positions for pollers (an X `since_id`, an IMAP UID), so a
/// restart resumes where it stopped. Every [`Store`] is one.
#[async_trait]
pub trait Cursors: Send + Sync {
    /// The saved value.
    async fn load_cursor(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Saves a value.
    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), StoreError>;
    /// Saves `value` only if the cursor holds `expected` now (`None`:
    /// absent), in one step: `Ok(false)` when it held something else. Two
    /// workers swapping from the same value cannot both succeed.
    async fn swap_cursor(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
impl<S: Store + ?Sized> Cursors for S {
    async fn load_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.cursor(name).await
    }
    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let mut commit = Commit::new();
        commit.cursors.push((name.to_owned(), value.to_owned()));
        self.apply(commit).await
    }
    async fn swap_cursor(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let mut commit = Commit::new();
        commit.cursors.push((name.to_owned(), value.to_owned()));
        commit
            .cursor_expect
            .push((name.to_owned(), expected.map(str::to_owned)));
        match self.apply(commit).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

const _: fn(&dyn Cursors) = |_| {};

/// `cursors` (a store, or any [`Cursors`]) as an `Arc<dyn Cursors>`, for the
/// adapters that keep their place or their ledger in the desk's store:
/// `shared_cursors(desk.store().clone())`.
pub fn shared_cursors<C: Cursors + ?Sized + 'static>(cursors: Arc<C>) -> Arc<dyn Cursors> {
    Arc::new(Shared(cursors))
}

/// Forwards to the cursors it shares.
struct Shared<C: ?Sized>(Arc<C>);

#[async_trait]
impl<C: Cursors + ?Sized> Cursors for Shared<C> {
    async fn load_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.0.load_cursor(name).await
    }
    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.0.save_cursor(name, value).await
    }
    async fn swap_cursor(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        self.0.swap_cursor(name, expected, value).await
    }
}
