#![doc = include_str!("../README.md")]

pub use carekit_core::*;

/// SLA policies, business hours, built-in escalation policies, what-if replay.
pub use carekit_policy as policies;

/// Reports, CSAT, top issues, crisis detection, proactive outreach.
pub use carekit_insight as insight;

/// The X (Twitter) adapter.
#[cfg(feature = "twitter")]
pub use carekit_twitter as twitter;

/// The Facebook adapter (page comments and Messenger).
#[cfg(feature = "facebook")]
pub use carekit_facebook as facebook;

/// The email adapter.
#[cfg(feature = "email")]
pub use carekit_email as email;

/// The SMS adapter.
#[cfg(feature = "sms")]
pub use carekit_sms as sms;

/// SQL stores (SQLite, Postgres).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use carekit_store_sql as store_sql;

/// Test doubles.
#[cfg(feature = "testing")]
pub use carekit_testing as testing;
