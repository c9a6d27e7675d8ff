//! What can go wrong talking to X, typed so callers can decide what to do.

use std::time::Duration;

use carekit_core::ChannelError;

/// An error from the X adapter. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TwitterError {
    /// X answered 429; wait `retry_after` (from `x-rate-limit-reset`).
    #[error("rate limited by X; retry after {retry_after:?}")]
    RateLimited {
        /// How long until the window resets.
        retry_after: Duration,
    },
    /// 401/403: the credentials are wrong, expired, or lack a scope.
    #[error("X refused the credentials (HTTP {status}): {reason}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// X's explanation.
        reason: String,
    },
    /// The resource does not exist (deleted tweet, unknown user).
    #[error("not found on X: {0}")]
    NotFound(String),
    /// X rejected the request as invalid (4xx other than 401/403/404/429).
    #[error("X rejected the request (HTTP {status}): {reason}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// X's explanation (`title: detail`).
        reason: String,
    },
    /// X failed (5xx).
    #[error("X server error (HTTP {status})")]
    Server {
        /// HTTP status.
        status: u16,
    },
    /// Network failure, DNS, TLS, connection reset.
    #[error("transport error talking to X: {0}")]
    Transport(String),
    /// No answer in time.
    #[error("timed out talking to X")]
    Timeout,
    /// X answered 2xx but the body was not what the API documents.
    #[error("unexpected response from X: {0}")]
    Decode(String),
    /// A value failed local validation before anything was sent (an id that
    /// is not `^[0-9]{{1,19}}$`, a `max_results` out of range).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The configuration is incomplete or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl TwitterError {
    /// Whether trying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TwitterError::RateLimited { .. }
                | TwitterError::Server { .. }
                | TwitterError::Transport(_)
                | TwitterError::Timeout
        )
    }

    /// The wait X asked for, if this is a rate limit.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TwitterError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<TwitterError> for ChannelError {
    fn from(e: TwitterError) -> Self {
        match e {
            TwitterError::RateLimited { retry_after } => ChannelError::RateLimited { retry_after },
            TwitterError::Unauthorized { status, reason } => ChannelError::Unauthorized {
                reason: format!("HTTP {status}: {reason}"),
            },
            TwitterError::NotFound(reason) => ChannelError::Rejected {
                code: Some("404".into()),
                reason,
            },
            TwitterError::Rejected { status, reason } => ChannelError::Rejected {
                code: Some(status.to_string()),
                reason,
            },
            TwitterError::Server { status } => ChannelError::Server { status },
            TwitterError::Transport(reason) => ChannelError::Transport(reason),
            TwitterError::Timeout => ChannelError::Timeout,
            TwitterError::Decode(reason) => ChannelError::Transport(format!(
                "X accepted the request but answered unexpectedly: {reason}"
            )),
            TwitterError::Invalid(reason) | TwitterError::Config(reason) => {
                ChannelError::Invalid(reason)
            }
        }
    }
}
