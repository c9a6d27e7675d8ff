//! # carekit-desk
//!
//! A small, production-shaped care-desk server built from carekit's parts,
//! and the reference for composing them yourself.
//!
//! - Webhooks: `GET|POST /webhooks/twitter` (CRC and events),
//!   `GET|POST /webhooks/facebook` (handshake and events),
//!   `POST /webhooks/twilio/sms` (+ `/status`), `POST /webhooks/email`
//!   (`message/rfc822`). Each is authenticated by its platform's signature.
//! - JSON API (an agent's bearer token, checked for the route's scope):
//!   `GET /api/conversations`, `GET /api/conversations/{id}`,
//!   `POST /api/conversations/{id}/reply`, `…/handoff`, `…/resolve`,
//!   `GET /api/reports/summary`; agents and tokens under `/api/agents`,
//!   `/api/tokens` and `/api/me`; the configuration (secrets redacted) at
//!   `GET /api/admin/config`; `POST /api/login`, and `POST
//!   /api/bootstrap` (the configured `CAREKIT_API_TOKEN`, once) for the
//!   first admin. See `docs/desk.md`.
//! - `GET /healthz` and `GET /metrics` (Prometheus text).
//! - SQLite by default, Postgres by URL; the outbox and SLA worker and any
//!   pollers run beside the server and stop with it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), carekit_desk::DeskServerError> {
//! use carekit_desk::{DeskConfig, DeskServer, Secrets};
//! let config = DeskConfig::from_file("desk.toml")?;
//! let server = DeskServer::builder(config, Secrets::from_env()).build().await?;
//! server.run().await
//! # }
//! ```

pub mod adapters;
mod api;
mod app;
mod auth;
mod care;
mod config;
mod console;
mod credentials;
mod digest;
mod error;
pub mod inbox;
mod insight;
mod live;
pub mod metrics;
pub mod notify;
mod people;
pub mod report;
mod server;

pub use app::{DeskServer, DeskServerBuilder};
pub use config::HEADER_READ_TIMEOUT;
pub use config::{
    AcknowledgeConfig, AgentConfig, AssignmentConfig, CalendarConfig, CrisisSettings, CsatConfig,
    DEFAULT_EMAIL_BODY_BYTES, DeskConfig, DigestConfig, DigestCovers, EmailConfig, EngineConfig,
    FacebookConfig, ImapSettings, InboxConfig, NotifyConfig, NotifyVia, OutreachConfig,
    SECRET_NAMES, Secrets, ServerConfig, SlaConfig, SmsConfig, StoreConfig, StrategyConfig,
    TaxonomyConfig, TeamAgentConfig, TeamConfig, TwitterConfig, WeekHours,
};
pub use credentials::{CredentialSwap, Swapped};
pub use error::DeskServerError;
pub use insight::Insight;
pub use people::{FAILURE_WINDOW_MINUTES, MAX_FAILURES, TOKEN_PREFIX};
pub use report::DayReport;
pub use server::{Background, Shutdown, shutdown_signal};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
