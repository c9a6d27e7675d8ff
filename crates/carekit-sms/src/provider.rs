//! The provider seam: one trait per SMS gateway.

use async_trait::async_trait;
use carekit_core::{ChannelError, Delivery};

/// One SMS to send.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsRequest {
    /// Recipient, E.164.
    pub to: String,
    /// Sender number, E.164 (or `None` to let the provider pick, e.g. a messaging service).
    pub from: Option<String>,
    /// The text.
    pub body: String,
    /// Where the provider posts delivery updates.
    pub status_callback: Option<String>,
}

impl SmsRequest {
    /// A request to `to` with `body`.
    pub fn new(to: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            from: None,
            body: body.into(),
            status_callback: None,
        }
    }
    /// Sets the sender.
    pub fn from_number(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }
    /// Sets the status callback URL.
    pub fn with_status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }
}

/// The provider's receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentSms {
    /// The provider's message id (a Twilio `SM…` SID).
    pub sid: String,
    /// The provider's status word (`queued`, `sent`, ...).
    pub status: String,
    /// Segments billed, if the provider says.
    pub segments: Option<u32>,
}

impl SentSms {
    /// A receipt.
    pub fn new(sid: impl Into<String>, status: impl Into<String>, segments: Option<u32>) -> Self {
        Self {
            sid: sid.into(),
            status: status.into(),
            segments,
        }
    }
}

/// Sends SMS through one gateway.
#[async_trait]
pub trait SmsProvider: Send + Sync {
    /// Sends one message. Must not retry on its own.
    async fn send(&self, request: &SmsRequest) -> Result<SentSms, ChannelError>;

    /// Looks for a message already sent with this body to `to` (after a
    /// crash left a send's outcome unknown).
    async fn find_sent(&self, request: &SmsRequest) -> Result<Option<Delivery>, ChannelError> {
        let _ = request;
        Err(ChannelError::Unsupported("find_sent"))
    }
}

/// What kind of sender number, which sets its throughput.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SenderKind {
    /// A US/Canada 10-digit long code: 1 segment per second.
    LongCode,
    /// A toll-free number: 3 segments per second.
    TollFree,
    /// A short code: 100 segments per second.
    ShortCode,
    /// Anything else, with its own rate.
    PerSecond(u32),
}

impl SenderKind {
    /// Messages per second this sender may send.
    pub fn per_second(self) -> u32 {
        match self {
            SenderKind::LongCode => 1,
            SenderKind::TollFree => 3,
            SenderKind::ShortCode => 100,
            SenderKind::PerSecond(n) => n.max(1),
        }
    }
}
