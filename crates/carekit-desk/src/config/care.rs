//! The sections that say how conversations are cared for, as written in
//! desk.toml: business-hours calendars, SLA policies, per-team assignment,
//! the team digest and proactive outreach. They are checked and built into
//! the desk by `crate::care` (calendars, SLA, assignment), `crate::digest`
//! and `crate::insight` (outreach); here they are only read.

use carekit_core::{ChannelKind, Priority};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One `[[calendars]]` entry: working hours in a time zone, for SLA
/// policies that count business time only.
///
/// ```toml
/// [[calendars]]
/// name = "berlin-office"
/// time_zone = "Europe/Berlin"
/// holidays = ["2026-12-24", "2026-12-25"]
/// [calendars.hours]
/// mon = ["09:00-12:30", "13:30-18:00"]
/// tue = ["09:00-18:00"]
/// sat = ["10:00-14:00"]
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CalendarConfig {
    /// The name `[[sla]] calendar` refers to.
    pub name: String,
    /// An IANA time zone (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub time_zone: String,
    /// Working periods per weekday, local `HH:MM-HH:MM` (`24:00` ends a
    /// day); a day left out is not worked.
    #[serde(default)]
    pub hours: WeekHours,
    /// Days off, local `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// `[calendars.hours]`: periods per weekday.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WeekHours {
    /// Monday.
    #[serde(default)]
    pub mon: Vec<String>,
    /// Tuesday.
    #[serde(default)]
    pub tue: Vec<String>,
    /// Wednesday.
    #[serde(default)]
    pub wed: Vec<String>,
    /// Thursday.
    #[serde(default)]
    pub thu: Vec<String>,
    /// Friday.
    #[serde(default)]
    pub fri: Vec<String>,
    /// Saturday.
    #[serde(default)]
    pub sat: Vec<String>,
    /// Sunday.
    #[serde(default)]
    pub sun: Vec<String>,
}

impl WeekHours {
    /// Each weekday's key (`mon`) and periods, Monday first.
    pub fn days(&self) -> [(&'static str, chrono::Weekday, &[String]); 7] {
        use chrono::Weekday::*;
        [
            ("mon", Mon, &self.mon),
            ("tue", Tue, &self.tue),
            ("wed", Wed, &self.wed),
            ("thu", Thu, &self.thu),
            ("fri", Fri, &self.fri),
            ("sat", Sat, &self.sat),
            ("sun", Sun, &self.sun),
        ]
    }
}

/// One `[[sla]]` policy: response targets for the conversations it
/// matches. Policies are tried in order, before `[desk]`'s public and
/// private defaults; the first that matches applies.
///
/// ```toml
/// [[sla]]
/// name = "billing-email"
/// channels = ["email"]
/// teams = ["billing"]
/// priorities = ["high", "urgent"]
/// first_response_minutes = 120
/// next_response_minutes = 240
/// resolution_minutes = 2880
/// warn_at = 0.8
/// calendar = "berlin-office"
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SlaConfig {
    /// The policy's name, as SLA events and reports show it.
    pub name: String,
    /// Only conversations on these channels (empty: any).
    #[serde(default)]
    pub channels: Vec<ChannelKind>,
    /// Only conversations of these priorities (empty: any).
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Only conversations of these teams (empty: any); each must be a
    /// team of `[assignment]` or `[crisis]`.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Minutes to the first answer.
    pub first_response_minutes: Option<i64>,
    /// Minutes from each later customer message to the next answer.
    pub next_response_minutes: Option<i64>,
    /// Minutes to resolution.
    pub resolution_minutes: Option<i64>,
    /// Fraction of a target at which a warning is raised (default
    /// `[desk] warn_at`).
    pub warn_at: Option<f64>,
    /// Count business time in this `[[calendars]]` entry (default: every
    /// hour counts).
    pub calendar: Option<String>,
    /// The team a breach escalates to (level 2; default `leads`).
    pub escalate_to: Option<String>,
}

/// One team under `[assignment]` (`[[assignment.teams]]`): its agents, how
/// they are picked, and the channels whose new conversations it takes.
///
/// ```toml
/// [[assignment.teams]]
/// team = "email-care"
/// strategy = "capacity"        # or "round_robin" (the default)
/// channels = ["email"]         # new email conversations go to this team
/// agents = [{ id = "dana", capacity = 30 }, { id = "eli" }]
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TeamConfig {
    /// The team's name.
    pub team: String,
    /// The team's agents (their `team` is this one); agents of
    /// `[assignment] agents` with `team` set to it belong to it too.
    #[serde(default)]
    pub agents: Vec<TeamAgentConfig>,
    /// How the next agent is picked.
    #[serde(default)]
    pub strategy: StrategyConfig,
    /// New conversations on these channels are assigned within this team.
    #[serde(default)]
    pub channels: Vec<ChannelKind>,
}

/// An agent of a `[[assignment.teams]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TeamAgentConfig {
    /// The agent's id.
    pub id: String,
    /// Most open conversations at once (default 25).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
}

fn default_capacity() -> usize {
    25
}

/// `strategy` of a team.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StrategyConfig {
    /// The next agent with room, in order.
    #[default]
    RoundRobin,
    /// The agent with the most room left.
    Capacity,
}

/// One `[[digest]]`: a team's digest of new mentions and SLA alerts, sent
/// on its schedule in its time zone.
///
/// ```toml
/// [[digest]]
/// team = "care"
/// time_zone = "Europe/Berlin"
/// daily_at = "09:00"           # or every_hours = 4
/// route = "care-chat"          # a named [[notify]] route
/// to = ["lead@acme.example"]   # and/or addresses, through [email]
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DigestConfig {
    /// The team; must be a team of `[assignment]` or `[crisis]`.
    pub team: String,
    /// The team's IANA time zone, in which `daily_at` is read (default UTC).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Once a day at this local `HH:MM`.
    pub daily_at: Option<String>,
    /// Or every this many hours after the previous digest.
    pub every_hours: Option<i64>,
    /// The `name` of a `[[notify]]` route to send it through.
    pub route: Option<String>,
    /// Email addresses to send it to, through `[email]`.
    #[serde(default)]
    pub to: Vec<String>,
    /// `team` (default): the team's conversations only; `desk`: everyone's.
    #[serde(default)]
    pub covers: DigestCovers,
    /// Send a digest even when nothing happened (default false).
    #[serde(default)]
    pub send_empty: bool,
}

fn utc() -> String {
    "UTC".into()
}

/// Which conversations a digest covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DigestCovers {
    /// Conversations assigned to the digest's team.
    #[default]
    Team,
    /// Every conversation of the desk.
    Desk,
}

/// `[outreach]`: the prepared notice for customers hit by an incident
/// (`Insight::outreach`), its words per channel and its limit.
///
/// ```toml
/// [outreach]
/// text = "We know about the outage and are fixing it. Sorry for the trouble."
/// subject = "About today's outage"
/// preference = ["sms", "email", "facebook"]
/// max_customers = 500
/// [outreach.text_on]
/// sms = "Outage known, fix under way. Sorry!"
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OutreachConfig {
    /// The notice.
    pub text: String,
    /// Its words on particular channels instead.
    #[serde(default)]
    pub text_on: BTreeMap<ChannelKind, String>,
    /// The email subject.
    pub subject: Option<String>,
    /// Channel order after the customer's own preference (default: SMS,
    /// email, Facebook, X, web).
    #[serde(default)]
    pub preference: Vec<ChannelKind>,
    /// Most customers one outreach queues for (default: no limit).
    pub max_customers: Option<usize>,
}
