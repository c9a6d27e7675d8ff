//! One small statement interface over both drivers, so the write path
//! (`apply`, the SQLite claims) is written once: sqlx connections for
//! Postgres, and rusqlite on the SQLite writer thread, where every call
//! completes without waiting.

use crate::backend::Backend;
use crate::error::map;
use carekit_core::StoreError;
use sqlx::Row as _;

/// A bound parameter or a fetched column: text or integer, either nullable.
/// Nulls are typed because Postgres needs to know what a `NULL` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(Some(s.to_owned()))
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(Some(s))
    }
}
impl From<&String> for Val {
    fn from(s: &String) -> Self {
        Val::Text(Some(s.clone()))
    }
}
impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(n: i64) -> Self {
        Val::Int(Some(n))
    }
}
impl From<Option<i64>> for Val {
    fn from(n: Option<i64>) -> Self {
        Val::Int(n)
    }
}

/// The type of a fetched column.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Text,
    Int,
}

/// One fetched row.
#[derive(Clone, Debug)]
pub(crate) struct Cells(pub(crate) Vec<Val>);

impl Cells {
    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Val::Text(t)) => Ok(t.clone()),
            _ => Err(StoreError::Corrupt(format!("column {i} is not text"))),
        }
    }
    pub(crate) fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get(i) {
            Some(Val::Int(n)) => Ok(*n),
            _ => Err(StoreError::Corrupt(format!("column {i} is not an integer"))),
        }
    }
    pub(crate) fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }
}

/// Runs statements inside a transaction someone else opened. Parameters are
/// written `$1`, `$2`, … in both backends.
pub(crate) trait Exec {
    /// Which database the statements run on (for the few that differ).
    fn backend(&self) -> Backend;
    /// Runs a statement; the number of rows it changed.
    fn execute(
        &mut self,
        sql: &str,
        params: Vec<Val>,
    ) -> impl Future<Output = Result<u64, StoreError>>;
    /// Runs a query; its rows, decoded as `shape` says.
    fn fetch(
        &mut self,
        sql: &str,
        params: Vec<Val>,
        shape: &[Kind],
    ) -> impl Future<Output = Result<Vec<Cells>, StoreError>>;
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: Vec<Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for p in params {
        query = match p {
            Val::Text(t) => query.bind(t),
            Val::Int(n) => query.bind(n),
        };
    }
    query
}

impl Exec for sqlx::AnyConnection {
    fn backend(&self) -> Backend {
        if self.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    async fn execute(&mut self, sql: &str, params: Vec<Val>) -> Result<u64, StoreError> {
        let done = bind_all(sqlx::query(sql), params)
            .execute(&mut *self)
            .await
            .map_err(map)?;
        Ok(done.rows_affected())
    }

    async fn fetch(
        &mut self,
        sql: &str,
        params: Vec<Val>,
        shape: &[Kind],
    ) -> Result<Vec<Cells>, StoreError> {
        let rows = bind_all(sqlx::query(sql), params)
            .fetch_all(&mut *self)
            .await
            .map_err(map)?;
        rows.iter().map(|row| cells(row, shape)).collect()
    }
}

/// A sqlx row decoded as `shape` says.
pub(crate) fn cells(row: &sqlx::any::AnyRow, shape: &[Kind]) -> Result<Cells, StoreError> {
    shape
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            Kind::Text => row.try_get::<Option<String>, _>(i).map(Val::Text),
            Kind::Int => row.try_get::<Option<i64>, _>(i).map(Val::Int),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Cells)
        .map_err(map)
}

#[cfg(feature = "sqlite")]
pub(crate) use self::sqlite::{Direct, now};

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::{Cells, Exec, Kind, Val};
    use crate::error::map_sqlite;
    use carekit_core::StoreError;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Polls a future over [`Direct`] to its end: rusqlite calls block and
    /// return, so such a future is ready on its first poll.
    pub(crate) fn now<T>(future: impl Future<Output = T>) -> T {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(value) => value,
            Poll::Pending => unreachable!("a rusqlite statement never waits"),
        }
    }

    /// rusqlite behind [`Exec`]: every call finishes before it returns, so
    /// the futures are ready on their first poll (see `writer::now`).
    pub(crate) struct Direct<'c>(pub(crate) &'c rusqlite::Connection);

    impl Direct<'_> {
        fn prepare(
            &self,
            sql: &str,
            params: Vec<Val>,
        ) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
            let mut statement = self.0.prepare_cached(sql).map_err(map_sqlite)?;
            for (i, p) in params.into_iter().enumerate() {
                // SQLite numbers `$N` parameters in order of first use;
                // carekit's statements use them in order, which is checked
                // here rather than looked up by name on every bind.
                let index = i + 1;
                let named = statement
                    .parameter_name(index)
                    .and_then(|name| name.strip_prefix('$'))
                    .and_then(|n| n.parse::<usize>().ok());
                if named != Some(index) {
                    return Err(StoreError::Backend(format!(
                        "parameter {index} is not ${index}: {sql}"
                    )));
                }
                match p {
                    Val::Text(t) => statement.raw_bind_parameter(index, t),
                    Val::Int(n) => statement.raw_bind_parameter(index, n),
                }
                .map_err(map_sqlite)?;
            }
            Ok(statement)
        }
    }

    impl Exec for Direct<'_> {
        fn backend(&self) -> crate::backend::Backend {
            crate::backend::Backend::Sqlite
        }

        async fn execute(&mut self, sql: &str, params: Vec<Val>) -> Result<u64, StoreError> {
            let mut statement = self.prepare(sql, params)?;
            let changed = statement.raw_execute().map_err(map_sqlite)?;
            Ok(changed as u64)
        }

        async fn fetch(
            &mut self,
            sql: &str,
            params: Vec<Val>,
            shape: &[Kind],
        ) -> Result<Vec<Cells>, StoreError> {
            let mut statement = self.prepare(sql, params)?;
            let mut rows = statement.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_sqlite)? {
                let cells = shape
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| match kind {
                        Kind::Text => row.get::<_, Option<String>>(i).map(Val::Text),
                        Kind::Int => row.get::<_, Option<i64>>(i).map(Val::Int),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_sqlite)?;
                out.push(Cells(cells));
            }
            Ok(out)
        }
    }
}
