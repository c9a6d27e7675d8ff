//! Who the customer is on each platform, and the person behind those handles.

use crate::channel::ChannelKind;
use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A handle on one platform: an X user id, a Facebook PSID or user id, an
/// email address, an E.164 phone number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identity {
    /// The platform.
    pub channel: ChannelKind,
    /// The platform's stable id for the person (not a display name).
    pub handle: String,
    /// A name to show people, if the platform gave one (`@screen_name`, "Ann Lee").
    pub display_name: Option<String>,
}

impl Identity {
    /// An identity with no display name.
    pub fn new(channel: ChannelKind, handle: impl Into<String>) -> Self {
        Self {
            channel,
            handle: handle.into(),
            display_name: None,
        }
    }
    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }
    /// Whether two identities name the same account (display names aside).
    pub fn same_account(&self, other: &Identity) -> bool {
        self.channel == other.channel && self.handle == other.handle
    }
}

/// What a platform told us about the author of a message, used by policies
/// (audience reach) and kept on the customer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorProfile {
    /// Followers or fans, when the platform says.
    pub followers: Option<u64>,
    /// Platform-verified account.
    pub verified: bool,
}

/// One person, known under one or more platform identities. Linking lets a
/// conversation moved from a public tweet to SMS stay one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Customer {
    /// carekit's id.
    pub id: CustomerId,
    /// Every handle known for this person.
    pub identities: Vec<Identity>,
    /// A name to show.
    pub name: Option<String>,
    /// A tier the app assigns (`"gold"`), used by SLA conditions.
    pub tier: Option<String>,
    /// On the app's VIP list.
    pub vip: bool,
    /// Largest audience seen on any platform.
    pub followers: Option<u64>,
    /// The private channel the customer prefers, if known.
    pub preferred_private: Option<ChannelKind>,
    /// When carekit first saw this person.
    pub created_at: DateTime<Utc>,
    /// Set when a person merged this customer into another: it holds no
    /// identities any more, and its conversations moved to that customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<CustomerId>,
}

impl Customer {
    /// A new customer known by one identity.
    pub fn new(identity: Identity, now: DateTime<Utc>) -> Self {
        Self {
            id: CustomerId::new(),
            name: identity.display_name.clone(),
            identities: vec![identity],
            tier: None,
            vip: false,
            followers: None,
            preferred_private: None,
            created_at: now,
            merged_into: None,
        }
    }

    /// The customer's handle on a channel, if linked.
    pub fn identity_on(&self, channel: ChannelKind) -> Option<&Identity> {
        self.identities.iter().find(|i| i.channel == channel)
    }

    /// Adds an identity unless the same account is already linked. Returns
    /// whether it was added.
    pub fn link(&mut self, identity: Identity) -> bool {
        if self.identities.iter().any(|i| i.same_account(&identity)) {
            return false;
        }
        self.identities.push(identity);
        true
    }

    /// Records what a platform said about the author.
    pub fn observe_profile(&mut self, profile: &AuthorProfile) {
        if let Some(f) = profile.followers {
            self.followers = Some(self.followers.map_or(f, |old| old.max(f)));
        }
    }
}
