//! The read path, once for both backends: each read is a function over
//! [`Exec`], run on a pooled sqlx connection (Postgres) or inline on a
//! SQLite reader connection (see `readers`).

use crate::backend::Backend;
use crate::codec::{from_json, micros};
use crate::exec::{Cells, Exec, Kind, Val};
use crate::write::{self, OUTBOX_COLUMNS, OUTBOX_SHAPE, parse_id};
use carekit_core::store::{
    ConsentRecord, ConversationFilter, ConversationStats, ConversationStatsBuilder,
    MessageLocation, OutboxItem, ResponseMetric, SearchQuery, StateCount, count_states,
};
use carekit_core::{
    AuditEntry, ChannelKind, ConversationId, ConversationRecord, Customer, CustomerId,
    DeliveryState, MessageId, StoreError, ThreadKey,
};
use chrono::{DateTime, Utc};

pub(crate) use crate::canned::{canned_all, canned_by};
pub(crate) use crate::changes::{
    after as changes_after, head as change_head, newest as change_newest,
};
pub(crate) use crate::directory::{agent_by, agents_all, token_by, tokens_of};

/// The first row, if there is one.
async fn first_row<E: Exec>(
    db: &mut E,
    sql: &str,
    params: Vec<Val>,
    shape: &[Kind],
) -> Result<Option<Cells>, StoreError> {
    Ok(db.fetch(sql, params, shape).await?.into_iter().next())
}

/// The first row's first column as text, if there is a row.
async fn first_text<E: Exec>(
    db: &mut E,
    sql: &str,
    params: Vec<Val>,
) -> Result<Option<String>, StoreError> {
    first_row(db, sql, params, &[Kind::Text])
        .await?
        .map(|row| row.text(0))
        .transpose()
}

/// The first row's first column decoded from JSON, if there is a row.
async fn first_json<E: Exec, T: serde::de::DeserializeOwned>(
    db: &mut E,
    sql: &str,
    params: Vec<Val>,
    what: &str,
) -> Result<Option<T>, StoreError> {
    first_text(db, sql, params)
        .await?
        .map(|data| from_json(&data, what))
        .transpose()
}

/// Every row's first column decoded from JSON.
async fn all_json<E: Exec, T: serde::de::DeserializeOwned>(
    db: &mut E,
    sql: &str,
    params: Vec<Val>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    db.fetch(sql, params, &[Kind::Text])
        .await?
        .iter()
        .map(|row| from_json(&row.text(0)?, what))
        .collect()
}

pub(crate) async fn seen<E: Exec>(
    db: &mut E,
    channel: ChannelKind,
    external_id: &str,
) -> Result<bool, StoreError> {
    let rows = db
        .fetch(
            "SELECT 1 FROM dedupe WHERE channel = $1 AND external_id = $2",
            vec![channel.as_str().into(), external_id.into()],
            &[Kind::Int],
        )
        .await?;
    Ok(!rows.is_empty())
}

pub(crate) async fn customer<E: Exec>(
    db: &mut E,
    id: &str,
) -> Result<Option<Customer>, StoreError> {
    first_json(
        db,
        "SELECT data FROM customers WHERE id = $1",
        vec![id.into()],
        "customer",
    )
    .await
}

pub(crate) async fn customer_by_identity<E: Exec>(
    db: &mut E,
    channel: ChannelKind,
    handle: &str,
) -> Result<Option<Customer>, StoreError> {
    // One statement, so that an identity and its customer come from the
    // same snapshot.
    first_json(
        db,
        "SELECT c.data FROM identities i JOIN customers c ON c.id = i.customer_id \
         WHERE i.channel = $1 AND i.handle = $2",
        vec![channel.as_str().into(), handle.into()],
        "customer",
    )
    .await
}

pub(crate) async fn locate_message<E: Exec>(
    db: &mut E,
    channel: ChannelKind,
    external_id: &str,
) -> Result<Option<MessageLocation>, StoreError> {
    first_row(
        db,
        "SELECT conversation_id, message_id FROM message_index WHERE channel = $1 AND external_id = $2",
        vec![channel.as_str().into(), external_id.into()],
        &[Kind::Text, Kind::Text],
    )
    .await?
    .map(|row| {
            Ok(MessageLocation {
            conversation_id: parse_id(&row.text(0)?)?,
            message_id: parse_id(&row.text(1)?)?,
        })
    })
    .transpose()
}

pub(crate) async fn conversation_by_thread<E: Exec>(
    db: &mut E,
    channel: ChannelKind,
    account: &str,
    key: &ThreadKey,
) -> Result<Option<ConversationId>, StoreError> {
    first_text(
        db,
        "SELECT id FROM conversations WHERE channel = $1 AND account = $2 AND thread_key = $3 \
         ORDER BY opened_at DESC, id DESC LIMIT 1",
        vec![channel.as_str().into(), account.into(), key.as_str().into()],
    )
    .await?
    .map(|id| parse_id(&id))
    .transpose()
}

pub(crate) async fn awaiting_handoff<E: Exec>(
    db: &mut E,
    customer: CustomerId,
    channel: ChannelKind,
) -> Result<Option<ConversationId>, StoreError> {
    first_text(
        db,
        "SELECT id FROM conversations WHERE customer_id = $1 AND channel = $2 AND awaiting = 1 \
         AND status IN ('open', 'pending', 'snoozed') ORDER BY opened_at DESC, id DESC LIMIT 1",
        vec![customer.to_string().into(), channel.as_str().into()],
    )
    .await?
    .map(|id| parse_id(&id))
    .transpose()
}

const CONVERSATION_COLUMNS: &str = "version, data";
const CONVERSATION_SHAPE: &[Kind] = &[Kind::Int, Kind::Text];

/// A conversation row made whole: its customer and messages.
async fn full<E: Exec>(
    db: &mut E,
    version: i64,
    data: &str,
) -> Result<ConversationRecord, StoreError> {
    let mut record: ConversationRecord = from_json(data, "conversation")?;
    record.version = u64::try_from(version).unwrap_or_default();
    if let Some(customer) = customer(db, &record.customer.id.to_string()).await? {
        record.customer = customer;
    }
    record.messages = all_json(
        db,
        "SELECT data FROM messages WHERE conversation_id = $1 ORDER BY at, id",
        vec![record.id.to_string().into()],
        "message",
    )
    .await?;
    Ok(record)
}

pub(crate) async fn conversation<E: Exec>(
    db: &mut E,
    id: ConversationId,
) -> Result<Option<ConversationRecord>, StoreError> {
    let row = first_row(
        db,
        &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1"),
        vec![id.to_string().into()],
        CONVERSATION_SHAPE,
    )
    .await?;
    match row {
        Some(row) => Ok(Some(full(db, row.int(0)?, &row.text(1)?).await?)),
        None => Ok(None),
    }
}

/// `text` with LIKE's wildcards and its escape character escaped (`\\`).
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Conversations as `filter` selects them: every field in SQL, in the
/// meaning [`ConversationFilter::matches`] gives it.
pub(crate) async fn list_conversations<E: Exec>(
    db: &mut E,
    backend: Backend,
    filter: &ConversationFilter,
) -> Result<Vec<ConversationRecord>, StoreError> {
    let mut sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE 1 = 1");
    let mut params: Vec<Val> = Vec::new();
    // Each `?` in `text` is the next parameter; `values` in order.
    let mut clause = |sql: &mut String, text: &str, values: Vec<Val>| {
        let mut parts = text.split('?');
        sql.push_str(parts.next().unwrap_or_default());
        for (part, value) in parts.zip(values) {
            params.push(value);
            sql.push_str(&format!("${}", params.len()));
            sql.push_str(part);
        }
    };
    if let Some(status) = &filter.status {
        clause(&mut sql, " AND c.status = ?", vec![status.into()]);
    }
    if let Some(channel) = filter.channel {
        clause(
            &mut sql,
            " AND c.channel = ?",
            vec![channel.as_str().into()],
        );
    }
    if let Some(priority) = filter.priority {
        clause(
            &mut sql,
            " AND c.priority = ?",
            vec![priority.as_str().into()],
        );
    }
    if let Some(customer) = filter.customer {
        clause(
            &mut sql,
            " AND c.customer_id = ?",
            vec![customer.to_string().into()],
        );
    }
    if let Some(from) = filter.opened_from {
        clause(&mut sql, " AND c.opened_at >= ?", vec![micros(from).into()]);
    }
    if let Some(to) = filter.opened_to {
        clause(&mut sql, " AND c.opened_at < ?", vec![micros(to).into()]);
    }
    if let Some(assignee) = &filter.assignee {
        clause(&mut sql, " AND c.assignee = ?", vec![assignee.into()]);
    }
    if let Some(team) = &filter.team {
        clause(&mut sql, " AND c.team = ?", vec![team.into()]);
    }
    if let Some(tag) = &filter.tag {
        clause(
            &mut sql,
            " AND c.id IN (SELECT conversation_id FROM conversation_tags WHERE tag = ?)",
            vec![tag.into()],
        );
    }
    match filter.escalated {
        Some(true) => sql.push_str(" AND c.escalation_level > 0"),
        Some(false) => sql.push_str(" AND c.escalation_level = 0"),
        None => {}
    }
    if let Some(due) = filter.due_before {
        clause(
            &mut sql,
            " AND c.next_deadline IS NOT NULL AND c.next_deadline < ?",
            vec![micros(due).into()],
        );
    }
    if let Some(after) = filter.after {
        let at = micros(after.opened_at);
        clause(
            &mut sql,
            " AND (c.opened_at < ? OR (c.opened_at = ? AND c.id < ?))",
            vec![at.into(), at.into(), after.id.to_string().into()],
        );
    }
    if let Some(query) = &filter.search {
        search_clause(backend, query, &mut |text, values| {
            clause(&mut sql, text, values)
        });
    }
    sql.push_str(" ORDER BY c.opened_at DESC, c.id DESC");
    if let Some(limit) = filter.limit {
        sql.push_str(&format!(" LIMIT {}", limit.min(i64::MAX as usize)));
    }
    let rows = db.fetch(&sql, params, CONVERSATION_SHAPE).await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        records.push(full(db, row.int(0)?, &row.text(1)?).await?);
    }
    Ok(records)
}

/// The search's condition: a handle of the customer that contains the
/// query (LIKE, escaped), or a message holding every word (FTS5 on SQLite,
/// a tsvector on Postgres). The words are letters and digits only (see
/// [`SearchQuery::words`]), so nothing the caller typed is query syntax.
fn search_clause(backend: Backend, query: &SearchQuery, clause: &mut dyn FnMut(&str, Vec<Val>)) {
    let needle = query.handle_needle();
    let words = query.words();
    let handles = "EXISTS (SELECT 1 FROM identities i WHERE i.customer_id = c.customer_id \
                   AND lower(i.handle) LIKE ? ESCAPE '\\')";
    let handle_value = || Val::from(format!("%{}%", like_escaped(&needle)));
    let text = match backend {
        Backend::Postgres => {
            "c.id IN (SELECT d.conversation_id FROM search_docs d \
             WHERE d.body_tsv @@ plainto_tsquery('simple', ?))"
        }
        _ => {
            "c.id IN (SELECT d.conversation_id FROM search_docs d \
             JOIN search_fts f ON f.rowid = d.rowid WHERE search_fts MATCH ?)"
        }
    };
    let text_value = || match backend {
        Backend::Postgres => Val::from(words.join(" ")),
        // Each word quoted: an FTS5 string, never an operator.
        _ => Val::from(
            words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    match (needle.is_empty(), words.is_empty()) {
        (true, true) => clause(" AND 1 = 0", Vec::new()),
        (false, true) => clause(&format!(" AND {handles}"), vec![handle_value()]),
        (true, false) => clause(&format!(" AND {text}"), vec![text_value()]),
        (false, false) => clause(
            &format!(" AND ({handles} OR {text})"),
            vec![handle_value(), text_value()],
        ),
    }
}

pub(crate) async fn audit_trail<E: Exec>(
    db: &mut E,
    id: ConversationId,
) -> Result<Vec<AuditEntry>, StoreError> {
    all_json(
        db,
        "SELECT data FROM audit WHERE conversation_id = $1 ORDER BY at, id",
        vec![id.to_string().into()],
        "audit entry",
    )
    .await
}

pub(crate) async fn consent<E: Exec>(
    db: &mut E,
    channel: ChannelKind,
    handle: &str,
) -> Result<Option<ConsentRecord>, StoreError> {
    first_json(
        db,
        "SELECT data FROM consent WHERE channel = $1 AND handle = $2",
        vec![channel.as_str().into(), handle.into()],
        "consent",
    )
    .await
}

/// A value of the key-value ledger. The table keeps its first name,
/// `cursors`, so stores written by earlier versions need no migration.
pub(crate) async fn value<E: Exec>(db: &mut E, name: &str) -> Result<Option<String>, StoreError> {
    first_text(
        db,
        "SELECT value FROM cursors WHERE name = $1",
        vec![name.into()],
    )
    .await
}

pub(crate) async fn outbox_item<E: Exec>(
    db: &mut E,
    id: MessageId,
) -> Result<Option<OutboxItem>, StoreError> {
    first_row(
        db,
        &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"),
        vec![id.to_string().into()],
        OUTBOX_SHAPE,
    )
    .await?
    .as_ref()
    .map(write::outbox_item)
    .transpose()
}

pub(crate) async fn outbox_in_states<E: Exec>(
    db: &mut E,
    states: &[DeliveryState],
    limit: usize,
) -> Result<Vec<OutboxItem>, StoreError> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let list = states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db
        .fetch(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state IN ({list}) ORDER BY created_at, id LIMIT $1"
            ),
            vec![i64::try_from(limit).unwrap_or(i64::MAX).into()],
            OUTBOX_SHAPE,
        )
        .await?;
    rows.iter().map(write::outbox_item).collect()
}

pub(crate) async fn outbox_counts<E: Exec>(
    db: &mut E,
    states: &[DeliveryState],
) -> Result<Vec<StateCount>, StoreError> {
    let mut counts = count_states(states, std::iter::empty());
    if counts.is_empty() {
        return Ok(counts);
    }
    let list = counts
        .iter()
        .map(|c| format!("'{}'", c.state.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db
        .fetch(
            &format!("SELECT state, COUNT(*) FROM outbox WHERE state IN ({list}) GROUP BY state"),
            Vec::new(),
            &[Kind::Text, Kind::Int],
        )
        .await?;
    for row in &rows {
        let state = row.text(0)?;
        if let Some(c) = counts.iter_mut().find(|c| c.state.as_str() == state) {
            c.count = u64::try_from(row.int(1)?).unwrap_or_default();
        }
    }
    Ok(counts)
}

/// A JSON value at `path` in the text column `column`, as SQL text.
fn json_at(backend: Backend, column: &str, path: &[&str]) -> String {
    match backend {
        Backend::Postgres => format!("({column}::json #>> '{{{}}}')", path.join(",")),
        _ => format!("json_extract({column}, '$.{}')", path.join(".")),
    }
}

/// An RFC 3339 instant as stored in JSON, in microseconds.
fn json_micros(text: Option<String>) -> Option<i64> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.timestamp_micros())
}

pub(crate) async fn conversation_stats<E: Exec>(
    db: &mut E,
    backend: Backend,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ConversationStats, StoreError> {
    let range = || vec![Val::from(micros(from)), Val::from(micros(to))];
    let in_range = "c.opened_at >= $1 AND c.opened_at < $2";
    let mut stats = ConversationStatsBuilder::new(from, to);
    // Counts per channel and status.
    for row in db
        .fetch(
            &format!(
                "SELECT c.channel, c.status, COUNT(*) FROM conversations c WHERE {in_range} \
                 GROUP BY c.channel, c.status"
            ),
            range(),
            &[Kind::Text, Kind::Text, Kind::Int],
        )
        .await?
    {
        stats.status(
            &row.text(0)?,
            &row.text(1)?,
            u64::try_from(row.int(2)?).unwrap_or_default(),
        );
    }
    // Percentiles need each conversation's times: the three instants only,
    // for conversations in the range that have one.
    let first = json_at(backend, "c.data", &["first_response_at"]);
    let human = json_at(backend, "c.data", &["first_human_response_at"]);
    let resolved = json_at(backend, "c.data", &["resolved_at"]);
    for row in db
        .fetch(
            &format!(
                "SELECT c.channel, c.status, c.opened_at, {first}, {human}, {resolved} \
                 FROM conversations c WHERE {in_range} \
                 AND ({first} IS NOT NULL OR {human} IS NOT NULL OR {resolved} IS NOT NULL)"
            ),
            range(),
            &[
                Kind::Text,
                Kind::Text,
                Kind::Int,
                Kind::Text,
                Kind::Text,
                Kind::Text,
            ],
        )
        .await?
    {
        let channel = row.text(0)?;
        let opened = row.int(2)?;
        if let Some(t) = json_micros(row.opt_text(3)?) {
            stats.duration(&channel, ResponseMetric::FirstResponse, t - opened);
        }
        if let Some(t) = json_micros(row.opt_text(4)?) {
            stats.duration(&channel, ResponseMetric::FirstHumanResponse, t - opened);
        }
        let done = matches!(row.text(1)?.as_str(), "resolved" | "closed");
        if done && let Some(t) = json_micros(row.opt_text(5)?) {
            stats.duration(&channel, ResponseMetric::Resolution, t - opened);
        }
    }
    // The audit entries of those conversations, counted in the database.
    let kind = json_at(backend, "a.data", &["kind", "type"]);
    let joined =
        format!("FROM audit a JOIN conversations c ON c.id = a.conversation_id WHERE {in_range}");
    let reason = json_at(backend, "a.data", &["kind", "reason", "reason"]);
    let code = json_at(backend, "a.data", &["kind", "reason", "code"]);
    for row in db
        .fetch(
            &format!(
                "SELECT c.channel, {reason}, {code}, COUNT(*) {joined} AND {kind} = 'escalated' \
                 GROUP BY c.channel, {reason}, {code}"
            ),
            range(),
            &[Kind::Text, Kind::Text, Kind::Text, Kind::Int],
        )
        .await?
    {
        let reason = row.opt_text(1)?.unwrap_or_default();
        let reason = match reason.as_str() {
            "custom" => row.opt_text(2)?.unwrap_or(reason),
            _ => reason,
        };
        stats.escalations(
            &row.text(0)?,
            &reason,
            u64::try_from(row.int(3)?).unwrap_or_default(),
        );
    }
    // A target breached and then met late counts once, as breached.
    let metric = json_at(backend, "a.data", &["kind", "metric"]);
    let sla_kind = json_at(backend, "a.data", &["kind", "kind"]);
    for row in db
        .fetch(
            &format!(
                "SELECT channel, metric, breached, COUNT(*) FROM (SELECT c.channel AS channel, \
                 {metric} AS metric, CAST(MAX(CASE WHEN {sla_kind} = 'breached' THEN 1 ELSE 0 END) AS BIGINT) \
                 AS breached {joined} AND {kind} = 'sla' AND {sla_kind} IN ('breached', 'fulfilled') \
                 GROUP BY c.id, c.channel, {metric}) per_conversation GROUP BY channel, metric, breached"
            ),
            range(),
            &[Kind::Text, Kind::Text, Kind::Int, Kind::Int],
        )
        .await?
    {
        stats.sla(
            &row.text(0)?,
            &row.opt_text(1)?.unwrap_or_default(),
            row.int(2)? != 0,
            u64::try_from(row.int(3)?).unwrap_or_default(),
        );
    }
    let rating = json_at(backend, "a.data", &["kind", "rating"]);
    for row in db
        .fetch(
            &format!(
                "SELECT c.channel, {kind}, COUNT(*), CAST(SUM(CASE WHEN {kind} = 'csat_answered' \
                 THEN CAST({rating} AS BIGINT) ELSE 0 END) AS BIGINT) {joined} \
                 AND {kind} IN ('handed_off', 'csat_requested', 'csat_answered') GROUP BY c.channel, {kind}"
            ),
            range(),
            &[Kind::Text, Kind::Text, Kind::Int, Kind::Int],
        )
        .await?
    {
        let channel = row.text(0)?;
        let n = u64::try_from(row.int(2)?).unwrap_or_default();
        match row.opt_text(1)?.as_deref() {
            Some("handed_off") => {
                stats.handoffs(&channel, n);
            }
            Some("csat_requested") => {
                stats.csat(&channel, n, 0, 0);
            }
            Some("csat_answered") => {
                let sum = u64::try_from(row.opt_int(3)?.unwrap_or_default()).unwrap_or_default();
                stats.csat(&channel, 0, n, sum);
            }
            _ => {}
        }
    }
    Ok(stats.finish())
}
