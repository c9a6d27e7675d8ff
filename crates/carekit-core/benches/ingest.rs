//! Ingest throughput through the full in-memory pipeline (dedupe, customer
//! resolution, threading, a policy, an auto-acknowledge rule, the commit),
//! against a baseline measured in the same run: deserialising the same
//! events from JSON and nothing else.
//!
//! ```text
//! cargo bench -p carekit-core --bench ingest
//! ```

use carekit_core::desk::AutoAcknowledge;
use carekit_core::*;
use chrono::{DateTime, Duration, Utc};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const EVENTS: usize = 20_000;
const CUSTOMERS: usize = 4_000;

struct Negative;

impl EscalationPolicy for Negative {
    fn name(&self) -> &str {
        "repeated"
    }
    fn evaluate(&self, c: &dyn Conversation, _: &PolicyContext<'_>) -> Vec<Escalation> {
        if c.unanswered_inbound() >= 3 {
            vec![Escalation::new(
                self.name(),
                EscalationReason::new("repeated_contact").with_detail("count", 3),
                "three unanswered",
            )]
        } else {
            Vec::new()
        }
    }
}

fn events(start: DateTime<Utc>) -> Vec<String> {
    let texts = [
        "@acme my order #4411 is two weeks late and nobody answers",
        "@acme the app crashes every time I open my account page, please fix",
        "@acme thanks for the quick help yesterday!",
        "@acme I was charged twice for the same subscription this month",
    ];
    (0..EVENTS)
        .map(|i| {
            let customer = i % CUSTOMERS;
            let channel = [
                ChannelKind::Twitter,
                ChannelKind::Facebook,
                ChannelKind::Sms,
                ChannelKind::Email,
            ][customer % 4];
            let visibility = if matches!(channel, ChannelKind::Twitter | ChannelKind::Facebook) {
                Visibility::Public
            } else {
                Visibility::Private
            };
            let mut event = InboundEvent::message(
                channel,
                visibility,
                format!("ev-{i}"),
                Identity::new(channel, format!("customer-{customer}"))
                    .with_display_name(format!("Customer {customer}")),
                texts[i % texts.len()],
                start + Duration::seconds(i as i64),
            )
            .with_account("acme")
            .with_thread_key(format!("thread-{customer}"));
            if i >= CUSTOMERS {
                event = event.with_parent(format!("ev-{}", i - CUSTOMERS));
            }
            serde_json::to_string(&event).expect("serialisable")
        })
        .collect()
}

fn main() {
    let start = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc();
    let payloads = events(start);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Baseline: deserialise only.
    let t = Instant::now();
    for p in &payloads {
        black_box(serde_json::from_str::<InboundEvent>(p).unwrap());
    }
    let baseline = t.elapsed();

    // Full pipeline.
    let clock = FakeClock::new(start + Duration::days(1));
    let desk = Desk::builder()
        .clock(Arc::new(clock))
        .policy(Arc::new(Negative))
        .rule(Arc::new(AutoAcknowledge::everyone(
            "Sorry about that, looking now.",
            "Thanks, looking now.",
        )))
        .build()
        .unwrap();
    let t = Instant::now();
    runtime.block_on(async {
        for p in &payloads {
            let event: InboundEvent = serde_json::from_str(p).unwrap();
            black_box(desk.ingest(event).await.unwrap());
        }
    });
    let pipeline = t.elapsed();

    // Replays: every event again, all duplicates.
    let t = Instant::now();
    runtime.block_on(async {
        for p in &payloads {
            let event: InboundEvent = serde_json::from_str(p).unwrap();
            assert!(desk.ingest(event).await.unwrap().is_duplicate());
        }
    });
    let replay = t.elapsed();

    let rate = |d: std::time::Duration| EVENTS as f64 / d.as_secs_f64();
    println!("events: {EVENTS} over {CUSTOMERS} conversations (5 messages each)");
    println!(
        "baseline (JSON deserialise only): {:>10.0} events/s",
        rate(baseline)
    );
    println!(
        "full pipeline (ingest):           {:>10.0} events/s  ({:.1}x the baseline's time)",
        rate(pipeline),
        pipeline.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "replayed duplicates:              {:>10.0} events/s  ({:.1}x the baseline's time)",
        rate(replay),
        replay.as_secs_f64() / baseline.as_secs_f64()
    );
}
