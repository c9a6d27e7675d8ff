//! Retries as a wrapper: any `Channel` gains backoff that honours the
//! platform's `retry_after`, without the engine knowing.

use super::{Capabilities, Channel, ChannelError, ChannelKind, Delivery, OutboundMessage};
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use std::time::Duration;

/// How [`Retrying`] backs off.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: usize,
    /// First backoff delay; doubles each time, with jitter.
    pub min_delay: Duration,
    /// Cap on one backoff delay.
    pub max_delay: Duration,
    /// A `retry_after` longer than this is not waited out in place: the error
    /// is returned so the durable outbox can reschedule instead of holding a
    /// worker for minutes.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// Sets [`RetryPolicy::max_retries`].
    pub fn with_max_retries(mut self, n: usize) -> Self {
        self.max_retries = n;
        self
    }
    /// Sets [`RetryPolicy::min_delay`].
    pub fn with_min_delay(mut self, d: Duration) -> Self {
        self.min_delay = d;
        self
    }
    /// Sets [`RetryPolicy::max_delay`].
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }
    /// Sets [`RetryPolicy::max_retry_after`].
    pub fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }
}

/// Retries failures of the inner channel that certainly did nothing (429,
/// 503) with exponential backoff; a `RateLimited { retry_after }` waits
/// exactly that long (on tokio's clock, so paused-time tests are
/// deterministic). Failures the platform may have acted on
/// ([`ChannelError::outcome_unknown`]) are returned at once, so the outbox
/// can ask the platform before sending again.
#[derive(Debug, Clone)]
pub struct Retrying<C> {
    inner: C,
    policy: RetryPolicy,
}

impl<C> Retrying<C> {
    /// Wraps `inner` with the given policy.
    pub fn new(inner: C, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }
    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

#[async_trait]
impl<C: Channel> Channel for Retrying<C> {
    fn kind(&self) -> ChannelKind {
        self.inner.kind()
    }
    fn account(&self) -> Option<String> {
        self.inner.account()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.min_delay)
            .with_max_delay(self.policy.max_delay)
            .with_max_times(self.policy.max_retries)
            .with_jitter();
        let max_wait = self.policy.max_retry_after;
        (|| self.inner.send(message))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(move |e: &ChannelError| {
                // A failure the platform may have acted on is not retried
                // blindly: it goes back to the outbox, which asks first.
                e.is_retryable()
                    && !e.outcome_unknown()
                    && e.retry_after().is_none_or(|d| d <= max_wait)
            })
            .adjust(|e: &ChannelError, planned| match e.retry_after() {
                // The platform knows best: wait what it said, not our guess.
                Some(wait) => planned.map(|_| wait),
                None => planned,
            })
            .notify(|e: &ChannelError, wait| {
                tracing::debug!(error = %e, ?wait, "channel send failed; retrying");
            })
            .await
    }

    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        self.inner.hide(external_id, hidden).await
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        self.inner.delete(external_id).await
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        self.inner.find_sent(message).await
    }
}
