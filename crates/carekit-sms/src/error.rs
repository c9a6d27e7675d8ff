//! Errors of the SMS adapter outside of sending (those are `ChannelError`s).

/// What went wrong reading a webhook or configuring the adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmsError {
    /// `X-Twilio-Signature` missing.
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    /// The signature does not match the body and the configured URL.
    #[error("X-Twilio-Signature does not match")]
    BadSignature,
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("body is not form-encoded: {0}")]
    NotForm(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A phone number that is not a valid number.
    #[error("invalid phone number `{0}`")]
    InvalidNumber(String),
    /// A message longer than the configured segment cap.
    #[error("message needs {segments} segments; the cap is {cap}")]
    TooManySegments {
        /// Segments needed.
        segments: usize,
        /// The cap.
        cap: usize,
    },
    /// Configuration is incomplete or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
}
