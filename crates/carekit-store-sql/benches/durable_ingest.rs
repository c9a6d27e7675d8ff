//! Durable ingest throughput through the desk on SQLite and Postgres, each
//! against a baseline in the same run: plain inserts of the same rows (one
//! transaction per event, the event's JSON into one table), no engine.
//!
//! ```text
//! CAREKIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p carekit-store-sql --all-features --bench durable_ingest
//! ```

use carekit_core::*;
use carekit_store_sql::SqlStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: usize = 3_000;

fn events() -> Vec<InboundEvent> {
    (0..EVENTS)
        .map(|i| {
            let customer = i % 300;
            InboundEvent::message(
                ChannelKind::Twitter,
                Visibility::Public,
                format!("{}", 1_800_000_000_000_000_000u64 + i as u64),
                Identity::new(ChannelKind::Twitter, format!("{}", 9_000_000 + customer)),
                "@acme my order #4411 is two weeks late and nobody answers",
                chrono::DateTime::from_timestamp(1_760_000_000 + i as i64, 0).unwrap(),
            )
            .with_account("acme")
            .with_thread_key(format!("conv-{customer}"))
        })
        .collect()
}

async fn baseline(url: &str, schema: Option<&str>) -> Duration {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    if let Some(schema) = schema {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(&format!("SET search_path TO {schema}"))
            .execute(&pool)
            .await
            .unwrap();
    }
    if url.starts_with("sqlite") {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("CREATE TABLE plain_events (channel TEXT, external_id TEXT, data TEXT, PRIMARY KEY (channel, external_id))")
        .execute(&pool)
        .await
        .unwrap();
    let events = events();
    let t = Instant::now();
    for e in &events {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO plain_events (channel, external_id, data) VALUES ($1, $2, $3)")
            .bind(e.channel.as_str())
            .bind(e.external_id.as_str())
            .bind(serde_json::to_string(e).unwrap())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    t.elapsed()
}

async fn engine(store: SqlStore) -> Duration {
    let desk = Desk::builder().store(Arc::new(store)).build().unwrap();
    let events = events();
    let t = Instant::now();
    for e in events {
        desk.ingest(e).await.unwrap();
    }
    t.elapsed()
}

fn report(name: &str, base: Duration, full: Duration) {
    let rate = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "{name}: baseline {:>8.0} events/s, desk {:>8.0} events/s, desk takes {:.1}x the baseline's time",
        rate(base),
        rate(full),
        full.as_secs_f64() / base.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let base_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("plain.db").display()
        );
        let base = baseline(&base_url, None).await;
        let store = SqlStore::open(&format!(
            "sqlite://{}",
            dir.path().join("care.db").display()
        ))
        .await
        .unwrap();
        let full = engine(store).await;
        report(
            &format!("SQLite ({EVENTS} events, 300 threads)"),
            base,
            full,
        );

        match std::env::var("CAREKIT_TEST_POSTGRES_URL") {
            Ok(url) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let base = baseline(&url, Some(&format!("{schema}_plain"))).await;
                let store = SqlStore::builder(&url).schema(schema).open().await.unwrap();
                let full = engine(store).await;
                report(
                    &format!("Postgres ({EVENTS} events, 300 threads)"),
                    base,
                    full,
                );
            }
            Err(_) => println!("Postgres: SKIPPED (set CAREKIT_TEST_POSTGRES_URL)"),
        }
    });
}
