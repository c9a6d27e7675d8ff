//! # carekit-insight
//!
//! Reports you can rebuild at any time from what the store holds: the
//! conversations and their audit trails. Nothing is kept on the side, so a
//! changed SLA policy or a backfill gives consistent numbers.
//!
//! ```no_run
//! # async fn demo(desk: carekit_core::Desk) -> Result<(), carekit_core::DeskError> {
//! use carekit_insight::{Report, ReportOptions};
//! let report = Report::from_store(desk.store().as_ref(), &carekit_core::ConversationFilter::all(), &ReportOptions::default()).await?;
//! println!("{}", report.to_json());
//! # Ok(()) }
//! ```
//!
//! Beyond reports, the crate watches and reaches out:
//!
//! - [`crisis`]: spike detection on rolling baselines per channel and topic,
//!   incidents that group their conversations, and crisis mode (stricter
//!   SLAs, public auto-replies held, a prepared holding statement);
//! - [`outreach`]: a notice to every customer an incident touched, on a
//!   private channel they use, respecting opt-outs and reply windows;
//! - [`digest`]: a plain-text digest of new mentions and SLA alerts, sent
//!   to the team on a schedule.
//!
//! See `docs/crisis.md` in the repository.

pub mod crisis;
mod csat;
pub mod digest;
pub mod evaluation;
mod issues;
mod minhash;
pub mod outreach;
mod rating;
mod report;
mod taxonomy;

pub use crisis::{
    CrisisDetector, CrisisError, CrisisMode, CrisisPolicy, CrisisRule, Incident, IncidentEvent,
};
pub use csat::{CsatError, CsatSurvey, CsatSurveyBuilder, RatingParser};
pub use digest::{Digest, DigestError, DigestSchedule, DigestSender, Digester};
pub use issues::{IssueGroup, IssueTopic, TopIssues, TopIssuesOptions, TopIssuesOptionsBuilder};
pub use minhash::{
    Group, MinHashError, NearDuplicates, NearDuplicatesBuilder, Signature, jaccard, shingles,
};
pub use outreach::{Outreach, OutreachError, OutreachReport};
pub use rating::{MAX_RATING_WORDS, Rating, RatingError, parse_rating};
pub use report::{Durations, Report, ReportOptions, Segment};
pub use taxonomy::{
    CARE_TAXONOMY_TOML, PatternSpec, TaxonomyBuilder, TaxonomyClassifier, TaxonomyError,
    TaxonomySpec, TopicSpec,
};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
