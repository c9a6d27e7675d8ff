//! What-if replay: evaluate a policy set over recorded traffic on a virtual
//! clock and report what would have warned, breached and escalated, without
//! sending anything. Lets a team try a policy change on last month's
//! traffic before turning it on.
//!
//! Each thread becomes a conversation; between recorded messages the replay
//! jumps from one policy deadline to the next, exactly as the desk's tick
//! would, so a warning due at 10:45 fires at 10:45 and not at the next message.

use crate::CareSentiment;
use crate::twcs::Tweet;
use carekit_core::{
    AuditEntry, AuditKind, Author, ChannelKind, Classification, ConversationRecord, Customer,
    Direction, EscalationPolicy, Identity, Message, PolicyContext, SlaEventKind, Trigger,
    Visibility,
};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One recorded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedMessage {
    /// Its thread.
    pub thread: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Written by the customer (else by the brand).
    pub inbound: bool,
    /// The author (customer handle or brand account).
    pub author: String,
    /// Text.
    pub text: String,
}

/// What a replay found for one brand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountFigures {
    /// Customer-started threads.
    pub threads: usize,
    /// Threads with at least one SLA warning.
    pub warned: usize,
    /// Threads with at least one SLA breach.
    pub breached: usize,
}

/// What a replay found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Customer-started threads replayed.
    pub threads: usize,
    /// Threads with at least one SLA warning.
    pub warned: usize,
    /// Threads with at least one SLA breach.
    pub breached: usize,
    /// Escalations by reason code.
    pub escalations: BTreeMap<String, usize>,
    /// Per brand (the brand that answered first; `(unanswered)` otherwise).
    pub accounts: BTreeMap<String, AccountFigures>,
}

/// TWCS tweets as recorded messages: each tweet in its reply thread
/// ([`twcs::threads`](crate::twcs::threads)), customers inbound, brands
/// outbound.
pub fn recorded_twcs(tweets: &[Tweet]) -> Vec<RecordedMessage> {
    let threads = crate::twcs::threads(tweets);
    tweets
        .iter()
        .map(|t| RecordedMessage {
            thread: threads[&t.id].clone(),
            at: t.created_at,
            inbound: t.inbound,
            author: t.author.clone(),
            text: t.text.clone(),
        })
        .collect()
}

/// The brand tweet that first answered a customer-started thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirstResponse {
    /// The brand account that answered.
    pub brand: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A thread whose earliest message is a customer's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomerThread {
    /// The thread key.
    pub thread: String,
    /// The customer who started it.
    pub customer: String,
    /// When the customer wrote first.
    pub opened_at: DateTime<Utc>,
    /// The first brand message after it, if any.
    pub first_response: Option<FirstResponse>,
}

impl CustomerThread {
    /// First response time: the first brand message minus the customer's
    /// first message.
    pub fn first_response_time(&self) -> Option<Duration> {
        self.first_response.as_ref().map(|r| r.at - self.opened_at)
    }
}

/// First-response figures for one brand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BrandResponses {
    /// Customer-started threads it answered first.
    pub threads: usize,
    /// Their first response times in seconds, ascending.
    pub first_response_seconds: Vec<i64>,
}

/// Threads and first responses in recorded traffic, by the definitions
/// [`WhatIf`] replays with, so that a report of response times and a
/// what-if over the same traffic count the same threads:
///
/// - a thread is a connected reply chain; its messages in time order (ties
///   keep the order given);
/// - a thread is customer-started when its earliest message is a
///   customer's; only those are conversations with a first response;
/// - the first response is the first brand message after it, and the
///   thread belongs to that brand;
/// - a thread whose earliest message is the brand's (a broadcast, or a
///   reply whose customer tweet is missing from the data) is counted as
///   brand-started and has no first response: a broadcast answers nobody.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ThreadCensus {
    /// All threads.
    pub threads: usize,
    /// Threads whose earliest message is the brand's.
    pub brand_started: usize,
    /// Customer-started threads, by thread key.
    pub customer_threads: Vec<CustomerThread>,
}

impl ThreadCensus {
    /// Counts `messages`.
    pub fn of(messages: &[RecordedMessage]) -> Self {
        let mut census = ThreadCensus::default();
        for (key, thread) in by_thread(messages) {
            census.threads += 1;
            let first = thread[0];
            if !first.inbound {
                census.brand_started += 1;
                continue;
            }
            census.customer_threads.push(CustomerThread {
                thread: key.to_owned(),
                customer: first.author.clone(),
                opened_at: first.at,
                first_response: thread.iter().find(|m| !m.inbound).map(|m| FirstResponse {
                    brand: m.author.clone(),
                    at: m.at,
                }),
            });
        }
        census
    }

    /// Counts TWCS tweets ([`recorded_twcs`]).
    pub fn of_twcs(tweets: &[Tweet]) -> Self {
        Self::of(&recorded_twcs(tweets))
    }

    /// Customer-started threads a brand answered.
    pub fn answered(&self) -> usize {
        self.customer_threads
            .iter()
            .filter(|t| t.first_response.is_some())
            .count()
    }

    /// First response times in seconds, ascending.
    pub fn first_response_seconds(&self) -> Vec<i64> {
        let mut seconds: Vec<i64> = self
            .customer_threads
            .iter()
            .filter_map(|t| t.first_response_time())
            .map(|d| d.num_seconds())
            .collect();
        seconds.sort_unstable();
        seconds
    }

    /// Per brand that answered first.
    pub fn brands(&self) -> BTreeMap<String, BrandResponses> {
        let mut brands: BTreeMap<String, BrandResponses> = BTreeMap::new();
        for t in &self.customer_threads {
            if let (Some(r), Some(d)) = (&t.first_response, t.first_response_time()) {
                let b = brands.entry(r.brand.clone()).or_default();
                b.threads += 1;
                b.first_response_seconds.push(d.num_seconds());
            }
        }
        for b in brands.values_mut() {
            b.first_response_seconds.sort_unstable();
        }
        brands
    }
}

/// The nearest-rank percentile `p` (0–100] of ascending `sorted`.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Messages grouped by thread, by thread key; each thread in time order
/// (ties keep the order given).
fn by_thread(messages: &[RecordedMessage]) -> Vec<(&str, Vec<&RecordedMessage>)> {
    let mut threads: BTreeMap<&str, Vec<&RecordedMessage>> = BTreeMap::new();
    for m in messages {
        threads.entry(m.thread.as_str()).or_default().push(m);
    }
    threads
        .into_iter()
        .map(|(key, mut thread)| {
            thread.sort_by_key(|m| m.at);
            (key, thread)
        })
        .collect()
}
/// How a replay classifies each customer message.
type ClassifyFn = dyn Fn(&str) -> Classification + Send + Sync;

/// Replays recorded traffic through a policy set.
pub struct WhatIf {
    policies: Vec<Arc<dyn EscalationPolicy>>,
    horizon: Duration,
    classify: Arc<ClassifyFn>,
}

impl std::fmt::Debug for WhatIf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatIf")
            .field("policies", &self.policies.len())
            .finish()
    }
}

impl WhatIf {
    /// Replays through `policies`; deadlines are followed up to `horizon`
    /// after a thread's last message (default 7 days).
    pub fn new(policies: Vec<Arc<dyn EscalationPolicy>>) -> Self {
        let care = CareSentiment::default();
        Self {
            policies,
            horizon: Duration::days(7),
            classify: Arc::new(move |text| care.classification(text)),
        }
    }

    /// Classifies customer messages with `classify` instead of the default
    /// [`CareSentiment`] (sentiment, language, `language:unsupported`), to
    /// compare classifiers on the same traffic.
    pub fn classify_with(
        mut self,
        classify: impl Fn(&str) -> Classification + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(classify);
        self
    }

    /// Sets the horizon.
    pub fn horizon(mut self, horizon: Duration) -> Self {
        self.horizon = horizon;
        self
    }

    /// Replays TWCS tweets: customers' tweets inbound, brands' outbound.
    pub fn run_twcs(&self, tweets: &[Tweet]) -> ReplayReport {
        self.run(&recorded_twcs(tweets))
    }

    /// Replays recorded messages: the customer-started threads of
    /// [`ThreadCensus`], each credited to the brand that answered first.
    pub fn run(&self, messages: &[RecordedMessage]) -> ReplayReport {
        let mut report = ReplayReport::default();
        for (_, thread) in by_thread(messages) {
            if !thread[0].inbound {
                continue;
            }
            let brand = thread
                .iter()
                .find(|m| !m.inbound)
                .map_or_else(|| "(unanswered)".to_owned(), |m| m.author.clone());
            let history = self.replay_thread(&thread);
            let warned = history
                .iter()
                .any(|e| matches!(&e.kind, AuditKind::Sla(ev) if ev.kind == SlaEventKind::Warning));
            let breached = history.iter().any(|e| matches!(&e.kind, AuditKind::Sla(ev) if ev.kind == SlaEventKind::Breached))
                || history.iter().any(|e| matches!(&e.kind, AuditKind::Escalated(esc) if esc.reason.is(crate::reasons::SLA_BREACH)));
            for e in &history {
                if let AuditKind::Escalated(esc) = &e.kind {
                    *report
                        .escalations
                        .entry(esc.reason.code().to_owned())
                        .or_default() += 1;
                }
            }
            report.threads += 1;
            report.warned += usize::from(warned);
            report.breached += usize::from(breached);
            let figures = report.accounts.entry(brand).or_default();
            figures.threads += 1;
            figures.warned += usize::from(warned);
            figures.breached += usize::from(breached);
        }
        report
    }

    fn replay_thread(&self, thread: &[&RecordedMessage]) -> Vec<AuditEntry> {
        let first = thread[0];
        let customer = Customer::new(
            Identity::new(ChannelKind::Twitter, first.author.clone()),
            first.at,
        );
        let mut record = ConversationRecord::new(
            ChannelKind::Twitter,
            "",
            Visibility::Public,
            customer,
            first.at,
        );
        let mut history: Vec<AuditEntry> = Vec::new();
        let end = thread.last().map_or(first.at, |m| m.at) + self.horizon;
        let mut now = first.at;
        for m in thread {
            self.run_deadlines(&record, &mut history, &mut now, m.at);
            now = now.max(m.at);
            let mut message = Message::new(
                record.id,
                if m.inbound {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                if m.inbound {
                    Author::Customer(record.customer.id)
                } else {
                    Author::Brand
                },
                Visibility::Public,
                m.text.clone(),
                m.at,
            );
            if m.inbound {
                message.classification = Some((self.classify)(&m.text));
                record.last_inbound_at = Some(m.at);
            } else {
                record.first_response_at.get_or_insert(m.at);
                record.first_human_response_at.get_or_insert(m.at);
                record.last_outbound_at = Some(m.at);
            }
            let trigger = if m.inbound {
                Trigger::Inbound(message.id)
            } else {
                Trigger::Outbound(message.id)
            };
            record.messages.push(message);
            self.evaluate(&record, &mut history, m.at, trigger);
        }
        self.run_deadlines(&record, &mut history, &mut now, end);
        history
    }

    /// Evaluates at every deadline strictly before `until`.
    fn run_deadlines(
        &self,
        record: &ConversationRecord,
        history: &mut Vec<AuditEntry>,
        now: &mut DateTime<Utc>,
        until: DateTime<Utc>,
    ) {
        for _ in 0..1000 {
            let ctx = PolicyContext::new(*now, Trigger::Deadline, history);
            let next = self
                .policies
                .iter()
                .filter_map(|p| p.next_deadline(record, &ctx))
                .filter(|at| *at > *now)
                .min();
            match next {
                Some(at) if at < until => {
                    *now = at;
                    self.evaluate(record, history, at, Trigger::Deadline);
                }
                _ => return,
            }
        }
    }

    fn evaluate(
        &self,
        record: &ConversationRecord,
        history: &mut Vec<AuditEntry>,
        now: DateTime<Utc>,
        trigger: Trigger,
    ) {
        let mut added = Vec::new();
        {
            let ctx = PolicyContext::new(now, trigger, history);
            for p in &self.policies {
                for esc in p.evaluate(record, &ctx) {
                    let seen = ctx.already_escalated(&esc.dedupe_key)
                        || added.iter().any(|k: &AuditKind| matches!(k, AuditKind::Escalated(e) if e.dedupe_key == esc.dedupe_key));
                    if !seen {
                        added.push(AuditKind::Escalated(esc));
                    }
                }
                added.extend(p.observe(record, &ctx));
            }
        }
        history.extend(
            added
                .into_iter()
                .map(|kind| AuditEntry::new(record.id, now, kind)),
        );
    }
}
