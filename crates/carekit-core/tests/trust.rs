//! The desk's promises under traffic its authors did not plan for: other
//! people writing in a customer's thread, echoes of the desk's own sends,
//! handles another customer owns, records that fail after a send, manual
//! retries racing the outbox, and platform clocks in the future.

use async_trait::async_trait;
use carekit_core::desk::{HandoffRequest, IngestOutcome, ReplyRequest};
use carekit_core::store::{Claim, ConsentRecord, MessageLocation, OutboxItem};
use carekit_core::*;
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

struct Setup {
    desk: Desk,
    clock: FakeClock,
    twitter: Arc<RecordingChannel>,
    sms: Arc<RecordingChannel>,
    email: Arc<RecordingChannel>,
    facebook: Arc<RecordingChannel>,
    store: Arc<dyn Store>,
}

fn setup_with(store: Arc<dyn Store>) -> Setup {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let twitter = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let email = Arc::new(RecordingChannel::new(ChannelKind::Email));
    let facebook = Arc::new(RecordingChannel::new(ChannelKind::Facebook));
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .store(store.clone())
        .channel(twitter.clone())
        .channel(sms.clone())
        .channel(email.clone())
        .channel(facebook.clone())
        .build()
        .unwrap();
    Setup {
        desk,
        clock,
        twitter,
        sms,
        email,
        facebook,
        store,
    }
}

fn setup() -> Setup {
    setup_with(Arc::new(MemoryStore::new()))
}

fn tweet(id: &str, user: &str, text: &str, thread: &str) -> InboundEvent {
    sample_event(
        ChannelKind::Twitter,
        id,
        user,
        text,
        at("2026-03-02T09:00:00Z"),
    )
    .with_account("brand")
    .with_thread_key(thread)
}

fn agent() -> Actor {
    Actor::Agent("maya".into())
}

async fn ingest(desk: &Desk, event: InboundEvent) -> ConversationId {
    desk.ingest(event).await.unwrap().conversation_id().unwrap()
}

fn handle_of(record: &ConversationRecord) -> &str {
    &record.customer.identities[0].handle
}

// ---------------------------------------------------------------- ownership

#[tokio::test]
async fn a_strangers_reply_to_a_customers_tweet_never_takes_the_conversation() {
    let s = setup();
    let mine = ingest(
        &s.desk,
        tweet("1", "cust", "order 77 never came, card ends 4242", "1"),
    )
    .await;
    // Tweet ids are public: anyone can reply to tweet 1.
    let theirs = ingest(
        &s.desk,
        tweet("2", "stranger", "same here lol", "1").with_parent("1"),
    )
    .await;
    assert_ne!(mine, theirs, "the stranger has a conversation of their own");
    let record = s.desk.conversation(mine).await.unwrap();
    assert_eq!(handle_of(&record), "cust");
    assert_eq!(record.messages.len(), 1);
    let other = s.desk.conversation(theirs).await.unwrap();
    assert_eq!(handle_of(&other), "stranger");
    assert!(other.linked.contains(&mine) && record.linked.contains(&theirs));
    // Their next tweet, replying to their own, stays in their conversation.
    let again = ingest(
        &s.desk,
        tweet("3", "stranger", "hello?", "1").with_parent("2"),
    )
    .await;
    assert_eq!(again, theirs);
    // And replying to the customer's tweet again too.
    let again = ingest(
        &s.desk,
        tweet("4", "stranger", "anyone?", "1").with_parent("1"),
    )
    .await;
    assert_eq!(again, theirs);
    // Replies and handoffs in the customer's conversation reach the customer.
    s.desk
        .reply(
            mine,
            ReplyRequest::agent("maya", "Sorry! Checking order 77"),
        )
        .await
        .unwrap();
    let handoff = HandoffRequest::new(ChannelKind::Twitter, "Could you DM us?", agent())
        .with_private_text("Your address for order 77?");
    s.desk.handoff(mine, handoff).await.unwrap();
    s.desk.run_outbox_once().await.unwrap();
    for sent in s.twitter.sent() {
        assert_eq!(sent.recipient.as_ref().unwrap().handle, "cust", "{sent:?}");
        if let Some(parent) = &sent.in_reply_to {
            assert_eq!(parent, "1");
        }
    }
    assert_eq!(s.twitter.sent().len(), 3);
}

#[tokio::test]
async fn another_commenter_under_a_post_gets_their_own_conversation() {
    let s = setup();
    let comment = |id: &str, who: &str, parent: Option<&str>| {
        let e = sample_event(
            ChannelKind::Facebook,
            id,
            who,
            "broken again",
            at("2026-03-02T09:00:00Z"),
        )
        .with_account("page")
        .with_thread_key("post_1");
        match parent {
            Some(p) => e.with_parent(p),
            None => e,
        }
    };
    let first = ingest(&s.desk, comment("c1", "fb-ann", None)).await;
    let second = ingest(&s.desk, comment("c2", "fb-bob", None)).await;
    let reply = ingest(&s.desk, comment("c3", "fb-bob", Some("c1"))).await;
    assert_ne!(first, second);
    assert_eq!(second, reply);
    assert_eq!(
        handle_of(&s.desk.conversation(first).await.unwrap()),
        "fb-ann"
    );
    s.desk
        .reply(first, ReplyRequest::agent("maya", "So sorry Ann"))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    let sent = &s.facebook.sent()[0];
    assert_eq!(sent.recipient.as_ref().unwrap().handle, "fb-ann");
    assert_eq!(sent.in_reply_to.as_deref(), Some("c1"));
}

#[tokio::test]
async fn a_different_sender_in_an_email_thread_is_a_participant_who_receives_nothing() {
    let s = setup();
    let mail = |id: &str, from: &str, parent: Option<&str>| {
        let e = sample_event(
            ChannelKind::Email,
            id,
            from,
            "my invoice 2231 is wrong",
            at("2026-03-02T09:00:00Z"),
        )
        .with_account("help@brand.example")
        .with_subject("Invoice")
        .with_thread_key("<root@customer.example>");
        match parent {
            Some(p) => e.with_parent(p),
            None => e,
        }
    };
    let mine = ingest(
        &s.desk,
        mail("<root@customer.example>", "ann@customer.example", None),
    )
    .await;
    // Anyone can write an In-Reply-To naming a message of the thread.
    let theirs = ingest(
        &s.desk,
        mail(
            "<x@evil.example>",
            "mallory@evil.example",
            Some("<root@customer.example>"),
        ),
    )
    .await;
    assert_eq!(mine, theirs, "one email thread stays one conversation");
    let record = s.desk.conversation(mine).await.unwrap();
    assert_eq!(handle_of(&record), "ann@customer.example");
    assert_eq!(record.participants.len(), 1);
    assert_eq!(record.participants[0].handle, "mallory@evil.example");
    assert!(matches!(record.messages[1].author, Author::Participant(_)));
    s.desk
        .reply(
            mine,
            ReplyRequest::agent("maya", "Your invoice 2231, corrected"),
        )
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    let sent = s.email.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].recipient.as_ref().unwrap().handle,
        "ann@customer.example"
    );
}

#[tokio::test]
async fn a_text_from_another_number_never_joins_a_handoff() {
    let s = setup();
    let public = ingest(&s.desk, tweet("1", "cust", "help", "1")).await;
    let handoff = HandoffRequest::new(ChannelKind::Sms, "Can we text you?", agent())
        .with_recipient(Identity::new(ChannelKind::Sms, "+14155550100"));
    let outcome = s.desk.handoff(public, handoff).await.unwrap();
    let text = |id: &str, from: &str| {
        sample_event(ChannelKind::Sms, id, from, "hi", at("2026-03-02T09:05:00Z"))
            .with_account("+15005550006")
            .with_thread_key(format!("+15005550006:{from}"))
    };
    let other = ingest(&s.desk, text("SM1", "+14155550199")).await;
    assert_ne!(other, outcome.private_conversation);
    let private = s
        .desk
        .conversation(outcome.private_conversation)
        .await
        .unwrap();
    assert!(private.awaiting_customer, "still waiting for the customer");
    assert_eq!(
        ingest(&s.desk, text("SM2", "+14155550100")).await,
        outcome.private_conversation
    );
    s.desk
        .reply(
            outcome.private_conversation,
            ReplyRequest::agent("maya", "Thanks!"),
        )
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert!(
        s.sms
            .sent()
            .iter()
            .all(|m| m.recipient.as_ref().unwrap().handle == "+14155550100")
    );
}

// ---------------------------------------------------------------- echoes

async fn customer_tweet_and_reply(s: &Setup) -> (ConversationId, MessageId) {
    let id = ingest(&s.desk, tweet("1", "cust", "help", "1")).await;
    let reply = s
        .desk
        .reply(id, ReplyRequest::agent("maya", "On it & checking <now>"))
        .await
        .unwrap();
    (id, reply)
}

fn echo_of(external_id: &str, text: &str) -> InboundEvent {
    sample_event(
        ChannelKind::Twitter,
        external_id,
        "cust",
        text,
        at("2026-03-02T09:00:30Z"),
    )
    .with_account("brand")
    .with_thread_key("1")
    .with_parent("1")
    .with_kind(EventKind::Echo)
}

#[tokio::test]
async fn the_echo_of_a_recorded_send_is_not_a_second_message() {
    let s = setup();
    let (id, reply) = customer_tweet_and_reply(&s).await;
    s.desk.run_outbox_once().await.unwrap();
    let provider = s
        .desk
        .conversation(id)
        .await
        .unwrap()
        .message(reply)
        .unwrap()
        .external_id
        .clone()
        .unwrap();
    let outcome = s
        .desk
        .ingest(echo_of(&provider, "@cust On it &amp; checking &lt;now&gt;"))
        .await
        .unwrap();
    assert_eq!(outcome.conversation_id(), Some(id));
    let record = s.desk.conversation(id).await.unwrap();
    assert_eq!(record.messages.len(), 2, "{:#?}", record.messages);
    // A replayed echo changes nothing either.
    assert!(
        s.desk
            .ingest(echo_of(&provider, "On it"))
            .await
            .unwrap()
            .is_duplicate()
    );
    assert_eq!(s.desk.conversation(id).await.unwrap().messages.len(), 2);
}

#[tokio::test]
async fn an_echo_that_arrives_before_the_send_result_is_recorded_once_and_never_resent() {
    let s = setup();
    let (id, reply) = customer_tweet_and_reply(&s).await;
    // The platform's echo overtakes the outbox (or the answer to the send was lost).
    let outcome = s
        .desk
        .ingest(echo_of("1900", "@cust On it &amp; checking &lt;now&gt;"))
        .await
        .unwrap();
    assert!(matches!(outcome, IngestOutcome::Echoed { message_id, .. } if message_id == reply));
    let record = s.desk.conversation(id).await.unwrap();
    assert_eq!(record.messages.len(), 2);
    let message = record.message(reply).unwrap();
    assert_eq!(message.external_id.as_deref(), Some("1900"));
    assert_eq!(message.delivery, Some(DeliveryState::Sent));
    assert!(record.first_response_at.is_some());
    let report = s.desk.run_outbox_once().await.unwrap();
    assert_eq!(report.claimed, 0);
    assert!(s.twitter.sent().is_empty(), "the platform already has it");
}

/// A channel whose platform echoes each message back through the desk
/// before the send call returns, as webhooks can.
struct EchoingChannel {
    desk: Mutex<Option<Desk>>,
    sends: AtomicUsize,
}

#[async_trait]
impl Channel for EchoingChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Twitter
    }
    fn capabilities(&self) -> Capabilities {
        RecordingChannel::new(ChannelKind::Twitter).capabilities()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let n = self.sends.fetch_add(1, Ordering::SeqCst) + 1;
        let provider = format!("echoed-{n}");
        let desk = self.desk.lock().unwrap().clone().unwrap();
        desk.ingest(echo_of(&provider, &message.text))
            .await
            .unwrap();
        Ok(Delivery::sent(provider))
    }
}

#[tokio::test]
async fn an_echo_during_the_send_call_leaves_one_message() {
    let channel = Arc::new(EchoingChannel {
        desk: Mutex::new(None),
        sends: AtomicUsize::new(0),
    });
    let desk = Desk::builder()
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:00:00Z"))))
        .channel(channel.clone())
        .build()
        .unwrap();
    *channel.desk.lock().unwrap() = Some(desk.clone());
    let id = ingest(&desk, tweet("1", "cust", "help", "1")).await;
    let reply = desk
        .reply(id, ReplyRequest::agent("maya", "On it"))
        .await
        .unwrap();
    let report = desk.run_outbox_once().await.unwrap();
    assert_eq!(report.sent, 1);
    let record = desk.conversation(id).await.unwrap();
    assert_eq!(record.messages.len(), 2, "{:#?}", record.messages);
    assert_eq!(
        record.message(reply).unwrap().external_id.as_deref(),
        Some("echoed-1")
    );
    assert_eq!(channel.sends.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- ownership of handles

#[tokio::test]
async fn a_handoff_to_a_number_another_customer_owns_is_refused_then_merged() {
    let s = setup();
    // Someone already known texts from +1 415 555 0100.
    let known = ingest(
        &s.desk,
        sample_event(
            ChannelKind::Sms,
            "SM9",
            "+14155550100",
            "hello",
            at("2026-03-01T09:00:00Z"),
        )
        .with_thread_key("+15005550006:+14155550100"),
    )
    .await;
    let owner = s.desk.conversation(known).await.unwrap().customer.id;
    let public = ingest(&s.desk, tweet("1", "cust", "help", "1")).await;
    let handoff = HandoffRequest::new(ChannelKind::Sms, "Can we text you?", agent())
        .with_recipient(Identity::new(ChannelKind::Sms, "+14155550100"));
    let started = std::time::Instant::now();
    let err = s.desk.handoff(public, handoff.clone()).await.unwrap_err();
    match &err {
        DeskError::IdentityOwned { identity, customer } => {
            assert_eq!(identity.handle, "+14155550100");
            assert_eq!(*customer, owner);
        }
        other => panic!("expected IdentityOwned, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    s.desk.run_outbox_once().await.unwrap();
    assert!(s.sms.sent().is_empty() && s.twitter.sent().is_empty());
    // A person decides they are one customer.
    let cust = s.desk.conversation(public).await.unwrap().customer.id;
    let merged = s
        .desk
        .merge_customers(cust, owner, agent(), "same person, confirmed by DM")
        .await
        .unwrap();
    assert_eq!(merged.moved, vec![known]);
    assert!(
        merged
            .kept
            .identity_on(ChannelKind::Sms)
            .is_some_and(|i| i.handle == "+14155550100")
    );
    assert_eq!(
        s.desk.conversation(known).await.unwrap().customer.id,
        cust,
        "the merged customer's conversations move"
    );
    let gone = s.store.customer(owner).await.unwrap().unwrap();
    assert_eq!(gone.merged_into, Some(cust));
    assert!(gone.identities.is_empty());
    for conversation in [known, public] {
        let trail = s.desk.audit_trail(conversation).await.unwrap();
        assert!(trail.iter().any(|e| matches!(
            &e.kind,
            AuditKind::CustomersMerged { by: Actor::Agent(a), reason, .. }
                if a == "maya" && reason.contains("confirmed")
        )));
    }
    s.desk.handoff(public, handoff).await.unwrap();
    // Merging again, or into itself, is refused.
    assert!(matches!(
        s.desk
            .merge_customers(cust, owner, agent(), "again")
            .await
            .unwrap_err(),
        DeskError::InvalidRequest(_)
    ));
    assert!(matches!(
        s.desk
            .merge_customers(cust, cust, agent(), "self")
            .await
            .unwrap_err(),
        DeskError::InvalidRequest(_)
    ));
}

// ---------------------------------------------------------------- records after sends

#[tokio::test]
async fn a_send_whose_thread_key_is_taken_is_recorded_and_never_resent() {
    let s = setup();
    // A DM thread already has its own conversation...
    let mut dm = sample_event(
        ChannelKind::Twitter,
        "dm-1",
        "other",
        "hi",
        at("2026-03-02T09:00:00Z"),
    )
    .with_account("brand")
    .with_thread_key("dm:brand-cust");
    dm.visibility = Visibility::Private;
    ingest(&s.desk, dm).await;
    // ...and a DM sent elsewhere reports establishing that same thread.
    let public = ingest(&s.desk, tweet("1", "cust", "help", "1")).await;
    let handoff = HandoffRequest::new(ChannelKind::Twitter, "Could you DM us?", agent())
        .with_private_text("Hi, about your order");
    s.desk.handoff(public, handoff).await.unwrap();
    s.twitter.establish_thread(ThreadKey::new("dm:brand-cust"));
    for _ in 0..5 {
        s.desk.run_outbox_once().await.unwrap();
        s.clock.advance(chrono::Duration::minutes(10));
    }
    assert_eq!(
        s.twitter.sent().len(),
        2,
        "the public offer and the DM, each sent exactly once"
    );
    let sent = s
        .store
        .outbox_in_states(&[DeliveryState::Sent], 10)
        .await
        .unwrap();
    assert_eq!(sent.len(), 2, "both recorded as sent");
}

/// Delegates to a memory store; fails commits that record a send (they
/// write an accepted outbox item) in the chosen way.
struct FailingRecords {
    inner: MemoryStore,
    /// Fail with `Constraint` when the commit also writes a conversation.
    constraint_with_conversation: bool,
    /// Fail every recording commit with `Unavailable` while set.
    down: AtomicBool,
}

impl FailingRecords {
    fn failure(&self, commit: &Commit) -> Option<StoreError> {
        let records_send = commit.outbox.iter().any(|i| i.state.is_accepted());
        if !records_send {
            return None;
        }
        if self.down.load(Ordering::SeqCst) {
            return Some(StoreError::Unavailable("database restarting".into()));
        }
        (self.constraint_with_conversation && !commit.conversations.is_empty())
            .then(|| StoreError::Constraint("simulated check".into()))
    }
}

#[async_trait]
impl Store for FailingRecords {
    async fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        match self.failure(&commit) {
            Some(e) => Err(e),
            None => self.inner.apply(commit).await,
        }
    }
    async fn seen(&self, channel: ChannelKind, id: &str) -> Result<bool, StoreError> {
        self.inner.seen(channel, id).await
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
        id: &str,
    ) -> Result<Option<MessageLocation>, StoreError> {
        self.inner.locate_message(channel, id).await
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
    async fn outbox_item(&self, id: MessageId) -> Result<Option<OutboxItem>, StoreError> {
        self.inner.outbox_item(id).await
    }
    async fn claim_outbox(&self, claim: &Claim) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.claim_outbox(claim).await
    }
    async fn outbox_in_states(
        &self,
        states: &[DeliveryState],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.outbox_in_states(states, limit).await
    }
    async fn claim_due(&self, claim: &Claim) -> Result<Vec<ConversationId>, StoreError> {
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

fn failing(constraint: bool) -> Arc<FailingRecords> {
    Arc::new(FailingRecords {
        inner: MemoryStore::new(),
        constraint_with_conversation: constraint,
        down: AtomicBool::new(false),
    })
}

async fn customer_text_and_reply(s: &Setup) -> (ConversationId, MessageId) {
    let text = sample_event(
        ChannelKind::Sms,
        "SM1",
        "+14155550100",
        "my order 77?",
        at("2026-03-02T09:00:00Z"),
    )
    .with_thread_key("+15005550006:+14155550100");
    let id = ingest(&s.desk, text).await;
    let reply = s
        .desk
        .reply(id, ReplyRequest::agent("maya", "It ships today"))
        .await
        .unwrap();
    (id, reply)
}

#[tokio::test]
async fn a_send_whose_full_record_fails_is_marked_sent_alone_and_never_resent() {
    let store = failing(true);
    let s = setup_with(store.clone());
    // A private message: no platform lookup stands between a lapsed lease and a resend.
    let (id, reply) = customer_text_and_reply(&s).await;
    for _ in 0..5 {
        s.desk.run_outbox_once().await.unwrap();
        s.clock.advance(chrono::Duration::minutes(10));
    }
    assert_eq!(s.sms.sent().len(), 1, "sent exactly once");
    let item = store.outbox_item(reply).await.unwrap().unwrap();
    assert_eq!(item.state, DeliveryState::Sent);
    let message = s.desk.conversation(id).await.unwrap();
    let message = message.message(reply).unwrap();
    assert_eq!(message.delivery, Some(DeliveryState::Sent));
    assert!(message.external_id.is_some());
}

#[tokio::test]
async fn a_send_recorded_while_the_store_is_down_is_recorded_later_not_resent() {
    let store = failing(false);
    let s = setup_with(store.clone());
    let (_, reply) = customer_text_and_reply(&s).await;
    store.down.store(true, Ordering::SeqCst);
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.sms.sent().len(), 1);
    // The lease lapses while the store is still down for records...
    s.clock.advance(chrono::Duration::minutes(10));
    s.desk.run_outbox_once().await.unwrap();
    store.down.store(false, Ordering::SeqCst);
    s.clock.advance(chrono::Duration::minutes(10));
    s.desk.run_outbox_once().await.unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.sms.sent().len(), 1, "never sent twice");
    assert_eq!(
        store.outbox_item(reply).await.unwrap().unwrap().state,
        DeliveryState::Sent
    );
}

// ---------------------------------------------------------------- manual retry

#[tokio::test]
async fn only_failed_or_dead_lettered_messages_can_be_retried() {
    let s = setup();
    let (_, reply) = customer_tweet_and_reply(&s).await;
    // Queued: the outbox owns it.
    assert!(matches!(
        s.desk.retry_message(reply).await.unwrap_err(),
        DeskError::NotRetryable {
            state: DeliveryState::Queued
        }
    ));
    // Being sent by a worker right now.
    let claim = Claim {
        worker: "other".into(),
        now: s.clock.now(),
        lease: chrono::Duration::minutes(5),
        limit: 10,
    };
    let mut item = s.store.claim_outbox(&claim).await.unwrap().remove(0);
    item.state = DeliveryState::Sending;
    let mut commit = Commit::new();
    commit.outbox.push(item);
    s.store.apply(commit).await.unwrap();
    assert!(matches!(
        s.desk.retry_message(reply).await.unwrap_err(),
        DeskError::NotRetryable {
            state: DeliveryState::Sending
        }
    ));
    // Accepted by the platform: done.
    let other = ingest(&s.desk, tweet("5", "cust2", "hello", "5")).await;
    let sent = s
        .desk
        .reply(other, ReplyRequest::agent("maya", "Hi!"))
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert!(matches!(
        s.desk.retry_message(sent).await.unwrap_err(),
        DeskError::NotRetryable {
            state: DeliveryState::Sent
        }
    ));
    assert_eq!(s.twitter.sent().len(), 1);
}

#[tokio::test]
async fn two_retries_of_one_failed_message_send_it_once() {
    let s = setup();
    let (_, reply) = customer_tweet_and_reply(&s).await;
    s.twitter.fail_with([ChannelError::Rejected {
        code: Some("187".into()),
        reason: "status is a duplicate".into(),
    }]);
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(
        s.store.outbox_item(reply).await.unwrap().unwrap().state,
        DeliveryState::Failed
    );
    let (a, b) = tokio::join!(s.desk.retry_message(reply), s.desk.retry_message(reply));
    assert!(a.is_ok() || b.is_ok());
    s.desk.run_outbox_once().await.unwrap();
    // A late retry of a message sent in the meantime is refused.
    assert!(s.desk.retry_message(reply).await.is_err());
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.twitter.sent().len(), 1);
}

#[tokio::test]
async fn retrying_an_unknown_public_outcome_needs_a_person_to_check() {
    let s = setup();
    let (id, reply) = customer_tweet_and_reply(&s).await;
    // The connection drops after the request left: it may be on X.
    s.twitter
        .fail_with([ChannelError::Transport("connection reset".into())]);
    s.desk.run_outbox_once().await.unwrap();
    s.clock.advance(chrono::Duration::minutes(10));
    // The recording channel cannot look on the platform: dead-lettered.
    s.desk.run_outbox_once().await.unwrap();
    let item = s.store.outbox_item(reply).await.unwrap().unwrap();
    assert_eq!(item.state, DeliveryState::DeadLettered);
    assert!(item.outcome_unknown);
    // A plain retry asks the platform first, which cannot answer: still not posted.
    s.desk.retry_message(reply).await.unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert!(s.twitter.sent().is_empty());
    // A person checked X: it is not there.
    s.desk
        .retry_message_after_check(reply, agent())
        .await
        .unwrap();
    s.desk.run_outbox_once().await.unwrap();
    assert_eq!(s.twitter.sent().len(), 1);
    let trail = s.desk.audit_trail(id).await.unwrap();
    assert!(trail.iter().any(|e| matches!(
        &e.kind,
        AuditKind::Note { text } if text.contains("maya") && text.contains("not there")
    )));
}

// ---------------------------------------------------------------- platform clocks

#[tokio::test]
async fn a_tweet_from_the_future_is_recorded_at_the_desks_time() {
    let s = setup();
    let future: DateTime<Utc> = at("2100-01-01T00:00:00Z");
    let mut event = tweet("1", "cust", "help", "1");
    event.occurred_at = future;
    let id = ingest(&s.desk, event).await;
    let record = s.desk.conversation(id).await.unwrap();
    let now = s.clock.now();
    assert_eq!(record.opened_at, now);
    assert_eq!(record.messages[0].at, now);
    assert_eq!(record.messages[0].platform_at, Some(future));
    assert!(record.last_inbound_at <= Some(now));
    // A few seconds ahead is ordinary clock skew and kept as stated.
    let soon = now + chrono::Duration::seconds(20);
    let mut event = tweet("2", "cust", "again", "1");
    event.occurred_at = soon;
    ingest(&s.desk, event).await;
    let record = s.desk.conversation(id).await.unwrap();
    assert_eq!(record.messages[1].at, soon);
    assert_eq!(record.messages[1].platform_at, None);
}
