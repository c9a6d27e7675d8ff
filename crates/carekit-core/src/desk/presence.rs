//! Presence: an agent says they are viewing or typing on a conversation,
//! and every worker's live views hear it through the store's change feed.

use super::{Desk, DeskError};
use crate::ids::ConversationId;
use crate::people::AgentId;
use crate::store::{Activity, Presence};
use std::collections::HashMap;

/// How long a presence announcement holds unless repeated: clients repeat
/// it while the agent stays (every 10 s is plenty).
pub const PRESENCE_TTL_SECONDS: i64 = 30;

/// A repeat of the same typing announcement (same conversation and agent)
/// within this many seconds of the one written is answered with that one
/// and not written again: a console that reports typing on every keystroke
/// costs the change feed one row per ten seconds, not one per key.
/// Viewing is always written: clients send it when a case opens, as a
/// heartbeat, and to answer an agent who just arrived, who must hear it.
pub const PRESENCE_REPEAT_SECONDS: i64 = 10;

/// This worker's last written announcement per conversation and agent:
/// a cache that only saves writes (another worker may write its own).
#[derive(Debug, Default)]
pub(crate) struct RecentPresence {
    written: HashMap<(ConversationId, AgentId), Presence>,
}

impl RecentPresence {
    /// The announcement still fresh enough to stand for a repeat.
    fn repeat_of(
        &self,
        conversation: ConversationId,
        agent: AgentId,
        activity: Activity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Presence> {
        self.written
            .get(&(conversation, agent))
            .filter(|p| {
                activity == Activity::Typing
                    && p.activity == activity
                    && now >= p.at
                    && now - p.at < chrono::Duration::seconds(PRESENCE_REPEAT_SECONDS)
            })
            .cloned()
    }

    /// Remembers `presence`, forgetting the announcements that have expired.
    fn remember(&mut self, presence: Presence) {
        let now = presence.at;
        self.written.retain(|_, p| p.until > now);
        self.written
            .insert((presence.conversation, presence.agent), presence);
    }
}

impl Desk {
    /// Announces that `agent` (the authenticated account, never a name a
    /// client sent) is doing `activity` on `conversation`, from now (the
    /// desk's clock) for [`PRESENCE_TTL_SECONDS`]. A typing announcement
    /// repeated within [`PRESENCE_REPEAT_SECONDS`] of this worker's last
    /// write of it returns that one unwritten.
    ///
    /// # Errors
    /// [`DeskError::UnknownConversation`] when there is no such
    /// conversation; a store error when it cannot be written.
    pub async fn announce_presence(
        &self,
        conversation: ConversationId,
        agent: AgentId,
        activity: Activity,
    ) -> Result<Presence, DeskError> {
        if self.inner.store.conversation(conversation).await?.is_none() {
            return Err(DeskError::UnknownConversation(conversation));
        }
        let now = self.inner.clock.now();
        if let Some(earlier) = self
            .recent_presence()
            .repeat_of(conversation, agent, activity, now)
        {
            return Ok(earlier);
        }
        let presence = Presence::new(
            conversation,
            agent,
            activity,
            now,
            now + chrono::Duration::seconds(PRESENCE_TTL_SECONDS),
        );
        self.inner.store.announce(&presence).await?;
        self.recent_presence().remember(presence.clone());
        Ok(presence)
    }

    fn recent_presence(&self) -> std::sync::MutexGuard<'_, RecentPresence> {
        self.inner
            .recent_presence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{ChangeKind, ChangePosition};
    use crate::*;
    use std::sync::Arc;

    /// A desk on a memory store and a fake clock.
    fn memory_desk() -> (Arc<MemoryStore>, FakeClock, Desk) {
        let store = Arc::new(MemoryStore::new());
        let clock = FakeClock::new("2026-03-02T09:00:00Z".parse().unwrap());
        let desk = Desk::builder()
            .store(store.clone())
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        (store, clock, desk)
    }

    /// An SMS conversation stored at `at`.
    async fn stored_conversation(
        store: &MemoryStore,
        at: chrono::DateTime<chrono::Utc>,
    ) -> ConversationRecord {
        let customer = Customer::new(Identity::new(ChannelKind::Sms, "+14155550123"), at);
        let record =
            ConversationRecord::new(ChannelKind::Sms, "brand", Visibility::Private, customer, at);
        let mut commit = Commit::new();
        commit
            .conversations
            .push(store::ConversationWrite::Insert(record.clone()));
        store.apply(commit).await.unwrap();
        record
    }

    #[tokio::test]
    async fn presence_is_written_to_the_feed_for_known_conversations_only() {
        let (store, clock, desk) = memory_desk();
        let agent = crate::people::AgentId::new();
        let unknown = ConversationId::new();
        assert!(matches!(
            desk.announce_presence(unknown, agent, store::Activity::Typing)
                .await,
            Err(DeskError::UnknownConversation(id)) if id == unknown
        ));
        assert!(
            store
                .changes_after(ChangePosition::ORIGIN, 10)
                .await
                .unwrap()
                .changes
                .is_empty()
        );

        let start = clock.now();
        let record = stored_conversation(&store, start).await;
        let head = store.change_head().await.unwrap();
        let presence = desk
            .announce_presence(record.id, agent, store::Activity::Viewing)
            .await
            .unwrap();
        assert_eq!(presence.at, start);
        assert_eq!(
            presence.until,
            start + chrono::Duration::seconds(super::PRESENCE_TTL_SECONDS)
        );
        let page = store.changes_after(head, 10).await.unwrap();
        assert_eq!(page.changes.len(), 1);
        assert_eq!(page.changes[0].conversation, Some(record.id));
        assert_eq!(
            page.changes[0].kind,
            ChangeKind::Presence {
                agent,
                activity: store::Activity::Viewing,
                until: presence.until
            }
        );
    }

    #[tokio::test]
    async fn typing_repeated_within_ten_seconds_is_not_written_again() {
        let (store, clock, desk) = memory_desk();
        let start = clock.now();
        let record = stored_conversation(&store, start).await;
        let (ann, bob) = (crate::people::AgentId::new(), crate::people::AgentId::new());
        let head = store.change_head().await.unwrap();
        let written = |from| {
            let store = store.clone();
            async move { store.changes_after(from, 100).await.unwrap().changes.len() }
        };
        let first = desk
            .announce_presence(record.id, ann, store::Activity::Typing)
            .await
            .unwrap();
        // Keystrokes over the next nine seconds: one row.
        for _ in 0..9 {
            clock.advance(chrono::Duration::seconds(1));
            let again = desk
                .announce_presence(record.id, ann, store::Activity::Typing)
                .await
                .unwrap();
            assert_eq!(again, first);
        }
        assert_eq!(written(head).await, 1);
        // Another agent, or another activity, is news.
        desk.announce_presence(record.id, bob, store::Activity::Typing)
            .await
            .unwrap();
        let viewing = desk
            .announce_presence(record.id, ann, store::Activity::Viewing)
            .await
            .unwrap();
        assert_eq!(viewing.activity, store::Activity::Viewing);
        assert_eq!(written(head).await, 3);
        // Viewing is always written: a newcomer must hear who is there.
        clock.advance(chrono::Duration::seconds(1));
        desk.announce_presence(record.id, ann, store::Activity::Viewing)
            .await
            .unwrap();
        assert_eq!(written(head).await, 4);
        // Ten seconds after the first, typing is written again.
        clock.advance(chrono::Duration::seconds(super::PRESENCE_REPEAT_SECONDS));
        let later = desk
            .announce_presence(record.id, ann, store::Activity::Typing)
            .await
            .unwrap();
        assert_eq!(later.at, clock.now());
        assert_eq!(written(head).await, 5);
    }
}
