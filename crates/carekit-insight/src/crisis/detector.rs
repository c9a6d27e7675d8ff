//! The spike detector: rolling baselines per channel and topic, incidents
//! with hysteresis, and their effects on the desk.

use super::{CrisisError, CrisisMode};
use carekit_core::KeyValues;
use carekit_core::desk::{IngestOutcome, Notification, Notifier};
use carekit_core::store::Commit;
use carekit_core::{
    AuditEntry, AuditKind, ChannelKind, ConversationId, Desk, Direction, Escalation,
    EscalationReason, Message, Priority, Store,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The name the detector acts under in audit trails.
pub const DETECTOR_NAME: &str = "crisis-detector";

/// The code of the reason the detector escalates with (detail `incident`).
pub const SPIKE: &str = "spike";

/// The reason the detector escalates a conversation with: part of this incident.
pub fn spike_reason(incident: &str) -> EscalationReason {
    EscalationReason::new(SPIKE).with_detail("incident", incident)
}

/// Which series a mention counts in: one baseline per channel and topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The channel.
    pub channel: ChannelKind,
    /// The strongest topic a classifier found; `None` for untopical
    /// messages, or for every message when topics are not tracked.
    pub topic: Option<String>,
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.topic {
            Some(topic) => write!(f, "{}/{topic}", self.channel),
            None => write!(f, "{}/*", self.channel),
        }
    }
}

/// One customer message as the detector counts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Where.
    pub channel: ChannelKind,
    /// Its strongest topic, if any.
    pub topic: Option<String>,
    /// A classifier scored it below zero.
    pub negative: bool,
    /// Its conversation, grouped into the incident if it is part of one.
    pub conversation_id: ConversationId,
}

impl Mention {
    /// A mention from its parts (for apps that count from elsewhere).
    pub fn new(
        at: DateTime<Utc>,
        channel: ChannelKind,
        topic: Option<String>,
        negative: bool,
        conversation_id: ConversationId,
    ) -> Self {
        Self {
            at,
            channel,
            topic,
            negative,
            conversation_id,
        }
    }

    /// The mention an inbound message makes: its strongest topic, negative
    /// when the sentiment is below zero. `None` for the brand's own messages.
    pub fn from_message(channel: ChannelKind, message: &Message) -> Option<Self> {
        if message.direction != Direction::Inbound {
            return None;
        }
        let classification = message.classification.as_ref();
        Some(Self {
            at: message.at,
            channel,
            topic: classification
                .and_then(|c| c.topics.first())
                .map(|t| t.name.clone()),
            negative: classification
                .and_then(|c| c.sentiment)
                .is_some_and(|s| s < 0.0),
            conversation_id: message.conversation_id,
        })
    }
}

/// What "normal" looked like before an incident, per window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Baseline {
    /// Mean mentions per window.
    pub volume_mean: f64,
    /// Mean negative mentions per window.
    pub negative_mean: f64,
    /// Standard deviation of negative mentions per window.
    pub negative_sd: f64,
    /// Negative share over the baseline windows (0 to 1).
    pub negative_share: f64,
    /// How many windows it was computed from.
    pub windows: usize,
}

/// A spike of negative mentions on one channel and topic, and the
/// conversations that are part of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Incident {
    /// Stable id (`inc-twitter-billing-20260302T1215`), used in tags
    /// (`incident:<id>`) and escalations.
    pub id: String,
    /// The series that spiked.
    pub key: SeriesKey,
    /// When the spike was detected.
    pub opened_at: DateTime<Utc>,
    /// When volume had been back at baseline for the quiet period.
    pub closed_at: Option<DateTime<Utc>>,
    /// The baseline the spike was measured against (frozen while open).
    pub baseline: Baseline,
    /// Negative mentions in the window that opened it.
    pub opening_negative: usize,
    /// Most negative mentions seen in one window while open.
    pub peak_negative: usize,
    /// Conversations with a negative mention during the incident, in the
    /// order they joined.
    pub conversations: Vec<ConversationId>,
}

impl Incident {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
    /// The tag put on its conversations.
    pub fn tag(&self) -> String {
        format!("incident:{}", self.id)
    }
}

/// What changed at one evaluation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum IncidentEvent {
    /// A spike opened an incident (its first conversations included).
    Opened(Incident),
    /// A conversation became part of an open incident.
    Joined {
        /// The incident's id.
        incident: String,
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// Volume stayed at baseline for the quiet period.
    Closed(Incident),
}

/// The detector's thresholds. Build with [`CrisisDetector::builder`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CrisisConfig {
    /// Width of the counting window (and of each baseline window).
    pub window: Duration,
    /// How many windows before the current one form the baseline.
    pub baseline_windows: usize,
    /// Opens when negatives are this many standard deviations above the
    /// baseline mean (`None`: z-score test off).
    pub z_score: Option<f64>,
    /// Opens when negatives are this many times the baseline mean
    /// (`None`: ratio test off).
    pub ratio: Option<f64>,
    /// Fewest negative mentions in a window that can open an incident.
    pub min_volume: usize,
    /// Smallest negative share of the window's mentions that can open one.
    pub min_negative_share: f64,
    /// Hysteresis: the window counts as calm at or under baseline mean plus
    /// this many standard deviations.
    pub close_z: f64,
    /// How long it must stay calm before the incident closes.
    pub quiet_period: Duration,
    /// Floor of the standard deviation, so a flat baseline does not make
    /// every extra message a spike.
    pub min_sd: f64,
    /// Keep one series per topic (`true`) or one per channel.
    pub by_topic: bool,
    /// The team notified and escalated to.
    pub team: String,
}

impl Default for CrisisConfig {
    fn default() -> Self {
        Self {
            window: Duration::minutes(15),
            baseline_windows: 8,
            z_score: Some(3.0),
            ratio: Some(3.0),
            min_volume: 8,
            min_negative_share: 0.3,
            close_z: 2.0,
            quiet_period: Duration::minutes(30),
            min_sd: 1.0,
            by_topic: true,
            team: "crisis".into(),
        }
    }
}

/// Builds a [`CrisisDetector`].
#[derive(Clone, Default)]
pub struct CrisisDetectorBuilder {
    config: CrisisConfig,
    notifier: Option<Arc<dyn Notifier>>,
    mode: Option<CrisisMode>,
}

impl std::fmt::Debug for CrisisDetectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisDetectorBuilder")
            .field("config", &self.config)
            .field("notifier", &self.notifier.is_some())
            .field("crisis_mode", &self.mode.is_some())
            .finish()
    }
}

impl CrisisDetectorBuilder {
    /// Window width (default 15 minutes).
    pub fn window(mut self, window: Duration) -> Self {
        self.config.window = window;
        self
    }
    /// Baseline length in windows (default 8: two hours of 15-minute windows).
    pub fn baseline_windows(mut self, n: usize) -> Self {
        self.config.baseline_windows = n;
        self
    }
    /// z-score that opens an incident (default 3); `None` disables the test.
    pub fn z_score(mut self, z: Option<f64>) -> Self {
        self.config.z_score = z;
        self
    }
    /// Ratio over the baseline mean that opens an incident (default 3);
    /// `None` disables the test.
    pub fn ratio(mut self, ratio: Option<f64>) -> Self {
        self.config.ratio = ratio;
        self
    }
    /// Fewest negative mentions per window that can open one (default 8).
    pub fn min_volume(mut self, n: usize) -> Self {
        self.config.min_volume = n;
        self
    }
    /// Smallest negative share that can open one (default 0.3).
    pub fn min_negative_share(mut self, share: f64) -> Self {
        self.config.min_negative_share = share;
        self
    }
    /// Calm threshold in standard deviations above the mean (default 2).
    pub fn close_z(mut self, z: f64) -> Self {
        self.config.close_z = z;
        self
    }
    /// Calm time before closing (default 30 minutes).
    pub fn quiet_period(mut self, quiet: Duration) -> Self {
        self.config.quiet_period = quiet;
        self
    }
    /// Floor of the standard deviation (default 1 mention).
    pub fn min_sd(mut self, sd: f64) -> Self {
        self.config.min_sd = sd;
        self
    }
    /// One baseline per topic (default) or per channel only.
    pub fn by_topic(mut self, yes: bool) -> Self {
        self.config.by_topic = yes;
        self
    }
    /// The team to notify and escalate to (default `crisis`).
    pub fn team(mut self, team: impl Into<String>) -> Self {
        self.config.team = team.into();
        self
    }
    /// Where incident notifications go. Default: the desk's own notifier
    /// (`Desk::notifier`).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }
    /// Engage this crisis mode when an incident opens and stand it down when
    /// the last one closes. Without it, crisis mode is left to people.
    pub fn crisis_mode(mut self, mode: CrisisMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Builds the detector.
    ///
    /// # Errors
    /// [`CrisisError::Config`] for a non-positive window or quiet period, no
    /// baseline windows, both tests off, a minimum volume of zero, or a
    /// threshold that is not a positive number.
    pub fn build(self) -> Result<CrisisDetector, CrisisError> {
        let c = &self.config;
        let bad = |what: &str| Err(CrisisError::Config(what.to_owned()));
        if c.window <= Duration::zero() {
            return bad("window must be positive");
        }
        if c.quiet_period < Duration::zero() {
            return bad("quiet period must not be negative");
        }
        if c.baseline_windows < 2 {
            return bad("the baseline needs at least 2 windows");
        }
        if c.z_score.is_none() && c.ratio.is_none() {
            return bad("enable the z-score test, the ratio test, or both");
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if c.z_score.is_some_and(|z| !positive(z)) || c.ratio.is_some_and(|r| !positive(r)) {
            return bad("z-score and ratio thresholds must be positive numbers");
        }
        if c.min_volume == 0 {
            return bad("min volume must be at least 1");
        }
        if !(0.0..=1.0).contains(&c.min_negative_share) {
            return bad("min negative share must be between 0 and 1");
        }
        if !c.close_z.is_finite() || !c.min_sd.is_finite() || c.min_sd <= 0.0 {
            return bad("close z must be a number and min sd positive");
        }
        Ok(CrisisDetector {
            config: self.config,
            notifier: self.notifier,
            mode: self.mode,
            state: Mutex::new(State::default()),
            unshared: Mutex::new(State::default()),
        })
    }
}

/// The ledger key under which the detector's state is shared by every
/// worker of a desk.
pub const STATE_KEY: &str = "crisis:detector";

/// How long a closed incident is kept (for reports and `incidents()`).
const KEEP_CLOSED_DAYS: i64 = 7;

/// Mentions and negatives counted in one second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Counts {
    volume: usize,
    negative: usize,
}

/// One series as counted: mentions per second over the baseline horizon,
/// the negative mentions of the current window (the conversations an
/// incident groups), and where its incident stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Series {
    /// Unix second → counts, within the horizon.
    #[serde(default)]
    counts: BTreeMap<i64, Counts>,
    /// Negative mentions of the last window, with their time.
    #[serde(default)]
    negatives: Vec<(DateTime<Utc>, ConversationId)>,
    /// The id of its open incident.
    #[serde(default)]
    open: Option<String>,
    #[serde(default)]
    calm_since: Option<DateTime<Utc>>,
    /// Spans excluded from later baselines (past incidents).
    #[serde(default)]
    masks: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Series {
    fn add(&mut self, mention: &Mention) {
        let c = self.counts.entry(mention.at.timestamp()).or_default();
        c.volume += 1;
        if mention.negative {
            c.negative += 1;
            self.negatives.push((mention.at, mention.conversation_id));
        }
    }

    /// Adds another worker's (or this worker's unshared) counts.
    fn merge(&mut self, other: &Series) {
        for (second, c) in &other.counts {
            let mine = self.counts.entry(*second).or_default();
            mine.volume += c.volume;
            mine.negative += c.negative;
        }
        self.negatives.extend(other.negatives.iter().copied());
    }

    /// Mentions in `(from, to]`, at the resolution of a second.
    fn count(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Counts {
        self.counts
            .range(from.timestamp()..=to.timestamp())
            .filter(|(second, _)| {
                DateTime::from_timestamp(**second, 0).is_some_and(|t| t > from && t <= to)
            })
            .fold(Counts::default(), |mut sum, (_, c)| {
                sum.volume += c.volume;
                sum.negative += c.negative;
                sum
            })
    }

    fn forget_before(&mut self, horizon_start: DateTime<Utc>, window_start: DateTime<Utc>) {
        let keep_from = horizon_start.timestamp();
        self.counts = self.counts.split_off(&keep_from);
        self.negatives.retain(|(at, _)| *at > window_start);
        self.masks.retain(|(_, end)| *end > horizon_start);
    }
}

/// Everything the detector decides from: the counted series, the
/// incidents, and the links still to write. Stored under [`STATE_KEY`];
/// mentions a worker has counted but not yet shared are kept apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    started: Option<DateTime<Utc>>,
    #[serde(default)]
    series: Vec<(SeriesKey, Series)>,
    #[serde(default)]
    incidents: Vec<Incident>,
    /// Links decided but not yet written (any worker's next tick writes
    /// them; links are idempotent).
    #[serde(default)]
    unlinked: Vec<(String, ConversationId)>,
}

impl State {
    fn series_mut(&mut self, key: &SeriesKey) -> &mut Series {
        let at = match self.series.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(at) => at,
            Err(at) => {
                self.series.insert(at, (key.clone(), Series::default()));
                at
            }
        };
        &mut self.series[at].1
    }

    fn note_start(&mut self, at: DateTime<Utc>) {
        self.started = Some(self.started.map_or(at, |s| s.min(at)));
    }

    /// Adds counts not yet shared.
    fn merge(&mut self, unshared: &State) {
        if let Some(at) = unshared.started {
            self.note_start(at);
        }
        for (key, series) in &unshared.series {
            self.series_mut(key).merge(series);
        }
    }
}

fn decode(stored: Option<&str>) -> Result<State, CrisisError> {
    match stored {
        None => Ok(State::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            CrisisError::Store(carekit_core::StoreError::Corrupt(format!(
                "{STATE_KEY}: {e}"
            )))
        }),
    }
}

/// Watches mentions for spikes of negative sentiment and runs incidents:
/// opens one per spike, groups its conversations, notifies the crisis team,
/// optionally engages crisis mode, and closes it once volume is back to
/// baseline for the quiet period.
///
/// Feed it with [`CrisisDetector::observe`] (or
/// [`CrisisDetector::observe_ingest`] after each `Desk::ingest`) and call
/// [`CrisisDetector::tick`] on a schedule (every minute). Time comes from the
/// desk's clock.
pub struct CrisisDetector {
    config: CrisisConfig,
    notifier: Option<Arc<dyn Notifier>>,
    mode: Option<CrisisMode>,
    /// The last state read from (or written to) the store, with this
    /// worker's own counts since.
    state: Mutex<State>,
    /// Counts this worker has not shared yet (merged at the next tick).
    unshared: Mutex<State>,
}

impl std::fmt::Debug for CrisisDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisDetector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CrisisDetector {
    /// Starts a builder with the defaults of [`CrisisConfig`].
    pub fn builder() -> CrisisDetectorBuilder {
        CrisisDetectorBuilder::default()
    }

    /// The thresholds in force.
    pub fn config(&self) -> &CrisisConfig {
        &self.config
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key_for(&self, mention: &Mention) -> SeriesKey {
        SeriesKey {
            channel: mention.channel,
            topic: if self.config.by_topic {
                mention.topic.clone()
            } else {
                None
            },
        }
    }

    /// Counts one mention. Mentions may arrive out of order; history older
    /// than the baseline is dropped at the next evaluation. Other workers
    /// see it after this worker's next [`tick`](Self::tick).
    pub fn observe(&self, mention: Mention) {
        let key = self.key_for(&mention);
        for state in [&self.state, &self.unshared] {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            state.note_start(mention.at);
            state.series_mut(&key).add(&mention);
        }
    }

    /// Counts the message an ingest stored (no-op for duplicates, consent
    /// changes and skipped events).
    ///
    /// # Errors
    /// The store failed.
    pub async fn observe_ingest(
        &self,
        store: &dyn Store,
        outcome: &IngestOutcome,
    ) -> Result<(), CrisisError> {
        let IngestOutcome::Ingested {
            conversation_id,
            message_id,
            ..
        } = outcome
        else {
            return Ok(());
        };
        if let Some(record) = store.conversation(*conversation_id).await?
            && let Some(mention) = record
                .message(*message_id)
                .and_then(|m| Mention::from_message(record.channel, m))
        {
            self.observe(mention);
        }
        Ok(())
    }

    /// The incidents kept (open ones, and those closed in the last seven
    /// days), oldest first, as of this worker's last tick.
    pub fn incidents(&self) -> Vec<Incident> {
        self.state().incidents.clone()
    }

    /// Incidents still open, as of this worker's last tick.
    pub fn open_incidents(&self) -> Vec<Incident> {
        self.state()
            .incidents
            .iter()
            .filter(|i| i.is_open())
            .cloned()
            .collect()
    }

    /// The baseline of `key` at `now` (excluding past incidents), or `None`
    /// while there is not enough history.
    pub fn baseline(&self, key: &SeriesKey, now: DateTime<Utc>) -> Option<Baseline> {
        let state = self.state();
        let (_, series) = state.series.iter().find(|(k, _)| k == key)?;
        self.compute_baseline(series, now)
    }

    fn compute_baseline(&self, series: &Series, now: DateTime<Utc>) -> Option<Baseline> {
        let w = self.config.window;
        let mut samples = Vec::new();
        for i in 0..self.config.baseline_windows {
            let to = now - w * (i as i32 + 1);
            let from = to - w;
            if series.masks.iter().any(|(s, e)| from < *e && to > *s) {
                continue;
            }
            samples.push(series.count(from, to));
        }
        if samples.len() < (self.config.baseline_windows / 2).max(2) {
            return None;
        }
        let n = samples.len() as f64;
        let volume: usize = samples.iter().map(|c| c.volume).sum();
        let negative: usize = samples.iter().map(|c| c.negative).sum();
        let mean = negative as f64 / n;
        let var = samples
            .iter()
            .map(|c| (c.negative as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        Some(Baseline {
            volume_mean: volume as f64 / n,
            negative_mean: mean,
            negative_sd: var.sqrt(),
            negative_share: if volume == 0 {
                0.0
            } else {
                negative as f64 / volume as f64
            },
            windows: samples.len(),
        })
    }

    fn is_spike(&self, current: Counts, baseline: &Baseline) -> bool {
        let c = &self.config;
        if current.negative < c.min_volume || current.volume == 0 {
            return false;
        }
        let share = current.negative as f64 / current.volume as f64;
        if share < c.min_negative_share {
            return false;
        }
        let n = current.negative as f64;
        let sd = baseline.negative_sd.max(c.min_sd);
        let by_z = c
            .z_score
            .is_some_and(|z| (n - baseline.negative_mean) / sd >= z);
        let by_ratio = c.ratio.is_some_and(|r| n >= r * baseline.negative_mean);
        by_z || by_ratio
    }

    fn is_calm(&self, current: Counts, baseline: &Baseline) -> bool {
        let sd = baseline.negative_sd.max(self.config.min_sd);
        current.negative as f64 <= baseline.negative_mean + self.config.close_z * sd
    }

    /// Decides at `now` without touching the desk or the store, from what
    /// this worker has counted and last read: which incidents open, which
    /// conversations join, which incidents close. [`tick`](Self::tick)
    /// does the same on the state every worker shares and carries the
    /// events out.
    pub fn evaluate(&self, now: DateTime<Utc>) -> Vec<IncidentEvent> {
        let mut state = self.state();
        let events = self.decide(&mut state, now);
        // Nothing older than the horizon is needed to share later either.
        let (horizon, window) = self.spans(now);
        let mut unshared = self.unshared.lock().unwrap_or_else(|p| p.into_inner());
        for (_, series) in &mut unshared.series {
            series.forget_before(horizon, window);
        }
        events
    }

    /// The start of the baseline horizon and of the current window.
    fn spans(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let w = self.config.window;
        (now - w * (self.config.baseline_windows as i32 + 1), now - w)
    }

    fn decide(&self, state: &mut State, now: DateTime<Utc>) -> Vec<IncidentEvent> {
        let w = self.config.window;
        let (horizon_start, window_start) = self.spans(now);
        let started = *state.started.get_or_insert(now);
        let warmed_up = now - started >= w * (self.config.baseline_windows as i32 + 1);
        let mut events = Vec::new();
        let mut opened = Vec::new();
        let State {
            series: all,
            incidents,
            unlinked,
            ..
        } = state;
        for (key, series) in all.iter_mut() {
            series.forget_before(horizon_start, window_start);
            let current = series.count(window_start, now);
            let negative_conversations: Vec<ConversationId> = series
                .negatives
                .iter()
                .filter(|(at, _)| *at > window_start && *at <= now)
                .map(|(_, id)| *id)
                .collect();
            if let Some(open) = series.open.clone() {
                let Some(incident) = incidents.iter_mut().find(|i| i.id == open) else {
                    // Its incident is gone from the record: start afresh.
                    series.open = None;
                    continue;
                };
                incident.peak_negative = incident.peak_negative.max(current.negative);
                for id in negative_conversations {
                    if !incident.conversations.contains(&id) {
                        incident.conversations.push(id);
                        unlinked.push((incident.id.clone(), id));
                        events.push(IncidentEvent::Joined {
                            incident: incident.id.clone(),
                            conversation_id: id,
                        });
                    }
                }
                let baseline = incident.baseline.clone();
                if self.is_calm(current, &baseline) {
                    let since = *series.calm_since.get_or_insert(now);
                    if now - since >= self.config.quiet_period {
                        incident.closed_at = Some(now);
                        series.masks.push((incident.opened_at - w, now));
                        series.open = None;
                        series.calm_since = None;
                        events.push(IncidentEvent::Closed(incident.clone()));
                    }
                } else {
                    series.calm_since = None;
                }
                continue;
            }
            if !warmed_up {
                continue;
            }
            let Some(baseline) = self.compute_baseline(series, now) else {
                continue;
            };
            if !self.is_spike(current, &baseline) {
                continue;
            }
            let mut conversations = Vec::new();
            for id in negative_conversations {
                if !conversations.contains(&id) {
                    conversations.push(id);
                }
            }
            let incident = Incident {
                id: format!(
                    "inc-{}-{}-{}",
                    key.channel,
                    key.topic.as_deref().unwrap_or("all"),
                    now.format("%Y%m%dT%H%M")
                ),
                key: key.clone(),
                opened_at: now,
                closed_at: None,
                baseline,
                opening_negative: current.negative,
                peak_negative: current.negative,
                conversations,
            };
            unlinked.extend(
                incident
                    .conversations
                    .iter()
                    .map(|id| (incident.id.clone(), *id)),
            );
            series.open = Some(incident.id.clone());
            series.calm_since = None;
            opened.push(incident.clone());
            events.push(IncidentEvent::Opened(incident));
        }
        incidents.extend(opened);
        let keep_after = now - Duration::days(KEEP_CLOSED_DAYS);
        incidents.retain(|i| i.closed_at.is_none_or(|closed| closed > keep_after));
        all.retain(|(_, s)| !s.counts.is_empty() || s.open.is_some() || !s.masks.is_empty());
        events
    }

    /// Evaluates at the desk's clock on the state every worker of the desk
    /// shares, and carries out what changed: links each conversation to
    /// its incident (an audit entry escalating it for the spike, and the
    /// tag `incident:<id>`), notifies the crisis team on open and close,
    /// and engages or stands down crisis mode when the detector was given
    /// one.
    ///
    /// The state lives in the store under [`STATE_KEY`]: this worker's
    /// counts since its last tick are added to it, the decision is made on
    /// the sum, and the result is stored only if no other worker stored
    /// first (otherwise it reads again and decides again). So an incident
    /// opens once whichever worker ticks, a restarted or added worker
    /// continues the baselines and open incidents, and what a worker
    /// counted reaches the others at its next tick.
    ///
    /// # Errors
    /// The store failed. Counts not yet shared are kept for the next tick;
    /// links not yet written stay in the stored state and any worker's
    /// next tick writes them (links are idempotent per conversation).
    pub async fn tick(&self, desk: &Desk) -> Result<Vec<IncidentEvent>, CrisisError> {
        let now = desk.clock().now();
        let store = desk.store();
        let mut attempt = 0;
        let (state, events) = loop {
            attempt += 1;
            let unshared = std::mem::take(&mut *self.unshared_guard());
            let decided = async {
                let read = store.load_value(STATE_KEY).await?;
                let mut state = decode(read.as_deref())?;
                state.merge(&unshared);
                let events = self.decide(&mut state, now);
                let value = serde_json::to_string(&state).map_err(|e| {
                    CrisisError::Store(carekit_core::StoreError::Corrupt(e.to_string()))
                })?;
                let stored = store.swap_value(STATE_KEY, read.as_deref(), &value).await?;
                Ok::<_, CrisisError>(stored.then_some((state, events)))
            }
            .await;
            match decided {
                Ok(Some(done)) => break done,
                Ok(None) if attempt < 8 => self.unshared_guard().merge(&unshared),
                Ok(None) => {
                    self.unshared_guard().merge(&unshared);
                    return Err(CrisisError::Store(carekit_core::StoreError::Conflict(
                        format!("{STATE_KEY}: other workers kept storing first"),
                    )));
                }
                Err(e) => {
                    self.unshared_guard().merge(&unshared);
                    return Err(e);
                }
            }
        };
        let open_left = state.incidents.iter().any(Incident::is_open);
        {
            // This worker's view: the shared state and what it counted since.
            let mut local = state.clone();
            local.merge(&self.unshared_guard());
            *self.state() = local;
        }
        // People first: notifications and the mode never wait for the links.
        for event in &events {
            match event {
                IncidentEvent::Opened(incident) => {
                    if let Some(mode) = &self.mode
                        && let Err(e) = mode.engage(desk).await
                    {
                        // The team is told below all the same; the next
                        // opening tries again.
                        tracing::warn!(error = %e, "crisis mode could not be engaged");
                    }
                    let subject = format!("Incident opened: spike on {}", incident.key);
                    let body = format!(
                        "{} negative mentions in the last {} min (baseline {:.1} ± {:.1} per window, negative share {:.0}%). {} conversation(s) grouped under tag {}.",
                        incident.opening_negative,
                        self.config.window.num_minutes(),
                        incident.baseline.negative_mean,
                        incident.baseline.negative_sd,
                        incident.baseline.negative_share * 100.0,
                        incident.conversations.len(),
                        incident.tag(),
                    );
                    self.notify(desk, incident, subject, body, now).await;
                }
                IncidentEvent::Closed(incident) => {
                    if let Some(mode) = &self.mode
                        && !open_left
                        && let Err(e) = mode.stand_down(desk).await
                    {
                        tracing::warn!(error = %e, "crisis mode could not be stood down");
                    }
                    let subject = format!("Incident closed: {}", incident.key);
                    let body = format!(
                        "Volume back at baseline for {} min. {} conversation(s), peak {} negative mentions per window.",
                        self.config.quiet_period.num_minutes(),
                        incident.conversations.len(),
                        incident.peak_negative,
                    );
                    self.notify(desk, incident, subject, body, now).await;
                }
                IncidentEvent::Joined { .. } => {}
            }
        }
        self.link_pending(desk, &state, now).await?;
        Ok(events)
    }

    fn unshared_guard(&self) -> std::sync::MutexGuard<'_, State> {
        self.unshared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the links the shared state holds, then takes the written ones
    /// out of it. On a failure the rest stay for the next tick.
    async fn link_pending(
        &self,
        desk: &Desk,
        state: &State,
        now: DateTime<Utc>,
    ) -> Result<(), CrisisError> {
        if state.unlinked.is_empty() {
            return Ok(());
        }
        let mut written = Vec::new();
        let mut failure = None;
        for (id, conversation_id) in &state.unlinked {
            let Some(key) = state
                .incidents
                .iter()
                .find(|i| &i.id == id)
                .map(|i| i.key.clone())
            else {
                written.push((id.clone(), *conversation_id));
                continue;
            };
            match self.link(desk, id, &key, *conversation_id, now).await {
                Ok(()) => written.push((id.clone(), *conversation_id)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let store = desk.store();
        for _ in 0..8 {
            let read = store.load_value(STATE_KEY).await?;
            let mut shared = decode(read.as_deref())?;
            shared.unlinked.retain(|link| !written.contains(link));
            let value = serde_json::to_string(&shared).map_err(|e| {
                CrisisError::Store(carekit_core::StoreError::Corrupt(e.to_string()))
            })?;
            if store.swap_value(STATE_KEY, read.as_deref(), &value).await? {
                self.state().unlinked.retain(|link| !written.contains(link));
                break;
            }
        }
        failure.map_or(Ok(()), Err)
    }

    async fn link(
        &self,
        desk: &Desk,
        incident: &str,
        key: &SeriesKey,
        conversation_id: ConversationId,
        now: DateTime<Utc>,
    ) -> Result<(), CrisisError> {
        let escalation = Escalation::new(
            DETECTOR_NAME,
            spike_reason(incident),
            format!("part of incident {incident}: a spike of negative mentions on {key}"),
        )
        .with_level(3)
        .with_team(self.config.team.clone())
        .with_priority(Priority::High)
        .with_notify(false)
        .with_dedupe_key(format!("{DETECTOR_NAME}:{incident}"));
        let history = desk.store().audit_trail(conversation_id).await?;
        let linked = history.iter().any(
            |e| matches!(&e.kind, AuditKind::Escalated(x) if x.dedupe_key == escalation.dedupe_key),
        );
        if !linked {
            let mut commit = Commit::new();
            commit.audit.push(AuditEntry::new(
                conversation_id,
                now,
                AuditKind::Escalated(escalation),
            ));
            desk.store().apply(commit).await?;
        }
        desk.tag(conversation_id, format!("incident:{incident}"))
            .await?;
        Ok(())
    }

    async fn notify(
        &self,
        desk: &Desk,
        incident: &Incident,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) {
        let Some(first) = incident.conversations.first() else {
            return;
        };
        let notifier = self.notifier.as_ref().unwrap_or(desk.notifier());
        let notification = Notification::new(*first, subject.clone(), body)
            .with_team(Some(self.config.team.clone()))
            .with_level(3);
        // Best effort, like the desk's own notifications.
        if let Err(reason) = notifier.notify(&notification).await {
            tracing::warn!(incident = %incident.id, %reason, "crisis notification failed");
            return;
        }
        let mut commit = Commit::new();
        commit.audit.push(AuditEntry::new(
            *first,
            now,
            AuditKind::Notified {
                target: self.config.team.clone(),
                subject,
            },
        ));
        if let Err(e) = desk.store().apply(commit).await {
            tracing::warn!(incident = %incident.id, error = %e, "recording a crisis notification failed");
        }
    }
}
