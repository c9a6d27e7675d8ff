//! A per-channel send rate, as a wrapper (governor's GCRA), plus a shared
//! pause when the platform itself says "slow down".

use super::{Capabilities, Channel, ChannelError, ChannelKind, Delivery, OutboundMessage};
use crate::clock::{Clock, SystemClock};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keeps sends on the inner channel under a quota, and after a
/// `RateLimited { retry_after }` refuses every further call until that
/// time (answering `RateLimited` with what is left of the wait, without
/// calling the platform), so one 429 does not turn into a burst of them
/// and no worker sits blocked: the outbox reschedules on the desk's clock.
pub struct RateLimited<C> {
    inner: C,
    limiter: DefaultDirectRateLimiter,
    clock: Arc<dyn Clock>,
    paused_until: Mutex<Option<DateTime<Utc>>>,
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
            clock: Arc::new(SystemClock),
            paused_until: Mutex::new(None),
        }
    }

    /// Measures pauses on `clock` (the desk's, so a virtual clock in tests
    /// and replays moves them too). The system clock by default.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// At most `per_second` sends a second (SMS long codes: 1).
    pub fn per_second(inner: C, per_second: u32) -> Self {
        Self::new(inner, per_second, Duration::from_secs(1))
    }

    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// `Err(RateLimited)` with the rest of the wait while paused; else
    /// waits (briefly) for the quota.
    async fn ready(&self) -> Result<(), ChannelError> {
        let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let left = until - self.clock.now();
            if left > chrono::Duration::zero() {
                return Err(ChannelError::RateLimited {
                    retry_after: left.to_std().unwrap_or_default(),
                });
            }
        }
        self.limiter.until_ready().await;
        Ok(())
    }

    fn note<T>(&self, result: &Result<T, ChannelError>) {
        if let Err(ChannelError::RateLimited { retry_after }) = result {
            let wait =
                chrono::Duration::from_std(*retry_after).unwrap_or(chrono::Duration::hours(1));
            let until = self.clock.now() + wait;
            let mut guard = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none_or(|current| current < until) {
                *guard = Some(until);
            }
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
        self.ready().await?;
        let result = self.inner.send(message).await;
        self.note(&result);
        result
    }

    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        self.ready().await?;
        let result = self.inner.hide(external_id, hidden).await;
        self.note(&result);
        result
    }
    async fn delete(&self, external_id: &str) -> Result<(), ChannelError> {
        self.ready().await?;
        let result = self.inner.delete(external_id).await;
        self.note(&result);
        result
    }
    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        self.inner.find_sent(message).await
    }
}
