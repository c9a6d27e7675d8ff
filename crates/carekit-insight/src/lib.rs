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

mod csat;
mod issues;
mod minhash;
mod rating;
mod report;
mod taxonomy;

pub use csat::{CsatError, CsatSurvey, CsatSurveyBuilder, RatingParser};
pub use issues::{IssueGroup, IssueTopic, TopIssues, TopIssuesOptions, TopIssuesOptionsBuilder};
pub use minhash::{
    Group, MinHashError, NearDuplicates, NearDuplicatesBuilder, Signature, jaccard, shingles,
};
pub use rating::{MAX_RATING_WORDS, Rating, RatingError, parse_rating};
pub use report::{Durations, Report, ReportOptions, Segment};
pub use taxonomy::{
    PatternSpec, TaxonomyBuilder, TaxonomyClassifier, TaxonomyError, TaxonomySpec, TopicSpec,
};
