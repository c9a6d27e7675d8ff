//! Kill a desk ingesting into SQLite with SIGKILL at random points, 20 times.
//! After every restart each event the child acknowledged is stored exactly
//! once, and nothing is half-written (every dedupe key has its message).
//!
//! The child is this same test binary, re-run with `--ignored --exact crash_child`.

#![cfg(feature = "sqlite")]

use carekit_core::*;
use carekit_store_sql::SqlStore;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

const EVENTS_PER_CHILD: usize = 400;

fn event(i: usize) -> InboundEvent {
    let customer = i % 37;
    InboundEvent::message(
        ChannelKind::Sms,
        Visibility::Private,
        format!("SM{i:06}"),
        Identity::new(ChannelKind::Sms, format!("+1415555{customer:04}")),
        format!("message {i}"),
        chrono::DateTime::from_timestamp(1_760_000_000 + i as i64, 0).unwrap(),
    )
    .with_account("+15005550006")
    .with_thread_key(format!("+15005550006:+1415555{customer:04}"))
}

#[tokio::test]
#[ignore = "the child process of sigkill_at_random_points_never_loses_or_duplicates"]
async fn crash_child() {
    let (Ok(url), Ok(start)) = (std::env::var("CRASH_DB"), std::env::var("CRASH_START")) else {
        return;
    };
    let start: usize = start.parse().unwrap();
    let store = SqlStore::open(&url).await.unwrap();
    let desk = Desk::builder().store(Arc::new(store)).build().unwrap();
    let mut out = std::io::stdout().lock();
    for i in start..start + EVENTS_PER_CHILD {
        desk.ingest(event(i)).await.unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_never_loses_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    drop(SqlStore::open(&url).await.unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut acked = std::collections::BTreeSet::new();
    let mut next = 0usize;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 5 + (seed % 150) as usize;
        // Restart a few events back: replays after a crash must be no-ops.
        let start = next.saturating_sub(3);
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CRASH_DB", &url)
            .env("CRASH_START", start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen_this_round = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.strip_prefix("ACK ") {
                let i: usize = i.parse().unwrap();
                acked.insert(i);
                next = next.max(i + 1);
                seen_this_round += 1;
                if seen_this_round >= kill_after {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        let _ = child.wait();
        // Check after each restart.
        let store = SqlStore::open(&url).await.unwrap();
        for &i in &acked {
            let id = format!("SM{i:06}");
            assert!(
                store.seen(ChannelKind::Sms, &id).await.unwrap(),
                "round {round}: acked {id} lost"
            );
            assert!(
                store
                    .locate_message(ChannelKind::Sms, &id)
                    .await
                    .unwrap()
                    .is_some(),
                "round {round}: {id} half-written (dedupe key without message)"
            );
        }
        let conversations = store
            .list_conversations(&ConversationFilter::all())
            .await
            .unwrap();
        let messages: usize = conversations.iter().map(|c| c.messages.len()).sum();
        let mut texts: Vec<&str> = conversations
            .iter()
            .flat_map(|c| c.messages.iter().map(|m| m.text.as_str()))
            .collect();
        texts.sort();
        texts.dedup();
        assert_eq!(
            texts.len(),
            messages,
            "round {round}: a message stored twice"
        );
        for i in 0..next + 3 {
            let id = format!("SM{i:06}");
            let seen = store.seen(ChannelKind::Sms, &id).await.unwrap();
            let located = store
                .locate_message(ChannelKind::Sms, &id)
                .await
                .unwrap()
                .is_some();
            assert_eq!(seen, located, "round {round}: {id} is half-written");
        }
        assert!(
            conversations.len() <= 37,
            "one conversation per customer thread"
        );
        store.close().await;
    }
    assert!(
        acked.len() > 100,
        "the children made progress ({} acked)",
        acked.len()
    );
}
