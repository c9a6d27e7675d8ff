//! The sandbox: a whole day of customer care on a laptop, with no
//! credentials.
//!
//! [`FakePlatforms`] starts local stand-ins for the X API, the Graph API,
//! Twilio and an SMTP server on 127.0.0.1; [`standard_day`] scripts what
//! customers send and what agents do; [`SandboxDay`] runs the real desk
//! server (real adapters, real HTTP, the SQLite store) against them on a
//! virtual clock, posting each customer message as the platform's signed
//! webhook and each agent action through the JSON API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), carekit_desk::DeskServerError> {
//! use carekit_desk::sandbox::SandboxDay;
//! let outcome = SandboxDay::builder()
//!     .store_url("sqlite://care-desk.db?mode=rwc")
//!     .build()
//!     .run(|happening| println!("{happening}"))
//!     .await?;
//! println!("{}", outcome.report.to_json());
//! # Ok(()) }
//! ```

mod day;
mod fakes;
mod script;
mod signer;

pub use day::{CSAT_QUESTION, DayOutcome, Happening, SandboxDay, SandboxDayBuilder, StepResult};
pub use fakes::{Delivered, FakePlatforms, FaultKind, Faults, Platform};
pub use script::{Action, AgentAction, Inbound, Step, standard_day};
pub use signer::{
    Accounts, SignedRequest, WebhookSigner, meta_signature, twilio_signature, x_signature,
};
