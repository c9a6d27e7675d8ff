//! Prometheus text metrics: what came in, what went out, what is waiting,
//! and how the SLAs are doing.
//!
//! Counters are plain atomics behind a mutex-guarded map; a scrape renders
//! them in the text exposition format, so no metrics registry is needed.

use async_trait::async_trait;
use carekit_core::desk::DeskEvent;
use carekit_core::{ChannelKind, DeliveryState, Desk, EventSink, InboundEvent, IntakeError};
use carekit_policy::reasons;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

type Labels = Vec<(&'static str, String)>;

/// The server's counters. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    lagged: AtomicU64,
}

/// Counter names and their help text, in output order.
const HELP: &[(&str, &str)] = &[
    (
        "carekit_events_ingested_total",
        "Inbound events stored (or recognised as replays), by channel.",
    ),
    (
        "carekit_events_failed_total",
        "Inbound events the store refused, by channel.",
    ),
    (
        "carekit_events_duplicate_total",
        "Inbound events that were replays of stored ones, by channel.",
    ),
    (
        "carekit_replies_queued_total",
        "Outbound messages queued, by channel.",
    ),
    (
        "carekit_replies_sent_total",
        "Outbound messages the platform accepted, by channel.",
    ),
    (
        "carekit_replies_failed_total",
        "Outbound messages failed for good or dead-lettered, by channel.",
    ),
    ("carekit_sla_warnings_total", "SLA warnings raised."),
    ("carekit_sla_breaches_total", "SLA breaches."),
    ("carekit_escalations_total", "Escalations, by reason."),
    (
        "carekit_handoffs_total",
        "Public conversations handed off to a private channel, by channel.",
    ),
    (
        "carekit_http_requests_total",
        "HTTP requests, by route and status code.",
    ),
    (
        "carekit_inbox_dead_lettered_total",
        "Journaled events set aside in the inbox's dead-letter file, by channel and kind (rejected, unavailable, unreadable).",
    ),
];

impl Metrics {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, labels: Labels) {
        let mut counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *counters.entry((name, labels)).or_default() += 1;
    }

    /// A counter's value (0 if never incremented).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        counters
            .iter()
            .filter(|((n, l), _)| {
                *n == name
                    && l.len() == labels.len()
                    && l.iter()
                        .zip(labels)
                        .all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// Counts what the desk reports (deliveries, escalations, handoffs)
    /// until the desk is dropped.
    pub fn follow(&self, desk: &Desk) -> tokio::task::JoinHandle<()> {
        let mut events = desk.subscribe();
        let metrics = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => metrics.observe(&event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        metrics.inner.lagged.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    fn observe(&self, event: &DeskEvent) {
        match event {
            DeskEvent::Duplicate { channel, .. } => {
                self.inc("carekit_events_duplicate_total", channel_label(*channel))
            }
            DeskEvent::Queued { channel, .. } => {
                self.inc("carekit_replies_queued_total", channel_label(*channel))
            }
            DeskEvent::Delivery { channel, state, .. } => match state {
                DeliveryState::Sent => {
                    self.inc("carekit_replies_sent_total", channel_label(*channel))
                }
                DeliveryState::Failed | DeliveryState::DeadLettered => {
                    self.inc("carekit_replies_failed_total", channel_label(*channel))
                }
                _ => {}
            },
            DeskEvent::Escalated { escalation, .. } => {
                let code = escalation.reason.code();
                if code == reasons::SLA_WARNING {
                    self.inc("carekit_sla_warnings_total", Vec::new())
                } else if code == reasons::SLA_BREACH {
                    self.inc("carekit_sla_breaches_total", Vec::new())
                }
                self.inc(
                    "carekit_escalations_total",
                    vec![("reason", code.to_owned())],
                );
            }
            DeskEvent::HandedOff { channel, .. } => {
                self.inc("carekit_handoffs_total", channel_label(*channel))
            }
            _ => {}
        }
    }

    /// The text exposition format. `gauges` are rendered after the
    /// counters (queue depth and channel health are read at scrape time).
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        for (name, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((n, labels), value) in &counters {
                if n == name {
                    let _ = writeln!(out, "{name}{} {value}", render_labels(labels));
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP carekit_metrics_events_lagged_total Desk events the metrics missed under load.\n# TYPE carekit_metrics_events_lagged_total counter\ncarekit_metrics_events_lagged_total {}",
            self.inner.lagged.load(Ordering::Relaxed)
        );
        let mut last = "";
        for gauge in gauges {
            if gauge.name != last {
                let _ = writeln!(
                    out,
                    "# HELP {0} {1}\n# TYPE {0} gauge",
                    gauge.name, gauge.help
                );
                last = gauge.name;
            }
            let _ = writeln!(
                out,
                "{}{} {}",
                gauge.name,
                render_labels(&gauge.labels),
                gauge.value
            );
        }
        out
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A value read at scrape time.
#[derive(Clone, Debug)]
pub struct Gauge {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Labels.
    pub labels: Labels,
    /// Value.
    pub value: f64,
}

fn render_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", inner.join(","))
}

pub(crate) fn channel_label(channel: ChannelKind) -> Labels {
    vec![("channel", channel.to_string())]
}

/// An [`EventSink`] that counts what it passes on, by channel.
pub struct MeteredSink {
    inner: Arc<dyn EventSink>,
    metrics: Metrics,
}

impl MeteredSink {
    /// Counts into `metrics` what goes to `inner`.
    pub fn new(inner: Arc<dyn EventSink>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl EventSink for MeteredSink {
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        let channel = event.channel;
        let result = self.inner.accept(event).await;
        self.count(channel, 1, &result);
        result
    }

    async fn accept_all(&self, events: Vec<InboundEvent>) -> Result<(), IntakeError> {
        let mut by_channel: BTreeMap<ChannelKind, u64> = BTreeMap::new();
        for e in &events {
            *by_channel.entry(e.channel).or_default() += 1;
        }
        let result = self.inner.accept_all(events).await;
        for (channel, n) in by_channel {
            self.count(channel, n, &result);
        }
        result
    }
}

impl MeteredSink {
    fn count(&self, channel: ChannelKind, n: u64, result: &Result<(), IntakeError>) {
        let name = if result.is_ok() {
            "carekit_events_ingested_total"
        } else {
            "carekit_events_failed_total"
        };
        for _ in 0..n {
            self.metrics.inc(name, channel_label(channel));
        }
    }
}
