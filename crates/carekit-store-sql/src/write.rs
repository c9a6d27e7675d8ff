//! The write path, once for both backends: a [`Commit`] applied inside a
//! transaction the caller opened.

use crate::codec::{micros, opt_micros, to_json};
use crate::exec::{Cells, Exec, Kind, Val};
use carekit_core::store::{ConversationWrite, Lease, OutboxItem};
use carekit_core::{Commit, ConversationId, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::str::FromStr;

/// Columns an outbox row is read from: the columns are authoritative over
/// the JSON (claims change only the columns).
pub(crate) const OUTBOX_COLUMNS: &str = "state, lease_worker, lease_until, data";
pub(crate) const OUTBOX_SHAPE: &[Kind] = &[Kind::Text, Kind::Text, Kind::Int, Kind::Text];

/// Writes everything in `commit`, or fails with `Duplicate` (a dedupe key
/// was stored before), `Conflict` (a version or outbox state changed since
/// it was read) or `Constraint` (an identity or thread key held elsewhere).
/// The commit's rows of the change feed are written in the same
/// transaction. The caller rolls back on error.
pub(crate) async fn apply<E: Exec>(db: &mut E, commit: &Commit) -> Result<(), StoreError> {
    for (channel, external_id) in &commit.dedupe {
        let inserted = db
            .execute(
                "INSERT INTO dedupe (channel, external_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                vec![channel.as_str().into(), external_id.into()],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                channel: *channel,
                external_id: external_id.clone(),
            });
        }
    }
    // Customers first drop the identities they hold, so a commit may move an
    // identity from one of its customers to another (a merge); an identity
    // still held by anyone else is a `Constraint`.
    for customer in &commit.customers {
        db.execute(
            "DELETE FROM identities WHERE customer_id = $1",
            vec![customer.id.to_string().into()],
        )
        .await?;
    }
    for customer in &commit.customers {
        let id = customer.id.to_string();
        for identity in &customer.identities {
            let owner = db
                .fetch(
                    "SELECT customer_id FROM identities WHERE channel = $1 AND handle = $2",
                    vec![identity.channel.as_str().into(), (&identity.handle).into()],
                    &[Kind::Text],
                )
                .await?;
            if !owner.is_empty() {
                return Err(StoreError::Constraint(format!(
                    "identity {}:{} belongs to another customer",
                    identity.channel, identity.handle
                )));
            }
            db.execute(
                "INSERT INTO identities (channel, handle, customer_id) VALUES ($1, $2, $3)",
                vec![
                    identity.channel.as_str().into(),
                    (&identity.handle).into(),
                    (&id).into(),
                ],
            )
            .await?;
        }
        db.execute(
            "INSERT INTO customers (id, data) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            vec![id.into(), to_json(customer)?.into()],
        )
        .await?;
    }
    // A message's channel, for its index row: known here for the
    // conversations this commit writes, looked up otherwise.
    let mut channels: HashMap<ConversationId, &'static str> = HashMap::new();
    for write in &commit.conversations {
        let record = write.record();
        channels.insert(record.id, record.channel.as_str());
        let mut stored = record.clone();
        stored.messages.clear();
        let data = to_json(&stored)?;
        let columns: Vec<Val> = vec![
            i64::try_from(record.version).unwrap_or(i64::MAX).into(),
            record.channel.as_str().into(),
            record.account.as_str().into(),
            record
                .thread_key
                .as_ref()
                .map(|k| k.as_str().to_owned())
                .into(),
            record.status.as_str().into(),
            record.priority.as_str().into(),
            record.customer.id.to_string().into(),
            i64::from(record.awaiting_customer).into(),
            micros(record.opened_at).into(),
            opt_micros(record.next_deadline).into(),
            data.into(),
            record.assignee.clone().into(),
            record.team.clone().into(),
            i64::from(record.escalation_level).into(),
        ];
        match write {
            ConversationWrite::Insert(_) => {
                let customer_written = commit.customers.iter().any(|c| c.id == record.customer.id);
                if !customer_written {
                    db.execute(
                        "INSERT INTO customers (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                        vec![
                            record.customer.id.to_string().into(),
                            to_json(&record.customer)?.into(),
                        ],
                    )
                    .await?;
                }
                let mut params = vec![record.id.to_string().into()];
                params.extend(columns);
                db.execute(
                    "INSERT INTO conversations (id, version, channel, account, thread_key, status, priority, \
                     customer_id, awaiting, opened_at, next_deadline, deadline_lease, data, assignee, team, \
                     escalation_level) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13, $14, $15)",
                    params,
                )
                .await?;
            }
            ConversationWrite::Update {
                expected_version, ..
            } => {
                let mut params = columns;
                params.push(record.id.to_string().into());
                params.push(i64::try_from(*expected_version).unwrap_or(i64::MAX).into());
                let updated = db
                    .execute(
                        "UPDATE conversations SET version = $1, channel = $2, account = $3, thread_key = $4, \
                         status = $5, priority = $6, customer_id = $7, awaiting = $8, opened_at = $9, \
                         next_deadline = $10, deadline_lease = NULL, data = $11, assignee = $12, team = $13, \
                         escalation_level = $14 WHERE id = $15 AND version = $16",
                        params,
                    )
                    .await?;
                if updated == 0 {
                    return Err(StoreError::Conflict(format!(
                        "conversation {} is missing or not at version {expected_version}",
                        record.id
                    )));
                }
            }
            _ => return Err(StoreError::Backend("unknown conversation write".into())),
        }
        // The tags as rows, so a list can filter on one by index.
        db.execute(
            "DELETE FROM conversation_tags WHERE conversation_id = $1",
            vec![record.id.to_string().into()],
        )
        .await?;
        for tag in &record.tags {
            db.execute(
                "INSERT INTO conversation_tags (conversation_id, tag) VALUES ($1, $2)",
                vec![record.id.to_string().into(), tag.into()],
            )
            .await?;
        }
    }
    for message in &commit.messages {
        let conversation = message.conversation_id.to_string();
        let channel = match channels.get(&message.conversation_id) {
            Some(channel) => (*channel).to_owned(),
            None => db
                .fetch(
                    "SELECT channel FROM conversations WHERE id = $1",
                    vec![(&conversation).into()],
                    &[Kind::Text],
                )
                .await?
                .first()
                .ok_or_else(|| {
                    StoreError::Backend(format!(
                        "message {} refers to unknown conversation {conversation}",
                        message.id
                    ))
                })?
                .text(0)?,
        };
        db.execute(
            "INSERT INTO messages (id, conversation_id, at, data) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, at = excluded.at",
            vec![
                message.id.to_string().into(),
                (&conversation).into(),
                micros(message.at).into(),
                to_json(message)?.into(),
            ],
        )
        .await?;
        // The text a search finds (an FTS5 index or a tsvector follows it).
        db.execute(
            "INSERT INTO search_docs (doc_id, conversation_id, body) VALUES ($1, $2, $3) \
             ON CONFLICT (doc_id) DO UPDATE SET body = excluded.body",
            vec![
                message.id.to_string().into(),
                (&conversation).into(),
                search_body(&message.text).into(),
            ],
        )
        .await?;
        if let Some(external_id) = &message.external_id {
            db.execute(
                "INSERT INTO message_index (channel, external_id, conversation_id, message_id) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (channel, external_id) DO UPDATE SET \
                 conversation_id = excluded.conversation_id, message_id = excluded.message_id",
                vec![
                    channel.into(),
                    external_id.into(),
                    conversation.into(),
                    message.id.to_string().into(),
                ],
            )
            .await?;
        }
    }
    for entry in &commit.audit {
        db.execute(
            "INSERT INTO audit (id, conversation_id, at, data) VALUES ($1, $2, $3, $4)",
            vec![
                uuid::Uuid::now_v7().to_string().into(),
                entry.conversation_id.to_string().into(),
                micros(entry.at).into(),
                to_json(entry)?.into(),
            ],
        )
        .await?;
    }
    for item in &commit.outbox {
        let mut columns: Vec<Val> = vec![
            item.state.as_str().into(),
            micros(item.next_attempt_at).into(),
            micros(item.created_at).into(),
            item.lease.as_ref().map(|l| l.worker.clone()).into(),
            item.lease.as_ref().map(|l| micros(l.until)).into(),
            to_json(item)?.into(),
        ];
        if let Some((_, expected)) = commit.outbox_expect.iter().find(|(id, _)| *id == item.id) {
            // Written only if still in the state it was read in; the row
            // lock the UPDATE takes makes check and write one step.
            columns.push(item.id.to_string().into());
            columns.push(expected.as_str().into());
            let updated = db
                .execute(
                    "UPDATE outbox SET state = $1, next_attempt_at = $2, created_at = $3, \
                     lease_worker = $4, lease_until = $5, data = $6 WHERE id = $7 AND state = $8",
                    columns,
                )
                .await?;
            if updated == 0 {
                return Err(StoreError::Conflict(format!(
                    "outbox item {} is no longer {}",
                    item.id,
                    expected.as_str()
                )));
            }
            continue;
        }
        // An item the platform accepted never goes back to queued or sending.
        columns.insert(0, item.id.to_string().into());
        db.execute(
            "INSERT INTO outbox (id, state, next_attempt_at, created_at, lease_worker, lease_until, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
             next_attempt_at = excluded.next_attempt_at, lease_worker = excluded.lease_worker, \
             lease_until = excluded.lease_until, data = excluded.data \
             WHERE NOT (outbox.state IN ('sent', 'delivered', 'read') \
             AND excluded.state IN ('queued', 'sending'))",
            columns,
        )
        .await?;
    }
    for (id, expected) in &commit.outbox_expect {
        if commit.outbox.iter().any(|item| item.id == *id) {
            continue;
        }
        let found = db
            .fetch(
                "SELECT state FROM outbox WHERE id = $1",
                vec![id.to_string().into()],
                &[Kind::Text],
            )
            .await?;
        let state = found.first().map(|row| row.text(0)).transpose()?;
        if state.as_deref() != Some(expected.as_str()) {
            return Err(StoreError::Conflict(format!(
                "outbox item {id} is no longer {}",
                expected.as_str()
            )));
        }
    }
    for record in &commit.consent {
        db.execute(
            "INSERT INTO consent (channel, handle, data) VALUES ($1, $2, $3) \
             ON CONFLICT (channel, handle) DO UPDATE SET data = excluded.data",
            vec![
                record.channel.as_str().into(),
                (&record.handle).into(),
                to_json(record)?.into(),
            ],
        )
        .await?;
    }
    // The key-value ledger (`Commit::values`) lives in the table `cursors`,
    // its first name, kept so stores written by earlier versions need no
    // migration.
    for (name, value) in &commit.values {
        // With an expectation, check and write are one statement: the
        // unique name (insert if absent) or the row lock (update if equal)
        // decides between two workers.
        let expected = commit
            .values_expect
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e);
        let written = match expected {
            None => {
                db.execute(
                    "INSERT INTO cursors (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    vec![name.into(), value.into()],
                )
                .await?
            }
            Some(None) => {
                db.execute(
                    "INSERT INTO cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    vec![name.into(), value.into()],
                )
                .await?
            }
            Some(Some(old)) => {
                db.execute(
                    "UPDATE cursors SET value = $1 WHERE name = $2 AND value = $3",
                    vec![value.into(), name.into(), old.into()],
                )
                .await?
            }
        };
        if written == 0 {
            return Err(StoreError::Conflict(format!(
                "value {name} no longer holds the value it was read with"
            )));
        }
    }
    for (name, expected) in &commit.values_expect {
        if commit.values.iter().any(|(n, _)| n == name) {
            continue;
        }
        let found = db
            .fetch(
                "SELECT value FROM cursors WHERE name = $1",
                vec![name.into()],
                &[Kind::Text],
            )
            .await?;
        let value = found.first().map(|row| row.text(0)).transpose()?;
        if value != *expected {
            return Err(StoreError::Conflict(format!(
                "value {name} no longer holds the value it was read with"
            )));
        }
    }
    // Last, so that a commit refused above has written no change either.
    crate::changes::record(db, commit).await
}

/// An outbox row read with [`OUTBOX_COLUMNS`].
pub(crate) fn outbox_item(row: &Cells) -> Result<OutboxItem, StoreError> {
    let mut item: OutboxItem = crate::codec::from_json(&row.text(3)?, "outbox item")?;
    item.state = crate::codec::from_json(&format!("\"{}\"", row.text(0)?), "delivery state")?;
    item.lease = match (row.opt_text(1)?, row.opt_int(2)?) {
        (Some(worker), Some(until)) => Some(Lease {
            worker,
            until: from_micros(until),
        }),
        _ => None,
    };
    Ok(item)
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub(crate) fn parse_id<T: FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id `{s}`")))
}

/// A message's text as the search index keeps it: NUL bytes (which
/// Postgres text cannot hold, and which separate no words) become spaces,
/// and at most [`SEARCH_BODY_BYTES`] are kept (a tsvector is bounded).
fn search_body(text: &str) -> String {
    let mut end = text.len().min(SEARCH_BODY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace('\0', " ")
}

/// The most bytes of one message the search index keeps.
const SEARCH_BODY_BYTES: usize = 256 * 1024;
