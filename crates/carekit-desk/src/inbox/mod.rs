//! Acknowledge on receipt: a local journal in front of the desk.
//!
//! Without an inbox a webhook answers once its event is committed to the
//! store, so the platform waits for the whole ingest (reads, threading,
//! policies, the group commit) and for any stall in it. With `[inbox]` the
//! webhook answers once the event is appended to a journal file on local
//! disk, and a drain feeds the journal to the desk in arrival order. This
//! is what X and Meta ask of webhook receivers (answer fast, work later),
//! and it keeps taking events while the store is down: they wait in the
//! journal, not at the platform's retry schedule.
//!
//! Guarantees:
//! - an event is acknowledged only after its record was written, so a
//!   process crash loses nothing: the next start replays every record past
//!   the saved cursor (the desk's dedupe makes a replay of an event already
//!   stored a no-op);
//! - the journal is `fsync`ed every `sync_every_ms` (as SQLite's WAL is
//!   only synced at checkpoints), so a power cut can lose at most that much
//!   acknowledged traffic;
//! - an event the desk cannot use is refused before it is acknowledged
//!   ([`InboundEvent::validate`]); a store that is down is retried with
//!   backoff and the cursor waits for it;
//! - one event the desk can never take does not hold up the rest: refused
//!   for a reason no retry mends (the desk answers
//!   [`IntakeError::Rejected`]), or still refused as "unavailable" after
//!   `max_attempts` while the desk stored other events meanwhile, it is
//!   written to the dead-letter file (`dead-letters.jsonl`, one
//!   [`DeadLetter`] per line with the event itself) and the cursor moves on.
//!   While every event fails (a store outage) nothing is dead-lettered: the
//!   events wait in the journal;
//! - events are visible through the API once drained, normally within
//!   milliseconds (`carekit_inbox_backlog` in `/metrics` shows the lag).
//!
//! Use it where the journal's directory outlives the process (a local
//! disk, a persistent volume); a desk whose disk is thrown away with its
//! container should acknowledge on commit (no `[inbox]`).

mod dead_letter;
mod journal;
mod progress;

pub use dead_letter::{
    DEAD_LETTER_FILE, DeadLetter, DeadLetterKind, dead_letter_path, read_dead_letters,
};

use crate::config::InboxConfig;
use crate::metrics::Metrics;
use async_trait::async_trait;
use carekit_core::{Clock, EventSink, InboundEvent, IntakeError, SystemClock};
use chrono::{DateTime, Utc};
use journal::{Appender, Position};
use progress::Progress;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// First pause before retrying an event the store could not take.
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest pause between retries.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The acknowledging sink: adapters hand it events, it journals them and
/// answers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Inbox {
    shared: Arc<Shared>,
}

/// Feeds the journal to the desk; run it with [`Drain::run`] (the server
/// does, beside its other background work).
pub struct Drain {
    shared: Arc<Shared>,
    inner: Arc<dyn EventSink>,
    queue: mpsc::Receiver<Entry>,
    replay: Replay,
    concurrency: usize,
    sync_every: Duration,
    max_attempts: u32,
    clock: Arc<dyn Clock>,
    metrics: Option<Metrics>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    appender: Mutex<Appender>,
    queue: mpsc::Sender<Entry>,
    closed: AtomicBool,
    received: AtomicU64,
    handled: AtomicU64,
    /// Events the desk took (stored or recognised as replays).
    stored: AtomicU64,
    dead_letters: DeadLetters,
}

/// The dead-letter file and what is known about it.
#[derive(Debug)]
struct DeadLetters {
    path: PathBuf,
    /// Lines in the file (counted at opening, plus those written since).
    in_file: AtomicU64,
    /// Written since the inbox was opened.
    written: AtomicU64,
    last_at: Mutex<Option<DateTime<Utc>>>,
    /// One writer at a time, so lines never interleave.
    write: tokio::sync::Mutex<()>,
}

/// The inbox's state for `/healthz`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxHealth {
    /// Events acknowledged and not yet handled.
    pub backlog: u64,
    /// Events in the dead-letter file, waiting for an operator (0 once the
    /// file is moved away or emptied).
    pub dead_letters: u64,
    /// When the last one was written by this process.
    pub last_dead_letter_at: Option<DateTime<Utc>>,
}

/// A journaled event on its way to the desk, with its journal record
/// (which gives the event back if the desk must be asked again).
#[derive(Debug)]
struct Entry {
    end: Position,
    event: InboundEvent,
    payload: Vec<u8>,
}

/// What was in the journal, unhandled, when it was opened.
#[derive(Debug)]
struct Replay {
    cursor: Position,
    segments: Vec<u64>,
    end: Position,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("dir", &self.shared.dir)
            .field("replay", &self.replay)
            .field("concurrency", &self.concurrency)
            .field("sync_every", &self.sync_every)
            .finish_non_exhaustive()
    }
}

/// Starts handling events, each on its own task.
struct Feeder {
    handler: Arc<Handler>,
    progress: Arc<Mutex<Progress>>,
    tasks: tokio::task::JoinSet<()>,
}

/// What handling one event needs.
struct Handler {
    shared: Arc<Shared>,
    inner: Arc<dyn EventSink>,
    max_attempts: u32,
    clock: Arc<dyn Clock>,
    metrics: Option<Metrics>,
}

impl Feeder {
    fn dispatch(&mut self, entry: Entry, permit: tokio::sync::OwnedSemaphorePermit) {
        let seq = lock(&self.progress).begin();
        let (handler, progress) = (self.handler.clone(), self.progress.clone());
        self.tasks.spawn(async move {
            let _permit = permit;
            handler.handle(entry.event, &entry.payload).await;
            lock(&progress).finish(seq, entry.end);
            handler.shared.handled.fetch_add(1, Ordering::AcqRel);
        });
    }
}

impl Inbox {
    /// Opens (creating) the journal in `config.dir` in front of `inner`
    /// (normally the desk's sink). Records left from a previous run are
    /// replayed first when the [`Drain`] starts.
    ///
    /// # Errors
    /// The directory cannot be created or read, or its cursor is damaged.
    pub fn open(
        config: &InboxConfig,
        inner: Arc<dyn EventSink>,
    ) -> std::io::Result<(Inbox, Drain)> {
        let opened = journal::open(&config.dir)?;
        let dead_letter_file = dead_letter_path(&config.dir);
        let in_file = dead_letter::count(&dead_letter_file)?;
        if in_file > 0 {
            tracing::warn!(
                dead_letters = in_file,
                file = %dead_letter_file.display(),
                "inbox: events wait in the dead-letter file for an operator"
            );
        }
        let (tx, rx) = mpsc::channel(config.max_backlog.max(1));
        let shared = Arc::new(Shared {
            dir: config.dir.clone(),
            appender: Mutex::new(opened.appender),
            queue: tx,
            closed: AtomicBool::new(false),
            received: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            dead_letters: DeadLetters {
                path: dead_letter_file,
                in_file: AtomicU64::new(in_file),
                written: AtomicU64::new(0),
                last_at: Mutex::new(None),
                write: tokio::sync::Mutex::new(()),
            },
        });
        let drain = Drain {
            shared: shared.clone(),
            inner,
            queue: rx,
            replay: Replay {
                cursor: opened.cursor,
                segments: opened.segments,
                end: opened.end,
            },
            concurrency: config.concurrency.max(1),
            sync_every: Duration::from_millis(config.sync_every_ms.max(1)),
            max_attempts: config.max_attempts.max(1),
            clock: Arc::new(SystemClock),
            metrics: None,
        };
        Ok((Inbox { shared }, drain))
    }

    /// Events journaled (or replayed) and not yet handled by the desk.
    pub fn backlog(&self) -> u64 {
        let received = self.shared.received.load(Ordering::Acquire);
        received.saturating_sub(self.shared.handled.load(Ordering::Acquire))
    }

    /// Events dead-lettered since the inbox was opened.
    pub fn dead_lettered(&self) -> u64 {
        self.shared.dead_letters.written.load(Ordering::Acquire)
    }

    /// Backlog and dead letters, for `/healthz`. The dead-letter count is
    /// 0 once an operator has moved the file away or emptied it.
    pub fn health(&self) -> InboxHealth {
        let letters = &self.shared.dead_letters;
        let present = std::fs::metadata(&letters.path).is_ok_and(|m| m.len() > 0);
        InboxHealth {
            backlog: self.backlog(),
            dead_letters: if present {
                letters.in_file.load(Ordering::Acquire)
            } else {
                0
            },
            last_dead_letter_at: *letters
                .last_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }
}

#[async_trait]
impl EventSink for Inbox {
    /// Journals the event. `Ok` means its record is written (the queue
    /// to the desk has room, so a backlog slows webhooks down rather than
    /// growing without bound).
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        event.validate().map_err(IntakeError::Rejected)?;
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(IntakeError::Unavailable(
                "the inbox is shutting down".into(),
            ));
        }
        let payload = serde_json::to_vec(&event)
            .map_err(|e| IntakeError::Rejected(format!("event cannot be journaled: {e}")))?;
        let permit = shared
            .queue
            .reserve()
            .await
            .map_err(|_| IntakeError::Unavailable("the inbox is closed".into()))?;
        // Appending and queueing under one lock keeps the queue in journal
        // order, which the cursor relies on.
        let mut appender = shared
            .appender
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let end = appender
            .append(&payload)
            .map_err(|e| IntakeError::Unavailable(format!("inbox journal: {e}")))?;
        permit.send(Entry {
            end,
            event,
            payload,
        });
        drop(appender);
        shared.received.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

impl Drain {
    /// Stamps dead letters with this clock (the desk's) instead of the
    /// system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts dead letters in `metrics` as
    /// `carekit_inbox_dead_lettered_total{channel, kind}`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Replays what the journal held, then feeds new events to the desk,
    /// up to `concurrency` at a time, until `stop` completes; then stops
    /// taking events, finishes what is queued, and saves the cursor. What
    /// is left unhandled (the caller gave up waiting) is replayed on the
    /// next start.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        let Drain {
            shared,
            inner,
            mut queue,
            replay,
            concurrency,
            sync_every,
            max_attempts,
            clock,
            metrics,
        } = self;
        let limit = Arc::new(Semaphore::new(concurrency));
        let progress = Arc::new(Mutex::new(Progress::new(replay.cursor)));
        let handler = Arc::new(Handler {
            shared: shared.clone(),
            inner,
            max_attempts,
            clock,
            metrics,
        });
        let mut feeder = Feeder {
            handler: handler.clone(),
            progress: progress.clone(),
            tasks: tokio::task::JoinSet::new(),
        };
        for segment in &replay.segments {
            let from = if *segment == replay.cursor.segment {
                replay.cursor.offset
            } else {
                0
            };
            let records = match journal::read_segment(&shared.dir, *segment, from, replay.end) {
                Ok(records) => records,
                Err(e) => {
                    tracing::error!(segment, error = %e, "inbox: cannot read a journal segment; its events stay on disk");
                    break;
                }
            };
            for record in records {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    return;
                };
                match serde_json::from_slice::<InboundEvent>(&record.payload) {
                    Ok(event) => {
                        shared.received.fetch_add(1, Ordering::AcqRel);
                        feeder.dispatch(
                            Entry {
                                end: record.end,
                                event,
                                payload: record.payload,
                            },
                            permit,
                        );
                    }
                    Err(e) => {
                        tracing::error!(segment, end = record.end.offset, error = %e, "inbox: a journaled event no longer parses; dead-lettered");
                        let seq = lock(&progress).begin();
                        let letter = handler.letter(
                            DeadLetterKind::Unreadable,
                            e.to_string(),
                            0,
                            &record.payload,
                        );
                        // Until it is on disk the cursor stays before it.
                        while let Err(e) = handler.dead_letter(letter.clone(), None).await {
                            tracing::error!(error = %e, "inbox: cannot write the dead-letter file; retrying");
                            tokio::time::sleep(RETRY_MAX).await;
                        }
                        drop(permit);
                        lock(&progress).finish(seq, record.end);
                    }
                }
            }
        }
        if !replay.segments.is_empty() {
            tracing::info!(
                replayed = shared.received.load(Ordering::Acquire),
                "inbox: journal replayed"
            );
        }
        let mut saved = replay.cursor;
        let mut tick = tokio::time::interval(sync_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                entry = queue.recv() => {
                    let Some(entry) = entry else { break };
                    let Ok(permit) = limit.clone().acquire_owned().await else { break };
                    feeder.dispatch(entry, permit);
                }
                _ = tick.tick() => {
                    saved = checkpoint(&shared, &progress, saved, false).await;
                }
                () = &mut stop => {
                    shared.closed.store(true, Ordering::Release);
                    queue.close();
                    while let Some(entry) = queue.recv().await {
                        let Ok(permit) = limit.clone().acquire_owned().await else { break };
                        feeder.dispatch(entry, permit);
                    }
                    break;
                }
            }
            while feeder.tasks.try_join_next().is_some() {}
        }
        while feeder.tasks.join_next().await.is_some() {}
        checkpoint(&shared, &progress, saved, true).await;
        tracing::info!("inbox drained");
    }
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Handler {
    /// Hands one event to the desk. A store that is unavailable is retried
    /// with backoff for as long as it takes; an event refused for good, or
    /// still refused after `max_attempts` while other events were stored,
    /// goes to the dead-letter file. The desk takes the event by value; a
    /// retry decodes it again from its journal record rather than every
    /// event being cloned for a rare retry.
    async fn handle(&self, event: InboundEvent, payload: &[u8]) {
        let shared = &self.shared;
        let mut event = event;
        let mut pause = RETRY_FIRST;
        let mut attempts = 0u32;
        // How many events the desk had taken when this one first failed:
        // more since then means the store works and this event is the problem.
        let mut stored_at_first_failure = None;
        loop {
            attempts = attempts.saturating_add(1);
            let channel = event.channel;
            let refused = match self.inner.accept(event).await {
                Ok(()) => {
                    shared.stored.fetch_add(1, Ordering::AcqRel);
                    return;
                }
                Err(e) => e,
            };
            event = match serde_json::from_slice::<InboundEvent>(payload) {
                Ok(event) => event,
                Err(e) => {
                    let letter =
                        self.letter(DeadLetterKind::Unreadable, e.to_string(), attempts, payload);
                    while let Err(e) = self.dead_letter(letter.clone(), Some(channel)).await {
                        tracing::error!(error = %e, "inbox: cannot write the dead-letter file; retrying");
                        tokio::time::sleep(RETRY_MAX).await;
                    }
                    return;
                }
            };
            let stored_before =
                *stored_at_first_failure.get_or_insert(shared.stored.load(Ordering::Acquire));
            let kind = match &refused {
                IntakeError::Unavailable(reason) => {
                    let others_stored = shared.stored.load(Ordering::Acquire) > stored_before;
                    if attempts < self.max_attempts || !others_stored {
                        tracing::warn!(external_id = %event.external_id, %reason, attempts, ?pause, "inbox: the desk cannot take an event now; retrying");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(RETRY_MAX);
                        continue;
                    }
                    DeadLetterKind::Unavailable
                }
                _ => DeadLetterKind::Rejected,
            };
            tracing::warn!(channel = %event.channel, external_id = %event.external_id, error = %refused, attempts, kind = kind.as_str(), "inbox: the desk refused a journaled event; dead-lettered");
            let letter = self.letter(kind, refused.to_string(), attempts, payload);
            match self.dead_letter(letter, Some(event.channel)).await {
                Ok(()) => return,
                Err(e) => {
                    // Not on disk: the event stays unhandled and is tried again.
                    tracing::error!(error = %e, "inbox: cannot write the dead-letter file; the event stays in the journal");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    }

    fn letter(
        &self,
        kind: DeadLetterKind,
        reason: String,
        attempts: u32,
        payload: &[u8],
    ) -> DeadLetter {
        DeadLetter {
            at: self.clock.now(),
            kind,
            reason,
            attempts,
            event: dead_letter::record_value(payload),
        }
    }

    /// Writes `letter` (and `fsync`s it), then counts it.
    async fn dead_letter(
        &self,
        letter: DeadLetter,
        channel: Option<carekit_core::ChannelKind>,
    ) -> std::io::Result<()> {
        let letters = &self.shared.dead_letters;
        let _one_at_a_time = letters.write.lock().await;
        let path = letters.path.clone();
        let (at, kind) = (letter.at, letter.kind);
        tokio::task::spawn_blocking(move || dead_letter::append(&path, &letter))
            .await
            .map_err(std::io::Error::other)??;
        letters.in_file.fetch_add(1, Ordering::AcqRel);
        letters.written.fetch_add(1, Ordering::AcqRel);
        *letters
            .last_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(at);
        if let Some(metrics) = &self.metrics {
            metrics.inc(
                "carekit_inbox_dead_lettered_total",
                vec![
                    (
                        "channel",
                        channel.map_or("unknown", |c| c.as_str()).to_owned(),
                    ),
                    ("kind", kind.as_str().to_owned()),
                ],
            );
        }
        Ok(())
    }
}

/// `fsync`s the journal and saves the cursor if it moved; returns the
/// cursor now saved.
async fn checkpoint(
    shared: &Arc<Shared>,
    progress: &Mutex<Progress>,
    saved: Position,
    last: bool,
) -> Position {
    let handled = lock(progress).handled();
    let file = shared
        .appender
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .handle();
    let dir = shared.dir.clone();
    let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        file?.sync_data()?;
        if handled != saved {
            journal::save_cursor(&dir, handled)?;
        }
        Ok(())
    })
    .await;
    match done {
        Ok(Ok(())) => handled,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, last, "inbox: sync or cursor save failed; retrying");
            saved
        }
        Err(e) => {
            tracing::warn!(error = %e, "inbox: sync task failed");
            saved
        }
    }
}

#[cfg(test)]
mod tests;
