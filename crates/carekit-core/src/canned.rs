//! Canned responses: reply texts a team keeps ready, with variables filled
//! from the conversation and the agent who sends them (see
//! [`AGENT_VARIABLES`]). A text naming an unknown variable is refused when
//! it is saved, so no customer ever reads `{frist_name}`.

use crate::domain::ConversationRecord;
use crate::store::StoreError;
use crate::template::{AGENT_VARIABLES, Template, TemplateError, TemplateVars, channel_name};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

crate::ids::uuid_id!(
    /// Identifies a canned response.
    CannedId
);

/// The longest name a canned response may have, in bytes.
pub const MAX_CANNED_NAME_BYTES: usize = 128;
/// The longest text a canned response may have, in bytes.
pub const MAX_CANNED_TEXT_BYTES: usize = 10_000;

/// A reply text kept ready, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CannedResponse {
    /// Its id.
    pub id: CannedId,
    /// A short name agents pick it by, unique in the store.
    pub name: String,
    /// The text, with variables (`{first_name|there}`).
    pub text: String,
    /// Who wrote or last changed it (an agent's id).
    pub updated_by: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// Why a canned response cannot be saved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CannedError {
    /// The name is empty, too long or holds control characters.
    #[error("a canned response's name is 1 to 128 bytes without control characters")]
    BadName,
    /// The text is empty or too long.
    #[error("a canned response's text is 1 to 10,000 bytes")]
    BadText,
    /// The text is not a valid template (an unknown variable, an unclosed brace).
    #[error("{0}")]
    Template(#[from] TemplateError),
}

impl CannedResponse {
    /// A new canned response by `by` at `now`, checked: a name of 1 to
    /// [`MAX_CANNED_NAME_BYTES`] without control characters, a text of 1
    /// to [`MAX_CANNED_TEXT_BYTES`] that parses with [`AGENT_VARIABLES`].
    pub fn new(
        name: impl Into<String>,
        text: impl Into<String>,
        by: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, CannedError> {
        let blank = Self {
            id: CannedId::new(),
            name: String::new(),
            text: String::new(),
            updated_by: String::new(),
            created_at: now,
            updated_at: now,
        };
        blank.changed(name, text, by, now)
    }

    /// The same response with a new name and text, changed by `by` at `now`,
    /// checked as [`new`](Self::new) checks.
    pub fn changed(
        &self,
        name: impl Into<String>,
        text: impl Into<String>,
        by: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, CannedError> {
        let response = Self {
            name: name.into().trim().to_owned(),
            text: text.into(),
            updated_by: by.into(),
            updated_at: now,
            ..self.clone()
        };
        response.check()?;
        Ok(response)
    }

    fn check(&self) -> Result<(), CannedError> {
        if self.name.is_empty()
            || self.name.len() > MAX_CANNED_NAME_BYTES
            || self.name.chars().any(char::is_control)
        {
            return Err(CannedError::BadName);
        }
        if self.text.trim().is_empty() || self.text.len() > MAX_CANNED_TEXT_BYTES {
            return Err(CannedError::BadText);
        }
        self.template()?;
        Ok(())
    }

    /// The text as a template.
    pub fn template(&self) -> Result<Template, TemplateError> {
        Template::parse_with(&self.text, &AGENT_VARIABLES)
    }

    /// The text for `conversation`, sent by the agent named `agent`:
    /// `{first_name}`, `{name}` and `{handle}` of the customer as the
    /// conversation's channel knows them, `{channel}` the platform as
    /// customers call it, `{agent}` the agent's name.
    pub fn render(
        &self,
        conversation: &ConversationRecord,
        agent: &str,
    ) -> Result<String, TemplateError> {
        let vars = match conversation.reply_to() {
            Some(identity) => TemplateVars::for_author(identity),
            None => TemplateVars::new().channel(channel_name(conversation.channel)),
        };
        let vars = match conversation.customer.name.as_deref().map(str::trim) {
            // A name the customer record holds beats none from the platform.
            Some(name) if !name.is_empty() && !name.contains('@') => {
                let first = name.split_whitespace().next().unwrap_or(name).to_owned();
                vars.fill_name(name, &first)
            }
            _ => vars,
        };
        let vars = if agent.trim().is_empty() {
            vars
        } else {
            vars.agent(agent.trim())
        };
        Ok(self.template()?.render(&vars))
    }
}

/// Where canned responses are kept. `MemoryStore` and `carekit-store-sql`'s
/// `SqlStore` implement it beside [`Store`](crate::Store).
#[async_trait]
pub trait CannedResponses: Send + Sync {
    /// Adds a response or replaces the one with its id;
    /// [`StoreError::Constraint`] when another response has its name.
    async fn save_canned(&self, response: &CannedResponse) -> Result<(), StoreError>;

    /// A response by id.
    async fn canned(&self, id: CannedId) -> Result<Option<CannedResponse>, StoreError>;

    /// Every response, by name.
    async fn canned_all(&self) -> Result<Vec<CannedResponse>, StoreError>;

    /// Deletes a response; `false` when there is none.
    async fn delete_canned(&self, id: CannedId) -> Result<bool, StoreError>;
}

// Used as `Arc<dyn CannedResponses>`.
const _: fn(&dyn CannedResponses) = |_| {};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Visibility;
    use crate::channel::ChannelKind;
    use crate::domain::{Customer, Identity};
    use crate::store::MemoryStore;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn conversation(identity: Identity) -> ConversationRecord {
        let customer = Customer::new(identity, now());
        ConversationRecord::new(
            identity_channel(&customer),
            "brand",
            Visibility::Public,
            customer,
            now(),
        )
    }

    fn identity_channel(c: &Customer) -> ChannelKind {
        c.identities[0].channel
    }

    #[test]
    fn texts_are_checked_when_saved_and_rendered_for_the_conversation() {
        assert_eq!(
            CannedResponse::new("x", "Hi {frist_name}", "lee", now()),
            Err(CannedError::Template(TemplateError::UnknownVariable(
                "frist_name".into()
            )))
        );
        assert_eq!(
            CannedResponse::new(" ", "Hi", "lee", now()),
            Err(CannedError::BadName)
        );
        assert_eq!(
            CannedResponse::new("x\u{7}", "Hi", "lee", now()),
            Err(CannedError::BadName)
        );
        assert_eq!(
            CannedResponse::new("x", " ", "lee", now()),
            Err(CannedError::BadText)
        );
        assert_eq!(
            CannedResponse::new("x", "y".repeat(MAX_CANNED_TEXT_BYTES + 1), "lee", now()),
            Err(CannedError::BadText)
        );
        let r = CannedResponse::new(
            "sorry",
            "Sorry {first_name|there}, {agent} here ({channel}, {handle}).",
            "lee",
            now(),
        )
        .unwrap();
        let x = conversation(
            Identity::new(ChannelKind::Twitter, "2244994945").with_display_name("@dana_k"),
        );
        assert_eq!(
            r.render(&x, "Maya").unwrap(),
            "Sorry there, Maya here (X, @dana_k)."
        );
        let mail = conversation(
            Identity::new(ChannelKind::Email, "jo@example.com").with_display_name("Jo Park"),
        );
        assert_eq!(
            r.render(&mail, " ").unwrap(),
            "Sorry Jo, here (email, jo@example.com)."
        );
        let changed = r.changed("sorry", "Hi {nmae}", "ann", now());
        assert!(changed.is_err());
    }

    #[tokio::test]
    async fn the_memory_store_keeps_names_unique() {
        let store = MemoryStore::new();
        let a = CannedResponse::new("a", "A", "lee", now()).unwrap();
        let b = CannedResponse::new("b", "B", "lee", now()).unwrap();
        store.save_canned(&b).await.unwrap();
        store.save_canned(&a).await.unwrap();
        let names: Vec<_> = store
            .canned_all()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        let clash = b.changed("a", "B", "lee", now()).unwrap();
        assert!(matches!(
            store.save_canned(&clash).await,
            Err(StoreError::Constraint(_))
        ));
        let renamed = b.changed("c", "C", "ann", now()).unwrap();
        store.save_canned(&renamed).await.unwrap();
        assert_eq!(store.canned(b.id).await.unwrap().unwrap().name, "c");
        assert!(store.delete_canned(a.id).await.unwrap());
        assert!(!store.delete_canned(a.id).await.unwrap());
        assert_eq!(store.canned_all().await.unwrap().len(), 1);
    }
}
