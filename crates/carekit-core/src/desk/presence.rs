//! Presence: an agent says they are viewing or typing on a conversation,
//! and every worker's live views hear it through the store's change feed.

use super::{Desk, DeskError};
use crate::ids::ConversationId;
use crate::people::AgentId;
use crate::store::{Activity, Presence};

/// How long a presence announcement holds unless repeated: clients repeat
/// it while the agent stays (every 10 s is plenty).
pub const PRESENCE_TTL_SECONDS: i64 = 30;

impl Desk {
    /// Announces that `agent` (the authenticated account, never a name a
    /// client sent) is doing `activity` on `conversation`, from now (the
    /// desk's clock) for [`PRESENCE_TTL_SECONDS`].
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
        let presence = Presence::new(
            conversation,
            agent,
            activity,
            now,
            now + chrono::Duration::seconds(PRESENCE_TTL_SECONDS),
        );
        self.inner.store.announce(&presence).await?;
        Ok(presence)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{ChangeKind, ChangePosition};
    use crate::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn presence_is_written_to_the_feed_for_known_conversations_only() {
        let store = Arc::new(MemoryStore::new());
        let clock = FakeClock::new("2026-03-02T09:00:00Z".parse().unwrap());
        let desk = Desk::builder()
            .store(store.clone())
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
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
        let customer = Customer::new(Identity::new(ChannelKind::Sms, "+14155550123"), start);
        let record = ConversationRecord::new(
            ChannelKind::Sms,
            "brand",
            Visibility::Private,
            customer,
            start,
        );
        let mut commit = Commit::new();
        commit
            .conversations
            .push(store::ConversationWrite::Insert(record.clone()));
        store.apply(commit).await.unwrap();
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
}
