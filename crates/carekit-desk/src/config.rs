//! Configuration: a TOML file for everything that is not a secret, and
//! [`Secrets`] (environment variables by default) for everything that is.
//!
//! Keeping secrets out of the file means the file can be committed and
//! reviewed; the secrets come from the deployment's secret store.

mod care;

pub use care::{
    CalendarConfig, DigestConfig, DigestCovers, OutreachConfig, SlaConfig, StrategyConfig,
    TeamAgentConfig, TeamConfig, WeekHours,
};

use crate::DeskServerError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

/// The whole configuration of a desk server.
///
/// ```
/// let config = carekit_desk::DeskConfig::from_toml_str(r#"
///     [server]
///     listen = "127.0.0.1:8080"
///     public_url = "https://desk.example.com"
///
///     [sms]
///     account_sid = "AC00000000000000000000000000000000"
///     from = "+14155550100"
/// "#).unwrap();
/// assert!(config.sms.is_some() && config.twitter.is_none());
/// assert_eq!(config.store.url, "sqlite://carekit.db");
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeskConfig {
    /// Where to listen and how to treat requests.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where conversations are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// Engine settings.
    #[serde(default)]
    pub desk: EngineConfig,
    /// X (Twitter); absent means off.
    pub twitter: Option<TwitterConfig>,
    /// Facebook page comments and Messenger; absent means off.
    pub facebook: Option<FacebookConfig>,
    /// SMS through Twilio; absent means off.
    pub sms: Option<SmsConfig>,
    /// Email (raw-mail webhook, optional IMAP, SMTP out); absent means off.
    pub email: Option<EmailConfig>,
    /// Satisfaction surveys after resolution; absent means none.
    pub csat: Option<CsatConfig>,
    /// Topics put on customer messages (and the report's top issues);
    /// absent means sentiment only.
    pub taxonomy: Option<TaxonomyConfig>,
    /// Spike detection and incidents; absent means off.
    pub crisis: Option<CrisisSettings>,
    /// Acknowledge webhooks once journaled on local disk instead of once
    /// committed (see [`crate::inbox`]); absent means acknowledge on commit.
    pub inbox: Option<InboxConfig>,
    /// Automatic acknowledgement of a customer's first message; absent
    /// means none.
    pub acknowledge: Option<AcknowledgeConfig>,
    /// The agents new conversations are assigned to; absent means none are
    /// assigned automatically.
    pub assignment: Option<AssignmentConfig>,
    /// Settings of the platforms an app adds
    /// ([`DeskServerBuilder::adapter`](crate::DeskServerBuilder::adapter)),
    /// one table each (`[adapters.line]`), read by that adapter. Secrets
    /// belong in [`Secrets`], not here: the configuration is printed in
    /// `Debug`.
    #[serde(default)]
    pub adapters: BTreeMap<String, toml::Table>,
    /// Where escalations reach people (`[[notify]]`, one route each);
    /// empty means the log only.
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    /// Business-hours calendars (`[[calendars]]`) that SLA policies count in.
    #[serde(default)]
    pub calendars: Vec<CalendarConfig>,
    /// SLA policies (`[[sla]]`), tried in order before `[desk]`'s defaults.
    #[serde(default)]
    pub sla: Vec<SlaConfig>,
    /// Team digests (`[[digest]]`), each sent on its schedule in its time
    /// zone.
    #[serde(default)]
    pub digest: Vec<DigestConfig>,
    /// The prepared outreach notice; absent means none.
    pub outreach: Option<OutreachConfig>,
}

/// One `[[notify]]` route: notifications from `min_level` for `teams` (any
/// team when empty) go to a chat webhook or to email addresses.
///
/// ```toml
/// [[notify]]
/// via = "chat"                          # Slack-compatible incoming webhook
/// url_secret = "CAREKIT_NOTIFY_CHAT_URL" # the secret holding its URL
/// min_level = 2
/// teams = ["billing"]
///
/// [[notify]]
/// via = "email"                         # through [email]'s SMTP sender
/// to = ["lead@acme.example"]
/// min_level = 3
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NotifyConfig {
    /// A name for the route, by which `[[digest]] route` sends through it.
    #[serde(default)]
    pub name: Option<String>,
    /// Where it goes.
    pub via: NotifyVia,
    /// `chat`: the name of the secret holding the webhook URL (a URL with
    /// a token in it, so never in this file).
    #[serde(default)]
    pub url_secret: Option<String>,
    /// `email`: the addresses.
    #[serde(default)]
    pub to: Vec<String>,
    /// Notifications at this escalation level or above (default 1: all).
    #[serde(default = "one")]
    pub min_level: u8,
    /// Only these teams' notifications; empty: every team's and those
    /// without a team.
    #[serde(default)]
    pub teams: Vec<String>,
}

fn one() -> u8 {
    1
}

/// How a `[[notify]]` route reaches people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotifyVia {
    /// A chat channel's incoming webhook (Slack-compatible JSON).
    Chat,
    /// Email through the `[email]` adapter's SMTP sender.
    Email,
}

/// `[acknowledge]`: what the desk answers by itself to a customer's first
/// message, by what the message says (its sentiment) and where it was
/// written. Templates may use `{first_name}`, `{name}`, `{handle}` and
/// `{channel}`, with a fallback after `|` (`{first_name|there}`); an
/// unknown variable stops the server at start-up. An empty template sends
/// nothing, and every template is empty unless set, so by default only the
/// complaints you write a text for are answered.
///
/// ```
/// let config = carekit_desk::DeskConfig::from_toml_str(r#"
///     [acknowledge]
///     complaint_public = "So sorry, {first_name|friend}. We're looking into it now."
///     complaint_private = "Thanks for writing, {first_name|there}. A person will answer shortly."
///     praise_public = "Thank you, {first_name|friend}!"
///     channels = ["twitter", "facebook"]
/// "#).unwrap();
/// let ack = config.acknowledge.unwrap();
/// assert!(ack.neutral_public.is_empty());
/// assert_eq!(ack.complaint_at, -0.05);
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AcknowledgeConfig {
    /// Public answer to a complaint.
    pub complaint_public: String,
    /// Private answer to a complaint.
    pub complaint_private: String,
    /// Public answer to praise.
    pub praise_public: String,
    /// Private answer to praise.
    pub praise_private: String,
    /// Public answer to anything else (a question), or to a message whose
    /// sentiment could not be scored (an unsupported language).
    pub neutral_public: String,
    /// Private answer to anything else.
    pub neutral_private: String,
    /// Sentiment at or below which a message is a complaint.
    pub complaint_at: f32,
    /// Sentiment at or above which a message is praise.
    pub praise_at: f32,
    /// Channels to acknowledge on; empty means all.
    pub channels: Vec<carekit_core::ChannelKind>,
}

impl Default for AcknowledgeConfig {
    fn default() -> Self {
        Self {
            complaint_public: String::new(),
            complaint_private: String::new(),
            praise_public: String::new(),
            praise_private: String::new(),
            neutral_public: String::new(),
            neutral_private: String::new(),
            complaint_at: carekit_core::desk::AutoAcknowledge::DEFAULT_COMPLAINT_AT,
            praise_at: carekit_core::desk::AutoAcknowledge::DEFAULT_PRAISE_AT,
            channels: Vec::new(),
        }
    }
}

/// `[assignment]`: the agents of the desk and how new conversations reach
/// them. Every new conversation goes to the next agent with room, in the
/// order listed (round-robin, skipping anyone at capacity). The rotation
/// and each agent's open load are kept in the store, so every worker of a
/// desk continues one rotation.
///
/// ```
/// let config = carekit_desk::DeskConfig::from_toml_str(r#"
///     [assignment]
///     agents = [
///         { id = "ana", capacity = 12 },
///         { id = "ben", team = "billing" },
///     ]
/// "#).unwrap();
/// let assignment = config.assignment.unwrap();
/// assert!(assignment.assign_new);
/// assert_eq!(assignment.agents[1].capacity, 25);
/// ```
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AssignmentConfig {
    /// The agents, in rotation order.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Teams with agents of their own, a strategy and the channels whose
    /// new conversations they take (`[[assignment.teams]]`); their agents
    /// follow `agents` in the rotation.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Assign each new conversation (default true); false keeps the agents
    /// for the API and rules of the app's own.
    #[serde(default = "yes")]
    pub assign_new: bool,
    /// Assign new conversations among this team's agents only.
    #[serde(default)]
    pub team: Option<String>,
}

/// One agent under `[assignment]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The agent's id, as the audit trail and the API name them.
    pub id: String,
    /// The agent's team.
    #[serde(default)]
    pub team: Option<String>,
    /// Most open conversations at once (default 25).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
}

fn yes() -> bool {
    true
}

fn default_capacity() -> usize {
    25
}

impl DeskConfig {
    /// Parses a TOML document.
    ///
    /// # Errors
    /// [`DeskServerError::Config`] naming the offending key.
    pub fn from_toml_str(text: &str) -> Result<Self, DeskServerError> {
        toml::from_str(text).map_err(|e| DeskServerError::Config(e.to_string()))
    }

    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// The file cannot be read or parsed.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, DeskServerError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| DeskServerError::Config(format!("{}: {e}", path.display())))?;
        Self::from_toml_str(&text)
    }
}

/// `[server]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// The origin the platforms call (Twilio signs the full URL it called).
    #[serde(serialize_with = "serialize_redacted_url")]
    pub public_url: String,
    /// Largest request body accepted, in bytes, on every route that has
    /// no limit of its own (`[email] max_body_bytes` is the email route's).
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 408 and its work dropped
    /// before anything is stored.
    pub request_timeout_ms: u64,
    /// How long a client may take to send its request headers before the
    /// connection is closed (slow-loris protection); also how long an idle
    /// kept-alive connection may wait for its next request.
    pub header_read_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests and the outbox.
    pub shutdown_grace_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            request_timeout_ms: 10_000,
            header_read_timeout_ms: HEADER_READ_TIMEOUT.as_millis() as u64,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// `[store]`. `Debug` (and the admin route) hide a password in the URL.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `sqlite://path.db` (the embedded default) or `postgres://…`.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Postgres schema to use (created if missing); lets many desks share
    /// a database.
    pub schema: Option<String>,
    /// Connection pool size.
    pub max_connections: Option<u32>,
}

fn serialize_redacted_url<S: serde::Serializer>(url: &str, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(&redact_url(url))
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redact_url(&self.url))
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://carekit.db".into(),
            schema: None,
            max_connections: None,
        }
    }
}

/// `[inbox]`: where webhooks are journaled before the desk ingests them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InboxConfig {
    /// The journal's directory; it must outlive the process (a local disk
    /// or a persistent volume, not a container's throwaway layer).
    pub dir: std::path::PathBuf,
    /// How often the journal is `fsync`ed and its cursor saved: the most
    /// acknowledged traffic a power cut can lose.
    #[serde(default = "InboxConfig::default_sync_every_ms")]
    pub sync_every_ms: u64,
    /// Events journaled but not yet handed to the desk before webhooks
    /// wait for room.
    #[serde(default = "InboxConfig::default_max_backlog")]
    pub max_backlog: usize,
    /// Events ingested at once (enough to fill the store's group commits).
    #[serde(default = "InboxConfig::default_concurrency")]
    pub concurrency: usize,
    /// Times the desk is asked to take one event that it keeps calling
    /// "unavailable" while it stores others, before that event goes to the
    /// dead-letter file (`dead-letters.jsonl` in `dir`). An event refused
    /// for a reason no retry mends goes there at once; while the store is
    /// down for every event, events wait and nothing is dead-lettered.
    #[serde(default = "InboxConfig::default_max_attempts")]
    pub max_attempts: u32,
}

impl InboxConfig {
    /// An inbox in `dir` with the default settings.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            sync_every_ms: Self::default_sync_every_ms(),
            max_backlog: Self::default_max_backlog(),
            concurrency: Self::default_concurrency(),
            max_attempts: Self::default_max_attempts(),
        }
    }

    fn default_max_attempts() -> u32 {
        8
    }

    fn default_sync_every_ms() -> u64 {
        200
    }

    fn default_max_backlog() -> usize {
        65_536
    }

    fn default_concurrency() -> usize {
        256
    }
}

/// `[desk]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct EngineConfig {
    /// This worker's name in leases and audit trails.
    pub worker: String,
    /// How often the outbox and SLA deadlines are checked when idle.
    pub tick_ms: u64,
    /// How long a worker holds an outbound message it is sending; a
    /// worker that dies releases its messages when this runs out.
    pub outbox_lease_seconds: i64,
    /// Whether agents may hide comments (audited; off by default).
    pub allow_hide: bool,
    /// First-response target for public conversations, in minutes.
    pub public_first_response_minutes: i64,
    /// First-response target for private conversations, in minutes.
    pub private_first_response_minutes: i64,
    /// Fraction of a target after which a warning is raised.
    pub warn_at: f64,
    /// Unanswered messages from one customer that escalate.
    pub repeated_contact: usize,
    /// Words that send a conversation straight to the crisis team.
    pub crisis_terms: Vec<String>,
    /// Followers at which a public post escalates.
    pub large_audience: u64,
    /// How often this worker reads the store's change feed for
    /// `/api/events`: the most a change waits before its clients hear of it.
    pub events_poll_ms: u64,
    /// How many changes the feed keeps for clients that resume
    /// (`Last-Event-ID`); older ones are pruned about once a minute.
    pub events_kept: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            worker: "desk".into(),
            tick_ms: 500,
            outbox_lease_seconds: 120,
            allow_hide: false,
            public_first_response_minutes: 60,
            private_first_response_minutes: 240,
            warn_at: 0.75,
            repeated_contact: 3,
            crisis_terms: Vec::new(),
            large_audience: 10_000,
            events_poll_ms: 200,
            events_kept: carekit_core::store::DEFAULT_CHANGES_KEPT,
        }
    }
}

/// `[twitter]`. Secrets: `X_CONSUMER_KEY`, `X_CONSUMER_SECRET`,
/// `X_ACCESS_TOKEN`, `X_ACCESS_TOKEN_SECRET` (OAuth 1.0a user context), or
/// `X_BEARER_TOKEN`; optionally `X_OAUTH2_CLIENT_SECRET` for the newer
/// webhook signature.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TwitterConfig {
    /// The brand's numeric user id.
    pub brand_user_id: String,
    /// API base URL.
    #[serde(default = "default_x_base", serialize_with = "serialize_redacted_url")]
    pub api_base: String,
    /// Poll mentions and DMs every this many seconds; 0 means webhooks only.
    #[serde(default)]
    pub poll_seconds: u64,
    /// Posts allowed per window before sends wait (X's user-context limit
    /// for your tier; X's own rate-limit headers are obeyed as well).
    #[serde(default = "default_x_posts")]
    pub posts_per_window: u32,
    /// The window, in seconds.
    #[serde(default = "default_x_window")]
    pub window_seconds: u64,
    /// With `X_OAUTH2_CLIENT_SECRET` set, still take a webhook that carries
    /// only the legacy consumer-secret signature. For the migration only:
    /// the legacy signature is keyed like the CRC answer, so turn this off
    /// once X sends the OAuth2 header. Without that secret it changes
    /// nothing (the legacy header is then the check).
    #[serde(default)]
    pub accept_legacy_signature: bool,
}

fn default_x_posts() -> u32 {
    100
}

fn default_x_window() -> u64 {
    15 * 60
}

fn default_x_base() -> String {
    "https://api.x.com".into()
}

/// `[facebook]`. Secrets: `FB_PAGE_TOKEN`, `FB_APP_SECRET`, `FB_VERIFY_TOKEN`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FacebookConfig {
    /// The page id.
    pub page_id: String,
    /// Graph API base URL (default Meta's).
    pub graph_base: Option<String>,
    /// Graph API version (default the adapter's pinned one).
    pub graph_version: Option<String>,
    /// A ceiling on sends per second, on top of the pacing the client
    /// takes from Meta's usage headers (none by default).
    pub sends_per_second: Option<u32>,
}

/// `[sms]`. Secret: `TWILIO_AUTH_TOKEN`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SmsConfig {
    /// The Twilio account SID.
    pub account_sid: String,
    /// The sending number (E.164) or messaging service.
    pub from: String,
    /// API base URL.
    #[serde(
        default = "default_twilio_base",
        serialize_with = "serialize_redacted_url"
    )]
    pub api_base: String,
    /// Region for numbers written without a country code.
    #[serde(default = "default_region")]
    pub default_region: String,
    /// The answer to HELP.
    pub help_text: Option<String>,
    /// Messages per second the sender may send (default by sender:
    /// 1 for a long code, 3 toll-free, 100 for a short code; raise it for
    /// a messaging service with more throughput).
    pub messages_per_second: Option<u32>,
}

fn default_twilio_base() -> String {
    "https://api.twilio.com".into()
}

fn default_region() -> String {
    "US".into()
}

/// `[email]`. Secrets: `EMAIL_INBOUND_SECRET` (checked on
/// `POST /webhooks/email`), optionally `SMTP_USER`/`SMTP_PASSWORD` and
/// `IMAP_PASSWORD`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EmailConfig {
    /// The support mailbox (`support@example.com`).
    pub mailbox: String,
    /// SMTP host.
    pub smtp_host: String,
    /// SMTP port (default by security: 465, 587, 25).
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls`, or `plain` (local test servers only:
    /// refused unless `allow_plaintext`).
    #[serde(default = "default_security")]
    pub smtp_security: String,
    /// Allows connections without TLS (`smtp_security = "plain"`,
    /// `[email.imap] plain_for_tests`), which are refused otherwise; the
    /// desk then warns at every start. For local test servers only.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Largest raw message `POST /webhooks/email` accepts, in bytes
    /// (default 25 MiB: mail with attachments; other routes keep
    /// `[server] max_body_bytes`).
    #[serde(default = "default_email_body")]
    pub max_body_bytes: usize,
    /// IMAP polling; absent means the webhook only.
    pub imap: Option<ImapSettings>,
}

fn default_security() -> String {
    "starttls".into()
}

/// The default for `[email] max_body_bytes`: 25 MiB.
pub const DEFAULT_EMAIL_BODY_BYTES: usize = 25 * 1024 * 1024;

fn default_email_body() -> usize {
    DEFAULT_EMAIL_BODY_BYTES
}

/// `[email.imap]`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ImapSettings {
    /// Host.
    pub host: String,
    /// Port (default 993 with TLS, 143 plain).
    pub port: Option<u16>,
    /// User.
    pub user: String,
    /// Folder (default INBOX).
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Plain connection for local test servers (refused unless `[email]
    /// allow_plaintext = true`).
    #[serde(default)]
    pub plain_for_tests: bool,
}

fn default_folder() -> String {
    "INBOX".into()
}

/// `[csat]`: ask for a 1–5 rating after each resolution, always privately
/// (a public conversation is surveyed in the private one a handoff linked
/// to it, or not at all).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CsatConfig {
    /// The question the customer reads.
    pub question: String,
    /// Only conversations resolved on these channels are surveyed
    /// (`["sms", "email"]`); empty means every channel.
    #[serde(default)]
    pub channels: Vec<carekit_core::ChannelKind>,
    /// Minutes between the resolution and the survey (0: at once).
    #[serde(default)]
    pub delay_minutes: i64,
    /// Days after the survey an answer is still read as a rating.
    #[serde(default = "default_answer_days")]
    pub answer_window_days: i64,
}

fn default_answer_days() -> i64 {
    7
}

/// `[taxonomy]`: topics described by keywords and phrases, either in a
/// separate TOML file (`file`, `[[topics]]` tables as the
/// `TaxonomyClassifier` reads them) or inline as `[[taxonomy.topics]]`.
/// Both may be given; the file's topics come first.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TaxonomyConfig {
    /// Path of a taxonomy TOML file (relative to the working directory).
    pub file: Option<std::path::PathBuf>,
    /// Inline topics.
    #[serde(default)]
    pub topics: Vec<carekit_insight::TopicSpec>,
}

/// `[crisis]`: the crisis detector's knobs (defaults as in
/// `carekit_insight::crisis::CrisisConfig`), its team, the prepared holding
/// statement, and whether crisis mode follows incidents automatically.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CrisisSettings {
    /// Width of the counting window, in minutes.
    pub window_minutes: i64,
    /// Windows before the current one that form the baseline.
    pub baseline_windows: usize,
    /// Opens at this many standard deviations above the baseline; 0 turns
    /// the z-score test off.
    pub z_score: f64,
    /// Opens at this many times the baseline mean; 0 turns the ratio test off.
    pub ratio: f64,
    /// Fewest negative mentions in a window that can open an incident.
    pub min_volume: usize,
    /// Smallest negative share of a window that can open one (0 to 1).
    pub min_negative_share: f64,
    /// Calm at or under mean plus this many standard deviations.
    pub close_z: f64,
    /// Minutes of calm before an incident closes.
    pub quiet_minutes: i64,
    /// Floor of the standard deviation.
    pub min_sd: f64,
    /// One baseline per channel and topic (`true`) or per channel.
    pub by_topic: bool,
    /// The team notified and escalated to.
    pub team: String,
    /// The prepared holding statement agents post during a crisis; empty
    /// means none.
    pub holding_statement: String,
    /// Engage crisis mode (public automated replies held back) when an
    /// incident opens, and stand it down when the last one closes.
    pub auto_crisis_mode: bool,
    /// How often the detector evaluates, in seconds of the desk's clock.
    pub tick_seconds: i64,
}

impl Default for CrisisSettings {
    fn default() -> Self {
        Self {
            window_minutes: 15,
            baseline_windows: 8,
            z_score: 3.0,
            ratio: 3.0,
            min_volume: 8,
            min_negative_share: 0.3,
            close_z: 2.0,
            quiet_minutes: 30,
            min_sd: 1.0,
            by_topic: true,
            team: "crisis".into(),
            holding_statement: String::new(),
            auto_crisis_mode: false,
            tick_seconds: 60,
        }
    }
}

/// Named secrets (API tokens, app secrets, auth tokens). `Debug` shows
/// only the names, so a logged configuration leaks nothing.
///
/// ```
/// let secrets = carekit_desk::Secrets::new().with("CAREKIT_API_TOKEN", "s3cret");
/// assert!(!format!("{secrets:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

/// Every secret the server knows, by name.
pub const SECRET_NAMES: &[&str] = &[
    "CAREKIT_API_TOKEN",
    "CAREKIT_METRICS_TOKEN",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
    "X_BEARER_TOKEN",
    "X_OAUTH2_CLIENT_SECRET",
    "FB_PAGE_TOKEN",
    "FB_APP_SECRET",
    "FB_VERIFY_TOKEN",
    "TWILIO_AUTH_TOKEN",
    "EMAIL_INBOUND_SECRET",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "IMAP_PASSWORD",
];

impl Secrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every name in [`SECRET_NAMES`] that is set in the environment.
    pub fn from_env() -> Self {
        let mut secrets = Self::new();
        for name in SECRET_NAMES {
            if let Ok(value) = std::env::var(name)
                && !value.is_empty()
            {
                secrets = secrets.with(name, value);
            }
        }
        secrets
    }

    /// Adds the `NAME=value` lines of `path` (blank lines and `#` comments
    /// skipped; values win over what is already set), the way a secret
    /// store mounts them. The file can change while the desk runs: the
    /// binary re-reads it on `SIGHUP` to replace credentials.
    ///
    /// # Errors
    /// [`DeskServerError::Config`] when the file cannot be read or a line
    /// is not `NAME=value` (the value is never quoted in the message).
    pub fn merge_file(mut self, path: impl AsRef<Path>) -> Result<Self, DeskServerError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            DeskServerError::Config(format!("secrets file {}: {e}", path.display()))
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((name, value)) if !name.trim().is_empty() => {
                    self = self.with(name.trim(), value.trim());
                }
                _ => {
                    return Err(DeskServerError::Config(format!(
                        "secrets file {} line {}: expected NAME=value",
                        path.display(),
                        n + 1
                    )));
                }
            }
        }
        Ok(self)
    }

    /// Sets one secret.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values
            .insert(name.to_owned(), SecretString::from(value.into()));
        self
    }

    /// The value, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|s| s.expose_secret())
    }

    /// The value, or an error naming what needs it.
    ///
    /// # Errors
    /// [`DeskServerError::MissingSecret`].
    pub fn require(&self, name: &str, needed_by: &str) -> Result<&str, DeskServerError> {
        self.get(name)
            .ok_or_else(|| DeskServerError::MissingSecret {
                name: name.to_owned(),
                needed_by: needed_by.to_owned(),
            })
    }

    /// Every value, for scanning logs and reports for leaks.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(|s| s.expose_secret())
    }
}

/// The default for `[server] header_read_timeout_ms`: how long a client
/// may take to send its request headers. Slow-loris connections are closed
/// after this, holding nothing.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `url` with any password in it replaced by `***`: the one in the
/// userinfo (`postgres://user:pw@host/db`) and a `password=` query
/// parameter (`?password=pw`), so a logged server or configuration does
/// not carry the database's credentials.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let authority_end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    if let Some(query) = out.find('?') {
        let (head, tail) = out.split_at(query + 1);
        let redacted: Vec<String> = tail
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_in_store_urls_are_redacted() {
        for (url, shown) in [
            (
                "postgres://carekit:hunter2@db.internal:5432/care",
                "postgres://carekit:***@db.internal:5432/care",
            ),
            (
                "postgres://carekit:p%40ss:w@rd@db/care?sslmode=require",
                "postgres://carekit:***@db/care?sslmode=require",
            ),
            (
                "postgres://db/care?user=carekit&password=hunter2&sslmode=require",
                "postgres://db/care?user=carekit&password=***&sslmode=require",
            ),
            ("postgres://carekit@db/care", "postgres://carekit@db/care"),
            ("sqlite://carekit.db", "sqlite://carekit.db"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }
}
