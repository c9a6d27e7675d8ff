//! Crisis mode: one shared switch that a wrapping SLA policy, a wrapping
//! rule and the desk consult, plus the prepared holding statement.

use super::CrisisError;
use carekit_core::desk::CrisisSwitch;
use carekit_core::desk::{Action, ReplyRequest, Rule, RuleContext, StatusChange};
use carekit_core::{
    AuditKind, Conversation, ConversationId, Desk, Escalation, EscalationPolicy, MessageId,
    PolicyContext, Visibility,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The crisis switch, shared (cheap to clone) between the detector, a
/// [`CrisisPolicy`], a [`CrisisRule`] and the people running the desk.
///
/// While on: the stricter SLA set of a [`CrisisPolicy`] applies, public
/// automated replies are held back (by the desk itself and by
/// [`CrisisRule`]), and the prepared holding statement is what agents post.
///
/// It is a view of the desk's [`CrisisSwitch`]: give
/// [`switch`](Self::switch) to `DeskBuilder::crisis_switch`, and the desk
/// keeps it in step with the store, so a switch made on one worker holds
/// on every worker sharing the store within `SHARED_STATE_MAX_AGE`.
#[derive(Clone, Default)]
pub struct CrisisMode {
    switch: CrisisSwitch,
}

impl std::fmt::Debug for CrisisMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisMode")
            .field("on", &self.is_on())
            .field("holding_statement", &self.holding_statement().is_some())
            .finish()
    }
}

impl CrisisMode {
    /// Off, with no holding statement.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prepares the holding statement ahead of any crisis (legal and PR
    /// approve it once, agents post it when needed).
    pub fn with_holding_statement(self, text: impl Into<String>) -> Self {
        self.set_holding_statement(text);
        self
    }

    /// Replaces the holding statement in this process (a crisis-specific
    /// one, say); [`engage`](Self::engage) stores it for every worker.
    pub fn set_holding_statement(&self, text: impl Into<String>) {
        self.switch.set_local_holding_statement(text);
    }

    /// The prepared holding statement, if any.
    pub fn holding_statement(&self) -> Option<String> {
        self.switch.holding_statement()
    }

    /// Whether crisis mode is on.
    pub fn is_on(&self) -> bool {
        self.switch.is_on()
    }

    /// The switch to share with the desk (`DeskBuilder::crisis_switch`).
    pub fn switch(&self) -> CrisisSwitch {
        self.switch.clone()
    }

    /// Turns this process's copy on or off without a desk (tests, a mode no
    /// desk shares). A desk sharing the switch overwrites it with the
    /// stored state; prefer [`engage`](Self::engage) and
    /// [`stand_down`](Self::stand_down).
    pub fn set(&self, on: bool) {
        self.switch.set_local(on);
    }

    /// Turns crisis mode on for every worker of `desk` (stored, with the
    /// holding statement), which then hold back every public automated
    /// reply.
    ///
    /// # Errors
    /// The store's; crisis mode is then unchanged.
    pub async fn engage(&self, desk: &Desk) -> Result<(), CrisisError> {
        desk.set_crisis_mode(true, self.holding_statement()).await?;
        self.set(true);
        Ok(())
    }

    /// Turns crisis mode off for every worker of `desk`.
    ///
    /// # Errors
    /// The store's; crisis mode is then unchanged.
    pub async fn stand_down(&self, desk: &Desk) -> Result<(), CrisisError> {
        desk.set_crisis_mode(false, None).await?;
        self.set(false);
        Ok(())
    }

    /// Posts the holding statement publicly in each conversation, as written
    /// by `agent` (a person approves it, so it is not an automated reply and
    /// goes out in crisis mode too). Returns the queued message ids; delivery
    /// is tracked by the outbox like any reply.
    ///
    /// # Errors
    /// [`CrisisError::NoHoldingStatement`] when none was prepared; the
    /// desk's error for the first conversation that refuses it (already
    /// queued messages stay queued).
    pub async fn post_holding_statement(
        &self,
        desk: &Desk,
        conversations: &[ConversationId],
        agent: &str,
    ) -> Result<Vec<MessageId>, CrisisError> {
        let text = self
            .holding_statement()
            .ok_or(CrisisError::NoHoldingStatement)?;
        let mut queued = Vec::with_capacity(conversations.len());
        for id in conversations {
            let request = ReplyRequest::agent(agent, text.clone());
            queued.push(desk.reply(*id, request).await?);
        }
        Ok(queued)
    }
}

/// An escalation policy that delegates to `normal` outside crisis mode and
/// to `crisis` (a stricter SLA set, typically) while it is on.
///
/// The switch is read at each evaluation: conversations evaluated while
/// crisis mode is on get the crisis deadlines; the others keep theirs until
/// their next evaluation (a message, a reply, a tick).
pub struct CrisisPolicy {
    name: String,
    normal: Arc<dyn EscalationPolicy>,
    crisis: Arc<dyn EscalationPolicy>,
    mode: CrisisMode,
}

impl std::fmt::Debug for CrisisPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisPolicy")
            .field("name", &self.name)
            .field("normal", &self.normal.name())
            .field("crisis", &self.crisis.name())
            .field("mode", &self.mode)
            .finish()
    }
}

impl CrisisPolicy {
    /// Switches between `normal` and `crisis` on `mode`.
    pub fn new(
        normal: Arc<dyn EscalationPolicy>,
        crisis: Arc<dyn EscalationPolicy>,
        mode: CrisisMode,
    ) -> Self {
        Self {
            name: format!("{}|crisis:{}", normal.name(), crisis.name()),
            normal,
            crisis,
            mode,
        }
    }

    fn active(&self) -> &dyn EscalationPolicy {
        if self.mode.is_on() {
            &*self.crisis
        } else {
            &*self.normal
        }
    }
}

impl EscalationPolicy for CrisisPolicy {
    fn name(&self) -> &str {
        &self.name
    }
    fn evaluate(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<Escalation> {
        self.active().evaluate(c, ctx)
    }
    fn next_deadline(
        &self,
        c: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        self.active().next_deadline(c, ctx)
    }
    fn observe(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        self.active().observe(c, ctx)
    }
}

/// Wraps a rule so that, in crisis mode, its public replies are held back
/// (recorded as a note instead). The desk does the same for its own crisis
/// flag; this wrapper makes it hold on every worker that shares the
/// [`CrisisMode`], whatever the desk's flag says.
pub struct CrisisRule<R> {
    inner: R,
    mode: CrisisMode,
}

impl<R: std::fmt::Debug> std::fmt::Debug for CrisisRule<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisRule")
            .field("inner", &self.inner)
            .field("mode", &self.mode)
            .finish()
    }
}

impl<R: Rule> CrisisRule<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, mode: CrisisMode) -> Self {
        Self { inner, mode }
    }

    fn filter(&self, conversation: &dyn Conversation, actions: Vec<Action>) -> Vec<Action> {
        if !self.mode.is_on() {
            return actions;
        }
        actions
            .into_iter()
            .map(|action| match action {
                Action::Reply { visibility, .. }
                    if visibility.unwrap_or(conversation.visibility()) == Visibility::Public =>
                {
                    Action::Record(AuditKind::Note {
                        text: format!(
                            "{}: public auto-reply held back (crisis mode)",
                            self.inner.name()
                        ),
                    })
                }
                other => other,
            })
            .collect()
    }
}

impl<R: Rule> Rule for CrisisRule<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn on_inbound(&self, conversation: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action> {
        self.filter(conversation, self.inner.on_inbound(conversation, ctx))
    }
    fn on_status(&self, conversation: &dyn Conversation, change: &StatusChange) -> Vec<Action> {
        self.filter(conversation, self.inner.on_status(conversation, change))
    }
}
