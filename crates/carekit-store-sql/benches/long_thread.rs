//! One long thread through the desk on SQLite and Postgres: the cost of a
//! customer's 1,000th message in one email conversation against the 1st
//! (and the 1,500th against the 300th), each a ratio measured in one run.
//!
//! Each round ingests one email thread of [`MESSAGES`] customer messages
//! (one customer, one thread key: one conversation) through
//! [`Desk::ingest`], with one policy (three unanswered messages escalate),
//! and times every message, by the wall clock and by the process's CPU
//! time (which other work on a shared machine barely moves; it leaves out
//! the Postgres server's work). A message's cost is its median over the
//! rounds; a window's cost (messages 1-10, 291-300, 991-1,000 and
//! 1,491-1,500) is the median of its messages' costs. Right after each
//! window a fresh thread of ten messages is ingested too, so that each
//! window also has "the 1st" measured under the same load of a shared
//! machine (the run is minutes long). After the last round the two reads
//! every ingest into that conversation makes, the whole conversation and
//! its whole audit trail, are timed on their own.
//!
//! ```text
//! CAREKIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p carekit-store-sql --all-features --bench long_thread
//! ```

use carekit_core::desk::IngestOutcome;
use carekit_core::*;
use carekit_store_sql::SqlStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGES: usize = 1_500;
const ROUNDS: usize = 3;

/// The windows reported, as 1-based inclusive message numbers.
const WINDOWS: [(usize, usize); 4] = [(1, 10), (291, 300), (991, 1_000), (1_491, 1_500)];

/// Message `i` (0-based) of thread `thread`.
fn event(thread: &str, i: usize) -> InboundEvent {
    let id = |i: usize| format!("<{thread}-m{i}@mail.example.com>");
    let event = InboundEvent::message(
        ChannelKind::Email,
        Visibility::Private,
        id(i),
        Identity::new(ChannelKind::Email, format!("customer-{thread}@example.com")),
        "Hello, my order #4411 is two weeks late and nobody answers. \
         Could someone tell me where it is? Thanks, Sam",
        chrono::DateTime::from_timestamp(1_760_000_000 + i as i64, 0).unwrap(),
    )
    .with_account("support@acme.example")
    .with_subject("Order #4411")
    .with_thread_key(id(0));
    if i == 0 {
        event
    } else {
        event.with_parent(id(i - 1))
    }
}

/// The process's CPU time so far, every thread (the store's writer
/// included): unlike the wall clock, barely moved by other work on the
/// machine.
fn cpu_time() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One message's cost: wall-clock time and the process's CPU time.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// Ingests messages `from..to` of `thread`, checking that each threads into
/// the thread's one conversation, and returns each one's cost.
async fn ingest(desk: &Desk, thread: &str, from: usize, to: usize) -> (Vec<Cost>, ConversationId) {
    let mut costs = Vec::with_capacity(to - from);
    let mut conversation = None;
    for i in from..to {
        let e = event(thread, i);
        let (t, c) = (Instant::now(), cpu_time());
        let outcome = desk.ingest(e).await.unwrap();
        costs.push(Cost {
            wall: t.elapsed(),
            cpu: cpu_time() - c,
        });
        let IngestOutcome::Ingested {
            conversation_id,
            new_conversation,
            ..
        } = outcome
        else {
            panic!("message {i} of {thread} not ingested: {outcome:?}");
        };
        assert_eq!(new_conversation, i == 0, "message {i} of {thread}");
        assert!(
            conversation.is_none_or(|c| c == conversation_id),
            "message {i} of {thread}"
        );
        conversation = Some(conversation_id);
    }
    (costs, conversation.unwrap())
}

/// Per round: the long thread's per-message costs, and per window a fresh
/// thread's ten; and the last round's conversation.
async fn run(store: Arc<SqlStore>) -> (Vec<Vec<Cost>>, Vec<Vec<Vec<Cost>>>, ConversationId) {
    let desk = Desk::builder()
        .store(store)
        .policy(Arc::new(carekit_policy::builtin::RepeatedContact::new(3)))
        .build()
        .unwrap();
    let mut rounds = Vec::new();
    let mut probes = Vec::new();
    let mut last = None;
    for round in 0..ROUNDS {
        let thread = format!("r{round}");
        let mut costs = Vec::with_capacity(MESSAGES);
        let mut fresh = Vec::new();
        let mut conversation = None;
        let mut at = 0;
        for (w, (_, to)) in WINDOWS.iter().enumerate() {
            let (c, id) = ingest(&desk, &thread, at, *to).await;
            costs.extend(c);
            at = *to;
            // Every message of the round is in its one conversation.
            assert!(conversation.is_none_or(|c| c == id), "round {round}");
            conversation = Some(id);
            let (c, _) = ingest(&desk, &format!("r{round}-fresh{w}"), 0, 10).await;
            fresh.push(c);
        }
        rounds.push(costs);
        probes.push(fresh);
        last = conversation;
    }
    (rounds, probes, last.unwrap())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// The long thread's window costs and, per window, the fresh thread's
/// (medians as described above), by `pick` (wall or CPU).
fn windows(
    rounds: &[Vec<Cost>],
    probes: &[Vec<Vec<Cost>>],
    pick: fn(&Cost) -> Duration,
) -> (Vec<Duration>, Vec<Duration>) {
    let cost: Vec<Duration> = (0..MESSAGES)
        .map(|i| median(rounds.iter().map(|r| pick(&r[i])).collect()))
        .collect();
    let long = WINDOWS
        .iter()
        .map(|(from, to)| median(cost[from - 1..*to].to_vec()))
        .collect();
    let fresh = (0..WINDOWS.len())
        .map(|w| {
            let cost: Vec<Duration> = (0..10)
                .map(|i| median(probes.iter().map(|p| pick(&p[w][i])).collect()))
                .collect();
            median(cost)
        })
        .collect();
    (long, fresh)
}

async fn report(name: &str, store: Arc<SqlStore>) {
    let (rounds, probes, conversation) = run(store.clone()).await;
    let (wall, wall_fresh) = windows(&rounds, &probes, |c| c.wall);
    let (cpu, cpu_fresh) = windows(&rounds, &probes, |c| c.cpu);
    println!("{name}: one email thread of {MESSAGES} customer messages, {ROUNDS} rounds");
    println!(
        "  {:<10} | {:>9} {:>13} {:>7} | {:>9} {:>13} {:>7}",
        "messages", "wall µs", "fresh 1-10 µs", "ratio", "CPU µs", "fresh 1-10 µs", "ratio"
    );
    for (w, (from, to)) in WINDOWS.iter().enumerate() {
        println!(
            "  {:<10} | {:>9.0} {:>13.0} {:>6.2}x | {:>9.0} {:>13.0} {:>6.2}x",
            format!("{from}-{to}"),
            micros(wall[w]),
            micros(wall_fresh[w]),
            ratio(wall[w], wall_fresh[w]),
            micros(cpu[w]),
            micros(cpu_fresh[w]),
            ratio(cpu[w], cpu_fresh[w]),
        );
    }
    for (label, long, fresh) in [("wall", &wall, &wall_fresh), ("CPU", &cpu, &cpu_fresh)] {
        println!(
            "  {label}: 1,000th / 1st {:.2}x (against the thread's own 1-10; {:.2}x against a fresh \
             thread's 1-10 measured right after; goal: at most 1.3x), 1,500th / 300th {:.2}x",
            ratio(long[2], long[0]),
            ratio(long[2], fresh[2]),
            ratio(long[3], long[1])
        );
    }
    // The reads each ingest into the thread makes, at its last size.
    let mut read = Vec::new();
    let mut trail = Vec::new();
    let (mut messages, mut entries) = (0, 0);
    for _ in 0..21 {
        let t = Instant::now();
        let record = store.conversation(conversation).await.unwrap().unwrap();
        read.push(t.elapsed());
        messages = record.messages.len();
        let t = Instant::now();
        entries = store.audit_trail(conversation).await.unwrap().len();
        trail.push(t.elapsed());
    }
    println!(
        "  at {MESSAGES} messages: reading the conversation ({messages} messages) {:.0} µs, \
         its audit trail ({entries} entries) {:.0} µs",
        micros(median(read)),
        micros(median(trail))
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open(&format!(
            "sqlite://{}",
            dir.path().join("care.db").display()
        ))
        .await
        .unwrap();
        report("SQLite", Arc::new(store)).await;

        match std::env::var("CAREKIT_TEST_POSTGRES_URL") {
            Ok(url) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let store = SqlStore::builder(&url).schema(schema).open().await.unwrap();
                report("Postgres", Arc::new(store)).await;
            }
            Err(_) => println!("Postgres: SKIPPED (set CAREKIT_TEST_POSTGRES_URL)"),
        }
    });
}
