//! From raw RFC 5322 bytes to a normalised [`InboundEvent`] handed to an
//! [`EventSink`]. The IMAP poller and the HTTP route both go through here,
//! so every path parses, threads and filters the same way.

use crate::error::EmailError;
use crate::parse::{DEFAULT_MAX_MESSAGE_BYTES, ParsedEmail, parse_message};
use crate::reply::extract_reply;
use crate::thread::{EmailThreading, ThreadIndex, thread_email};
use carekit_core::{
    ChannelKind, Clock, Cursors, DeliveryState, EventKind, EventSink, Identity, InboundEvent,
    Visibility,
};
use std::sync::Arc;

/// What happened to one raw message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntakeOutcome {
    /// Handed to the sink (which may still recognise it as a duplicate).
    Accepted {
        /// The event's external id (the Message-ID).
        external_id: String,
        /// Whether an automatic answer is allowed.
        auto_reply_allowed: bool,
        /// Why it threads where it does.
        threading: String,
    },
    /// A bounce recorded against the outbound message it names.
    Bounce {
        /// The Message-ID of our message that bounced.
        original: String,
    },
    /// Deliberately not handed over (a delay notice, a bounce naming no message).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Turns raw mail for one mailbox into events. Cheap to share in an `Arc`.
pub struct EmailIntake {
    account: String,
    sink: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    index: Option<ThreadIndex>,
    max_bytes: usize,
}

impl std::fmt::Debug for EmailIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailIntake")
            .field("account", &self.account)
            .field("thread_index", &self.index.is_some())
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl EmailIntake {
    /// Intake for the mailbox `account` (`support@example.com`), handing
    /// events to `sink` (usually the `Desk`).
    pub fn new(
        account: impl Into<String>,
        sink: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            account: account.into().trim().to_lowercase(),
            sink,
            clock,
            index: None,
            max_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Keeps a [`ThreadIndex`] in `cursors` (pass the desk's store), so
    /// replies that share only a missing root still get one key.
    pub fn with_thread_index(mut self, cursors: Arc<dyn Cursors>) -> Self {
        self.index = Some(ThreadIndex::new(cursors, &self.account));
        self
    }

    /// Largest raw message accepted (default [`DEFAULT_MAX_MESSAGE_BYTES`], 40 MiB).
    pub fn with_max_message_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// The mailbox address, lowercased.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The size limit in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Parses and threads `raw`, and builds the event, without handing it over.
    ///
    /// # Errors
    /// Too large, malformed, or the thread index's store failed.
    pub async fn prepare(
        &self,
        raw: &[u8],
    ) -> Result<(ParsedEmail, EmailThreading, InboundEvent), EmailError> {
        let email = parse_message(raw, self.max_bytes)?;
        let threading = match &self.index {
            Some(index) => index.thread(&email, &self.account).await?,
            None => thread_email(&email, &self.account),
        };
        let event = to_event(&email, &threading, &self.account, self.clock.now());
        Ok((email, threading, event))
    }

    /// Parses `raw`, hands the event to the sink, and records its thread.
    ///
    /// # Errors
    /// Bad input ([`EmailError::Malformed`], [`EmailError::TooLarge`]) or the
    /// sink/store refused ([`EmailError::Sink`], [`EmailError::Store`]; see
    /// [`EmailError::is_retryable`]).
    pub async fn ingest_raw(&self, raw: &[u8]) -> Result<IntakeOutcome, EmailError> {
        let (email, threading, event) = self.prepare(raw).await?;
        if let Some(bounce) = &email.bounce {
            let original = match &bounce.original_message_id {
                Some(id) if bounce.is_failure() => id.clone(),
                Some(_) => {
                    return Ok(skip(&email, "delivery report that is not a failure"));
                }
                None => {
                    return Ok(skip(&email, "delivery report naming no Message-ID"));
                }
            };
            self.sink.accept(event).await?;
            tracing::info!(message_id = %email.message_id, %original, "email bounce recorded");
            return Ok(IntakeOutcome::Bounce { original });
        }
        let external_id = event.external_id.clone();
        let auto_reply_allowed = event.auto_reply_allowed;
        self.sink.accept(event).await?;
        if let Some(index) = &self.index {
            index.remember(&email, &threading.token).await?;
        }
        let explanation = threading.explain();
        tracing::debug!(message_id = %external_id, threading = %explanation, noise = ?email.noise, "email accepted");
        Ok(IntakeOutcome::Accepted {
            external_id,
            auto_reply_allowed,
            threading: explanation,
        })
    }
}

fn skip(email: &ParsedEmail, reason: &str) -> IntakeOutcome {
    tracing::info!(message_id = %email.message_id, reason, "email skipped");
    IntakeOutcome::Skipped {
        reason: reason.to_owned(),
    }
}

/// Builds the normalised event: channel Email, account = the mailbox,
/// external id = Message-ID, private, author = lowercased From address,
/// text = the extracted reply. Bounces become [`EventKind::Delivery`]
/// failures against the original Message-ID; noise forbids auto-replies.
pub fn to_event(
    email: &ParsedEmail,
    threading: &EmailThreading,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> InboundEvent {
    let mut author = Identity::new(ChannelKind::Email, email.from.handle());
    if let Some(name) = email.from.name.clone() {
        author = author.with_display_name(name);
    }
    // A Date in the future (bad clocks, spoofing) must not skew SLAs.
    let occurred_at = email.date.map_or(now, |d| d.min(now));
    let text = extract_reply(&email.text).text;
    let mut event = InboundEvent::message(
        ChannelKind::Email,
        Visibility::Private,
        email.message_id.clone(),
        author,
        text,
        occurred_at,
    )
    .with_account(account);
    event.thread = threading.hints();
    if let Some(subject) = &email.subject {
        event = event.with_subject(subject.clone());
    }
    for attachment in &email.attachments {
        event = event.with_attachment(attachment.clone());
    }
    if let Some(bounce) = &email.bounce
        && let Some(original) = &bounce.original_message_id
    {
        event = event.with_kind(EventKind::Delivery {
            provider_id: original.clone(),
            state: DeliveryState::Failed,
            error: Some(bounce.reason()),
        });
    }
    if !email.noise.is_empty() {
        event = event.without_auto_reply();
    }
    event
}
