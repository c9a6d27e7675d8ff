//! The end-of-day report: the insight [`Report`] plus the distribution of
//! first-response times, as JSON and as one self-contained HTML page (inline
//! SVG chart, no scripts, nothing fetched) that any browser opens.

use carekit_core::{ConversationFilter, Desk, DeskError};
use carekit_insight::crisis::Incident;
use carekit_insight::{Report, ReportOptions, Segment, TopIssues, TopIssuesOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// First-response buckets: upper bound in seconds and label.
const BUCKETS: &[(i64, &str)] = &[
    (5 * 60, "< 5 min"),
    (15 * 60, "5–15 min"),
    (30 * 60, "15–30 min"),
    (60 * 60, "30–60 min"),
    (2 * 3600, "1–2 h"),
    (4 * 3600, "2–4 h"),
    (i64::MAX, "> 4 h"),
];

/// A report over everything the desk holds.
#[derive(Clone, Debug, Serialize)]
pub struct DayReport {
    /// Title shown on the page.
    pub title: String,
    /// The figures (per channel, team, agent; SLA, escalations, handoffs, CSAT).
    pub summary: Report,
    /// Conversations per first-human-response bucket, per channel; the last
    /// bucket label `unanswered` counts conversations nobody answered.
    pub first_response_histogram: Vec<Bucket>,
    /// Incidents the crisis detector opened, oldest first (empty without
    /// `[crisis]`).
    pub crisis: Vec<Incident>,
    /// What customers complained about, by taxonomy topic and by
    /// near-duplicate wording (`None` without `[taxonomy]`).
    pub top_issues: Option<TopIssues>,
}

/// One bar group of the chart.
#[derive(Clone, Debug, Serialize)]
pub struct Bucket {
    /// The bucket's label (`< 5 min`, …, `unanswered`).
    pub label: String,
    /// Conversations in it, per channel.
    pub by_channel: BTreeMap<String, usize>,
}

impl DayReport {
    /// Computes the report from the desk's store.
    ///
    /// # Errors
    /// The store failed.
    pub async fn build(
        desk: &Desk,
        title: impl Into<String>,
        options: &ReportOptions,
    ) -> Result<Self, DeskError> {
        let store = desk.store().as_ref();
        let summary = Report::from_store(store, &ConversationFilter::all(), options).await?;
        let conversations = store.list_conversations(&ConversationFilter::all()).await?;
        let mut histogram: Vec<Bucket> = BUCKETS
            .iter()
            .map(|(_, l)| (*l).to_owned())
            .chain(["unanswered".to_owned()])
            .map(|label| Bucket {
                label,
                by_channel: BTreeMap::new(),
            })
            .collect();
        for c in &conversations {
            // Only what customers started: the brand's own outreach has no
            // response time.
            let Some(first_inbound) = c
                .messages
                .iter()
                .find(|m| m.direction == carekit_core::Direction::Inbound)
            else {
                continue;
            };
            let index = match c.first_human_response_at {
                Some(at) => {
                    let secs = (at - first_inbound.at).num_seconds().max(0);
                    BUCKETS.iter().position(|(max, _)| secs < *max).unwrap_or(0)
                }
                None => BUCKETS.len(),
            };
            *histogram[index]
                .by_channel
                .entry(c.channel.to_string())
                .or_default() += 1;
        }
        Ok(Self {
            title: title.into(),
            summary,
            first_response_histogram: histogram,
            crisis: Vec::new(),
            top_issues: None,
        })
    }

    /// Adds what the server's insight knows: the crisis detector's
    /// incidents and the top issues by the configured taxonomy.
    ///
    /// # Errors
    /// The store failed.
    pub async fn with_insight(
        mut self,
        desk: &Desk,
        insight: &crate::Insight,
    ) -> Result<Self, DeskError> {
        if let Some(detector) = insight.crisis_detector() {
            self.crisis = detector.incidents();
        }
        if let Some(taxonomy) = insight.taxonomy() {
            self.top_issues = Some(
                TopIssues::from_store(
                    desk.store().as_ref(),
                    &ConversationFilter::all(),
                    taxonomy.as_ref(),
                    &TopIssuesOptions::builder()
                        .max_topics(8)
                        .examples(1)
                        .max_groups(5)
                        .build(),
                )
                .await?,
            );
        }
        Ok(self)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// A self-contained HTML page: a stacked bar chart of first-response
    /// times by channel (`<svg id="response-chart">`) and tables of the
    /// figures (`<table id="channels">`, `<table id="escalations">`), then
    /// with insight `<table id="crisis">`, `<table id="topics">` and
    /// `<table id="near-duplicates">`.
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(16 * 1024);
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n",
            t = esc(&self.title)
        );
        let total = &self.summary.total;
        let _ = writeln!(
            h,
            "<p class=\"lead\">{} conversations · first human response p50 {} · p90 {} · SLA attainment {}</p>",
            total.conversations,
            secs(total.first_human_response.p50_s),
            secs(total.first_human_response.p90_s),
            attainment(total)
        );
        h.push_str("<h2>First response times</h2>\n");
        h.push_str(&self.chart());
        h.push_str("<h2>By channel</h2>\n<table id=\"channels\"><thead><tr><th>Channel</th><th>Conversations</th><th>First response p50</th><th>p90</th><th>Human p50</th><th>Human p90</th><th>SLA attainment</th><th>Handoffs (answered privately)</th><th>CSAT</th></tr></thead><tbody>\n");
        for (channel, s) in &self.summary.by_channel {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
                esc(channel),
                s.conversations,
                secs(s.first_response.p50_s),
                secs(s.first_response.p90_s),
                secs(s.first_human_response.p50_s),
                secs(s.first_human_response.p90_s),
                attainment(s),
                s.handoffs,
                s.handoffs_answered_privately,
                csat(s)
            );
        }
        h.push_str("</tbody></table>\n<h2>Escalations</h2>\n<table id=\"escalations\"><thead><tr><th>Reason</th><th>Count</th></tr></thead><tbody>\n");
        for (reason, n) in &total.escalations {
            let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(reason));
        }
        h.push_str("</tbody></table>\n");
        self.crisis_html(&mut h);
        self.issues_html(&mut h);
        h.push_str("</body></html>\n");
        h
    }

    /// `<table id="crisis">`: one row per incident.
    fn crisis_html(&self, h: &mut String) {
        if self.crisis.is_empty() {
            return;
        }
        h.push_str("<h2>Crisis</h2>\n<table id=\"crisis\"><thead><tr><th>Incident</th><th>Series</th><th>Opened</th><th>Closed</th><th>Conversations</th><th>Peak negatives / window</th><th>Baseline</th></tr></thead><tbody>\n");
        for i in &self.crisis {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} ± {:.1}</td></tr>",
                esc(&i.id),
                esc(&i.key.to_string()),
                i.opened_at.format("%H:%M"),
                i.closed_at
                    .map_or_else(|| "open".to_owned(), |t| t.format("%H:%M").to_string()),
                i.conversations.len(),
                i.peak_negative,
                i.baseline.negative_mean,
                i.baseline.negative_sd,
            );
        }
        h.push_str("</tbody></table>\n");
    }

    /// `<table id="topics">` and `<table id="near-duplicates">`.
    fn issues_html(&self, h: &mut String) {
        let Some(issues) = &self.top_issues else {
            return;
        };
        let _ = writeln!(
            h,
            "<h2>Top issues</h2>\n<p>{} complaints, {} matched no topic.</p>\n<table id=\"topics\"><thead><tr><th>Topic</th><th>Conversations</th><th>Example</th></tr></thead><tbody>",
            issues.complaints, issues.unclassified
        );
        for t in &issues.topics {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
                esc(&t.topic),
                t.count,
                esc(t.examples.first().map_or("", String::as_str))
            );
        }
        h.push_str("</tbody></table>\n<h3>Worded nearly the same</h3>\n<table id=\"near-duplicates\"><thead><tr><th>Conversations</th><th>Example</th></tr></thead><tbody>\n");
        for g in &issues.near_duplicates {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"text\">{}</td></tr>",
                g.count,
                esc(&g.example)
            );
        }
        h.push_str("</tbody></table>\n");
    }

    fn chart(&self) -> String {
        let channels: Vec<String> = {
            let mut all: Vec<String> = self
                .first_response_histogram
                .iter()
                .flat_map(|b| b.by_channel.keys().cloned())
                .collect();
            all.sort();
            all.dedup();
            all
        };
        let max = self
            .first_response_histogram
            .iter()
            .map(|b| b.by_channel.values().sum::<usize>())
            .max()
            .unwrap_or(0)
            .max(1);
        let (width, height, left, bottom, top) = (760.0, 320.0, 50.0, 40.0, 20.0);
        let plot_h = height - bottom - top;
        let n = self.first_response_histogram.len().max(1) as f64;
        let slot = (width - left - 20.0) / n;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg id=\"response-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"First human response times by channel\">"
        );
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#444\"/>",
            y = height - bottom,
            x2 = width - 10.0
        );
        // Whole-number ticks: these are counts of conversations.
        let step = max.div_ceil(4).max(1);
        for value in (0..=max).step_by(step) {
            let y = height - bottom - plot_h * value as f64 / max as f64;
            let _ = writeln!(
                s,
                "<text x=\"{x}\" y=\"{y:.1}\" class=\"axis\" text-anchor=\"end\">{value}</text>",
                x = left - 6.0
            );
        }
        for (i, bucket) in self.first_response_histogram.iter().enumerate() {
            let x = left + slot * i as f64 + slot * 0.15;
            let mut y = height - bottom;
            for (c, channel) in channels.iter().enumerate() {
                let count = bucket.by_channel.get(channel).copied().unwrap_or(0);
                if count == 0 {
                    continue;
                }
                let bar = plot_h * count as f64 / max as f64;
                y -= bar;
                let _ = writeln!(
                    s,
                    "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar:.1}\" fill=\"{fill}\"><title>{label}: {count} {channel}</title></rect>",
                    w = slot * 0.7,
                    fill = color(channel, c),
                    label = esc(&bucket.label),
                    channel = esc(channel)
                );
            }
            let _ = writeln!(
                s,
                "<text x=\"{cx:.1}\" y=\"{ty}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
                esc(&bucket.label),
                cx = x + slot * 0.35,
                ty = height - bottom + 16.0
            );
        }
        for (c, channel) in channels.iter().enumerate() {
            let y = top + 14.0 * c as f64;
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{fill}\"/><text x=\"{tx}\" y=\"{ty}\" class=\"axis\">{}</text>",
                esc(channel),
                x = width - 120.0,
                fill = color(channel, c),
                tx = width - 105.0,
                ty = y + 9.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// One colour per channel, the same on every page.
fn color(channel: &str, index: usize) -> &'static str {
    match channel {
        "twitter" => "#1d9bf0",
        "facebook" => "#3b4cca",
        "email" => "#2e7d32",
        "sms" => "#f57c00",
        _ => ["#8e24aa", "#6d4c41", "#546e7a"][index % 3],
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child,td.text{text-align:left}.axis{font-size:11px;fill:#444}.lead{font-size:1.1em}";

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `1h 05m`, `3m 20s`, or `–`.
pub fn secs(s: Option<i64>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        Some(s) if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        Some(s) => format!("{s}s"),
    }
}

/// Met / (met + breached) over every SLA metric, as a percentage.
pub fn attainment(s: &Segment) -> String {
    let (met, breached) = s
        .sla
        .values()
        .fold((0, 0), |(m, b), (m2, b2)| (m + m2, b + b2));
    if met + breached == 0 {
        "–".into()
    } else {
        format!("{:.0}%", 100.0 * met as f64 / (met + breached) as f64)
    }
}

/// CSAT as `4.5 (2 of 3)`: mean rating, answers of surveys sent.
pub fn csat(s: &Segment) -> String {
    match s.csat_mean {
        Some(mean) => format!("{mean:.1} ({} of {})", s.csat_answered, s.csat_requested),
        None if s.csat_requested > 0 => format!("– (0 of {})", s.csat_requested),
        None => "–".into(),
    }
}
