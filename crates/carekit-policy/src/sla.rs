//! SLA policies: targets, pausing, warnings, levels, audit events.
//!
//! Everything is computed from the conversation and its audit trail at the
//! instant asked, never from state kept in the policy, so a changed policy
//! can be re-evaluated over old conversations and a replay gives the same
//! answers as the live desk.

use crate::{BusinessCalendar, PolicyError};
use carekit_core::{
    AuditKind, ChannelKind, Conversation, Direction, Escalation, EscalationPolicy, PolicyContext,
    Priority, SlaEvent, SlaEventKind, SlaMetric, Status, Visibility,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How an SLA counts time.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SlaClock {
    /// Every hour counts.
    Calendar,
    /// Only working hours count.
    Business(Arc<BusinessCalendar>),
}

impl SlaClock {
    fn elapsed(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        match self {
            SlaClock::Calendar => (b - a).max(Duration::zero()),
            SlaClock::Business(cal) => cal.working_between(a, b),
        }
    }
    fn add(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        match self {
            SlaClock::Calendar => start + amount,
            SlaClock::Business(cal) => cal.add_working(start, amount),
        }
    }
}

/// Targets for one priority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// Time to the first human reply.
    pub first_response: Option<Duration>,
    /// Time from each customer message after a reply to the next reply.
    pub next_response: Option<Duration>,
    /// Time to resolution.
    pub resolution: Option<Duration>,
}

impl Targets {
    fn get(&self, metric: SlaMetric) -> Option<Duration> {
        match metric {
            SlaMetric::FirstResponse => self.first_response,
            SlaMetric::NextResponse => self.next_response,
            SlaMetric::Resolution => self.resolution,
        }
    }
    fn set(&mut self, metric: SlaMetric, target: Duration) {
        match metric {
            SlaMetric::FirstResponse => self.first_response = Some(target),
            SlaMetric::NextResponse => self.next_response = Some(target),
            SlaMetric::Resolution => self.resolution = Some(target),
        }
    }
}

/// Which conversations a policy applies to. Empty lists match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Channels.
    pub channels: Vec<ChannelKind>,
    /// Visibility.
    pub visibility: Option<Visibility>,
    /// Priorities.
    pub priorities: Vec<Priority>,
    /// Any of these tags.
    pub tags: Vec<String>,
    /// Customer tiers.
    pub tiers: Vec<String>,
    /// Teams the conversation is assigned to.
    pub teams: Vec<String>,
}

impl Conditions {
    fn matches(&self, c: &dyn Conversation) -> bool {
        (self.channels.is_empty() || self.channels.contains(&c.channel()))
            && self.visibility.is_none_or(|v| v == c.visibility())
            && (self.priorities.is_empty() || self.priorities.contains(&c.priority()))
            && (self.tags.is_empty() || self.tags.iter().any(|t| c.tags().contains(t)))
            && (self.tiers.is_empty()
                || c.customer()
                    .tier
                    .as_ref()
                    .is_some_and(|t| self.tiers.contains(t)))
            && (self.teams.is_empty()
                || c.team().is_some_and(|t| self.teams.iter().any(|x| x == t)))
    }
}

/// A point on the way to (or past) a target where people are told.
#[derive(Clone, Debug, PartialEq)]
pub struct EscalationLevel {
    /// Fraction of the target (0.75 = warning at 75%; 1.0 = breach; 2.0 = twice over).
    pub at: f64,
    /// Escalation level (1 = agent, 2 = team lead, 3 = crisis team).
    pub level: u8,
    /// Team to route to.
    pub team: Option<String>,
}

/// One SLA policy. Build with [`SlaPolicy::builder`].
#[derive(Clone, Debug)]
pub struct SlaPolicy {
    name: String,
    conditions: Conditions,
    targets: BTreeMap<Priority, Targets>,
    clock: SlaClock,
    levels: Vec<EscalationLevel>,
}

/// Builds an [`SlaPolicy`].
#[derive(Clone, Debug)]
pub struct SlaPolicyBuilder {
    policy: SlaPolicy,
    warn_at: f64,
    errors: Vec<PolicyError>,
}

const ALL_PRIORITIES: [Priority; 4] = [
    Priority::Low,
    Priority::Normal,
    Priority::High,
    Priority::Urgent,
];

impl SlaPolicy {
    /// Starts a policy named `name`.
    pub fn builder(name: impl Into<String>) -> SlaPolicyBuilder {
        SlaPolicyBuilder {
            policy: SlaPolicy {
                name: name.into(),
                conditions: Conditions::default(),
                targets: BTreeMap::new(),
                clock: SlaClock::Calendar,
                levels: Vec::new(),
            },
            warn_at: 0.75,
            errors: Vec::new(),
        }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it applies to `conversation`.
    pub fn applies_to(&self, conversation: &dyn Conversation) -> bool {
        self.conditions.matches(conversation) && self.targets.contains_key(&conversation.priority())
    }
}

impl SlaPolicyBuilder {
    /// Only these channels.
    pub fn channel(mut self, channel: ChannelKind) -> Self {
        self.policy.conditions.channels.push(channel);
        self
    }
    /// Only this visibility.
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.policy.conditions.visibility = Some(visibility);
        self
    }
    /// Only these priorities.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.policy.conditions.priorities.push(priority);
        self
    }
    /// Only conversations with any of these tags.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.policy.conditions.tags.push(tag.into());
        self
    }
    /// Only customers of these tiers.
    pub fn tier(mut self, tier: impl Into<String>) -> Self {
        self.policy.conditions.tiers.push(tier.into());
        self
    }
    /// Only conversations of these teams.
    pub fn team(mut self, team: impl Into<String>) -> Self {
        self.policy.conditions.teams.push(team.into());
        self
    }
    /// A target for one priority and metric.
    pub fn target(mut self, priority: Priority, metric: SlaMetric, target: Duration) -> Self {
        if target <= Duration::zero() {
            self.errors.push(PolicyError::ZeroTarget(format!(
                "{} {}",
                priority.as_str(),
                metric.as_str()
            )));
        }
        self.policy
            .targets
            .entry(priority)
            .or_default()
            .set(metric, target);
        self
    }
    /// The same target for every priority.
    pub fn target_all(mut self, metric: SlaMetric, target: Duration) -> Self {
        for p in ALL_PRIORITIES {
            self = self.target(p, metric, target);
        }
        self
    }
    /// Count business hours of this calendar instead of calendar time.
    pub fn business_hours(mut self, calendar: Arc<BusinessCalendar>) -> Self {
        self.policy.clock = SlaClock::Business(calendar);
        self
    }
    /// Warn at this fraction of the target (default 0.75).
    pub fn warn_at(mut self, fraction: f64) -> Self {
        self.warn_at = fraction;
        self
    }
    /// An escalation level at a fraction of the target (replaces the default
    /// warning at `warn_at` and breach at 1.0 when any is given).
    pub fn level(mut self, at: f64, level: u8, team: Option<&str>) -> Self {
        self.policy.levels.push(EscalationLevel {
            at,
            level,
            team: team.map(str::to_owned),
        });
        self
    }

    /// Checks and builds.
    pub fn build(mut self) -> Result<SlaPolicy, PolicyError> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        if self.warn_at.is_nan() || self.warn_at <= 0.0 || self.warn_at >= 1.0 {
            return Err(PolicyError::BadWarning(self.warn_at.to_string()));
        }
        if self.policy.targets.is_empty() {
            return Err(PolicyError::MatchesNothing(format!(
                "SLA policy `{}` has no targets",
                self.policy.name
            )));
        }
        let p = &self.policy;
        if !p.conditions.priorities.is_empty()
            && !p
                .conditions
                .priorities
                .iter()
                .any(|pr| p.targets.contains_key(pr))
        {
            return Err(PolicyError::MatchesNothing(format!(
                "SLA policy `{}` has no target for any priority it matches",
                p.name
            )));
        }
        if self.policy.levels.is_empty() {
            self.policy.levels = vec![
                EscalationLevel {
                    at: self.warn_at,
                    level: 1,
                    team: None,
                },
                EscalationLevel {
                    at: 1.0,
                    level: 2,
                    team: None,
                },
            ];
        }
        if self
            .policy
            .levels
            .iter()
            .any(|l| l.at.is_nan() || l.at <= 0.0 || l.at.is_infinite())
        {
            return Err(PolicyError::Invalid(
                "escalation levels must be at a positive fraction of the target".into(),
            ));
        }
        self.policy.levels.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(self.policy)
    }
}

/// One running (or finished) target.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Instance {
    metric: SlaMetric,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// Where one target stands, for dashboards.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlaStatus {
    /// The policy.
    pub policy: String,
    /// The target.
    pub metric: SlaMetric,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it is (or was) due; `None` while paused.
    pub due: Option<DateTime<Utc>>,
    /// When it was met, if it was.
    pub fulfilled: Option<DateTime<Utc>>,
    /// Whether it was missed (or met late).
    pub breached: bool,
}

fn answered(m: &carekit_core::Message) -> bool {
    m.direction == Direction::Outbound
        && m.author.is_human_brand()
        && m.delivery.is_none_or(|d| d.is_accepted())
}

fn instances(c: &dyn Conversation) -> Vec<Instance> {
    let mut out = Vec::new();
    let first_human = c.messages().iter().find(|m| answered(m)).map(|m| m.at);
    out.push(Instance {
        metric: SlaMetric::FirstResponse,
        start: c.opened_at(),
        end: first_human,
    });
    let messages = c.messages();
    for (i, m) in messages.iter().enumerate() {
        let previous_answered = i > 0 && answered(&messages[i - 1]);
        if m.direction == Direction::Inbound && previous_answered {
            let end = messages[i + 1..].iter().find(|n| answered(n)).map(|n| n.at);
            out.push(Instance {
                metric: SlaMetric::NextResponse,
                start: m.at,
                end,
            });
        }
    }
    let resolved = matches!(c.status(), Status::Resolved | Status::Closed)
        .then(|| c.resolved_at())
        .flatten();
    out.push(Instance {
        metric: SlaMetric::Resolution,
        start: c.opened_at(),
        end: resolved,
    });
    out
}

/// Paused intervals from the status history (open-ended if still paused).
fn pauses(ctx: &PolicyContext<'_>, current: Status) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut out: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
    for entry in ctx.history {
        if let AuditKind::StatusChanged { from, to, .. } = &entry.kind {
            if to.is_paused() && !from.is_paused() {
                out.push((entry.at, None));
            } else if from.is_paused()
                && !to.is_paused()
                && let Some(last) = out.last_mut()
                && last.1.is_none()
            {
                last.1 = Some(entry.at);
            }
        }
    }
    if !current.is_paused()
        && let Some(last) = out.last_mut()
        && last.1.is_none()
    {
        // The history missed the resume; treat it as resumed now.
        last.1 = Some(ctx.now);
    }
    out
}

impl SlaPolicy {
    fn target(&self, c: &dyn Conversation, metric: SlaMetric) -> Option<Duration> {
        self.targets.get(&c.priority()).and_then(|t| t.get(metric))
    }

    /// The instant at which `amount` of active (unpaused) SLA time has passed
    /// since `start`; `None` while the clock is stopped before reaching it.
    fn reach(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
        pauses: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    ) -> Option<DateTime<Utc>> {
        let mut due = self.clock.add(start, amount);
        for _ in 0..64 {
            let mut paused = Duration::zero();
            for (ps, pe) in pauses {
                let ps = (*ps).max(start);
                match pe {
                    None if ps < due => return None,
                    None => {}
                    Some(pe) => {
                        let pe = (*pe).min(due.max(ps));
                        if pe > ps {
                            paused += self.clock.elapsed(ps, pe);
                        }
                    }
                }
            }
            let next = self.clock.add(start, amount + paused);
            if next == due {
                return Some(due);
            }
            due = next;
        }
        Some(due)
    }

    fn scaled(target: Duration, fraction: f64) -> Duration {
        Duration::milliseconds((target.num_milliseconds() as f64 * fraction).round() as i64)
    }

    /// Where each target of `conversation` stands at `ctx.now`.
    pub fn status(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<SlaStatus> {
        let pauses = pauses(ctx, c.status());
        instances(c)
            .into_iter()
            .filter_map(|inst| {
                let target = self.target(c, inst.metric)?;
                let due = self.reach(inst.start, target, &pauses);
                let breached = match (due, inst.end) {
                    (Some(d), Some(end)) => end > d,
                    (Some(d), None) => ctx.now >= d,
                    (None, _) => false,
                };
                Some(SlaStatus {
                    policy: self.name.clone(),
                    metric: inst.metric,
                    started: inst.start,
                    due,
                    fulfilled: inst.end,
                    breached,
                })
            })
            .collect()
    }

    fn crossings(
        &self,
        c: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Vec<(Instance, EscalationLevel, DateTime<Utc>, DateTime<Utc>)> {
        let pauses = pauses(ctx, c.status());
        let mut out = Vec::new();
        for inst in instances(c) {
            let Some(target) = self.target(c, inst.metric) else {
                continue;
            };
            let Some(due) = self.reach(inst.start, target, &pauses) else {
                continue;
            };
            for level in &self.levels {
                let Some(at) = self.reach(inst.start, Self::scaled(target, level.at), &pauses)
                else {
                    continue;
                };
                let still_open = inst.end.is_none_or(|end| end > at);
                if at <= ctx.now && still_open {
                    out.push((inst.clone(), level.clone(), at, due));
                }
            }
        }
        out
    }
}

impl EscalationPolicy for SlaPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<Escalation> {
        if !self.applies_to(c) {
            return Vec::new();
        }
        self.crossings(c, ctx)
            .into_iter()
            .map(|(inst, level, _at, due)| {
                let breach = level.at >= 1.0;
                let reason = if breach {
                    crate::reasons::sla_breach(inst.metric, due)
                } else {
                    crate::reasons::sla_warning(inst.metric, due)
                };
                let what = if breach {
                    "missed"
                } else {
                    "about to be missed"
                };
                let mut esc = Escalation::new(
                    self.name.clone(),
                    reason,
                    format!(
                        "{} target {what}: due {} ({} policy, level {})",
                        inst.metric.as_str().replace('_', " "),
                        due.format("%Y-%m-%d %H:%M UTC"),
                        self.name,
                        level.level
                    ),
                )
                .with_level(level.level)
                .with_dedupe_key(format!(
                    "{}:{}:{}:{}",
                    self.name,
                    inst.metric.as_str(),
                    inst.start.timestamp_micros(),
                    level.at
                ));
                if let Some(team) = &level.team {
                    esc = esc.with_team(team.clone());
                }
                if breach {
                    esc = esc.with_priority(Priority::High);
                }
                esc
            })
            .collect()
    }

    fn next_deadline(
        &self,
        c: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        if !self.applies_to(c) {
            return None;
        }
        let pauses = pauses(ctx, c.status());
        instances(c)
            .into_iter()
            .filter(|inst| inst.end.is_none())
            .filter_map(|inst| {
                let target = self.target(c, inst.metric)?;
                self.levels
                    .iter()
                    .filter_map(|level| {
                        self.reach(inst.start, Self::scaled(target, level.at), &pauses)
                    })
                    .filter(|at| *at > ctx.now)
                    .min()
            })
            .min()
    }

    fn observe(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        if !self.applies_to(c) {
            return Vec::new();
        }
        let recorded = |metric: SlaMetric, kind: SlaEventKind| {
            ctx.history
                .iter()
                .filter(|e| matches!(&e.kind, AuditKind::Sla(ev) if ev.policy == self.name && ev.metric == metric && ev.kind == kind))
                .count()
        };
        let event = |metric, kind, due| {
            AuditKind::Sla(SlaEvent {
                policy: self.name.clone(),
                metric,
                kind,
                due,
            })
        };
        let mut out = Vec::new();
        let statuses = self.status(c, ctx);
        for metric in [
            SlaMetric::FirstResponse,
            SlaMetric::NextResponse,
            SlaMetric::Resolution,
        ] {
            let of: Vec<&SlaStatus> = statuses.iter().filter(|s| s.metric == metric).collect();
            let applied = of.len();
            for s in of.iter().skip(recorded(metric, SlaEventKind::Applied)) {
                out.push(event(metric, SlaEventKind::Applied, s.due));
            }
            let fulfilled: Vec<&&SlaStatus> = of.iter().filter(|s| s.fulfilled.is_some()).collect();
            for s in fulfilled
                .iter()
                .skip(recorded(metric, SlaEventKind::Fulfilled))
            {
                out.push(event(metric, SlaEventKind::Fulfilled, s.due));
            }
            let breached: Vec<&&SlaStatus> = of.iter().filter(|s| s.breached).collect();
            for s in breached
                .iter()
                .skip(recorded(metric, SlaEventKind::Breached))
            {
                out.push(event(metric, SlaEventKind::Breached, s.due));
            }
            let _ = applied;
        }
        let warnings = self
            .crossings(c, ctx)
            .into_iter()
            .filter(|(_, level, _, _)| level.at < 1.0)
            .collect::<Vec<_>>();
        for metric in [
            SlaMetric::FirstResponse,
            SlaMetric::NextResponse,
            SlaMetric::Resolution,
        ] {
            let of: Vec<_> = warnings
                .iter()
                .filter(|(inst, _, _, _)| inst.metric == metric)
                .collect();
            for (_, _, _, due) in of.iter().skip(recorded(metric, SlaEventKind::Warning)) {
                out.push(event(metric, SlaEventKind::Warning, Some(*due)));
            }
        }
        let pause_list = pauses(ctx, c.status());
        let paused = pause_list.len();
        let resumed = pause_list.iter().filter(|(_, end)| end.is_some()).count();
        for _ in recorded(SlaMetric::Resolution, SlaEventKind::Paused)..paused {
            out.push(event(SlaMetric::Resolution, SlaEventKind::Paused, None));
        }
        for _ in recorded(SlaMetric::Resolution, SlaEventKind::Resumed)..resumed {
            out.push(event(SlaMetric::Resolution, SlaEventKind::Resumed, None));
        }
        out
    }
}

/// SLA policies chosen first-match: the first whose conditions (and
/// priority targets) match a conversation governs it.
#[derive(Clone, Debug)]
pub struct SlaSet {
    policies: Vec<SlaPolicy>,
}

impl SlaSet {
    /// A set; refuses an empty one.
    pub fn new(policies: Vec<SlaPolicy>) -> Result<Self, PolicyError> {
        if policies.is_empty() {
            return Err(PolicyError::MatchesNothing(
                "an SLA set needs at least one policy".into(),
            ));
        }
        Ok(Self { policies })
    }

    /// The policy governing `conversation`.
    pub fn policy_for(&self, conversation: &dyn Conversation) -> Option<&SlaPolicy> {
        self.policies.iter().find(|p| p.applies_to(conversation))
    }
}

impl EscalationPolicy for SlaSet {
    fn name(&self) -> &str {
        "sla"
    }
    fn evaluate(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<Escalation> {
        self.policy_for(c)
            .map(|p| p.evaluate(c, ctx))
            .unwrap_or_default()
    }
    fn next_deadline(
        &self,
        c: &dyn Conversation,
        ctx: &PolicyContext<'_>,
    ) -> Option<DateTime<Utc>> {
        self.policy_for(c).and_then(|p| p.next_deadline(c, ctx))
    }
    fn observe(&self, c: &dyn Conversation, ctx: &PolicyContext<'_>) -> Vec<AuditKind> {
        self.policy_for(c)
            .map(|p| p.observe(c, ctx))
            .unwrap_or_default()
    }
}
