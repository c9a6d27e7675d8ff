//! # carekit-facebook
//!
//! The Facebook adapter for carekit: complaints arrive as comments on the
//! brand's page (public) or as Messenger messages (private); the desk
//! answers publicly, privately to a comment (Meta's *private reply*), or
//! on Messenger, and can hide a comment without deleting it.
//!
//! - [`webhook::router`]: the webhook route as an axum `Router`: the
//!   verification handshake, then `X-Hub-Signature-256`-signed POSTs checked
//!   over the raw bytes before parsing, normalised into carekit
//!   `InboundEvent`s and handed to an `EventSink` (usually the `Desk`).
//! - [`GraphClient`]: a thin reqwest client for the few Graph API calls a
//!   desk needs (version pinned, base URL configurable), slowing down on
//!   Meta's usage headers.
//! - [`FacebookChannel`]: carekit's `Channel`, enforcing Meta's rules
//!   before calling: Messenger's 24-hour window (`RESPONSE`) and 7-day
//!   `HUMAN_AGENT` window, one private reply per comment within 7 days
//!   (recorded durably), never deleting on its own.
//!
//! Events: channel `Facebook`, account = the page id. Comments and posts are
//! public, threaded by post id (a post and its comment tree are one
//! conversation), parent = the comment replied to. Messenger is private,
//! threaded by `{page_id}:{psid}`; the page's own messages come back as
//! `EventKind::Echo`, deliveries as `EventKind::Delivery`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use carekit_core::{Clock, Desk, EventSink, MemoryStore, SystemClock};
//! use carekit_facebook::{FacebookChannel, FacebookConfig, GraphClient, webhook};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = FacebookConfig::builder("1234567890")
//!     .page_token(std::env::var("FB_PAGE_TOKEN")?)
//!     .app_secret(std::env::var("FB_APP_SECRET")?)
//!     .verify_token(std::env::var("FB_VERIFY_TOKEN")?)
//!     .build()?;
//! let clock: Arc<dyn Clock> = Arc::new(SystemClock);
//! let store = Arc::new(MemoryStore::new());
//! let client = GraphClient::new(config.clone(), clock.clone())?;
//! let desk = Desk::builder()
//!     .store(store.clone())
//!     .clock(clock.clone())
//!     .channel(Arc::new(FacebookChannel::new(client, store)))
//!     .build()?;
//! let sink: Arc<dyn EventSink> = Arc::new(desk.clone());
//! let app = axum::Router::new().nest("/webhooks/facebook", webhook::router(config, sink, clock));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! See `docs/facebook.md` in the repository for setup, the full mapping and
//! the caveats.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod channel;
mod config;
mod error;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;
pub mod graph;
mod normalize;
pub mod signature;
pub mod webhook;
pub mod window;
mod wire;

pub use channel::{FacebookChannel, MAX_COMMENT_LENGTH, MAX_MESSENGER_LENGTH, private_reply_key};
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_BODY_LIMIT, DEFAULT_GRAPH_VERSION, FacebookConfig,
    FacebookConfigBuilder,
};
pub use error::FacebookError;
pub use graph::{GraphClient, MessagingType, SendReceipt, Usage};
pub use normalize::{WebhookBatch, comment_thread_key, messenger_thread_key, parse_webhook};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
