//! sqlx errors as carekit's typed store errors.

use carekit_core::StoreError;

/// Maps a database error. Unique violations become `Conflict` (the explicit
/// dedupe check turns the dedupe case into `Duplicate` before this).
pub(crate) fn map(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("unique constraint: {}", db.message()))
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // SQLite: 5 busy, 6 locked; Postgres: 40001 serialization, 40P01 deadlock,
            // 57P01 admin shutdown, 08xxx connection problems.
            if matches!(
                code.as_str(),
                "5" | "6" | "517" | "40001" | "40P01" | "57P01"
            ) || code.starts_with("08")
            {
                StoreError::Unavailable(db.message().to_owned())
            } else if code == "26" || db.message().contains("not a database") {
                StoreError::NotAStore(db.message().to_owned())
            } else {
                StoreError::Backend(db.message().to_owned())
            }
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

/// Maps a rusqlite error (the SQLite writer thread) the same way as [`map`].
#[cfg(feature = "sqlite")]
pub(crate) fn map_sqlite(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &err {
        rusqlite::Error::SqliteFailure(e, message) => {
            let message = message.clone().unwrap_or_else(|| err.to_string());
            match e.code {
                ErrorCode::ConstraintViolation
                    if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    StoreError::Conflict(format!("unique constraint: {message}"))
                }
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    StoreError::Unavailable(message)
                }
                ErrorCode::NotADatabase => StoreError::NotAStore(message),
                ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull => {
                    StoreError::Unavailable(message)
                }
                _ => StoreError::Backend(message),
            }
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(_) => StoreError::Corrupt(err.to_string()),
        _ => StoreError::Backend(err.to_string()),
    }
}
