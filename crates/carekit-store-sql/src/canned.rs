//! Canned responses ([`CannedResponses`](carekit_core::CannedResponses))
//! in the `canned_responses` table: reads over [`Exec`] for both backends,
//! and the row a save binds. The name has its own unique column; the rest
//! is the response's JSON.

use crate::codec::{from_json, micros, to_json};
use crate::exec::{Exec, Kind, Val};
use carekit_core::{CannedId, CannedResponse, StoreError};

/// The statement and parameters that add `r`, or replace the response
/// with its id.
pub(crate) fn upsert(r: &CannedResponse) -> Result<(String, Vec<Val>), StoreError> {
    Ok((
        "INSERT INTO canned_responses (id, name, updated_at, data) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at, \
         data = excluded.data"
            .to_owned(),
        vec![
            r.id.to_string().into(),
            r.name.clone().into(),
            micros(r.updated_at).into(),
            to_json(r)?.into(),
        ],
    ))
}

/// One response by id.
pub(crate) async fn canned_by<E: Exec>(
    db: &mut E,
    id: CannedId,
) -> Result<Option<CannedResponse>, StoreError> {
    db.fetch(
        "SELECT data FROM canned_responses WHERE id = $1",
        vec![id.to_string().into()],
        &[Kind::Text],
    )
    .await?
    .first()
    .map(|row| from_json(&row.text(0)?, "canned response"))
    .transpose()
}

/// Every response, by name (ordered here, so both backends order alike
/// whatever the database's collation).
pub(crate) async fn canned_all<E: Exec>(db: &mut E) -> Result<Vec<CannedResponse>, StoreError> {
    let mut all = db
        .fetch(
            "SELECT data FROM canned_responses",
            Vec::new(),
            &[Kind::Text],
        )
        .await?
        .iter()
        .map(|row| from_json::<CannedResponse>(&row.text(0)?, "canned response"))
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(all)
}
