//! SLA policies through the real desk, on a fake clock.

use carekit_core::desk::ReplyRequest;
use carekit_core::*;
use carekit_policy::*;
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::{Duration, NaiveDate, NaiveTime};
use std::sync::Arc;

struct Rig {
    desk: Desk,
    clock: FakeClock,
}

fn rig(policy: SlaPolicy, start: &str) -> Rig {
    let clock = FakeClock::new(at(start));
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
        .policy(Arc::new(SlaSet::new(vec![policy]).unwrap()))
        .build()
        .unwrap();
    Rig { desk, clock }
}

fn one_hour() -> SlaPolicy {
    SlaPolicy::builder("social-1h")
        .target_all(SlaMetric::FirstResponse, Duration::hours(1))
        .target_all(SlaMetric::NextResponse, Duration::minutes(30))
        .build()
        .unwrap()
}

fn sla_escalations(trail: &[AuditEntry]) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    trail
        .iter()
        .filter_map(|e| match &e.kind {
            AuditKind::Escalated(esc) => {
                let metric: SlaMetric = esc.reason.detail("metric")?;
                match esc.reason.code() {
                    reasons::SLA_WARNING => Some((format!("warning:{}", metric.as_str()), e.at)),
                    reasons::SLA_BREACH => Some((format!("breach:{}", metric.as_str()), e.at)),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}

async fn tick_at(r: &Rig, when: &str) {
    r.clock.set(at(when));
    r.desk.tick().await.unwrap();
}

#[tokio::test]
async fn breach_at_exactly_the_target_and_a_warning_once() {
    let r = rig(one_hour(), "2026-03-02T09:00:00Z");
    let id = r
        .desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "1",
            "u1",
            "help",
            at("2026-03-02T09:00:00Z"),
        ))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    assert_eq!(
        r.desk.conversation(id).await.unwrap().next_deadline,
        Some(at("2026-03-02T09:45:00Z"))
    );
    tick_at(&r, "2026-03-02T09:44:59Z").await;
    tick_at(&r, "2026-03-02T09:45:00Z").await;
    tick_at(&r, "2026-03-02T09:50:00Z").await;
    tick_at(&r, "2026-03-02T09:59:59Z").await;
    let trail = r.desk.audit_trail(id).await.unwrap();
    assert_eq!(
        sla_escalations(&trail),
        vec![(
            "warning:first_response".to_owned(),
            at("2026-03-02T09:45:00Z")
        )]
    );
    tick_at(&r, "2026-03-02T10:00:00Z").await;
    tick_at(&r, "2026-03-02T10:30:00Z").await;
    let trail = r.desk.audit_trail(id).await.unwrap();
    assert_eq!(
        sla_escalations(&trail),
        vec![
            (
                "warning:first_response".to_owned(),
                at("2026-03-02T09:45:00Z")
            ),
            (
                "breach:first_response".to_owned(),
                at("2026-03-02T10:00:00Z")
            ),
        ]
    );
    let record = r.desk.conversation(id).await.unwrap();
    assert_eq!(record.priority, Priority::High, "a breach raises priority");
    let kinds: Vec<SlaEventKind> = trail
        .iter()
        .filter_map(|e| match &e.kind {
            AuditKind::Sla(ev) if ev.metric == SlaMetric::FirstResponse => Some(ev.kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            SlaEventKind::Applied,
            SlaEventKind::Warning,
            SlaEventKind::Breached
        ]
    );
}

#[tokio::test]
async fn business_hours_skip_the_weekend_and_a_holiday() {
    let calendar = BusinessCalendar::builder("America/New_York")
        .weekdays(
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        )
        .holiday(NaiveDate::from_ymd_opt(2026, 1, 19).unwrap())
        .build()
        .unwrap();
    let policy = SlaPolicy::builder("email-2bh")
        .target_all(SlaMetric::FirstResponse, Duration::hours(2))
        .business_hours(Arc::new(calendar))
        .warn_at(0.5)
        .build()
        .unwrap();
    // Friday 16:00 in New York.
    let r = rig(policy, "2026-01-16T21:00:00Z");
    let id = r
        .desk
        .ingest(sample_event(
            ChannelKind::Email,
            "m1",
            "ann@example.com",
            "hi",
            at("2026-01-16T21:00:00Z"),
        ))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    // One working hour later is Friday 17:00 (22:00Z): the warning point.
    assert_eq!(
        r.desk.conversation(id).await.unwrap().next_deadline,
        Some(at("2026-01-16T22:00:00Z"))
    );
    tick_at(&r, "2026-01-16T22:00:00Z").await;
    // The breach is Tuesday 10:00 New York (Monday is a holiday).
    assert_eq!(
        r.desk.conversation(id).await.unwrap().next_deadline,
        Some(at("2026-01-20T15:00:00Z"))
    );
    tick_at(&r, "2026-01-19T20:00:00Z").await;
    tick_at(&r, "2026-01-20T15:00:00Z").await;
    let trail = r.desk.audit_trail(id).await.unwrap();
    assert_eq!(
        sla_escalations(&trail).last().unwrap(),
        &(
            "breach:first_response".to_owned(),
            at("2026-01-20T15:00:00Z")
        )
    );
}

#[tokio::test]
async fn pending_pauses_the_clock_and_the_customer_resumes_it() {
    let r = rig(one_hour(), "2026-03-02T09:00:00Z");
    let id = r
        .desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "1",
            "u1",
            "help",
            at("2026-03-02T09:00:00Z"),
        ))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    r.clock.set(at("2026-03-02T09:10:00Z"));
    r.desk
        .set_status(id, Status::Pending, Actor::Agent("ann".into()))
        .await
        .unwrap();
    assert_eq!(
        r.desk.conversation(id).await.unwrap().next_deadline,
        None,
        "no deadline while paused"
    );
    tick_at(&r, "2026-03-02T10:05:00Z").await;
    assert!(sla_escalations(&r.desk.audit_trail(id).await.unwrap()).is_empty());
    r.clock.set(at("2026-03-02T10:10:00Z"));
    r.desk
        .ingest(
            sample_event(
                ChannelKind::Twitter,
                "2",
                "u1",
                "still there?",
                at("2026-03-02T10:10:00Z"),
            )
            .with_parent("1"),
        )
        .await
        .unwrap();
    let record = r.desk.conversation(id).await.unwrap();
    assert_eq!(record.status, Status::Open);
    // One hour of pause: warning 10:45, breach 11:00.
    assert_eq!(record.next_deadline, Some(at("2026-03-02T10:45:00Z")));
    tick_at(&r, "2026-03-02T11:00:00Z").await;
    let trail = r.desk.audit_trail(id).await.unwrap();
    let breach = sla_escalations(&trail)
        .into_iter()
        .find(|(k, _)| k.starts_with("breach"))
        .unwrap();
    assert_eq!(breach.0, "breach:first_response");
    let kinds: Vec<SlaEventKind> = trail
        .iter()
        .filter_map(|e| match &e.kind {
            AuditKind::Sla(ev) => Some(ev.kind),
            _ => None,
        })
        .collect();
    assert!(kinds.contains(&SlaEventKind::Paused) && kinds.contains(&SlaEventKind::Resumed));
}

#[tokio::test]
async fn next_response_targets_each_customer_message() {
    let r = rig(one_hour(), "2026-03-02T09:00:00Z");
    let id = r
        .desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "1",
            "u1",
            "help",
            at("2026-03-02T09:00:00Z"),
        ))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    r.clock.set(at("2026-03-02T09:20:00Z"));
    r.desk
        .reply(id, ReplyRequest::agent("ann", "Looking now"))
        .await
        .unwrap();
    r.desk.run_outbox_once().await.unwrap();
    r.clock.set(at("2026-03-02T09:30:00Z"));
    r.desk
        .ingest(
            sample_event(
                ChannelKind::Twitter,
                "2",
                "u1",
                "any news?",
                at("2026-03-02T09:30:00Z"),
            )
            .with_parent("1"),
        )
        .await
        .unwrap();
    assert_eq!(
        r.desk.conversation(id).await.unwrap().next_deadline,
        Some(at("2026-03-02T09:52:30Z")),
        "75% of 30 minutes"
    );
    tick_at(&r, "2026-03-02T10:00:00Z").await;
    let trail = r.desk.audit_trail(id).await.unwrap();
    let found = sla_escalations(&trail);
    assert!(
        found.contains(&(
            "breach:next_response".to_owned(),
            at("2026-03-02T10:00:00Z")
        )),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(k, _)| k == "breach:first_response"),
        "first response was met at 09:20"
    );
    // The reply fulfils it; the next customer message starts a new target.
    r.clock.set(at("2026-03-02T10:05:00Z"));
    r.desk
        .reply(id, ReplyRequest::agent("ann", "Fixed!"))
        .await
        .unwrap();
    r.desk.run_outbox_once().await.unwrap();
    assert_eq!(r.desk.conversation(id).await.unwrap().next_deadline, None);
    r.clock.set(at("2026-03-02T11:00:00Z"));
    r.desk
        .ingest(
            sample_event(
                ChannelKind::Twitter,
                "3",
                "u1",
                "thanks",
                at("2026-03-02T11:00:00Z"),
            )
            .with_parent("1"),
        )
        .await
        .unwrap();
    assert_eq!(
        r.desk.conversation(id).await.unwrap().next_deadline,
        Some(at("2026-03-02T11:22:30Z"))
    );
}

#[test]
fn bad_configuration_is_refused_when_built() {
    assert!(matches!(
        SlaPolicy::builder("x")
            .target_all(SlaMetric::FirstResponse, Duration::zero())
            .build(),
        Err(PolicyError::ZeroTarget(_))
    ));
    assert!(matches!(
        SlaPolicy::builder("x")
            .target_all(SlaMetric::FirstResponse, Duration::hours(1))
            .warn_at(1.5)
            .build(),
        Err(PolicyError::BadWarning(_))
    ));
    assert!(matches!(
        SlaPolicy::builder("x").build(),
        Err(PolicyError::MatchesNothing(_))
    ));
    assert!(matches!(
        SlaPolicy::builder("x")
            .priority(Priority::Urgent)
            .target(Priority::Low, SlaMetric::FirstResponse, Duration::hours(1))
            .build(),
        Err(PolicyError::MatchesNothing(_))
    ));
    assert!(matches!(
        SlaSet::new(vec![]),
        Err(PolicyError::MatchesNothing(_))
    ));
}

#[test]
fn first_match_picks_the_policy() {
    let vip = SlaPolicy::builder("vip")
        .tier("gold")
        .target_all(SlaMetric::FirstResponse, Duration::minutes(15))
        .build()
        .unwrap();
    let email = SlaPolicy::builder("email")
        .channel(ChannelKind::Email)
        .target_all(SlaMetric::FirstResponse, Duration::hours(24))
        .build()
        .unwrap();
    let rest = SlaPolicy::builder("default")
        .target_all(SlaMetric::FirstResponse, Duration::hours(1))
        .build()
        .unwrap();
    let set = SlaSet::new(vec![vip, email, rest]).unwrap();
    let mut customer = Customer::new(
        Identity::new(ChannelKind::Email, "a@b.c"),
        at("2026-03-02T09:00:00Z"),
    );
    let record = ConversationRecord::new(
        ChannelKind::Email,
        "",
        Visibility::Private,
        customer.clone(),
        at("2026-03-02T09:00:00Z"),
    );
    assert_eq!(set.policy_for(&record).unwrap().name(), "email");
    customer.tier = Some("gold".into());
    let record = ConversationRecord::new(
        ChannelKind::Email,
        "",
        Visibility::Private,
        customer,
        at("2026-03-02T09:00:00Z"),
    );
    assert_eq!(set.policy_for(&record).unwrap().name(), "vip");
}

#[test]
fn a_team_policy_applies_to_that_teams_conversations_only() {
    let billing = SlaPolicy::builder("billing")
        .team("billing")
        .target_all(SlaMetric::FirstResponse, Duration::minutes(30))
        .build()
        .unwrap();
    let rest = SlaPolicy::builder("default")
        .target_all(SlaMetric::FirstResponse, Duration::hours(1))
        .build()
        .unwrap();
    let set = SlaSet::new(vec![billing, rest]).unwrap();
    let customer = Customer::new(
        Identity::new(ChannelKind::Email, "a@b.c"),
        at("2026-03-02T09:00:00Z"),
    );
    let mut record = ConversationRecord::new(
        ChannelKind::Email,
        "",
        Visibility::Private,
        customer,
        at("2026-03-02T09:00:00Z"),
    );
    assert_eq!(set.policy_for(&record).unwrap().name(), "default");
    record.team = Some("shipping".into());
    assert_eq!(set.policy_for(&record).unwrap().name(), "default");
    record.team = Some("billing".into());
    assert_eq!(set.policy_for(&record).unwrap().name(), "billing");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn record(minutes_open: i64) -> ConversationRecord {
        let customer = Customer::new(
            Identity::new(ChannelKind::Twitter, "u"),
            at("2026-03-02T09:00:00Z"),
        );
        let mut r = ConversationRecord::new(
            ChannelKind::Twitter,
            "",
            Visibility::Public,
            customer,
            at("2026-03-02T09:00:00Z") + Duration::minutes(minutes_open),
        );
        r.messages.push(Message::new(
            r.id,
            Direction::Inbound,
            Author::Customer(r.customer.id),
            Visibility::Public,
            "help",
            r.opened_at,
        ));
        r
    }

    proptest! {
        #[test]
        fn a_deadline_never_moves_earlier_as_time_passes(target in 1i64..600, a in 0i64..900, b in 0i64..900) {
            let policy = SlaPolicy::builder("p").target_all(SlaMetric::FirstResponse, Duration::minutes(target)).build().unwrap();
            let r = record(0);
            let (first, second) = (a.min(b), a.max(b));
            let at1 = r.opened_at + Duration::minutes(first);
            let at2 = r.opened_at + Duration::minutes(second);
            let d1 = policy.next_deadline(&r, &PolicyContext::new(at1, Trigger::Deadline, &[]));
            let d2 = policy.next_deadline(&r, &PolicyContext::new(at2, Trigger::Deadline, &[]));
            if let (Some(d1), Some(d2)) = (d1, d2) {
                prop_assert!(d2 >= d1);
            }
            if let Some(d2) = d2 {
                prop_assert!(d2 > at2);
            }
        }

        #[test]
        fn pausing_never_shortens_the_remaining_time(target in 1i64..600, pause_start in 0i64..600, pause_len in 0i64..600) {
            let policy = SlaPolicy::builder("p").target_all(SlaMetric::FirstResponse, Duration::minutes(target)).build().unwrap();
            let r = record(0);
            let ps = r.opened_at + Duration::minutes(pause_start);
            let pe = ps + Duration::minutes(pause_len);
            let history = vec![
                AuditEntry::new(r.id, ps, AuditKind::StatusChanged { from: Status::Open, to: Status::Pending, by: Actor::System }),
                AuditEntry::new(r.id, pe, AuditKind::StatusChanged { from: Status::Pending, to: Status::Open, by: Actor::Customer }),
            ];
            let now = pe;
            let without = policy.status(&r, &PolicyContext::new(now, Trigger::Deadline, &[]));
            let with = policy.status(&r, &PolicyContext::new(now, Trigger::Deadline, &history));
            let due_without = without.iter().find(|s| s.metric == SlaMetric::FirstResponse).and_then(|s| s.due).unwrap();
            let due_with = with.iter().find(|s| s.metric == SlaMetric::FirstResponse).and_then(|s| s.due).unwrap();
            prop_assert!(due_with >= due_without);
        }
    }
}
