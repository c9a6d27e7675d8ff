//! What `Store::claim_due` costs per claimed conversation with 10,000 and
//! 1,000,000 open conversations (about 100 due per tick, deadlines spread
//! over a week), SQLite and Postgres, with the ratio from the same run.
//!
//! The conversations are written straight into the table by one
//! `INSERT ... SELECT` in a transaction (only the columns `claim_due` reads
//! carry real values), so setting up a million takes seconds. After each
//! tick, untimed, the claimed conversations get their next deadline a week
//! later (so as many stay due per tick) and lose their lease, as the desk's
//! write of each one does.
//!
//! ```text
//! CAREKIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p carekit-store-sql --all-features --bench claim_due
//! ```

use carekit_core::store::Claim;
use carekit_core::*;
use carekit_store_sql::SqlStore;
use chrono::{DateTime, Duration, Utc};
use sqlx::AnyPool;
use std::time::Instant;

const WEEK_MICROS: i64 = 604_800_000_000;
const TICKS: usize = 200;
const ROUNDS: usize = 3;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_000, 0).unwrap()
}

/// One `INSERT ... SELECT` of `open` conversations: ids are 32 hex digits,
/// deadlines spread over a week from `t0` by a multiplicative hash.
fn fill_sql(postgres: bool, open: i64) -> String {
    let t0 = t0().timestamp_micros();
    let (numbers, id) = if postgres {
        (
            format!("SELECT generate_series(0, {}) AS k", open - 1),
            "lpad(to_hex(k), 32, '0')",
        )
    } else {
        (
            format!(
                "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < {}) SELECT k FROM n",
                open - 1
            ),
            "printf('%032x', k)",
        )
    };
    format!(
        "INSERT INTO conversations (id, version, channel, account, thread_key, status, priority, \
         customer_id, awaiting, opened_at, next_deadline, deadline_lease, data) \
         SELECT {id}, 1, 'twitter', 'acme', NULL, 'open', 'normal', {id}, 0, {t0}, \
         {t0} + ((k * 2654435761) % 604800) * 1000000, NULL, '{{}}' FROM ({numbers}) AS numbers"
    )
}

async fn fill(pool: &AnyPool, postgres: bool, open: i64) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(&fill_sql(postgres, open))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    if postgres {
        sqlx::query("ANALYZE conversations")
            .execute(pool)
            .await
            .unwrap();
    }
}

/// The best round's cost per claimed conversation, `open` conversations held.
async fn per_claimed(store: &SqlStore, pool: &AnyPool, open: i64) -> f64 {
    let step = WEEK_MICROS / open * 100;
    let mut now = t0();
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let mut claimed = 0usize;
        let mut took = 0.0;
        for _ in 0..TICKS {
            now += Duration::microseconds(step);
            let claim = Claim {
                worker: "bench".into(),
                now,
                lease: Duration::minutes(5),
                limit: 1024,
            };
            let started = Instant::now();
            let due = store.claim_due(&claim).await.unwrap();
            took += started.elapsed().as_secs_f64();
            claimed += due.len();
            sqlx::query(&format!(
                "UPDATE conversations SET next_deadline = next_deadline + {WEEK_MICROS}, deadline_lease = NULL \
                 WHERE next_deadline IS NOT NULL AND next_deadline <= {} AND deadline_lease IS NOT NULL",
                now.timestamp_micros()
            ))
            .execute(pool)
            .await
            .unwrap();
        }
        assert!(claimed > 0);
        best = best.min(took / claimed as f64);
    }
    best
}

async fn run(label: &str, url: &str, schema: Option<String>) {
    let postgres = schema.is_some();
    let mut builder = SqlStore::builder(url);
    if let Some(schema) = &schema {
        builder = builder.schema(schema.clone());
    }
    let store = builder.open().await.unwrap();
    let options = sqlx::any::AnyPoolOptions::new().max_connections(1);
    let schema_to_drop = schema.clone();
    let options = match schema {
        Some(schema) => options.after_connect(move |conn, _| {
            let schema = schema.clone();
            Box::pin(async move {
                sqlx::query(&format!("SET search_path TO {schema}"))
                    .execute(conn)
                    .await
                    .map(drop)
            })
        }),
        None => options.after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA busy_timeout = 10000")
                    .execute(conn)
                    .await
                    .map(drop)
            })
        }),
    };
    let pool = options.connect(url).await.unwrap();
    let mut costs = Vec::new();
    for open in [10_000i64, 1_000_000] {
        let started = Instant::now();
        // Start again from a week of deadlines.
        sqlx::query("DELETE FROM conversations")
            .execute(&pool)
            .await
            .unwrap();
        fill(&pool, postgres, open).await;
        let set_up = started.elapsed();
        let cost = per_claimed(&store, &pool, open).await;
        println!(
            "{label}, {open} open: claim_due {:.1} µs per claimed conversation (set-up {:.1} s)",
            cost * 1e6,
            set_up.as_secs_f64()
        );
        costs.push(cost);
    }
    if let Some(schema) = schema_to_drop {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await
            .unwrap();
    }
    println!(
        "{label}: 1M open / 10k open = {:.2}x (goal at most 2x)",
        costs[1] / costs[0]
    );
}

fn main() {
    sqlx::any::install_default_drivers();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("due.db").display());
        run("SQLite", &url, None).await;
        match std::env::var("CAREKIT_TEST_POSTGRES_URL") {
            Ok(url) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                run("Postgres", &url, Some(schema)).await;
            }
            Err(_) => println!("Postgres: SKIPPED (set CAREKIT_TEST_POSTGRES_URL)"),
        }
    });
}
