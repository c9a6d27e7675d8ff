//! What the console needs from whoever keeps the agent accounts: signing
//! in (password check and throttling), who a session's credential stands
//! for (its agent and scopes, read again on every request), signing out,
//! and the live event stream. `carekit-desk` implements [`Accounts`] with
//! its own login, token and scope rules, so the console has no second
//! implementation of any of them.

use axum::http::Extensions;
use axum::response::Response;
use carekit_core::{AgentAccount, Scope};
use std::collections::BTreeSet;

/// The secret a session stands on (for `carekit-desk`, an API token of the
/// agent made at sign-in). Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

impl Credential {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, to look it up or to put it in the session cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential([redacted])")
    }
}

/// The agent a session stands for, as read for this request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignedIn {
    /// The account.
    pub agent: AgentAccount,
    /// The scopes this session has (what its role still grants).
    pub scopes: BTreeSet<Scope>,
}

impl SignedIn {
    /// The agent with `scopes`.
    pub fn new(agent: AgentAccount, scopes: BTreeSet<Scope>) -> Self {
        Self { agent, scopes }
    }

    /// Whether the session has `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Who the audit trail names: the agent's id.
    pub fn actor(&self) -> carekit_core::Actor {
        carekit_core::Actor::Agent(self.agent.id.to_string())
    }
}

/// Why a sign-in was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInError {
    /// Wrong login or password, or a disabled account (one answer for all).
    Wrong,
    /// Too many failures: try again after this many seconds.
    Throttled {
        /// Seconds to wait.
        retry_after_seconds: i64,
    },
    /// The accounts cannot be read now.
    Unavailable,
}

/// The accounts behind a console. Implemented by `carekit-desk`; an app
/// that mounts the console in its own server implements it over its own
/// accounts.
#[async_trait::async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Checks `login` and `password` (with throttling) and makes the
    /// session's credential. `request` carries what the server put on the
    /// request (the client's address, for throttling).
    async fn sign_in(
        &self,
        login: &str,
        password: &str,
        request: &Extensions,
    ) -> Result<Credential, SignInError>;

    /// Who `credential` stands for now: `Ok(None)` for an unknown, revoked
    /// or disabled one; `Err` when that cannot be read now.
    async fn signed_in(&self, credential: &Credential) -> Result<Option<SignedIn>, SignInError>;

    /// Ends the session: the credential is refused from now on.
    async fn sign_out(&self, credential: &Credential);

    /// The live event stream (Server-Sent Events) for this session, resumed
    /// after `last_event_id` when given.
    async fn events(&self, credential: &Credential, last_event_id: Option<&str>) -> Response;

    /// Every agent account (admin pages, names of who is viewing).
    async fn agents(&self) -> Result<Vec<AgentAccount>, SignInError>;
}
