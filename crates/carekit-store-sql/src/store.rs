//! The `Store` implementation.

use crate::backend::Backend;
use crate::codec::micros;
#[cfg(feature = "sqlite")]
use crate::connection::Target;
use crate::directory;
use crate::error::map;
#[cfg(feature = "sqlite")]
use crate::exec::Direct;
use crate::exec::{Val, cells};
use crate::read;
#[cfg(feature = "sqlite")]
use crate::readers::SqliteReaders;
use crate::schema;
use crate::write::{self, OUTBOX_SHAPE, parse_id};
#[cfg(feature = "sqlite")]
use crate::writer::SqliteWriter;
use async_trait::async_trait;
use carekit_core::people::normalize_login;
use carekit_core::store::{
    ChangeEntry, ChangePage, ChangePosition, Claim, ConsentRecord, ConversationFilter,
    ConversationStats, MessageLocation, OutboxItem, Presence, StateCount,
};
use carekit_core::{
    AgentAccount, AgentDirectory, AgentId, AuditEntry, CannedId, CannedResponse, CannedResponses,
    ChannelKind, Commit, ConversationId, ConversationRecord, Customer, CustomerId, DeliveryState,
    MessageId, Store, StoreError, ThreadKey, TokenId, TokenRecord,
};
use chrono::{DateTime, Utc};
#[cfg(feature = "postgres")]
use sqlx::any::AnyPoolOptions;
use sqlx::any::{AnyConnectOptions, AnyRow};
use sqlx::{AnyPool, ConnectOptions, Row};
use std::str::FromStr;
#[cfg(feature = "sqlite")]
use std::sync::Arc;
use std::time::Duration;

/// Opens a [`SqlStore`] with non-default settings.
#[derive(Clone, Debug)]
pub struct SqlStoreBuilder {
    url: String,
    max_connections: u32,
    schema: Option<String>,
    acquire_timeout: Duration,
}

impl SqlStoreBuilder {
    /// At most this many connections on Postgres; on SQLite, at most this
    /// many idle reader connections kept (more open while reads overlap). Default 8.
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
    /// Postgres: how long to wait for a pooled connection before failing
    /// with `Unavailable`. Default 10 s. (SQLite reads never wait for one:
    /// another reader is opened.)
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

    #[cfg(not(feature = "sqlite"))]
    async fn open_sqlite(self, _options: AnyConnectOptions) -> Result<SqlStore, StoreError> {
        Err(StoreError::NotBuilt {
            backend: "SQLite",
            krate: "carekit-store-sql",
            feature: "sqlite",
        })
    }

    #[cfg(not(feature = "postgres"))]
    async fn open_postgres(self, _options: AnyConnectOptions) -> Result<SqlStore, StoreError> {
        Err(StoreError::NotBuilt {
            backend: "Postgres",
            krate: "carekit-store-sql",
            feature: "postgres",
        })
    }

    #[cfg(feature = "sqlite")]
    async fn open_sqlite(self, options: AnyConnectOptions) -> Result<SqlStore, StoreError> {
        // An in-memory database gets a name, so that the writer thread's
        // connection and the readers' open the same one.
        let (options, memory) = if self.url.contains(":memory:") || self.url.contains("mode=memory")
        {
            let name = format!("file:carekit-memory-{}", uuid::Uuid::new_v4().simple());
            let url = format!("sqlite:{name}?mode=memory&cache=shared");
            let options = AnyConnectOptions::from_str(&url)
                .map_err(|e| StoreError::Backend(format!("bad database URL: {e}")))?
                .disable_statement_logging();
            (options, Some(name))
        } else {
            (options, None)
        };
        // Probe with one plain connection first, so "not a database" surfaces
        // as itself rather than as a pool that keeps retrying; it also
        // migrates, and says where the file is.
        let mut probe = options.connect().await.map_err(map)?;
        sqlx::query("SELECT COUNT(*) FROM sqlite_master")
            .fetch_one(&mut probe)
            .await
            .map_err(map)?;
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut probe)
            .await
            .map_err(map)?;
        schema::migrate(
            &mut probe,
            Backend::Sqlite,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .await?;
        let target = match memory {
            Some(name) => Target::Memory(name),
            None => {
                let file: String =
                    sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&mut probe)
                        .await
                        .map_err(map)?
                        .try_get(0)
                        .map_err(map)?;
                Target::File(file.into())
            }
        };
        // All writes go through one thread with its own connection (see
        // `writer`); reads run inline on reader connections (see `readers`).
        let writer = SqliteWriter::start(&target)?;
        let readers = SqliteReaders::open(&target, self.max_connections as usize)?;
        drop(probe);
        Ok(SqlStore {
            reader: Reader::Sqlite(readers),
            writer: Writer::Sqlite(writer),
        })
    }

    #[cfg(feature = "postgres")]
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
                Backend::Postgres,
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
            reader: Reader::Pool(pool.clone()),
            writer: Writer::Postgres(pool),
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

/// A durable store on SQLite or Postgres. Cheap to clone (pools inside).
#[derive(Clone)]
pub struct SqlStore {
    reader: Reader,
    writer: Writer,
}

/// Where reads go.
#[derive(Clone)]
enum Reader {
    /// Postgres: any pooled connection.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Pool(AnyPool),
    /// SQLite: a reader connection, inline.
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<SqliteReaders>),
}

/// Runs a function of `read` on the store's readers: `read!(store,
/// f(args))` inline, `read!(store, blocking f(args))` off the async workers
/// on SQLite (for reads that may return many rows).
macro_rules! read {
    ($store:expr, blocking $f:ident ( $($arg:expr),* )) => {
        match &$store.reader {
            #[cfg(feature = "sqlite")]
            Reader::Sqlite(readers) => {
                readers
                    .blocking(async move |db: &mut Direct<'_>| read::$f(db, $($arg),*).await)
                    .await
            }
            _ => read!($store, $f($($arg),*)),
        }
    };
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &$store.reader {
            Reader::Pool(pool) => {
                let mut conn = pool.acquire().await.map_err(map)?;
                read::$f(&mut *conn, $($arg),*).await
            }
            #[cfg(feature = "sqlite")]
            Reader::Sqlite(readers) => {
                readers.with(async |db: &mut Direct<'_>| read::$f(db, $($arg),*).await)
            }
        }
    };
}

/// Where writes go.
#[derive(Clone)]
enum Writer {
    /// Postgres: any pooled connection, one transaction per commit.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres(AnyPool),
    /// SQLite: the writer thread, group commit.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteWriter),
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
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
        match &self.writer {
            Writer::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The Postgres pool, for tests that hold transactions of their own.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> Option<AnyPool> {
        match &self.writer {
            Writer::Postgres(pool) => Some(pool.clone()),
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(_) => None,
        }
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match &self.writer {
            Writer::Postgres(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(writer) => writer.close().await,
        }
        match &self.reader {
            Reader::Pool(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            Reader::Sqlite(readers) => readers.close(),
        }
    }
}

impl SqlStore {
    /// Runs one write statement on its own; the number of rows it changed.
    async fn execute_one(&self, sql: String, params: Vec<Val>) -> Result<u64, StoreError> {
        match &self.writer {
            Writer::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(map)?;
                crate::exec::Exec::execute(&mut *conn, &sql, params).await
            }
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(writer) => writer.execute(sql, params).await,
        }
    }
}

#[async_trait]
impl AgentDirectory for SqlStore {
    async fn create_agent(&self, agent: &AgentAccount) -> Result<(), StoreError> {
        let (sql, params) = directory::insert_agent(agent)?;
        self.execute_one(sql, params).await.map(drop)
    }

    async fn agent(&self, id: AgentId) -> Result<Option<AgentAccount>, StoreError> {
        let key = directory::agent_key(id);
        read!(self, agent_by(&key, false))
    }

    async fn agent_by_login(&self, login: &str) -> Result<Option<AgentAccount>, StoreError> {
        let key = normalize_login(login);
        read!(self, agent_by(&key, true))
    }

    async fn agents(&self) -> Result<Vec<AgentAccount>, StoreError> {
        read!(self, agents_all())
    }

    async fn set_agent_disabled(&self, id: AgentId, disabled: bool) -> Result<bool, StoreError> {
        let changed = self
            .execute_one(
                "UPDATE agents SET disabled = $1 WHERE id = $2".into(),
                vec![i64::from(disabled).into(), directory::agent_key(id).into()],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let (sql, params) = directory::insert_token(token)?;
        self.execute_one(sql, params).await.map(drop)
    }

    async fn token_by_digest(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError> {
        read!(self, token_by(digest, true))
    }

    async fn token(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        let key = directory::token_key(id);
        read!(self, token_by(&key, false))
    }

    async fn tokens(&self, agent: Option<AgentId>) -> Result<Vec<TokenRecord>, StoreError> {
        let key = agent.map(directory::agent_key);
        read!(self, tokens_of(key.as_deref()))
    }

    async fn revoke_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let key = directory::token_key(id);
        let changed = self
            .execute_one(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2".into(),
                vec![micros(at).into(), key.into()],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.execute_one(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2".into(),
            vec![micros(at).into(), directory::token_key(id).into()],
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl CannedResponses for SqlStore {
    async fn save_canned(&self, response: &CannedResponse) -> Result<(), StoreError> {
        let (sql, params) = crate::canned::upsert(response)?;
        self.execute_one(sql, params).await.map(drop)
    }

    async fn canned(&self, id: CannedId) -> Result<Option<CannedResponse>, StoreError> {
        read!(self, canned_by(id))
    }

    async fn canned_all(&self) -> Result<Vec<CannedResponse>, StoreError> {
        read!(self, canned_all())
    }

    async fn delete_canned(&self, id: CannedId) -> Result<bool, StoreError> {
        let changed = self
            .execute_one(
                "DELETE FROM canned_responses WHERE id = $1".into(),
                vec![id.to_string().into()],
            )
            .await?;
        Ok(changed > 0)
    }
}

fn text(row: &AnyRow, index: usize) -> Result<String, StoreError> {
    row.try_get::<String, _>(index).map_err(map)
}

/// An outbox row read with [`OUTBOX_COLUMNS`].
fn outbox_from_row(row: &AnyRow) -> Result<OutboxItem, StoreError> {
    write::outbox_item(&cells(row, OUTBOX_SHAPE)?)
}

#[async_trait]
impl Store for SqlStore {
    async fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        match &self.writer {
            Writer::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(map)?;
                write::apply(&mut *tx, &commit).await?;
                tx.commit().await.map_err(map)
            }
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(writer) => writer.apply(commit).await,
        }
    }

    async fn seen(&self, channel: ChannelKind, external_id: &str) -> Result<bool, StoreError> {
        read!(self, seen(channel, external_id))
    }

    async fn customer_by_identity(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<Customer>, StoreError> {
        read!(self, customer_by_identity(channel, handle))
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        let id = id.to_string();
        read!(self, customer(&id))
    }

    async fn locate_message(
        &self,
        channel: ChannelKind,
        external_id: &str,
    ) -> Result<Option<MessageLocation>, StoreError> {
        read!(self, locate_message(channel, external_id))
    }

    async fn conversation_by_thread(
        &self,
        channel: ChannelKind,
        account: &str,
        key: &ThreadKey,
    ) -> Result<Option<ConversationId>, StoreError> {
        read!(self, conversation_by_thread(channel, account, key))
    }

    async fn awaiting_handoff(
        &self,
        customer: CustomerId,
        channel: ChannelKind,
    ) -> Result<Option<ConversationId>, StoreError> {
        read!(self, awaiting_handoff(customer, channel))
    }

    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        read!(self, conversation(id))
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let filter = filter.clone();
        let backend = self.backend();
        read!(self, blocking list_conversations(backend, &filter))
    }

    async fn audit_trail(&self, id: ConversationId) -> Result<Vec<AuditEntry>, StoreError> {
        read!(self, audit_trail(id))
    }

    async fn consent(
        &self,
        channel: ChannelKind,
        handle: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        read!(self, consent(channel, handle))
    }

    async fn value(&self, name: &str) -> Result<Option<String>, StoreError> {
        read!(self, value(name))
    }

    async fn outbox_item(&self, id: MessageId) -> Result<Option<OutboxItem>, StoreError> {
        read!(self, outbox_item(id))
    }

    async fn changes_after(
        &self,
        after: ChangePosition,
        limit: usize,
    ) -> Result<ChangePage, StoreError> {
        read!(self, changes_after(after, limit))
    }

    async fn change_head(&self) -> Result<ChangePosition, StoreError> {
        read!(self, change_head())
    }

    async fn announce(&self, presence: &Presence) -> Result<(), StoreError> {
        let (sql, params) =
            crate::changes::insert(self.backend(), &ChangeEntry::presence(presence))?;
        self.execute_one(sql.to_owned(), params).await.map(drop)
    }

    async fn prune_changes(&self, keep: usize) -> Result<u64, StoreError> {
        let Some(through) = read!(self, change_newest(keep))? else {
            return Ok(0);
        };
        let [mark, delete] = crate::changes::prune(through);
        self.execute_one(mark.0.to_owned(), mark.1).await?;
        self.execute_one(delete.0.to_owned(), delete.1).await
    }

    async fn claim_outbox(&self, claim: &Claim) -> Result<Vec<OutboxItem>, StoreError> {
        let mut items = match &self.writer {
            Writer::Postgres(pool) => {
                let rows = sqlx::query(
                    "WITH picked AS (SELECT id, state AS prev_state, lease_worker AS prev_worker, lease_until AS prev_until \
                     FROM outbox WHERE state IN ('queued', 'sending') AND (lease_until IS NULL OR lease_until <= $1) \
                     AND next_attempt_at <= $1 ORDER BY next_attempt_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE outbox o SET lease_worker = $3, lease_until = $4 FROM picked \
                     WHERE o.id = picked.id RETURNING picked.prev_state, picked.prev_worker, picked.prev_until, o.data"
                )
                .bind(micros(claim.now))
                .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX))
                .bind(claim.worker.as_str())
                .bind(micros(claim.now + claim.lease))
                .fetch_all(pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(outbox_from_row)
                    .collect::<Result<Vec<_>, _>>()?
            }
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(writer) => writer.claim_outbox(claim.clone()).await?,
        };
        items.sort_by_key(|i| (i.next_attempt_at, i.created_at, i.id));
        Ok(items)
    }

    async fn outbox_in_states(
        &self,
        states: &[DeliveryState],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let states = states.to_vec();
        read!(self, blocking outbox_in_states(&states, limit))
    }

    async fn outbox_counts(&self, states: &[DeliveryState]) -> Result<Vec<StateCount>, StoreError> {
        read!(self, outbox_counts(states))
    }

    async fn conversation_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ConversationStats, StoreError> {
        let backend = self.backend();
        read!(self, blocking conversation_stats(backend, from, to))
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<ConversationId>, StoreError> {
        let mut picked: Vec<(i64, ConversationId)> = match &self.writer {
            Writer::Postgres(pool) => {
                let rows = sqlx::query(
                    "WITH picked AS (SELECT id, next_deadline FROM conversations WHERE next_deadline IS NOT NULL \
                     AND next_deadline <= $1 AND (deadline_lease IS NULL OR deadline_lease <= $1) \
                     ORDER BY next_deadline, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE conversations c SET deadline_lease = $3 FROM picked WHERE c.id = picked.id \
                     RETURNING picked.next_deadline, c.id",
                )
                .bind(micros(claim.now))
                .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX))
                .bind(micros(claim.now + claim.lease))
                .fetch_all(pool)
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
            #[cfg(feature = "sqlite")]
            Writer::Sqlite(writer) => writer.claim_due(claim.clone()).await?,
        };
        picked.sort();
        Ok(picked.into_iter().map(|(_, id)| id).collect())
    }
}
