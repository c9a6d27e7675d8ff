//! Fault injection: the shared fake Twilio ([`FakeTwilio`]) fails 30% of
//! calls at random (12% 500, 11% 503, 1% 429 with Retry-After: 1, 6% slow
//! answers that come after the client's timeout) and enforces a send rate.
//! 1,000 replies go through the desk's outbox. Every reply must reach the
//! fake, none may be lost, the fake's rate limit must never be exceeded.
//! After a timeout (the fake accepted, the client gave up) the outbox asks
//! the fake's message list before sending again, so duplicates can only
//! come from a list that does not show the message yet; they are reported.

use carekit_core::desk::{OutboxConfig, ReplyRequest};
use carekit_core::*;
use carekit_sms::fake::{FakeTwilio, FaultKind, Faults, Ledger, Platform};
use carekit_sms::{SmsChannel, TwilioConfig, TwilioProvider};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REPLIES: usize = 1000;
const RATE_PER_SECOND: u32 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_replies_survive_thirty_percent_faults() {
    let faults = Faults::random(0.30, 0x2545_F491_4F6C_DD1D)
        .with_mix(&[
            (FaultKind::ServerError, 12),
            (FaultKind::Unavailable, 11),
            (FaultKind::RateLimited, 1),
            (FaultKind::SlowResponse, 6),
        ])
        // Accepted, but the answer comes after the client's timeout.
        .with_slow_by(Duration::from_millis(400))
        .with_limit(RATE_PER_SECOND);
    let ledger = Ledger::new(faults);
    let twilio = FakeTwilio::start(ledger.clone()).await.unwrap();

    let config = TwilioConfig::builder("AC0123456789abcdef0123456789abcdef", "token")
        .base_url(twilio.base_url())
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let sms = SmsChannel::builder(Arc::new(TwilioProvider::new(config)), "+14155550100")
        .build()
        .unwrap();
    // Stay under the platform's limit on our side.
    let channel = RateLimited::new(sms, RATE_PER_SECOND * 3 / 4, Duration::from_secs(1));
    let desk = Desk::builder()
        .channel(Arc::new(channel))
        .outbox(
            OutboxConfig::default()
                .with_max_attempts(50)
                .with_batch(64)
                .with_backoff(
                    chrono::Duration::milliseconds(5),
                    chrono::Duration::milliseconds(200),
                ),
        )
        .build()
        .unwrap();
    let mut expected = Vec::new();
    for c in 0..100 {
        let event = InboundEvent::message(
            ChannelKind::Sms,
            Visibility::Private,
            format!("SMin{c}"),
            Identity::new(ChannelKind::Sms, format!("+1415555{:04}", 1000 + c)),
            "help",
            chrono::Utc::now(),
        );
        let id = desk.ingest(event).await.unwrap().conversation_id().unwrap();
        for r in 0..REPLIES / 100 {
            let text = format!("reply {c}-{r}");
            desk.reply(id, ReplyRequest::agent("ann", text.clone()))
                .await
                .unwrap();
            expected.push(text);
        }
    }
    let started = Instant::now();
    loop {
        let report = desk.run_outbox_once().await.unwrap();
        let pending = desk
            .store()
            .outbox_in_states(&[DeliveryState::Queued, DeliveryState::Sending], 1)
            .await
            .unwrap();
        if report.claimed == 0 && pending.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "outbox did not drain"
        );
        if report.claimed == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let failed = desk
        .store()
        .outbox_in_states(&[DeliveryState::Failed, DeliveryState::DeadLettered], 10)
        .await
        .unwrap();
    assert!(failed.is_empty(), "nothing failed for good: {failed:?}");

    // What the fake accepted, by text.
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for delivered in ledger.delivered() {
        assert_eq!(delivered.platform, Platform::Twilio);
        *accepted.entry(delivered.text).or_default() += 1;
    }
    let lost: Vec<&String> = expected
        .iter()
        .filter(|t| !accepted.contains_key(*t))
        .collect();
    assert!(
        lost.is_empty(),
        "lost {} replies, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let duplicates: usize = accepted.values().map(|n| n - 1).sum();
    let faults = ledger.injected();
    let timeouts = faults.get(&FaultKind::SlowResponse).copied().unwrap_or(0) as usize;

    assert!(
        duplicates <= timeouts,
        "duplicates ({duplicates}) only come from timeouts ({timeouts})"
    );
    // A send that arrives while the fake's window holds its limit is
    // counted here: none may.
    let over_limit = ledger
        .over_limit()
        .get(&Platform::Twilio)
        .copied()
        .unwrap_or(0);
    let peak = ledger.peak_per_second(Platform::Twilio);
    assert!(
        over_limit == 0 && peak <= u64::from(RATE_PER_SECOND),
        "rate limit exceeded: {over_limit} sends over it, peak {peak} in one second"
    );
    eprintln!(
        "fault injection: {REPLIES} replies, {} calls, faults {faults:?}, duplicates {duplicates} \
         (timeouts reconciled from the message list), peak {peak} sends/s (limit {RATE_PER_SECOND}), {:.1}s",
        ledger.calls().get(&Platform::Twilio).copied().unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
}
