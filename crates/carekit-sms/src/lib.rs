//! # carekit-sms
//!
//! SMS for carekit, with Twilio as the first provider.
//!
//! - [`TwilioProvider`] sends through `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
//!   (form-encoded, basic auth), mapping Twilio's error codes to typed
//!   [`ChannelError`](carekit_core::ChannelError)s (21610 → `OptedOut`, never retried).
//! - [`SmsChannel`] is the [`Channel`](carekit_core::Channel): E.164 numbers,
//!   segment counting (GSM-7 vs UCS-2) with a cap so a long reply is split or
//!   refused rather than silently billed, per-sender throughput.
//! - [`webhook::router`] takes inbound messages and status callbacks, checks
//!   `X-Twilio-Signature` against the configured public URL (so it works
//!   behind proxies), turns STOP/START words into consent events, answers
//!   HELP, and hands [`InboundEvent`](carekit_core::InboundEvent)s to the desk.
//!
//! Other providers implement [`SmsProvider`].

#![cfg_attr(docsrs, feature(doc_cfg))]

mod channel;
mod error;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;
mod phone;
mod provider;
pub mod segments;
pub mod signature;
mod twilio;
pub mod webhook;

pub use channel::{SmsChannel, SmsChannelBuilder};
pub use error::SmsError;
pub use phone::normalize;
pub use provider::{SenderKind, SentSms, SmsProvider, SmsRequest};
pub use twilio::{TwilioConfig, TwilioConfigBuilder, TwilioProvider};
pub use webhook::{WebhookConfig, WebhookConfigBuilder};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
