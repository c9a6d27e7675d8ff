//! What adapters hand inbound events to.
//!
//! An adapter's webhook route answers 2xx only after [`EventSink::accept`]
//! returned `Ok`, so a platform retries anything not durably stored. The
//! [`Desk`](crate::Desk) is the usual sink; tests use a collecting one.

use crate::domain::InboundEvent;
use async_trait::async_trait;

/// Why a sink refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The event is malformed; retrying the same event will fail again.
    #[error("rejected event: {0}")]
    Rejected(String),
    /// The sink could not store it now (database down); the platform should retry.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

/// Receives normalised inbound events from adapters.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Stores (or recognises as a duplicate) one event. `Ok` means durable.
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError>;

    /// Stores a batch in order; stops at the first failure.
    async fn accept_all(&self, events: Vec<InboundEvent>) -> Result<(), IntakeError> {
        for event in events {
            self.accept(event).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<S: EventSink + ?Sized> EventSink for std::sync::Arc<S> {
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        (**self).accept(event).await
    }
    async fn accept_all(&self, events: Vec<InboundEvent>) -> Result<(), IntakeError> {
        (**self).accept_all(events).await
    }
}

const _: fn(&dyn EventSink) = |_| {};
