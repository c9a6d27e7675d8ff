//! One customer sends 50 Messenger messages at once, and Meta delivers each
//! webhook twice, concurrently: the desk stores one conversation with 50
//! messages and no duplicate, on SQLite and on Postgres.

mod support;

use std::collections::BTreeSet;
use support::*;

const MESSAGES: usize = 50;

async fn fifty_messages_twice_at_once(desk: &TestDesk) {
    let psid = "6000000000000042";
    let mut deliveries = tokio::task::JoinSet::new();
    for n in 0..MESSAGES {
        let body = messenger(&format!("m_burst_{n}"), psid, &format!("message {n}"));
        for _ in 0..2 {
            let http = desk.http.clone();
            let url = desk.url("/webhooks/facebook");
            let body = body.clone();
            deliveries.spawn(async move {
                http.post(url)
                    .header("x-hub-signature-256", meta_signature(FB_APP_SECRET, &body))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            });
        }
    }
    while let Some(result) = deliveries.join_next().await {
        let status = result.unwrap().unwrap();
        assert_eq!(status, 200, "every delivery is acknowledged");
    }
    let stored = desk.stored().await;
    let distinct: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(stored.len(), MESSAGES, "no duplicate: {stored:?}");
    assert_eq!(distinct.len(), MESSAGES);
    let conversations = desk.conversations(1).await;
    assert_eq!(conversations.len(), 1, "one conversation");
    assert_eq!(conversations[0]["message_count"], MESSAGES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_messages_delivered_twice_at_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start(&url, None).await;
    fifty_messages_twice_at_once(&desk).await;
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_messages_delivered_twice_at_once_on_postgres() {
    let Some(url) = postgres_url("fifty_messages_delivered_twice_at_once_on_postgres") else {
        return;
    };
    let schema = format!("desk_burst_{}", std::process::id());
    let desk = TestDesk::start(&url, Some(&schema)).await;
    fifty_messages_twice_at_once(&desk).await;
    desk.stop().await;
}
