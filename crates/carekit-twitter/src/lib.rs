//! # carekit-twitter
//!
//! The X (Twitter) API v2 adapter for carekit: customers' mentions and DMs
//! come in, the desk's replies go out as threaded public replies or DMs.
//!
//! - [`XClient`]: a thin reqwest client for `POST /2/tweets`,
//!   `POST /2/dm_conversations/with/{participant_id}/messages`,
//!   `GET /2/users/{id}/mentions`, `GET /2/dm_events` and `GET /2/tweets/{id}`,
//!   authorised by OAuth 1.0a user context or an OAuth 2.0 token ([`Auth`]).
//! - [`TwitterChannel`]: carekit's `Channel` on top of it (280 weighted
//!   characters, no hide: X cannot hide a customer's mention).
//! - [`webhook::router`]: Account Activity intake (CRC + signed POSTs) as
//!   an axum `Router`.
//! - [`Poller`]: mentions and DM polling for tiers without webhooks,
//!   resuming from cursors after a restart and pacing itself by X's
//!   rate-limit headers.
//!
//! Both intakes produce the same `InboundEvent`s: channel `Twitter`,
//! account = the brand's user id, author = the customer's user id (display
//! name `@username`), thread key = the tweet's `conversation_id` or the DM
//! conversation id, parent = the tweet replied to. The brand's own tweets
//! and DMs come back as `EventKind::Echo`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use carekit_core::{Desk, EventSink};
//! use carekit_twitter::{Auth, Poller, TwitterChannel, XClient};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = XClient::builder(
//!     Auth::oauth1("consumer-key", "consumer-secret", "access-token", "access-secret"),
//!     "1234567890",
//! )
//! .build()?;
//! let desk = Desk::builder()
//!     .channel(Arc::new(TwitterChannel::new(client.clone())))
//!     .build()?;
//! let sink: Arc<dyn EventSink> = Arc::new(desk.clone());
//! let poller = Poller::builder(client, sink, desk.store().clone()).build();
//! poller.run(std::future::pending()).await;
//! # Ok(()) }
//! ```
//!
//! See `docs/twitter.md` in the repository for setup, limits and caveats.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod channel;
mod client;
mod error;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;
mod ids;
pub mod length;
mod normalize;
mod parents;
mod poller;
mod rate_limit;
pub mod webhook;
mod wire;

pub use auth::Auth;
pub use channel::{MAX_DM_LENGTH, TwitterChannel};
pub use client::{
    DEFAULT_API_BASE, DmPage, Endpoint, MentionsPage, MentionsQuery, SentDm, XClient,
    XClientBuilder,
};
pub use error::TwitterError;
pub use ids::{is_valid_id, one_to_one_conversation_id};
pub use parents::{KnownTweets, ParentResolver};
pub use poller::{PollError, PollReport, Poller, PollerBuilder};
pub use rate_limit::{DEFAULT_WINDOW, RateLimit};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
