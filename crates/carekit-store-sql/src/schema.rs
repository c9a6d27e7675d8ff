//! Versioned schema. Both backends share the DDL: integers are BIGINT
//! (microseconds for instants), text is TEXT, nested values are JSON text.

use crate::backend::Backend;
use crate::error::map;
use carekit_core::StoreError;
use sqlx::{AnyConnection, Row};

/// The schema version this build writes.
pub(crate) const VERSION: i64 = 3;

const V1: &[&str] = &[
    "CREATE TABLE dedupe (channel TEXT NOT NULL, external_id TEXT NOT NULL, PRIMARY KEY (channel, external_id))",
    "CREATE TABLE customers (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE identities (channel TEXT NOT NULL, handle TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (channel, handle))",
    "CREATE INDEX identities_customer ON identities (customer_id)",
    "CREATE TABLE conversations (id TEXT PRIMARY KEY, version BIGINT NOT NULL, channel TEXT NOT NULL, \
     account TEXT NOT NULL, thread_key TEXT, status TEXT NOT NULL, priority TEXT NOT NULL, customer_id TEXT NOT NULL, \
     awaiting BIGINT NOT NULL, opened_at BIGINT NOT NULL, next_deadline BIGINT, deadline_lease BIGINT, data TEXT NOT NULL)",
    "CREATE UNIQUE INDEX conversations_open_thread ON conversations (channel, account, thread_key) \
     WHERE thread_key IS NOT NULL AND status <> 'closed'",
    "CREATE INDEX conversations_thread ON conversations (channel, account, thread_key, opened_at)",
    "CREATE INDEX conversations_deadline ON conversations (next_deadline) WHERE next_deadline IS NOT NULL",
    "CREATE INDEX conversations_opened ON conversations (opened_at)",
    "CREATE INDEX conversations_customer ON conversations (customer_id, channel)",
    "CREATE TABLE messages (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, at BIGINT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX messages_conversation ON messages (conversation_id, at, id)",
    "CREATE TABLE message_index (channel TEXT NOT NULL, external_id TEXT NOT NULL, conversation_id TEXT NOT NULL, \
     message_id TEXT NOT NULL, PRIMARY KEY (channel, external_id))",
    "CREATE TABLE audit (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, at BIGINT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX audit_conversation ON audit (conversation_id, at, id)",
    "CREATE TABLE outbox (id TEXT PRIMARY KEY, state TEXT NOT NULL, next_attempt_at BIGINT NOT NULL, \
     created_at BIGINT NOT NULL, lease_worker TEXT, lease_until BIGINT, data TEXT NOT NULL)",
    "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
    "CREATE TABLE consent (channel TEXT NOT NULL, handle TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (channel, handle))",
    "CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/// Version 2: agent accounts and their API tokens (secrets only as hashes).
const V2: &[&str] = &[
    "CREATE TABLE agents (id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, password_hash TEXT, \
     disabled BIGINT NOT NULL, created_at BIGINT NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL, \
     created_at BIGINT NOT NULL, last_used_at BIGINT, revoked_at BIGINT, data TEXT NOT NULL)",
    "CREATE INDEX api_tokens_agent ON api_tokens (agent_id, created_at)",
];

/// Version 3: the change feed (see `changes.rs`). A change's position is
/// `(xid, id)`: on Postgres the writing transaction's id and a sequence
/// number, on SQLite 0 and an `AUTOINCREMENT` row id (one writer commits in
/// order, and ids are never reused after a prune). `changes_pruned` holds
/// the newest position deleted, so a read from before it can say so.
const V3: Step = Step {
    sqlite: &[
        "CREATE TABLE changes (id INTEGER PRIMARY KEY AUTOINCREMENT, xid BIGINT NOT NULL, \
         at BIGINT NOT NULL, conversation_id TEXT, kind TEXT NOT NULL, data TEXT NOT NULL)",
        "CREATE INDEX changes_position ON changes (xid, id)",
        "CREATE TABLE changes_pruned (one BIGINT PRIMARY KEY, xid BIGINT NOT NULL, id BIGINT NOT NULL)",
        "INSERT INTO changes_pruned (one, xid, id) VALUES (1, 0, 0)",
    ],
    postgres: &[
        "CREATE TABLE changes (id BIGSERIAL PRIMARY KEY, xid BIGINT NOT NULL, \
         at BIGINT NOT NULL, conversation_id TEXT, kind TEXT NOT NULL, data TEXT NOT NULL)",
        "CREATE INDEX changes_position ON changes (xid, id)",
        "CREATE TABLE changes_pruned (one BIGINT PRIMARY KEY, xid BIGINT NOT NULL, id BIGINT NOT NULL)",
        "INSERT INTO changes_pruned (one, xid, id) VALUES (1, 0, 0)",
    ],
};

/// One migration step's statements, for each backend.
struct Step {
    sqlite: &'static [&'static str],
    postgres: &'static [&'static str],
}

impl Step {
    /// A step whose statements both backends run.
    const fn shared(statements: &'static [&'static str]) -> Self {
        Self {
            sqlite: statements,
            postgres: statements,
        }
    }

    fn statements(&self, backend: Backend) -> &'static [&'static str] {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// Brings the schema to [`VERSION`], or refuses: a newer schema, or a
/// database holding tables that are not carekit's.
pub(crate) async fn migrate(
    conn: &mut AnyConnection,
    backend: Backend,
    table_count_sql: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS carekit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(map)?;
    let found: Option<String> =
        sqlx::query("SELECT value FROM carekit_meta WHERE key = 'schema_version'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(map)?
            .map(|row| row.try_get::<String, _>(0))
            .transpose()
            .map_err(map)?;
    let version = match found {
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| StoreError::NotAStore(format!("schema_version `{v}` is not a number")))?,
        None => {
            let tables: i64 = sqlx::query(table_count_sql)
                .fetch_one(&mut *conn)
                .await
                .map_err(map)?
                .try_get(0)
                .map_err(map)?;
            if tables > 1 {
                return Err(StoreError::NotAStore(
                    "the database has tables but no carekit schema; refusing to write into it"
                        .into(),
                ));
            }
            0
        }
    };
    if version > VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: VERSION,
        });
    }
    if version < VERSION {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map)?;
        let steps: [(i64, Step); 3] = [(1, Step::shared(V1)), (2, Step::shared(V2)), (3, V3)];
        for (step, statements) in steps {
            if version >= step {
                continue;
            }
            for statement in statements.statements(backend) {
                sqlx::query(statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
            }
        }
        sqlx::query("DELETE FROM carekit_meta WHERE key = 'schema_version'")
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        sqlx::query("INSERT INTO carekit_meta (key, value) VALUES ('schema_version', $1)")
            .bind(VERSION.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        tracing::info!(from = version, to = VERSION, "carekit schema migrated");
    }
    Ok(())
}
