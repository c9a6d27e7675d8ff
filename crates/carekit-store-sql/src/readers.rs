//! SQLite's readers: connections a read runs on inline, on the caller's
//! thread.
//!
//! A point read in a WAL database takes microseconds and never waits for
//! the writer. Sending it to a driver thread and back (what an async SQLite
//! driver does) cost more than the read: on two cores the thread switches
//! of the four or five reads behind each ingested event outweighed the
//! queries themselves. Reads that may return many rows run on tokio's
//! blocking pool instead, so that a large listing never holds up a worker.

use crate::connection::{Target, open};
use crate::exec::{Direct, now};
use carekit_core::StoreError;
use std::sync::{Arc, Mutex, PoisonError};

/// A small pool of read connections. A connection is taken for one read
/// and put back; when none is idle another is opened, and at most `keep`
/// are kept.
#[derive(Debug)]
pub(crate) struct SqliteReaders {
    idle: Mutex<Vec<rusqlite::Connection>>,
    target: Target,
    keep: usize,
}

impl SqliteReaders {
    /// Opens the first reader (so a file that cannot be read fails here).
    pub(crate) fn open(target: &Target, keep: usize) -> Result<Arc<Self>, StoreError> {
        let first = open(target)?;
        Ok(Arc::new(Self {
            idle: Mutex::new(vec![first]),
            target: target.clone(),
            keep: keep.max(1),
        }))
    }

    /// Runs `read` on a reader connection, here and now.
    pub(crate) fn with<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut Direct<'_>) -> Result<T, StoreError>,
    {
        let idle = self.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open(&self.target)?,
        };
        let result = now(read(&mut Direct(&conn)));
        let mut idle = self.lock();
        if idle.len() < self.keep {
            idle.push(conn);
        }
        result
    }

    /// Runs `read` on tokio's blocking pool: for reads that may return many
    /// rows.
    pub(crate) async fn blocking<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&mut Direct<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || readers.with(read))
            .await
            .map_err(|e| StoreError::Backend(format!("SQLite read failed: {e}")))?
    }

    /// Closes the idle connections (readers in use close when put back).
    pub(crate) fn close(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        // A read that panicked left the list itself intact.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Exec, Kind};

    fn readers(keep: usize) -> (tempfile::TempDir, Arc<SqliteReaders>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')",
        )
        .unwrap();
        let readers = SqliteReaders::open(&Target::File(path), keep).unwrap();
        (dir, readers)
    }

    async fn value(db: &mut Direct<'_>) -> Result<String, StoreError> {
        db.fetch("SELECT v FROM t", vec![], &[Kind::Text]).await?[0].text(0)
    }

    #[test]
    fn overlapping_reads_open_more_and_keep_at_most_keep() {
        let (_dir, readers) = readers(2);
        let inner = readers.clone();
        let seen = readers
            .with(async |db: &mut Direct<'_>| {
                let outer = value(db).await?;
                // Two more reads while this one holds its connection.
                let nested = inner.with(async |db: &mut Direct<'_>| {
                    let middle = value(db).await?;
                    let innermost = inner.with(async |db: &mut Direct<'_>| value(db).await)?;
                    Ok(format!("{middle}{innermost}"))
                })?;
                Ok(format!("{outer}{nested}"))
            })
            .unwrap();
        assert_eq!(seen, "xxx");
        assert_eq!(readers.lock().len(), 2, "three were open; two are kept");
    }

    #[test]
    fn a_failed_read_returns_its_error_and_its_connection() {
        let (_dir, readers) = readers(4);
        let err = readers
            .with(async |db: &mut Direct<'_>| {
                db.fetch("SELECT v FROM missing", vec![], &[Kind::Text])
                    .await
            })
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert_eq!(readers.lock().len(), 1);
        assert_eq!(
            readers
                .with(async |db: &mut Direct<'_>| value(db).await)
                .unwrap(),
            "x"
        );
    }

    #[tokio::test]
    async fn blocking_reads_run_off_the_caller() {
        let (_dir, readers) = readers(1);
        let caller = std::thread::current().id();
        let (v, thread) = readers
            .blocking(async |db: &mut Direct<'_>| {
                Ok((value(db).await?, std::thread::current().id()))
            })
            .await
            .unwrap();
        assert_eq!(v, "x");
        assert_ne!(thread, caller);
    }
}
