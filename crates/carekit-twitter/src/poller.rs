//! Polling intake for tiers without Account Activity webhooks: the mentions
//! timeline (`since_id`) and DM events, on an interval, resuming from
//! cursors kept in [`KeyValues`] (every carekit `Store` is one), and
//! slowing down as X's rate-limit headers say.
//!
//! Order of work per round: fetch every new page, hand events to the sink
//! oldest first, then save the cursor. A sink failure saves the cursor at
//! the last event taken, so a tweet is never handed over twice; a crash
//! between hand-over and save re-sends a few, which the desk dedupes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use carekit_core::{EventSink, InboundEvent, IntakeError, KeyValues, StoreError};

use crate::client::{Endpoint, MentionsQuery, XClient};
use crate::error::TwitterError;
use crate::ids::id_greater;
use crate::parents::ParentResolver;
use crate::rate_limit::RateLimit;

/// Why a poll round stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The X API call failed (rate limits included).
    #[error(transparent)]
    Api(#[from] TwitterError),
    /// The cursor could not be read or saved.
    #[error("cursor store: {0}")]
    Cursor(#[from] StoreError),
    /// The sink refused an event; the round stopped there.
    #[error("sink: {0}")]
    Sink(#[from] IntakeError),
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// Events handed to the sink (fetched ancestors included).
    pub handed_over: usize,
    /// API pages read.
    pub pages: usize,
    /// The cursor after the round.
    pub cursor: Option<String>,
}

/// Polls mentions and DMs for one brand account.
#[derive(Clone)]
pub struct Poller {
    client: XClient,
    sink: Arc<dyn EventSink>,
    values: Arc<dyn KeyValues>,
    interval: Duration,
    max_pages: usize,
    page_size: u8,
    mentions: bool,
    dms: bool,
    parents: Option<ParentResolver>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("client", &self.client)
            .field("interval", &self.interval)
            .field("max_pages", &self.max_pages)
            .field("page_size", &self.page_size)
            .field("mentions", &self.mentions)
            .field("dms", &self.dms)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Poller`].
#[derive(Debug)]
pub struct PollerBuilder {
    poller: Poller,
}

impl PollerBuilder {
    /// Time between rounds when X allows it (default 60 s).
    pub fn interval(mut self, every: Duration) -> Self {
        self.poller.interval = every;
        self
    }
    /// Pages read per round at most (default 5); a larger backlog is left
    /// for the next round's log line.
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.poller.max_pages = pages.max(1);
        self
    }
    /// Results per page: 5-100 (default 100, the spec's maximum).
    pub fn page_size(mut self, n: u8) -> Self {
        self.poller.page_size = n.clamp(5, 100);
        self
    }
    /// Polls the mentions timeline (default on).
    pub fn mentions(mut self, on: bool) -> Self {
        self.poller.mentions = on;
        self
    }
    /// Polls DM events (default on; needs `dm.read`).
    pub fn direct_messages(mut self, on: bool) -> Self {
        self.poller.dms = on;
        self
    }
    /// Fetches unknown parents of replies.
    pub fn parent_resolver(mut self, resolver: ParentResolver) -> Self {
        self.poller.parents = Some(resolver);
        self
    }
    /// The poller.
    pub fn build(self) -> Poller {
        self.poller
    }
}

impl Poller {
    /// A poller for `client`'s brand, handing events to `sink` and keeping
    /// its place in `values` (for example `desk.store().clone()`).
    pub fn builder<C: KeyValues + ?Sized + 'static>(
        client: XClient,
        sink: Arc<dyn EventSink>,
        values: Arc<C>,
    ) -> PollerBuilder {
        PollerBuilder {
            poller: Poller {
                client,
                sink,
                values: carekit_core::shared_key_values(values),
                interval: Duration::from_secs(60),
                max_pages: 5,
                page_size: 100,
                mentions: true,
                dms: true,
                parents: None,
            },
        }
    }

    /// The cursor name for the mentions `since_id`.
    pub fn mentions_cursor(&self) -> String {
        format!("twitter:{}:mentions:since_id", self.client.brand_user_id())
    }

    /// The cursor name for the newest DM event seen.
    pub fn dm_cursor(&self) -> String {
        format!(
            "twitter:{}:dm_events:newest_id",
            self.client.brand_user_id()
        )
    }

    /// One round over the mentions timeline. Without a saved cursor only the
    /// latest page is taken (no flood of old mentions on first start).
    pub async fn poll_mentions_once(&self) -> Result<PollReport, PollError> {
        let name = self.mentions_cursor();
        let since = self.values.load_value(&name).await?;
        let mut report = PollReport {
            cursor: since.clone(),
            ..PollReport::default()
        };
        let mut events = Vec::new();
        let mut referenced = HashMap::new();
        let mut newest: Option<String> = None;
        let mut token = None;
        loop {
            let query = MentionsQuery::since(since.clone())
                .with_pagination_token(token.take())
                .with_max_results(self.page_size);
            let page = self.client.mentions(&query).await?;
            report.pages += 1;
            if let Some(n) = page.newest_id
                && newest.as_ref().is_none_or(|old| id_greater(&n, old))
            {
                newest = Some(n);
            }
            events.extend(page.events);
            referenced.extend(
                page.referenced
                    .into_iter()
                    .map(|e| (e.external_id.clone(), e)),
            );
            match page.next_token {
                Some(next) if since.is_some() && report.pages < self.max_pages => {
                    token = Some(next)
                }
                Some(_) if since.is_some() => {
                    tracing::warn!(
                        pages = report.pages,
                        "mentions backlog larger than max_pages; older ones are skipped"
                    );
                    break;
                }
                _ => break,
            }
        }
        if let Some(since) = &since {
            events.retain(|e| id_greater(&e.external_id, since));
        }
        self.hand_over(&name, events, &referenced, &mut report)
            .await?;
        if let Some(newest) = newest
            && report
                .cursor
                .as_ref()
                .is_none_or(|c| id_greater(&newest, c))
        {
            self.values.save_value(&name, &newest).await?;
            report.cursor = Some(newest);
        }
        Ok(report)
    }

    /// One round over DM events (X lists them newest first, with no
    /// `since_id`: pages are read until a known id appears).
    pub async fn poll_dms_once(&self) -> Result<PollReport, PollError> {
        let name = self.dm_cursor();
        let last = self.values.load_value(&name).await?;
        let mut report = PollReport {
            cursor: last.clone(),
            ..PollReport::default()
        };
        let mut events = Vec::new();
        let mut newest: Option<String> = None;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .dm_events(token.as_deref(), self.page_size)
                .await?;
            report.pages += 1;
            for id in &page.ids {
                if newest.as_ref().is_none_or(|n| id_greater(id, n)) {
                    newest = Some(id.clone());
                }
            }
            let reached_known = last
                .as_ref()
                .is_some_and(|l| page.ids.iter().any(|id| !id_greater(id, l)));
            events.extend(page.events);
            match page.next_token {
                Some(next) if last.is_some() && !reached_known && report.pages < self.max_pages => {
                    token = Some(next)
                }
                _ => break,
            }
        }
        if let Some(last) = &last {
            events.retain(|e| id_greater(&e.external_id, last));
        }
        self.hand_over(&name, events, &HashMap::new(), &mut report)
            .await?;
        if let Some(newest) = newest
            && report
                .cursor
                .as_ref()
                .is_none_or(|c| id_greater(&newest, c))
        {
            self.values.save_value(&name, &newest).await?;
            report.cursor = Some(newest);
        }
        Ok(report)
    }

    /// Hands events over oldest first (ancestors before replies); on a sink
    /// failure saves the cursor at the last event taken.
    async fn hand_over(
        &self,
        cursor: &str,
        mut events: Vec<InboundEvent>,
        referenced: &HashMap<String, InboundEvent>,
        report: &mut PollReport,
    ) -> Result<(), PollError> {
        let mut seen = HashSet::new();
        events.retain(|e| seen.insert(e.external_id.clone()));
        events.sort_by(|a, b| {
            if id_greater(&a.external_id, &b.external_id) {
                std::cmp::Ordering::Greater
            } else if a.external_id == b.external_id {
                std::cmp::Ordering::Equal
            } else {
                std::cmp::Ordering::Less
            }
        });
        let mut last_taken: Option<String> = None;
        for mut event in events {
            let mut batch = Vec::new();
            if let Some(resolver) = &self.parents
                && !event.thread.parents.is_empty()
            {
                batch = resolver.resolve(&mut event, referenced).await;
            }
            let id = event.external_id.clone();
            batch.push(event);
            for e in batch {
                if let Err(err) = self.sink.accept(e).await {
                    if let Some(last) = &last_taken {
                        self.values.save_value(cursor, last).await?;
                        report.cursor = Some(last.clone());
                    }
                    return Err(err.into());
                }
                report.handed_over += 1;
            }
            last_taken = Some(id);
        }
        Ok(())
    }

    /// One round over everything enabled. Errors of one part do not stop
    /// the other; the first error is returned.
    pub async fn poll_once(&self) -> Result<PollReport, PollError> {
        let mut total = PollReport::default();
        let mut first_error = None;
        if self.mentions {
            match self.poll_mentions_once().await {
                Ok(r) => {
                    total.handed_over += r.handed_over;
                    total.pages += r.pages;
                    total.cursor = r.cursor;
                }
                Err(e) => first_error = Some(e),
            }
        }
        if self.dms {
            match self.poll_dms_once().await {
                Ok(r) => {
                    total.handed_over += r.handed_over;
                    total.pages += r.pages;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// How long to wait before the next round: the interval, stretched so
    /// the remaining calls last until X's window resets, and at least the
    /// `retry_after` of a 429.
    pub fn next_wait(&self, last: &Result<PollReport, PollError>) -> Duration {
        let now = self.client.clock().now();
        let mut wait = self.interval;
        let mut endpoints = Vec::new();
        if self.mentions {
            endpoints.push(Endpoint::Mentions);
        }
        if self.dms {
            endpoints.push(Endpoint::DmEvents);
        }
        for endpoint in endpoints {
            if let Some(limit) = self.client.rate_limit(endpoint) {
                wait = wait.max(pace(&limit, now));
            }
        }
        if let Err(PollError::Api(e)) = last
            && let Some(retry) = e.retry_after()
        {
            wait = wait.max(retry);
        }
        wait
    }

    /// Polls until `shutdown` completes. Errors are logged, never fatal.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let result = self.poll_once().await;
            match &result {
                Ok(r) if r.handed_over > 0 => {
                    tracing::info!(handed_over = r.handed_over, pages = r.pages, "X poll round");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "X poll round failed"),
            }
            let wait = self.next_wait(&result);
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Spreads the calls left in a window over the time until it resets.
fn pace(limit: &RateLimit, now: chrono::DateTime<chrono::Utc>) -> Duration {
    match (limit.until_reset(now), limit.remaining) {
        (Some(until), Some(0)) => until,
        (Some(until), Some(left)) => {
            until / u32::try_from(left.saturating_add(1)).unwrap_or(u32::MAX)
        }
        _ => Duration::ZERO,
    }
}
