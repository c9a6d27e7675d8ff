//! Who is calling the API: agent accounts, their tokens and scopes, login
//! with throttling, and the one-time bootstrap of the first admin.
//!
//! - A token is `ckd_` and 43 characters of URL-safe base64 (256 random
//!   bits). Its secret is shown once, when it is made; the store keeps the
//!   hex SHA-256 digest of it and finds a presented token by that digest,
//!   so neither a timing difference nor the database reveals the secret.
//!   Every request reads the token again: a revoked token, or one of a
//!   disabled agent, is refused from the next request on.
//! - Passwords are hashed with Argon2id (the `argon2` crate's default
//!   parameters) off the async workers. A login for an account that does
//!   not exist verifies against a stand-in hash, and every failure gives the
//!   same answer, so the answer and its time do not tell whether a login
//!   exists.
//! - Failed logins are counted per account and per client address in the
//!   store's key-value ledger (one JSON list of failure times per key, written
//!   with compare-and-swap), so every worker of a desk counts together; at
//!   [`MAX_FAILURES`] within [`FAILURE_WINDOW_MINUTES`] the key is
//!   refused with 429 until its oldest failure leaves the window.
//! - `CAREKIT_API_TOKEN` only bootstraps: `POST /api/bootstrap` makes the
//!   first admin once. After that the configured token opens nothing.

use crate::api::shared::{ApiError, ApiState, parse_id};
use crate::auth::BearerToken;
use axum::Json;
use axum::extract::{Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use carekit_core::people::normalize_login;
use carekit_core::{
    Actor, AgentAccount, AgentId, KeyValues, PasswordHash, Role, Scope, Store, TokenId, TokenRecord,
};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::OnceLock;

/// What every API token begins with, so a leaked one is recognisable (and
/// secret scanners can look for it).
pub const TOKEN_PREFIX: &str = "ckd_";
/// Failed logins per account, or per client address, allowed within the
/// window before further attempts are refused with 429.
pub const MAX_FAILURES: usize = 5;
/// The window failed logins are counted over, in minutes.
pub const FAILURE_WINDOW_MINUTES: i64 = 15;
/// A token's last use is written at most this often (seconds), so reads do
/// not each cost a write.
const TOUCH_EVERY_SECONDS: i64 = 60;
/// Passwords are at least this many characters…
const MIN_PASSWORD_CHARS: usize = 10;
/// …and at most this many bytes.
const MAX_PASSWORD_BYTES: usize = 1024;
/// Logins, names, labels and teams are at most this many bytes.
const MAX_NAME_BYTES: usize = 200;
/// The key that records the bootstrap (the first admin's id).
const BOOTSTRAP_KEY: &str = "desk.people.bootstrap";

/// The client's address, put on each request by the server (absent when
/// the router is driven without a socket).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub IpAddr);

/// The authenticated caller of an `/api` request.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub agent: AgentAccount,
    pub token: TokenRecord,
    /// The token's scopes that the agent's role still grants.
    pub scopes: BTreeSet<Scope>,
}

impl Caller {
    /// Who the audit trail names: the agent's id, never a name from a body.
    pub fn actor(&self) -> Actor {
        Actor::Agent(self.agent.id.to_string())
    }

    /// Whether the caller may read `conversation` (or a change that names
    /// none): the one rule the conversation routes and the event stream
    /// share. Today every token with `read` reads every conversation.
    pub fn may_read(&self, conversation: Option<carekit_core::ConversationId>) -> bool {
        let _ = conversation;
        self.scopes.contains(&Scope::Read)
    }

    /// The conversation a path names, if the caller may read it: 404
    /// otherwise, the same answer as for one that does not exist.
    pub fn readable(&self, id: &str) -> Result<carekit_core::ConversationId, ApiError> {
        let id = parse_id(id)?;
        if self.may_read(Some(id)) {
            Ok(id)
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no conversation {id}"),
            ))
        }
    }

    /// Refuses with 403 naming the scope when the token lacks it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(missing_scope(scope))
        }
    }
}

fn missing_scope(scope: Scope) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!("this token lacks the {scope} scope"),
    )
    .with("missing_scope", scope.as_str())
}

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
}

fn store_failed(e: carekit_core::StoreError) -> ApiError {
    ApiError::from(carekit_core::DeskError::from(e))
}

/// The hex SHA-256 digest a token's secret is stored and found by.
pub(crate) fn token_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh token for `agent`: its secret (to show once) and its record.
pub(crate) fn mint(
    agent: AgentId,
    label: &str,
    scopes: BTreeSet<Scope>,
    now: DateTime<Utc>,
) -> (String, TokenRecord) {
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hint = secret
        .chars()
        .take(TOKEN_PREFIX.len() + 4)
        .collect::<String>();
    let record = TokenRecord::new(agent, token_digest(&secret), now)
        .with_label(label)
        .with_hint(hint)
        .with_scopes(scopes);
    (secret, record)
}

/// Mints a token for `agent` and stores its record: the secret, to show
/// once, and the record.
async fn issue(
    state: &ApiState,
    agent: AgentId,
    label: &str,
    scopes: BTreeSet<Scope>,
    now: DateTime<Utc>,
) -> Result<(String, TokenRecord), ApiError> {
    let (secret, token) = mint(agent, label, scopes, now);
    state
        .directory
        .create_token(&token)
        .await
        .map_err(store_failed)?;
    Ok((secret, token))
}

/// Hashes a password with Argon2id (default parameters, a random salt),
/// off the async workers.
pub(crate) async fn hash_password(password: String) -> Result<PasswordHash, ApiError> {
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordHasher as _;
        let salt_bytes: [u8; 16] = rand::random();
        let salt = argon2::password_hash::SaltString::encode_b64(&salt_bytes)
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot hash"))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash::new(h.to_string()))
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot hash"))
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot hash"))?
}

/// A hash no password is known for: what a login for an unknown account
/// verifies against, so that it costs what a real one does.
fn stand_in_hash() -> &'static str {
    static STAND_IN: OnceLock<String> = OnceLock::new();
    STAND_IN.get_or_init(|| {
        use argon2::PasswordHasher as _;
        let password: [u8; 32] = rand::random();
        let salt_bytes: [u8; 16] = rand::random();
        let salt = argon2::password_hash::SaltString::encode_b64(&salt_bytes)
            .expect("16 bytes make a salt");
        argon2::Argon2::default()
            .hash_password(&password, &salt)
            .expect("hashing random bytes succeeds")
            .to_string()
    })
}

/// Whether `password` matches the PHC `hash` (`None`: the stand-in, which
/// nothing matches), off the async workers.
async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::PasswordVerifier as _;
        let real = hash.is_some();
        let phc = hash.unwrap_or_else(|| stand_in_hash().to_owned());
        let ok = argon2::password_hash::PasswordHash::new(&phc)
            .map(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// The bearer token in `headers`, if any.
fn presented(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The scope a route needs: `Some(None)` for any valid token (the caller's
/// own account and tokens), `None` for a route this table does not know
/// (refused: a new route must be added here to be reachable).
fn scope_for(method: &Method, path: &str) -> Option<Option<Scope>> {
    let read = method == Method::GET;
    let scope = match path {
        "/api/conversations"
        | "/api/conversations/{id}"
        | "/api/conversations/{id}/messages/{message_id}/raw"
        | "/api/reports/summary"
            if read =>
        {
            Scope::Read
        }
        "/api/crisis" | "/api/events" if read => Scope::Read,
        // Typing needs `reply` too (see `api::events::presence`).
        "/api/conversations/{id}/presence" => Scope::Read,
        "/api/canned" | "/api/canned/{id}" | "/api/conversations/{id}/canned/{canned_id}"
            if read =>
        {
            Scope::Read
        }
        "/api/canned" | "/api/canned/{id}" => Scope::Manage,
        "/api/conversations/{id}/messages/{message_id}/hide"
        | "/api/conversations/{id}/messages/{message_id}/unhide"
        | "/api/incidents/{id}/outreach" => Scope::Manage,
        "/api/conversations/{id}/messages/{message_id}/retry" => Scope::Reply,
        "/api/crisis" => Scope::Manage,
        "/api/conversations/{id}/reply"
        | "/api/conversations/{id}/resolve"
        | "/api/conversations/{id}/status"
        | "/api/conversations/{id}/tags"
        | "/api/conversations/{id}/notes" => Scope::Reply,
        "/api/conversations/{id}/priority" => Scope::Manage,
        // Assigning to someone else needs `manage` too (see `assign`).
        "/api/conversations/{id}/assign" => Scope::Reply,
        // A handoff to a new recipient needs `handoff` too (see `handoff`).
        "/api/conversations/{id}/handoff" => Scope::Reply,
        "/api/customers/{id}/merge" => Scope::Manage,
        "/api/agents"
        | "/api/agents/{id}/disable"
        | "/api/agents/{id}/enable"
        | "/api/agents/{id}/tokens"
        | "/api/tokens"
        | "/api/admin/config" => Scope::Admin,
        "/api/me" | "/api/me/tokens" | "/api/tokens/{id}/revoke" => return Some(None),
        _ => return None,
    };
    Some(Some(scope))
}

/// Authenticates every `/api` route but login and bootstrap, and checks the
/// route's scope: 401 for no, an unknown, a revoked or a disabled agent's
/// token; 403 naming the scope the token lacks.
pub(crate) async fn authenticate(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(needed) = scope_for(request.method(), &path) else {
        return unauthorized().into_response();
    };
    let caller = match caller(&state, request.headers()).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Some(scope) = needed
        && let Err(e) = caller.require(scope)
    {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

async fn caller(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let secret = presented(headers).ok_or_else(unauthorized)?;
    caller_for(state, secret).await
}

/// The caller a token's secret stands for: 401 for none, a revoked token or
/// a disabled agent's (the console's sessions are read through this too).
pub(crate) async fn caller_for(state: &ApiState, secret: &str) -> Result<Caller, ApiError> {
    // Not one of ours (the configured token, a typo, a huge header): no
    // store read needed to say no.
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 100 {
        return Err(unauthorized());
    }
    let token = state
        .directory
        .token_by_digest(&token_digest(secret))
        .await
        .map_err(store_failed)?;
    resolve(state, token).await
}

/// The caller of a long request (the event stream) read again: 401 once its
/// token is revoked or its agent disabled, with the scopes it has now.
pub(crate) async fn recheck(state: &ApiState, caller: &Caller) -> Result<Caller, ApiError> {
    let token = state
        .directory
        .token(caller.token.id)
        .await
        .map_err(store_failed)?;
    resolve(state, token).await
}

/// The caller a stored token stands for: 401 for none, a revoked token or a
/// disabled agent's.
async fn resolve(state: &ApiState, token: Option<TokenRecord>) -> Result<Caller, ApiError> {
    let token = token
        .filter(|t| t.revoked_at.is_none())
        .ok_or_else(unauthorized)?;
    let agent = state
        .directory
        .agent(token.agent)
        .await
        .map_err(store_failed)?
        .filter(|a| !a.disabled)
        .ok_or_else(unauthorized)?;
    let now = state.desk.clock().now();
    if token
        .last_used_at
        .is_none_or(|t| now - t >= Duration::seconds(TOUCH_EVERY_SECONDS))
        && let Err(e) = state.directory.touch_token(token.id, now).await
    {
        tracing::debug!(error = %e, token = %token.id, "could not record a token's use");
    }
    let scopes = token
        .scopes
        .intersection(&agent.role.scopes())
        .copied()
        .collect();
    Ok(Caller {
        agent,
        token,
        scopes,
    })
}

fn agent_view(a: &AgentAccount) -> serde_json::Value {
    json!({
        "id": a.id.to_string(),
        "login": a.login,
        "name": a.name,
        "role": a.role,
        "teams": a.teams,
        "disabled": a.disabled,
        "created_at": a.created_at,
    })
}

fn token_view(t: &TokenRecord) -> serde_json::Value {
    json!({
        "id": t.id.to_string(),
        "agent": t.agent.to_string(),
        "label": t.label,
        "hint": t.hint,
        "scopes": t.scopes,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    })
}

/// A just-made token: the only answer that carries its secret.
fn issued(secret: &str, t: &TokenRecord) -> serde_json::Value {
    let mut view = token_view(t);
    view["token"] = json!(secret);
    view
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// A login as accounts are keyed, checked.
fn checked_login(login: &str) -> Result<String, ApiError> {
    let login = normalize_login(login);
    if login.is_empty()
        || login.len() > MAX_NAME_BYTES
        || login.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad_request(
            "login must be 1 to 200 bytes without spaces or control characters",
        ));
    }
    Ok(login)
}

fn checked_text(what: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_NAME_BYTES || text.chars().any(char::is_control) {
        return Err(bad_request(format!(
            "{what} must be 1 to 200 bytes without control characters"
        )));
    }
    Ok(text.to_owned())
}

fn checked_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(bad_request(format!(
            "password must be {MIN_PASSWORD_CHARS} characters to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// `POST /api/bootstrap` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BootstrapBody {
    login: String,
    password: String,
    name: String,
}

/// Makes the first admin, once, for the holder of `CAREKIT_API_TOKEN`;
/// answers with the admin and a token of theirs.
pub(crate) async fn bootstrap(
    State(state): State<ApiState>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Json(body): Json<BootstrapBody>,
) -> Result<Response, ApiError> {
    // Guessing the configured token counts against the address as a
    // failed login does.
    let address_key = failure_key("address", &client_address(addr));
    let now = state.desk.clock().now();
    {
        let store = state.desk.store();
        let ledger: &dyn Store = &**store;
        if let Some(wait) = throttled(ledger, &address_key, now).await? {
            return Ok(too_many(wait));
        }
        let allowed = state
            .bootstrap
            .as_ref()
            .is_some_and(|token: &BearerToken| token.allows(&headers));
        if !allowed {
            record_failure(ledger, &address_key, now).await?;
            return Err(unauthorized());
        }
    }
    let login = checked_login(&body.login)?;
    let name = checked_text("name", &body.name)?;
    checked_password(&body.password)?;
    let done = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "the desk has its first admin; log in or ask an admin",
        )
    };
    let store = state.desk.store();
    let ledger: &dyn Store = &**store;
    let claimed = ledger
        .load_value(BOOTSTRAP_KEY)
        .await
        .map_err(store_failed)?;
    if claimed.as_deref().is_some_and(|v| !v.is_empty())
        || state
            .directory
            .agents()
            .await
            .map_err(store_failed)?
            .iter()
            .any(|a| a.role == Role::Admin)
    {
        return Err(done());
    }
    let password = hash_password(body.password).await?;
    let admin = AgentAccount::new(&login, Role::Admin, now)
        .with_name(name)
        .with_password(password);
    // One bootstrap, however many workers are asked at once.
    if !ledger
        .swap_value(BOOTSTRAP_KEY, claimed.as_deref(), &admin.id.to_string())
        .await
        .map_err(store_failed)?
    {
        return Err(done());
    }
    if let Err(e) = state.directory.create_agent(&admin).await {
        // Give the bootstrap back, so it can be tried again.
        let _ = ledger
            .swap_value(BOOTSTRAP_KEY, Some(&admin.id.to_string()), "")
            .await;
        return Err(store_failed(e));
    }
    let (secret, token) = issue(&state, admin.id, "bootstrap", admin.role.scopes(), now).await?;
    tracing::info!(agent = %admin.id, login = %admin.login, "first admin created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "agent": agent_view(&admin), "token": issued(&secret, &token) })),
    )
        .into_response())
}

/// `POST /api/login` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    login: String,
    password: String,
}

/// The ledger key counting failed logins for `what` (an account or an
/// address), hashed so that any login fits a key.
fn failure_key(kind: &str, what: &str) -> String {
    format!(
        "desk.login_failures.{kind}.{}",
        &hex::encode(Sha256::digest(what.as_bytes()))[..32]
    )
}

/// The failure times (microseconds) still inside the window.
fn recent(value: Option<&str>, now: DateTime<Utc>) -> Vec<i64> {
    let since = (now - Duration::minutes(FAILURE_WINDOW_MINUTES)).timestamp_micros();
    value
        .and_then(|v| serde_json::from_str::<Vec<i64>>(v).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| *t > since)
        .collect()
}

/// Seconds until `key` may try again, when it has failed too often.
async fn throttled(
    store: &dyn Store,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ApiError> {
    let value = store.load_value(key).await.map_err(store_failed)?;
    let failures = recent(value.as_deref(), now);
    if failures.len() < MAX_FAILURES {
        return Ok(None);
    }
    let oldest = failures.iter().min().copied().unwrap_or_default();
    let free_at = oldest
        + Duration::minutes(FAILURE_WINDOW_MINUTES)
            .num_microseconds()
            .unwrap_or(0);
    let wait = (free_at - now.timestamp_micros()).div_euclid(1_000_000) + 1;
    Ok(Some(wait.max(1)))
}

/// Adds a failure at `now` to `key` (compare-and-swap, so that failures
/// counted by other workers at once are kept).
async fn record_failure(store: &dyn Store, key: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    for _ in 0..16 {
        let value = store.load_value(key).await.map_err(store_failed)?;
        let mut failures = recent(value.as_deref(), now);
        failures.push(now.timestamp_micros());
        failures.sort_unstable();
        let keep = failures.len().saturating_sub(MAX_FAILURES * 2);
        let next = serde_json::to_string(&failures[keep..]).unwrap_or_else(|_| "[]".into());
        if store
            .swap_value(key, value.as_deref(), &next)
            .await
            .map_err(store_failed)?
        {
            return Ok(());
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many logins at once; try again",
    ))
}

/// Forgets `key`'s failures.
async fn clear_failures(store: &dyn Store, key: &str) {
    if let Ok(Some(value)) = store.load_value(key).await
        && value != "[]"
    {
        let _ = store.swap_value(key, Some(&value), "[]").await;
    }
}

/// The client's address as throttling counts it.
pub(crate) fn client_address(addr: Option<Extension<ClientAddr>>) -> String {
    addr.map_or_else(|| "unknown".to_owned(), |Extension(a)| a.0.to_string())
}

fn too_many(retry_after: i64) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed logins; try again later",
    )
    .with("retry_after_seconds", retry_after)
    .into_response();
    if let Ok(value) = retry_after.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// How a sign-in ended.
pub(crate) enum SignIn {
    /// The agent, the new token's secret (to show once) and its record.
    Done(Box<(AgentAccount, String, TokenRecord)>),
    /// Wrong login or password, or a disabled account: one answer for all.
    Wrong,
    /// Too many failures: the seconds to wait.
    Throttled(i64),
}

/// Checks a login and password, throttled per account and per client
/// `address`, and on success makes a token labelled `label` with the
/// scopes of the agent's role: the one sign-in of the API and the console.
pub(crate) async fn sign_in(
    state: &ApiState,
    login: &str,
    password: String,
    address: &str,
    label: &str,
) -> Result<SignIn, ApiError> {
    if login.len() > MAX_NAME_BYTES || password.len() > MAX_PASSWORD_BYTES {
        return Ok(SignIn::Wrong);
    }
    let login = normalize_login(login);
    let store = state.desk.store();
    let ledger: &dyn Store = &**store;
    let now = state.desk.clock().now();
    let account_key = failure_key("account", &login);
    let address_key = failure_key("address", address);
    let by_account = throttled(ledger, &account_key, now).await?;
    let by_address = throttled(ledger, &address_key, now).await?;
    if let Some(wait) = by_account.max(by_address) {
        tracing::info!(%address, "login refused: too many failures");
        return Ok(SignIn::Throttled(wait));
    }
    let agent = state
        .directory
        .agent_by_login(&login)
        .await
        .map_err(store_failed)?;
    let hash = agent
        .as_ref()
        .and_then(|a| a.password.as_ref())
        .map(|p| p.expose().to_owned());
    let verified = verify_password(password, hash).await;
    let agent = agent.filter(|a| verified && !a.disabled);
    let Some(agent) = agent else {
        record_failure(ledger, &account_key, now).await?;
        record_failure(ledger, &address_key, now).await?;
        tracing::info!(%address, "login failed");
        return Ok(SignIn::Wrong);
    };
    clear_failures(ledger, &address_key).await;
    let (secret, token) = issue(state, agent.id, label, agent.role.scopes(), now).await?;
    tracing::info!(agent = %agent.id, token = %token.id, "logged in");
    Ok(SignIn::Done(Box::new((agent, secret, token))))
}

/// `POST /api/login`: a token with the scopes of the agent's role, for the
/// right login and password. Every failure answers the same 401.
pub(crate) async fn login(
    State(state): State<ApiState>,
    addr: Option<Extension<ClientAddr>>,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    let address = client_address(addr);
    match sign_in(&state, &body.login, body.password, &address, "login").await? {
        SignIn::Done(done) => {
            let (agent, secret, token) = *done;
            Ok(
                Json(json!({ "agent": agent_view(&agent), "token": issued(&secret, &token) }))
                    .into_response(),
            )
        }
        SignIn::Throttled(wait) => Ok(too_many(wait)),
        SignIn::Wrong => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong login or password",
        )),
    }
}

/// `GET /api/me`: the caller's account and the scopes of this token.
pub(crate) async fn me(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    Json(json!({
        "agent": agent_view(&caller.agent),
        "token": token_view(&caller.token),
        "scopes": caller.scopes,
    }))
}

/// `POST /api/agents` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAgentBody {
    login: String,
    name: String,
    role: Role,
    #[serde(default)]
    teams: Vec<String>,
    /// Optional: an account without one only acts through tokens an admin
    /// makes for it.
    password: Option<String>,
}

/// `POST /api/agents` (admin): a new account.
pub(crate) async fn create_agent(
    State(state): State<ApiState>,
    Json(body): Json<NewAgentBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let login = checked_login(&body.login)?;
    let name = checked_text("name", &body.name)?;
    let teams = body
        .teams
        .iter()
        .map(|t| checked_text("team", t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut agent = AgentAccount::new(&login, body.role, state.desk.clock().now())
        .with_name(name)
        .with_teams(teams);
    if let Some(password) = body.password {
        checked_password(&password)?;
        agent = agent.with_password(hash_password(password).await?);
    }
    state
        .directory
        .create_agent(&agent)
        .await
        .map_err(|e| match e {
            carekit_core::StoreError::Constraint(_) => {
                ApiError::new(StatusCode::CONFLICT, format!("login {login:?} is taken"))
            }
            other => store_failed(other),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "agent": agent_view(&agent) })),
    ))
}

/// `GET /api/agents` (admin).
pub(crate) async fn list_agents(
    State(state): State<ApiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let agents = state.directory.agents().await.map_err(store_failed)?;
    Ok(Json(
        json!({ "agents": agents.iter().map(agent_view).collect::<Vec<_>>() }),
    ))
}

fn parse_agent(id: &str) -> Result<AgentId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no agent {id}")))
}

async fn set_disabled(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    disabled: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_agent(id)?;
    if disabled && id == caller.agent.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "an admin cannot disable their own account",
        ));
    }
    if !state
        .directory
        .set_agent_disabled(id, disabled)
        .await
        .map_err(store_failed)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no agent {id}"),
        ));
    }
    let agent = state
        .directory
        .agent(id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no agent {id}")))?;
    tracing::info!(agent = %id, by = %caller.agent.id, disabled, "agent account changed");
    Ok(Json(json!({ "agent": agent_view(&agent) })))
}

/// `POST /api/agents/{id}/disable` (admin): the account can no longer log
/// in and its tokens are refused.
pub(crate) async fn disable_agent(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_disabled(&state, &caller, &id, true).await
}

/// `POST /api/agents/{id}/enable` (admin).
pub(crate) async fn enable_agent(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_disabled(&state, &caller, &id, false).await
}

/// `POST /api/agents/{id}/tokens` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenBody {
    label: String,
    /// Defaults to every scope of the agent's role; never beyond it.
    scopes: Option<BTreeSet<Scope>>,
}

/// `POST /api/agents/{id}/tokens` (admin): a token for an agent, its
/// secret shown in this answer only.
pub(crate) async fn create_token(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<NewTokenBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_agent(&id)?;
    let label = checked_text("label", &body.label)?;
    let agent = state
        .directory
        .agent(id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no agent {id}")))?;
    let allowed = agent.role.scopes();
    let scopes = body.scopes.unwrap_or_else(|| allowed.clone());
    if scopes.is_empty() {
        return Err(bad_request("a token needs at least one scope"));
    }
    if let Some(beyond) = scopes.iter().find(|s| !allowed.contains(s)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the {} role does not grant the {beyond} scope", agent.role),
        )
        .with("scope", beyond.as_str()));
    }
    let now = state.desk.clock().now();
    let (secret, token) = issue(&state, agent.id, &label, scopes, now).await?;
    tracing::info!(agent = %agent.id, token = %token.id, by = %caller.agent.id, "token created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": issued(&secret, &token) })),
    ))
}

/// `GET /api/tokens?agent=` query.
#[derive(Deserialize)]
pub(crate) struct TokensQuery {
    agent: Option<String>,
}

/// `GET /api/tokens` (admin): every token (or one agent's), with its last
/// use; never a secret.
pub(crate) async fn list_tokens(
    State(state): State<ApiState>,
    Query(q): Query<TokensQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let agent = q.agent.as_deref().map(parse_agent).transpose()?;
    let tokens = state.directory.tokens(agent).await.map_err(store_failed)?;
    Ok(Json(
        json!({ "tokens": tokens.iter().map(token_view).collect::<Vec<_>>() }),
    ))
}

/// `GET /api/me/tokens`: the caller's own tokens.
pub(crate) async fn my_tokens(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tokens = state
        .directory
        .tokens(Some(caller.agent.id))
        .await
        .map_err(store_failed)?;
    Ok(Json(
        json!({ "tokens": tokens.iter().map(token_view).collect::<Vec<_>>() }),
    ))
}

/// `POST /api/tokens/{id}/revoke`: an admin revokes any token, an agent
/// their own. Refused from the next request on.
pub(crate) async fn revoke_token(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("no token {id}"));
    let token_id: TokenId = id.parse().map_err(|_| not_found())?;
    let token = state
        .directory
        .token(token_id)
        .await
        .map_err(store_failed)?
        .ok_or_else(not_found)?;
    if token.agent != caller.agent.id {
        // Someone else's token: only an admin may, and to anyone else it
        // does not exist.
        if caller.require(Scope::Admin).is_err() {
            return Err(not_found());
        }
    }
    state
        .directory
        .revoke_token(token_id, state.desk.clock().now())
        .await
        .map_err(store_failed)?;
    tracing::info!(token = %token_id, by = %caller.agent.id, "token revoked");
    let token = state
        .directory
        .token(token_id)
        .await
        .map_err(store_failed)?
        .ok_or_else(not_found)?;
    Ok(Json(json!({ "token": token_view(&token) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let now = Utc::now();
        let (a, record) = mint(AgentId::new(), "t", Role::Agent.scopes(), now);
        let (b, _) = mint(AgentId::new(), "t", Role::Agent.scopes(), now);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        // 32 random bytes in unpadded base64: 43 characters.
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(record.digest, token_digest(&a));
        assert!(!record.digest.contains(&a[TOKEN_PREFIX.len()..]));
        assert!(!format!("{record:?}").contains(&a[TOKEN_PREFIX.len() + 4..]));
        assert!(a.starts_with(&record.hint) && record.hint.len() == TOKEN_PREFIX.len() + 4);
    }

    #[test]
    fn every_route_has_a_scope() {
        assert_eq!(
            scope_for(&Method::POST, "/api/conversations/{id}/reply"),
            Some(Some(Scope::Reply))
        );
        assert_eq!(
            scope_for(&Method::POST, "/api/crisis"),
            Some(Some(Scope::Manage))
        );
        assert_eq!(
            scope_for(&Method::GET, "/api/crisis"),
            Some(Some(Scope::Read))
        );
        assert_eq!(
            scope_for(&Method::GET, "/api/agents"),
            Some(Some(Scope::Admin))
        );
        assert_eq!(
            scope_for(&Method::GET, "/api/admin/config"),
            Some(Some(Scope::Admin))
        );
        for (path, scope) in [
            ("/api/conversations/{id}/status", Scope::Reply),
            ("/api/conversations/{id}/tags", Scope::Reply),
            ("/api/conversations/{id}/notes", Scope::Reply),
            // Taking a conversation oneself; the handler asks `manage` for more.
            ("/api/conversations/{id}/assign", Scope::Reply),
            ("/api/conversations/{id}/priority", Scope::Manage),
            (
                "/api/conversations/{id}/messages/{message_id}/hide",
                Scope::Manage,
            ),
            (
                "/api/conversations/{id}/messages/{message_id}/unhide",
                Scope::Manage,
            ),
            (
                "/api/conversations/{id}/messages/{message_id}/retry",
                Scope::Reply,
            ),
            ("/api/incidents/{id}/outreach", Scope::Manage),
            ("/api/canned", Scope::Manage),
            // Typing needs `reply` too (see `api::events::presence`).
            ("/api/conversations/{id}/presence", Scope::Read),
        ] {
            assert_eq!(scope_for(&Method::POST, path), Some(Some(scope)), "{path}");
        }
        for method in [Method::PUT, Method::DELETE] {
            assert_eq!(
                scope_for(&method, "/api/canned/{id}"),
                Some(Some(Scope::Manage))
            );
        }
        for path in [
            "/api/canned",
            "/api/canned/{id}",
            "/api/conversations/{id}/canned/{canned_id}",
        ] {
            assert_eq!(
                scope_for(&Method::GET, path),
                Some(Some(Scope::Read)),
                "{path}"
            );
        }
        assert_eq!(
            scope_for(&Method::GET, "/api/events"),
            Some(Some(Scope::Read))
        );
        assert_eq!(scope_for(&Method::POST, "/api/events"), None);
        assert_eq!(scope_for(&Method::GET, "/api/unknown"), None);
    }

    #[test]
    fn the_window_forgets_old_failures() {
        let now = Utc::now();
        let old = (now - Duration::minutes(16)).timestamp_micros();
        let fresh = (now - Duration::minutes(1)).timestamp_micros();
        let value = serde_json::to_string(&[old, fresh]).unwrap();
        assert_eq!(recent(Some(&value), now), vec![fresh]);
        assert!(recent(Some("not json"), now).is_empty());
    }
}
