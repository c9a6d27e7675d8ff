//! What one `/metrics` scrape costs the store as the outbox grows: counting
//! by state in SQL (what the desk does) against reading every waiting item
//! (what it did before), in the same run, with 2,000 and 10,000 queued.
//!
//! ```text
//! CAREKIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p carekit-store-sql --all-features --bench metrics_scrape
//! ```

use carekit_core::desk::AutoAcknowledge;
use carekit_core::*;
use carekit_store_sql::SqlStore;
use carekit_testing::RecordingChannel;
use std::sync::Arc;
use std::time::{Duration, Instant};

const STATES: [DeliveryState; 4] = [
    DeliveryState::Queued,
    DeliveryState::Sending,
    DeliveryState::Failed,
    DeliveryState::DeadLettered,
];
const SCRAPES: u32 = 20;

/// Fills the outbox to `queued` items: one acknowledgement per customer
/// message, never sent.
async fn fill(desk: &Desk, from: usize, to: usize) {
    for i in from..to {
        let event = InboundEvent::message(
            ChannelKind::Twitter,
            Visibility::Public,
            format!("{}", 1_800_000_000_000_000_000u64 + i as u64),
            Identity::new(ChannelKind::Twitter, format!("{}", 9_000_000 + i)),
            "@acme my order is late",
            chrono::DateTime::from_timestamp(1_760_000_000 + i as i64, 0).unwrap(),
        )
        .with_account("acme");
        desk.ingest(event).await.unwrap();
    }
}

async fn time(mut f: impl AsyncFnMut()) -> Duration {
    f().await; // warm
    let start = Instant::now();
    for _ in 0..SCRAPES {
        f().await;
    }
    start.elapsed() / SCRAPES
}

async fn run(label: &str, store: SqlStore) {
    let store: Arc<dyn Store> = Arc::new(store);
    let desk = Desk::builder()
        .store(store.clone())
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
        .rule(Arc::new(AutoAcknowledge::everyone("Sorry, on it.", "")))
        .build()
        .unwrap();
    let mut filled = 0;
    for queued in [2_000, 10_000] {
        fill(&desk, filled, queued).await;
        filled = queued;
        let read = time(async || {
            let items = store.outbox_in_states(&STATES, 100_000).await.unwrap();
            assert_eq!(items.len(), queued);
        })
        .await;
        let counted = time(async || {
            let counts = store.outbox_counts(&STATES).await.unwrap();
            assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), queued as u64);
        })
        .await;
        println!(
            "{label}, {queued} queued: read every item {:.2} ms, count by state {:.3} ms per scrape ({:.0}x less)",
            read.as_secs_f64() * 1e3,
            counted.as_secs_f64() * 1e3,
            read.as_secs_f64() / counted.as_secs_f64()
        );
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open(&format!(
            "sqlite://{}",
            dir.path().join("scrape.db").display()
        ))
        .await
        .unwrap();
        run("SQLite", store).await;
        match std::env::var("CAREKIT_TEST_POSTGRES_URL") {
            Ok(url) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let store = SqlStore::builder(&url).schema(schema).open().await.unwrap();
                run("Postgres", store).await;
            }
            Err(_) => println!("Postgres: SKIPPED (set CAREKIT_TEST_POSTGRES_URL)"),
        }
    });
}
