//! The `Store` implementation.

use crate::codec::{from_json, micros, opt_micros, to_json};
use crate::error::map;
use crate::schema;
use async_trait::async_trait;
use carekit_core::store::{
    Claim, ConsentRecord, ConversationFilter, ConversationWrite, Lease, MessageLocation, OutboxItem,
};
use carekit_core::{
    AuditEntry, ChannelKind, Commit, ConversationId, ConversationRecord, Customer, CustomerId,
    DeliveryState, Message, MessageId, Store, StoreError, ThreadKey,
};
use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, ConnectOptions, Row};
use std::str::FromStr;
use std::time::Duration;

/// Which database is behind a [`SqlStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite in a file (one writer connection, WAL).
    Sqlite,
    /// Postgres (claims use `FOR UPDATE SKIP LOCKED`).
    Postgres,
}

/// Opens a [`SqlStore`] with non-default settings.
#[derive(Clone, Debug)]
pub struct SqlStoreBuilder {
    url: String,
    max_connections: u32,
    schema: Option<String>,
    acquire_timeout: Duration,
}

impl SqlStoreBuilder {
    /// At most this many connections (readers on SQLite; all on Postgres). Default 8.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }
    /// Postgres only: keep carekit's tables in this schema (created if
    /// missing). Lets several desks, or test runs, share one database.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
    /// How long to wait for a connection before failing with `Unavailable`. Default 10 s.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Connects and applies migrations.
    ///
    /// # Errors
    /// `NotAStore` for a file that is not SQLite or a database holding other
    /// tables; `SchemaTooNew` for a schema from a newer carekit;
    /// `Unavailable` when the server cannot be reached.
    pub async fn open(self) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if self.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if self.url.starts_with("postgres:") || self.url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Backend(format!(
                "unsupported database URL scheme in `{}` (use sqlite: or postgres:)",
                redact(&self.url)
            )));
        };
        let options = AnyConnectOptions::from_str(&self.url)
            .map_err(|e| StoreError::Backend(format!("bad database URL: {e}")))?
            .disable_statement_logging();
        match backend {
            Backend::Sqlite => self.open_sqlite(options).await,
            Backend::Postgres => self.open_postgres(options).await,
        }
    }

    async fn open_sqlite(self, options: AnyConnectOptions) -> Result<SqlStore, StoreError> {
        // Probe with one plain connection first, so "not a database" surfaces
        // as itself rather than as a pool that keeps retrying.
        {
            let mut probe = options.connect().await.map_err(map)?;
            sqlx::query("SELECT COUNT(*) FROM sqlite_master")
                .fetch_one(&mut probe)
                .await
                .map_err(map)?;
        }
        // One writer connection: SQLite has one writer anyway, and a single
        // connection makes every write transaction effectively IMMEDIATE.
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(self.acquire_timeout)
            .after_connect(sqlite_pragmas)
            .connect_with(options.clone())
            .await
            .map_err(map)?;
        {
            let mut conn = writer.acquire().await.map_err(map)?;
            schema::migrate(
                &mut conn,
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .await?;
        }
        let reader = AnyPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .after_connect(sqlite_pragmas)
            .connect_with(options)
            .await
            .map_err(map)?;
        Ok(SqlStore {
            backend: Backend::Sqlite,
            reader,
            writer,
        })
    }

    async fn open_postgres(self, options: AnyConnectOptions) -> Result<SqlStore, StoreError> {
        let schema = match &self.schema {
            Some(s)
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Some(s.clone())
            }
            Some(s) => return Err(StoreError::Backend(format!("invalid schema name `{s}`"))),
            None => None,
        };
        if let Some(schema) = &schema {
            let mut conn = options.connect().await.map_err(map)?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&mut conn)
                .await
                .map_err(map)?;
        }
        let search_path = schema.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    if let Some(schema) = search_path {
                        sqlx::query(&format!("SET search_path TO {schema}"))
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(map)?;
        {
            let mut conn = pool.acquire().await.map_err(map)?;
            // Two workers starting together must not both create the schema.
            sqlx::query("SELECT pg_advisory_lock(72736578)")
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            let result = schema::migrate(
                &mut conn,
                "SELECT COUNT(*)::BIGINT FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .await;
            sqlx::query("SELECT pg_advisory_unlock(72736578)")
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            result?;
        }
        Ok(SqlStore {
            backend: Backend::Postgres,
            reader: pool.clone(),
            writer: pool,
        })
    }
}

/// Hides a password in a URL for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// WAL: readers never block the writer; `synchronous = NORMAL` is durable
/// across process crashes (only power loss can drop the last commits).
fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        for pragma in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA busy_timeout = 5000",
            "PRAGMA foreign_keys = ON",
        ] {
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
        Ok(())
    })
}

/// A durable store on SQLite or Postgres. Cheap to clone (pools inside).
#[derive(Clone)]
pub struct SqlStore {
    backend: Backend,
    reader: AnyPool,
    writer: AnyPool,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens the store at `url` (`sqlite://care.db`, created if missing;
    /// `postgres://user@host/db`) with default settings.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).open().await
    }

    /// A builder for `url`.
    pub fn builder(url: &str) -> SqlStoreBuilder {
        let url =
            if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            } else {
                url.to_owned()
            };
        SqlStoreBuilder {
            url,
            max_connections: 8,
            schema: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn load_customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        let row = sqlx::query("SELECT data FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map)?;
        row.map(|r| from_json::<Customer>(&text(&r, 0)?, "customer"))
            .transpose()
    }

    async fn full(&self, row: &AnyRow) -> Result<ConversationRecord, StoreError> {
        let version: i64 = row.try_get(0).map_err(map)?;
        let mut record: ConversationRecord = from_json(&text(row, 1)?, "conversation")?;
        record.version = u64::try_from(version).unwrap_or_default();
        if let Some(customer) = self.load_customer(&record.customer.id.to_string()).await? {
            record.customer = customer;
        }
        let rows =
            sqlx::query("SELECT data FROM messages WHERE conversation_id = $1 ORDER BY at, id")
                .bind(record.id.to_string())
                .fetch_all(&self.reader)
                .await
                .map_err(map)?;
        record.messages = rows
            .iter()
            .map(|r| from_json::<Message>(&text(r, 0)?, "message"))
            .collect::<Result<_, _>>()?;
        Ok(record)
    }
}

fn text(row: &AnyRow, index: usize) -> Result<String, StoreError> {
    row.try_get::<String, _>(index).map_err(map)
}

fn parse_state(s: &str) -> Result<DeliveryState, StoreError> {
    from_json(&format!("\"{s}\""), "delivery state")
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// An outbox row: `state`, `lease_worker`, `lease_until`, `data`; the columns
/// are authoritative over the JSON (claims change only the columns).
fn outbox_from_row(row: &AnyRow) -> Result<OutboxItem, StoreError> {
    let mut item: OutboxItem = from_json(&text(row, 3)?, "outbox item")?;
    item.state = parse_state(&text(row, 0)?)?;
    let worker: Option<String> = row.try_get(1).map_err(map)?;
    let until: Option<i64> = row.try_get(2).map_err(map)?;
    item.lease = match (worker, until) {
        (Some(worker), Some(until)) => Some(Lease {
            worker,
            until: from_micros(until),
        }),
        _ => None,
    };
    Ok(item)
}

const CONVERSATION_COLUMNS: &str = "version, data";
const OUTBOX_COLUMNS: &str = "state, lease_worker, lease_until, data";

#[async_trait]
impl Store for SqlStore {
    async fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(map)?;
        for (channel, external_id) in &commit.dedupe {
            let done = sqlx::query(
                "INSERT INTO dedupe (channel, external_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(channel.as_str())
            .bind(external_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Duplicate {
                    channel: *channel,
                    external_id: external_id.clone(),
                });
            }
        }
        for customer in &commit.customers {
            let id = customer.id.to_string();
            for identity in &customer.identities {
                let owner = sqlx::query(
                    "SELECT customer_id FROM identities WHERE channel = $1 AND handle = $2",
                )
                .bind(identity.channel.as_str())
                .bind(identity.handle.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map)?;
                if let Some(owner) = owner
                    && text(&owner, 0)? != id
                {
                    return Err(StoreError::Conflict(format!(
                        "identity {}:{} belongs to another customer",
                        identity.channel, identity.handle
                    )));
                }
            }
            sqlx::query("DELETE FROM identities WHERE customer_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
            for identity in &customer.identities {
                sqlx::query(
                    "INSERT INTO identities (channel, handle, customer_id) VALUES ($1, $2, $3)",
                )
                .bind(identity.channel.as_str())
                .bind(identity.handle.as_str())
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
            }
            sqlx::query("INSERT INTO customers (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data = excluded.data")
                .bind(&id)
                .bind(to_json(customer)?)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
        }
        for write in &commit.conversations {
            let mut record = write.record().clone();
            record.messages.clear();
            let id = record.id.to_string();
            let status = record.status.as_str();
            let thread_key = record.thread_key.as_ref().map(|k| k.as_str().to_owned());
            let data = to_json(&record)?;
            let version = i64::try_from(record.version).unwrap_or(i64::MAX);
            match write {
                ConversationWrite::Insert(_) => {
                    sqlx::query("INSERT INTO customers (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                        .bind(record.customer.id.to_string())
                        .bind(to_json(&record.customer)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    sqlx::query(
                        "INSERT INTO conversations (id, version, channel, account, thread_key, status, priority, \
                         customer_id, awaiting, opened_at, next_deadline, deadline_lease, data) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12)",
                    )
                    .bind(&id)
                    .bind(version)
                    .bind(record.channel.as_str())
                    .bind(record.account.as_str())
                    .bind(thread_key)
                    .bind(status)
                    .bind(record.priority.as_str())
                    .bind(record.customer.id.to_string())
                    .bind(i64::from(record.awaiting_customer))
                    .bind(micros(record.opened_at))
                    .bind(opt_micros(record.next_deadline))
                    .bind(data)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                }
                ConversationWrite::Update {
                    expected_version, ..
                } => {
                    let expected = i64::try_from(*expected_version).unwrap_or(i64::MAX);
                    let done = sqlx::query(
                        "UPDATE conversations SET version = $1, channel = $2, account = $3, thread_key = $4, \
                         status = $5, priority = $6, customer_id = $7, awaiting = $8, opened_at = $9, \
                         next_deadline = $10, deadline_lease = NULL, data = $11 WHERE id = $12 AND version = $13",
                    )
                    .bind(version)
                    .bind(record.channel.as_str())
                    .bind(record.account.as_str())
                    .bind(thread_key)
                    .bind(status)
                    .bind(record.priority.as_str())
                    .bind(record.customer.id.to_string())
                    .bind(i64::from(record.awaiting_customer))
                    .bind(micros(record.opened_at))
                    .bind(opt_micros(record.next_deadline))
                    .bind(data)
                    .bind(&id)
                    .bind(expected)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::Conflict(format!(
                            "conversation {id} is missing or not at version {expected_version}"
                        )));
                    }
                }
                _ => return Err(StoreError::Backend("unknown conversation write".into())),
            }
        }
        for message in &commit.messages {
            let conversation = message.conversation_id.to_string();
            let channel = sqlx::query("SELECT channel FROM conversations WHERE id = $1")
                .bind(&conversation)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map)?
                .ok_or_else(|| {
                    StoreError::Backend(format!(
                        "message {} refers to unknown conversation {conversation}",
                        message.id
                    ))
                })?;
            let channel = text(&channel, 0)?;
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, at, data) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, at = excluded.at",
            )
            .bind(message.id.to_string())
            .bind(&conversation)
            .bind(micros(message.at))
            .bind(to_json(message)?)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
            if let Some(external_id) = &message.external_id {
                sqlx::query(
                    "INSERT INTO message_index (channel, external_id, conversation_id, message_id) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (channel, external_id) DO UPDATE SET conversation_id = excluded.conversation_id, \
                     message_id = excluded.message_id",
                )
                .bind(channel)
                .bind(external_id.as_str())
                .bind(&conversation)
                .bind(message.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map)?;
            }
        }
        for entry in &commit.audit {
            sqlx::query(
                "INSERT INTO audit (id, conversation_id, at, data) VALUES ($1, $2, $3, $4)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(entry.conversation_id.to_string())
            .bind(micros(entry.at))
            .bind(to_json(entry)?)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        }
        for item in &commit.outbox {
            sqlx::query(
                "INSERT INTO outbox (id, state, next_attempt_at, created_at, lease_worker, lease_until, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
                 next_attempt_at = excluded.next_attempt_at, lease_worker = excluded.lease_worker, \
                 lease_until = excluded.lease_until, data = excluded.data",
            )
            .bind(item.id.to_string())
            .bind(item.state.as_str())
            .bind(micros(item.next_attempt_at))
            .bind(micros(item.created_at))
            .bind(item.lease.as_ref().map(|l| l.worker.clone()))
            .bind(item.lease.as_ref().map(|l| micros(l.until)))
            .bind(to_json(item)?)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        }
        for record in &commit.consent {
            sqlx::query(
                "INSERT INTO consent (channel, handle, data) VALUES ($1, $2, $3) \
                 ON CONFLICT (channel, handle) DO UPDATE SET data = excluded.data",
            )
            .bind(record.channel.as_str())
            .bind(record.handle.as_str())
            .bind(to_json(record)?)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        }
        for (name, value) in &commit.cursors {
            sqlx::query("INSERT INTO cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
                .bind(name.as_str())
                .bind(value.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map)?;
        }
        tx.commit().await.map_err(map)
    }

    async fn seen(&self, channel: ChannelKind, external_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM dedupe WHERE channel = $1 AND external_id = $2")
            .bind(channel.as_str())
            .bind(external_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map)?;
        Ok(row.is_some())
    }

    async fn customer_by_identity(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<Customer>, StoreError> {
        let row =
            sqlx::query("SELECT customer_id FROM identities WHERE channel = $1 AND handle = $2")
                .bind(channel.as_str())
                .bind(handle)
                .fetch_optional(&self.reader)
                .await
                .map_err(map)?;
        match row {
            Some(row) => self.load_customer(&text(&row, 0)?).await,
            None => Ok(None),
        }
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        self.load_customer(&id.to_string()).await
    }

    async fn locate_message(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<MessageLocation>, StoreError> {
        let row = sqlx::query("SELECT conversation_id, message_id FROM message_index WHERE channel = $1 AND external_id = $2")
            .bind(channel.as_str())
            .bind(external_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map)?;
        row.map(|r| {
            Ok(MessageLocation {
                conversation_id: parse_id(&text(&r, 0)?)?,
                message_id: parse_id(&text(&r, 1)?)?,
            })
        })
        .transpose()
    }

    async fn conversation_by_thread(
        &self,
        channel: ChannelKind,
        account: &str,
        key: &ThreadKey,
    ) -> Result<Option<ConversationId>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM conversations WHERE channel = $1 AND account = $2 AND thread_key = $3 \
             ORDER BY opened_at DESC, id DESC LIMIT 1",
        )
        .bind(channel.as_str())
        .bind(account)
        .bind(key.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map)?;
        row.map(|r| parse_id(&text(&r, 0)?)).transpose()
    }

    async fn awaiting_handoff(
        &self,
        customer: CustomerId,
        channel: ChannelKind,
    ) -> Result<Option<ConversationId>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM conversations WHERE customer_id = $1 AND channel = $2 AND awaiting = 1 \
             AND status IN ('open', 'pending', 'snoozed') ORDER BY opened_at DESC, id DESC LIMIT 1",
        )
        .bind(customer.to_string())
        .bind(channel.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map)?;
        row.map(|r| parse_id(&text(&r, 0)?)).transpose()
    }

    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(map)?;
        match row {
            Some(row) => Ok(Some(self.full(&row).await?)),
            None => Ok(None),
        }
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let mut sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE 1 = 1");
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        let mut order: Vec<bool> = Vec::new(); // true = text parameter
        let mut param = |sql: &mut String, clause: &str, is_text: bool| {
            let n = order.len() + 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
            order.push(is_text);
        };
        if let Some(status) = &filter.status {
            param(&mut sql, " AND status = ?", true);
            texts.push(status.clone());
        }
        if let Some(channel) = filter.channel {
            param(&mut sql, " AND channel = ?", true);
            texts.push(channel.as_str().to_owned());
        }
        if let Some(priority) = filter.priority {
            param(&mut sql, " AND priority = ?", true);
            texts.push(priority.as_str().to_owned());
        }
        if let Some(customer) = filter.customer {
            param(&mut sql, " AND customer_id = ?", true);
            texts.push(customer.to_string());
        }
        if let Some(from) = filter.opened_from {
            param(&mut sql, " AND opened_at >= ?", false);
            numbers.push(micros(from));
        }
        if let Some(to) = filter.opened_to {
            param(&mut sql, " AND opened_at < ?", false);
            numbers.push(micros(to));
        }
        sql.push_str(" ORDER BY opened_at DESC, id DESC");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {}", limit.min(i64::MAX as usize)));
        }
        let mut query = sqlx::query(&sql);
        let (mut t, mut n) = (texts.into_iter(), numbers.into_iter());
        for is_text in order {
            query = if is_text {
                query.bind(t.next())
            } else {
                query.bind(n.next())
            };
        }
        let rows = query.fetch_all(&self.reader).await.map_err(map)?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(self.full(row).await?);
        }
        Ok(records)
    }

    async fn audit_trail(&self, id: ConversationId) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT data FROM audit WHERE conversation_id = $1 ORDER BY at, id")
            .bind(id.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(map)?;
        rows.iter()
            .map(|r| from_json(&text(r, 0)?, "audit entry"))
            .collect()
    }

    async fn consent(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let row = sqlx::query("SELECT data FROM consent WHERE channel = $1 AND handle = $2")
            .bind(channel.as_str())
            .bind(handle)
            .fetch_optional(&self.reader)
            .await
            .map_err(map)?;
        row.map(|r| from_json(&text(&r, 0)?, "consent")).transpose()
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(map)?;
        row.map(|r| text(&r, 0)).transpose()
    }

    async fn outbox_item(&self, id: MessageId) -> Result<Option<OutboxItem>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(map)?;
        row.map(|r| outbox_from_row(&r)).transpose()
    }

    async fn claim_outbox(&self, claim: &Claim) -> Result<Vec<OutboxItem>, StoreError> {
        let now = micros(claim.now);
        let until = micros(claim.now + claim.lease);
        let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
        let due = "state IN ('queued', 'sending') AND (lease_until IS NULL OR lease_until <= $1) AND next_attempt_at <= $1";
        let mut items = match self.backend {
            Backend::Postgres => {
                let rows = sqlx::query(&format!(
                    "WITH picked AS (SELECT id, state AS prev_state, lease_worker AS prev_worker, lease_until AS prev_until \
                     FROM outbox WHERE {due} ORDER BY next_attempt_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE outbox o SET lease_worker = $3, lease_until = $4 FROM picked \
                     WHERE o.id = picked.id RETURNING picked.prev_state, picked.prev_worker, picked.prev_until, o.data"
                ))
                .bind(now)
                .bind(limit)
                .bind(claim.worker.as_str())
                .bind(until)
                .fetch_all(&self.writer)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(outbox_from_row)
                    .collect::<Result<Vec<_>, _>>()?
            }
            Backend::Sqlite => {
                let mut tx = self.writer.begin().await.map_err(map)?;
                let rows = sqlx::query(&format!(
                    "SELECT {OUTBOX_COLUMNS}, id FROM outbox WHERE {due} ORDER BY next_attempt_at, created_at, id LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(map)?;
                let mut items = Vec::with_capacity(rows.len());
                for row in &rows {
                    items.push(outbox_from_row(row)?);
                    sqlx::query(
                        "UPDATE outbox SET lease_worker = $1, lease_until = $2 WHERE id = $3",
                    )
                    .bind(claim.worker.as_str())
                    .bind(until)
                    .bind(text(row, 4)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                }
                tx.commit().await.map_err(map)?;
                items
            }
        };
        items.sort_by_key(|i| (i.next_attempt_at, i.created_at, i.id));
        Ok(items)
    }

    async fn outbox_in_states(
        &self,
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
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state IN ({list}) ORDER BY created_at, id LIMIT $1"
        ))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(map)?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<ConversationId>, StoreError> {
        let now = micros(claim.now);
        let until = micros(claim.now + claim.lease);
        let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
        let due = "next_deadline IS NOT NULL AND next_deadline <= $1 AND (deadline_lease IS NULL OR deadline_lease <= $1)";
        let mut picked: Vec<(i64, ConversationId)> = match self.backend {
            Backend::Postgres => {
                let rows = sqlx::query(&format!(
                    "WITH picked AS (SELECT id, next_deadline FROM conversations WHERE {due} \
                     ORDER BY next_deadline, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE conversations c SET deadline_lease = $3 FROM picked WHERE c.id = picked.id \
                     RETURNING picked.next_deadline, c.id"
                ))
                .bind(now)
                .bind(limit)
                .bind(until)
                .fetch_all(&self.writer)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<i64, _>(0).map_err(map)?,
                            parse_id(&text(r, 1)?)?,
                        ))
                    })
                    .collect::<Result<_, StoreError>>()?
            }
            Backend::Sqlite => {
                let mut tx = self.writer.begin().await.map_err(map)?;
                let rows = sqlx::query(&format!(
                    "SELECT next_deadline, id FROM conversations WHERE {due} ORDER BY next_deadline, id LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(map)?;
                let mut picked = Vec::with_capacity(rows.len());
                for row in &rows {
                    let id = text(row, 1)?;
                    sqlx::query("UPDATE conversations SET deadline_lease = $1 WHERE id = $2")
                        .bind(until)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    picked.push((row.try_get::<i64, _>(0).map_err(map)?, parse_id(&id)?));
                }
                tx.commit().await.map_err(map)?;
                picked
            }
        };
        picked.sort();
        Ok(picked.into_iter().map(|(_, id)| id).collect())
    }
}

fn parse_id<T: FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id `{s}`")))
}
