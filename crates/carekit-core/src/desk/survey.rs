//! Satisfaction surveys, as the desk carries them out.
//!
//! A rule decides *whether* to survey ([`Action::Survey`]) and *what* an
//! answer says ([`Action::SurveyAnswered`]); the desk decides *where*, and
//! it only ever sends a survey in a private conversation: the conversation
//! itself when it is private, else the private conversation a handoff linked
//! to it, else nowhere (audited as [`AuditKind::CsatSkipped`]). No rule can
//! make the desk ask for a rating in public: the request has no visibility
//! to set, and the target's visibility is checked again right before queueing.
//!
//! [`Action::Survey`]: super::Action::Survey
//! [`Action::SurveyAnswered`]: super::Action::SurveyAnswered

use super::{Desk, DeskError};
use crate::channel::Visibility;
use crate::domain::{AuditKind, Author, ConversationRecord, Status};
use crate::ids::ConversationId;
use crate::policy::Trigger;
use chrono::Duration;

/// A satisfaction survey a rule asks for (after a resolution). It carries no
/// visibility on purpose: the desk sends surveys privately or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SurveyRequest {
    /// The question the customer reads.
    pub question: String,
    /// Wait this long before sending (the outbox holds it); `None` sends at once.
    pub delay: Option<Duration>,
}

impl SurveyRequest {
    /// A survey asking `question`, sent as soon as the outbox runs.
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            delay: None,
        }
    }
    /// Holds the survey back for `delay` after the resolution.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// A customer's rating, read by a rule from their answer to a survey.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SurveyAnswer {
    /// 1 (very unhappy) to 5 (very happy); anything else is refused.
    pub rating: u8,
    /// The customer's words, kept verbatim.
    pub answer: String,
}

impl SurveyAnswer {
    /// A rating with the customer's words.
    pub fn new(rating: u8, answer: impl Into<String>) -> Self {
        Self {
            rating,
            answer: answer.into(),
        }
    }
}

/// Survey work left for after the commit (it may touch another conversation).
pub(crate) struct PendingSurvey {
    pub(crate) rule: String,
    pub(crate) request: SurveyRequest,
    pub(crate) agent: Option<String>,
}

impl Desk {
    /// After the commit: finds the private conversation to survey in and
    /// queues the survey there, or records why not.
    pub(crate) async fn send_survey(
        &self,
        from: ConversationId,
        pending: PendingSurvey,
    ) -> Result<(), DeskError> {
        let PendingSurvey {
            rule,
            request,
            agent,
        } = pending;
        let origin = self.load(from).await?;
        let target = if origin.visibility == Visibility::Private {
            Some(origin)
        } else {
            let mut found = None;
            for id in origin.linked.iter().rev() {
                let linked = self.load(*id).await?;
                if linked.visibility == Visibility::Private && linked.status != Status::Closed {
                    found = Some(linked);
                    break;
                }
            }
            found
        };
        let Some(target) = target else {
            let reason = format!(
                "{rule}: no open private conversation linked; surveys are never sent publicly"
            );
            return self.skip_survey(from, reason, agent).await;
        };
        if let Err(e) = self.check_survey_target(&target, &request.question).await {
            let reason = format!("{rule}: {e}");
            return self.skip_survey(target.id, reason, agent).await;
        }
        let delay = request.delay.unwrap_or_else(Duration::zero);
        self.mutate(target.id, Trigger::Changed, |c| {
            // Defence in depth: never queue a survey outside a private conversation.
            if c.record.visibility != Visibility::Private {
                return Err(DeskError::InvalidRequest(
                    "surveys are only sent in private conversations".into(),
                ));
            }
            let message_id = c.queue(
                request.question.clone(),
                Visibility::Private,
                Author::Bot,
                None,
            );
            let due = c.now + delay;
            if let Some(item) = c.commit.outbox.iter_mut().find(|i| i.id == message_id) {
                item.next_attempt_at = due;
            }
            if c.record.id != from {
                c.note(AuditKind::Note {
                    text: format!("{rule}: survey for conversation {from}, resolved in public"),
                });
            }
            c.note(AuditKind::CsatRequested {
                message_id,
                agent: agent.clone(),
            });
            Ok(())
        })
        .await
        .map(|_| ())
    }

    async fn check_survey_target(
        &self,
        target: &ConversationRecord,
        question: &str,
    ) -> Result<(), DeskError> {
        if target.visibility != Visibility::Private {
            return Err(DeskError::InvalidRequest(
                "surveys are only sent in private conversations".into(),
            ));
        }
        self.check_can_send(target, target.channel, Visibility::Private, question)
            .await
    }

    async fn skip_survey(
        &self,
        conversation_id: ConversationId,
        reason: String,
        agent: Option<String>,
    ) -> Result<(), DeskError> {
        self.mutate(conversation_id, Trigger::Changed, |c| {
            c.note(AuditKind::CsatSkipped {
                reason: reason.clone(),
                agent: agent.clone(),
            });
            Ok(())
        })
        .await
        .map(|_| ())
    }
}
