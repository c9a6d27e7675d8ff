//! Missing parents. A reply whose parent the desk has never seen would open
//! a wrong, fresh conversation; instead the parent chain is fetched (bounded
//! depth) so the reply can join the right thread.
//!
//! Fetched ancestors are handed to the desk before the reply only when they
//! belong to the care conversation: the same customer's tweets, or the
//! brand's own (as echoes). Strangers' tweets are never ingested as
//! customer messages; their conversation id still threads the reply.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use carekit_core::{ChannelKind, EventKind, InboundEvent, Store, StoreError, ThreadKey};

use crate::client::XClient;

/// Answers "has the desk already stored this tweet?".
#[async_trait]
pub trait KnownTweets: Send + Sync {
    /// Whether a tweet with this id is stored (inbound or sent).
    async fn knows(&self, tweet_id: &str) -> Result<bool, StoreError>;
}

#[async_trait]
impl<S: Store + ?Sized> KnownTweets for S {
    async fn knows(&self, tweet_id: &str) -> Result<bool, StoreError> {
        if self.seen(ChannelKind::Twitter, tweet_id).await? {
            return Ok(true);
        }
        Ok(self
            .locate_message(ChannelKind::Twitter, tweet_id)
            .await?
            .is_some())
    }
}

struct Shared<K: ?Sized>(Arc<K>);

#[async_trait]
impl<K: KnownTweets + ?Sized> KnownTweets for Shared<K> {
    async fn knows(&self, tweet_id: &str) -> Result<bool, StoreError> {
        self.0.knows(tweet_id).await
    }
}

/// Fetches unknown parents through the API, at most `max_depth` hops up.
#[derive(Clone)]
pub struct ParentResolver {
    client: XClient,
    known: Arc<dyn KnownTweets>,
    max_depth: usize,
}

impl std::fmt::Debug for ParentResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentResolver")
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}

impl ParentResolver {
    /// Resolves through `client`, asking `known` (usually the desk's store:
    /// `desk.store().clone()`) what is already stored. Depth defaults to 3.
    pub fn new<K: KnownTweets + ?Sized + 'static>(client: XClient, known: Arc<K>) -> Self {
        Self {
            client,
            known: Arc::new(Shared(known)),
            max_depth: 3,
        }
    }

    /// How many ancestors to fetch at most per event (0 disables fetching).
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Completes a public reply whose parent is unknown: fills its thread key
    /// from the fetched parent's conversation id when it has none, and
    /// returns the ancestors to hand over first, oldest first.
    /// `prefetched` holds tweets already at hand (a page's expansions), so
    /// they cost no call. Failures are logged and leave the event as it is.
    pub(crate) async fn resolve(
        &self,
        event: &mut InboundEvent,
        prefetched: &HashMap<String, InboundEvent>,
    ) -> Vec<InboundEvent> {
        let customer = event.author.handle.clone();
        let mut ancestors = Vec::new();
        let mut next = event.thread.parents.first().cloned();
        let mut depth = 0;
        while let Some(parent) = next.take() {
            if depth >= self.max_depth {
                break;
            }
            match self.known.knows(&parent).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, parent, "cannot tell whether the parent is stored");
                    break;
                }
            }
            depth += 1;
            let fetched = match prefetched.get(&parent) {
                Some(p) => Some(p.clone()),
                None => match self.client.tweet(&parent).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, parent, "could not fetch the parent tweet");
                        break;
                    }
                },
            };
            let Some(found) = fetched else {
                tracing::debug!(parent, "parent tweet is gone or unusable");
                break;
            };
            if event.thread.key.is_none() {
                event.thread.key = found.thread.key.clone();
            }
            next = found.thread.parents.first().cloned();
            let ours = found.kind == EventKind::Echo || found.author.handle == customer;
            if ours {
                ancestors.push(found);
            } else {
                tracing::debug!(
                    parent,
                    "parent is by another user: threads the reply, not ingested"
                );
            }
        }
        if event.thread.key.is_none() && event.thread.parents.is_empty() {
            event.thread.key = Some(ThreadKey::new(event.external_id.clone()));
        }
        ancestors.reverse();
        ancestors
    }
}
