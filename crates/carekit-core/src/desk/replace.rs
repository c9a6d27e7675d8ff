//! Replacing a channel while the desk runs: how new credentials take
//! effect after a token expired or was revoked, without a restart and
//! without losing the sends that waited.

use super::outbox::HELD_FOR_CREDENTIALS;
use super::{Desk, DeskError};
use crate::channel::{Channel, DeliveryState};
use crate::store::Commit;
use std::sync::Arc;

/// How many waiting sends one replacement releases at once; the rest go
/// out when their own retry time comes.
const RELEASE_LIMIT: usize = 10_000;

impl Desk {
    /// The kinds of channel this desk sends through, in order.
    pub fn channel_kinds(&self) -> Vec<crate::ChannelKind> {
        let channels = self
            .inner
            .channels
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut kinds: Vec<_> = channels.keys().copied().collect();
        kinds.sort();
        kinds
    }

    /// Puts `channel` in place of the one serving the same kind and account
    /// (or adds it), marks the kind healthy again, and makes the sends held
    /// back for credentials due now (other waits, such as a backoff or a
    /// delayed survey, keep their time). Returns how many were released.
    ///
    /// # Errors
    /// [`DeskError::Store`] when the held sends cannot be read or written;
    /// the channel is replaced regardless.
    pub async fn replace_channel(&self, channel: Arc<dyn Channel>) -> Result<usize, DeskError> {
        let kind = channel.kind();
        let account = channel.account();
        {
            let mut channels = self
                .inner
                .channels
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let list = channels.entry(kind).or_default();
            match list.iter_mut().find(|c| c.account() == account) {
                Some(slot) => *slot = channel,
                None => list.push(channel),
            }
        }
        self.reset_channel_health(kind).await?;
        let now = self.inner.clock.now();
        let held = self
            .inner
            .store
            .outbox_in_states(&[DeliveryState::Queued], RELEASE_LIMIT)
            .await?;
        let mut commit = Commit::new();
        for mut item in held {
            let held_for_credentials = item
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with(HELD_FOR_CREDENTIALS));
            if item.message.channel == kind && held_for_credentials && item.next_attempt_at > now {
                item.next_attempt_at = now;
                commit.outbox.push(item);
            }
        }
        let released = commit.outbox.len();
        if released > 0 {
            self.inner.store.apply(commit).await?;
        }
        Ok(released)
    }
}
