//! Errors a channel returns. Each variant says whether trying again can help,
//! because retries, dead-lettering and channel health all hang on that answer.

use std::time::Duration;

/// Why a channel could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The platform asked us to slow down; try again after `retry_after`.
    #[error("rate limited by the platform; retry after {retry_after:?}")]
    RateLimited {
        /// How long to wait before the next attempt.
        retry_after: Duration,
    },
    /// Credentials are missing, expired or revoked. Retrying will not help
    /// until someone replaces them; `reason` says what to do.
    #[error("unauthorized: {reason}")]
    Unauthorized {
        /// What happened and what to do about it (never the secret itself).
        reason: String,
    },
    /// The platform refused this particular request; sending it again as is
    /// will fail again.
    #[error("rejected by the platform{}: {reason}", code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default())]
    Rejected {
        /// The platform's error code, if it gave one.
        code: Option<String>,
        /// The platform's explanation.
        reason: String,
    },
    /// The recipient has opted out of messages on this channel.
    #[error("recipient has opted out of this channel")]
    OptedOut,
    /// The platform's reply window for this recipient has closed.
    #[error("outside the platform's reply window: {reason}")]
    OutsideWindow {
        /// Which window and since when.
        reason: String,
    },
    /// The text is longer than the channel accepts.
    #[error("message is {length} long, the channel accepts at most {max}")]
    TooLong {
        /// Length in the platform's unit.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The channel cannot do this at all (for example hide a tweet).
    #[error("not supported by this channel: {0}")]
    Unsupported(&'static str),
    /// The request was malformed before it left (missing recipient, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The network failed or the connection dropped.
    #[error("transport error: {0}")]
    Transport(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The platform answered with a server error (5xx).
    #[error("platform server error (HTTP {status})")]
    Server {
        /// HTTP status code.
        status: u16,
    },
}

impl ChannelError {
    /// Whether sending the same request again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ChannelError::RateLimited { .. }
                | ChannelError::Transport(_)
                | ChannelError::Timeout
                | ChannelError::Server { .. }
        )
    }

    /// Whether the platform may have acted on the request even though it
    /// failed: the connection dropped, the answer never came, or a server
    /// error other than 503 (which platforms send before doing anything).
    /// The outbox asks the platform ([`Channel::find_sent`](crate::Channel::find_sent))
    /// before sending such a message again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ChannelError::Transport(_) | ChannelError::Timeout => true,
            ChannelError::Server { status } => *status != 503,
            _ => false,
        }
    }

    /// The wait the platform asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ChannelError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether the channel as a whole is unusable until credentials change.
    pub fn is_credential_failure(&self) -> bool {
        matches!(self, ChannelError::Unauthorized { .. })
    }
}
