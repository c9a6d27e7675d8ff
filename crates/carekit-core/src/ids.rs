//! Identifiers. Internal ids are UUIDv7 (time-ordered, so indexes stay compact);
//! platform ids stay strings because every platform spells them differently.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}
pub(crate) use uuid_id;

uuid_id!(
    /// Identifies a conversation inside carekit.
    ConversationId
);
uuid_id!(
    /// Identifies a message (inbound or outbound) inside carekit. An outbound
    /// message's id doubles as its idempotency key in the outbox.
    MessageId
);
uuid_id!(
    /// Identifies a customer: one person, possibly known under several
    /// platform identities.
    CustomerId
);
uuid_id!(
    /// Groups conversations that are one case for the customer, such as a public
    /// complaint and the private conversation it was handed off to.
    CaseId
);

/// A thread key, scoped by channel and account: the platform's own notion of
/// "this belongs together" (an X conversation id, a Messenger PSID, a phone
/// number pair, an email thread root).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThreadKey(pub String);

impl ThreadKey {
    /// Wraps a platform thread key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThreadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
