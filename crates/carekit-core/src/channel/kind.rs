//! Which platform a message travels on, and whether it is seen by everyone.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The platform a channel speaks to, by name: one of the five built in
/// (`ChannelKind::Twitter`, `Facebook`, `Email`, `Sms`, `Web`) or one an
/// adapter crate or app defines with [`ChannelKind::new`]. Every kind flows
/// through the engine, the stores, reports, metrics and the API alike; the
/// name is what is stored, so the built-in kinds read back data written
/// when they were the only ones.
///
/// ```
/// use carekit_core::ChannelKind;
///
/// const INSTAGRAM: ChannelKind = ChannelKind::new("instagram");
/// assert_eq!(INSTAGRAM.as_str(), "instagram");
/// assert!(!INSTAGRAM.is_built_in());
/// assert_eq!("sms".parse::<ChannelKind>().unwrap(), ChannelKind::Sms);
/// // A kind is parsed from text once something registered it (the desk
/// // registers every channel it is built with).
/// assert!("instagram".parse::<ChannelKind>().is_err());
/// INSTAGRAM.register();
/// assert_eq!("instagram".parse::<ChannelKind>().unwrap(), INSTAGRAM);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelKind(&'static str);

// The built-in kinds keep the names they had as enum variants, so code
// written against the enum (`ChannelKind::Sms`, also in patterns) compiles.
#[allow(non_upper_case_globals)]
impl ChannelKind {
    /// X (Twitter): public tweets and direct messages.
    pub const Twitter: ChannelKind = ChannelKind("twitter");
    /// Facebook: page comments (public) and Messenger (private).
    pub const Facebook: ChannelKind = ChannelKind("facebook");
    /// Email.
    pub const Email: ChannelKind = ChannelKind("email");
    /// SMS.
    pub const Sms: ChannelKind = ChannelKind("sms");
    /// A web chat, or any channel an app brings without naming its own kind.
    pub const Web: ChannelKind = ChannelKind("web");
}

impl ChannelKind {
    /// The built-in kinds, in a stable order (useful for reports).
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Twitter,
        ChannelKind::Facebook,
        ChannelKind::Email,
        ChannelKind::Sms,
        ChannelKind::Web,
    ];

    /// The longest name a kind may have.
    pub const MAX_NAME_LEN: usize = 32;

    /// The most kinds a process learns from text it reads (stored data,
    /// requests), beyond the built-in and registered ones: names are kept
    /// for the life of the process, so this bounds what a stream of odd
    /// names can cost.
    pub const MAX_LEARNED: usize = 256;

    /// A kind of the app's own. The name is what is stored and shown: 1 to
    /// [`MAX_NAME_LEN`](Self::MAX_NAME_LEN) characters of `a-z`, `0-9`, `_`
    /// and `-`, starting with a letter. Call it in a `const` so a bad name
    /// fails the build.
    ///
    /// # Panics
    /// When the name breaks those rules (at compile time in a `const`).
    pub const fn new(name: &'static str) -> ChannelKind {
        assert!(
            valid_name(name),
            "a channel kind is 1-32 of a-z 0-9 _ -, starting with a letter"
        );
        ChannelKind(name)
    }

    /// The kind's name (`"twitter"`, `"sms"`, `"instagram"`), used in
    /// storage, metrics and the API.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Whether it is one of [`ALL`](Self::ALL).
    pub fn is_built_in(self) -> bool {
        Self::ALL.contains(&self)
    }

    /// Makes the kind known to [`FromStr`](std::str::FromStr) (an API
    /// filter, a config file). The desk registers the kind of every channel
    /// it is built with.
    pub fn register(self) {
        if self.is_built_in() {
            return;
        }
        let mut names = registry().write().unwrap_or_else(|p| p.into_inner());
        if !names.registered.contains(&self.0) {
            names.registered.push(self.0);
        }
    }

    /// The built-in kinds, then every registered one.
    pub fn known() -> Vec<ChannelKind> {
        let names = registry().read().unwrap_or_else(|p| p.into_inner());
        Self::ALL
            .into_iter()
            .chain(names.registered.iter().map(|n| ChannelKind(n)))
            .collect()
    }

    /// The kind named `name` as read from stored data: a known kind, or a
    /// new one learned (at most [`MAX_LEARNED`](Self::MAX_LEARNED) per
    /// process).
    ///
    /// # Errors
    /// [`UnknownChannel`] for a name that breaks the rules of
    /// [`new`](Self::new), or past the limit.
    pub fn learn(name: &str) -> Result<ChannelKind, UnknownChannel> {
        if let Some(kind) = Self::find(name) {
            return Ok(kind);
        }
        if !valid_name(name) {
            return Err(UnknownChannel(name.chars().take(64).collect()));
        }
        let mut names = registry().write().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = names.learned.iter().find(|n| **n == name) {
            return Ok(ChannelKind(known));
        }
        if names.learned.len() >= Self::MAX_LEARNED {
            return Err(UnknownChannel(name.to_owned()));
        }
        // Kept for the life of the process, like the built-in names.
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.learned.push(kept);
        Ok(ChannelKind(kept))
    }

    /// A built-in, registered or learned kind by name.
    fn find(name: &str) -> Option<ChannelKind> {
        if let Some(kind) = Self::ALL.into_iter().find(|k| k.0 == name) {
            return Some(kind);
        }
        let names = registry().read().unwrap_or_else(|p| p.into_inner());
        names
            .registered
            .iter()
            .chain(names.learned.iter())
            .find(|n| **n == name)
            .map(|n| ChannelKind(n))
    }

    /// Where it sorts: the built-in kinds first, in their order, then by name.
    fn rank(self) -> usize {
        Self::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(Self::ALL.len())
    }
}

const fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > ChannelKind::MAX_NAME_LEN || !bytes[0].is_ascii_lowercase()
    {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

#[derive(Default)]
struct Names {
    registered: Vec<&'static str>,
    learned: Vec<&'static str>,
}

fn registry() -> &'static std::sync::RwLock<Names> {
    static NAMES: std::sync::OnceLock<std::sync::RwLock<Names>> = std::sync::OnceLock::new();
    NAMES.get_or_init(Default::default)
}

impl PartialOrd for ChannelKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ChannelKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.rank(), self.0).cmp(&(other.rank(), other.0))
    }
}

impl fmt::Debug for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = UnknownChannel;
    /// A built-in or registered kind, ignoring ASCII case (`"SMS"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > Self::MAX_NAME_LEN {
            return Err(UnknownChannel(s.chars().take(64).collect()));
        }
        if let Some(kind) = Self::ALL.into_iter().find(|k| k.0.eq_ignore_ascii_case(s)) {
            return Ok(kind);
        }
        let names = registry().read().unwrap_or_else(|p| p.into_inner());
        names
            .registered
            .iter()
            .find(|n| n.eq_ignore_ascii_case(s))
            .map(|n| ChannelKind(n))
            .ok_or_else(|| UnknownChannel(s.to_owned()))
    }
}

impl Serialize for ChannelKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ChannelKind {
    /// Any valid name: stored data may name kinds this process has not
    /// registered (another worker's adapter), and reads them back as is.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = ChannelKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a channel kind name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChannelKind, E> {
                ChannelKind::learn(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// A channel name that is not a known kind (or not a valid name).
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn built_in_kinds_keep_their_stored_names_and_order() {
        let names: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["twitter", "facebook", "email", "sms", "web"]);
        for kind in ChannelKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<ChannelKind>(&json).unwrap(), kind);
            assert_eq!(
                kind.as_str().to_uppercase().parse::<ChannelKind>(),
                Ok(kind)
            );
        }
        let mut sorted = vec![
            ChannelKind::new("aaa"),
            ChannelKind::Web,
            ChannelKind::Twitter,
        ];
        sorted.sort();
        assert_eq!(
            sorted,
            [
                ChannelKind::Twitter,
                ChannelKind::Web,
                ChannelKind::new("aaa")
            ]
        );
    }

    #[test]
    fn stored_names_are_learned_within_a_bound_and_bad_names_refused() {
        for bad in [
            "",
            "Line",
            "9lives",
            "has space",
            "emoji😀",
            &"x".repeat(33),
            "a/b",
        ] {
            assert!(ChannelKind::learn(bad).is_err(), "{bad:?}");
            let json = serde_json::to_string(bad).unwrap();
            assert!(
                serde_json::from_str::<ChannelKind>(&json).is_err(),
                "{bad:?}"
            );
        }
        let kind: ChannelKind = serde_json::from_str("\"kakao-talk\"").unwrap();
        assert_eq!(kind.as_str(), "kakao-talk");
        assert!(!kind.is_built_in());
        // Learned from data, so read back as the same kind; not parseable
        // from a request until registered.
        assert_eq!(ChannelKind::learn("kakao-talk").unwrap(), kind);
        assert!("kakao-talk".parse::<ChannelKind>().is_err());
        kind.register();
        assert_eq!("kakao-talk".parse::<ChannelKind>(), Ok(kind));
        // A stream of new names stops at the bound instead of growing.
        let refused = (0..ChannelKind::MAX_LEARNED + 10)
            .filter(|n| ChannelKind::learn(&format!("flood-{n}")).is_err())
            .count();
        assert!(refused >= 10, "{refused}");
    }

    proptest! {
        #[test]
        fn a_name_is_accepted_exactly_when_it_is_valid(name in "[a-zA-Z0-9_ -]{0,40}") {
            let valid = !name.is_empty()
                && name.len() <= ChannelKind::MAX_NAME_LEN
                && name.as_bytes()[0].is_ascii_lowercase()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            prop_assert_eq!(valid_name(&name), valid);
            if !valid {
                prop_assert!(ChannelKind::learn(&name).is_err());
            }
        }
    }
}
