//! Telling people: escalations and warnings go to a notifier the app picks
//! (Slack, email digest, pager). Best effort: a failed notification is
//! logged, never blocks care.

use crate::ids::ConversationId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A message for the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// The conversation concerned.
    pub conversation_id: ConversationId,
    /// The team to reach, if routed.
    pub team: Option<String>,
    /// Escalation level.
    pub level: u8,
    /// One line.
    pub subject: String,
    /// The explanation.
    pub body: String,
}

impl Notification {
    /// A notification about `conversation_id`.
    pub fn new(
        conversation_id: ConversationId,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            conversation_id,
            team: None,
            level: 1,
            subject: subject.into(),
            body: body.into(),
        }
    }
    /// Sets the team.
    pub fn with_team(mut self, team: Option<String>) -> Self {
        self.team = team;
        self
    }
    /// Sets the level.
    pub fn with_level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }
}

/// Delivers notifications to people.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one notification.
    async fn notify(&self, notification: &Notification) -> Result<(), String>;
}

const _: fn(&dyn Notifier) = |_| {};

/// Writes notifications to the `tracing` log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        tracing::warn!(conversation = %n.conversation_id, team = ?n.team, level = n.level, "{}: {}", n.subject, n.body);
        Ok(())
    }
}
