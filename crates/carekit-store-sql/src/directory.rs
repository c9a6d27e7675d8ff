//! Agent accounts and API tokens ([`AgentDirectory`]) in the `agents` and
//! `api_tokens` tables: reads over [`Exec`] for both backends, and rows
//! as the writes bind them. A password is kept only as its PHC hash and a
//! token only as the SHA-256 digest of its secret.

use crate::codec::{from_json, micros, opt_micros, to_json};
use crate::exec::{Cells, Exec, Kind, Val};
use crate::write::{from_micros, parse_id};
use carekit_core::people::normalize_login;
use carekit_core::{
    AgentAccount, AgentId, PasswordHash, Role, Scope, StoreError, TokenId, TokenRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// An agent's columns beside the keyed ones.
#[derive(Serialize, Deserialize)]
struct AgentData {
    name: String,
    role: Role,
    #[serde(default)]
    teams: Vec<String>,
}

/// A token's columns beside the keyed ones.
#[derive(Serialize, Deserialize)]
struct TokenData {
    label: String,
    hint: String,
    scopes: BTreeSet<Scope>,
}

const AGENT_COLUMNS: &str = "id, login, password_hash, disabled, created_at, data";
const AGENT_SHAPE: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Text,
];
const TOKEN_COLUMNS: &str = "id, digest, agent_id, created_at, last_used_at, revoked_at, data";
const TOKEN_SHAPE: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Text,
];

fn agent(row: &Cells) -> Result<AgentAccount, StoreError> {
    let data: AgentData = from_json(&row.text(5)?, "agent")?;
    let mut agent = AgentAccount::new(row.text(1)?, data.role, from_micros(row.int(4)?))
        .with_name(data.name)
        .with_teams(data.teams);
    agent.id = parse_id(&row.text(0)?)?;
    agent.password = row.opt_text(2)?.map(PasswordHash::new);
    agent.disabled = row.int(3)? != 0;
    Ok(agent)
}

fn token(row: &Cells) -> Result<TokenRecord, StoreError> {
    let data: TokenData = from_json(&row.text(6)?, "api token")?;
    let mut token = TokenRecord::new(
        parse_id(&row.text(2)?)?,
        row.text(1)?,
        from_micros(row.int(3)?),
    )
    .with_label(data.label)
    .with_hint(data.hint)
    .with_scopes(data.scopes);
    token.id = parse_id(&row.text(0)?)?;
    token.last_used_at = row.opt_int(4)?.map(from_micros);
    token.revoked_at = row.opt_int(5)?.map(from_micros);
    Ok(token)
}

/// The statement and parameters that add `a`.
pub(crate) fn insert_agent(a: &AgentAccount) -> Result<(String, Vec<Val>), StoreError> {
    let data = to_json(&AgentData {
        name: a.name.clone(),
        role: a.role,
        teams: a.teams.clone(),
    })?;
    Ok((
        format!("INSERT INTO agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        vec![
            a.id.to_string().into(),
            normalize_login(&a.login).into(),
            a.password.as_ref().map(|p| p.expose().to_owned()).into(),
            i64::from(a.disabled).into(),
            micros(a.created_at).into(),
            data.into(),
        ],
    ))
}

/// The statement and parameters that add `t`.
pub(crate) fn insert_token(t: &TokenRecord) -> Result<(String, Vec<Val>), StoreError> {
    let data = to_json(&TokenData {
        label: t.label.clone(),
        hint: t.hint.clone(),
        scopes: t.scopes.clone(),
    })?;
    Ok((
        format!("INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        vec![
            t.id.to_string().into(),
            t.digest.clone().into(),
            t.agent.to_string().into(),
            micros(t.created_at).into(),
            opt_micros(t.last_used_at).into(),
            opt_micros(t.revoked_at).into(),
            data.into(),
        ],
    ))
}

/// One agent, by `id` or by `login` (`by_login`).
pub(crate) async fn agent_by<E: Exec>(
    db: &mut E,
    key: &str,
    by_login: bool,
) -> Result<Option<AgentAccount>, StoreError> {
    let column = if by_login { "login" } else { "id" };
    db.fetch(
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE {column} = $1"),
        vec![key.into()],
        AGENT_SHAPE,
    )
    .await?
    .first()
    .map(agent)
    .transpose()
}

/// Every agent, oldest first.
pub(crate) async fn agents_all<E: Exec>(db: &mut E) -> Result<Vec<AgentAccount>, StoreError> {
    db.fetch(
        &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at, id"),
        Vec::new(),
        AGENT_SHAPE,
    )
    .await?
    .iter()
    .map(agent)
    .collect()
}

/// One token, by `id` or by digest (`by_digest`).
pub(crate) async fn token_by<E: Exec>(
    db: &mut E,
    key: &str,
    by_digest: bool,
) -> Result<Option<TokenRecord>, StoreError> {
    let column = if by_digest { "digest" } else { "id" };
    db.fetch(
        &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE {column} = $1"),
        vec![key.into()],
        TOKEN_SHAPE,
    )
    .await?
    .first()
    .map(token)
    .transpose()
}

/// The tokens of one agent, or of everyone, oldest first.
pub(crate) async fn tokens_of<E: Exec>(
    db: &mut E,
    agent: Option<&str>,
) -> Result<Vec<TokenRecord>, StoreError> {
    let rows = match agent {
        Some(agent) => {
            db.fetch(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE agent_id = $1 ORDER BY created_at, id"
                ),
                vec![agent.into()],
                TOKEN_SHAPE,
            )
            .await?
        }
        None => {
            db.fetch(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id"),
                Vec::new(),
                TOKEN_SHAPE,
            )
            .await?
        }
    };
    rows.iter().map(token).collect()
}

/// Ids are written as their text form.
pub(crate) fn agent_key(id: AgentId) -> String {
    id.to_string()
}

/// Ids are written as their text form.
pub(crate) fn token_key(id: TokenId) -> String {
    id.to_string()
}
