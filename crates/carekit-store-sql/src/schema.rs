//! Versioned schema. Both backends share the DDL: integers are BIGINT
//! (microseconds for instants), text is TEXT, nested values are JSON text.

use crate::backend::Backend;
use crate::error::map;
use carekit_core::StoreError;
use sqlx::{AnyConnection, Row};

/// The schema version this build writes.
pub(crate) const VERSION: i64 = 4;

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
    // The key-value ledger (`Store::value`, `Commit::values`): still named
    // `cursors`, its first name, so that no migration is needed.
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

/// Version 3: what the conversation list filters and searches on, and
/// canned responses. Assignee, team and escalation level become columns
/// and tags a side table (all backfilled from each row's JSON); message
/// text goes to `search_docs` (one row per message), searched through an
/// FTS5 index on SQLite and a `tsvector` (config 'simple', so every
/// language is split into words the same way) with a GIN index on
/// Postgres. `None`: both backends.
const V3: &[(Option<Backend>, &str)] = &[
    (None, "ALTER TABLE conversations ADD COLUMN assignee TEXT"),
    (None, "ALTER TABLE conversations ADD COLUMN team TEXT"),
    (
        None,
        "ALTER TABLE conversations ADD COLUMN escalation_level BIGINT NOT NULL DEFAULT 0",
    ),
    (
        None,
        "CREATE INDEX conversations_assignee ON conversations (assignee, opened_at)",
    ),
    (
        None,
        "CREATE INDEX conversations_team ON conversations (team, opened_at)",
    ),
    (
        None,
        "CREATE INDEX conversations_order ON conversations (opened_at, id)",
    ),
    (
        None,
        "CREATE TABLE conversation_tags (conversation_id TEXT NOT NULL, tag TEXT NOT NULL, \
     PRIMARY KEY (conversation_id, tag))",
    ),
    (
        None,
        "CREATE INDEX conversation_tags_tag ON conversation_tags (tag, conversation_id)",
    ),
    (
        None,
        "CREATE INDEX identities_handle ON identities (customer_id, handle)",
    ),
    (
        None,
        "CREATE TABLE search_docs (doc_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, body TEXT NOT NULL)",
    ),
    (
        None,
        "CREATE INDEX search_docs_conversation ON search_docs (conversation_id)",
    ),
    (
        None,
        "CREATE TABLE canned_responses (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, \
     updated_at BIGINT NOT NULL, data TEXT NOT NULL)",
    ),
    // SQLite: an external-content FTS5 index over search_docs, kept in
    // step by triggers; diacritics kept, as Postgres's 'simple' keeps them.
    (
        Some(Backend::Sqlite),
        "CREATE VIRTUAL TABLE search_fts USING fts5(body, content='search_docs', \
     content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')",
    ),
    (
        Some(Backend::Sqlite),
        "CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN \
     INSERT INTO search_fts (rowid, body) VALUES (new.rowid, new.body); END",
    ),
    (
        Some(Backend::Sqlite),
        "CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN \
     INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', old.rowid, old.body); END",
    ),
    (
        Some(Backend::Sqlite),
        "CREATE TRIGGER search_docs_update AFTER UPDATE ON search_docs BEGIN \
     INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', old.rowid, old.body); \
     INSERT INTO search_fts (rowid, body) VALUES (new.rowid, new.body); END",
    ),
    (
        Some(Backend::Sqlite),
        "UPDATE conversations SET assignee = json_extract(data, '$.assignee'), \
     team = json_extract(data, '$.team'), \
     escalation_level = COALESCE(CAST(json_extract(data, '$.escalation_level') AS BIGINT), 0)",
    ),
    (
        Some(Backend::Sqlite),
        "INSERT INTO conversation_tags (conversation_id, tag) \
     SELECT c.id, t.value FROM conversations c, json_each(json_extract(c.data, '$.tags')) t",
    ),
    (
        Some(Backend::Sqlite),
        "INSERT INTO search_docs (doc_id, conversation_id, body) \
     SELECT id, conversation_id, COALESCE(json_extract(data, '$.text'), '') FROM messages",
    ),
    (
        Some(Backend::Postgres),
        "ALTER TABLE search_docs ADD COLUMN body_tsv tsvector \
     GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED",
    ),
    (
        Some(Backend::Postgres),
        "CREATE INDEX search_docs_tsv ON search_docs USING GIN (body_tsv)",
    ),
    (
        Some(Backend::Postgres),
        "UPDATE conversations SET assignee = data::json ->> 'assignee', \
     team = data::json ->> 'team', \
     escalation_level = COALESCE(CAST(data::json ->> 'escalation_level' AS BIGINT), 0)",
    ),
    (
        Some(Backend::Postgres),
        "INSERT INTO conversation_tags (conversation_id, tag) \
     SELECT c.id, t.tag FROM conversations c, \
     json_array_elements_text(COALESCE(c.data::json -> 'tags', '[]'::json)) AS t(tag)",
    ),
    (
        Some(Backend::Postgres),
        "INSERT INTO search_docs (doc_id, conversation_id, body) \
     SELECT id, conversation_id, COALESCE(data::json ->> 'text', '') FROM messages",
    ),
];

/// Version 4: the change feed (see `changes.rs`). A change's position is
/// `(xid, id)`: on Postgres the writing transaction's id and a sequence
/// number, on SQLite 0 and an `AUTOINCREMENT` row id (one writer commits in
/// order, and ids are never reused after a prune). `changes_pruned` holds
/// the newest position deleted, so a read from before it can say so.
const V4: &[(Option<Backend>, &str)] = &[
    (
        Some(Backend::Sqlite),
        "CREATE TABLE changes (id INTEGER PRIMARY KEY AUTOINCREMENT, xid BIGINT NOT NULL, \
         at BIGINT NOT NULL, conversation_id TEXT, kind TEXT NOT NULL, data TEXT NOT NULL)",
    ),
    (
        Some(Backend::Postgres),
        "CREATE TABLE changes (id BIGSERIAL PRIMARY KEY, xid BIGINT NOT NULL, \
         at BIGINT NOT NULL, conversation_id TEXT, kind TEXT NOT NULL, data TEXT NOT NULL)",
    ),
    (None, "CREATE INDEX changes_position ON changes (xid, id)"),
    (
        None,
        "CREATE TABLE changes_pruned (one BIGINT PRIMARY KEY, xid BIGINT NOT NULL, id BIGINT NOT NULL)",
    ),
    (
        None,
        "INSERT INTO changes_pruned (one, xid, id) VALUES (1, 0, 0)",
    ),
];

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
        let shared =
            |statements: &'static [&'static str]| -> Vec<&'static str> { statements.to_vec() };
        let for_backend = |statements: &'static [(Option<Backend>, &'static str)]| {
            statements
                .iter()
                .filter(|(only, _)| only.is_none_or(|b| b == backend))
                .map(|(_, statement)| *statement)
                .collect::<Vec<_>>()
        };
        let steps: [(i64, Vec<&str>); 4] = [
            (1, shared(V1)),
            (2, shared(V2)),
            (3, for_backend(V3)),
            (4, for_backend(V4)),
        ];
        for (step, statements) in steps {
            if version >= step {
                continue;
            }
            for statement in statements {
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
