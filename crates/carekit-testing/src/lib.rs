//! # carekit-testing
//!
//! Test doubles apps want too (like lettre's stub transport): a
//! [`RecordingChannel`] that keeps what it was asked to send and can be told
//! to fail, a [`CollectingSink`] for adapter tests, the [`FakeClock`], event
//! builders, and the [`conformance`] suite every `Store` must pass.
//!
//! With the `fake-platform` feature, `fake_platform` holds what the
//! adapters' fake platforms share (a ledger of what they accepted, fault
//! injection, a rate limit, signed webhook requests).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod conformance;
mod events;
#[cfg(feature = "fake-platform")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake-platform")))]
pub mod fake_platform;
mod recording;
mod sink;

pub use carekit_core::FakeClock;
pub use events::{at, sample_event};
pub use recording::RecordingChannel;
pub use sink::CollectingSink;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
