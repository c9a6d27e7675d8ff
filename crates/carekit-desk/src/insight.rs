//! Insight wired into the server: the CSAT survey rule, the taxonomy
//! classifier, and the crisis detector fed by every ingest and ticked in a
//! background loop on the desk's clock, and the prepared outreach notice.
//! Built from `[csat]`, `[taxonomy]`, `[crisis]` and `[outreach]`; each is
//! off when its table is absent.

use crate::config::{CrisisSettings, CsatConfig, DeskConfig, OutreachConfig, TaxonomyConfig};
use crate::server::Background;
use crate::{DeskServerError, server};
use async_trait::async_trait;
use carekit_core::{Desk, DeskError, EventSink, InboundEvent, IntakeError, StoreError};
use carekit_insight::crisis::{CrisisDetector, CrisisMode, IncidentEvent};
use carekit_insight::outreach::Outreach;
use carekit_insight::{CsatSurvey, TaxonomyClassifier, TaxonomySpec};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// What the server runs on top of the desk, for reports and for apps that
/// act on incidents (post the holding statement, reach out). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Insight {
    taxonomy: Option<Arc<TaxonomyClassifier>>,
    detector: Option<Arc<CrisisDetector>>,
    mode: Option<CrisisMode>,
    outreach: Option<Arc<Outreach>>,
}

impl Insight {
    /// The taxonomy classifier from `[taxonomy]`, if configured.
    pub fn taxonomy(&self) -> Option<&Arc<TaxonomyClassifier>> {
        self.taxonomy.as_ref()
    }

    /// The crisis detector from `[crisis]`, if configured (its
    /// `incidents()` list what it opened).
    pub fn crisis_detector(&self) -> Option<&Arc<CrisisDetector>> {
        self.detector.as_ref()
    }

    /// The crisis switch (with the prepared holding statement) from
    /// `[crisis]`, if configured.
    pub fn crisis_mode(&self) -> Option<&CrisisMode> {
        self.mode.as_ref()
    }

    /// The prepared outreach notice from `[outreach]` (its words per
    /// channel and its limit), to send to an incident's customers with
    /// `Outreach::to_incident`.
    pub fn outreach(&self) -> Option<&Arc<Outreach>> {
        self.outreach.as_ref()
    }
}

/// The survey rule and the insight the configuration asks for.
pub(crate) fn from_config(
    config: &DeskConfig,
) -> Result<(Insight, Option<CsatSurvey>), DeskServerError> {
    let survey = config.csat.as_ref().map(csat).transpose()?;
    let taxonomy = config
        .taxonomy
        .as_ref()
        .map(taxonomy)
        .transpose()?
        .map(Arc::new);
    let (detector, mode) = match &config.crisis {
        Some(settings) => {
            let (detector, mode) = crisis(settings)?;
            (Some(Arc::new(detector)), Some(mode))
        }
        None => (None, None),
    };
    let outreach = config
        .outreach
        .as_ref()
        .map(outreach)
        .transpose()?
        .map(Arc::new);
    Ok((
        Insight {
            taxonomy,
            detector,
            mode,
            outreach,
        },
        survey,
    ))
}

fn csat(c: &CsatConfig) -> Result<CsatSurvey, DeskServerError> {
    let mut builder = CsatSurvey::builder(c.question.clone())
        .delay((c.delay_minutes != 0).then(|| Duration::minutes(c.delay_minutes)))
        .answer_window(Duration::days(c.answer_window_days.max(1)));
    if !c.channels.is_empty() {
        builder = builder.channels(c.channels.iter().copied());
    }
    builder
        .build()
        .map_err(|e| DeskServerError::Config(format!("[csat]: {e}")))
}

/// An error when `[outreach]` names a channel the desk does not send on
/// (a typo would otherwise never apply).
pub(crate) fn check_outreach_channels(
    config: &DeskConfig,
    desk_channels: &[carekit_core::ChannelKind],
) -> Result<(), DeskServerError> {
    let Some(o) = &config.outreach else {
        return Ok(());
    };
    let named = o
        .text_on
        .keys()
        .map(|k| ("text_on", k))
        .chain(o.preference.iter().map(|k| ("preference", k)));
    for (key, kind) in named {
        if !desk_channels.contains(kind) {
            return Err(DeskServerError::Config(format!(
                "[outreach] {key}: the desk has no {kind} channel"
            )));
        }
    }
    Ok(())
}

fn outreach(o: &OutreachConfig) -> Result<Outreach, DeskServerError> {
    let bad = |why: String| DeskServerError::Config(format!("[outreach] {why}"));
    if o.text.trim().is_empty() {
        return Err(bad("text: is empty".into()));
    }
    let mut builder = Outreach::builder(o.text.clone());
    for (channel, text) in &o.text_on {
        if text.trim().is_empty() {
            return Err(bad(format!("text_on.{channel}: is empty")));
        }
        builder = builder.text_on(*channel, text.clone());
    }
    if let Some(subject) = &o.subject {
        builder = builder.subject(subject.clone());
    }
    if !o.preference.is_empty() {
        builder = builder.preference(o.preference.clone());
    }
    if let Some(limit) = o.max_customers {
        if limit == 0 {
            return Err(bad("max_customers: must be above 0".into()));
        }
        builder = builder.max_customers(limit);
    }
    builder.build().map_err(|e| bad(e.to_string()))
}

fn taxonomy(t: &TaxonomyConfig) -> Result<TaxonomyClassifier, DeskServerError> {
    let bad = |e: &dyn std::fmt::Display| DeskServerError::Config(format!("[taxonomy]: {e}"));
    let mut spec = TaxonomySpec::default();
    if let Some(path) = &t.file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DeskServerError::Config(format!("[taxonomy] file {}: {e}", path.display()))
        })?;
        let from_file: TaxonomySpec = toml::from_str(&text)
            .map_err(|e| DeskServerError::Config(format!("{}: {e}", path.display())))?;
        spec.topics.extend(from_file.topics);
    }
    spec.topics.extend(t.topics.iter().cloned());
    if spec.topics.is_empty() {
        return Err(bad(&"no topics: give `file` or `[[taxonomy.topics]]`"));
    }
    TaxonomyClassifier::new(spec).map_err(|e| bad(&e))
}

fn crisis(c: &CrisisSettings) -> Result<(CrisisDetector, CrisisMode), DeskServerError> {
    let mode = CrisisMode::new().with_holding_statement(c.holding_statement.clone());
    let test = |x: f64| (x != 0.0).then_some(x);
    let mut builder = CrisisDetector::builder()
        .window(Duration::minutes(c.window_minutes))
        .baseline_windows(c.baseline_windows)
        .z_score(test(c.z_score))
        .ratio(test(c.ratio))
        .min_volume(c.min_volume)
        .min_negative_share(c.min_negative_share)
        .close_z(c.close_z)
        .quiet_period(Duration::minutes(c.quiet_minutes))
        .min_sd(c.min_sd)
        .by_topic(c.by_topic)
        .team(c.team.clone());
    if c.auto_crisis_mode {
        builder = builder.crisis_mode(mode.clone());
    }
    let detector = builder
        .build()
        .map_err(|e| DeskServerError::Config(format!("[crisis]: {e}")))?;
    Ok((detector, mode))
}

/// The sink the webhooks feed: the desk, and the crisis detector counting
/// each stored message when one is configured.
pub(crate) fn sink(desk: &Desk, insight: &Insight) -> Arc<dyn EventSink> {
    Arc::new(DeskSink {
        desk: desk.clone(),
        detector: insight.detector.clone(),
    })
}

/// Ingests into the desk, then shows the stored message to the detector.
struct DeskSink {
    desk: Desk,
    detector: Option<Arc<CrisisDetector>>,
}

/// How a failed ingest answers the adapter (and the inbox): refused for
/// good ([`IntakeError::Rejected`]: a webhook gets a 4xx or is logged and
/// skipped, the inbox dead-letters it) only when no retry can mend it;
/// anything that may be transient, or that the desk cannot classify, is
/// [`IntakeError::Unavailable`] (the platform, or the inbox, tries again;
/// the inbox gives up on one event only while others are stored).
pub(crate) fn refusal(error: DeskError) -> IntakeError {
    match error {
        DeskError::InvalidEvent(reason) => IntakeError::Rejected(reason),
        DeskError::Store(e @ (StoreError::Constraint(_) | StoreError::Corrupt(_))) => {
            IntakeError::Rejected(e.to_string())
        }
        other => IntakeError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl EventSink for DeskSink {
    async fn accept(&self, event: InboundEvent) -> Result<(), IntakeError> {
        let outcome = self.desk.ingest(event).await.map_err(refusal)?;
        // The message is stored: a failure to count it must not make the
        // platform retry it.
        if let Some(detector) = &self.detector
            && let Err(e) = detector
                .observe_ingest(self.desk.store().as_ref(), &outcome)
                .await
        {
            tracing::warn!(error = %e, "crisis detector could not read an ingested message");
        }
        Ok(())
    }
}

/// Ticks the detector every `[crisis] tick_seconds` of the desk's clock,
/// checking the clock every `poll` of real time.
pub(crate) fn crisis_loop(
    desk: &Desk,
    insight: &Insight,
    every_seconds: i64,
    poll: std::time::Duration,
) -> Option<Background> {
    let detector = insight.detector.clone()?;
    let desk = desk.clone();
    let every = Duration::seconds(every_seconds.max(1));
    let run: Background = Box::new(move |stop: server::Shutdown| {
        Box::pin(async move {
            let stopped = stop.wait();
            tokio::pin!(stopped);
            let mut last: Option<DateTime<Utc>> = None;
            loop {
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(poll) => {}
                }
                let now = desk.clock().now();
                if last.is_some_and(|l| now - l < every) {
                    continue;
                }
                last = Some(now);
                match detector.tick(&desk).await {
                    Ok(events) => {
                        for event in events {
                            match event {
                                IncidentEvent::Opened(i) => {
                                    tracing::warn!(incident = %i.id, series = %i.key, negative = i.opening_negative, "crisis incident opened");
                                }
                                IncidentEvent::Closed(i) => {
                                    tracing::info!(incident = %i.id, conversations = i.conversations.len(), "crisis incident closed");
                                }
                                _ => {}
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "crisis detector tick failed"),
                }
            }
        })
    });
    Some(run)
}
