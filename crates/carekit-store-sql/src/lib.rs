//! # carekit-store-sql
//!
//! Durable [`Store`](carekit_core::Store)s: **SQLite** in a file, the
//! embedded default that needs no server, and **Postgres** for many workers
//! sharing one outbox. Postgres reads and writes go through sqlx's `Any`
//! driver with runtime queries (no database needed at compile time). On
//! SQLite, writes go through one dedicated thread that owns the only write
//! connection (rusqlite) and commits the writes that are waiting together,
//! each in its own savepoint (group commit); reads run inline on reader
//! connections on the caller's thread. The read and write paths are each
//! one piece of code for both backends; the places where the backends
//! differ (claims with `FOR UPDATE SKIP LOCKED`, SQLite's pragmas and
//! checkpointing) are explicit.
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

#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, unused_imports)
)]

mod backend;
mod canned;
mod changes;
#[cfg(all(test, feature = "postgres"))]
mod changes_order_tests;
mod codec;
#[cfg(feature = "sqlite")]
mod connection;
mod directory;
mod error;
mod exec;
mod read;
#[cfg(feature = "sqlite")]
mod readers;
mod schema;
mod store;
mod write;
#[cfg(feature = "sqlite")]
mod writer;

pub use backend::Backend;
pub use store::{SqlStore, SqlStoreBuilder};

/// The newest schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = schema::VERSION;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
