//! Carrying out what rules decide: each [`Action`] becomes a change to the
//! draft, or work for after the commit.

use super::actions::{Action, RuleContext};
use super::after_commit::After;
use super::commit::{Change, Draft};
use super::{Desk, DeskError, Notification};
use crate::channel::Visibility;
use crate::domain::{Actor, AuditKind, Author, InboundEvent, Message};
use crate::ids::MessageId;
use crate::policy::Trigger;

impl Desk {
    /// Carries out `action`, decided by `rule` (after `message_id`, when a
    /// message triggered it), on the draft.
    pub(crate) fn apply_action(
        &self,
        change: &mut Change<'_>,
        rule: &str,
        action: Action,
        message_id: Option<MessageId>,
    ) {
        let by = Actor::Automation(rule.to_owned());
        match action {
            Action::Reply { text, visibility } => {
                let visibility = visibility.unwrap_or(change.record.visibility);
                if visibility == Visibility::Public && self.crisis_mode() {
                    change.note(AuditKind::Note {
                        text: format!("{rule}: public auto-reply held back (crisis mode)"),
                    });
                    return;
                }
                change.queue(text, visibility, Author::Bot, None);
            }
            Action::HandOff(request) => change.after.push(After::HandOff(rule.to_owned(), request)),
            Action::AutoAssign { team } => {
                let picked = match (self.inner.assigner.as_ref(), change.assignment.as_mut()) {
                    (Some(assigner), Some(draft)) => {
                        let picked = assigner.pick(&mut draft.state, team.as_deref());
                        draft.dirty |= picked.is_some();
                        picked
                    }
                    _ => None,
                };
                match picked {
                    Some(agent) => {
                        change.record.assignee = Some(agent.id.clone());
                        change.record.team = agent.team.clone().or(team);
                        let (agent, team) =
                            (change.record.assignee.clone(), change.record.team.clone());
                        change.note(AuditKind::Assigned { agent, team, by });
                    }
                    None => change.note(AuditKind::Note {
                        text: format!("{rule}: no agent with capacity to assign"),
                    }),
                }
            }
            Action::Assign { agent, team } => {
                change.record.assignee = agent.clone();
                change.record.team = team.clone();
                change.note(AuditKind::Assigned { agent, team, by });
            }
            Action::Tag(tag) => {
                if change.record.tags.insert(tag.clone()) {
                    change.note(AuditKind::Tagged {
                        tag,
                        added: true,
                        by: None,
                    });
                }
            }
            Action::SetPriority(priority) => {
                let from = change.record.priority;
                if from != priority {
                    change.record.priority = priority;
                    change.note(AuditKind::PriorityChanged {
                        by: None,
                        from,
                        to: priority,
                        reason: rule.to_owned(),
                    });
                }
            }
            Action::SetStatus(status) => change.set_status(status, by),
            Action::Notify {
                subject,
                body,
                team,
            } => {
                change.note(AuditKind::Notified {
                    target: team.clone().unwrap_or_else(|| "team".into()),
                    subject: subject.clone(),
                });
                change.after.push(After::Notify(
                    Notification::new(change.record.id, subject, body).with_team(team),
                ));
            }
            Action::Hide { reason } => match message_id {
                Some(id) => change.after.push(After::Hide(rule.to_owned(), id, reason)),
                None => change.note(AuditKind::Note {
                    text: format!("{rule}: nothing to hide"),
                }),
            },
            Action::Record(kind) => change.note(kind),
            Action::Survey(request) => {
                if let Some(pending) = self.plan_survey(change, rule, request) {
                    change.after.push(After::Survey(pending));
                }
            }
            Action::SurveyAnswered(answer) => self.record_survey_answer(change, rule, answer),
        }
    }
}

impl Desk {
    /// Runs the rules on a customer's new message in `draft` and carries
    /// out what they decide; when they decide anything, the policies look
    /// at the draft again.
    pub(crate) async fn run_rules(
        &self,
        draft: &mut Draft,
        event: &InboundEvent,
        message: &Message,
    ) -> Result<(), DeskError> {
        if self.inner.rules.is_empty() {
            return Ok(());
        }
        let ctx = RuleContext {
            now: draft.now,
            message,
            author: &event.author,
            new_conversation: draft.is_new(),
            auto_reply_allowed: event.auto_reply_allowed,
            escalations: &draft.escalations,
        };
        let actions: Vec<(String, Action)> = self
            .inner
            .rules
            .iter()
            .flat_map(|rule| {
                let name = rule.name().to_owned();
                rule.on_inbound(&draft.record, &ctx)
                    .into_iter()
                    .map(move |a| (name.clone(), a))
            })
            .collect();
        if actions.is_empty() {
            return Ok(());
        }
        if actions
            .iter()
            .any(|(_, a)| matches!(a, Action::AutoAssign { .. }))
        {
            self.load_assignment_into(draft).await?;
        }
        let mut change = draft.change();
        for (rule, action) in actions {
            self.apply_action(&mut change, &rule, action, Some(message.id));
        }
        self.evaluate_draft(draft, Trigger::Changed);
        Ok(())
    }
}
