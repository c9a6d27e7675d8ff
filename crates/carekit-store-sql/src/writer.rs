//! SQLite's writer: one thread owns the only write connection and commits
//! whatever is waiting in one transaction (group commit).
//!
//! SQLite has one writer at a time anyway. Driving it from async tasks
//! statement by statement costs two thread hops per statement and holds the
//! write lock across every hop, which capped durable ingest at a few hundred
//! events a second on two cores while the CPUs mostly switched threads. Here
//! a commit crosses threads once, its statements run back to back on this
//! thread, and the commits that queued meanwhile share one `COMMIT`.
//!
//! Each job runs inside its own `SAVEPOINT`: one that fails (a duplicate, a
//! version conflict) is rolled back alone and the rest of the batch commits.
//! Nobody hears "done" before the `COMMIT` that made their job durable.

use crate::codec::micros;
use crate::connection::{Target, open};
use crate::error::map_sqlite;
use crate::exec::{Direct, Exec, Kind, Val, now};
use crate::write;
use crate::write::{OUTBOX_COLUMNS, OUTBOX_SHAPE, parse_id};
use carekit_core::store::{Claim, OutboxItem};
use carekit_core::{Commit, ConversationId, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Most jobs committed together; bounds how long one batch holds the lock.
const MAX_BATCH: usize = 512;
/// Jobs waiting beyond this make writers wait their turn (backpressure).
const QUEUE: usize = 8192;
/// While commits arrive concurrently, wait this long for more to share the
/// `COMMIT` (most of a commit's cost is writing its pages to the WAL, and
/// commits that touch the same pages write them once). A lone writer never
/// waits.
const LINGER: Duration = Duration::from_micros(500);
/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// The writer checkpoints itself when the WAL reaches this many pages
/// (64 MB). Under steady writes the checkpointer never quite reaches the
/// WAL's end, and only a checkpoint on the writer's own connection lets
/// SQLite start the WAL over; that costs two `fsync`s on the commit path, so
/// it should be rare (at 2,000 pages such commits took 12–20 ms, more than
/// once a second under load).
const AUTOCHECKPOINT_PAGES: u32 = 16_000;

/// What the writer is asked to do.
enum Work {
    Apply(Box<Commit>),
    ClaimOutbox(Claim),
    ClaimDue(Claim),
    /// One statement on its own (agent accounts and tokens).
    Execute(String, Vec<Val>),
    Close,
}

/// What it did.
enum Done {
    Applied,
    Outbox(Vec<OutboxItem>),
    Due(Vec<(i64, ConversationId)>),
    Changed(u64),
    Closed,
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done, StoreError>>,
}

/// A handle to the writer thread. Cheap to clone; the thread stops when the
/// store is closed or the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct SqliteWriter {
    jobs: flume::Sender<Job>,
}

impl SqliteWriter {
    /// Opens the write connection and starts the thread.
    pub(crate) fn start(target: &Target) -> Result<Self, StoreError> {
        let conn = open_writer(target)?;
        let (jobs, queue) = flume::bounded(QUEUE);
        let written = Arc::new(AtomicBool::new(false));
        if let Target::File(_) = target {
            let checkpoints = open(target)?;
            let written = Arc::downgrade(&written);
            std::thread::Builder::new()
                .name("carekit-sqlite-checkpoint".into())
                .spawn(move || checkpoint(checkpoints, written))
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot start the SQLite checkpointer: {e}"))
                })?;
        }
        std::thread::Builder::new()
            .name("carekit-sqlite-writer".into())
            .spawn(move || run(conn, queue, written))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { jobs })
    }

    async fn submit(&self, work: Work) -> Result<Done, StoreError> {
        let (reply, done) = oneshot::channel();
        self.jobs
            .send_async(Job { work, reply })
            .await
            .map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }

    /// Applies a commit; returns once it is durable.
    pub(crate) async fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        match self.submit(Work::Apply(Box::new(commit))).await? {
            Done::Applied => Ok(()),
            _ => Err(mismatch()),
        }
    }

    /// Leases due outbox items.
    pub(crate) async fn claim_outbox(&self, claim: Claim) -> Result<Vec<OutboxItem>, StoreError> {
        match self.submit(Work::ClaimOutbox(claim)).await? {
            Done::Outbox(items) => Ok(items),
            _ => Err(mismatch()),
        }
    }

    /// Leases conversations with a due deadline.
    pub(crate) async fn claim_due(
        &self,
        claim: Claim,
    ) -> Result<Vec<(i64, ConversationId)>, StoreError> {
        match self.submit(Work::ClaimDue(claim)).await? {
            Done::Due(picked) => Ok(picked),
            _ => Err(mismatch()),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub(crate) async fn execute(&self, sql: String, params: Vec<Val>) -> Result<u64, StoreError> {
        match self.submit(Work::Execute(sql, params)).await? {
            Done::Changed(n) => Ok(n),
            _ => Err(mismatch()),
        }
    }

    /// Finishes what is queued, then stops the thread and closes the file.
    pub(crate) async fn close(&self) {
        let _ = self.submit(Work::Close).await;
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the SQLite writer is closed".into())
}

fn mismatch() -> StoreError {
    StoreError::Backend("the SQLite writer answered a different request".into())
}

/// The write connection: [`open`], plus what only the writer needs.
fn open_writer(target: &Target) -> Result<rusqlite::Connection, StoreError> {
    let conn = open(target)?;
    // Each job's savepoint keeps the pages it changes in a sub-journal;
    // on disk (the default) that is a temporary file written and deleted
    // for every batch, many times the WAL's own bytes.
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}; PRAGMA temp_store = MEMORY"
    ))
    .map_err(map_sqlite)?;
    Ok(conn)
}

/// Copies committed WAL pages into the database file off the commit path,
/// so that a checkpoint's copying and `fsync` never stall a commit. Stops
/// when the writer does.
fn checkpoint(conn: rusqlite::Connection, written: Weak<AtomicBool>) {
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(written) = written.upgrade() else {
            break;
        };
        if written.swap(false, Ordering::AcqRel)
            && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::debug!(error = %e, "SQLite checkpoint failed; retrying later");
            written.store(true, Ordering::Release);
        }
    }
}

fn run(conn: rusqlite::Connection, queue: flume::Receiver<Job>, written: Arc<AtomicBool>) {
    let mut concurrent = false;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        let linger_until = Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let next = if concurrent {
                queue.recv_deadline(linger_until).ok()
            } else {
                queue.try_recv().ok()
            };
            match next {
                Some(job) => batch.push(job),
                None => break,
            }
        }
        concurrent = batch.len() > 1;
        let close = batch.iter().any(|j| matches!(j.work, Work::Close));
        commit_batch(&conn, batch);
        written.store(true, Ordering::Release);
        if close {
            break;
        }
    }
    tracing::debug!("SQLite writer stopped");
}

fn commit_batch(conn: &rusqlite::Connection, batch: Vec<Job>) {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        for job in batch {
            let _ = job.reply.send(Err(e.clone()));
        }
        return;
    }
    let mut results = Vec::with_capacity(batch.len());
    for job in &batch {
        results.push(run_job(conn, &job.work));
    }
    match control(conn, "COMMIT") {
        Ok(()) => {
            for (job, result) in batch.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, jobs = batch.len(), "SQLite group commit failed");
            let _ = control(conn, "ROLLBACK");
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

/// Runs one of the writer's own statements (prepared once, kept).
fn control(conn: &rusqlite::Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(drop)
        .map_err(map_sqlite)
}

fn run_job(conn: &rusqlite::Connection, work: &Work) -> Result<Done, StoreError> {
    control(conn, "SAVEPOINT job")?;
    let mut db = Direct(conn);
    let result = match work {
        Work::Apply(commit) => now(write::apply(&mut db, commit)).map(|()| Done::Applied),
        Work::ClaimOutbox(claim) => now(claim_outbox_serial(&mut db, claim)).map(Done::Outbox),
        Work::ClaimDue(claim) => now(claim_due_serial(&mut db, claim)).map(Done::Due),
        Work::Execute(sql, params) => now(db.execute(sql, params.clone())).map(Done::Changed),
        Work::Close => Ok(Done::Closed),
    };
    if result.is_err() {
        control(conn, "ROLLBACK TO job")?;
    }
    control(conn, "RELEASE job")?;
    result
}

/// SQLite: leases due outbox items to `claim.worker`. Runs on this thread, so
/// no other claim can interleave (Postgres claims with `FOR UPDATE SKIP
/// LOCKED` in one statement instead; see `store.rs`).
async fn claim_outbox_serial<E: Exec>(
    db: &mut E,
    claim: &Claim,
) -> Result<Vec<OutboxItem>, StoreError> {
    let now = micros(claim.now);
    let until = micros(claim.now + claim.lease);
    let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
    let mut shape = OUTBOX_SHAPE.to_vec();
    shape.push(Kind::Text);
    let rows = db
        .fetch(
            &format!(
                "SELECT {OUTBOX_COLUMNS}, id FROM outbox WHERE state IN ('queued', 'sending') \
                 AND (lease_until IS NULL OR lease_until <= $1) AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, created_at, id LIMIT $2"
            ),
            vec![now.into(), limit.into()],
            &shape,
        )
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(write::outbox_item(row)?);
        db.execute(
            "UPDATE outbox SET lease_worker = $1, lease_until = $2 WHERE id = $3",
            vec![(&claim.worker).into(), until.into(), row.text(4)?.into()],
        )
        .await?;
    }
    Ok(items)
}

/// SQLite: leases conversations whose SLA deadline is due, earliest first
/// (`(deadline, id)` pairs).
async fn claim_due_serial<E: Exec>(
    db: &mut E,
    claim: &Claim,
) -> Result<Vec<(i64, ConversationId)>, StoreError> {
    let now = micros(claim.now);
    let until = micros(claim.now + claim.lease);
    let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
    let rows = db
        .fetch(
            "SELECT next_deadline, id FROM conversations WHERE next_deadline IS NOT NULL \
             AND next_deadline <= $1 AND (deadline_lease IS NULL OR deadline_lease <= $1) \
             ORDER BY next_deadline, id LIMIT $2",
            vec![now.into(), limit.into()],
            &[Kind::Int, Kind::Text],
        )
        .await?;
    let mut picked = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = row.text(1)?;
        db.execute(
            "UPDATE conversations SET deadline_lease = $1 WHERE id = $2",
            vec![until.into(), (&id).into()],
        )
        .await?;
        picked.push((row.int(0)?, parse_id(&id)?));
    }
    Ok(picked)
}
