//! Crisis detection on synthetic days through the real desk, and crisis mode.

use async_trait::async_trait;
use carekit_core::desk::{AutoAcknowledge, Notification, Notifier};
use carekit_core::*;
use carekit_insight::crisis::{
    CrisisDetector, CrisisMode, CrisisPolicy, CrisisRule, IncidentEvent, Mention,
};
use carekit_policy::{SlaPolicy, SlaSet};
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};

/// Negative when the text says "broken", about billing either way.
struct Lexicon;

#[async_trait]
impl Classifier for Lexicon {
    async fn classify(&self, text: &str) -> Classification {
        Classification {
            sentiment: Some(if text.contains("broken") { -0.7 } else { 0.4 }),
            topics: vec![Topic {
                name: "billing".into(),
                score: 1.0,
            }],
            ..Classification::default()
        }
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Notification>>);

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

/// Mentions per minute of one synthetic day: a daytime curve, a quarter of
/// them negative, and optionally an hour (12:00-13:00) where negative
/// mentions run at ten times their usual rate.
fn synthetic_day(seed: u64, burst: bool) -> Vec<(DateTime<Utc>, bool)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = at("2026-03-02T00:00:00Z");
    let mut out = Vec::new();
    for minute in 0..24 * 60 {
        let hour = minute as f64 / 60.0;
        let daytime = (std::f64::consts::PI * (hour - 6.0) / 16.0).sin().max(0.0);
        let per_hour = 4.0 + 16.0 * daytime;
        let p = per_hour / 60.0;
        let when = start + Duration::minutes(minute);
        if rng.random_bool(p) {
            out.push((when, rng.random_bool(0.25)));
        }
        if burst
            && (12 * 60..13 * 60).contains(&minute)
            && rng.random_bool((9.0 * p * 0.25).min(1.0))
        {
            out.push((when + Duration::seconds(30), true));
        }
    }
    out
}

struct Run {
    desk: Desk,
    /// Every worker's detector at the end.
    detectors: Vec<CrisisDetector>,
    mode: CrisisMode,
    notes: Arc<Recorder>,
    /// (conversation, written at, negative)
    mentions: Vec<(ConversationId, DateTime<Utc>, bool)>,
    crisis_minutes: usize,
}

impl Run {
    /// The first worker's detector.
    fn detector(&self) -> &CrisisDetector {
        &self.detectors[0]
    }
}

fn day_detector(mode: &CrisisMode) -> CrisisDetector {
    CrisisDetector::builder()
        .window(Duration::minutes(15))
        .baseline_windows(8)
        .z_score(Some(3.0))
        .ratio(Some(3.0))
        .min_volume(8)
        .quiet_period(Duration::minutes(30))
        // No notifier given: the desk's own is used.
        .crisis_mode(mode.clone())
        .build()
        .unwrap()
}

/// One synthetic day through `workers` desks on one store, each with its
/// own detector, taking the day's messages in turn and each ticking every
/// minute. With more than one, the last worker is restarted (a new
/// detector that has counted nothing) at 11:00, an hour before the burst.
async fn run_day(seed: u64, burst: bool, workers: usize) -> Run {
    let clock = FakeClock::new(at("2026-03-02T00:00:00Z"));
    let notes = Arc::new(Recorder::default());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let mode = CrisisMode::new();
    let desks: Vec<Desk> = (0..workers)
        .map(|w| {
            Desk::builder()
                .store(store.clone())
                .worker_name(format!("w{w}"))
                .clock(Arc::new(clock.clone()))
                .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
                .classifier(Arc::new(Lexicon))
                .notifier(notes.clone())
                // One process's copy of the switch for every desk here, so
                // the count below needs no refresh; the detector's state is
                // shared through the store only.
                .crisis_switch(mode.switch())
                .build()
                .unwrap()
        })
        .collect();
    let mut detectors: Vec<CrisisDetector> = (0..workers).map(|_| day_detector(&mode)).collect();
    let day = synthetic_day(seed, burst);
    let mut next = 0;
    let mut mentions = Vec::new();
    let mut crisis_minutes = 0;
    for minute in 1..=24 * 60 {
        let now = at("2026-03-02T00:00:00Z") + Duration::minutes(minute);
        if workers > 1 && minute == 11 * 60 {
            detectors[workers - 1] = day_detector(&mode);
        }
        while next < day.len() && day[next].0 <= now {
            let (when, negative) = day[next];
            clock.set(when);
            let text = if negative {
                "my bill is broken again"
            } else {
                "how do I change my plan?"
            };
            let event = sample_event(
                ChannelKind::Twitter,
                &format!("t{next}"),
                &format!("u{next}"),
                text,
                when,
            );
            let worker = next % workers;
            let outcome = desks[worker].ingest(event).await.unwrap();
            detectors[worker]
                .observe_ingest(store.as_ref(), &outcome)
                .await
                .unwrap();
            mentions.push((outcome.conversation_id().unwrap(), when, negative));
            next += 1;
        }
        clock.set(now);
        for (desk, detector) in desks.iter().zip(&detectors) {
            detector.tick(desk).await.unwrap();
        }
        crisis_minutes += usize::from(desks[0].crisis_mode());
    }
    Run {
        desk: desks[0].clone(),
        detectors,
        mode,
        notes,
        mentions,
        crisis_minutes,
    }
}

#[tokio::test]
async fn a_ten_fold_burst_opens_exactly_one_incident_and_closes_it_after() {
    for seed in [7, 11, 23, 42, 99] {
        burst_day(seed, 1).await;
    }
}

/// The same days through three workers of one desk, each with its own
/// detector on one store, the third restarted (with no history) an hour
/// before the burst: one incident, opened and closed once, grouping the
/// burst's conversations from all three, each linked once.
#[tokio::test]
async fn three_workers_and_a_restart_share_one_incident() {
    for seed in [7, 42] {
        burst_day(seed, 3).await;
    }
}

async fn burst_day(seed: u64, workers: usize) {
    let run = run_day(seed, true, workers).await;
    let incidents = run.detector().incidents();
    assert_eq!(incidents.len(), 1, "seed {seed}: {incidents:#?}");
    for other in &run.detectors[1..] {
        assert_eq!(other.incidents(), incidents, "every worker sees the same");
    }
    let incident = &incidents[0];
    println!(
        "seed {seed}: opened {} closed {:?}, {} conversations, baseline {:.2}±{:.2} negatives/window, peak {}",
        incident.opened_at,
        incident.closed_at,
        incident.conversations.len(),
        incident.baseline.negative_mean,
        incident.baseline.negative_sd,
        incident.peak_negative
    );
    assert_eq!(incident.key.channel, ChannelKind::Twitter);
    assert_eq!(incident.key.topic.as_deref(), Some("billing"));
    assert!(incident.opened_at > at("2026-03-02T12:00:00Z"));
    assert!(incident.opened_at < at("2026-03-02T12:30:00Z"));
    let closed = incident.closed_at.expect("closed after the burst");
    assert!(closed > at("2026-03-02T13:00:00Z"), "closed at {closed}");
    assert!(closed < at("2026-03-02T14:30:00Z"), "closed at {closed}");
    assert!(incident.peak_negative >= 3 * incident.baseline.negative_mean.ceil() as usize);

    // Every negative mention from a window before opening until closing is
    // grouped; nothing else is.
    let from = incident.opened_at - Duration::minutes(15);
    for (id, when, negative) in &run.mentions {
        let inside = *negative && *when > from && *when <= closed;
        assert_eq!(
            incident.conversations.contains(id),
            inside,
            "{id} at {when} negative={negative}"
        );
        let trail = run.desk.audit_trail(*id).await.unwrap();
        let linked = trail.iter().any(|e| {
            matches!(&e.kind,
            AuditKind::Escalated(esc) if esc.reason.is(carekit_insight::crisis::SPIKE)
                && esc.reason.detail::<String>("incident").as_deref() == Some(incident.id.as_str()))
        });
        assert_eq!(linked, inside, "audit link for {id}");
        let record = run.desk.conversation(*id).await.unwrap();
        assert_eq!(record.tags.contains(&incident.tag()), inside);
    }
    assert!(incident.conversations.len() >= 30);

    // The crisis team heard about it twice: opened, closed.
    let notes = run.notes.0.lock().unwrap().clone();
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(notes[0].subject.starts_with("Incident opened"));
    assert!(notes[1].subject.starts_with("Incident closed"));
    assert!(
        notes
            .iter()
            .all(|n| n.team.as_deref() == Some("crisis") && n.level == 3)
    );
    // Crisis mode was on exactly while the incident was open.
    let open_minutes = (closed - incident.opened_at).num_minutes() as usize;
    assert_eq!(run.crisis_minutes, open_minutes);
    assert!(!run.mode.is_on());
    assert!(!run.desk.crisis_mode());
}

#[tokio::test]
async fn a_steady_day_with_noise_opens_no_incident() {
    for seed in [7, 11, 23, 42, 99] {
        let run = run_day(seed, false, 1).await;
        assert!(
            run.detector().incidents().is_empty(),
            "seed {seed}: {:#?}",
            run.detector().incidents()
        );
        assert!(run.notes.0.lock().unwrap().is_empty());
        assert_eq!(run.crisis_minutes, 0);
        // The day had real traffic and real negatives.
        assert!(run.mentions.len() > 150, "seed {seed}");
        assert!(run.mentions.iter().filter(|m| m.2).count() > 30);
    }
}

fn feed(detector: &CrisisDetector, start: DateTime<Utc>, minutes: i64, every: i64, negative: bool) {
    let mut t = 0;
    while t < minutes {
        detector.observe(Mention::new(
            start + Duration::minutes(t),
            ChannelKind::Sms,
            None,
            negative,
            ConversationId::new(),
        ));
        t += every;
    }
}

/// Two hours of one negative and one positive mention every 5 minutes, then
/// 15 minutes with a negative mention every minute (15 against a baseline of 3).
fn five_fold(detector: &CrisisDetector) -> Vec<IncidentEvent> {
    let start = at("2026-03-02T08:00:00Z");
    feed(detector, start, 120, 5, true);
    feed(detector, start, 120, 5, false);
    feed(detector, start + Duration::minutes(120), 15, 1, true);
    detector.evaluate(start + Duration::minutes(135))
}

#[test]
fn the_ratio_and_z_score_tests_are_each_configurable() {
    // A flat baseline (sd 0, floored to 1): z = 12, ratio = 5.
    let both = CrisisDetector::builder().min_volume(5).build().unwrap();
    assert!(matches!(five_fold(&both)[..], [IncidentEvent::Opened(_)]));
    let ratio_only = CrisisDetector::builder()
        .z_score(None)
        .ratio(Some(4.0))
        .min_volume(5)
        .build()
        .unwrap();
    assert_eq!(five_fold(&ratio_only).len(), 1);
    let strict_ratio = CrisisDetector::builder()
        .z_score(None)
        .ratio(Some(6.0))
        .min_volume(5)
        .build()
        .unwrap();
    assert!(five_fold(&strict_ratio).is_empty());
    let strict_z = CrisisDetector::builder()
        .z_score(Some(13.0))
        .ratio(None)
        .min_volume(5)
        .build()
        .unwrap();
    assert!(five_fold(&strict_z).is_empty());
    let high_floor = CrisisDetector::builder().min_volume(16).build().unwrap();
    assert!(five_fold(&high_floor).is_empty());
    // Nothing opens before a baseline exists.
    let cold = CrisisDetector::builder().min_volume(5).build().unwrap();
    feed(&cold, at("2026-03-02T08:00:00Z"), 15, 1, true);
    assert!(cold.evaluate(at("2026-03-02T08:15:00Z")).is_empty());
}

#[test]
fn the_builder_refuses_nonsense() {
    assert!(
        CrisisDetector::builder()
            .z_score(None)
            .ratio(None)
            .build()
            .is_err()
    );
    assert!(
        CrisisDetector::builder()
            .window(Duration::zero())
            .build()
            .is_err()
    );
    assert!(CrisisDetector::builder().min_volume(0).build().is_err());
    assert!(
        CrisisDetector::builder()
            .baseline_windows(1)
            .build()
            .is_err()
    );
    assert!(CrisisDetector::builder().ratio(Some(-1.0)).build().is_err());
}

#[test]
fn closing_waits_for_the_quiet_period() {
    let detector = CrisisDetector::builder()
        .min_volume(5)
        .quiet_period(Duration::minutes(30))
        .build()
        .unwrap();
    assert_eq!(five_fold(&detector).len(), 1);
    // Back to the baseline rate after 10:15.
    let start = at("2026-03-02T10:15:00Z");
    feed(&detector, start, 120, 5, true);
    let mut closed = None;
    for minute in 1..=120 {
        let now = start + Duration::minutes(minute);
        for event in detector.evaluate(now) {
            if let IncidentEvent::Closed(incident) = event {
                closed = incident.closed_at;
            }
        }
    }
    // The window drains by 10:30 (calm from then), closes 30 minutes later.
    // At 10:27 the window (10:12, 10:27] holds the burst's last two minutes
    // and three baseline mentions: 5, the calm threshold (3 + 2 sd). Calm
    // from then, closed 30 minutes later; not a minute earlier.
    assert_eq!(closed, Some(at("2026-03-02T10:57:00Z")));
}

fn sla(name: &str, minutes: i64) -> Arc<dyn EscalationPolicy> {
    Arc::new(
        SlaSet::new(vec![
            SlaPolicy::builder(name)
                .target_all(SlaMetric::FirstResponse, Duration::minutes(minutes))
                .build()
                .unwrap(),
        ])
        .unwrap(),
    )
}

/// The SLA policy applied to a conversation's first response, and its due time.
async fn applied(desk: &Desk, id: ConversationId) -> (String, DateTime<Utc>) {
    let applied: Vec<_> = desk
        .audit_trail(id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::Sla(ev) if ev.kind == SlaEventKind::Applied => Some((ev.policy, ev.due?)),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1, "{applied:?}");
    applied[0].clone()
}

#[tokio::test]
async fn crisis_mode_tightens_slas_holds_public_auto_replies_and_posts_the_holding_statement() {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let mode = CrisisMode::new().with_holding_statement(
        "We know about the billing problem and are fixing it. Updates here soon.",
    );
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(twitter.clone())
        .channel(sms.clone())
        .policy(Arc::new(CrisisPolicy::new(
            sla("standard", 60),
            sla("crisis", 15),
            mode.clone(),
        )))
        .rule(Arc::new(CrisisRule::new(
            AutoAcknowledge::everyone("Sorry to hear that, looking now.", "Thanks, we're on it."),
            mode.clone(),
        )))
        .build()
        .unwrap();
    let ingest = |id: &str, channel: ChannelKind| {
        let event = sample_event(
            channel,
            id,
            &format!("h-{id}"),
            "billing broken",
            clock.now(),
        );
        let desk = desk.clone();
        async move { desk.ingest(event).await.unwrap().conversation_id().unwrap() }
    };

    // Normal: one-hour deadline, public acknowledgement queued.
    let calm = ingest("t1", ChannelKind::Twitter).await;
    let record = desk.conversation(calm).await.unwrap();
    assert_eq!(
        applied(&desk, calm).await,
        ("standard".to_owned(), at("2026-03-02T10:00:00Z"))
    );
    assert_eq!(record.messages.len(), 2);

    // Crisis, switched only through the shared mode (another worker's desk).
    mode.set(true);
    assert!(!desk.crisis_mode());
    let hot = ingest("t2", ChannelKind::Twitter).await;
    let record = desk.conversation(hot).await.unwrap();
    assert_eq!(
        applied(&desk, hot).await,
        ("crisis".to_owned(), at("2026-03-02T09:15:00Z"))
    );
    assert!(record.next_deadline.unwrap() < at("2026-03-02T09:15:00Z"));
    assert_eq!(record.messages.len(), 1, "public auto-reply held back");
    let trail = desk.audit_trail(hot).await.unwrap();
    assert!(trail.iter().any(|e| matches!(&e.kind,
        AuditKind::Note { text } if text.contains("held back (crisis mode)"))));
    // Private acknowledgements still go out.
    let private = ingest("s1", ChannelKind::Sms).await;
    assert_eq!(desk.conversation(private).await.unwrap().messages.len(), 2);

    // Engaging also sets the desk's own flag.
    mode.engage(&desk).await.unwrap();
    assert!(desk.crisis_mode());

    // The holding statement goes out publicly, by a person, through the outbox.
    let posted = mode
        .post_holding_statement(&desk, &[calm, hot], "lead-ann")
        .await
        .unwrap();
    assert_eq!(posted.len(), 2);
    desk.run_outbox_once().await.unwrap();
    let sent = twitter.sent();
    let statements: Vec<_> = sent
        .iter()
        .filter(|m| m.text == mode.holding_statement().unwrap())
        .collect();
    assert_eq!(statements.len(), 2);
    assert!(
        statements
            .iter()
            .all(|m| m.visibility == Visibility::Public)
    );
    let record = desk.conversation(hot).await.unwrap();
    let statement = record.message(posted[1]).unwrap();
    assert_eq!(statement.author, Author::Agent("lead-ann".into()));
    assert_eq!(statement.delivery, Some(DeliveryState::Sent));

    // Standing down restores the standard SLA and public acknowledgements.
    mode.stand_down(&desk).await.unwrap();
    let after = ingest("t3", ChannelKind::Twitter).await;
    let record = desk.conversation(after).await.unwrap();
    assert_eq!(
        applied(&desk, after).await,
        ("standard".to_owned(), at("2026-03-02T10:00:00Z"))
    );
    assert_eq!(record.messages.len(), 2);

    // No statement prepared: a typed error.
    let bare = CrisisMode::new();
    assert!(
        bare.post_holding_statement(&desk, &[calm], "ann")
            .await
            .is_err()
    );
}

/// A memory store whose writes can be made to fail: every write, or
/// (`conversations_down`) only writes to conversations, as when their
/// tables are locked while the small ledger still takes writes.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
    conversations_down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Store for FlakyStore {
    async fn apply(&self, commit: store::Commit) -> Result<(), StoreError> {
        let touches_conversations = !commit.conversations.is_empty() || !commit.audit.is_empty();
        if self.down.load(std::sync::atomic::Ordering::SeqCst)
            || (touches_conversations
                && self
                    .conversations_down
                    .load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(StoreError::Unavailable("database restarting".into()));
        }
        self.inner.apply(commit).await
    }
    async fn seen(&self, channel: ChannelKind, external_id: &str) -> Result<bool, StoreError> {
        self.inner.seen(channel, external_id).await
    }
    async fn customer_by_identity(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<Customer>, StoreError> {
        self.inner.customer_by_identity(channel, handle).await
    }
    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        self.inner.customer(id).await
    }
    async fn locate_message(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<store::MessageLocation>, StoreError> {
        self.inner.locate_message(channel, external_id).await
    }
    async fn conversation_by_thread(
        &self,
        channel: ChannelKind,
        account: &str,
        key: &ThreadKey,
    ) -> Result<Option<ConversationId>, StoreError> {
        self.inner
            .conversation_by_thread(channel, account, key)
            .await
    }
    async fn awaiting_handoff(
        &self,
        customer: CustomerId,
        channel: ChannelKind,
    ) -> Result<Option<ConversationId>, StoreError> {
        self.inner.awaiting_handoff(customer, channel).await
    }
    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        self.inner.conversation(id).await
    }
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        self.inner.list_conversations(filter).await
    }
    async fn audit_trail(&self, id: ConversationId) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_trail(id).await
    }
    async fn consent(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        self.inner.consent(channel, handle).await
    }
    async fn value(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.inner.value(name).await
    }
    async fn outbox_item(&self, id: MessageId) -> Result<Option<store::OutboxItem>, StoreError> {
        self.inner.outbox_item(id).await
    }
    async fn claim_outbox(
        &self,
        claim: &store::Claim,
    ) -> Result<Vec<store::OutboxItem>, StoreError> {
        self.inner.claim_outbox(claim).await
    }
    async fn outbox_in_states(
        &self,
        states: &[DeliveryState],
        limit: usize,
    ) -> Result<Vec<store::OutboxItem>, StoreError> {
        self.inner.outbox_in_states(states, limit).await
    }
    async fn claim_due(&self, claim: &store::Claim) -> Result<Vec<ConversationId>, StoreError> {
        self.inner.claim_due(claim).await
    }
    async fn changes_after(
        &self,
        after: store::ChangePosition,
        limit: usize,
    ) -> Result<store::ChangePage, StoreError> {
        self.inner.changes_after(after, limit).await
    }
    async fn change_head(&self) -> Result<store::ChangePosition, StoreError> {
        self.inner.change_head().await
    }
    async fn announce(&self, presence: &store::Presence) -> Result<(), StoreError> {
        self.inner.announce(presence).await
    }
    async fn prune_changes(&self, keep: usize) -> Result<u64, StoreError> {
        self.inner.prune_changes(keep).await
    }
}

#[tokio::test]
async fn links_that_fail_to_write_are_retried_at_the_next_tick() {
    let clock = FakeClock::new(at("2026-03-02T10:00:00Z"));
    let store = Arc::new(FlakyStore::default());
    let notes = Arc::new(Recorder::default());
    let desk = Desk::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Sms)))
        .notifier(notes.clone())
        .build()
        .unwrap();
    let detector = CrisisDetector::builder()
        .min_volume(5)
        .by_topic(false)
        .build()
        .unwrap();
    // Two and a half quiet hours (counted only), then 12 complaints in 12 minutes.
    feed(&detector, at("2026-03-02T07:30:00Z"), 150, 5, true);
    feed(&detector, at("2026-03-02T07:30:00Z"), 150, 5, false);
    let mut burst = Vec::new();
    for i in 0..12 {
        let when = at("2026-03-02T10:00:00Z") + Duration::minutes(i);
        clock.set(when);
        let event = sample_event(
            ChannelKind::Sms,
            &format!("SM{i}"),
            &format!("+1415555{i:04}"),
            "broken",
            when,
        );
        let id = desk.ingest(event).await.unwrap().conversation_id().unwrap();
        detector.observe(Mention::new(when, ChannelKind::Sms, None, true, id));
        burst.push(id);
    }
    clock.set(at("2026-03-02T10:12:00Z"));
    // The store takes no writes: the detector cannot record a decision
    // every worker would share, so it decides nothing yet.
    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(detector.tick(&desk).await.is_err());
    assert!(notes.0.lock().unwrap().is_empty());
    assert!(detector.open_incidents().is_empty());
    // The ledger is back but conversations still refuse writes: the
    // incident opens and the team hears at once; the links wait.
    store.down.store(false, std::sync::atomic::Ordering::SeqCst);
    store
        .conversations_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    clock.set(at("2026-03-02T10:12:30Z"));
    assert!(detector.tick(&desk).await.is_err());
    assert_eq!(notes.0.lock().unwrap().len(), 1);
    let incident = detector.open_incidents().pop().expect("opened");
    assert_eq!(incident.conversations, burst);
    store
        .conversations_down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    clock.set(at("2026-03-02T10:13:00Z"));
    detector.tick(&desk).await.unwrap();
    assert_eq!(notes.0.lock().unwrap().len(), 1, "notified once");
    for id in &burst {
        let record = desk.conversation(*id).await.unwrap();
        assert!(record.tags.contains(&incident.tag()));
        let spikes = desk
            .audit_trail(*id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(&e.kind, AuditKind::Escalated(x) if x.reason.code() == "spike"))
            .count();
        assert_eq!(spikes, 1);
    }
    // Nothing left to link: another tick writes nothing new.
    clock.set(at("2026-03-02T10:14:00Z"));
    detector.tick(&desk).await.unwrap();
    let spikes = desk
        .audit_trail(burst[0])
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(&e.kind, AuditKind::Escalated(_)))
        .count();
    assert_eq!(spikes, 1);
}

/// The shared detector state in the store is unreadable (a hand edit, a
/// version this one does not know): `tick` answers with a typed error, does
/// not overwrite what is stored, and keeps what it counted for a later tick.
#[tokio::test]
async fn a_corrupt_stored_state_is_refused_and_left_as_it_is() {
    use carekit_insight::crisis::STATE_KEY;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let clock = FakeClock::new(at("2026-03-02T10:00:00Z"));
    let desk = Desk::builder()
        .store(store.clone())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let detector = CrisisDetector::builder()
        .min_volume(5)
        .by_topic(false)
        .build()
        .unwrap();
    store.save_value(STATE_KEY, "{not json").await.unwrap();
    feed(&detector, at("2026-03-02T07:30:00Z"), 150, 5, false);
    let err = detector.tick(&desk).await.unwrap_err();
    assert!(
        matches!(
            &err,
            carekit_insight::crisis::CrisisError::Store(StoreError::Corrupt(m)) if m.contains(STATE_KEY)
        ),
        "{err}"
    );
    assert_eq!(
        store.load_value(STATE_KEY).await.unwrap().as_deref(),
        Some("{not json")
    );
    // Mended (here: removed by an operator), the next tick shares the counts.
    store.save_value(STATE_KEY, "{}").await.unwrap();
    detector.tick(&desk).await.unwrap();
    let stored = store.load_value(STATE_KEY).await.unwrap().unwrap();
    assert!(stored.contains("\"counts\""), "{stored:.200}");
}
