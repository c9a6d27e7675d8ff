//! CSAT surveys through the real desk (memory store, recording channels):
//! private only, ratings read from answers, report figures by channel and agent.

use carekit_core::desk::{
    Action, HandoffRequest, ReplyRequest, Rule, RuleContext, StatusChange, SurveyRequest,
};
use carekit_core::*;
use carekit_insight::{CsatError, CsatSurvey, Report, ReportOptions};
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::Duration;
use std::sync::Arc;

const QUESTION: &str = "How did we do? Reply 1 (bad) to 5 (great).";

struct Setup {
    desk: Desk,
    clock: FakeClock,
    channels: Vec<Arc<RecordingChannel>>,
}

impl Setup {
    fn new(rules: Vec<Arc<dyn Rule>>) -> Self {
        let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
        let channels: Vec<Arc<RecordingChannel>> = [
            ChannelKind::Sms,
            ChannelKind::Email,
            ChannelKind::Twitter,
            ChannelKind::Facebook,
        ]
        .into_iter()
        .map(|k| Arc::new(RecordingChannel::new(k)))
        .collect();
        let mut builder = Desk::builder().clock(Arc::new(clock.clone()));
        for c in &channels {
            builder = builder.channel(c.clone());
        }
        for r in rules {
            builder = builder.rule(r);
        }
        Self {
            desk: builder.build().unwrap(),
            clock,
            channels,
        }
    }

    fn survey() -> Self {
        Self::new(vec![Arc::new(
            CsatSurvey::builder(QUESTION).build().unwrap(),
        )])
    }

    fn channel(&self, kind: ChannelKind) -> &RecordingChannel {
        self.channels.iter().find(|c| c.kind() == kind).unwrap()
    }

    /// Every message sent publicly, on any channel.
    fn public_sends(&self) -> Vec<OutboundMessage> {
        self.channels
            .iter()
            .flat_map(|c| c.sent())
            .filter(|m| m.visibility == Visibility::Public)
            .collect()
    }

    fn surveys_sent(&self) -> Vec<OutboundMessage> {
        self.channels
            .iter()
            .flat_map(|c| c.sent())
            .filter(|m| m.text == QUESTION)
            .collect()
    }

    fn advance(&self, minutes: i64) {
        self.clock
            .set(self.clock.now() + Duration::minutes(minutes));
    }

    async fn ingest(&self, event: InboundEvent) -> ConversationId {
        self.desk
            .ingest(event)
            .await
            .unwrap()
            .conversation_id()
            .unwrap()
    }

    async fn trail(&self, id: ConversationId) -> Vec<AuditKind> {
        self.desk
            .audit_trail(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// A private message (SMS, email, X DM, Messenger) threaded per customer.
fn private_event(kind: ChannelKind, id: &str, handle: &str, text: &str, s: &Setup) -> InboundEvent {
    InboundEvent::message(
        kind,
        Visibility::Private,
        id,
        Identity::new(kind, handle),
        text,
        s.clock.now(),
    )
    .with_thread_key(format!("{kind}:{handle}"))
}

fn requested(trail: &[AuditKind]) -> Vec<Option<String>> {
    trail
        .iter()
        .filter_map(|k| match k {
            AuditKind::CsatRequested { agent, .. } => Some(agent.clone()),
            _ => None,
        })
        .collect()
}

fn answered(trail: &[AuditKind]) -> Vec<(u8, Option<String>)> {
    trail
        .iter()
        .filter_map(|k| match k {
            AuditKind::CsatAnswered { rating, agent, .. } => Some((*rating, agent.clone())),
            _ => None,
        })
        .collect()
}

fn skipped(trail: &[AuditKind]) -> usize {
    trail
        .iter()
        .filter(|k| matches!(k, AuditKind::CsatSkipped { .. }))
        .count()
}

/// Customer writes privately, the agent answers and resolves; returns the conversation.
async fn resolved_private(
    s: &Setup,
    kind: ChannelKind,
    handle: &str,
    agent: &str,
) -> ConversationId {
    let id = s
        .ingest(private_event(
            kind,
            &format!("{kind}-{handle}-1"),
            handle,
            "my order is late",
            s,
        ))
        .await;
    s.advance(5);
    s.desk
        .reply(id, ReplyRequest::agent(agent, "Sorry! It ships today."))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    s.advance(5);
    s.desk
        .resolve(id, Actor::Agent(agent.into()))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    id
}

#[tokio::test]
async fn survey_goes_out_privately_after_resolve_on_sms_email_dm_and_messenger() {
    for kind in [
        ChannelKind::Sms,
        ChannelKind::Email,
        ChannelKind::Twitter,
        ChannelKind::Facebook,
    ] {
        let s = Setup::survey();
        let id = resolved_private(&s, kind, "cust", "ann").await;
        let sent = s.channel(kind).sent();
        assert_eq!(sent.len(), 2, "{kind}: the agent's reply, then the survey");
        let survey = &sent[1];
        assert_eq!(survey.text, QUESTION, "{kind}");
        assert_eq!(survey.visibility, Visibility::Private, "{kind}");
        assert_eq!(survey.conversation_id, Some(id), "{kind}");
        assert!(s.public_sends().is_empty(), "{kind}: nothing public");
        let trail = s.trail(id).await;
        assert_eq!(requested(&trail), vec![Some("ann".to_owned())], "{kind}");

        // The customer answers on the same channel: read as a rating, for ann,
        // and the conversation stays resolved with its resolution time.
        let resolved_at = s.desk.conversation(id).await.unwrap().resolved_at;
        s.advance(30);
        let mut answer = private_event(kind, &format!("{kind}-answer"), "cust", "5/5 thanks!", &s);
        if kind == ChannelKind::Email {
            let provider_id = s
                .desk
                .conversation(id)
                .await
                .unwrap()
                .messages
                .iter()
                .find(|m| m.text == QUESTION)
                .and_then(|m| m.external_id.clone())
                .unwrap();
            answer = answer.with_parent(provider_id);
        }
        assert_eq!(
            s.ingest(answer).await,
            id,
            "{kind}: threads into the surveyed conversation"
        );
        let trail = s.trail(id).await;
        assert_eq!(
            answered(&trail),
            vec![(5, Some("ann".to_owned()))],
            "{kind}"
        );
        let after = s.desk.conversation(id).await.unwrap();
        assert_eq!(
            after.status,
            Status::Resolved,
            "{kind}: a rating does not reopen"
        );
        assert_eq!(after.resolved_at, resolved_at, "{kind}");
        assert!(
            after.messages.iter().any(|m| m.text == "5/5 thanks!"),
            "{kind}: kept"
        );
    }
}

#[tokio::test]
async fn no_public_send_ever_happens_for_a_tweet_or_a_page_comment() {
    for kind in [ChannelKind::Twitter, ChannelKind::Facebook] {
        let s = Setup::survey();
        let id = s
            .ingest(sample_event(
                kind,
                &format!("{kind}-1"),
                "pub",
                "your app is broken",
                s.clock.now(),
            ))
            .await;
        s.advance(5);
        s.desk
            .reply(id, ReplyRequest::agent("ann", "Looking into it!"))
            .await
            .unwrap();
        s.desk.run_outbox_once().await.unwrap();
        let sends_before = s.channel(kind).attempts();
        assert_eq!(sends_before, 1, "{kind}: the agent's public reply");
        s.desk
            .resolve(id, Actor::Agent("ann".into()))
            .await
            .unwrap();
        s.advance(60);
        s.desk.run_outbox_once().await.unwrap();
        assert_eq!(
            s.channel(kind).attempts(),
            sends_before,
            "{kind}: nothing sent after resolve"
        );
        assert!(s.surveys_sent().is_empty(), "{kind}");
        let trail = s.trail(id).await;
        assert!(requested(&trail).is_empty(), "{kind}");
        assert_eq!(skipped(&trail), 1, "{kind}: audited as skipped");
    }
}

/// A rule that asks for a survey on every message and every status change,
/// whatever the conversation: the desk must still never survey in public.
struct Reckless;

impl Rule for Reckless {
    fn name(&self) -> &str {
        "reckless"
    }
    fn on_inbound(&self, _: &dyn Conversation, _: &RuleContext<'_>) -> Vec<Action> {
        vec![Action::Survey(SurveyRequest::new(QUESTION))]
    }
    fn on_status(&self, _: &dyn Conversation, _: &StatusChange) -> Vec<Action> {
        vec![Action::Survey(SurveyRequest::new(QUESTION))]
    }
}

#[tokio::test]
async fn the_desk_refuses_public_surveys_even_when_a_rule_asks() {
    let s = Setup::new(vec![Arc::new(Reckless)]);
    let tweet = s
        .ingest(sample_event(
            ChannelKind::Twitter,
            "T1",
            "pub",
            "hello?",
            s.clock.now(),
        ))
        .await;
    let comment = s
        .ingest(sample_event(
            ChannelKind::Facebook,
            "C1",
            "pub2",
            "hello?",
            s.clock.now(),
        ))
        .await;
    s.desk
        .resolve(tweet, Actor::Agent("ann".into()))
        .await
        .unwrap();
    s.desk
        .resolve(comment, Actor::Agent("ann".into()))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.channel(ChannelKind::Twitter).attempts(), 0);
    assert_eq!(s.channel(ChannelKind::Facebook).attempts(), 0);
    for id in [tweet, comment] {
        let trail = s.trail(id).await;
        assert!(requested(&trail).is_empty());
        assert_eq!(skipped(&trail), 2, "on the message and on resolve");
    }
}

#[tokio::test]
async fn a_public_complaint_handed_off_is_surveyed_in_the_private_conversation() {
    let s = Setup::survey();
    let tweet = s
        .ingest(sample_event(
            ChannelKind::Twitter,
            "T1",
            "pub",
            "charged twice!!",
            s.clock.now(),
        ))
        .await;
    s.advance(5);
    let handoff = s
        .desk
        .handoff(
            tweet,
            HandoffRequest::new(
                ChannelKind::Sms,
                "So sorry, can we text you?",
                Actor::Agent("bo".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+14155550100")),
        )
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    s.advance(5);
    s.ingest(private_event(
        ChannelKind::Sms,
        "SM1",
        "+14155550100",
        "yes please",
        &s,
    ))
    .await;
    let public_before = s.public_sends();
    assert_eq!(public_before.len(), 1, "only the handoff offer");
    s.advance(5);
    s.desk
        .resolve(tweet, Actor::Agent("bo".into()))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.public_sends(), public_before, "no new public send");
    let sms = s.channel(ChannelKind::Sms).sent();
    let survey = sms.last().unwrap();
    assert_eq!(
        (survey.text.as_str(), survey.visibility),
        (QUESTION, Visibility::Private)
    );
    assert_eq!(survey.conversation_id, Some(handoff.private_conversation));
    let private_trail = s.trail(handoff.private_conversation).await;
    assert_eq!(requested(&private_trail), vec![Some("bo".to_owned())]);
    assert!(requested(&s.trail(tweet).await).is_empty());
}

#[tokio::test]
async fn an_answer_that_is_not_a_rating_is_kept_and_handled_normally() {
    let s = Setup::survey();
    let id = resolved_private(&s, ChannelKind::Sms, "+1555", "ann").await;
    s.advance(10);
    s.ingest(private_event(
        ChannelKind::Sms,
        "SM-x",
        "+1555",
        "it still hasn't arrived though?",
        &s,
    ))
    .await;
    let c = s.desk.conversation(id).await.unwrap();
    assert_eq!(c.status, Status::Open, "reopened like any customer message");
    assert!(
        c.messages
            .iter()
            .any(|m| m.text == "it still hasn't arrived though?")
    );
    let trail = s.trail(id).await;
    assert!(answered(&trail).is_empty());
    assert!(
        trail
            .iter()
            .any(|k| matches!(k, AuditKind::Note { text } if text.contains("not a rating")))
    );
    // A later rating, with no brand message in between, still answers the survey.
    s.advance(1);
    s.ingest(private_event(
        ChannelKind::Sms,
        "SM-y",
        "+1555",
        "4 stars",
        &s,
    ))
    .await;
    let trail = s.trail(id).await;
    assert_eq!(answered(&trail), vec![(4, Some("ann".to_owned()))]);
    assert_eq!(
        s.desk.conversation(id).await.unwrap().status,
        Status::Open,
        "was already open"
    );
}

#[tokio::test]
async fn messages_without_a_pending_survey_are_never_read_as_ratings() {
    let s = Setup::survey();
    let id = s
        .ingest(private_event(ChannelKind::Sms, "SM1", "+1666", "5", &s))
        .await;
    assert!(
        answered(&s.trail(id).await).is_empty(),
        "no survey was sent"
    );
}

#[tokio::test]
async fn a_delayed_survey_waits_in_the_outbox() {
    let rule = CsatSurvey::builder(QUESTION)
        .delay(Some(Duration::hours(2)))
        .build()
        .unwrap();
    let s = Setup::new(vec![Arc::new(rule)]);
    resolved_private(&s, ChannelKind::Email, "a@example.com", "ann").await;
    assert!(s.surveys_sent().is_empty(), "not yet");
    s.advance(119);
    s.desk.run_outbox_once().await.unwrap();
    assert!(s.surveys_sent().is_empty(), "still not yet");
    s.advance(1);
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.surveys_sent().len(), 1);
}

#[tokio::test]
async fn channels_not_chosen_are_not_surveyed() {
    let rule = CsatSurvey::builder(QUESTION)
        .channels([ChannelKind::Email])
        .build()
        .unwrap();
    let s = Setup::new(vec![Arc::new(rule)]);
    resolved_private(&s, ChannelKind::Sms, "+1777", "ann").await;
    resolved_private(&s, ChannelKind::Email, "b@example.com", "ann").await;
    let surveys = s.surveys_sent();
    assert_eq!(surveys.len(), 1);
    assert_eq!(surveys[0].channel, ChannelKind::Email);
}

#[test]
fn the_builder_refuses_bad_settings() {
    assert_eq!(
        CsatSurvey::builder("  ").build().err(),
        Some(CsatError::EmptyQuestion)
    );
    assert_eq!(
        CsatSurvey::builder(QUESTION)
            .delay(Some(Duration::minutes(-1)))
            .build()
            .err(),
        Some(CsatError::NegativeDelay)
    );
    assert_eq!(
        CsatSurvey::builder(QUESTION).channels([]).build().err(),
        Some(CsatError::NoChannels)
    );
}

#[tokio::test]
async fn report_figures_per_channel_and_agent_match_hand_computed_values() {
    let s = Setup::survey();
    // A: SMS, ann, answered 5.   B: SMS, bo, answered "bad" (2).
    // C: email, ann, never answered.   D: tweet, bo, skipped (public, no handoff).
    // E: tweet handed off to SMS (P); ann resolves E; P answered "4 stars".
    let a = resolved_private(&s, ChannelKind::Sms, "+1001", "ann").await;
    let b = resolved_private(&s, ChannelKind::Sms, "+1002", "bo").await;
    resolved_private(&s, ChannelKind::Email, "c@example.com", "ann").await;
    let d = s
        .ingest(sample_event(
            ChannelKind::Twitter,
            "TD",
            "dd",
            "meh",
            s.clock.now(),
        ))
        .await;
    s.desk.resolve(d, Actor::Agent("bo".into())).await.unwrap();
    let e = s
        .ingest(sample_event(
            ChannelKind::Twitter,
            "TE",
            "ee",
            "broken",
            s.clock.now(),
        ))
        .await;
    let p = s
        .desk
        .handoff(
            e,
            HandoffRequest::new(
                ChannelKind::Sms,
                "Can we text you?",
                Actor::Agent("ann".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+1005")),
        )
        .await
        .unwrap()
        .private_conversation;
    s.desk.run_outbox_once().await.unwrap();
    s.ingest(private_event(
        ChannelKind::Sms,
        "SM-E1",
        "+1005",
        "sure",
        &s,
    ))
    .await;
    s.desk.resolve(e, Actor::Agent("ann".into())).await.unwrap();
    s.desk.run_outbox_once().await.unwrap();
    s.advance(10);
    s.ingest(private_event(ChannelKind::Sms, "SM-A", "+1001", "5", &s))
        .await;
    s.ingest(private_event(ChannelKind::Sms, "SM-B", "+1002", "bad", &s))
        .await;
    s.ingest(private_event(
        ChannelKind::Sms,
        "SM-P",
        "+1005",
        "4 stars",
        &s,
    ))
    .await;
    assert_eq!(answered(&s.trail(a).await).len(), 1);
    assert_eq!(answered(&s.trail(b).await).len(), 1);
    assert_eq!(
        answered(&s.trail(p).await),
        vec![(4, Some("ann".to_owned()))]
    );

    let report = Report::from_store(
        s.desk.store().as_ref(),
        &ConversationFilter::all(),
        &ReportOptions::default(),
    )
    .await
    .unwrap();
    let figures = |seg: &carekit_insight::Segment| {
        (
            seg.csat_requested,
            seg.csat_answered,
            seg.csat_skipped,
            seg.csat_response_rate,
            seg.csat_mean,
        )
    };
    let close = |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() < 1e-9);
    // Total: 4 sent (A, B, C, P), 3 answered (5, 2, 4), 1 skipped (D).
    let t = figures(&report.total);
    assert_eq!((t.0, t.1, t.2), (4, 3, 1));
    assert!(close(t.3, 0.75) && close(t.4, 11.0 / 3.0), "{t:?}");
    // SMS: A, B, P sent and answered.
    let sms = figures(&report.by_channel["sms"]);
    assert_eq!((sms.0, sms.1, sms.2), (3, 3, 0));
    assert!(close(sms.3, 1.0) && close(sms.4, 11.0 / 3.0), "{sms:?}");
    // Email: C sent, unanswered.
    let email = figures(&report.by_channel["email"]);
    assert_eq!(email, (1, 0, 0, Some(0.0), None));
    // X: D skipped, nothing sent.
    let x = figures(&report.by_channel["twitter"]);
    assert_eq!(x, (0, 0, 1, None, None));
    // ann resolved A, C, E (surveyed in P): 3 sent, 2 answered (5, 4).
    let ann = figures(&report.by_agent["ann"]);
    assert_eq!((ann.0, ann.1, ann.2), (3, 2, 0));
    assert!(close(ann.3, 2.0 / 3.0) && close(ann.4, 4.5), "{ann:?}");
    // bo resolved B (answered 2) and D (skipped).
    let bo = figures(&report.by_agent["bo"]);
    assert_eq!((bo.0, bo.1, bo.2), (1, 1, 1));
    assert!(close(bo.3, 1.0) && close(bo.4, 2.0), "{bo:?}");

    let csv = report.to_csv();
    assert!(csv.contains("agent,ann,csat_response_rate,0.6667"), "{csv}");
    assert!(csv.contains("channel,twitter,csat_skipped,1"));
    assert!(csv.contains("agent,bo,csat_mean,2.00"));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["by_agent"]["ann"]["csat_answered"], 2);
    assert_eq!(json["by_channel"]["email"]["csat_response_rate"], 0.0);
}

#[tokio::test]
async fn only_a_resolution_sends_a_survey() {
    let s = Setup::survey();
    let id = s
        .ingest(private_event(ChannelKind::Sms, "SM1", "+1888", "hello", &s))
        .await;
    s.desk
        .set_status(id, Status::Pending, Actor::Agent("ann".into()))
        .await
        .unwrap();
    s.desk
        .set_status(id, Status::Closed, Actor::Agent("ann".into()))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert!(s.surveys_sent().is_empty());
    assert!(requested(&s.trail(id).await).is_empty());
}
