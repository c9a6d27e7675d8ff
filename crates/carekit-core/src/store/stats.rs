//! Aggregates a store computes for dashboards and summaries, so that a
//! reader never loads conversations, messages or audit trails to count them.

use crate::channel::DeliveryState;
use crate::domain::{AuditEntry, AuditKind, ConversationRecord, SlaEventKind};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How many outbox items are in one delivery state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StateCount {
    /// The state.
    pub state: DeliveryState,
    /// Items in it.
    pub count: u64,
}

/// Nearest-rank percentiles and count of a set of durations, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ResponseTimes {
    /// How many.
    pub count: u64,
    /// Median.
    pub p50_s: Option<i64>,
    /// 90th percentile.
    pub p90_s: Option<i64>,
    /// 99th percentile.
    pub p99_s: Option<i64>,
    /// Mean, rounded down.
    pub mean_s: Option<i64>,
}

impl ResponseTimes {
    /// The figures of `seconds` (any order).
    pub fn from_seconds(mut seconds: Vec<i64>) -> Self {
        seconds.sort_unstable();
        let rank = |p: f64| -> Option<i64> {
            if seconds.is_empty() {
                return None;
            }
            let r = ((p / 100.0) * seconds.len() as f64).ceil().max(1.0) as usize;
            Some(seconds[r.min(seconds.len()) - 1])
        };
        let sum: i128 = seconds.iter().map(|s| i128::from(*s)).sum();
        Self {
            count: seconds.len() as u64,
            p50_s: rank(50.0),
            p90_s: rank(90.0),
            p99_s: rank(99.0),
            mean_s: (!seconds.is_empty())
                .then(|| i64::try_from(sum / seconds.len() as i128).unwrap_or(i64::MAX)),
        }
    }
}

/// Figures for the conversations of one channel (or all of them).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Conversations opened in the range.
    pub conversations: u64,
    /// Of those, how many are in each status now (`open`, `resolved`, …).
    pub by_status: BTreeMap<String, u64>,
    /// Opening to the first reply of any kind (automation included).
    pub first_response: ResponseTimes,
    /// Opening to the first reply by a person.
    pub first_human_response: ResponseTimes,
    /// Opening to resolution, for conversations resolved or closed.
    pub resolution: ResponseTimes,
    /// Escalations by reason code (`sla_breach`, `crisis_term`, …).
    pub escalations: BTreeMap<String, u64>,
    /// Per SLA metric, conversations whose target was met without a breach.
    pub sla_met: BTreeMap<String, u64>,
    /// Per SLA metric, conversations whose target was breached (met late or not).
    pub sla_breached: BTreeMap<String, u64>,
    /// Conversations handed off to a private channel.
    pub handoffs: u64,
    /// Satisfaction surveys sent.
    pub csat_requested: u64,
    /// Satisfaction answers.
    pub csat_answered: u64,
    /// Mean rating of the answers (1–5).
    pub csat_mean: Option<f64>,
}

/// Aggregates over the conversations opened in `[from, to)`: counts per
/// channel and status, response-time figures, escalations, SLA outcomes,
/// handoffs and CSAT. See [`Store::conversation_stats`](crate::Store::conversation_stats).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConversationStats {
    /// Start of the range (inclusive), by `opened_at`.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Every channel together.
    pub total: ChannelStats,
    /// By channel (`twitter`, `sms`, …).
    pub by_channel: BTreeMap<String, ChannelStats>,
}

/// Which response time a duration belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResponseMetric {
    /// Opening to the first reply.
    FirstResponse,
    /// Opening to the first human reply.
    FirstHumanResponse,
    /// Opening to resolution.
    Resolution,
}

#[derive(Default)]
struct Partial {
    stats: ChannelStats,
    durations: BTreeMap<ResponseMetric, Vec<i64>>,
    rating_sum: u64,
}

/// Assembles [`ConversationStats`] from the aggregates a store computed
/// (`GROUP BY` rows, one narrow column of durations); the totals and the
/// percentiles are derived in [`finish`](Self::finish). Meant for
/// [`Store`](crate::Store) implementations.
pub struct ConversationStatsBuilder {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    channels: BTreeMap<String, Partial>,
}

impl std::fmt::Debug for ConversationStatsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationStatsBuilder")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl ConversationStatsBuilder {
    /// Empty figures for `[from, to)`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            from,
            to,
            channels: BTreeMap::new(),
        }
    }

    fn channel(&mut self, channel: &str) -> &mut Partial {
        self.channels.entry(channel.to_owned()).or_default()
    }

    /// `count` conversations of `channel` are in `status`.
    pub fn status(&mut self, channel: &str, status: &str, count: u64) -> &mut Self {
        let c = self.channel(channel);
        c.stats.conversations += count;
        *c.stats.by_status.entry(status.to_owned()).or_default() += count;
        self
    }

    /// One conversation of `channel` took `micros` for `metric` (negative
    /// spans count as 0; whole seconds, rounded down).
    pub fn duration(&mut self, channel: &str, metric: ResponseMetric, micros: i64) -> &mut Self {
        self.channel(channel)
            .durations
            .entry(metric)
            .or_default()
            .push(micros.max(0) / 1_000_000);
        self
    }

    /// `count` escalations of `channel` for `reason`.
    pub fn escalations(&mut self, channel: &str, reason: &str, count: u64) -> &mut Self {
        *self
            .channel(channel)
            .stats
            .escalations
            .entry(reason.to_owned())
            .or_default() += count;
        self
    }

    /// `count` conversations of `channel` met (`breached == false`) or
    /// breached an SLA target for `metric`.
    pub fn sla(&mut self, channel: &str, metric: &str, breached: bool, count: u64) -> &mut Self {
        let stats = &mut self.channel(channel).stats;
        let map = if breached {
            &mut stats.sla_breached
        } else {
            &mut stats.sla_met
        };
        *map.entry(metric.to_owned()).or_default() += count;
        self
    }

    /// `count` handoffs of `channel`.
    pub fn handoffs(&mut self, channel: &str, count: u64) -> &mut Self {
        self.channel(channel).stats.handoffs += count;
        self
    }

    /// `requested` surveys sent on `channel`'s conversations, `answered`
    /// answers whose ratings add up to `rating_sum`.
    pub fn csat(
        &mut self,
        channel: &str,
        requested: u64,
        answered: u64,
        rating_sum: u64,
    ) -> &mut Self {
        let c = self.channel(channel);
        c.stats.csat_requested += requested;
        c.stats.csat_answered += answered;
        c.rating_sum += rating_sum;
        self
    }

    /// The figures, with totals and percentiles.
    pub fn finish(self) -> ConversationStats {
        let mut total = Partial::default();
        let mut by_channel = BTreeMap::new();
        for (name, mut c) in self.channels {
            let t = &mut total.stats;
            t.conversations += c.stats.conversations;
            add_all(&mut t.by_status, &c.stats.by_status);
            add_all(&mut t.escalations, &c.stats.escalations);
            add_all(&mut t.sla_met, &c.stats.sla_met);
            add_all(&mut t.sla_breached, &c.stats.sla_breached);
            t.handoffs += c.stats.handoffs;
            t.csat_requested += c.stats.csat_requested;
            t.csat_answered += c.stats.csat_answered;
            total.rating_sum += c.rating_sum;
            for (metric, seconds) in &c.durations {
                total.durations.entry(*metric).or_default().extend(seconds);
            }
            c.finish_into();
            by_channel.insert(name, c.stats);
        }
        total.finish_into();
        ConversationStats {
            from: self.from,
            to: self.to,
            total: total.stats,
            by_channel,
        }
    }

    /// The same figures from whole records and their audit trails: what a
    /// store without aggregate queries computes (and the reference the
    /// conformance suite holds the others to). `records` are filtered to
    /// the range here.
    pub fn from_records<'a>(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        records: impl IntoIterator<Item = (&'a ConversationRecord, &'a [AuditEntry])>,
    ) -> ConversationStats {
        let mut b = Self::new(from, to);
        for (c, trail) in records {
            if c.opened_at < from || c.opened_at >= to {
                continue;
            }
            let ch = c.channel.as_str();
            b.status(ch, c.status.as_str(), 1);
            // Microseconds as the SQL stores keep instants.
            let span = |t: DateTime<Utc>| t.timestamp_micros() - c.opened_at.timestamp_micros();
            if let Some(t) = c.first_response_at {
                b.duration(ch, ResponseMetric::FirstResponse, span(t));
            }
            if let Some(t) = c.first_human_response_at {
                b.duration(ch, ResponseMetric::FirstHumanResponse, span(t));
            }
            if !c.status.is_active()
                && let Some(t) = c.resolved_at
            {
                b.duration(ch, ResponseMetric::Resolution, span(t));
            }
            let mut sla: BTreeMap<&str, bool> = BTreeMap::new();
            let (mut requested, mut answered, mut ratings) = (0, 0, 0);
            for e in trail {
                match &e.kind {
                    AuditKind::Escalated(esc) => {
                        b.escalations(ch, esc.reason.code(), 1);
                    }
                    AuditKind::Sla(ev)
                        if matches!(ev.kind, SlaEventKind::Breached | SlaEventKind::Fulfilled) =>
                    {
                        *sla.entry(ev.metric.as_str()).or_default() |=
                            ev.kind == SlaEventKind::Breached;
                    }
                    AuditKind::HandedOff { .. } => {
                        b.handoffs(ch, 1);
                    }
                    AuditKind::CsatRequested { .. } => requested += 1,
                    AuditKind::CsatAnswered { rating, .. } => {
                        answered += 1;
                        ratings += u64::from(*rating);
                    }
                    _ => {}
                }
            }
            for (metric, breached) in sla {
                b.sla(ch, metric, breached, 1);
            }
            b.csat(ch, requested, answered, ratings);
        }
        b.finish()
    }
}

impl Partial {
    fn finish_into(&mut self) {
        for (metric, seconds) in std::mem::take(&mut self.durations) {
            let figures = ResponseTimes::from_seconds(seconds);
            match metric {
                ResponseMetric::FirstResponse => self.stats.first_response = figures,
                ResponseMetric::FirstHumanResponse => self.stats.first_human_response = figures,
                ResponseMetric::Resolution => self.stats.resolution = figures,
            }
        }
        self.stats.csat_mean = (self.stats.csat_answered > 0)
            .then(|| self.rating_sum as f64 / self.stats.csat_answered as f64);
    }
}

fn add_all(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// Counts `items`' states into [`StateCount`]s for `states`, in that order
/// (a state with no items counts 0).
pub fn count_states<'a>(
    states: &[DeliveryState],
    items: impl IntoIterator<Item = &'a DeliveryState>,
) -> Vec<StateCount> {
    let mut counts: Vec<StateCount> = Vec::new();
    let mut seen = BTreeSet::new();
    for state in states {
        if seen.insert(state.rank()) {
            counts.push(StateCount {
                state: *state,
                count: 0,
            });
        }
    }
    for item in items {
        if let Some(c) = counts.iter_mut().find(|c| c.state == *item) {
            c.count += 1;
        }
    }
    counts
}
