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

use super::commit::Change;
use super::{Desk, DeskError};
use crate::channel::Visibility;
use crate::domain::{Actor, AuditKind, Author, ConversationRecord, Status};
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

/// The agent a survey rates: the one who resolved in this change, else the
/// assignee.
fn resolver(change: &Change<'_>) -> Option<String> {
    change
        .audit
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            AuditKind::StatusChanged {
                to: Status::Resolved,
                by: Actor::Agent(id),
                ..
            } => Some(id.clone()),
            _ => None,
        })
        .or_else(|| change.record.assignee.clone())
}

/// Survey work left for after the commit (it may touch another conversation).
pub(crate) struct PendingSurvey {
    pub(crate) rule: String,
    pub(crate) request: SurveyRequest,
    pub(crate) agent: Option<String>,
}

impl Desk {
    /// Carries out [`Action::Survey`](super::Action::Survey) inside a change:
    /// decides now what needs no lookup, leaves the sending for after the commit.
    pub(crate) fn plan_survey(
        &self,
        change: &mut Change<'_>,
        rule: &str,
        request: SurveyRequest,
    ) -> Option<PendingSurvey> {
        let agent = resolver(change);
        let reason = if request.question.trim().is_empty() {
            Some(format!("{rule}: the survey question is empty"))
        } else if change.record.visibility == Visibility::Public && change.record.linked.is_empty()
        {
            Some(format!(
                "{rule}: public {} conversation with no linked private conversation; surveys are never sent publicly",
                change.record.channel
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => {
                change.note(AuditKind::CsatSkipped { reason, agent });
                None
            }
            None => Some(PendingSurvey {
                rule: rule.to_owned(),
                request,
                agent,
            }),
        }
    }

    /// Carries out [`Action::SurveyAnswered`](super::Action::SurveyAnswered):
    /// records the rating against the agent the survey rated, and keeps the
    /// conversation resolved when this very answer had reopened it.
    pub(crate) fn record_survey_answer(
        &self,
        change: &mut Change<'_>,
        rule: &str,
        answer: SurveyAnswer,
    ) {
        if !(1..=5).contains(&answer.rating) {
            change.note(AuditKind::Note {
                text: format!("{rule}: rating {} is not 1 to 5; ignored", answer.rating),
            });
            return;
        }
        let request = change
            .history
            .iter()
            .chain(change.audit.iter())
            .rev()
            .find_map(|e| match &e.kind {
                AuditKind::CsatRequested { agent, .. } => Some(agent.clone()),
                _ => None,
            });
        let Some(agent) = request else {
            change.note(AuditKind::Note {
                text: format!("{rule}: a rating without a survey in this conversation; ignored"),
            });
            return;
        };
        change.note(AuditKind::CsatAnswered {
            rating: answer.rating,
            answer: answer.answer,
            agent,
        });
        let reopened_now = change.audit.iter().any(|e| {
            matches!(
                e.kind,
                AuditKind::StatusChanged {
                    from: Status::Resolved,
                    to: Status::Open,
                    by: Actor::Customer,
                }
            )
        });
        if reopened_now && change.record.status == Status::Open {
            // A rating is not a new problem: back to resolved, keeping the
            // original resolution time.
            change.record.status = Status::Resolved;
            change.note(AuditKind::StatusChanged {
                from: Status::Open,
                to: Status::Resolved,
                by: Actor::Automation(rule.to_owned()),
            });
        }
    }

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
