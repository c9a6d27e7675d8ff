//! The team digest: content against a fixture, scheduling on a fake clock.

use async_trait::async_trait;
use carekit_core::*;
use carekit_insight::digest::{ChannelDigestSender, DigestSchedule, DigestSender, Digester};
use carekit_policy::{SlaPolicy, SlaSet};
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::{Duration, NaiveTime};
use std::sync::{Arc, Mutex};

struct Lexicon;

#[async_trait]
impl Classifier for Lexicon {
    async fn classify(&self, text: &str) -> Classification {
        let sentiment = if text.contains("twice") || text.contains("broken") {
            -0.6
        } else if text.contains("love") {
            0.8
        } else {
            0.0
        };
        Classification {
            sentiment: Some(sentiment),
            ..Classification::default()
        }
    }
}

fn desk(clock: &FakeClock) -> Desk {
    let sla = SlaPolicy::builder("sms-frt-20m")
        .channel(ChannelKind::Sms)
        .target_all(SlaMetric::FirstResponse, Duration::minutes(20))
        .build()
        .unwrap();
    Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Sms)))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
        .classifier(Arc::new(Lexicon))
        .policy(Arc::new(SlaSet::new(vec![sla]).unwrap()))
        .build()
        .unwrap()
}

#[derive(Default)]
struct Outbox {
    sent: Mutex<Vec<(String, String)>>,
    fail: Mutex<bool>,
}

#[async_trait]
impl DigestSender for Outbox {
    async fn send(&self, subject: &str, body: &str) -> Result<(), String> {
        if *self.fail.lock().unwrap() {
            return Err("smtp 451 try later".into());
        }
        self.sent
            .lock()
            .unwrap()
            .push((subject.to_owned(), body.to_owned()));
        Ok(())
    }
}

async fn say(
    desk: &Desk,
    clock: &FakeClock,
    channel: ChannelKind,
    id: &str,
    who: &str,
    text: &str,
    t: &str,
) {
    clock.set(at(t));
    let mut event = sample_event(channel, id, who, text, at(t));
    if channel == ChannelKind::Sms {
        event = event.with_thread_key(format!("biz:{who}"));
    }
    desk.ingest(event).await.unwrap();
}

#[tokio::test]
async fn every_four_hours_the_team_gets_what_happened_since_the_last_digest() {
    let clock = FakeClock::new(at("2026-03-02T07:00:00Z"));
    let desk = desk(&clock);
    let outbox = Arc::new(Outbox::default());
    let digester = Digester::builder(outbox.clone())
        .schedule(DigestSchedule::every_hours(4))
        .build()
        .unwrap();
    // The first run marks the start.
    assert!(digester.run_due(&desk).await.unwrap().is_none());
    assert_eq!(
        digester.next_due(desk.store().as_ref()).await.unwrap(),
        Some(at("2026-03-02T11:00:00Z"))
    );

    say(
        &desk,
        &clock,
        ChannelKind::Sms,
        "SM1",
        "+14155550100",
        "my card was charged twice",
        "2026-03-02T08:05:00Z",
    )
    .await;
    // The SMS waits for an answer: warned at 08:20, breached at 08:25.
    for t in ["2026-03-02T08:20:00Z", "2026-03-02T08:25:00Z"] {
        clock.set(at(t));
        desk.tick().await.unwrap();
    }
    say(
        &desk,
        &clock,
        ChannelKind::Twitter,
        "T1",
        "ann_b",
        "love the new app",
        "2026-03-02T08:30:00Z",
    )
    .await;
    say(
        &desk,
        &clock,
        ChannelKind::Twitter,
        "T2",
        "joe",
        "the   checkout page is broken on android and I have tried three times already today",
        "2026-03-02T09:10:00Z",
    )
    .await;

    clock.set(at("2026-03-02T10:59:00Z"));
    assert!(digester.run_due(&desk).await.unwrap().is_none());
    assert!(outbox.sent.lock().unwrap().is_empty());

    clock.set(at("2026-03-02T11:00:00Z"));
    let digest = digester
        .run_due(&desk)
        .await
        .unwrap()
        .expect("due at 11:00");
    assert_eq!(digest.mentions.len(), 3);
    assert_eq!(digest.sla.len(), 2);
    {
        let sent = outbox.sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].0,
            "Care digest 2026-03-02 11:00 UTC: 3 new mentions, 2 SLA alerts"
        );
        assert_eq!(sent[0].1, include_str!("fixtures/digest.txt"));
    }

    // Not again until 15:00, and then only what is new.
    clock.set(at("2026-03-02T11:01:00Z"));
    assert!(digester.run_due(&desk).await.unwrap().is_none());
    say(
        &desk,
        &clock,
        ChannelKind::Twitter,
        "T3",
        "kim",
        "where is my parcel",
        "2026-03-02T12:00:00Z",
    )
    .await;
    clock.set(at("2026-03-02T15:00:00Z"));
    let second = digester.run_due(&desk).await.unwrap().unwrap();
    assert_eq!(second.since, at("2026-03-02T11:00:00Z"));
    assert_eq!(second.mentions.len(), 1);
    assert_eq!(second.mentions[0].author, "kim");
    assert!(second.sla.is_empty());
    assert_eq!(outbox.sent.lock().unwrap().len(), 2);

    // Nothing happened: nothing is sent, but the period is consumed.
    clock.set(at("2026-03-02T19:00:00Z"));
    let quiet = digester.run_due(&desk).await.unwrap().unwrap();
    assert!(quiet.is_empty());
    assert_eq!(outbox.sent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_daily_digest_goes_out_at_its_time_and_a_failed_send_is_retried() {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let desk = desk(&clock);
    let outbox = Arc::new(Outbox::default());
    let digester = Digester::builder(outbox.clone())
        .schedule(DigestSchedule::daily_at(
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        ))
        .cursor("team-a.digest")
        .build()
        .unwrap();
    assert!(digester.run_due(&desk).await.unwrap().is_none());
    assert_eq!(
        digester.next_due(desk.store().as_ref()).await.unwrap(),
        Some(at("2026-03-03T08:00:00Z"))
    );
    say(
        &desk,
        &clock,
        ChannelKind::Twitter,
        "T1",
        "ann_b",
        "love it",
        "2026-03-02T13:00:00Z",
    )
    .await;

    clock.set(at("2026-03-03T07:59:00Z"));
    assert!(digester.run_due(&desk).await.unwrap().is_none());

    // SMTP is down at 08:00: an error, and nothing is lost.
    *outbox.fail.lock().unwrap() = true;
    clock.set(at("2026-03-03T08:00:00Z"));
    assert!(digester.run_due(&desk).await.is_err());
    say(
        &desk,
        &clock,
        ChannelKind::Twitter,
        "T2",
        "joe",
        "still broken",
        "2026-03-03T08:03:00Z",
    )
    .await;
    *outbox.fail.lock().unwrap() = false;
    clock.set(at("2026-03-03T08:05:00Z"));
    let digest = digester.run_due(&desk).await.unwrap().unwrap();
    assert_eq!(digest.since, at("2026-03-02T09:00:00Z"));
    assert_eq!(digest.mentions.len(), 2);
    assert_eq!(outbox.sent.lock().unwrap().len(), 1);
    assert_eq!(
        digester.next_due(desk.store().as_ref()).await.unwrap(),
        Some(at("2026-03-04T08:00:00Z"))
    );
}

/// A sender that takes a while, as SMTP does.
#[derive(Default)]
struct SlowOutbox(Outbox);

#[async_trait]
impl DigestSender for SlowOutbox {
    async fn send(&self, subject: &str, body: &str) -> Result<(), String> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.0.send(subject, body).await
    }
}

/// Three workers of one desk run the digester at its time, at once: the
/// team gets one digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn workers_running_the_digest_at_once_send_it_once() {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let worker = || {
        Desk::builder()
            .store(store.clone())
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap()
    };
    let desks = [worker(), worker(), worker()];
    let outbox = Arc::new(SlowOutbox::default());
    let digester = Arc::new(
        Digester::builder(outbox.clone())
            .schedule(DigestSchedule::daily_at(
                NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            ))
            .send_empty(true)
            .build()
            .unwrap(),
    );
    assert!(digester.run_due(&desks[0]).await.unwrap().is_none());
    clock.set(at("2026-03-03T08:00:00Z"));
    for _round in 0..3 {
        let mut runs = tokio::task::JoinSet::new();
        for desk in desks.clone() {
            let digester = digester.clone();
            runs.spawn(async move { digester.run_due(&desk).await.unwrap() });
        }
        while runs.join_next().await.is_some() {}
    }
    assert_eq!(outbox.0.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_channel_sender_emails_each_recipient() {
    let email = Arc::new(RecordingChannel::new(ChannelKind::Email));
    let sender = ChannelDigestSender::new(
        email.clone(),
        vec![
            Identity::new(ChannelKind::Email, "lead@example.com"),
            Identity::new(ChannelKind::Email, "care@example.com"),
        ],
    );
    sender.send("Care digest", "body text").await.unwrap();
    let sent = email.sent();
    let to: Vec<_> = sent
        .iter()
        .map(|m| m.recipient.clone().unwrap().handle)
        .collect();
    assert_eq!(to, vec!["lead@example.com", "care@example.com"]);
    assert!(
        sent.iter()
            .all(|m| m.subject.as_deref() == Some("Care digest")
                && m.text == "body text"
                && m.visibility == Visibility::Private)
    );
}

#[test]
fn schedules_compute_the_next_time() {
    let daily = DigestSchedule::daily_at(NaiveTime::from_hms_opt(8, 0, 0).unwrap());
    assert_eq!(
        daily.next_after(at("2026-03-02T07:00:00Z")),
        at("2026-03-02T08:00:00Z")
    );
    assert_eq!(
        daily.next_after(at("2026-03-02T08:00:00Z")),
        at("2026-03-03T08:00:00Z")
    );
    assert_eq!(
        DigestSchedule::every_hours(6).next_after(at("2026-03-02T20:00:00Z")),
        at("2026-03-03T02:00:00Z")
    );
    assert!(
        Digester::builder(Arc::new(Outbox::default()))
            .schedule(DigestSchedule::Every(Duration::zero()))
            .build()
            .is_err()
    );
}

/// Each next digest after `from`, `n` times.
fn runs(schedule: DigestSchedule, from: &str, n: usize) -> Vec<String> {
    let mut last = at(from);
    (0..n)
        .map(|_| {
            last = schedule.next_after(last);
            last.to_rfc3339()
        })
        .collect()
}

#[test]
fn a_local_daily_time_follows_the_zone_across_dst() {
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
    // Berlin leaves summer time on 2026-10-25: 09:00 is 07:00Z before, 08:00Z after.
    let berlin = DigestSchedule::daily_at_in(nine, chrono_tz::Europe::Berlin);
    assert_eq!(
        runs(berlin, "2026-10-23T12:00:00Z", 4),
        [
            "2026-10-24T07:00:00+00:00",
            "2026-10-25T08:00:00+00:00",
            "2026-10-26T08:00:00+00:00",
            "2026-10-27T08:00:00+00:00",
        ]
    );
    // New York on 2026-11-01: 09:00 is 13:00Z before, 14:00Z after.
    let new_york = DigestSchedule::daily_at_in(nine, chrono_tz::America::New_York);
    assert_eq!(
        runs(new_york, "2026-10-31T00:00:00Z", 2),
        ["2026-10-31T13:00:00+00:00", "2026-11-01T14:00:00+00:00"]
    );
    // Spring forward (2026-03-29 in Berlin, 02:00 → 03:00): 09:00 is 08:00Z, then 07:00Z.
    assert_eq!(
        runs(berlin, "2026-03-28T00:00:00Z", 2),
        ["2026-03-28T08:00:00+00:00", "2026-03-29T07:00:00+00:00"]
    );
}

#[test]
fn a_skipped_local_time_runs_when_the_clocks_jump_and_a_repeated_one_runs_once() {
    let half_past_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
    let berlin = DigestSchedule::daily_at_in(half_past_two, chrono_tz::Europe::Berlin);
    // 2026-03-29 02:30 does not exist in Berlin: the digest goes at 03:00
    // CEST (01:00Z), once, and the next day at 02:30 CEST again.
    assert_eq!(
        runs(berlin, "2026-03-28T12:00:00Z", 2),
        ["2026-03-29T01:00:00+00:00", "2026-03-30T00:30:00+00:00"]
    );
    // 2026-10-25 02:30 happens twice (CEST 00:30Z, then CET 01:30Z): the
    // first one only, then 02:30 CET the next day.
    assert_eq!(
        runs(berlin, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]
    );
    // A digest sent between the two 02:30s is not followed by a second one that day.
    assert_eq!(
        berlin.next_after(at("2026-10-25T01:00:00Z")).to_rfc3339(),
        "2026-10-26T01:30:00+00:00"
    );
}
