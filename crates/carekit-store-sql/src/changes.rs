//! The change feed's rows, once for both backends: written inside the
//! commit's transaction, read back in commit order.
//!
//! A position is `(xid, id)`. On SQLite one writer commits in order, `xid`
//! is 0 and the `AUTOINCREMENT` id is the order. On Postgres a `BIGSERIAL`
//! id is taken when the row is inserted, not when its transaction commits,
//! so a transaction that started earlier can commit later with smaller ids
//! than rows a reader has already passed. Each row therefore records its
//! transaction's id (`pg_current_xact_id()`), and a reader takes only rows
//! whose transaction is older than every transaction still running
//! (`xid < pg_snapshot_xmin(pg_current_snapshot())`), ordered by
//! `(xid, id)`: every row that can still appear has an `xid` at or above
//! that horizon, hence a later position than anything already read. The
//! price is latency: a transaction left open anywhere in the cluster holds
//! the feed back until it ends.

use crate::backend::Backend;
use crate::codec::{from_json, micros, to_json};
use crate::exec::{Cells, Exec, Kind, Val};
use carekit_core::store::{ChangeEntry, ChangeKind, ChangePage, ChangePosition, changes_of};
use carekit_core::{Commit, StoreError};
use chrono::DateTime;

const INSERT_POSTGRES: &str = "INSERT INTO changes (xid, at, conversation_id, kind, data) \
     VALUES (pg_current_xact_id()::text::bigint, $1, $2, $3, $4)";
const INSERT_SQLITE: &str =
    "INSERT INTO changes (xid, at, conversation_id, kind, data) VALUES (0, $1, $2, $3, $4)";

/// The insert of one change row on `backend`, and its parameters.
pub(crate) fn insert(
    backend: Backend,
    entry: &ChangeEntry,
) -> Result<(&'static str, Vec<Val>), StoreError> {
    let sql = match backend {
        Backend::Postgres => INSERT_POSTGRES,
        Backend::Sqlite => INSERT_SQLITE,
    };
    Ok((
        sql,
        vec![
            micros(entry.at).into(),
            entry.conversation.map(|c| c.to_string()).into(),
            entry.kind.name().into(),
            to_json(&entry.kind)?.into(),
        ],
    ))
}

/// Writes the change rows of `commit` (inside its transaction).
pub(crate) async fn record<E: Exec>(db: &mut E, commit: &Commit) -> Result<(), StoreError> {
    let backend = db.backend();
    for entry in changes_of(commit) {
        let (sql, params) = insert(backend, &entry)?;
        db.execute(sql, params).await?;
    }
    Ok(())
}

/// The condition that keeps rows a reader may take: on Postgres, rows of
/// transactions older than every one still running.
fn readable(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        Backend::Sqlite => "xid = 0",
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn position(row: &Cells, xid: usize, id: usize) -> Result<ChangePosition, StoreError> {
    let part = |i: usize| {
        u64::try_from(row.int(i)?)
            .map_err(|_| StoreError::Corrupt("a negative change position".into()))
    };
    Ok(ChangePosition::new(part(xid)?, part(id)?))
}

/// The newest position pruned.
async fn pruned<E: Exec>(db: &mut E) -> Result<ChangePosition, StoreError> {
    let rows = db
        .fetch(
            "SELECT xid, id FROM changes_pruned WHERE one = 1",
            vec![],
            &[Kind::Int, Kind::Int],
        )
        .await?;
    match rows.first() {
        Some(row) => position(row, 0, 1),
        None => Ok(ChangePosition::ORIGIN),
    }
}

/// Up to `limit` readable changes after `after`, and whether changes after
/// it were pruned. The rows are read before the pruned mark: a prune moves
/// the mark before it deletes, so rows deleted under this read always show
/// as a gap.
pub(crate) async fn after<E: Exec>(
    db: &mut E,
    after: ChangePosition,
    limit: usize,
) -> Result<ChangePage, StoreError> {
    let (xid, id) = after.parts();
    let sql = format!(
        "SELECT xid, id, at, conversation_id, data FROM changes \
         WHERE {} AND (xid > $1 OR (xid = $1 AND id > $2)) ORDER BY xid, id LIMIT $3",
        readable(db.backend())
    );
    let rows = db
        .fetch(
            &sql,
            vec![
                to_i64(xid).into(),
                to_i64(id).into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
            &[Kind::Int, Kind::Int, Kind::Int, Kind::Text, Kind::Text],
        )
        .await?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let at = DateTime::from_timestamp_micros(row.int(2)?)
            .ok_or_else(|| StoreError::Corrupt("a change's time is out of range".into()))?;
        let conversation = row
            .opt_text(3)?
            .map(|c| {
                c.parse()
                    .map_err(|_| StoreError::Corrupt(format!("bad conversation id {c:?}")))
            })
            .transpose()?;
        let kind: ChangeKind = from_json(&row.text(4)?, "change")?;
        changes.push(ChangeEntry::new(at, conversation, kind).at_position(position(row, 0, 1)?));
    }
    let gap = after < pruned(db).await?;
    Ok(ChangePage::new(changes, gap))
}

/// The newest readable position (or the pruned mark when none is left).
pub(crate) async fn head<E: Exec>(db: &mut E) -> Result<ChangePosition, StoreError> {
    let newest = newest(db, 0).await?;
    let mark = pruned(db).await?;
    Ok(newest.map_or(mark, |p| p.max(mark)))
}

/// The position of the readable change `skip` places from the newest.
pub(crate) async fn newest<E: Exec>(
    db: &mut E,
    skip: usize,
) -> Result<Option<ChangePosition>, StoreError> {
    let sql = format!(
        "SELECT xid, id FROM changes WHERE {} ORDER BY xid DESC, id DESC LIMIT 1 OFFSET $1",
        readable(db.backend())
    );
    let rows = db
        .fetch(
            &sql,
            vec![i64::try_from(skip).unwrap_or(i64::MAX).into()],
            &[Kind::Int, Kind::Int],
        )
        .await?;
    rows.first().map(|row| position(row, 0, 1)).transpose()
}

/// The two statements of a prune through `through`, in the order they must
/// run: raise the pruned mark (never lower it), then delete.
pub(crate) fn prune(through: ChangePosition) -> [(&'static str, Vec<Val>); 2] {
    let (xid, id) = through.parts();
    let params = || vec![Val::from(to_i64(xid)), Val::from(to_i64(id))];
    [
        (
            "UPDATE changes_pruned SET xid = $1, id = $2 \
             WHERE one = 1 AND (xid < $1 OR (xid = $1 AND id < $2))",
            params(),
        ),
        (
            "DELETE FROM changes WHERE xid < $1 OR (xid = $1 AND id <= $2)",
            params(),
        ),
    ]
}
