//! Which platform a message travels on, and whether it is seen by everyone.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The platform a channel speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChannelKind {
    /// X (Twitter): public tweets and direct messages.
    Twitter,
    /// Facebook: page comments (public) and Messenger (private).
    Facebook,
    /// Email.
    Email,
    /// SMS.
    Sms,
    /// A web chat or any channel an app brings itself.
    Web,
}

impl ChannelKind {
    /// All kinds carekit knows, in a stable order (useful for reports).
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Twitter,
        ChannelKind::Facebook,
        ChannelKind::Email,
        ChannelKind::Sms,
        ChannelKind::Web,
    ];

    /// A stable lowercase name (`"twitter"`, `"sms"`, ...), used in storage and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Twitter => "twitter",
            ChannelKind::Facebook => "facebook",
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Web => "web",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownChannel(s.to_owned()))
    }
}

/// A channel name that is not one of [`ChannelKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel kind `{0}`")]
pub struct UnknownChannel(pub String);

/// Whether a message is seen by the public or only by the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone can read it: a tweet, a page comment.
    Public,
    /// Only the customer and the brand: a DM, Messenger, SMS, email.
    Private,
}

impl Visibility {
    /// `"public"` or `"private"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

impl std::str::FromStr for Visibility {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            other => Err(UnknownChannel(other.to_owned())),
        }
    }
}
