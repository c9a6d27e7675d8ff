//! Which database a store talks to; the SQL that differs between them asks this.

/// Which database is behind a [`SqlStore`](crate::SqlStore).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite in a file (one writer connection, WAL).
    Sqlite,
    /// Postgres (claims use `FOR UPDATE SKIP LOCKED`).
    Postgres,
}
