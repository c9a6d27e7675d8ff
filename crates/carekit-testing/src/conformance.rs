//! The `Store` conformance suite: every backend must pass the same cases.
//!
//! Each case takes a fresh, empty store. Run them all with the
//! [`store_conformance!`](crate::store_conformance) macro, which writes one
//! `#[tokio::test]` per case:
//!
//! ```ignore
//! carekit_testing::store_conformance!(async { std::sync::Arc::new(MyStore::new()) });
//! ```

use carekit_core::store::{
    Claim, ConsentRecord, ConversationWrite, ListPosition, OutboxItem, SearchQuery,
};
use carekit_core::*;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use std::sync::Arc;

type S = Arc<dyn Store>;

fn t(minutes: i64) -> DateTime<Utc> {
    crate::at("2026-03-02T09:00:00Z") + Duration::minutes(minutes)
}

fn customer(handle: &str) -> Customer {
    Customer::new(
        Identity::new(ChannelKind::Twitter, handle).with_display_name(handle),
        t(0),
    )
}

fn conversation(customer: &Customer, key: Option<&str>, opened: i64) -> ConversationRecord {
    let mut record = ConversationRecord::new(
        ChannelKind::Twitter,
        "brand",
        Visibility::Public,
        customer.clone(),
        t(opened),
    );
    record.thread_key = key.map(ThreadKey::new);
    record
}

fn message(conversation: &ConversationRecord, external: &str, minute: i64, text: &str) -> Message {
    let m = Message::new(
        conversation.id,
        Direction::Inbound,
        Author::Customer(conversation.customer.id),
        Visibility::Public,
        text,
        t(minute),
    );
    if external.is_empty() {
        m
    } else {
        m.with_external_id(external)
    }
}

fn new_conversation_commit(
    customer: &Customer,
    record: &ConversationRecord,
    messages: Vec<Message>,
) -> Commit {
    let mut commit = Commit::new();
    commit.customers.push(customer.clone());
    commit
        .conversations
        .push(ConversationWrite::Insert(record.clone()));
    commit.messages = messages;
    commit
}

fn claim(worker: &str, minute: i64, limit: usize) -> Claim {
    Claim {
        worker: worker.into(),
        now: t(minute),
        lease: Duration::minutes(2),
        limit,
    }
}

fn outbox_item(record: &ConversationRecord, minute: i64) -> OutboxItem {
    let msg = OutboundMessage::new(ChannelKind::Twitter, Visibility::Public, "reply")
        .with_conversation(record.id);
    OutboxItem::queued(record.id, msg, t(minute))
}

/// A dedupe key is stored once; a replay fails the whole commit as `Duplicate`.
pub async fn dedupe_key_is_stored_once(store: S) {
    let mut first = Commit::new();
    first.dedupe.push((ChannelKind::Twitter, "1".into()));
    store.apply(first.clone()).await.expect("first");
    assert!(store.seen(ChannelKind::Twitter, "1").await.unwrap());
    assert!(
        !store.seen(ChannelKind::Facebook, "1").await.unwrap(),
        "scoped by channel"
    );
    let c = customer("u1");
    let mut again = first;
    again.customers.push(c.clone());
    let err = store.apply(again).await.expect_err("replay must fail");
    assert!(matches!(err, StoreError::Duplicate { .. }), "got {err:?}");
    assert!(
        store.customer(c.id).await.unwrap().is_none(),
        "nothing of a failed commit is stored"
    );
}

/// Everything written comes back: customer, conversation, messages in time
/// order, the message index, thread lookup, the audit trail in order.
pub async fn conversation_round_trips(store: S) {
    let c = customer("u1");
    let mut record = conversation(&c, Some("thread-1"), 0);
    record.tags.insert("billing".into());
    record.subject = Some("Late order".into());
    let late = message(&record, "m2", 5, "second");
    let early = message(&record, "m1", 1, "first");
    let mut commit = new_conversation_commit(&c, &record, vec![late.clone(), early.clone()]);
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        commit.audit.push(AuditEntry::new(
            record.id,
            t(i as i64 % 2),
            AuditKind::Note {
                text: (*text).into(),
            },
        ));
    }
    store.apply(commit).await.unwrap();
    let loaded = store
        .conversation(record.id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        loaded
            .messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(loaded.customer, c);
    assert_eq!(loaded.tags, record.tags);
    assert_eq!(loaded.subject.as_deref(), Some("Late order"));
    assert_eq!(loaded.version, 0);
    let found = store
        .locate_message(ChannelKind::Twitter, "m2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.conversation_id, found.message_id),
        (record.id, late.id)
    );
    assert!(
        store
            .locate_message(ChannelKind::Sms, "m2")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .conversation_by_thread(ChannelKind::Twitter, "brand", &ThreadKey::new("thread-1"))
            .await
            .unwrap(),
        Some(record.id)
    );
    assert!(
        store
            .conversation_by_thread(ChannelKind::Twitter, "other", &ThreadKey::new("thread-1"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .customer_by_identity(ChannelKind::Twitter, "u1")
            .await
            .unwrap(),
        Some(c.clone())
    );
    let trail: Vec<String> = store
        .audit_trail(record.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| match e.kind {
            AuditKind::Note { text } => text,
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        trail,
        ["one", "three", "two"],
        "by time, then insertion order"
    );
    // Message updates replace by id.
    let mut edited = early;
    edited.text = "first (edited)".into();
    let mut update = Commit::new();
    update.messages.push(edited);
    store.apply(update).await.unwrap();
    let loaded = store.conversation(record.id).await.unwrap().unwrap();
    assert_eq!(loaded.messages.len(), 2);
    assert_eq!(loaded.messages[0].text, "first (edited)");
}

/// An update succeeds only at the version it was read at.
pub async fn stale_updates_conflict(store: S) {
    let c = customer("u1");
    let record = conversation(&c, None, 0);
    store
        .apply(new_conversation_commit(&c, &record, vec![]))
        .await
        .unwrap();
    let mut next = record.clone();
    next.version = 1;
    next.priority = Priority::High;
    let mut commit = Commit::new();
    commit.conversations.push(ConversationWrite::Update {
        record: next.clone(),
        expected_version: 0,
    });
    store.apply(commit.clone()).await.unwrap();
    let mut stale = next.clone();
    stale.priority = Priority::Low;
    stale.version = 1;
    let mut commit = Commit::new();
    commit.dedupe.push((ChannelKind::Twitter, "x".into()));
    commit.conversations.push(ConversationWrite::Update {
        record: stale,
        expected_version: 0,
    });
    assert!(matches!(
        store.apply(commit).await,
        Err(StoreError::Conflict(_))
    ));
    let loaded = store.conversation(record.id).await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.priority), (1, Priority::High));
    assert!(
        !store.seen(ChannelKind::Twitter, "x").await.unwrap(),
        "the failed commit left no dedupe key"
    );
    let mut missing = conversation(&c, None, 0);
    missing.version = 1;
    let mut commit = Commit::new();
    commit.conversations.push(ConversationWrite::Update {
        record: missing,
        expected_version: 0,
    });
    assert!(matches!(
        store.apply(commit).await,
        Err(StoreError::Conflict(_))
    ));
}

/// At most one non-closed conversation per thread key (a second is a
/// `Constraint`, not contention); the newest is found.
pub async fn one_open_conversation_per_thread_key(store: S) {
    let c = customer("u1");
    let first = conversation(&c, Some("k"), 0);
    store
        .apply(new_conversation_commit(&c, &first, vec![]))
        .await
        .unwrap();
    let second = conversation(&c, Some("k"), 5);
    let mut commit = Commit::new();
    commit
        .conversations
        .push(ConversationWrite::Insert(second.clone()));
    assert!(matches!(
        store.apply(commit.clone()).await,
        Err(StoreError::Constraint(_))
    ));
    let mut closed = first.clone();
    closed.status = Status::Closed;
    closed.version = 1;
    let mut close = Commit::new();
    close.conversations.push(ConversationWrite::Update {
        record: closed,
        expected_version: 0,
    });
    store.apply(close).await.unwrap();
    store.apply(commit).await.unwrap();
    assert_eq!(
        store
            .conversation_by_thread(ChannelKind::Twitter, "brand", &ThreadKey::new("k"))
            .await
            .unwrap(),
        Some(second.id)
    );
    // The same id twice breaks a constraint too.
    let mut again = Commit::new();
    again
        .conversations
        .push(ConversationWrite::Insert(conversation(&c, None, 9)));
    again.conversations.push(ConversationWrite::Insert(second));
    assert!(matches!(
        store.apply(again).await,
        Err(StoreError::Constraint(_))
    ));
}

/// An identity belongs to one customer; claiming it for another is a
/// `Constraint`.
pub async fn identities_have_one_owner(store: S) {
    let a = customer("shared");
    let mut commit = Commit::new();
    commit.customers.push(a.clone());
    store.apply(commit).await.unwrap();
    let b = customer("shared");
    let mut commit = Commit::new();
    commit.customers.push(b.clone());
    assert!(matches!(
        store.apply(commit).await,
        Err(StoreError::Constraint(_))
    ));
    assert_eq!(
        store
            .customer_by_identity(ChannelKind::Twitter, "shared")
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    // Linking a new identity to the owner works and is found.
    let mut linked = a.clone();
    linked.link(Identity::new(ChannelKind::Sms, "+14155550100"));
    let mut commit = Commit::new();
    commit.customers.push(linked);
    store.apply(commit).await.unwrap();
    assert_eq!(
        store
            .customer_by_identity(ChannelKind::Sms, "+14155550100")
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
}

/// A commit that fails on its last part leaves nothing behind.
pub async fn commits_are_atomic(store: S) {
    let c = customer("u1");
    let record = conversation(&c, Some("k"), 0);
    let mut commit = new_conversation_commit(&c, &record, vec![message(&record, "m1", 0, "hi")]);
    commit.dedupe.push((ChannelKind::Twitter, "m1".into()));
    let orphan = message(&conversation(&c, None, 0), "m2", 0, "orphan");
    commit.messages.push(orphan);
    assert!(store.apply(commit).await.is_err());
    assert!(!store.seen(ChannelKind::Twitter, "m1").await.unwrap());
    assert!(store.conversation(record.id).await.unwrap().is_none());
    assert!(
        store
            .locate_message(ChannelKind::Twitter, "m1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .customer_by_identity(ChannelKind::Twitter, "u1")
            .await
            .unwrap()
            .is_none()
    );
}

/// Commits sent at once succeed or fail each on its own: a replay or a
/// broken commit among them leaves no trace and takes no other commit down
/// (stores that batch concurrent commits into one transaction must isolate
/// them).
pub async fn concurrent_commits_fail_alone(store: S) {
    for i in 0..10 {
        let mut earlier = Commit::new();
        earlier
            .dedupe
            .push((ChannelKind::Twitter, format!("earlier-{i}")));
        store.apply(earlier).await.expect("earlier");
    }
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let c = customer(&format!("c{i}"));
            let record = conversation(&c, Some(&format!("k{i}")), 0);
            let key = format!("m{i}");
            let mut commit =
                new_conversation_commit(&c, &record, vec![message(&record, &key, 0, "hi")]);
            commit.dedupe.push((ChannelKind::Twitter, key));
            match i % 4 {
                // A replay of something stored before.
                1 => commit
                    .dedupe
                    .push((ChannelKind::Twitter, format!("earlier-{}", i / 4))),
                // A message whose conversation exists nowhere.
                3 => commit.messages.push(message(
                    &conversation(&c, None, 0),
                    &format!("o{i}"),
                    0,
                    "x",
                )),
                _ => {}
            }
            (i, c.id, record.id, store.apply(commit).await)
        }));
    }
    for task in tasks {
        let (i, customer, conversation, result) = task.await.expect("task");
        let key = format!("m{i}");
        match i % 4 {
            1 => assert!(
                matches!(result, Err(StoreError::Duplicate { .. })),
                "commit {i}: {result:?}"
            ),
            3 => assert!(result.is_err(), "commit {i} must fail"),
            _ => result.unwrap_or_else(|e| panic!("commit {i}: {e}")),
        }
        let kept = i % 2 == 0;
        assert_eq!(
            store.seen(ChannelKind::Twitter, &key).await.unwrap(),
            kept,
            "dedupe key of commit {i}"
        );
        assert_eq!(
            store.customer(customer).await.unwrap().is_some(),
            kept,
            "customer of commit {i}"
        );
        assert_eq!(
            store.conversation(conversation).await.unwrap().is_some(),
            kept,
            "conversation of commit {i}"
        );
    }
    let all = store
        .list_conversations(&ConversationFilter::all())
        .await
        .unwrap();
    assert_eq!(all.len(), 20, "the 20 good commits, nothing else");
}

/// Filters narrow, newest first, limit applies last.
pub async fn filters_list_newest_first(store: S) {
    let a = customer("a");
    let b = customer("b");
    let mut records = Vec::new();
    for (i, (cust, status, priority)) in [
        (&a, Status::Open, Priority::Normal),
        (&a, Status::Resolved, Priority::High),
        (&b, Status::Open, Priority::High),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = conversation(cust, None, i as i64 * 10);
        r.status = status;
        r.priority = priority;
        let mut commit = new_conversation_commit(cust, &r, vec![]);
        if i > 0 {
            commit.customers.clear();
        }
        if i == 2 {
            commit.customers.push(b.clone());
        }
        store.apply(commit).await.unwrap();
        records.push(r);
    }
    let ids = |list: Vec<ConversationRecord>| list.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = ids(store
        .list_conversations(&ConversationFilter::all())
        .await
        .unwrap());
    assert_eq!(all, vec![records[2].id, records[1].id, records[0].id]);
    let open = ids(store
        .list_conversations(&ConversationFilter::all().with_status("open"))
        .await
        .unwrap());
    assert_eq!(open, vec![records[2].id, records[0].id]);
    let high_a = ids(store
        .list_conversations(
            &ConversationFilter::all()
                .with_priority(Priority::High)
                .with_customer(a.id),
        )
        .await
        .unwrap());
    assert_eq!(high_a, vec![records[1].id]);
    let limited = ids(store
        .list_conversations(&ConversationFilter::all().with_limit(1))
        .await
        .unwrap());
    assert_eq!(limited, vec![records[2].id]);
    let ranged = ids(store
        .list_conversations(&ConversationFilter::all().opened_between(Some(t(5)), Some(t(20))))
        .await
        .unwrap());
    assert_eq!(ranged, vec![records[1].id]);
    assert!(
        store
            .list_conversations(&ConversationFilter::all().with_channel(ChannelKind::Sms))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Consent and key values keep their latest value.
pub async fn consent_and_values_persist(store: S) {
    assert!(
        store
            .consent(ChannelKind::Sms, "+1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.value("x:since_id").await.unwrap().is_none());
    for (opted_in, minute) in [(false, 1), (true, 2), (false, 3)] {
        let mut commit = Commit::new();
        commit.consent.push(ConsentRecord {
            channel: ChannelKind::Sms,
            handle: "+1".into(),
            opted_in,
            at: t(minute),
            source: format!("step {minute}"),
        });
        commit
            .values
            .push(("x:since_id".into(), format!("{minute}00")));
        store.apply(commit).await.unwrap();
    }
    let consent = store
        .consent(ChannelKind::Sms, "+1")
        .await
        .unwrap()
        .unwrap();
    assert!(!consent.opted_in);
    assert_eq!(consent.source, "step 3");
    assert_eq!(
        store.value("x:since_id").await.unwrap().as_deref(),
        Some("300")
    );
}

/// Outbox items are leased to one worker; a lapsed lease hands the item on,
/// and an attempt the worker recorded (`Sending`) comes back as such, its
/// outcome unknown.
pub async fn outbox_claims_are_exclusive_and_leased(store: S) {
    let c = customer("u1");
    let record = conversation(&c, None, 0);
    let mut commit = new_conversation_commit(&c, &record, vec![]);
    let due = outbox_item(&record, 0);
    let mut later = outbox_item(&record, 0);
    later.next_attempt_at = t(30);
    commit.outbox = vec![due.clone(), later.clone()];
    store.apply(commit).await.unwrap();
    let got = store.claim_outbox(&claim("w1", 1, 10)).await.unwrap();
    assert_eq!(got.iter().map(|i| i.id).collect::<Vec<_>>(), vec![due.id]);
    assert_eq!(
        got[0].state,
        DeliveryState::Queued,
        "returned as it was before the claim"
    );
    let mut stored = store.outbox_item(due.id).await.unwrap().unwrap();
    assert_eq!(
        stored.state,
        DeliveryState::Queued,
        "claimed, not yet attempted"
    );
    assert_eq!(stored.lease.as_ref().map(|l| l.worker.as_str()), Some("w1"));
    // The worker records its attempt, then dies before recording the outcome.
    stored.state = DeliveryState::Sending;
    let mut commit = Commit::new();
    commit.outbox.push(stored);
    store.apply(commit).await.unwrap();
    assert!(
        store
            .claim_outbox(&claim("w2", 2, 10))
            .await
            .unwrap()
            .is_empty(),
        "leased to w1"
    );
    let retaken = store.claim_outbox(&claim("w2", 4, 10)).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(
        retaken[0].state,
        DeliveryState::Sending,
        "a lapsed send's outcome is unknown"
    );
    let mut done = retaken[0].clone();
    done.state = DeliveryState::Sent;
    done.lease = None;
    done.provider_id = Some("p1".into());
    let mut commit = Commit::new();
    commit.outbox.push(done);
    store.apply(commit).await.unwrap();
    assert!(
        store
            .claim_outbox(&claim("w3", 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_outbox(&claim("w3", 31, 10))
            .await
            .unwrap()
            .len(),
        1,
        "due at its time"
    );
    let sent = store
        .outbox_in_states(&[DeliveryState::Sent], 10)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].provider_id.as_deref(), Some("p1"));
}

/// Concurrent claimers never get the same item.
pub async fn concurrent_outbox_claims_never_overlap(store: S) {
    let c = customer("u1");
    let record = conversation(&c, None, 0);
    let mut commit = new_conversation_commit(&c, &record, vec![]);
    commit.outbox = (0..60).map(|_| outbox_item(&record, 0)).collect();
    store.apply(commit).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_outbox(&claim(&format!("w{w}"), 1, 7))
                    .await
                    .expect("claim");
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|i| i.id));
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "item {id} claimed twice");
        }
    }
    assert_eq!(total, 60);
}

/// Due deadlines come earliest first, once per lease; a write releases them.
pub async fn due_deadlines_are_claimed_in_order(store: S) {
    let c = customer("u1");
    let mut ids = Vec::new();
    for (i, deadline) in [20, 10, 40].into_iter().enumerate() {
        let mut r = conversation(&c, None, i as i64);
        r.next_deadline = Some(t(deadline));
        let mut commit = new_conversation_commit(&c, &r, vec![]);
        if i > 0 {
            commit.customers.clear();
        }
        store.apply(commit).await.unwrap();
        ids.push(r);
    }
    let got = store.claim_due(&claim("w1", 25, 10)).await.unwrap();
    assert_eq!(got, vec![ids[1].id, ids[0].id]);
    assert!(
        store
            .claim_due(&claim("w2", 26, 10))
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let mut moved = ids[1].clone();
    moved.version = 1;
    moved.next_deadline = Some(t(50));
    let mut commit = Commit::new();
    commit.conversations.push(ConversationWrite::Update {
        record: moved,
        expected_version: 0,
    });
    store.apply(commit).await.unwrap();
    assert_eq!(
        store.claim_due(&claim("w2", 28, 10)).await.unwrap(),
        vec![ids[0].id],
        "lease lapsed; the other moved"
    );
    assert_eq!(
        store.claim_due(&claim("w3", 60, 1)).await.unwrap(),
        vec![ids[0].id],
        "limit"
    );
    assert_eq!(
        store.claim_due(&claim("w4", 60, 10)).await.unwrap(),
        vec![ids[2].id, ids[1].id],
        "earliest first, the leased one skipped"
    );
}

/// A handoff conversation waits for the customer's first private message.
pub async fn awaiting_handoff_is_found(store: S) {
    let c = customer("u1");
    let mut r = ConversationRecord::new(ChannelKind::Sms, "", Visibility::Private, c.clone(), t(0));
    r.awaiting_customer = true;
    r.status = Status::Pending;
    store
        .apply(new_conversation_commit(&c, &r, vec![]))
        .await
        .unwrap();
    assert_eq!(
        store
            .awaiting_handoff(c.id, ChannelKind::Sms)
            .await
            .unwrap(),
        Some(r.id)
    );
    assert!(
        store
            .awaiting_handoff(c.id, ChannelKind::Email)
            .await
            .unwrap()
            .is_none()
    );
    let mut done = r.clone();
    done.awaiting_customer = false;
    done.version = 1;
    let mut commit = Commit::new();
    commit.conversations.push(ConversationWrite::Update {
        record: done,
        expected_version: 0,
    });
    store.apply(commit).await.unwrap();
    assert!(
        store
            .awaiting_handoff(c.id, ChannelKind::Sms)
            .await
            .unwrap()
            .is_none()
    );
    // A waiting conversation moved to another customer (a merge) is found
    // under its new customer only.
    let mut moved =
        ConversationRecord::new(ChannelKind::Sms, "", Visibility::Private, c.clone(), t(5));
    moved.awaiting_customer = true;
    moved.status = Status::Pending;
    store
        .apply(new_conversation_commit(&c, &moved, vec![]))
        .await
        .unwrap();
    let other = customer("u2");
    let mut commit = Commit::new();
    commit.customers.push(other.clone());
    let mut record = moved.clone();
    record.customer = other.clone();
    record.version = 1;
    commit.conversations.push(ConversationWrite::Update {
        record,
        expected_version: 0,
    });
    store.apply(commit).await.unwrap();
    assert_eq!(
        store
            .awaiting_handoff(other.id, ChannelKind::Sms)
            .await
            .unwrap(),
        Some(moved.id)
    );
    assert!(
        store
            .awaiting_handoff(c.id, ChannelKind::Sms)
            .await
            .unwrap()
            .is_none()
    );
}

/// Outbox items are counted per state by the store, in the order asked,
/// a state with none counting 0.
pub async fn outbox_counts_group_by_state(store: S) {
    let c = customer("u1");
    let record = conversation(&c, None, 0);
    let mut commit = new_conversation_commit(&c, &record, vec![]);
    for (state, n) in [
        (DeliveryState::Queued, 3),
        (DeliveryState::Sending, 1),
        (DeliveryState::Sent, 4),
        (DeliveryState::DeadLettered, 2),
    ] {
        for _ in 0..n {
            let mut item = outbox_item(&record, 0);
            item.state = state;
            commit.outbox.push(item);
        }
    }
    store.apply(commit).await.unwrap();
    let counts = store
        .outbox_counts(&[
            DeliveryState::Sending,
            DeliveryState::Queued,
            DeliveryState::Failed,
            DeliveryState::DeadLettered,
        ])
        .await
        .unwrap();
    let got: Vec<(DeliveryState, u64)> = counts.iter().map(|c| (c.state, c.count)).collect();
    assert_eq!(
        got,
        [
            (DeliveryState::Sending, 1),
            (DeliveryState::Queued, 3),
            (DeliveryState::Failed, 0),
            (DeliveryState::DeadLettered, 2),
        ]
    );
    assert!(store.outbox_counts(&[]).await.unwrap().is_empty());
}

/// Aggregates over the conversations opened in a range: counts per channel
/// and status, response-time percentiles, escalations (custom ones by
/// their code), SLA outcomes (breached then met counts once, as breached),
/// handoffs and CSAT; conversations outside the range count nowhere.
pub async fn conversation_stats_aggregate_in_range(store: S) {
    use carekit_core::store::{ConversationStatsBuilder, ResponseTimes};
    let c = customer("u1");
    let mut commit = Commit::new();
    commit.customers.push(c.clone());
    let mut records = Vec::new();
    // Five X conversations opened at minutes 0..5: first responses after
    // 60, 120, 180, 240 and 300 s (plus some microseconds); the first two
    // resolved after an hour, one of them closed.
    for i in 0..5i64 {
        let mut r = conversation(&c, None, i);
        r.first_response_at =
            Some(t(i) + Duration::seconds(60 * (i + 1)) + Duration::microseconds(999_999));
        if i == 0 {
            r.first_human_response_at = Some(t(i) + Duration::seconds(600));
        }
        if i < 2 {
            r.resolved_at = Some(t(i) + Duration::hours(1));
            r.status = if i == 0 {
                Status::Resolved
            } else {
                Status::Closed
            };
        }
        records.push(r);
    }
    // An SMS conversation, still open, resolved_at set but not counted.
    let mut sms =
        ConversationRecord::new(ChannelKind::Sms, "", Visibility::Private, c.clone(), t(2));
    sms.resolved_at = Some(t(3));
    records.push(sms.clone());
    // Opened before and after the range: counted nowhere.
    let mut early = conversation(&c, None, -10);
    early.first_response_at = Some(t(-9));
    records.push(early.clone());
    let late = conversation(&c, None, 60);
    records.push(late.clone());
    for r in &records {
        commit
            .conversations
            .push(ConversationWrite::Insert(r.clone()));
    }
    let x0 = records[0].id;
    let x1 = records[1].id;
    let audit = |id, kind| AuditEntry::new(id, t(1), kind);
    let escalated = |reason| AuditKind::Escalated(Escalation::new("p", reason, "because"));
    let sla = |metric, kind| {
        AuditKind::Sla(SlaEvent {
            policy: "frt".into(),
            metric,
            kind,
            due: None,
        })
    };
    commit.audit.extend([
        audit(x0, escalated(EscalationReason::new("vip"))),
        audit(x1, escalated(EscalationReason::new("vip"))),
        audit(x1, escalated(EscalationReason::new("legal"))),
        audit(
            sms.id,
            escalated(EscalationReason::new("crisis_term").with_detail("term", "lawyer")),
        ),
        audit(early.id, escalated(EscalationReason::new("vip"))),
        // x0 breached first response, then met it late: once, as breached.
        audit(x0, sla(SlaMetric::FirstResponse, SlaEventKind::Breached)),
        audit(x0, sla(SlaMetric::FirstResponse, SlaEventKind::Fulfilled)),
        audit(x1, sla(SlaMetric::FirstResponse, SlaEventKind::Fulfilled)),
        audit(x1, sla(SlaMetric::FirstResponse, SlaEventKind::Warning)),
        audit(x1, sla(SlaMetric::Resolution, SlaEventKind::Breached)),
        audit(
            x0,
            AuditKind::HandedOff {
                to: sms.id,
                channel: ChannelKind::Sms,
                by: Actor::Agent("ann".into()),
            },
        ),
        audit(
            sms.id,
            AuditKind::CsatRequested {
                message_id: MessageId::new(),
                agent: None,
            },
        ),
        audit(
            x1,
            AuditKind::CsatRequested {
                message_id: MessageId::new(),
                agent: None,
            },
        ),
        audit(
            sms.id,
            AuditKind::CsatAnswered {
                rating: 5,
                answer: "5".into(),
                agent: None,
            },
        ),
        audit(
            x1,
            AuditKind::CsatAnswered {
                rating: 2,
                answer: "meh".into(),
                agent: None,
            },
        ),
        audit(
            early.id,
            AuditKind::CsatAnswered {
                rating: 1,
                answer: "1".into(),
                agent: None,
            },
        ),
    ]);
    let trails: Vec<Vec<AuditEntry>> = records
        .iter()
        .map(|r| {
            commit
                .audit
                .iter()
                .filter(|a| a.conversation_id == r.id)
                .cloned()
                .collect()
        })
        .collect();
    store.apply(commit).await.unwrap();

    let (from, to) = (t(0), t(30));
    let stats = store.conversation_stats(from, to).await.unwrap();
    assert_eq!((stats.from, stats.to), (from, to));
    assert_eq!(stats.total.conversations, 6);
    let x = &stats.by_channel["twitter"];
    assert_eq!(x.conversations, 5);
    assert_eq!(
        x.by_status
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("closed", 1), ("open", 3), ("resolved", 1)]
    );
    assert_eq!(
        x.first_response,
        ResponseTimes::from_seconds(vec![60, 120, 180, 240, 300]),
        "whole seconds, rounded down"
    );
    assert_eq!(x.first_response.p50_s, Some(180));
    assert_eq!(x.first_response.p90_s, Some(300));
    assert_eq!(x.first_human_response.count, 1);
    assert_eq!(x.resolution, ResponseTimes::from_seconds(vec![3600, 3600]));
    assert_eq!(stats.by_channel["sms"].resolution.count, 0, "still open");
    assert_eq!(
        x.escalations
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("legal", 1), ("vip", 2)]
    );
    assert_eq!(stats.total.escalations["crisis_term"], 1);
    assert_eq!(
        stats.total.escalations["vip"], 2,
        "the early one is outside"
    );
    assert_eq!(x.sla_breached["first_response"], 1);
    assert_eq!(x.sla_met["first_response"], 1);
    assert_eq!(x.sla_breached["resolution"], 1);
    assert!(!x.sla_met.contains_key("resolution"));
    assert_eq!(x.handoffs, 1);
    assert_eq!(
        (stats.total.csat_requested, stats.total.csat_answered),
        (2, 2)
    );
    assert_eq!(stats.total.csat_mean, Some(3.5));
    assert_eq!(stats.by_channel["sms"].csat_mean, Some(5.0));
    assert_eq!(stats.total.first_response.count, 5);
    // The same figures as computed from whole records.
    let reference = ConversationStatsBuilder::from_records(
        from,
        to,
        records.iter().zip(trails.iter().map(Vec::as_slice)),
    );
    assert_eq!(stats, reference);
    // An empty range.
    let none = store.conversation_stats(t(100), t(200)).await.unwrap();
    assert_eq!(none.total.conversations, 0);
    assert!(none.by_channel.is_empty());
}

/// A commit may move identities between the customers it writes (a merge);
/// two customers of one commit cannot both hold one identity.
pub async fn identities_move_between_customers_of_one_commit(store: S) {
    let a = customer("a");
    let mut b = customer("b");
    b.link(Identity::new(ChannelKind::Sms, "+14155550100"));
    let mut commit = Commit::new();
    commit.customers = vec![a.clone(), b.clone()];
    store.apply(commit).await.unwrap();
    let mut kept = a.clone();
    let mut absorbed = b.clone();
    for identity in std::mem::take(&mut absorbed.identities) {
        kept.link(identity);
    }
    absorbed.merged_into = Some(kept.id);
    let mut commit = Commit::new();
    // The absorbing customer first: order within the commit must not matter.
    commit.customers = vec![kept.clone(), absorbed.clone()];
    store.apply(commit).await.unwrap();
    for (channel, handle) in [
        (ChannelKind::Twitter, "b"),
        (ChannelKind::Sms, "+14155550100"),
    ] {
        let owner = store.customer_by_identity(channel, handle).await.unwrap();
        assert_eq!(owner.map(|c| c.id), Some(kept.id), "{handle}");
    }
    let gone = store.customer(absorbed.id).await.unwrap().unwrap();
    assert_eq!(gone.merged_into, Some(kept.id));
    assert!(gone.identities.is_empty());
    // Two customers of one commit claiming one identity: refused whole.
    let c = customer("c");
    let mut d = customer("d");
    d.link(Identity::new(ChannelKind::Twitter, "c"));
    let mut commit = Commit::new();
    commit.customers = vec![c.clone(), d.clone()];
    assert!(matches!(
        store.apply(commit).await,
        Err(StoreError::Constraint(_))
    ));
    assert!(store.customer(c.id).await.unwrap().is_none());
}

/// An item the platform accepted is never written back to queued or sending
/// (a late failure path or a stale requeue leaves it as it is); later
/// delivery states and failures still apply.
pub async fn accepted_outbox_items_never_regress(store: S) {
    let c = customer("u1");
    let record = conversation(&c, None, 0);
    let mut commit = new_conversation_commit(&c, &record, vec![]);
    let mut item = outbox_item(&record, 0);
    item.state = DeliveryState::Sent;
    item.provider_id = Some("p1".into());
    commit.outbox.push(item.clone());
    store.apply(commit).await.unwrap();
    for state in [DeliveryState::Queued, DeliveryState::Sending] {
        let mut stale = item.clone();
        stale.state = state;
        stale.provider_id = None;
        let mut commit = Commit::new();
        commit.outbox.push(stale);
        store.apply(commit).await.unwrap();
        let stored = store.outbox_item(item.id).await.unwrap().unwrap();
        assert_eq!(stored.state, DeliveryState::Sent, "{state:?}");
        assert_eq!(stored.provider_id.as_deref(), Some("p1"));
    }
    assert!(
        store
            .claim_outbox(&claim("w1", 60, 10))
            .await
            .unwrap()
            .is_empty()
    );
    for state in [DeliveryState::Delivered, DeliveryState::Failed] {
        let mut later = item.clone();
        later.state = state;
        let mut commit = Commit::new();
        commit.outbox.push(later);
        store.apply(commit).await.unwrap();
        assert_eq!(
            store.outbox_item(item.id).await.unwrap().unwrap().state,
            state
        );
    }
}

/// `outbox_expect` applies a commit only while each item is still in the
/// state it was read in; otherwise nothing of the commit is written.
pub async fn outbox_expectations_guard_the_whole_commit(store: S) {
    let c = customer("u1");
    let record = conversation(&c, None, 0);
    let mut commit = new_conversation_commit(&c, &record, vec![]);
    let mut item = outbox_item(&record, 0);
    item.state = DeliveryState::Failed;
    commit.outbox.push(item.clone());
    store.apply(commit).await.unwrap();
    let mut requeued = item.clone();
    requeued.state = DeliveryState::Queued;
    let mut guarded = Commit::new();
    guarded.outbox.push(requeued.clone());
    guarded.outbox_expect.push((item.id, DeliveryState::Failed));
    guarded
        .dedupe
        .push((ChannelKind::Twitter, "guarded".into()));
    store.apply(guarded.clone()).await.unwrap();
    assert_eq!(
        store.outbox_item(item.id).await.unwrap().unwrap().state,
        DeliveryState::Queued
    );
    // The same guarded commit again: the item is no longer failed.
    guarded.dedupe = vec![(ChannelKind::Twitter, "guarded-2".into())];
    assert!(matches!(
        store.apply(guarded).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !store.seen(ChannelKind::Twitter, "guarded-2").await.unwrap(),
        "nothing of the refused commit was written"
    );
    // A guard without a write checks the state alone.
    let mut check = Commit::new();
    check.outbox_expect.push((item.id, DeliveryState::Queued));
    check.dedupe.push((ChannelKind::Twitter, "checked".into()));
    store.apply(check).await.unwrap();
    let mut check = Commit::new();
    check.outbox_expect.push((item.id, DeliveryState::Sent));
    assert!(matches!(
        store.apply(check).await,
        Err(StoreError::Conflict(_))
    ));
}

/// A value swapped from what was read is written only if it still holds
/// that, and of many workers swapping one absent key at once exactly one
/// wins (the private-reply ledger relies on it).
pub async fn value_swaps_are_atomic(store: S) {
    use carekit_core::KeyValues;
    assert!(store.swap_value("ledger:a", None, "one").await.unwrap());
    assert!(!store.swap_value("ledger:a", None, "two").await.unwrap());
    assert!(
        !store
            .swap_value("ledger:a", Some("stale"), "two")
            .await
            .unwrap()
    );
    assert_eq!(
        store.load_value("ledger:a").await.unwrap().as_deref(),
        Some("one")
    );
    assert!(
        store
            .swap_value("ledger:a", Some("one"), "two")
            .await
            .unwrap()
    );
    assert_eq!(
        store.load_value("ledger:a").await.unwrap().as_deref(),
        Some("two")
    );
    // A failed expectation leaves the rest of its commit unwritten.
    let mut commit = Commit::new();
    commit.values.push(("ledger:a".into(), "three".into()));
    commit
        .values_expect
        .push(("ledger:a".into(), Some("one".into())));
    commit
        .dedupe
        .push((ChannelKind::Facebook, "swap-lost".into()));
    assert!(matches!(
        store.apply(commit).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !store
            .seen(ChannelKind::Facebook, "swap-lost")
            .await
            .unwrap()
    );
    // Sixteen claims of one key at once: one wins, and it is what is stored.
    let mut claims = tokio::task::JoinSet::new();
    for n in 0..16 {
        let store = store.clone();
        claims.spawn(async move {
            let mine = format!("pending:{n}");
            let won = store.swap_value("ledger:b", None, &mine).await.unwrap();
            (won, mine)
        });
    }
    let mut winners = Vec::new();
    while let Some(done) = claims.join_next().await {
        let (won, mine) = done.unwrap();
        if won {
            winners.push(mine);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        store.load_value("ledger:b").await.unwrap(),
        Some(winners[0].clone())
    );
}

/// A varied set of conversations for the filter cases: assignees, teams,
/// tags, escalations, deadlines, equal opening times, and messages in
/// several languages. Returns them whole, as the store reads them.
async fn filter_fixture(store: &S) -> Vec<ConversationRecord> {
    let texts = [
        "My delivery is LATE again!",
        "El pedido llegó con retraso",
        "задержка доставки",
        "refund please, order 12345",
        "Lieferung verspätet",
        "great service, thanks",
        "\"quoted\" words AND operators NEAR(x y) -minus *star",
        "late late late",
        "100% _under_ score\\back",
        "Café au lait",
    ];
    let handles = [
        "ann_lee", "bob", "Carla.M", "dan%", "eve_x", "fay", "gus", "hal", "ivy", "jo",
    ];
    let mut ids = Vec::new();
    for (i, (text, handle)) in texts.iter().zip(handles).enumerate() {
        let cust = customer(handle);
        // Pairs opened at the same minute: the id breaks the tie.
        let mut r = conversation(&cust, None, (i as i64 / 2) * 10);
        r.assignee = (i % 3 != 0).then(|| format!("agent-{}", i % 3));
        r.team = (i % 4 == 1).then(|| "billing".to_owned());
        if i % 2 == 0 {
            r.tags.insert("vip".into());
        }
        if i % 5 == 0 {
            r.tags.insert("incident:inc-1".into());
        }
        r.escalation_level = u8::from(i % 3 == 2) * 2;
        r.next_deadline = (i % 2 == 1).then(|| t(100 + i as i64));
        r.priority = if i % 4 == 0 {
            Priority::High
        } else {
            Priority::Normal
        };
        let m = message(&r, &format!("x-{i}"), (i as i64 / 2) * 10, text);
        store
            .apply(new_conversation_commit(&cust, &r, vec![m]))
            .await
            .unwrap();
        ids.push(r.id);
    }
    // An update moves the indexed columns and tags: the list follows it.
    let mut first = store.conversation(ids[0]).await.unwrap().unwrap();
    let expected = first.version;
    first.version += 1;
    first.assignee = Some("agent-9".into());
    first.tags.remove("vip");
    first.tags.insert("moved".into());
    first.escalation_level = 1;
    let mut commit = Commit::new();
    commit.conversations.push(ConversationWrite::Update {
        record: first,
        expected_version: expected,
    });
    store.apply(commit).await.unwrap();
    let mut whole = Vec::new();
    for id in ids {
        whole.push(store.conversation(id).await.unwrap().unwrap());
    }
    whole
}

/// What `filter` must list: `matches` over whole records, in the order.
fn expected(records: &[ConversationRecord], filter: &ConversationFilter) -> Vec<ConversationId> {
    let mut found: Vec<&ConversationRecord> =
        records.iter().filter(|r| filter.matches(r)).collect();
    found.sort_by_key(|r| std::cmp::Reverse((r.opened_at, r.id)));
    found
        .into_iter()
        .take(filter.limit.unwrap_or(usize::MAX))
        .map(|r| r.id)
        .collect()
}

async fn listed(store: &S, filter: &ConversationFilter) -> Vec<ConversationId> {
    store
        .list_conversations(filter)
        .await
        .unwrap_or_else(|e| panic!("{filter:?} failed: {e}"))
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Every filter lists exactly what [`ConversationFilter::matches`] keeps,
/// alone and in combinations drawn by a seeded generator.
pub async fn list_filters_agree_with_matches(store: S) {
    let records = filter_fixture(&store).await;
    let singles = [
        ConversationFilter::all().with_assignee("agent-1"),
        ConversationFilter::all().with_assignee("agent-9"),
        ConversationFilter::all().with_assignee("nobody"),
        ConversationFilter::all().with_team("billing"),
        ConversationFilter::all().with_tag("vip"),
        ConversationFilter::all().with_tag("moved"),
        ConversationFilter::all().with_tag("incident:inc-1"),
        ConversationFilter::all().with_escalated(true),
        ConversationFilter::all().with_escalated(false),
        ConversationFilter::all().with_due_before(t(105)),
        ConversationFilter::all().with_priority(Priority::High),
    ];
    for filter in &singles {
        let want = expected(&records, filter);
        assert_eq!(listed(&store, filter).await, want, "{filter:?}");
    }
    // Some of them select something, and not everything.
    assert_eq!(
        listed(&store, &ConversationFilter::all().with_assignee("agent-9")).await,
        vec![records[0].id]
    );
    assert!(
        listed(&store, &ConversationFilter::all().with_tag("vip"))
            .await
            .iter()
            .all(|id| *id != records[0].id),
        "a removed tag no longer lists"
    );
    // Combinations: a small linear congruential generator, seeded, so a
    // failure repeats.
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for _ in 0..60 {
        let mut f = ConversationFilter::all();
        if next(2) == 0 {
            f = f.with_assignee(format!("agent-{}", next(3)));
        }
        if next(3) == 0 {
            f = f.with_team("billing");
        }
        if next(3) == 0 {
            f = f.with_tag(["vip", "moved", "incident:inc-1"][next(3) as usize]);
        }
        if next(3) == 0 {
            f = f.with_escalated(next(2) == 0);
        }
        if next(3) == 0 {
            f = f.with_due_before(t(100 + next(12) as i64));
        }
        if next(3) == 0 {
            f = f.with_search(SearchQuery::new(
                ["late", "retraso", "a", "order 12345", "AND", "ann"][next(6) as usize],
            ));
        }
        if next(3) == 0 {
            let r = &records[next(records.len() as u64) as usize];
            f = f.after(ListPosition::of(r));
        }
        if next(2) == 0 {
            f = f.with_limit(1 + next(4) as usize);
        }
        let want = expected(&records, &f);
        assert_eq!(listed(&store, &f).await, want, "{f:?}");
    }
}

/// Pages of a listing, each after the last one's end, list every
/// conversation once in order, also where opening times are equal.
pub async fn pages_follow_the_listing_order(store: S) {
    let records = filter_fixture(&store).await;
    let all = expected(&records, &ConversationFilter::all());
    assert_eq!(listed(&store, &ConversationFilter::all()).await, all);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let mut filter = ConversationFilter::all().with_limit(3);
        if let Some(position) = after {
            filter = filter.after(position);
        }
        let page = store.list_conversations(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(ListPosition::of);
        seen.extend(page.iter().map(|r| r.id));
        assert!(seen.len() <= all.len(), "pages repeat conversations");
    }
    assert_eq!(seen, all);
}

/// A search finds whole words of any message (any language, any case),
/// and part of a customer's handle; quotes, FTS operators, LIKE wildcards
/// and SQL are only text, and every backend finds what `matches` finds.
pub async fn search_finds_words_and_handles_and_survives_hostile_text(store: S) {
    let records = filter_fixture(&store).await;
    let search = |q: &str| ConversationFilter::all().with_search(SearchQuery::new(q));
    for (q, index) in [
        ("late", 0),
        ("DELIVERY late", 0),
        ("retraso", 1),
        ("задержка", 2),
        ("order 12345", 3),
        ("verspätet", 4),
        ("ann_l", 0),
        ("CARLA.m", 2),
        ("dan%", 3),
    ] {
        let found = listed(&store, &search(q)).await;
        assert!(
            found.contains(&records[index].id),
            "{q:?} finds {index}: {found:?}"
        );
        assert_eq!(found, expected(&records, &search(q)), "{q:?}");
    }
    // Whole words, not parts of them; every word in one message.
    assert!(listed(&store, &search("deliv")).await.is_empty());
    assert!(listed(&store, &search("late refund")).await.is_empty());
    let hostile = [
        "\"",
        "\"\"\"",
        "'",
        "' OR 1=1 --",
        "'; DROP TABLE conversations; --",
        "*",
        "late*",
        "NEAR(late delivery)",
        "AND",
        "late AND OR NOT",
        "-minus",
        "^late",
        "body:late",
        "(",
        ")",
        "%",
        "_",
        "\\",
        "100%",
        "{}[]",
        "\u{0}",
        "late\u{0}delivery",
        "🙂🙂",
        "   ",
        &"late ".repeat(500),
        &"x".repeat(5_000),
    ];
    for q in hostile {
        let filter = search(q);
        let found = store
            .list_conversations(&filter)
            .await
            .unwrap_or_else(|e| panic!("search {q:?} failed: {e}"));
        let found: Vec<_> = found.into_iter().map(|r| r.id).collect();
        assert_eq!(found, expected(&records, &filter), "{q:?}");
    }
    assert_eq!(
        listed(&store, &search("\"quoted\"")).await,
        vec![records[6].id]
    );
    assert!(listed(&store, &search("_")).await.contains(&records[4].id));
}

/// Reads the feed after `after` until it holds `n` changes: a store may
/// hold a committed change back while an older transaction is still running
/// (Postgres, under other tests' load), never longer.
async fn feed_of(
    store: &S,
    after: carekit_core::store::ChangePosition,
    n: usize,
) -> carekit_core::store::ChangePage {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = store.changes_after(after, n.max(1) * 2).await.unwrap();
        if page.changes.len() >= n || std::time::Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The change feed: each commit's changes in commit order, positions
/// strictly increasing, a failed commit writes none, presence joins the
/// feed, reads resume after a position exactly, and pruning reports a gap
/// to a reader from before it. Concurrent commits reach a polling reader
/// each exactly once.
pub async fn change_feed_follows_commits(store: S) {
    use carekit_core::store::{Activity, ChangeKind, ChangePosition, Presence};
    assert_eq!(store.change_head().await.unwrap(), ChangePosition::ORIGIN);
    let empty = store
        .changes_after(ChangePosition::ORIGIN, 10)
        .await
        .unwrap();
    assert!(empty.changes.is_empty() && !empty.gap);

    let c = customer("feed");
    let record = conversation(&c, Some("feed-thread"), 0);
    let inbound = message(&record, "feed-1", 1, "where is my parcel");
    let mut commit = new_conversation_commit(&c, &record, vec![inbound.clone()]);
    commit.dedupe.push((ChannelKind::Twitter, "feed-1".into()));
    commit.audit.push(AuditEntry::new(
        record.id,
        t(1),
        AuditKind::Assigned {
            agent: Some("ana".into()),
            team: None,
            by: Actor::System,
        },
    ));
    commit.audit.push(AuditEntry::new(
        record.id,
        t(1),
        AuditKind::Note {
            text: "not in the feed".into(),
        },
    ));
    store.apply(commit.clone()).await.unwrap();
    // A replay fails whole: none of its changes are written.
    assert!(store.apply(commit).await.is_err());

    let page = feed_of(&store, ChangePosition::ORIGIN, 3).await;
    assert!(!page.gap);
    let kinds: Vec<&str> = page.changes.iter().map(|c| c.kind.name()).collect();
    assert_eq!(kinds, ["opened", "message", "assigned"], "{page:?}");
    assert!(
        page.changes
            .iter()
            .all(|ch| ch.conversation == Some(record.id))
    );
    assert_eq!(
        page.changes[1].kind,
        ChangeKind::Message {
            message: inbound.id,
            direction: Direction::Inbound,
            visibility: Visibility::Public,
        }
    );
    assert!(
        page.changes
            .windows(2)
            .all(|w| w[0].position < w[1].position)
    );
    assert_eq!(store.change_head().await.unwrap(), page.changes[2].position);

    // An outbound message past queued is a delivery change.
    let mut sent = Message::new(
        record.id,
        Direction::Outbound,
        Author::Bot,
        Visibility::Public,
        "on its way",
        t(2),
    );
    sent.delivery = Some(DeliveryState::Sent);
    let mut commit = Commit::new();
    commit.messages.push(sent.clone());
    store.apply(commit).await.unwrap();
    let agent = AgentId::new();
    store
        .announce(&Presence::new(
            record.id,
            agent,
            Activity::Typing,
            t(3),
            t(4),
        ))
        .await
        .unwrap();
    let after = page.changes[2].position;
    let rest = feed_of(&store, after, 2).await;
    assert_eq!(rest.changes.len(), 2, "{rest:?}");
    assert_eq!(
        rest.changes[0].kind,
        ChangeKind::Delivery {
            message: sent.id,
            state: DeliveryState::Sent
        }
    );
    assert_eq!(
        rest.changes[1].kind,
        ChangeKind::Presence {
            agent,
            activity: Activity::Typing,
            until: t(4)
        }
    );
    assert!(rest.changes[0].position > after);
    // The limit is honoured, and a read resumes right after it.
    let one = store.changes_after(after, 1).await.unwrap();
    assert_eq!(one.changes.len(), 1);
    let next = store
        .changes_after(one.changes[0].position, 10)
        .await
        .unwrap();
    assert_eq!(next.changes, rest.changes[1..].to_vec());

    // Concurrent commits: a reader polling meanwhile gets each once, in order.
    let start = store.change_head().await.unwrap();
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..16 {
        let store = store.clone();
        let record = record.clone();
        writers.spawn(async move {
            let mut commit = Commit::new();
            commit
                .messages
                .push(message(&record, &format!("feed-c{n}"), 10 + n, "again"));
            store.apply(commit).await.unwrap();
        });
    }
    let mut seen = Vec::new();
    let mut position = start;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < 16 {
        assert!(std::time::Instant::now() < deadline, "saw only {seen:?}");
        let page = store.changes_after(position, 3).await.unwrap();
        for change in page.changes {
            assert!(change.position > position);
            position = change.position;
            seen.push(change.position);
        }
        tokio::task::yield_now().await;
    }
    while writers.join_next().await.is_some() {}
    // Written last (the replay above must not have slipped in later).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let last = store.changes_after(position, 10).await.unwrap();
    assert!(last.changes.is_empty(), "nothing twice: {last:?}");

    // Pruning keeps the newest; a reader from before the pruned part is told.
    let total = 3 + 2 + 16;
    let pruned = store.prune_changes(5).await.unwrap();
    assert_eq!(pruned, total - 5);
    let from_start = store
        .changes_after(ChangePosition::ORIGIN, 100)
        .await
        .unwrap();
    assert!(from_start.gap);
    assert_eq!(from_start.changes.len(), 5);
    assert_eq!(from_start.changes.last().unwrap().position, position);
    let recent = store
        .changes_after(seen[seen.len() - 6], 100)
        .await
        .unwrap();
    assert!(!recent.gap, "nothing after it was pruned");
    assert_eq!(recent.changes.len(), 5);
    assert_eq!(store.change_head().await.unwrap(), position);
    assert_eq!(store.prune_changes(5).await.unwrap(), 0);
}

/// Writes one `#[tokio::test]` per conformance case, each with a fresh
/// store from `$make` (an expression evaluating to a future of
/// `Arc<dyn Store>`). Use it inside a test module.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@cases $make;
            dedupe_key_is_stored_once,
            conversation_round_trips,
            stale_updates_conflict,
            one_open_conversation_per_thread_key,
            identities_have_one_owner,
            commits_are_atomic,
            concurrent_commits_fail_alone,
            filters_list_newest_first,
            consent_and_values_persist,
            outbox_claims_are_exclusive_and_leased,
            concurrent_outbox_claims_never_overlap,
            due_deadlines_are_claimed_in_order,
            awaiting_handoff_is_found,
            outbox_counts_group_by_state,
            conversation_stats_aggregate_in_range,
            identities_move_between_customers_of_one_commit,
            accepted_outbox_items_never_regress,
            outbox_expectations_guard_the_whole_commit,
            value_swaps_are_atomic,
            list_filters_agree_with_matches,
            pages_follow_the_listing_order,
            search_finds_words_and_handles_and_survives_hostile_text,
            change_feed_follows_commits
        );
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(store) = $make.await {
                    $crate::conformance::$case(store).await;
                }
            }
        )*
    };
}
