//! One process's view of the store's change feed: a single poller reads
//! what every worker committed (`Store::changes_after`), in commit order,
//! and fans it out to this process's event-stream clients through a
//! broadcast. Clients that fall behind the broadcast catch up from the
//! store themselves (see `api::events`), so nothing is dropped on the way.

use carekit_core::Store;
use carekit_core::store::{Change, ChangePosition};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// At most this many changes per read of the store.
pub(crate) const PAGE: usize = 500;
/// How many changes the broadcast holds for a slow client before it has to
/// catch up from the store.
const BROADCAST_CAPACITY: usize = 4096;

/// What the poller hands to clients.
#[derive(Clone, Debug)]
pub(crate) enum Live {
    /// The next change of the feed.
    Change(Arc<Change>),
    /// The poller fell behind the feed's retention and starts again here:
    /// clients must reload what they show.
    Reset(ChangePosition),
}

/// The poller and its clients' meeting point. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LiveFeed {
    inner: Arc<Inner>,
}

struct Inner {
    changes: broadcast::Sender<Live>,
    /// The position of the last change broadcast.
    position: watch::Sender<ChangePosition>,
    /// `true` once the server stops: every stream ends.
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("position", &*self.inner.position.borrow())
            .field("clients", &self.inner.changes.receiver_count())
            .finish()
    }
}

impl LiveFeed {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                changes: broadcast::channel(BROADCAST_CAPACITY).0,
                position: watch::channel(ChangePosition::ORIGIN).0,
                closed: watch::channel(false).0,
            }),
        }
    }

    /// What the poller broadcasts from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.inner.changes.subscribe()
    }

    /// The position of the last change broadcast.
    pub(crate) fn position(&self) -> ChangePosition {
        *self.inner.position.borrow()
    }

    /// Completes once the server is stopping.
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.inner.closed.subscribe();
        async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }

    /// Ends every stream (the server is stopping).
    pub(crate) fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// Polls `store` every `every` until `stop`, broadcasting each change
    /// once, in the feed's order. (The desk's tick prunes the feed.)
    pub(crate) async fn run(
        self,
        store: Arc<dyn Store>,
        every: Duration,
        stop: impl Future<Output = ()> + Send,
    ) {
        tokio::pin!(stop);
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Only what is committed from now on: clients that want earlier
        // changes ask with `Last-Event-ID` and read them from the store.
        let mut position = loop {
            tokio::select! {
                () = &mut stop => return,
                _ = interval.tick() => {}
            }
            match store.change_head().await {
                Ok(head) => break head,
                Err(e) => tracing::warn!(error = %e, "cannot read the change feed's head"),
            }
        };
        self.inner.position.send_replace(position);
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = interval.tick() => {}
            }
            position = self.follow(store.as_ref(), position).await;
        }
    }

    /// One poll: with clients, broadcasts what is new; with none, only
    /// moves to the feed's head, so an idle worker reads no changes. The
    /// clients are counted again after the head is read: a client that
    /// subscribes after that count starts at or after the head, so it
    /// misses nothing committed after it subscribed.
    async fn follow(&self, store: &dyn Store, position: ChangePosition) -> ChangePosition {
        let listened = || self.inner.changes.receiver_count() > 0;
        if listened() {
            return self.drain(store, position).await;
        }
        let head = match store.change_head().await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the change feed's head");
                return position;
            }
        };
        if listened() {
            return self.drain(store, position).await;
        }
        let head = head.max(position);
        self.inner.position.send_replace(head);
        head
    }

    /// Broadcasts every readable change after `position`; the position
    /// reached.
    async fn drain(&self, store: &dyn Store, mut position: ChangePosition) -> ChangePosition {
        loop {
            let page = match store.changes_after(position, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the change feed");
                    return position;
                }
            };
            if page.gap {
                // Behind the feed's retention (a long store outage): what
                // was missed is gone, so clients start over from the head.
                let head = store.change_head().await.unwrap_or(position);
                tracing::warn!(%position, %head, "the change feed was pruned past this worker");
                self.inner.position.send_replace(head);
                let _ = self.inner.changes.send(Live::Reset(head));
                return head;
            }
            let read = page.changes.len();
            for change in page.changes {
                position = change.position;
                self.inner.position.send_replace(position);
                // No client connected is fine.
                let _ = self.inner.changes.send(Live::Change(Arc::new(change)));
            }
            if read < PAGE {
                return position;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carekit_core::store::{Activity, ChangeKind, Presence};
    use carekit_core::{AgentId, ConversationId, MemoryStore};

    fn presence(n: i64) -> Presence {
        let at = chrono::DateTime::from_timestamp(1_772_442_000 + n, 0).unwrap();
        Presence::new(
            ConversationId::new(),
            AgentId::new(),
            Activity::Viewing,
            at,
            at,
        )
    }

    #[tokio::test]
    async fn the_poller_broadcasts_each_new_change_once_in_order() {
        let store = Arc::new(MemoryStore::new());
        store.announce(&presence(0)).await.unwrap();
        let feed = LiveFeed::new();
        let mut rx = feed.subscribe();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let poller = tokio::spawn(feed.clone().run(
            store.clone(),
            Duration::from_millis(5),
            async {
                let _ = stop_rx.await;
            },
        ));
        // Wait for the poller to start at the head: the earlier change is
        // not broadcast.
        while feed.position() == ChangePosition::ORIGIN {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for n in 1..=3 {
            store.announce(&presence(n)).await.unwrap();
        }
        let mut seen = Vec::new();
        while seen.len() < 3 {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Live::Change(change) => {
                    assert!(matches!(change.kind, ChangeKind::Presence { .. }));
                    seen.push(change.position);
                }
                Live::Reset(_) => panic!("no reset expected"),
            }
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(seen[0], ChangePosition::new(0, 2));
        stop_tx.send(()).unwrap();
        poller.await.unwrap();
    }

    #[tokio::test]
    async fn with_no_client_the_poller_follows_the_head_and_a_later_client_gets_only_what_follows()
    {
        let store = Arc::new(MemoryStore::new());
        let feed = LiveFeed::new();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let poller = tokio::spawn(feed.clone().run(
            store.clone(),
            Duration::from_millis(5),
            async {
                let _ = stop_rx.await;
            },
        ));
        for n in 1..=3 {
            store.announce(&presence(n)).await.unwrap();
        }
        let head = store.change_head().await.unwrap();
        while feed.position() < head {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut rx = feed.subscribe();
        store.announce(&presence(4)).await.unwrap();
        let after = store.change_head().await.unwrap();
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Live::Change(change) => assert_eq!(change.position, after),
            Live::Reset(_) => panic!("no reset expected"),
        }
        assert!(rx.try_recv().is_err(), "nothing from before the client");
        stop_tx.send(()).unwrap();
        poller.await.unwrap();
    }
}
