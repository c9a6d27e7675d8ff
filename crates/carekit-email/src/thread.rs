//! Threading hints for the desk, which threads generically: first by a
//! stored parent (`ThreadHints::parents`, nearest first), then by the thread
//! key. This module supplies both, and never looks at the subject.
//!
//! - **Parents**: `In-Reply-To`, then `References` from last to first
//!   (nearest ancestor first), without duplicates or the message itself
//!   (so reference loops cannot make a message its own parent).
//! - **Key**: a [`ThreadToken`] that is the same for every message of a
//!   thread. In order: a token we put in our own outbound mail and the
//!   customer's client carried back (a `support+<token>@` plus-address in
//!   `To`/`Cc`/`Delivered-To`, or the `X-Carekit-Thread` header); the token
//!   already recorded for any id of the message's ancestry in the
//!   [`ThreadIndex`] (this joins siblings through a missing root); else a
//!   token derived from the thread root (first `References` entry, else
//!   `In-Reply-To`, else the message's own id).
//!
//! A mail without any of these opens a new conversation.

use crate::parse::ParsedEmail;
use carekit_core::{KeyValues, ThreadHints, ThreadKey};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A short reply token naming one email thread: `ck` and 16 hex digits.
/// Plus-addresses and the `X-Carekit-Thread` header carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadToken(String);

impl ThreadToken {
    const PREFIX: &'static str = "ck";
    const HEX: usize = 16;

    /// The token of the thread whose root message has this Message-ID.
    pub fn from_root(message_id: &str) -> Self {
        let id = crate::message_id::clean_id(message_id).to_lowercase();
        let digest = Sha256::digest(id.as_bytes());
        Self(format!(
            "{}{}",
            Self::PREFIX,
            &hex::encode(digest)[..Self::HEX]
        ))
    }

    /// Reads a token, accepting only the exact shape we generate, so a
    /// stray `+tag` in an address is never mistaken for one.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let hex = s.strip_prefix(Self::PREFIX)?;
        (hex.len() == Self::HEX && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(Self(s))
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The desk's thread key for this token.
    pub fn key(&self) -> ThreadKey {
        ThreadKey::new(self.0.clone())
    }

    /// `local+token@domain` for the mailbox `local@domain`.
    pub fn plus_address(&self, mailbox: &str) -> Option<String> {
        let (local, domain) = mailbox.rsplit_once('@')?;
        let local = local.split('+').next().unwrap_or(local);
        Some(format!("{local}+{}@{domain}", self.0))
    }
}

impl std::fmt::Display for ThreadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a key came from, for the log line that explains a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// A plus-address of the mailbox carried the token.
    PlusAddress(String),
    /// The `X-Carekit-Thread` header carried it.
    Header,
    /// An ancestor id was already recorded under this token.
    Index(String),
    /// Derived from the thread root id.
    Root(String),
}

/// The hints for one message, with an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmailThreading {
    /// The token that becomes `ThreadHints::key`.
    pub token: ThreadToken,
    /// Where the token came from.
    pub source: KeySource,
    /// Parents, nearest first.
    pub parents: Vec<String>,
}

impl EmailThreading {
    /// The hints to put on the inbound event.
    pub fn hints(&self) -> ThreadHints {
        ThreadHints {
            key: Some(self.token.key()),
            parents: self.parents.clone(),
        }
    }

    /// One line saying why.
    pub fn explain(&self) -> String {
        let key = match &self.source {
            KeySource::PlusAddress(a) => format!("token {} from plus-address {a}", self.token),
            KeySource::Header => format!("token {} from X-Carekit-Thread", self.token),
            KeySource::Index(id) => format!("token {} recorded for ancestor {id}", self.token),
            KeySource::Root(id) => format!("token {} derived from thread root {id}", self.token),
        };
        match self.parents.first() {
            Some(p) => format!("parents from {p} ({} in all); {key}", self.parents.len()),
            None => format!("no parents; {key}"),
        }
    }
}

/// Parents nearest first: `In-Reply-To`, then `References` last to first.
pub fn parents(email: &ParsedEmail) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in email
        .in_reply_to
        .iter()
        .chain(email.references.iter().rev())
    {
        if *id != email.message_id && !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// The thread root: first `References` entry, else `In-Reply-To`, else the
/// message itself.
pub fn root(email: &ParsedEmail) -> &str {
    email
        .references
        .first()
        .or(email.in_reply_to.first())
        .map(String::as_str)
        .unwrap_or(&email.message_id)
}

/// A token we issued, carried back by the customer's client: a plus-address
/// of `mailbox` among the recipients, or the `X-Carekit-Thread` header.
pub fn carried_token(email: &ParsedEmail, mailbox: &str) -> Option<(ThreadToken, KeySource)> {
    let (local, domain) = mailbox.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local).to_lowercase();
    let domain = domain.to_lowercase();
    let recipients = email
        .to
        .iter()
        .chain(email.cc.iter())
        .map(|a| a.handle())
        .chain(email.delivered_to.iter().map(|a| a.to_lowercase()));
    for address in recipients {
        let Some((l, d)) = address.rsplit_once('@') else {
            continue;
        };
        if d != domain {
            continue;
        }
        if let Some((base, tag)) = l.split_once('+')
            && base == local
            && let Some(token) = ThreadToken::parse(tag)
        {
            return Some((token, KeySource::PlusAddress(address.clone())));
        }
    }
    email
        .thread_header
        .as_deref()
        .and_then(ThreadToken::parse)
        .map(|t| (t, KeySource::Header))
}

/// Threading without an index: carried token, else the root's token.
pub fn thread_email(email: &ParsedEmail, mailbox: &str) -> EmailThreading {
    let (token, source) = carried_token(email, mailbox).unwrap_or_else(|| {
        let root = root(email);
        (
            ThreadToken::from_root(root),
            KeySource::Root(root.to_owned()),
        )
    });
    EmailThreading {
        token,
        source,
        parents: parents(email),
    }
}

/// Remembers which token every seen Message-ID (including referenced ones
/// that never arrived) belongs to, so messages that share only a missing
/// ancestor still get one key. Kept durably through [`KeyValues`] (every
/// carekit store is one), one small entry per id.
#[derive(Clone)]
pub struct ThreadIndex {
    values: Arc<dyn KeyValues>,
    scope: String,
}

impl std::fmt::Debug for ThreadIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadIndex")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ThreadIndex {
    /// An index for the mailbox `account`, stored in `values`.
    pub fn new(values: Arc<dyn KeyValues>, account: &str) -> Self {
        Self {
            values,
            scope: account.to_lowercase(),
        }
    }

    fn name(&self, id: &str) -> String {
        let digest = Sha256::digest(id.to_lowercase().as_bytes());
        format!("email:thread:{}:{}", self.scope, &hex::encode(digest)[..32])
    }

    /// Threads `email`: carried token first, then the token recorded for
    /// the message or any ancestor (nearest first), then the root's.
    ///
    /// # Errors
    /// The store failed.
    pub async fn thread(
        &self,
        email: &ParsedEmail,
        mailbox: &str,
    ) -> Result<EmailThreading, carekit_core::StoreError> {
        let parents = parents(email);
        if let Some((token, source)) = carried_token(email, mailbox) {
            return Ok(EmailThreading {
                token,
                source,
                parents,
            });
        }
        for id in std::iter::once(&email.message_id).chain(parents.iter()) {
            if let Some(found) = self.values.load_value(&self.name(id)).await?
                && let Some(token) = ThreadToken::parse(&found)
            {
                return Ok(EmailThreading {
                    token,
                    source: KeySource::Index(id.clone()),
                    parents,
                });
            }
        }
        let root = root(email).to_owned();
        Ok(EmailThreading {
            token: ThreadToken::from_root(&root),
            source: KeySource::Root(root),
            parents,
        })
    }

    /// Records the message and its ancestry under `token` (ids already
    /// recorded keep their first token).
    ///
    /// # Errors
    /// The store failed.
    pub async fn remember(
        &self,
        email: &ParsedEmail,
        token: &ThreadToken,
    ) -> Result<(), carekit_core::StoreError> {
        for id in std::iter::once(&email.message_id).chain(parents(email).iter()) {
            let name = self.name(id);
            if self.values.load_value(&name).await?.is_none() {
                self.values.save_value(&name, token.as_str()).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_rejects_strangers() {
        let t = ThreadToken::from_root("<Root@Example.org>");
        assert_eq!(t, ThreadToken::from_root("root@example.org"));
        assert_eq!(ThreadToken::parse(t.as_str()), Some(t.clone()));
        assert_eq!(ThreadToken::parse("newsletter"), None);
        assert_eq!(ThreadToken::parse("ckzzzzzzzzzzzzzzzz"), None);
        assert_eq!(
            t.plus_address("support+old@example.com").as_deref(),
            Some(format!("support+{t}@example.com").as_str())
        );
    }
}
