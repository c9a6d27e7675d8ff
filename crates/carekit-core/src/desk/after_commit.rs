//! What happens once a commit is written: events are broadcast, escalations
//! notify people, and automation's follow-ups (a handoff, a hide, a
//! notification, a survey) run, each as a change of its own.

use super::{Desk, DeskError, DeskEvent, HandoffRequest, HideRequest, Notification};
use crate::domain::{Actor, ConversationRecord};
use crate::ids::{ConversationId, MessageId};
use crate::policy::Escalation;
use std::future::Future;
use std::pin::Pin;

/// Work automation leaves for after the commit.
pub(crate) enum After {
    /// A rule's handoff.
    HandOff(String, HandoffRequest),
    /// A rule's hide of a message, with the reason.
    Hide(String, MessageId, String),
    /// A rule's notification.
    Notify(Notification),
    /// A survey to send.
    Survey(super::survey::PendingSurvey),
}

impl Desk {
    /// Side effects after a commit: notifications and broadcast events.
    pub(crate) async fn after_commit(
        &self,
        record: &ConversationRecord,
        escalations: &[Escalation],
        queued: &[(MessageId, bool)],
    ) {
        for esc in escalations {
            self.emit(DeskEvent::Escalated {
                conversation_id: record.id,
                escalation: esc.clone(),
            });
            if esc.notify {
                let note = Notification::new(
                    record.id,
                    format!(
                        "Escalation ({}) on {} conversation",
                        esc.reason.code(),
                        record.channel
                    ),
                    esc.explanation.clone(),
                )
                .with_team(esc.team.clone().or_else(|| record.team.clone()))
                .with_level(esc.level);
                if let Err(e) = self.inner.notifier.notify(&note).await {
                    tracing::warn!(conversation = %record.id, error = %e, "notification failed");
                }
            }
        }
        for (message_id, automated) in queued {
            self.emit(DeskEvent::Queued {
                conversation_id: record.id,
                message_id: *message_id,
                channel: record.channel,
                automated: *automated,
            });
        }
    }

    /// Runs automation's follow-ups, each a change of its own. Boxed: a
    /// follow-up commits, and committing runs follow-ups.
    pub(crate) fn run_after(
        &self,
        conversation_id: ConversationId,
        after: Vec<After>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move { self.run_after_now(conversation_id, after).await })
    }

    async fn run_after_now(&self, conversation_id: ConversationId, after: Vec<After>) {
        for work in after {
            let result = match work {
                After::HandOff(rule, mut request) => {
                    request.by = Actor::Automation(rule);
                    self.handoff(conversation_id, request).await.map(|_| ())
                }
                After::Hide(rule, message_id, reason) => {
                    let request = HideRequest::new(Actor::Automation(rule), reason);
                    self.hide(conversation_id, message_id, request).await
                }
                After::Notify(note) => self
                    .inner
                    .notifier
                    .notify(&note)
                    .await
                    .map_err(|e| DeskError::InvalidRequest(format!("notifier: {e}"))),
                After::Survey(pending) => self.send_survey(conversation_id, pending).await,
            };
            if let Err(e) = result {
                tracing::warn!(conversation = %conversation_id, error = %e, "automation step failed");
            }
        }
    }
}
