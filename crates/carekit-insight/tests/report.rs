//! Report figures against hand-computed values, through the real desk.

use carekit_core::desk::{AutoAcknowledge, HandoffRequest, ReplyRequest};
use carekit_core::*;
use carekit_insight::{Report, ReportOptions};
use carekit_policy::builtin::CrisisTerms;
use carekit_policy::{BusinessCalendar, SlaPolicy, SlaSet};
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::{Duration, NaiveTime};
use std::sync::Arc;

#[tokio::test]
async fn figures_match_a_hand_computed_day() {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let sla = SlaPolicy::builder("frt-15m")
        .target_all(SlaMetric::FirstResponse, Duration::minutes(15))
        .build()
        .unwrap();
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Sms)))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
        .policy(Arc::new(SlaSet::new(vec![sla]).unwrap()))
        .policy(Arc::new(CrisisTerms::default_terms()))
        .rule(Arc::new(AutoAcknowledge::everyone(
            "Sorry! Looking now.",
            "",
        )))
        .build()
        .unwrap();
    let step = |t: &str| clock.set(at(t));
    // A: SMS. Customer 09:00, agent 09:10, customer 09:20, agent 09:50, resolved 10:00.
    let a = desk
        .ingest(
            sample_event(
                ChannelKind::Sms,
                "SM1",
                "+14155550100",
                "where is my order",
                at("2026-03-02T09:00:00Z"),
            )
            .with_thread_key("biz:+14155550100"),
        )
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    // B: tweet at 09:00; the bot acknowledges at 09:01; it mentions a lawyer.
    let b = desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "T1",
            "u1",
            "double charged, calling my lawyer",
            at("2026-03-02T09:00:00Z"),
        ))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    step("2026-03-02T09:01:00Z");
    desk.run_outbox_once().await.unwrap();
    step("2026-03-02T09:10:00Z");
    desk.reply(a, ReplyRequest::agent("ann", "It ships today"))
        .await
        .unwrap();
    desk.run_outbox_once().await.unwrap();
    step("2026-03-02T09:15:00Z");
    desk.tick().await.unwrap();
    step("2026-03-02T09:20:00Z");
    desk.ingest(
        sample_event(
            ChannelKind::Sms,
            "SM2",
            "+14155550100",
            "thanks, tracking number?",
            at("2026-03-02T09:20:00Z"),
        )
        .with_thread_key("biz:+14155550100"),
    )
    .await
    .unwrap();
    step("2026-03-02T09:30:00Z");
    let handoff = desk
        .handoff(
            b,
            HandoffRequest::new(
                ChannelKind::Sms,
                "So sorry, can we text you?",
                Actor::Agent("bo".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+14155550199")),
        )
        .await
        .unwrap();
    desk.run_outbox_once().await.unwrap();
    step("2026-03-02T09:40:00Z");
    desk.ingest(sample_event(
        ChannelKind::Sms,
        "SM3",
        "+14155550199",
        "yes please",
        at("2026-03-02T09:40:00Z"),
    ))
    .await
    .unwrap();
    step("2026-03-02T09:50:00Z");
    desk.reply(a, ReplyRequest::agent("ann", "1Z999"))
        .await
        .unwrap();
    desk.run_outbox_once().await.unwrap();
    step("2026-03-02T10:00:00Z");
    desk.resolve(a, Actor::Agent("ann".into())).await.unwrap();

    let report = Report::from_store(
        desk.store().as_ref(),
        &ConversationFilter::all(),
        &ReportOptions::default(),
    )
    .await
    .unwrap();
    let sms = &report.by_channel["sms"];
    let tw = &report.by_channel["twitter"];
    assert_eq!(report.total.conversations, 3);
    // A: first human response 600 s; B: first reply (bot) 60 s, first human 1800 s.
    assert_eq!(tw.first_response.p50_s, Some(60));
    assert_eq!(tw.first_human_response.p50_s, Some(1800));
    assert_eq!(
        sms.first_human_response.count, 1,
        "the private conversation B→SMS has no reply yet"
    );
    assert_eq!(sms.first_human_response.p50_s, Some(600));
    assert_eq!(sms.next_response.p50_s, Some(1800), "09:20 → 09:50");
    assert_eq!(sms.resolution.p50_s, Some(3600));
    assert_eq!(
        report.total.sla["first_response"],
        (1, 1),
        "A met; B breached at 09:15"
    );
    assert_eq!(report.total.escalations["crisis_term"], 1);
    assert_eq!(report.total.escalations["sla_breach"], 1);
    assert_eq!(
        (
            report.total.handoffs,
            report.total.handoffs_answered_privately
        ),
        (1, 1)
    );
    assert!(
        report
            .to_csv()
            .contains("channel,sms,next_response_p50_s,1800")
    );
    assert!(report.to_json().contains("\"first_human_response\""));
    let _ = handoff;
}

#[test]
fn business_hours_figures() {
    let cal = BusinessCalendar::builder("UTC")
        .weekdays(
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        )
        .build()
        .unwrap();
    let customer = Customer::new(
        Identity::new(ChannelKind::Email, "a@b.c"),
        at("2026-03-06T16:50:00Z"),
    );
    // Friday 16:50 → Monday 09:10: 64 h 20 min of calendar time, 20 minutes of business time.
    let mut c = ConversationRecord::new(
        ChannelKind::Email,
        "",
        Visibility::Private,
        customer,
        at("2026-03-06T16:50:00Z"),
    );
    c.first_response_at = Some(at("2026-03-09T09:10:00Z"));
    c.first_human_response_at = c.first_response_at;
    let calendar = Report::build(
        std::slice::from_ref(&c),
        &Default::default(),
        &ReportOptions::calendar_time(),
    );
    let business = Report::build(
        &[c],
        &Default::default(),
        &ReportOptions::business_hours(Arc::new(cal)),
    );
    assert_eq!(
        calendar.total.first_human_response.p50_s,
        Some(64 * 3600 + 20 * 60)
    );
    assert_eq!(business.total.first_human_response.p50_s, Some(20 * 60));
}
