//! The people who work the desk: agent accounts with a role and teams, and
//! the API tokens they act with.
//!
//! This is plain data plus a small storage trait, [`AgentDirectory`],
//! kept apart from [`Store`](crate::Store) so that stores and test doubles
//! that have no use for accounts need not change. Secrets never reach this
//! module in the clear: a password arrives as a PHC-format hash (the server
//! hashes it) and a token as the hex SHA-256 digest of its secret. Neither
//! is shown by `Debug`.

use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

crate::ids::uuid_id!(
    /// Identifies an agent account.
    AgentId
);
crate::ids::uuid_id!(
    /// Identifies an API token (not its secret: the id is safe to show and
    /// to name in a revocation).
    TokenId
);

/// What an agent may do by default: the scopes a login token gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Reads conversations, replies and hands off.
    Agent,
    /// An agent who may also merge customers, switch crisis mode and
    /// change conversations for others.
    Lead,
    /// Everything, including accounts and tokens.
    Admin,
}

impl Role {
    /// The role's name as stored and shown (`agent`, `lead`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    /// The scopes the role grants.
    pub fn scopes(self) -> BTreeSet<Scope> {
        let mut scopes = BTreeSet::from([Scope::Read, Scope::Reply, Scope::Handoff]);
        if matches!(self, Role::Lead | Role::Admin) {
            scopes.insert(Scope::Manage);
        }
        if self == Role::Admin {
            scopes.insert(Scope::Admin);
        }
        scopes
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "agent" => Ok(Role::Agent),
            "lead" => Ok(Role::Lead),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// One thing a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// Read conversations, messages and reports.
    Read,
    /// Reply in a conversation and resolve it.
    Reply,
    /// Hand a conversation off to another channel or a new recipient.
    Handoff,
    /// Merge customers, switch crisis mode, change what others work on.
    Manage,
    /// Manage agent accounts and their tokens.
    Admin,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Reply,
        Scope::Handoff,
        Scope::Manage,
        Scope::Admin,
    ];

    /// The scope's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Reply => "reply",
            Scope::Handoff => "handoff",
            Scope::Manage => "manage",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}"))
    }
}

/// A password hash in PHC string format (`$argon2id$…`). `Debug` and
/// `Display` never show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string made by a password hasher.
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for the hasher to verify against and the store to
    /// keep.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// An agent account.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentAccount {
    /// Its id, written to the audit trail for what the agent does.
    pub id: AgentId,
    /// What the agent logs in with (unique, lower case).
    pub login: String,
    /// The name shown to other agents.
    pub name: String,
    /// What the agent may do.
    pub role: Role,
    /// The teams the agent works in.
    pub teams: Vec<String>,
    /// The password's hash; `None` for an account that only uses tokens.
    pub password: Option<PasswordHash>,
    /// A disabled account cannot log in, and its tokens are refused.
    pub disabled: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl AgentAccount {
    /// A new, enabled account (`login` is trimmed and lower-cased; the
    /// name is the login until [`with_name`](Self::with_name)).
    pub fn new(login: impl AsRef<str>, role: Role, created_at: DateTime<Utc>) -> Self {
        let login = normalize_login(login.as_ref());
        Self {
            id: AgentId::new(),
            name: login.clone(),
            login,
            role,
            teams: Vec::new(),
            password: None,
            disabled: false,
            created_at,
        }
    }

    /// With this display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// With these teams.
    pub fn with_teams(mut self, teams: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.teams = teams.into_iter().map(Into::into).collect();
        self
    }

    /// With this password hash.
    pub fn with_password(mut self, hash: PasswordHash) -> Self {
        self.password = Some(hash);
        self
    }
}

/// A login as accounts are keyed: trimmed and lower-cased, so `Ann` and
/// `ann` are one account.
pub fn normalize_login(login: &str) -> String {
    login.trim().to_lowercase()
}

/// An API token as stored: the digest of its secret, never the secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRecord {
    /// Its id.
    pub id: TokenId,
    /// The agent it acts for.
    pub agent: AgentId,
    /// What it is for ("login", "ci dashboard").
    pub label: String,
    /// The hex SHA-256 digest of the secret.
    pub digest: String,
    /// The first characters of the secret (its prefix and a few more),
    /// enough to recognise it in a list and no more.
    pub hint: String,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last presented (and accepted).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// A new, unused token of `agent` whose secret has the hex SHA-256
    /// `digest`; no label, hint or scope until given.
    pub fn new(agent: AgentId, digest: impl Into<String>, created_at: DateTime<Utc>) -> Self {
        Self {
            id: TokenId::new(),
            agent,
            label: String::new(),
            digest: digest.into(),
            hint: String::new(),
            scopes: BTreeSet::new(),
            created_at,
            last_used_at: None,
            revoked_at: None,
        }
    }

    /// With this label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// With this hint (the secret's first characters).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// With these scopes.
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes = scopes.into_iter().collect();
        self
    }
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("agent", &self.agent)
            .field("label", &self.label)
            .field("hint", &self.hint)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Where agent accounts and API tokens are kept. `MemoryStore` and
/// `carekit-store-sql`'s `SqlStore` implement it beside
/// [`Store`](crate::Store).
#[async_trait]
pub trait AgentDirectory: Send + Sync {
    /// Adds an account; [`StoreError::Constraint`] when its login or id is
    /// taken.
    async fn create_agent(&self, agent: &AgentAccount) -> Result<(), StoreError>;

    /// An account by id.
    async fn agent(&self, id: AgentId) -> Result<Option<AgentAccount>, StoreError>;

    /// An account by login (normalized as [`normalize_login`] does).
    async fn agent_by_login(&self, login: &str) -> Result<Option<AgentAccount>, StoreError>;

    /// Every account, oldest first.
    async fn agents(&self) -> Result<Vec<AgentAccount>, StoreError>;

    /// Disables or enables an account; `false` when there is none.
    async fn set_agent_disabled(&self, id: AgentId, disabled: bool) -> Result<bool, StoreError>;

    /// Adds a token; [`StoreError::Constraint`] when its digest or id is
    /// taken.
    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    /// The token whose secret has this hex SHA-256 digest, revoked or not.
    async fn token_by_digest(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// A token by id.
    async fn token(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError>;

    /// The tokens of one agent, or of everyone (`None`), oldest first.
    async fn tokens(&self, agent: Option<AgentId>) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes a token at `at` (a second revocation keeps the first
    /// time); `false` when there is none.
    async fn revoke_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Records that a token was used at `at`.
    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<(), StoreError>;
}

// Directories are used as `Arc<dyn AgentDirectory>`.
const _: fn(&dyn AgentDirectory) = |_| {};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_nested_scopes() {
        assert!(!Role::Agent.scopes().contains(&Scope::Manage));
        assert!(Role::Lead.scopes().contains(&Scope::Manage));
        assert!(!Role::Lead.scopes().contains(&Scope::Admin));
        assert_eq!(Role::Admin.scopes().len(), Scope::ALL.len());
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let agent = AgentAccount::new(" Ann ", Role::Agent, Utc::now())
            .with_password(PasswordHash::new("$argon2id$v=19$secret-hash"));
        assert_eq!(agent.login, "ann");
        assert!(!format!("{agent:?}").contains("secret-hash"));
        let token = TokenRecord::new(agent.id, "deadbeefdigest", Utc::now())
            .with_hint("ck_ab")
            .with_scopes(Role::Agent.scopes());
        assert!(!format!("{token:?}").contains("deadbeefdigest"));
    }
}
