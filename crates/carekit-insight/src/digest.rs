//! A plain-text digest of new mentions and SLA warnings, emailed to the team
//! on a schedule.
//!
//! The [`Digester`] remembers when it last sent in a store cursor, so a
//! restart neither repeats nor skips anything: each digest covers
//! `(last digest, now]`. Time comes from the desk's clock.
//!
//! Sending goes through [`DigestSender`]. [`ChannelDigestSender`] sends
//! through any private [`Channel`] — carekit-email's `EmailChannel` (SMTP)
//! is the intended one — so this crate needs no mail dependency:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(smtp: Arc<dyn carekit_core::Channel>) -> Result<(), carekit_insight::digest::DigestError> {
//! use carekit_core::{ChannelKind, Identity};
//! use carekit_insight::digest::{ChannelDigestSender, DigestSchedule, Digester};
//! // `smtp` is a carekit_email::EmailChannel.
//! let sender = ChannelDigestSender::new(smtp, vec![Identity::new(ChannelKind::Email, "care-team@example.com")]);
//! let digester = Digester::builder(Arc::new(sender))
//!     .schedule(DigestSchedule::daily_at(chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap()))
//!     .build()?;
//! // then, every minute: digester.run_due(&desk).await?
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use carekit_core::{
    AuditKind, Channel, ChannelKind, ConversationFilter, Desk, Direction, Identity, KeyValues,
    OutboundMessage, SlaEventKind, Store, StoreError, Visibility,
};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// Why a digest could not be built or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The settings make no sense.
    #[error("digest configuration: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sender failed; the digest is retried at the next run.
    #[error("sending the digest failed: {0}")]
    Send(String),
}

/// When digests go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestSchedule {
    /// Every so often after the previous digest.
    Every(Duration),
    /// Once a day at this time (UTC).
    DailyAt(NaiveTime),
    /// Once a day at this wall-clock time in a time zone, whatever its
    /// offset that day (see [`DigestSchedule::daily_at_in`]).
    DailyAtIn(NaiveTime, Tz),
}

impl DigestSchedule {
    /// Every `hours` hours.
    pub fn every_hours(hours: i64) -> Self {
        DigestSchedule::Every(Duration::hours(hours))
    }
    /// Daily at `time` (UTC).
    pub fn daily_at(time: NaiveTime) -> Self {
        DigestSchedule::DailyAt(time)
    }
    /// Daily at `time` on the wall clocks of `zone`: 09:00 in Berlin is
    /// 07:00 UTC in summer and 08:00 UTC in winter. On the day a change of
    /// offset skips `time` (spring forward: 02:30 does not exist), the
    /// digest goes out when the clocks jump (03:00 local, the first
    /// instant after the gap); on the day `time` happens twice (fall back),
    /// it goes out at the first of the two, once.
    pub fn daily_at_in(time: NaiveTime, zone: Tz) -> Self {
        DigestSchedule::DailyAtIn(time, zone)
    }
    /// The first instant after `last` at which the next digest is due.
    pub fn next_after(&self, last: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            DigestSchedule::Every(every) => last + every,
            DigestSchedule::DailyAt(time) => {
                let today = last.date_naive().and_time(time).and_utc();
                if today > last {
                    today
                } else {
                    today + Duration::days(1)
                }
            }
            DigestSchedule::DailyAtIn(time, zone) => {
                let first = last.with_timezone(&zone).date_naive();
                first
                    .iter_days()
                    .map(|date| local_instant(zone, date.and_time(time)))
                    .find(|due| *due > last)
                    .unwrap_or(last + Duration::days(1))
            }
        }
    }
}

/// The instant a wall-clock time names in `zone`: the earlier of two when
/// the clocks fall back, the end of the gap when they spring forward.
fn local_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_utc(),
        LocalResult::None => {
            // In a gap: the first whole minute after it (gaps are at most
            // a few hours, a day covers every zone's history).
            let start = local
                .with_second(0)
                .unwrap_or(local)
                .with_nanosecond(0)
                .unwrap_or(local);
            (1..=24 * 60)
                .map(|m| start + Duration::minutes(m))
                .find_map(|t| zone.from_local_datetime(&t).earliest())
                .map_or_else(|| local.and_utc(), |t| t.to_utc())
        }
    }
}

/// One new customer message in a digest.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MentionLine {
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Where.
    pub channel: ChannelKind,
    /// Who (display name or handle).
    pub author: String,
    /// Its sentiment, if classified.
    pub sentiment: Option<f32>,
    /// The text, shortened.
    pub text: String,
}

/// One SLA warning or breach in a digest.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SlaLine {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Warning or breach.
    pub kind: SlaEventKind,
    /// The SLA policy.
    pub policy: String,
    /// The target (`first_response` ...).
    pub metric: String,
    /// When it is (was) due.
    pub due: Option<DateTime<Utc>>,
    /// Where.
    pub channel: ChannelKind,
    /// Who.
    pub customer: String,
}

/// What happened between two digests.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Digest {
    /// Start (exclusive).
    pub since: DateTime<Utc>,
    /// End (inclusive).
    pub until: DateTime<Utc>,
    /// New customer messages, oldest first.
    pub mentions: Vec<MentionLine>,
    /// SLA warnings and breaches, oldest first.
    pub sla: Vec<SlaLine>,
    /// The zone whose wall clocks the subject and text show (UTC unless
    /// set with [`in_zone`](Self::in_zone)).
    #[serde(skip)]
    pub zone: Tz,
}

fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn who(customer: &carekit_core::Customer, channel: ChannelKind) -> String {
    customer
        .identity_on(channel)
        .map(|i| i.display_name.clone().unwrap_or_else(|| i.handle.clone()))
        .or_else(|| customer.name.clone())
        .unwrap_or_else(|| "unknown".into())
}

impl Digest {
    /// Builds the digest of `(since, until]` from the store: inbound
    /// messages written then, and SLA warnings and breaches recorded then,
    /// looking at conversations opened up to `lookback` before `since`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn build(
        store: &dyn Store,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Self, StoreError> {
        Self::build_for_team(store, since, until, lookback, None).await
    }

    /// As [`Digest::build`], over the conversations of `team` only (those
    /// whose team is `team`), or of everyone when `team` is `None`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn build_for_team(
        store: &dyn Store,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        lookback: Duration,
        team: Option<&str>,
    ) -> Result<Self, StoreError> {
        let filter = ConversationFilter::all().opened_between(Some(since - lookback), Some(until));
        let conversations = store.list_conversations(&filter).await?;
        let mut mentions = Vec::new();
        let mut sla = Vec::new();
        for c in &conversations {
            if team.is_some_and(|t| c.team.as_deref() != Some(t)) {
                continue;
            }
            let customer = who(&c.customer, c.channel);
            for m in &c.messages {
                if m.direction == Direction::Inbound && m.at > since && m.at <= until {
                    mentions.push(MentionLine {
                        at: m.at,
                        channel: c.channel,
                        author: customer.clone(),
                        sentiment: m.classification.as_ref().and_then(|k| k.sentiment),
                        text: shorten(&m.text, 60),
                    });
                }
            }
            for entry in store.audit_trail(c.id).await? {
                if entry.at <= since || entry.at > until {
                    continue;
                }
                if let AuditKind::Sla(event) = entry.kind
                    && matches!(event.kind, SlaEventKind::Warning | SlaEventKind::Breached)
                {
                    sla.push(SlaLine {
                        at: entry.at,
                        kind: event.kind,
                        policy: event.policy,
                        metric: event.metric.as_str().to_owned(),
                        due: event.due,
                        channel: c.channel,
                        customer: customer.clone(),
                    });
                }
            }
        }
        mentions.sort_by(|a, b| (a.at, &a.author).cmp(&(b.at, &b.author)));
        sla.sort_by(|a, b| (a.at, &a.customer).cmp(&(b.at, &b.customer)));
        Ok(Self {
            since,
            until,
            mentions,
            sla,
            zone: Tz::UTC,
        })
    }

    /// The same digest, its times shown on the wall clocks of `zone` (the
    /// team's own: a Berlin team reads 09:00 CEST, not 07:00 UTC).
    pub fn in_zone(mut self, zone: Tz) -> Self {
        self.zone = zone;
        self
    }

    /// `t` on the digest's wall clocks, as `format` says.
    fn local(&self, t: DateTime<Utc>, format: &str) -> String {
        t.with_timezone(&self.zone).format(format).to_string()
    }

    /// Whether nothing happened.
    pub fn is_empty(&self) -> bool {
        self.mentions.is_empty() && self.sla.is_empty()
    }

    /// The email subject.
    pub fn subject(&self) -> String {
        let warnings = self.sla.len();
        format!(
            "Care digest {}: {} new mention{}, {} SLA alert{}",
            self.local(self.until, "%Y-%m-%d %H:%M %Z"),
            self.mentions.len(),
            if self.mentions.len() == 1 { "" } else { "s" },
            warnings,
            if warnings == 1 { "" } else { "s" },
        )
    }

    /// The plain-text body: totals per channel, then each mention and each
    /// SLA alert on one line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let time = |t: DateTime<Utc>| self.local(t, "%m-%d %H:%M");
        let _ = writeln!(
            out,
            "Care digest, {} to {}",
            self.local(self.since, "%Y-%m-%d %H:%M %Z"),
            self.local(self.until, "%Y-%m-%d %H:%M %Z"),
        );
        let negative = |m: &MentionLine| m.sentiment.is_some_and(|s| s < 0.0);
        let _ = writeln!(
            out,
            "\nNew mentions: {} ({} negative)",
            self.mentions.len(),
            self.mentions.iter().filter(|m| negative(m)).count()
        );
        let mut per_channel: BTreeMap<ChannelKind, (usize, usize)> = BTreeMap::new();
        for m in &self.mentions {
            let e = per_channel.entry(m.channel).or_default();
            e.0 += 1;
            e.1 += usize::from(negative(m));
        }
        for (channel, (all, neg)) in &per_channel {
            let _ = writeln!(out, "  {:<9} {all:>4}  ({neg} negative)", channel.as_str());
        }
        if !self.mentions.is_empty() {
            out.push('\n');
        }
        for m in &self.mentions {
            let mood = match m.sentiment {
                Some(s) if s < 0.0 => "negative",
                Some(s) if s > 0.0 => "positive",
                Some(_) => "neutral",
                None => "-",
            };
            let _ = writeln!(
                out,
                "  {}  {:<9} {:<16} {:<8}  \"{}\"",
                time(m.at),
                m.channel.as_str(),
                m.author,
                mood,
                m.text
            );
        }
        let _ = writeln!(out, "\nSLA alerts: {}", self.sla.len());
        for s in &self.sla {
            let kind = match s.kind {
                SlaEventKind::Breached => "BREACHED",
                _ => "warning",
            };
            let due = s.due.map_or_else(|| "-".to_owned(), time);
            let _ = writeln!(
                out,
                "  {}  {:<8}  {} due {}  {:<9} {}  ({})",
                time(s.at),
                kind,
                s.metric,
                due,
                s.channel.as_str(),
                s.customer,
                s.policy
            );
        }
        out
    }
}

/// Sends a finished digest to the team.
#[async_trait]
pub trait DigestSender: Send + Sync {
    /// Sends one digest.
    ///
    /// # Errors
    /// The transport's reason; the digest is retried at the next run.
    async fn send(&self, subject: &str, body: &str) -> Result<(), String>;
}

const _: fn(&dyn DigestSender) = |_| {};

/// Sends digests as private messages on a [`Channel`] — built for
/// carekit-email's `EmailChannel`, so the digest goes out over the same
/// SMTP transport as replies.
pub struct ChannelDigestSender {
    channel: Arc<dyn Channel>,
    recipients: Vec<Identity>,
}

impl std::fmt::Debug for ChannelDigestSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelDigestSender")
            .field("channel", &self.channel.kind())
            .field("recipients", &self.recipients.len())
            .finish()
    }
}

impl ChannelDigestSender {
    /// Sends on `channel` to each of `recipients`.
    pub fn new(channel: Arc<dyn Channel>, recipients: Vec<Identity>) -> Self {
        Self {
            channel,
            recipients,
        }
    }
}

#[async_trait]
impl DigestSender for ChannelDigestSender {
    async fn send(&self, subject: &str, body: &str) -> Result<(), String> {
        for recipient in &self.recipients {
            let message = OutboundMessage::new(self.channel.kind(), Visibility::Private, body)
                .with_recipient(recipient.clone())
                .with_subject(subject);
            self.channel
                .send(&message)
                .await
                .map_err(|e| format!("to {}: {e}", recipient.handle))?;
        }
        Ok(())
    }
}

/// Sends digests on a schedule. Build with [`Digester::builder`] and call
/// [`Digester::run_due`] regularly (every minute is plenty).
pub struct Digester {
    sender: Arc<dyn DigestSender>,
    schedule: DigestSchedule,
    cursor: String,
    lookback: Duration,
    send_empty: bool,
    team: Option<String>,
    zone: Option<Tz>,
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digester")
            .field("schedule", &self.schedule)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Digester`].
pub struct DigesterBuilder {
    digester: Digester,
}

impl std::fmt::Debug for DigesterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.digester.fmt(f)
    }
}

impl DigesterBuilder {
    /// When to send (default: every 24 hours).
    pub fn schedule(mut self, schedule: DigestSchedule) -> Self {
        self.digester.schedule = schedule;
        self
    }
    /// The store cursor remembering the last digest (default
    /// `insight.digest`); give each digester its own.
    pub fn cursor(mut self, name: impl Into<String>) -> Self {
        self.digester.cursor = name.into();
        self
    }
    /// How far back conversations are searched for new messages and SLA
    /// alerts (default 7 days).
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.digester.lookback = lookback;
        self
    }
    /// Covers only the conversations of this team (default: everyone's).
    pub fn team(mut self, team: impl Into<String>) -> Self {
        self.digester.team = Some(team.into());
        self
    }
    /// Send a digest even when nothing happened (default: skip it, but
    /// still move on).
    pub fn send_empty(mut self, yes: bool) -> Self {
        self.digester.send_empty = yes;
        self
    }
    /// The zone whose wall clocks the digest shows its times in (default:
    /// the schedule's zone for [`DigestSchedule::daily_at_in`], else UTC).
    pub fn time_zone(mut self, zone: Tz) -> Self {
        self.digester.zone = Some(zone);
        self
    }
    /// The digester.
    ///
    /// # Errors
    /// [`DigestError::Config`] for a non-positive interval or lookback, or an
    /// empty cursor name.
    pub fn build(self) -> Result<Digester, DigestError> {
        let d = &self.digester;
        if matches!(d.schedule, DigestSchedule::Every(e) if e <= Duration::zero()) {
            return Err(DigestError::Config("interval must be positive".into()));
        }
        if d.lookback < Duration::zero() || d.cursor.trim().is_empty() {
            return Err(DigestError::Config(
                "lookback must not be negative and the cursor needs a name".into(),
            ));
        }
        Ok(self.digester)
    }
}

impl Digester {
    /// A digester sending through `sender`.
    pub fn builder(sender: Arc<dyn DigestSender>) -> DigesterBuilder {
        DigesterBuilder {
            digester: Digester {
                sender,
                schedule: DigestSchedule::Every(Duration::hours(24)),
                cursor: "insight.digest".into(),
                lookback: Duration::days(7),
                send_empty: false,
                team: None,
                zone: None,
            },
        }
    }

    /// The zone the digest shows its times in.
    fn zone(&self) -> Tz {
        match (self.zone, self.schedule) {
            (Some(zone), _) | (None, DigestSchedule::DailyAtIn(_, zone)) => zone,
            _ => Tz::UTC,
        }
    }

    /// When the last digest covered up to (`None` before the first run).
    ///
    /// # Errors
    /// The store failed or holds an unreadable cursor.
    pub async fn last(&self, store: &dyn Store) -> Result<Option<DateTime<Utc>>, DigestError> {
        match store.value(&self.cursor).await? {
            None => Ok(None),
            Some(raw) => DateTime::parse_from_rfc3339(&raw)
                .map(|t| Some(t.to_utc()))
                .map_err(|e| StoreError::Corrupt(format!("digest cursor {raw:?}: {e}")).into()),
        }
    }

    /// When the next digest is due (`None` before the first run).
    ///
    /// # Errors
    /// As [`last`](Self::last).
    pub async fn next_due(&self, store: &dyn Store) -> Result<Option<DateTime<Utc>>, DigestError> {
        Ok(self.last(store).await?.map(|t| self.schedule.next_after(t)))
    }

    /// Sends the digest if one is due at the desk's clock, and returns it.
    /// The first run only records the starting point. A failed send puts
    /// the cursor back, so the next run covers the same period and more.
    ///
    /// Several workers may run it: each claims the period by moving the
    /// cursor from what it read, in one step, before sending, so one digest
    /// goes out per period (a worker that dies between the claim and the
    /// send loses that digest rather than sending it twice).
    ///
    /// # Errors
    /// The store failed, or [`DigestError::Send`].
    pub async fn run_due(&self, desk: &Desk) -> Result<Option<Digest>, DigestError> {
        let store = desk.store().as_ref();
        let now = desk.clock().now();
        let read = store.value(&self.cursor).await?;
        let Some(last) = self.last(store).await? else {
            // First run: whoever records the starting point first wins.
            store
                .swap_value(&self.cursor, None, &now.to_rfc3339())
                .await?;
            return Ok(None);
        };
        if now < self.schedule.next_after(last) {
            return Ok(None);
        }
        let digest = Digest::build_for_team(store, last, now, self.lookback, self.team.as_deref())
            .await?
            .in_zone(self.zone());
        let claimed = now.to_rfc3339();
        if !store
            .swap_value(&self.cursor, read.as_deref(), &claimed)
            .await?
        {
            // Another worker took this period.
            return Ok(None);
        }
        let wanted = !digest.is_empty() || self.send_empty;
        if wanted && let Err(e) = self.sender.send(&digest.subject(), &digest.to_text()).await {
            if let Some(previous) = read.as_deref() {
                // Give the period back for the next run.
                store
                    .swap_value(&self.cursor, Some(&claimed), previous)
                    .await?;
            }
            return Err(DigestError::Send(e));
        }
        Ok(Some(digest))
    }
}
