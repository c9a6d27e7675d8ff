//! Throughput of the inbound path on real mail: parse (mail-parser) +
//! reply extraction + threading + event building, and the same through
//! the real `Desk` on a `MemoryStore` with the thread index.
//!
//! ```text
//! cargo run --release -p carekit-email --example bench_intake
//! ```
//!
//! Reads `../shared/data/email/lkml` (210 real messages); prints messages/s.

use carekit_core::{Clock, Desk, EventSink, KeyValues, MemoryStore, Store, SystemClock};
use carekit_email::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailIntake, extract_reply, parse_message, thread::thread_email,
    to_event,
};
use std::sync::Arc;
use std::time::Instant;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/email/lkml"
    ));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mails = corpus();
    if mails.is_empty() {
        eprintln!("*** ../shared/data/email/lkml is missing; nothing to measure ***");
        return;
    }
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let now = SystemClock.now();

    // 1. Pure adapter work, no store.
    let rounds = 200;
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..rounds {
        for raw in &mails {
            let email = parse_message(raw, DEFAULT_MAX_MESSAGE_BYTES).expect("corpus parses");
            let threading = thread_email(&email, "support@example.com");
            let event = to_event(&email, &threading, "support@example.com", now);
            sink += event.text.len() + extract_reply(&email.text).text.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = (rounds * mails.len()) as f64;
    println!(
        "parse+extract+thread+event: {:.0} messages/s ({:.1} MB/s, avg {} bytes/message) [{sink}]",
        n / secs,
        (rounds * bytes) as f64 / secs / 1e6,
        bytes / mails.len()
    );

    // 2. Through the desk (MemoryStore, thread index), fresh desk per round
    //    so every message is new (duplicates in the corpus are deduped).
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        let store = Arc::new(MemoryStore::new());
        let desk = Desk::builder()
            .store(store.clone() as Arc<dyn Store>)
            .build()
            .expect("desk");
        let intake = EmailIntake::new(
            "support@example.com",
            Arc::new(desk) as Arc<dyn EventSink>,
            Arc::new(SystemClock) as Arc<dyn Clock>,
        )
        .with_thread_index(store as Arc<dyn KeyValues>);
        for raw in &mails {
            intake.ingest_raw(raw).await.expect("ingest");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ingest_raw through Desk+MemoryStore+ThreadIndex: {:.0} messages/s",
        (rounds * mails.len()) as f64 / secs
    );
}
