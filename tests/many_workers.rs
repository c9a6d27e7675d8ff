//! Two workers of one desk, each with its own store handle on one database
//! (a SQLite file; Postgres when `CAREKIT_TEST_POSTGRES_URL` is set), as two
//! `carekit-desk` processes would be: a decision made through one holds on
//! the other. Crisis mode switched on one worker holds back the other's
//! public automated replies within `SHARED_STATE_MAX_AGE`; a channel
//! degraded on one (a revoked token) holds the other's sends, and replacing
//! its credentials on one releases them on both; round-robin assignment
//! across both is even, with each agent's load kept in the store; and of
//! the two only one ever claims a ledger key.

use carekit::desk::{
    Action, Agent, Assigner, AutoAcknowledge, Rule, RuleContext, SHARED_STATE_MAX_AGE,
};
use carekit::store_sql::SqlStore;
use carekit::*;
use carekit_testing::{RecordingChannel, at, sample_event};
use std::sync::Arc;

/// Assigns every new conversation round-robin.
struct AssignNew;

impl Rule for AssignNew {
    fn name(&self) -> &str {
        "assign-new"
    }
    fn on_inbound(&self, _: &dyn Conversation, ctx: &RuleContext<'_>) -> Vec<Action> {
        if ctx.new_conversation {
            vec![Action::AutoAssign { team: None }]
        } else {
            Vec::new()
        }
    }
}

struct Worker {
    desk: Desk,
    store: Arc<dyn Store>,
    x: Arc<RecordingChannel>,
}

async fn worker(name: &str, store: SqlStore) -> Worker {
    let store: Arc<dyn Store> = Arc::new(store);
    let x = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    let desk = Desk::builder()
        .store(store.clone())
        .worker_name(name)
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:00:00Z"))))
        .channel(x.clone())
        .rule(Arc::new(AutoAcknowledge::everyone(
            "Sorry to hear that, looking now.",
            "",
        )))
        .rule(Arc::new(AssignNew))
        .assigner(Assigner::new(
            ["ann", "bob", "cy"]
                .into_iter()
                .map(|id| Agent::new(id, 100))
                .collect(),
        ))
        .build()
        .unwrap();
    Worker { desk, store, x }
}

/// Whether the desk queued its public acknowledgement for this tweet.
async fn acknowledged(w: &Worker, id: &str) -> bool {
    let event = sample_event(
        ChannelKind::Twitter,
        id,
        &format!("h-{id}"),
        "the app is down",
        at("2026-03-02T09:00:00Z"),
    );
    let conversation = w
        .desk
        .ingest(event)
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    w.desk
        .conversation(conversation)
        .await
        .unwrap()
        .messages
        .len()
        == 2
}

async fn two_workers_share_their_decisions(a: Worker, b: Worker) {
    assert!(acknowledged(&b, "1").await, "calm: acknowledged");

    // Worker A switches crisis mode on, with a holding statement.
    a.desk
        .set_crisis_mode(true, Some("We know the app is down; updates here.".into()))
        .await
        .unwrap();
    assert!(a.desk.crisis_mode());
    // B read the state less than SHARED_STATE_MAX_AGE ago; once that has
    // passed, its next decision follows A's switch.
    tokio::time::sleep(SHARED_STATE_MAX_AGE + std::time::Duration::from_millis(100)).await;
    assert!(!acknowledged(&b, "2").await, "crisis: held back on B too");
    assert!(b.desk.crisis_mode());
    assert_eq!(
        b.desk.crisis_switch().holding_statement().as_deref(),
        Some("We know the app is down; updates here.")
    );

    // B stands down; A follows after the same bound, and the holding
    // statement B did not mention is kept.
    b.desk.set_crisis_mode(false, None).await.unwrap();
    tokio::time::sleep(SHARED_STATE_MAX_AGE + std::time::Duration::from_millis(100)).await;
    assert!(acknowledged(&a, "3").await, "calm again on A");
    assert!(!a.desk.crisis_mode());
    assert!(a.desk.crisis_switch().holding_statement().is_some());

    // A's token is revoked: its send fails, and X is degraded on both.
    a.x.fail_with((0..10).map(|_| ChannelError::Unauthorized {
        reason: "token revoked".into(),
    }));
    assert!(acknowledged(&a, "4").await);
    a.desk.run_outbox_once().await.unwrap();
    assert!(!a.desk.channel_health().is_empty(), "degraded on A");
    tokio::time::sleep(SHARED_STATE_MAX_AGE + std::time::Duration::from_millis(100)).await;
    assert!(acknowledged(&b, "5").await);
    let b_sent_before = b.x.sent().len();
    let report = b.desk.run_outbox_once().await.unwrap();
    assert_eq!(
        b.x.sent().len(),
        b_sent_before,
        "B holds its X sends too: {report:?}"
    );
    assert!(
        matches!(
            b.desk.channel_health().first(),
            Some((ChannelKind::Twitter, desk::ChannelHealth::Degraded { .. }))
        ),
        "{:?}",
        b.desk.channel_health()
    );
    // New credentials on A release what both held; B sends once it has
    // read that X is healthy again.
    let fresh = Arc::new(RecordingChannel::new(ChannelKind::Twitter));
    a.desk.replace_channel(fresh.clone()).await.unwrap();
    tokio::time::sleep(SHARED_STATE_MAX_AGE + std::time::Duration::from_millis(100)).await;
    b.desk.run_outbox_once().await.unwrap();
    assert!(b.desk.channel_health().is_empty());
    assert!(b.x.sent().len() > b_sent_before, "B sends again");
    a.desk.run_outbox_once().await.unwrap();
    b.desk.run_outbox_once().await.unwrap();
    // Everything queued went out, each once, wherever it was held.
    let waiting = a
        .store
        .outbox_counts(&[DeliveryState::Queued, DeliveryState::Sending])
        .await
        .unwrap();
    assert_eq!(
        waiting.iter().map(|c| c.count).sum::<u64>(),
        0,
        "{waiting:?}"
    );
    let mut outbound = 0;
    for c in a
        .store
        .list_conversations(&ConversationFilter::default())
        .await
        .unwrap()
    {
        for m in &c.messages {
            if m.direction == Direction::Outbound {
                assert_eq!(m.delivery, Some(DeliveryState::Sent), "{m:?}");
                outbound += 1;
            }
        }
    }
    assert_eq!(
        a.x.sent().len() + fresh.sent().len() + b.x.sent().len(),
        outbound,
        "each acknowledgement sent once"
    );

    // Twelve new conversations, two at a time, one on each worker: the
    // rotation is shared, so the three agents get the same number (±1),
    // and the stored loads match what is assigned.
    for pair in 0..6 {
        let (ia, ib) = (format!("rr-a-{pair}"), format!("rr-b-{pair}"));
        tokio::join!(acknowledged(&a, &ia), acknowledged(&b, &ib));
    }
    let open = a
        .store
        .list_conversations(&ConversationFilter::default())
        .await
        .unwrap();
    let mut assigned = std::collections::BTreeMap::<String, usize>::new();
    for c in &open {
        let agent = c.assignee.clone().expect("every conversation assigned");
        *assigned.entry(agent).or_default() += 1;
    }
    let (least, most) = (
        assigned.values().min().copied().unwrap(),
        assigned.values().max().copied().unwrap(),
    );
    assert!(most - least <= 1, "{assigned:?}");
    let state = b.desk.assignment_state().await.unwrap();
    assert_eq!(state.loads, assigned, "stored loads match the assignments");
    // Resolving on one worker frees the agent's capacity for both.
    let first = &open[0];
    let holder = first.assignee.clone().unwrap();
    b.desk
        .resolve(first.id, Actor::Agent(holder.clone()))
        .await
        .unwrap();
    assert_eq!(
        a.desk.assignment_state().await.unwrap().load(&holder),
        assigned[&holder] - 1
    );

    // Both claim one ledger key at once, many times: one wins each time.
    for n in 0..20 {
        let key = format!("facebook:private_reply:race_{n}");
        let (sa, sb) = (a.store.clone(), b.store.clone());
        let (ka, kb) = (key.clone(), key.clone());
        let (won_a, won_b) = tokio::join!(
            async move { sa.swap_value(&ka, None, "pending:a").await.unwrap() },
            async move { sb.swap_value(&kb, None, "pending:b").await.unwrap() },
        );
        assert!(won_a ^ won_b, "exactly one claim wins ({won_a}, {won_b})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let a = worker("a", SqlStore::open(&url).await.unwrap()).await;
    let b = worker("b", SqlStore::open(&url).await.unwrap()).await;
    two_workers_share_their_decisions(a, b).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_schema() {
    let Ok(url) = std::env::var("CAREKIT_TEST_POSTGRES_URL") else {
        eprintln!(
            "\n!!! SKIPPED two_workers_on_one_postgres_schema: set CAREKIT_TEST_POSTGRES_URL (CI does) !!!\n"
        );
        return;
    };
    let schema = format!("workers_{}", std::process::id());
    let open = || SqlStore::builder(&url).schema(schema.clone()).open();
    let a = worker("a", open().await.unwrap()).await;
    let b = worker("b", open().await.unwrap()).await;
    two_workers_share_their_decisions(a, b).await;
}
