//! The report: response times, SLA attainment, escalations, handoffs, CSAT.

use carekit_core::{
    AuditEntry, AuditKind, ConversationFilter, ConversationId, ConversationRecord, DeskError,
    Direction, SlaEventKind, Store, Visibility,
};
use carekit_policy::BusinessCalendar;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How to compute a report.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Count only working time of this calendar (calendar time otherwise).
    pub business_hours: Option<Arc<BusinessCalendar>>,
}

impl ReportOptions {
    /// Calendar time.
    pub fn calendar_time() -> Self {
        Self::default()
    }
    /// Business hours of `calendar`.
    pub fn business_hours(calendar: Arc<BusinessCalendar>) -> Self {
        Self {
            business_hours: Some(calendar),
        }
    }
}

/// Percentiles (nearest-rank) and count of a set of durations, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Durations {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50_s: Option<i64>,
    /// 90th percentile.
    pub p90_s: Option<i64>,
    /// 99th percentile.
    pub p99_s: Option<i64>,
}

impl Durations {
    fn from(mut seconds: Vec<i64>) -> Self {
        seconds.sort_unstable();
        let rank = |p: f64| -> Option<i64> {
            if seconds.is_empty() {
                return None;
            }
            let r = ((p / 100.0) * seconds.len() as f64).ceil().max(1.0) as usize;
            Some(seconds[r.min(seconds.len()) - 1])
        };
        Self {
            count: seconds.len(),
            p50_s: rank(50.0),
            p90_s: rank(90.0),
            p99_s: rank(99.0),
        }
    }
}

/// Figures for one slice of conversations (a channel, a brand, a team, an agent).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Segment {
    /// Conversations.
    pub conversations: usize,
    /// Time to the first reply of any kind (automation included).
    pub first_response: Durations,
    /// Time to the first reply by a person.
    pub first_human_response: Durations,
    /// Time from each customer message after a reply to the next reply by a person.
    pub next_response: Durations,
    /// Time to resolution (resolved or closed conversations).
    pub resolution: Durations,
    /// SLA targets met without a breach, per metric: (met, breached).
    pub sla: BTreeMap<String, (usize, usize)>,
    /// Escalations by reason code.
    pub escalations: BTreeMap<String, usize>,
    /// Conversations handed off to a private channel.
    pub handoffs: usize,
    /// Of those, how many the customer answered on the private channel.
    pub handoffs_answered_privately: usize,
    /// Satisfaction surveys sent (always privately).
    pub csat_requested: usize,
    /// Satisfaction answers (ratings 1–5).
    pub csat_answered: usize,
    /// Surveys not sent because there was no private way to ask.
    pub csat_skipped: usize,
    /// Answers per survey sent (`csat_answered / csat_requested`).
    pub csat_response_rate: Option<f64>,
    /// Mean rating.
    pub csat_mean: Option<f64>,
}

/// A report over a set of conversations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Everything together.
    pub total: Segment,
    /// By channel.
    pub by_channel: BTreeMap<String, Segment>,
    /// By brand account.
    pub by_account: BTreeMap<String, Segment>,
    /// By team.
    pub by_team: BTreeMap<String, Segment>,
    /// By assigned agent.
    pub by_agent: BTreeMap<String, Segment>,
}

#[derive(Default)]
struct Acc {
    conversations: usize,
    first: Vec<i64>,
    first_human: Vec<i64>,
    next: Vec<i64>,
    resolution: Vec<i64>,
    sla: BTreeMap<String, (usize, usize)>,
    escalations: BTreeMap<String, usize>,
    handoffs: usize,
    answered: usize,
    csat_requested: usize,
    csat_skipped: usize,
    ratings: Vec<u8>,
}

impl Acc {
    fn segment(&self) -> Segment {
        Segment {
            conversations: self.conversations,
            first_response: Durations::from(self.first.clone()),
            first_human_response: Durations::from(self.first_human.clone()),
            next_response: Durations::from(self.next.clone()),
            resolution: Durations::from(self.resolution.clone()),
            sla: self.sla.clone(),
            escalations: self.escalations.clone(),
            handoffs: self.handoffs,
            handoffs_answered_privately: self.answered,
            csat_requested: self.csat_requested,
            csat_answered: self.ratings.len(),
            csat_skipped: self.csat_skipped,
            csat_response_rate: (self.csat_requested > 0)
                .then(|| self.ratings.len() as f64 / self.csat_requested as f64),
            csat_mean: (!self.ratings.is_empty()).then(|| {
                self.ratings.iter().map(|r| f64::from(*r)).sum::<f64>() / self.ratings.len() as f64
            }),
        }
    }
}

/// What one conversation contributes.
struct Facts {
    first: Option<i64>,
    first_human: Option<i64>,
    next: Vec<i64>,
    resolution: Option<i64>,
    sla: Vec<(String, bool)>,
    escalations: Vec<String>,
    handoff: Option<bool>,
    csat: Vec<Csat>,
}

/// One CSAT event of a conversation, with the agent it rates.
struct Csat {
    agent: Option<String>,
    kind: CsatKind,
}

enum CsatKind {
    Requested,
    Answered(u8),
    Skipped,
}

fn facts(
    c: &ConversationRecord,
    trail: &[AuditEntry],
    all: &HashMap<ConversationId, &ConversationRecord>,
    options: &ReportOptions,
) -> Facts {
    let span = |a: DateTime<Utc>, b: DateTime<Utc>| -> i64 {
        match &options.business_hours {
            Some(cal) => cal.working_between(a, b).num_seconds(),
            None => (b - a).max(Duration::zero()).num_seconds(),
        }
    };
    let answered = |m: &carekit_core::Message| {
        m.direction == Direction::Outbound
            && m.author.is_human_brand()
            && m.delivery.is_none_or(|d| d.is_accepted())
    };
    let mut next = Vec::new();
    for (i, m) in c.messages.iter().enumerate() {
        if m.direction == Direction::Inbound
            && i > 0
            && answered(&c.messages[i - 1])
            && let Some(reply) = c.messages[i + 1..].iter().find(|n| answered(n))
        {
            next.push(span(m.at, reply.at));
        }
    }
    let mut sla = Vec::new();
    let mut escalations = Vec::new();
    let mut handoff = None;
    let mut csat = Vec::new();
    for e in trail {
        match &e.kind {
            AuditKind::Sla(ev) if ev.kind == SlaEventKind::Breached => {
                sla.push((ev.metric.as_str().to_owned(), false))
            }
            AuditKind::Sla(ev) if ev.kind == SlaEventKind::Fulfilled => {
                sla.push((ev.metric.as_str().to_owned(), true))
            }
            AuditKind::Escalated(esc) => escalations.push(esc.reason.code().to_owned()),
            AuditKind::HandedOff { to, .. } => {
                let answered_privately = all.get(to).is_some_and(|p| {
                    p.visibility == Visibility::Private
                        && p.messages.iter().any(|m| m.direction == Direction::Inbound)
                });
                handoff = Some(answered_privately);
            }
            AuditKind::CsatRequested { agent, .. } => csat.push(Csat {
                agent: agent.clone(),
                kind: CsatKind::Requested,
            }),
            AuditKind::CsatAnswered { rating, agent, .. } => csat.push(Csat {
                agent: agent.clone(),
                kind: CsatKind::Answered(*rating),
            }),
            AuditKind::CsatSkipped { agent, .. } => csat.push(Csat {
                agent: agent.clone(),
                kind: CsatKind::Skipped,
            }),
            _ => {}
        }
    }
    // A target that breached and was met late counts once, as breached.
    let mut by_metric: BTreeMap<String, bool> = BTreeMap::new();
    for (metric, met) in sla {
        let entry = by_metric.entry(metric).or_insert(true);
        *entry &= met;
    }
    Facts {
        first: c.first_response_at.map(|t| span(c.opened_at, t)),
        first_human: c.first_human_response_at.map(|t| span(c.opened_at, t)),
        next,
        resolution: (!c.status.is_active())
            .then_some(c.resolved_at)
            .flatten()
            .map(|t| span(c.opened_at, t)),
        sla: by_metric.into_iter().collect(),
        escalations,
        handoff,
        csat,
    }
}

impl Acc {
    /// Adds everything but the CSAT events.
    fn add_core(&mut self, f: &Facts) {
        self.conversations += 1;
        self.first.extend(f.first);
        self.first_human.extend(f.first_human);
        self.next.extend(&f.next);
        self.resolution.extend(f.resolution);
        for (metric, met) in &f.sla {
            let e = self.sla.entry(metric.clone()).or_default();
            if *met {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
        for reason in &f.escalations {
            *self.escalations.entry(reason.clone()).or_default() += 1;
        }
        if let Some(answered) = f.handoff {
            self.handoffs += 1;
            self.answered += usize::from(answered);
        }
    }

    fn add_csat(&mut self, c: &Csat) {
        match c.kind {
            CsatKind::Requested => self.csat_requested += 1,
            CsatKind::Answered(rating) => self.ratings.push(rating),
            CsatKind::Skipped => self.csat_skipped += 1,
        }
    }

    fn add(&mut self, f: &Facts) {
        self.add_core(f);
        for c in &f.csat {
            self.add_csat(c);
        }
    }
}

impl Report {
    /// Builds a report from conversations and their audit trails.
    pub fn build(
        conversations: &[ConversationRecord],
        trails: &HashMap<ConversationId, Vec<AuditEntry>>,
        options: &ReportOptions,
    ) -> Self {
        let all: HashMap<ConversationId, &ConversationRecord> =
            conversations.iter().map(|c| (c.id, c)).collect();
        let mut total = Acc::default();
        let mut by_channel: BTreeMap<String, Acc> = BTreeMap::new();
        let mut by_account: BTreeMap<String, Acc> = BTreeMap::new();
        let mut by_team: BTreeMap<String, Acc> = BTreeMap::new();
        let mut by_agent: BTreeMap<String, Acc> = BTreeMap::new();
        let empty = Vec::new();
        for c in conversations {
            let f = facts(c, trails.get(&c.id).unwrap_or(&empty), &all, options);
            total.add(&f);
            by_channel
                .entry(c.channel.as_str().to_owned())
                .or_default()
                .add(&f);
            by_account
                .entry(if c.account.is_empty() {
                    "(default)".into()
                } else {
                    c.account.clone()
                })
                .or_default()
                .add(&f);
            by_team
                .entry(c.team.clone().unwrap_or_else(|| "(none)".into()))
                .or_default()
                .add(&f);
            let assignee = c.assignee.clone().unwrap_or_else(|| "(unassigned)".into());
            by_agent.entry(assignee.clone()).or_default().add_core(&f);
            // CSAT rates the agent who resolved (recorded with the survey),
            // who may differ from the conversation's assignee.
            for csat in &f.csat {
                by_agent
                    .entry(csat.agent.clone().unwrap_or_else(|| assignee.clone()))
                    .or_default()
                    .add_csat(csat);
            }
        }
        let seg = |m: BTreeMap<String, Acc>| m.into_iter().map(|(k, a)| (k, a.segment())).collect();
        Report {
            total: total.segment(),
            by_channel: seg(by_channel),
            by_account: seg(by_account),
            by_team: seg(by_team),
            by_agent: seg(by_agent),
        }
    }

    /// Builds a report from a store.
    pub async fn from_store(
        store: &dyn Store,
        filter: &ConversationFilter,
        options: &ReportOptions,
    ) -> Result<Self, DeskError> {
        let conversations = store.list_conversations(filter).await?;
        let mut trails = HashMap::with_capacity(conversations.len());
        for c in &conversations {
            trails.insert(c.id, store.audit_trail(c.id).await?);
        }
        Ok(Self::build(&conversations, &trails, options))
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as CSV: one row per segment and figure
    /// (`dimension,key,figure,value`).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["dimension", "key", "figure", "value"]);
        let mut emit = |dimension: &str, key: &str, s: &Segment| {
            let mut row = |figure: String, value: String| {
                let _ = w.write_record([dimension, key, figure.as_str(), value.as_str()]);
            };
            row("conversations".into(), s.conversations.to_string());
            for (name, d) in [
                ("first_response", &s.first_response),
                ("first_human_response", &s.first_human_response),
                ("next_response", &s.next_response),
                ("resolution", &s.resolution),
            ] {
                row(format!("{name}_count"), d.count.to_string());
                for (p, v) in [("p50_s", d.p50_s), ("p90_s", d.p90_s), ("p99_s", d.p99_s)] {
                    row(
                        format!("{name}_{p}"),
                        v.map(|v| v.to_string()).unwrap_or_default(),
                    );
                }
            }
            for (metric, (met, breached)) in &s.sla {
                row(format!("sla_{metric}_met"), met.to_string());
                row(format!("sla_{metric}_breached"), breached.to_string());
            }
            for (reason, n) in &s.escalations {
                row(format!("escalations_{reason}"), n.to_string());
            }
            row("handoffs".into(), s.handoffs.to_string());
            row(
                "handoffs_answered_privately".into(),
                s.handoffs_answered_privately.to_string(),
            );
            row("csat_requested".into(), s.csat_requested.to_string());
            row("csat_answered".into(), s.csat_answered.to_string());
            row("csat_skipped".into(), s.csat_skipped.to_string());
            row(
                "csat_response_rate".into(),
                s.csat_response_rate
                    .map(|r| format!("{r:.4}"))
                    .unwrap_or_default(),
            );
            row(
                "csat_mean".into(),
                s.csat_mean.map(|m| format!("{m:.2}")).unwrap_or_default(),
            );
        };
        emit("total", "", &self.total);
        for (dimension, map) in [
            ("channel", &self.by_channel),
            ("account", &self.by_account),
            ("team", &self.by_team),
            ("agent", &self.by_agent),
        ] {
            for (key, s) in map {
                emit(dimension, key, s);
            }
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}
