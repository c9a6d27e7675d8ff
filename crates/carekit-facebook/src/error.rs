//! What can go wrong in configuration and webhook intake. Graph API calls
//! answer with carekit's own `ChannelError` instead (see `graph`), because
//! the desk decides retries from it.

use axum::http::StatusCode;

/// Why configuration or a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FacebookError {
    /// A setting is missing or malformed.
    #[error("facebook configuration: {0}")]
    Config(String),
    /// A POST carried no `X-Hub-Signature-256` header at all.
    #[error("missing X-Hub-Signature-256 header")]
    MissingSignature,
    /// A POST carried only the legacy SHA-1 `X-Hub-Signature`, which carekit
    /// does not accept (SHA-1 signatures are forgeable in principle).
    #[error("only a legacy SHA-1 X-Hub-Signature was sent; X-Hub-Signature-256 is required")]
    Sha1OnlySignature,
    /// The signature header is not `sha256=<64 hex digits>`.
    #[error("malformed X-Hub-Signature-256 header")]
    MalformedSignature,
    /// The signature does not match the body: forged, or the wrong app secret.
    #[error("X-Hub-Signature-256 does not match the body")]
    BadSignature,
    /// The body exceeds the configured limit.
    #[error("webhook body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not the JSON Meta sends (truncated, wrong shape).
    #[error("malformed webhook JSON: {0}")]
    Json(String),
    /// The verification handshake was wrong: bad mode or token.
    #[error("webhook verification refused: {0}")]
    Verification(String),
}

impl FacebookError {
    /// The HTTP status the webhook route answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            FacebookError::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
            FacebookError::MissingSignature
            | FacebookError::Sha1OnlySignature
            | FacebookError::MalformedSignature => StatusCode::UNAUTHORIZED,
            FacebookError::BadSignature | FacebookError::Verification(_) => StatusCode::FORBIDDEN,
            FacebookError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FacebookError::Json(_) => StatusCode::BAD_REQUEST,
        }
    }
}
