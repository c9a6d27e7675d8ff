//! sqlx errors as carekit's typed store errors.

use carekit_core::StoreError;

/// Maps a database error. Unique violations become `Constraint` (the
/// explicit dedupe check turns the dedupe case into `Duplicate` before this,
/// and version checks report `Conflict` themselves): a broken rule of the
/// data is not contention, and retrying the same write cannot mend it.
pub(crate) fn map(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Constraint(format!("unique constraint: {}", db.message()))
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            by_code(&code, db.message())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(err.to_string()),
        _ => StoreError::Backend(err.to_string()),
    }
}

/// A database's error code, as either driver reports it, to a store error.
/// SQLite: 5 busy, 6 locked, 517 busy snapshot, 26 not a database, 10 I/O,
/// 13 disk full, 14 cannot open (extended codes keep the primary code in
/// their low byte); Postgres (always five characters): 40001 serialization,
/// 40P01 deadlock, 57P01 admin shutdown, 08xxx connection problems.
fn by_code(code: &str, message: &str) -> StoreError {
    let sqlite_primary = (code.len() < 5)
        .then(|| code.parse::<i32>().ok())
        .flatten()
        .map(|c| c & 0xff);
    if matches!(sqlite_primary, Some(5 | 6 | 10 | 13 | 14))
        || matches!(code, "40001" | "40P01" | "57P01")
        || code.starts_with("08")
    {
        StoreError::Unavailable(message.to_owned())
    } else if sqlite_primary == Some(26) || message.contains("not a database") {
        StoreError::NotAStore(message.to_owned())
    } else if matches!(sqlite_primary, Some(18..=20))
        || (code.len() == 5 && (code.starts_with("22") || code.starts_with("23")))
    {
        StoreError::Constraint(message.to_owned())
    } else {
        StoreError::Backend(message.to_owned())
    }
}

/// Maps a rusqlite error (the SQLite writer thread) the same way as [`map`].
#[cfg(feature = "sqlite")]
pub(crate) fn map_sqlite(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(e, message) => {
            let message = message.clone().unwrap_or_else(|| err.to_string());
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            {
                StoreError::Constraint(format!("unique constraint: {message}"))
            } else {
                by_code(&e.extended_code.to_string(), &message)
            }
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(_) => StoreError::Corrupt(err.to_string()),
        _ => StoreError::Backend(err.to_string()),
    }
}
