//! Errors of the email adapter. Each says what went wrong with which input,
//! never a password.

/// Why a message could not be parsed, ingested, fetched or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The bytes are not a usable RFC 5322 message (no headers, no sender).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message is larger than the configured limit.
    #[error("message is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Size of the message in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The configuration cannot work (missing host, bad address, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The IMAP server failed or refused (network, login, protocol).
    #[error("imap: {0}")]
    Imap(String),
    /// The store holding the IMAP position or thread index failed.
    #[error("store: {0}")]
    Store(#[from] carekit_core::StoreError),
    /// The event sink refused the event.
    #[error("sink: {0}")]
    Sink(#[from] carekit_core::IntakeError),
}

impl EmailError {
    /// Whether trying the same thing later can succeed (network, store,
    /// sink temporarily unavailable), as opposed to bad input.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmailError::Imap(_) => true,
            EmailError::Store(e) => e.is_retryable(),
            EmailError::Sink(carekit_core::IntakeError::Unavailable(_)) => true,
            _ => false,
        }
    }
}
