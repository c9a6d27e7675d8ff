//! An event sink that keeps what it receives.

use async_trait::async_trait;
use carekit_core::{EventSink, InboundEvent, IntakeError};
use std::sync::Mutex;

/// Collects accepted events in order; can be told to refuse the next ones.
#[derive(Debug, Default)]
pub struct CollectingSink {
    events: Mutex<Vec<InboundEvent>>,
    fail_next: Mutex<usize>,
}

impl CollectingSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }
    /// Everything accepted so far.
    pub fn events(&self) -> Vec<InboundEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// Refuse the next `n` events with [`IntakeError::Unavailable`].
    pub fn fail_next(&self, n: usize) {
        *self.fail_next.lock().unwrap_or_else(|p| p.into_inner()) = n;
    }
}

#[async_trait]
impl EventSink for CollectingSink {
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        {
            let mut fail = self.fail_next.lock().unwrap_or_else(|p| p.into_inner());
            if *fail > 0 {
                *fail -= 1;
                return Err(IntakeError::Unavailable(
                    "CollectingSink told to fail".into(),
                ));
            }
        }
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
        Ok(())
    }
}
