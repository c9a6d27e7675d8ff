//! # carekit-email
//!
//! Email for carekit: mail comes in over IMAP ([`ImapPoller`]) or as raw
//! RFC 5322 bytes an app or provider hands over ([`EmailIntake::ingest_raw`],
//! [`raw_mail_router`]); replies go out over SMTP ([`EmailChannel`], a
//! carekit [`Channel`](carekit_core::Channel)).
//!
//! - **Parsing** ([`parse_message`]) with mail-parser: any charset and
//!   transfer encoding, HTML-only mail turned into text, attachments as metadata.
//! - **Reply extraction** ([`extract_reply`]): the new text without the quoted
//!   history (Gmail, Outlook, Apple Mail, Thunderbird, `>` quoting, replies
//!   written below the quote, attribution lines in some twenty languages),
//!   the signature or the list footer. Nothing is lost: the event carries
//!   the whole text as `original_text` and the source as `raw` (bounded,
//!   see [`MAX_RAW_BYTES`] and [`RAW_NOTE_HEADER`]).
//! - **Echoes**: the desk's own mail read back (a Sent folder, a Bcc, a
//!   list) becomes an `EventKind::Echo` named by its Message-ID, which is
//!   the `Delivery::provider_id` of the send.
//! - **Threading** ([`thread`]): parents from `In-Reply-To`/`References`,
//!   and a reply token as the thread key, carried in our own mail as a
//!   `Reply-To` plus-address and an `X-Carekit-Thread` header, so a reply
//!   whose client rewrote `In-Reply-To` still lands in its conversation.
//!   Never by subject.
//! - **Loop protection** ([`Noise`]): auto-submitted, bulk and list mail and
//!   bounces never get automatic answers; a bounce is recorded as a failed
//!   delivery of the message it names.
//!
//! Only carekit-core types leave this crate.
//!
//! ```no_run
//! use carekit_core::{Desk, MemoryStore, SystemClock, Store, KeyValues, EventSink};
//! use carekit_email::{EmailChannel, EmailIntake, ImapConfig, ImapPoller, SmtpConfig, SmtpSecurity};
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = Arc::new(SystemClock);
//! // A concrete store type: it is both the desk's `Store` and the poller's `KeyValues`.
//! let store = Arc::new(MemoryStore::new());
//! let smtp = SmtpConfig::builder("smtp.example.com", "support@example.com")
//!     .security(SmtpSecurity::StartTls)
//!     .credentials("support@example.com", "app-password")
//!     .build()?;
//! let channel = Arc::new(EmailChannel::new(smtp, clock.clone())?);
//! let desk = Desk::builder()
//!     .store(store.clone() as Arc<dyn Store>)
//!     .clock(clock.clone())
//!     .channel(channel)
//!     .build()?;
//!
//! let values: Arc<dyn KeyValues> = store;
//! let intake = Arc::new(
//!     EmailIntake::new("support@example.com", Arc::new(desk.clone()), clock)
//!         .with_thread_index(values.clone()),
//! );
//! let imap = ImapConfig::builder("127.0.0.1", "support", "secret")
//!     .plain_for_tests()
//!     .port(10143)
//!     .build()?;
//! let poller = ImapPoller::new(imap, intake, values);
//! poller.poll_once().await?;
//! desk.run_outbox_once().await?;
//! # Ok(()) }
//! ```
//!
//! See `docs/email.md` in the repository for the threading rules in full.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;
mod imap;
mod intake;
mod message_id;
mod noise;
mod notify;
mod parse;
mod raw;
mod raw_route;
mod reply;
mod smtp;
pub mod thread;

pub use error::EmailError;
pub use imap::{
    ImapConfig, ImapConfigBuilder, ImapPoller, ImapPosition, ImapSecurity, PollReport,
    tls_config_from_pem_file,
};
pub use intake::{EmailIntake, IntakeOutcome, to_event};
pub use message_id::clean_id;
pub use noise::{Bounce, Noise};
pub use notify::EmailNotifier;
pub use parse::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailAddress, ParsedEmail, html_to_readable_text, parse_message,
};
pub use raw::{MAX_RAW_BYTES, RAW_NOTE_HEADER};
pub use raw_route::{RouteGuard, raw_mail_router};
pub use reply::{ExtractedReply, QuoteStyle, extract_reply};
pub use smtp::{
    ComposedEmail, EmailChannel, HTML_METADATA_KEY, SmtpConfig, SmtpConfigBuilder, SmtpSecurity,
    strip_controls,
};
pub use thread::{EmailThreading, ThreadIndex, ThreadToken};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
