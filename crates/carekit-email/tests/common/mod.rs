//! Shared test helpers: reading `../shared/data/email`, building a desk.
#![allow(dead_code)]

use carekit_core::{Clock, Desk, EventSink, FakeClock, KeyValues, MemoryStore, Store};
use carekit_email::EmailIntake;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MAILBOX: &str = "support@example.com";

/// `../shared/data/email` seen from the workspace root, or `None` with a
/// loud message when it is not there.
pub fn shared_email_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/email"
    ));
    if dir.is_dir() {
        Some(dir.to_path_buf())
    } else {
        eprintln!(
            "\n*** SKIPPED {test}: {} is missing (shared test data not mounted) ***\n",
            dir.display()
        );
        None
    }
}

/// Every regular file under `dir`, recursively, sorted by path.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "README.md") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn clock() -> FakeClock {
    FakeClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .to_utc(),
    )
}

/// A desk on a memory store plus an intake with a thread index in that store.
pub struct Rig {
    pub store: Arc<MemoryStore>,
    pub desk: Desk,
    pub intake: Arc<EmailIntake>,
    pub clock: FakeClock,
}

pub fn rig_with(channel: Option<Arc<dyn carekit_core::Channel>>) -> Rig {
    let store = Arc::new(MemoryStore::new());
    let clock = clock();
    let mut builder = Desk::builder()
        .store(store.clone() as Arc<dyn Store>)
        .clock(Arc::new(clock.clone()) as Arc<dyn Clock>);
    if let Some(c) = channel {
        builder = builder.channel(c);
    }
    let desk = builder.build().unwrap();
    let intake = Arc::new(
        EmailIntake::new(
            MAILBOX,
            Arc::new(desk.clone()) as Arc<dyn EventSink>,
            Arc::new(clock.clone()),
        )
        .with_thread_index(store.clone() as Arc<dyn KeyValues>),
    );
    Rig {
        store,
        desk,
        intake,
        clock,
    }
}

pub fn rig() -> Rig {
    rig_with(None)
}
pub mod servers;
