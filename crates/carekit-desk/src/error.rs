//! Why the server could not start or stopped.

/// Errors from building or running a desk server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskServerError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A secret a configured channel needs is not set.
    #[error("secret {name} is not set (needed by {needed_by})")]
    MissingSecret {
        /// The secret's name (an environment variable).
        name: String,
        /// The part of the configuration that needs it.
        needed_by: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] carekit_core::StoreError),
    /// The engine refused its configuration.
    #[error(transparent)]
    Desk(#[from] carekit_core::DeskError),
    /// An adapter refused its configuration.
    #[error("{channel}: {message}")]
    Adapter {
        /// The adapter.
        channel: &'static str,
        /// Its error.
        message: String,
    },
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

impl DeskServerError {
    pub(crate) fn adapter(channel: &'static str, error: impl std::fmt::Display) -> Self {
        DeskServerError::Adapter {
            channel,
            message: error.to_string(),
        }
    }
}
