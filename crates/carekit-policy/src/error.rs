//! Configuration errors, reported when a policy is built.

/// What is wrong with a policy's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A target of zero (or negative) length.
    #[error("target `{0}` must be longer than zero")]
    ZeroTarget(String),
    /// An unknown IANA time zone.
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    /// A business-hours period that ends before it starts.
    #[error("period {start}–{end} on {day} ends before it starts")]
    EmptyPeriod {
        /// Weekday.
        day: String,
        /// Start.
        start: String,
        /// End.
        end: String,
    },
    /// Two periods on one day overlap.
    #[error("periods on {day} overlap: {first} and {second}")]
    OverlappingPeriods {
        /// Weekday.
        day: String,
        /// One period.
        first: String,
        /// The other.
        second: String,
    },
    /// A calendar with no working time at all.
    #[error("the calendar has no working hours")]
    NoWorkingHours,
    /// A warning point outside (0, 1).
    #[error("warning fraction {0} must be between 0 and 1")]
    BadWarning(String),
    /// A policy or set that can never apply.
    #[error("{0}")]
    MatchesNothing(String),
    /// Any other inconsistency.
    #[error("{0}")]
    Invalid(String),
}
