//! # carekit-policy
//!
//! When people must look, and by when.
//!
//! - [`BusinessCalendar`]: working hours in a time zone (several periods a
//!   day, per weekday, holidays), correct across DST changes.
//! - [`SlaPolicy`] and [`SlaSet`]: response-time targets per priority for
//!   first response, next response and resolution, in calendar time or
//!   business hours; the clock pauses while a conversation is pending or
//!   snoozed; a warning before the breach, escalation levels, and SLA audit
//!   events (applied, warning, breached, fulfilled, paused, resumed) so every
//!   figure can be explained. `SlaSet` picks the first policy whose
//!   conditions match and implements [`EscalationPolicy`](carekit_core::EscalationPolicy).
//! - Built-in escalation policies in [`builtin`]: negative sentiment, crisis
//!   terms, repeated unanswered contact, audience reach, VIPs, public and
//!   negative, unsupported language; and [`CareSentiment`], the `Classifier`
//!   that hears angry customers (emoji, profanity, sarcasm, waiting times,
//!   threats to leave), detects the language and never calls a message it
//!   cannot read neutral (see [`sentiment`] and [`language`]).
//! - [`DeadlineScheduler`]: a calendar queue of deadlines bucketed by time;
//!   a tick costs O(1) amortised per due deadline, however many are held.
//! - [`replay`]: what-if evaluation of a policy set over recorded traffic on a
//!   virtual clock, and [`twcs`], a loader for the TWCS customer-care corpus.

pub mod builtin;
mod calendar;
mod error;
pub mod language;
pub mod reasons;
pub mod replay;
mod scheduler;
pub mod sentiment;
mod sla;
pub mod twcs;

pub use calendar::{BusinessCalendar, BusinessCalendarBuilder};
pub use error::PolicyError;
pub use scheduler::DeadlineScheduler;
pub use sentiment::{CareSentiment, CareSentimentBuilder, LexiconSentiment};
pub use sla::{
    Conditions, EscalationLevel, SlaClock, SlaPolicy, SlaPolicyBuilder, SlaSet, SlaStatus, Targets,
};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
