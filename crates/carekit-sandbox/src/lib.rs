//! # carekit-sandbox
//!
//! A whole day of customer care on a laptop, with no credentials.
//!
//! [`FakePlatforms`] starts the adapters' own fakes (each adapter's `fake`
//! feature: the X API, the Graph API, Twilio and an SMTP sink) on
//! 127.0.0.1 with one shared ledger; [`standard_day`] scripts what
//! customers send and what agents do; [`SandboxDay`] runs the real desk
//! server (`carekit-desk`: real adapters, real HTTP, the SQLite store)
//! against them on a virtual clock, posting each customer message as the
//! platform's signed webhook (built by the adapter's fake with its own
//! signing code) and each agent action through the JSON API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), carekit_desk::DeskServerError> {
//! use carekit_sandbox::SandboxDay;
//! let outcome = SandboxDay::builder()
//!     .store_url("sqlite://care-desk.db?mode=rwc")
//!     .build()
//!     .run(|happening| println!("{happening}"))
//!     .await?;
//! println!("{}", outcome.report.to_json());
//! # Ok(()) }
//! ```

mod day;
mod platforms;
mod script;
mod signer;

pub use carekit_testing::fake_platform::{
    Delivered, FaultKind, Faults, Ledger, Platform, SignedWebhook,
};
pub use day::{CSAT_QUESTION, DayOutcome, Happening, SandboxDay, SandboxDayBuilder, StepResult};
pub use platforms::FakePlatforms;
pub use script::{Action, AgentAction, Inbound, Step, standard_day};
pub use signer::{Accounts, WebhookSigner};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
