//! A durable key-value ledger with compare-and-swap, kept in the store.
//!
//! Adapters and the engine keep small named values here: poller positions
//! (an X `since_id`, an IMAP UID), Facebook's once-per-comment
//! private-reply claims, the email thread index, when a digest last went
//! out, the shared crisis and assignment state, login throttles. Every
//! [`Store`] is one ([`Store::value`] reads, [`Commit::values`] and
//! [`Commit::values_expect`] write); [`shared_key_values`] turns any
//! `Arc` of one into an `Arc<dyn KeyValues>` for an adapter to hold.

use crate::store::{Commit, Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;

/// Durable named values with compare-and-swap, so a restart resumes where
/// it stopped and two workers never both claim one key. Every [`Store`] is
/// one.
#[async_trait]
pub trait KeyValues: Send + Sync {
    /// The value saved under `name`, if any.
    async fn load_value(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Saves `value` under `name`.
    async fn save_value(&self, name: &str, value: &str) -> Result<(), StoreError>;
    /// Saves `value` only if `name` holds `expected` now (`None`: absent),
    /// in one step: `Ok(false)` when it held something else. Two workers
    /// swapping from the same value cannot both succeed.
    async fn swap_value(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
impl<S: Store + ?Sized> KeyValues for S {
    async fn load_value(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.value(name).await
    }
    async fn save_value(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let mut commit = Commit::new();
        commit.values.push((name.to_owned(), value.to_owned()));
        self.apply(commit).await
    }
    async fn swap_value(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let mut commit = Commit::new();
        commit.values.push((name.to_owned(), value.to_owned()));
        commit
            .values_expect
            .push((name.to_owned(), expected.map(str::to_owned)));
        match self.apply(commit).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

const _: fn(&dyn KeyValues) = |_| {};

/// `values` (a store, or any [`KeyValues`]) as an `Arc<dyn KeyValues>`, for
/// the adapters that keep their place or their claims in the desk's store:
/// `shared_key_values(desk.store().clone())`.
pub fn shared_key_values<K: KeyValues + ?Sized + 'static>(values: Arc<K>) -> Arc<dyn KeyValues> {
    Arc::new(Shared(values))
}

/// Forwards to the key values it shares.
struct Shared<K: ?Sized>(Arc<K>);

#[async_trait]
impl<K: KeyValues + ?Sized> KeyValues for Shared<K> {
    async fn load_value(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.0.load_value(name).await
    }
    async fn save_value(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.0.save_value(name, value).await
    }
    async fn swap_value(
        &self,
        name: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        self.0.swap_value(name, expected, value).await
    }
}
