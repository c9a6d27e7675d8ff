//! Deciding a survey inside a change: what needs no lookup is decided and
//! audited in the same commit; the sending is left for after it.

use super::Desk;
use super::commit::Change;
use super::survey::{PendingSurvey, SurveyAnswer, SurveyRequest};
use crate::channel::Visibility;
use crate::domain::{Actor, AuditKind, Status};

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
}
