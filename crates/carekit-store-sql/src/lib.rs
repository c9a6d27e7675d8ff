//! # carekit-store-sql
//!
//! Durable [`Store`](carekit_core::Store)s on sqlx: **SQLite** in a file, the
//! embedded default that needs no server, and **Postgres** for many workers
//! sharing one outbox. One implementation serves both (sqlx's `Any` driver
//! with runtime queries, so no database is needed at compile time); the
//! places where the backends differ (claims with `FOR UPDATE SKIP LOCKED`,
//! SQLite's pragmas) are explicit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), carekit_core::StoreError> {
//! use carekit_store_sql::SqlStore;
//! let embedded = SqlStore::open("sqlite://care.db").await?;          // created if missing
//! let shared = SqlStore::open("postgres://postgres@127.0.0.1/care").await?;
//! # Ok(()) }
//! ```
//!
//! Opening applies the schema migrations. A file that is not SQLite, a
//! server that cannot be reached, or a schema written by a newer carekit
//! each give a typed [`StoreError`](carekit_core::StoreError) at open; the
//! store never resets data it does not understand.

mod codec;
mod error;
mod schema;
mod store;

pub use store::{Backend, SqlStore, SqlStoreBuilder};

/// The newest schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = schema::VERSION;
