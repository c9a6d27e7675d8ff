//! SQLite connections, the writer's and the readers' alike: which
//! database they open and the settings every one of them gets.

use crate::error::map_sqlite;
use carekit_core::StoreError;
use std::path::PathBuf;

/// Every SQLite connection's settings. WAL: readers never block the writer;
/// `synchronous = NORMAL` is durable across process crashes (only power loss
/// can drop the last commits).
const PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
];

/// Which database a connection opens.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// A database file.
    File(PathBuf),
    /// A named, shared-cache in-memory database (`file:…` URI).
    Memory(String),
}

/// A connection to `target` with every connection's settings.
pub(crate) fn open(target: &Target) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let base = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = match target {
        Target::File(path) => rusqlite::Connection::open_with_flags(path, base),
        Target::Memory(uri) => rusqlite::Connection::open_with_flags(
            uri,
            base | OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE,
        ),
    }
    .map_err(map_sqlite)?;
    // An in-memory database keeps its memory journal whatever is asked.
    for pragma in PRAGMAS {
        conn.execute_batch(pragma).map_err(map_sqlite)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
