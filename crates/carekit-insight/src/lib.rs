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

pub mod crisis;
pub mod digest;
pub mod outreach;
mod report;

pub use crisis::{
    CrisisDetector, CrisisError, CrisisMode, CrisisPolicy, CrisisRule, Incident, IncidentEvent,
};
pub use digest::{Digest, DigestError, DigestSchedule, DigestSender, Digester};
pub use outreach::{Outreach, OutreachError, OutreachReport};
pub use report::{Durations, Report, ReportOptions, Segment};
