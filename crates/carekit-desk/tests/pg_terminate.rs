//! The desk's Postgres connections are cut (`pg_terminate_backend`) twice
//! while one customer's Messenger messages arrive, as a failover or an
//! operator would cut them. Every message the desk acknowledged is stored
//! exactly once, a message refused during the cut is stored when Meta
//! delivers it again, and the desk recovers without a restart.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::*;

const MESSAGES: usize = 240;
const AT_ONCE: usize = 8;

/// Delivers one signed webhook until the desk acknowledges it, as Meta
/// retries; returns how many tries were refused.
async fn deliver_until_taken(desk: &TestDesk, body: Vec<u8>) -> usize {
    let mut refused = 0;
    loop {
        let status = desk
            .post(
                "/webhooks/facebook",
                &[
                    ("x-hub-signature-256", meta_signature(FB_APP_SECRET, &body)),
                    ("content-type", "application/json".into()),
                ],
                body.clone(),
            )
            .await;
        if status == 200 {
            return refused;
        }
        assert!(
            status >= 500 || status == 408,
            "a cut connection is a server-side refusal, got {status}"
        );
        refused += 1;
        assert!(refused < 200, "the desk did not recover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cut_connections(admin: &sqlx::PgPool) -> i64 {
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND backend_type = 'client backend'",
    )
    .fetch_all(admin)
    .await
    .unwrap();
    killed.iter().filter(|(k,)| *k).count() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_postgres_connections_lose_nothing_and_need_no_restart() {
    let Some(url) = postgres_url("cut_postgres_connections_lose_nothing_and_need_no_restart")
    else {
        return;
    };
    let schema = format!("desk_cut_{}", std::process::id());
    let desk = TestDesk::start(&url, Some(&schema)).await;
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let psid = "6000000000000077";
    let mut refused = 0;
    let mut cuts = Vec::new();
    for wave in 0..MESSAGES / AT_ONCE {
        if wave == 10 || wave == 20 {
            cuts.push(cut_connections(&admin).await);
        }
        let mut deliveries = Vec::new();
        for k in 0..AT_ONCE {
            let n = wave * AT_ONCE + k;
            let body = messenger(&format!("m_cut_{n}"), psid, &format!("cut message {n}"));
            deliveries.push(deliver_until_taken(&desk, body));
        }
        refused += futures::future::join_all(deliveries)
            .await
            .into_iter()
            .sum::<usize>();
    }
    assert!(
        cuts.iter().all(|&n| n > 0),
        "each cut terminated the desk's connections: {cuts:?}"
    );
    eprintln!("connections cut {cuts:?}; deliveries refused and retried: {refused}");

    let conversations = desk.conversations(1).await;
    assert_eq!(conversations.len(), 1);
    let id = conversations[0]["id"].as_str().unwrap();
    let (_, detail) = desk.api(&format!("/api/conversations/{id}")).await;
    let texts: Vec<String> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    let distinct: BTreeSet<&String> = texts.iter().collect();
    assert_eq!(texts.len(), MESSAGES, "every message stored once");
    assert_eq!(distinct.len(), MESSAGES, "no message twice");
    desk.stop().await;
}
