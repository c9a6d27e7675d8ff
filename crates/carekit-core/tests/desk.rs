//! The desk engine end to end over the in-memory store.

use async_trait::async_trait;
use carekit_core::desk::{AutoAcknowledge, HandoffRequest, HideRequest, ReplyRequest};
use carekit_core::template::Template;
use carekit_core::*;
use carekit_testing::{RecordingChannel, at, sample_event};
use std::sync::Arc;
use std::time::Duration;

fn clock() -> FakeClock {
    FakeClock::new(at("2026-03-02T09:00:00Z"))
}

struct Setup {
    desk: Desk,
    clock: FakeClock,
    twitter: Arc<RecordingChannel>,
    sms: Arc<RecordingChannel>,
    facebook: Arc<RecordingChannel>,
}

fn setup(allow_hide: bool) -> Setup {
    let clock = clock();
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let facebook = Arc::new(RecordingChannel::new(ChannelKind::Facebook));
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(twitter.clone())
        .channel(sms.clone())
        .channel(facebook.clone())
        .allow_hide(allow_hide)
        .outbox(desk::OutboxConfig::default().with_max_attempts(3))
        .build()
        .unwrap();
    Setup {
        desk,
        clock,
        twitter,
        sms,
        facebook,
    }
}

/// The customer's first tweet and an agent's reply to it, queued.
async fn tweet_and_reply(desk: &Desk, text: &str) -> (ConversationId, MessageId) {
    let id = desk
        .ingest(tweet("1", "u1", "help", "1"))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    let msg = desk
        .reply(id, ReplyRequest::agent("ann", text))
        .await
        .unwrap();
    (id, msg)
}

fn tweet(id: &str, user: &str, text: &str, conversation: &str) -> InboundEvent {
    sample_event(
        ChannelKind::Twitter,
        id,
        user,
        text,
        at("2026-03-02T09:00:00Z"),
    )
    .with_account("brand")
    .with_thread_key(conversation)
}

#[tokio::test]
async fn the_same_event_twice_stores_one_message() {
    let s = setup(false);
    let first = s
        .desk
        .ingest(tweet("100", "u1", "my order is late", "100"))
        .await
        .unwrap();
    let again = s
        .desk
        .ingest(tweet("100", "u1", "my order is late", "100"))
        .await
        .unwrap();
    assert!(!first.is_duplicate());
    assert!(again.is_duplicate());
    let all = s
        .desk
        .conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].messages.len(), 1);
}

#[tokio::test]
async fn reply_chains_stay_together_and_new_topics_open_new_conversations() {
    let s = setup(false);
    let a = s
        .desk
        .ingest(tweet("1", "u1", "app crashes on login", "1"))
        .await
        .unwrap();
    // Replying to tweet 1 (different platform thread key on purpose: the parent wins).
    let b = s
        .desk
        .ingest(tweet("2", "u1", "still crashing", "zzz").with_parent("1"))
        .await
        .unwrap();
    // Same platform thread, no parent given.
    let c = s
        .desk
        .ingest(tweet("3", "u1", "hello?", "1"))
        .await
        .unwrap();
    // A brand-new tweet from the same customer: a new topic.
    let d = s
        .desk
        .ingest(tweet("4", "u1", "also, billing question", "4"))
        .await
        .unwrap();
    let id = a.conversation_id().unwrap();
    assert_eq!(b.conversation_id(), Some(id));
    assert_eq!(c.conversation_id(), Some(id));
    assert_ne!(d.conversation_id(), Some(id));
    match &b {
        desk::IngestOutcome::Ingested { decision, .. } => {
            assert_eq!(decision.rule, ThreadRule::ReplyTo { parent: "1".into() });
            assert!(decision.explanation.contains("replies to 1"));
        }
        other => panic!("unexpected {other:?}"),
    }
    match &c {
        desk::IngestOutcome::Ingested { decision, .. } => {
            assert!(matches!(decision.rule, ThreadRule::ThreadKey { .. }))
        }
        other => panic!("unexpected {other:?}"),
    }
    let conversation = s.desk.conversation(id).await.unwrap();
    assert_eq!(conversation.messages.len(), 3);
    // Both customers are one customer record.
    let other = s
        .desk
        .conversation(d.conversation_id().unwrap())
        .await
        .unwrap();
    assert_eq!(other.customer.id, conversation.customer.id);
}

#[tokio::test]
async fn a_new_message_reopens_a_resolved_conversation_but_not_a_closed_one() {
    let s = setup(false);
    let a = s
        .desk
        .ingest(tweet("1", "u1", "refund please", "1"))
        .await
        .unwrap();
    let id = a.conversation_id().unwrap();
    s.desk
        .resolve(id, Actor::Agent("ann".into()))
        .await
        .unwrap();
    assert_eq!(
        s.desk.conversation(id).await.unwrap().status,
        Status::Resolved
    );
    let b = s
        .desk
        .ingest(tweet("2", "u1", "it did not arrive", "1"))
        .await
        .unwrap();
    assert_eq!(b.conversation_id(), Some(id));
    let record = s.desk.conversation(id).await.unwrap();
    assert_eq!(record.status, Status::Open);
    match b {
        desk::IngestOutcome::Ingested { decision, .. } => assert!(decision.reopened),
        other => panic!("unexpected {other:?}"),
    }
    s.desk
        .set_status(id, Status::Closed, Actor::System)
        .await
        .unwrap();
    let c = s
        .desk
        .ingest(tweet("3", "u1", "hello again", "1"))
        .await
        .unwrap();
    assert_ne!(c.conversation_id(), Some(id));
    let trail = s.desk.audit_trail(id).await.unwrap();
    assert!(trail.iter().any(|e| matches!(
        e.kind,
        AuditKind::StatusChanged {
            from: Status::Resolved,
            to: Status::Open,
            by: Actor::Customer
        }
    )));
}

#[tokio::test]
async fn acknowledgement_is_queued_sent_and_counts_as_first_response() {
    let clock = clock();
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(twitter.clone())
        .rule(Arc::new(AutoAcknowledge::everyone(
            "Sorry to hear that, we're on it.",
            "Thanks, looking now.",
        )))
        .build()
        .unwrap();
    let out = desk.ingest(tweet("1", "u1", "broken", "1")).await.unwrap();
    let id = out.conversation_id().unwrap();
    // A second message in the same conversation is not acknowledged again.
    desk.ingest(tweet("2", "u1", "??", "1")).await.unwrap();
    clock.advance(chrono::Duration::minutes(3));
    let report = desk.run_outbox_once().await.unwrap();
    assert_eq!(report.sent, 1);
    let sent = twitter.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].visibility, Visibility::Public);
    assert_eq!(
        sent[0].in_reply_to.as_deref(),
        Some("1"),
        "answers the tweet that opened the conversation"
    );
    let record = desk.conversation(id).await.unwrap();
    assert_eq!(record.first_response_at, Some(at("2026-03-02T09:03:00Z")));
    assert_eq!(
        record.first_human_response_at, None,
        "a bot reply is not a human response"
    );
    let reply = record
        .messages
        .iter()
        .find(|m| m.direction == Direction::Outbound)
        .unwrap();
    assert_eq!(reply.delivery, Some(DeliveryState::Sent));
    assert_eq!(reply.external_id.as_deref(), Some("twitter-out-1"));
}

#[tokio::test]
async fn handoff_links_a_private_conversation_that_the_customer_continues() {
    let s = setup(false);
    let out = s
        .desk
        .ingest(tweet("1", "u1", "you charged me twice", "1"))
        .await
        .unwrap();
    let public_id = out.conversation_id().unwrap();
    let handoff = s
        .desk
        .handoff(
            public_id,
            HandoffRequest::new(
                ChannelKind::Sms,
                "So sorry! Can we text you to sort it out?",
                Actor::Agent("ann".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+14155550100"))
            .with_private_text("Hi, this is Ann from the brand about the double charge."),
        )
        .await
        .unwrap();
    let public = s.desk.conversation(public_id).await.unwrap();
    let private = s
        .desk
        .conversation(handoff.private_conversation)
        .await
        .unwrap();
    assert_eq!(public.linked, vec![private.id]);
    assert_eq!(private.linked, vec![public.id]);
    assert_eq!(public.case_id, private.case_id);
    assert_eq!(private.customer.id, public.customer.id);
    assert!(private.customer.identity_on(ChannelKind::Sms).is_some());
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.twitter.sent().len(), 1);
    assert_eq!(s.sms.sent().len(), 1);
    assert_eq!(
        s.sms.sent()[0].recipient.as_ref().unwrap().handle,
        "+14155550100"
    );
    // The customer answers by SMS: it lands in the linked private conversation.
    let sms = sample_event(
        ChannelKind::Sms,
        "SM1",
        "+14155550100",
        "yes please",
        at("2026-03-02T09:10:00Z"),
    )
    .with_thread_key("+15005550006:+14155550100");
    let answered = s.desk.ingest(sms).await.unwrap();
    assert_eq!(answered.conversation_id(), Some(private.id));
    match answered {
        desk::IngestOutcome::Ingested { decision, .. } => {
            assert_eq!(decision.rule, ThreadRule::Handoff)
        }
        other => panic!("unexpected {other:?}"),
    }
    let private = s.desk.conversation(private.id).await.unwrap();
    assert_eq!(private.status, Status::Open);
    assert!(!private.awaiting_customer);
    // The next SMS threads by key.
    let next = sample_event(
        ChannelKind::Sms,
        "SM2",
        "+14155550100",
        "order 42",
        at("2026-03-02T09:11:00Z"),
    )
    .with_thread_key("+15005550006:+14155550100");
    assert_eq!(
        s.desk.ingest(next).await.unwrap().conversation_id(),
        Some(private.id)
    );
}

#[tokio::test]
async fn facebook_handoff_uses_a_private_reply_to_the_comment() {
    let s = setup(false);
    let comment = sample_event(
        ChannelKind::Facebook,
        "c_1",
        "fbuser",
        "terrible service",
        at("2026-03-02T09:00:00Z"),
    )
    .with_account("page")
    .with_thread_key("post_1");
    let public_id = s
        .desk
        .ingest(comment)
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    s.desk
        .handoff(
            public_id,
            HandoffRequest::new(
                ChannelKind::Facebook,
                "We've sent you a private message.",
                Actor::Agent("ann".into()),
            )
            .with_private_text("Hi, could you share your order number?"),
        )
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    let sent = s.facebook.sent();
    assert_eq!(sent.len(), 2);
    let private = sent
        .iter()
        .find(|m| m.visibility == Visibility::Private)
        .unwrap();
    assert_eq!(private.reply_privately_to.as_deref(), Some("c_1"));
}

#[tokio::test]
async fn hiding_is_off_by_default_and_audited_when_enabled() {
    let s = setup(false);
    let c = sample_event(
        ChannelKind::Facebook,
        "c_9",
        "troll",
        "spam spam",
        at("2026-03-02T09:00:00Z"),
    );
    let out = s.desk.ingest(c.clone()).await.unwrap();
    let (id, message) = match out {
        desk::IngestOutcome::Ingested {
            conversation_id,
            message_id,
            ..
        } => (conversation_id, message_id),
        other => panic!("unexpected {other:?}"),
    };
    let refused = s
        .desk
        .hide(
            id,
            message,
            HideRequest::new(Actor::Agent("ann".into()), "spam"),
        )
        .await;
    assert!(matches!(refused, Err(DeskError::HideDisabled)));
    assert!(s.facebook.hidden().is_empty());

    let s = setup(true);
    let out = s.desk.ingest(c).await.unwrap();
    let (id, message) = match out {
        desk::IngestOutcome::Ingested {
            conversation_id,
            message_id,
            ..
        } => (conversation_id, message_id),
        other => panic!("unexpected {other:?}"),
    };
    let no_reason = s
        .desk
        .hide(
            id,
            message,
            HideRequest::new(Actor::Agent("ann".into()), "  "),
        )
        .await;
    assert!(matches!(no_reason, Err(DeskError::InvalidRequest(_))));
    s.desk
        .hide(
            id,
            message,
            HideRequest::new(Actor::Agent("ann".into()), "repeated spam links"),
        )
        .await
        .unwrap();
    assert_eq!(s.facebook.hidden(), vec![("c_9".to_owned(), true)]);
    let trail = s.desk.audit_trail(id).await.unwrap();
    let hidden = trail
        .iter()
        .find_map(|e| match &e.kind {
            AuditKind::Hidden {
                by, reason, hidden, ..
            } => Some((by.clone(), reason.clone(), *hidden)),
            _ => None,
        })
        .expect("hide recorded");
    assert_eq!(
        hidden,
        (
            Actor::Agent("ann".into()),
            "repeated spam links".into(),
            true
        )
    );
    let record = s.desk.conversation(id).await.unwrap();
    assert!(
        record.messages[0].hidden,
        "hidden, not deleted: the message is still there"
    );
    assert_eq!(record.messages[0].text, "spam spam");
    // X cannot hide: refused with a typed error.
    let t = s.desk.ingest(tweet("7", "u2", "bad", "7")).await.unwrap();
    let (tid, tmsg) = match t {
        desk::IngestOutcome::Ingested {
            conversation_id,
            message_id,
            ..
        } => (conversation_id, message_id),
        other => panic!("unexpected {other:?}"),
    };
    let err = s
        .desk
        .hide(tid, tmsg, HideRequest::new(Actor::Agent("ann".into()), "x"))
        .await;
    assert!(matches!(
        err,
        Err(DeskError::Unsupported {
            channel: ChannelKind::Twitter,
            ..
        })
    ));
}

#[tokio::test]
async fn bad_input_gets_typed_errors_and_loses_nothing() {
    let s = setup(false);
    s.desk.ingest(tweet("1", "u1", "first", "1")).await.unwrap();
    let empty = s.desk.ingest(tweet("  ", "u1", "x", "1")).await;
    assert!(matches!(empty, Err(DeskError::InvalidEvent(_))));
    let no_author = s.desk.ingest(tweet("2", "", "x", "1")).await;
    assert!(matches!(no_author, Err(DeskError::InvalidEvent(_))));
    let huge = s
        .desk
        .ingest(tweet("3", "u1", &"x".repeat(300 * 1024), "1"))
        .await;
    assert!(matches!(huge, Err(DeskError::InvalidEvent(_))));
    let unknown = s
        .desk
        .reply(ConversationId::new(), ReplyRequest::agent("ann", "hi"))
        .await;
    assert!(matches!(unknown, Err(DeskError::UnknownConversation(_))));
    let all = s
        .desk
        .conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].messages.len(), 1);
    assert_eq!(all[0].messages[0].text, "first");
}

#[tokio::test]
async fn retryable_failures_are_rescheduled_then_dead_lettered_and_a_manual_retry_resends() {
    let s = setup(false);
    let (id, msg) = tweet_and_reply(&s.desk, "On it!").await;
    // A 429, then 503s: the 429 does not spend an attempt, the 503s do.
    s.twitter.fail_with(
        std::iter::once(ChannelError::RateLimited {
            retry_after: Duration::from_secs(60),
        })
        .chain((0..4).map(|_| ChannelError::Server { status: 503 })),
    );
    // Attempt 1: rate limited → rescheduled at least 60 s out.
    let r = s.desk.run_outbox_once().await.unwrap();
    assert_eq!(r.retried, 1);
    assert_eq!(
        s.desk.run_outbox_once().await.unwrap().claimed,
        0,
        "not due before retry_after"
    );
    s.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(s.desk.run_outbox_once().await.unwrap().retried, 1);
    s.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(s.desk.run_outbox_once().await.unwrap().retried, 1);
    s.clock.advance(chrono::Duration::seconds(61));
    // Attempt 3 is the last allowed by max_attempts(3).
    assert_eq!(s.desk.run_outbox_once().await.unwrap().dead_lettered, 1);
    let record = s.desk.conversation(id).await.unwrap();
    let reply = record.message(msg).unwrap();
    assert_eq!(reply.delivery, Some(DeliveryState::DeadLettered));
    assert!(
        reply
            .delivery_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts")
    );
    assert_eq!(record.first_response_at, None);
    // The manual retry re-sends: one scripted failure remains, so it fails
    // once more, then goes through.
    s.desk.retry_message(msg).await.unwrap();
    assert_eq!(s.desk.run_outbox_once().await.unwrap().retried, 1);
    s.clock.advance(chrono::Duration::seconds(61));
    let r = s.desk.run_outbox_once().await.unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(s.twitter.sent().len(), 1, "sent exactly once");
    assert_eq!(s.twitter.attempts(), 6);
}

#[tokio::test]
async fn credential_failures_pause_the_channel_without_losing_sends() {
    let s = setup(false);
    tweet_and_reply(&s.desk, "hello").await;
    s.twitter.fail_with([ChannelError::Unauthorized {
        reason: "token revoked; reconnect the account".into(),
    }]);
    let r = s.desk.run_outbox_once().await.unwrap();
    assert_eq!(r.deferred, 1);
    assert!(matches!(
        s.desk.channel_health()[0],
        (ChannelKind::Twitter, desk::ChannelHealth::Degraded { .. })
    ));
    assert_eq!(s.desk.run_outbox_once().await.unwrap().claimed, 0);
    s.desk
        .reset_channel_health(ChannelKind::Twitter)
        .await
        .unwrap();
    s.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(s.desk.run_outbox_once().await.unwrap().sent, 1);
    assert!(s.desk.channel_health().is_empty());
}

#[tokio::test]
async fn a_crash_mid_send_never_posts_twice_in_public() {
    // Simulate a worker that claimed and died: the item is `sending` with a lapsed lease.
    let s = setup(false);
    let (id, msg) = tweet_and_reply(&s.desk, "hello").await;
    let claim = store::Claim {
        worker: "dead-worker".into(),
        now: s.clock.now(),
        lease: chrono::Duration::seconds(30),
        limit: 10,
    };
    assert_eq!(s.desk.store().claim_outbox(&claim).await.unwrap().len(), 1);
    // It recorded its attempt (as the engine does right before calling the
    // platform), then died.
    let mut item = s.desk.store().outbox_item(msg).await.unwrap().unwrap();
    item.state = DeliveryState::Sending;
    let mut commit = Commit::new();
    commit.outbox.push(item);
    s.desk.store().apply(commit).await.unwrap();
    assert_eq!(
        s.desk.run_outbox_once().await.unwrap().claimed,
        0,
        "leased to the dead worker"
    );
    s.clock.advance(chrono::Duration::seconds(31));
    let r = s.desk.run_outbox_once().await.unwrap();
    assert_eq!(r.dead_lettered, 1);
    assert!(s.twitter.sent().is_empty(), "not re-posted blindly");
    let record = s.desk.conversation(id).await.unwrap();
    assert!(
        record
            .message(msg)
            .unwrap()
            .delivery_error
            .as_deref()
            .unwrap()
            .contains("unknown")
    );
}

#[tokio::test]
async fn a_claim_that_never_reached_the_platform_is_sent_after_the_lease() {
    // A worker claimed a batch and died before attempting this item: it is
    // still `queued`, so the next worker sends it (no review needed).
    let s = setup(false);
    let (_, msg) = tweet_and_reply(&s.desk, "hello").await;
    let claim = store::Claim {
        worker: "dead-worker".into(),
        now: s.clock.now(),
        lease: chrono::Duration::seconds(30),
        limit: 10,
    };
    assert_eq!(s.desk.store().claim_outbox(&claim).await.unwrap().len(), 1);
    let held = s.desk.store().outbox_item(msg).await.unwrap().unwrap();
    assert_eq!(held.state, DeliveryState::Queued);
    assert_eq!(s.desk.run_outbox_once().await.unwrap().claimed, 0);
    s.clock.advance(chrono::Duration::seconds(31));
    let r = s.desk.run_outbox_once().await.unwrap();
    assert_eq!((r.sent, r.dead_lettered), (1, 0));
    assert_eq!(s.twitter.sent().len(), 1);
}

#[tokio::test]
async fn opted_out_customers_are_never_messaged() {
    let s = setup(false);
    let stop = sample_event(
        ChannelKind::Sms,
        "SM9:consent",
        "+14155550100",
        "STOP",
        at("2026-03-02T09:00:00Z"),
    )
    .with_kind(EventKind::Consent { opted_in: false });
    assert!(matches!(
        s.desk.ingest(stop).await.unwrap(),
        desk::IngestOutcome::Consent { opted_in: false }
    ));
    let id = s
        .desk
        .ingest(tweet("1", "u1", "help", "1"))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    let err = s
        .desk
        .handoff(
            id,
            HandoffRequest::new(
                ChannelKind::Sms,
                "Can we text you?",
                Actor::Agent("ann".into()),
            )
            .with_recipient(Identity::new(ChannelKind::Sms, "+14155550100")),
        )
        .await;
    assert!(matches!(err, Err(DeskError::OptedOut(ChannelKind::Sms))));
    assert!(s.sms.sent().is_empty());
}

#[tokio::test]
async fn delivery_updates_apply_in_order_and_ignore_stale_ones() {
    let s = setup(false);
    let (id, msg) = tweet_and_reply(&s.desk, "hello").await;
    s.desk.run_outbox_once().await.unwrap();
    let update = |ext: &str, state| {
        sample_event(
            ChannelKind::Twitter,
            ext,
            "u1",
            "",
            at("2026-03-02T09:05:00Z"),
        )
        .with_kind(EventKind::Delivery {
            provider_id: "twitter-out-1".into(),
            state,
            error: None,
        })
    };
    s.desk
        .ingest(update("d1", DeliveryState::Read))
        .await
        .unwrap();
    s.desk
        .ingest(update("d2", DeliveryState::Delivered))
        .await
        .unwrap();
    let record = s.desk.conversation(id).await.unwrap();
    assert_eq!(
        record.message(msg).unwrap().delivery,
        Some(DeliveryState::Read)
    );
}

mockall::mock! {
    pub Chan {}
    #[async_trait]
    impl Channel for Chan {
        fn kind(&self) -> ChannelKind;
        fn account(&self) -> Option<String>;
        fn capabilities(&self) -> Capabilities;
        async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError>;
        async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError>;
        async fn delete(&self, external_id: &str) -> Result<(), ChannelError>;
        async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError>;
    }
}

fn mock_channel() -> MockChan {
    let mut mock = MockChan::new();
    mock.expect_kind().return_const(ChannelKind::Twitter);
    mock.expect_account().return_const(None::<String>);
    mock.expect_capabilities().returning(|| {
        Capabilities::new()
            .with_public_reply(true)
            .with_private_message(true)
            .with_max_length(Some(280))
    });
    mock
}

#[tokio::test(start_paused = true)]
async fn retrying_waits_exactly_retry_after_on_a_paused_clock() {
    let mut mock = mock_channel();
    let mut seq = mockall::Sequence::new();
    mock.expect_send()
        .times(5)
        .in_sequence(&mut seq)
        .returning(|_| {
            Err(ChannelError::RateLimited {
                retry_after: Duration::from_secs(900),
            })
        });
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Delivery::sent("tweet-9")));
    let channel = Retrying::new(mock, RetryPolicy::default().with_max_retries(5));
    let started = tokio::time::Instant::now();
    let delivery = channel
        .send(&OutboundMessage::new(
            ChannelKind::Twitter,
            Visibility::Public,
            "hi",
        ))
        .await
        .unwrap();
    assert_eq!(delivery.provider_id, "tweet-9");
    assert_eq!(started.elapsed(), Duration::from_secs(5 * 900));
}

#[tokio::test(start_paused = true)]
async fn retrying_gives_up_on_non_retryable_errors_and_too_long_waits() {
    let mut mock = mock_channel();
    mock.expect_send().times(1).returning(|_| {
        Err(ChannelError::Rejected {
            code: Some("186".into()),
            reason: "too long".into(),
        })
    });
    let channel = Retrying::new(mock, RetryPolicy::default());
    let msg = OutboundMessage::new(ChannelKind::Twitter, Visibility::Public, "hi");
    assert!(matches!(
        channel.send(&msg).await,
        Err(ChannelError::Rejected { .. })
    ));

    let mut mock = mock_channel();
    mock.expect_send().times(1).returning(|_| {
        Err(ChannelError::RateLimited {
            retry_after: Duration::from_secs(3600),
        })
    });
    let channel = Retrying::new(mock, RetryPolicy::default());
    let started = tokio::time::Instant::now();
    assert!(matches!(
        channel.send(&msg).await,
        Err(ChannelError::RateLimited { .. })
    ));
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "a wait longer than max_retry_after goes back to the outbox"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limited_wrapper_holds_sends_after_a_429() {
    let mut mock = mock_channel();
    let mut seq = mockall::Sequence::new();
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Err(ChannelError::RateLimited {
                retry_after: Duration::from_secs(120),
            })
        });
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Delivery::sent("ok")));
    let clock = clock();
    let channel =
        RateLimited::new(mock, 100, Duration::from_secs(1)).with_clock(Arc::new(clock.clone()));
    let msg = OutboundMessage::new(ChannelKind::Twitter, Visibility::Public, "hi");
    assert!(channel.send(&msg).await.is_err());
    // Held without calling the platform, and without blocking the caller.
    clock.advance(chrono::Duration::seconds(100));
    let started = tokio::time::Instant::now();
    assert!(matches!(
        channel.send(&msg).await,
        Err(ChannelError::RateLimited { retry_after }) if retry_after == Duration::from_secs(20)
    ));
    assert_eq!(started.elapsed(), Duration::ZERO);
    clock.advance(chrono::Duration::seconds(20));
    channel.send(&msg).await.unwrap();
}

#[tokio::test]
async fn a_desk_with_a_mocked_channel_sends_through_the_trait_seam() {
    let mut mock = mock_channel();
    mock.expect_send()
        .withf(|m: &OutboundMessage| {
            m.visibility == Visibility::Public && m.in_reply_to.as_deref() == Some("1")
        })
        .times(1)
        .returning(|_| Ok(Delivery::sent("reply-1")));
    let desk = Desk::builder()
        .clock(Arc::new(clock()))
        .channel(Arc::new(mock))
        .build()
        .unwrap();
    let (id, _) = tweet_and_reply(&desk, "Sorry! Looking into it.").await;
    assert_eq!(desk.run_outbox_once().await.unwrap().sent, 1);
    let record = desk.conversation(id).await.unwrap();
    assert!(record.first_human_response_at.is_some());
}

#[tokio::test]
async fn concurrent_ingest_of_one_thread_makes_one_conversation() {
    let s = setup(false);
    let mut tasks = Vec::new();
    for i in 0..50 {
        for _copy in 0..2 {
            let desk = s.desk.clone();
            tasks.push(tokio::spawn(async move {
                desk.ingest(tweet(&format!("m{i}"), "u1", "again", "thread-1"))
                    .await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = s
        .desk
        .conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].messages.len(), 50);
}

struct SurveyOnResolve;

impl desk::Rule for SurveyOnResolve {
    fn name(&self) -> &str {
        "survey"
    }
    fn on_inbound(&self, _: &dyn Conversation, _: &desk::RuleContext<'_>) -> Vec<desk::Action> {
        Vec::new()
    }
    fn on_status(
        &self,
        conversation: &dyn Conversation,
        change: &desk::StatusChange,
    ) -> Vec<desk::Action> {
        if change.to == Status::Resolved && conversation.visibility() == Visibility::Private {
            vec![desk::Action::Reply {
                text: "How did we do? Reply 1-5.".into(),
                visibility: None,
            }]
        } else {
            Vec::new()
        }
    }
}

#[tokio::test]
async fn status_rules_run_in_the_same_commit_as_the_change() {
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let desk = Desk::builder()
        .clock(Arc::new(clock()))
        .channel(sms.clone())
        .channel(twitter.clone())
        .rule(Arc::new(SurveyOnResolve))
        .build()
        .unwrap();
    let private = sample_event(
        ChannelKind::Sms,
        "SM1",
        "+14155550100",
        "help",
        at("2026-03-02T09:00:00Z"),
    );
    let id = desk
        .ingest(private)
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    let public = desk
        .ingest(tweet("1", "u1", "help", "1"))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    desk.resolve(id, Actor::Agent("ann".into())).await.unwrap();
    desk.resolve(public, Actor::Agent("ann".into()))
        .await
        .unwrap();
    desk.run_outbox_once().await.unwrap();
    assert_eq!(sms.sent().len(), 1);
    assert!(sms.sent()[0].text.contains("How did we do"));
    assert!(twitter.sent().is_empty(), "never surveyed in public");
}

struct FixedMood(f32);

#[async_trait]
impl Classifier for FixedMood {
    async fn classify(&self, _: &str) -> Classification {
        Classification {
            sentiment: Some(self.0),
            ..Classification::default()
        }
    }
}

#[tokio::test]
async fn praise_is_thanked_not_apologised_for() {
    for (mood, expected) in [(0.9, "Thank you!"), (-0.7, "So sorry.")] {
        let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
        let desk = Desk::builder()
            .clock(Arc::new(clock()))
            .channel(twitter.clone())
            .classifier(Arc::new(FixedMood(mood)))
            .rule(Arc::new(
                AutoAcknowledge::builder()
                    .complaint(Template::literal("So sorry."), Template::literal("Sorry."))
                    .praise(Template::literal("Thank you!"), Template::literal(""))
                    .praise_at(0.5)
                    .build(),
            ))
            .build()
            .unwrap();
        desk.ingest(tweet("1", "u1", "whatever", "1"))
            .await
            .unwrap();
        desk.run_outbox_once().await.unwrap();
        assert_eq!(twitter.sent()[0].text, expected);
    }
}

#[tokio::test]
async fn an_automatic_acknowledgement_is_not_an_answer() {
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let desk = Desk::builder()
        .clock(Arc::new(clock()))
        .channel(twitter.clone())
        .rule(Arc::new(AutoAcknowledge::everyone("So sorry.", "Sorry.")))
        .build()
        .unwrap();
    let mut id = None;
    for n in ["1", "2", "3"] {
        id = desk
            .ingest(tweet(n, "u1", "still waiting", "t1"))
            .await
            .unwrap()
            .conversation_id();
        desk.run_outbox_once().await.unwrap();
    }
    let record = desk.conversation(id.unwrap()).await.unwrap();
    assert_eq!(twitter.sent().len(), 1, "acknowledged once");
    assert_eq!(record.unanswered_inbound(), 3);
    // A person's answer ends the run.
    desk.reply(
        record.id,
        ReplyRequest::agent("alex", "Found it, on its way."),
    )
    .await
    .unwrap();
    let record = desk.conversation(record.id).await.unwrap();
    assert_eq!(record.unanswered_inbound(), 0);
}

#[tokio::test]
async fn an_echo_never_changes_whose_conversation_it_is() {
    let s = setup(false);
    let id = s
        .desk
        .ingest(tweet("1", "u-cust", "help", "1"))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    // The brand's own reply, seen coming back from the platform, authored by
    // the brand account, five minutes later.
    s.clock.advance(chrono::Duration::minutes(5));
    let echo = sample_event(
        ChannelKind::Twitter,
        "2",
        "acme-brand",
        "On it!",
        at("2026-03-02T09:05:00Z"),
    )
    .with_kind(EventKind::Echo)
    .with_parent("1");
    assert_eq!(
        s.desk.ingest(echo).await.unwrap().conversation_id(),
        Some(id)
    );
    let record = s.desk.conversation(id).await.unwrap();
    assert_eq!(record.customer.identities[0].handle, "u-cust");
    assert_eq!(record.first_response_at, Some(at("2026-03-02T09:05:00Z")));
    assert!(
        s.desk
            .store()
            .customer_by_identity(ChannelKind::Twitter, "acme-brand")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_private_reply_carries_the_time_of_the_comment_it_answers() {
    let s = setup(false);
    let comment = sample_event(
        ChannelKind::Facebook,
        "c_1",
        "fbuser",
        "bad",
        at("2026-03-01T09:00:00Z"),
    )
    .with_thread_key("post_1");
    let id = s
        .desk
        .ingest(comment)
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    s.desk
        .handoff(
            id,
            HandoffRequest::new(
                ChannelKind::Facebook,
                "We sent you a message.",
                Actor::Agent("ann".into()),
            )
            .with_private_text("Hi, could you share your order number?"),
        )
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    let private = s
        .facebook
        .sent()
        .into_iter()
        .find(|m| m.visibility == Visibility::Private)
        .unwrap();
    assert_eq!(
        private.context.in_reply_to_at,
        Some(at("2026-03-01T09:00:00Z"))
    );
}

/// A desk over one mocked X channel, with one public reply queued.
async fn one_public_reply(mock: MockChan) -> (Desk, FakeClock, ConversationId, MessageId) {
    let clock = clock();
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(mock))
        .build()
        .unwrap();
    let (id, msg) = tweet_and_reply(&desk, "on it").await;
    (desk, clock, id, msg)
}

#[tokio::test]
async fn an_answer_lost_after_the_platform_took_the_reply_is_reconciled_not_reposted() {
    let mut mock = mock_channel();
    // The platform took it, then the connection broke (502 on the way back).
    mock.expect_send()
        .times(1)
        .returning(|_| Err(ChannelError::Server { status: 502 }));
    mock.expect_find_sent()
        .times(1)
        .returning(|_| Ok(Some(Delivery::sent("tweet-77"))));
    let (desk, clock, id, msg) = one_public_reply(mock).await;
    assert_eq!(desk.run_outbox_once().await.unwrap().retried, 1);
    let held = desk.store().outbox_item(msg).await.unwrap().unwrap();
    assert_eq!(held.state, DeliveryState::Sending, "outcome unknown");
    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(desk.run_outbox_once().await.unwrap().sent, 1);
    let record = desk.conversation(id).await.unwrap();
    let reply = record.message(msg).unwrap();
    assert_eq!(reply.external_id.as_deref(), Some("tweet-77"));
    assert_eq!(reply.delivery, Some(DeliveryState::Sent));
}

#[tokio::test]
async fn a_503_is_retried_without_asking_the_platform() {
    let mut mock = mock_channel();
    let mut seq = mockall::Sequence::new();
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(ChannelError::Server { status: 503 }));
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Delivery::sent("tweet-78")));
    mock.expect_find_sent().never();
    let (desk, clock, _, msg) = one_public_reply(mock).await;
    assert_eq!(desk.run_outbox_once().await.unwrap().retried, 1);
    let held = desk.store().outbox_item(msg).await.unwrap().unwrap();
    assert_eq!(held.state, DeliveryState::Queued, "503: nothing was done");
    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(desk.run_outbox_once().await.unwrap().sent, 1);
}

#[tokio::test]
async fn a_timed_out_public_reply_not_found_on_the_platform_is_sent_again() {
    let mut mock = mock_channel();
    let mut seq = mockall::Sequence::new();
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(ChannelError::Timeout));
    mock.expect_find_sent()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(None));
    mock.expect_send()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Delivery::sent("tweet-79")));
    let (desk, clock, _, _) = one_public_reply(mock).await;
    assert_eq!(desk.run_outbox_once().await.unwrap().retried, 1);
    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(desk.run_outbox_once().await.unwrap().sent, 1);
}

#[tokio::test]
async fn replacing_the_channel_releases_the_sends_held_for_credentials() {
    let s = setup(false);
    let (id, _) = tweet_and_reply(&s.desk, "hello").await;
    s.twitter.fail_with([ChannelError::Unauthorized {
        reason: "token expired; reconnect the account".into(),
    }]);
    assert_eq!(s.desk.run_outbox_once().await.unwrap().deferred, 1);
    // A second reply while degraded is held too, without an attempt.
    s.desk
        .reply(id, ReplyRequest::agent("ann", "still here"))
        .await
        .unwrap();
    assert_eq!(s.desk.run_outbox_once().await.unwrap().deferred, 1);
    assert_eq!(s.twitter.attempts(), 1);

    let fresh = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let released = s.desk.replace_channel(fresh.clone()).await.unwrap();
    assert_eq!(released, 2);
    assert!(s.desk.channel_health().is_empty());
    // No clock advance needed: both go out now, through the new channel.
    assert_eq!(s.desk.run_outbox_once().await.unwrap().sent, 2);
    assert_eq!(fresh.sent().len(), 2);
    assert_eq!(s.twitter.sent().len(), 0);
}

/// A library user who never runs the desk server still gets a bounded
/// change feed: the tick prunes it to `keep_changes`, once a minute of the
/// desk's clock.
#[tokio::test]
async fn the_tick_keeps_the_change_feed_bounded_once_a_minute() {
    use carekit_core::store::ChangePosition;
    let clock = clock();
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .keep_changes(3)
        .build()
        .unwrap();
    let feed_len = |desk: &Desk| {
        let store = desk.store().clone();
        async move {
            store
                .changes_after(ChangePosition::ORIGIN, 10_000)
                .await
                .unwrap()
                .changes
                .len()
        }
    };
    for n in 0..6 {
        let event = sample_event(
            ChannelKind::Twitter,
            &format!("t-{n}"),
            &format!("user{n}"),
            "where is my parcel",
            clock.now(),
        );
        desk.ingest(event).await.unwrap();
    }
    let written = feed_len(&desk).await;
    assert!(written > 3, "each ingest wrote changes: {written}");
    desk.tick().await.unwrap();
    assert_eq!(feed_len(&desk).await, 3, "pruned to the newest 3");
    for n in 6..9 {
        let event = sample_event(
            ChannelKind::Twitter,
            &format!("t-{n}"),
            &format!("user{n}"),
            "still waiting",
            clock.now(),
        );
        desk.ingest(event).await.unwrap();
    }
    desk.tick().await.unwrap();
    assert!(feed_len(&desk).await > 3, "not again within the minute");
    clock.advance(chrono::Duration::seconds(61));
    desk.tick().await.unwrap();
    assert_eq!(feed_len(&desk).await, 3, "pruned again a minute later");
}
