//! Crisis detection and crisis mode.
//!
//! A [`CrisisDetector`] keeps a rolling baseline of mentions per channel
//! and topic and opens an [`Incident`] when negative mentions spike above it
//! (a z-score or a ratio, above a minimum volume). The incident groups its
//! conversations (audited and tagged), notifies the crisis team through a
//! [`Notifier`](carekit_core::desk::Notifier), can engage [`CrisisMode`],
//! and closes once volume has been back at baseline for a quiet period.
//!
//! Crisis mode plugs into an unchanged desk: a [`CrisisPolicy`] switches to
//! a stricter SLA set, a [`CrisisRule`] (and the desk's own crisis flag)
//! hold back public automated replies, and
//! [`CrisisMode::post_holding_statement`] posts the prepared statement.
//! See `docs/crisis.md`.

mod detector;
mod mode;

pub use detector::{
    Baseline, CrisisConfig, CrisisDetector, CrisisDetectorBuilder, DETECTOR_NAME, Incident,
    IncidentEvent, Mention, SPIKE, STATE_KEY, SeriesKey, spike_reason,
};
pub use mode::{CrisisMode, CrisisPolicy, CrisisRule};

use carekit_core::{DeskError, StoreError};

/// Why a crisis operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrisisError {
    /// The detector's settings make no sense.
    #[error("crisis detector configuration: {0}")]
    Config(String),
    /// No holding statement was prepared.
    #[error("no holding statement prepared")]
    NoHoldingStatement,
    /// The desk refused or failed.
    #[error(transparent)]
    Desk(#[from] DeskError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
