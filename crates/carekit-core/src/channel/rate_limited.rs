//! A per-channel send rate, as a wrapper (governor's GCRA), plus a shared
//! pause when the platform itself says "slow down".

use super::{Capabilities, Channel, ChannelError, ChannelKind, Delivery, OutboundMessage};
use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Keeps sends on the inner channel under a quota, and after a
/// `RateLimited { retry_after }` holds every further send until that time,
/// so one 429 does not turn into a burst of them.
pub struct RateLimited<C> {
    inner: C,
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
}

impl<C> std::fmt::Debug for RateLimited<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimited").finish_non_exhaustive()
    }
}

impl<C> RateLimited<C> {
    /// At most `per_period` sends every `period`, bursting up to `per_period`.
    ///
    /// # Panics
    /// Never for valid numbers; a zero `per_period` is raised to one and a
    /// zero period to one millisecond.
    pub fn new(inner: C, per_period: u32, period: Duration) -> Self {
        let burst = NonZeroU32::new(per_period).unwrap_or(NonZeroU32::MIN);
        let period = period.max(Duration::from_millis(1));
        let quota = Quota::with_period(period / burst.get())
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self {
            inner,
            limiter: RateLimiter::direct(quota),
            paused_until: Mutex::new(None),
        }
    }

    /// At most `per_second` sends a second (SMS long codes: 1).
    pub fn per_second(inner: C, per_second: u32) -> Self {
        Self::new(inner, per_second, Duration::from_secs(1))
    }

    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn pause_deadline(&self) -> Option<Instant> {
        *self.paused_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut guard = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }
}

#[async_trait]
impl<C: Channel> Channel for RateLimited<C> {
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
        if let Some(until) = self.pause_deadline() {
            tokio::time::sleep_until(until).await;
        }
        self.limiter.until_ready().await;
        let result = self.inner.send(message).await;
        if let Err(ChannelError::RateLimited { retry_after }) = &result {
            self.pause_for(*retry_after);
        }
        result
    }

    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        self.limiter.until_ready().await;
        self.inner.hide(external_id, hidden).await
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        self.limiter.until_ready().await;
        self.inner.delete(external_id).await
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        self.inner.find_sent(message).await
    }
}
