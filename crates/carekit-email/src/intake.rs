//! From raw RFC 5322 bytes to a normalised [`InboundEvent`] handed to an
//! [`EventSink`]. The IMAP poller and the HTTP route both go through here,
//! so every path parses, threads and filters the same way.

use crate::error::EmailError;
use crate::parse::{DEFAULT_MAX_MESSAGE_BYTES, EmailAddress, ParsedEmail, parse_message};
use crate::raw::floor_char_boundary;
use crate::reply::extract_reply;
use crate::smtp::is_carekit_message_id;
use crate::thread::{EmailThreading, ThreadIndex, thread_email};
use carekit_core::{
    ChannelKind, Clock, DeliveryState, EventKind, EventSink, Identity, InboundEvent, KeyValues,
    ThreadHints, Visibility,
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
    /// A copy of the desk's own mail (a Sent folder, a Bcc to the support
    /// mailbox, a list reflecting it) handed over as an
    /// [`EventKind::Echo`], for the desk to resolve to the message it sent.
    Echo {
        /// The copy's Message-ID (for mail the desk sent, its
        /// `Delivery::provider_id`).
        external_id: String,
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

    /// Keeps a [`ThreadIndex`] in `values` (pass the desk's store), so
    /// replies that share only a missing root still get one key.
    pub fn with_thread_index(mut self, values: Arc<dyn KeyValues>) -> Self {
        self.index = Some(ThreadIndex::new(values, &self.account));
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
        if event.kind == EventKind::Echo {
            let external_id = event.external_id.clone();
            self.sink.accept(event).await?;
            tracing::debug!(message_id = %external_id, "email echo of the desk's own mail");
            return Ok(IntakeOutcome::Echo { external_id });
        }
        if own_mail(&email, &self.account).is_some() {
            return Ok(skip(&email, "the desk's own mail, naming no customer"));
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
/// text = the extracted reply, `original_text` = the whole text body when
/// it differs from the extract, `raw` = the source as
/// [`ParsedEmail::raw`] keeps it. Texts longer than an event holds (256 KiB)
/// are cut with a note saying so. Bounces become [`EventKind::Delivery`]
/// failures against the original Message-ID; noise forbids auto-replies.
///
/// The desk's own mail read back becomes [`EventKind::Echo`] with the
/// recipient (first `To`, else `Cc`, that is not the mailbox) as author:
/// mail whose Message-ID has the shape [`EmailChannel`](crate::EmailChannel)
/// gives its mail (`<uuid>@<mailbox domain>`) threads only through that id,
/// so it resolves to the message the desk sent or to nothing; mail `From`
/// the mailbox with another id (an agent writing from a mail client)
/// threads like any reply. When such mail names no recipient, the event
/// keeps its author (the mailbox) and [`EmailIntake::ingest_raw`] skips it.
pub fn to_event(
    email: &ParsedEmail,
    threading: &EmailThreading,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> InboundEvent {
    let own = own_mail(email, account);
    let recipient = own.and_then(|_| recipient(email, account));
    let author_address = recipient.unwrap_or(&email.from);
    let mut author = Identity::new(ChannelKind::Email, author_address.handle());
    if let Some(name) = author_address.name.clone() {
        author = author.with_display_name(name);
    }
    // A Date in the future (bad clocks, spoofing) must not skew SLAs.
    let occurred_at = email.date.map_or(now, |d| d.min(now));
    let text = extract_reply(&email.text).text;
    let differs = normalise_newlines(&email.text).trim() != text;
    let mut event = InboundEvent::message(
        ChannelKind::Email,
        Visibility::Private,
        email.message_id.clone(),
        author,
        bounded_text(text),
        occurred_at,
    )
    .with_account(account)
    .with_raw(email.raw.clone());
    if differs {
        event = event.with_original_text(bounded_text(email.text.clone()));
    }
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
    if let (Some(own), Some(_)) = (own, recipient) {
        event = event.with_kind(EventKind::Echo).without_auto_reply();
        if own == OwnMail::SentByCarekit {
            // Only the id itself: a copy of mail the desk sent lands where
            // that mail is stored, or nowhere.
            event.thread = ThreadHints {
                key: None,
                parents: vec![email.message_id.clone()],
            };
        }
    }
    event
}

/// How mail was recognised as the desk's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnMail {
    /// Its Message-ID is one [`EmailChannel`](crate::EmailChannel) generates.
    SentByCarekit,
    /// `From` is the mailbox (or a plus-address of it).
    FromMailbox,
}

/// Whether `email` is the desk's own mail read back. Bounces never are.
fn own_mail(email: &ParsedEmail, account: &str) -> Option<OwnMail> {
    if email.bounce.is_some() {
        return None;
    }
    if !email.message_id_synthesised && is_carekit_message_id(&email.message_id, account) {
        return Some(OwnMail::SentByCarekit);
    }
    is_mailbox(&email.from.handle(), account).then_some(OwnMail::FromMailbox)
}

/// The customer the desk's own mail was written to: the first `To`, else
/// `Cc`, address that is not the mailbox.
fn recipient<'a>(email: &'a ParsedEmail, account: &str) -> Option<&'a EmailAddress> {
    email
        .to
        .iter()
        .chain(&email.cc)
        .find(|a| !is_mailbox(&a.handle(), account))
}

/// `address` is the mailbox `account` or a plus-address of it.
fn is_mailbox(address: &str, account: &str) -> bool {
    let strip = |a: &str| -> Option<(String, String)> {
        let (local, domain) = a.trim().rsplit_once('@')?;
        let local = local.split('+').next().unwrap_or(local);
        Some((local.to_lowercase(), domain.to_lowercase()))
    };
    matches!((strip(address), strip(account)), (Some(a), Some(b)) if a == b)
}

fn normalise_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Longest text an [`InboundEvent`] accepts, in bytes (`text` and
/// `original_text`).
pub(crate) const MAX_EVENT_TEXT_BYTES: usize = carekit_core::domain::MAX_TEXT_BYTES;

/// `text` cut to what an event holds, on a character boundary, ending with
/// a note that says how long it was.
fn bounded_text(mut text: String) -> String {
    if text.len() <= MAX_EVENT_TEXT_BYTES {
        return text;
    }
    let note = format!("\n\n[cut by carekit: the text is {} bytes]", text.len());
    let keep = floor_char_boundary(&text, MAX_EVENT_TEXT_BYTES - note.len());
    text.truncate(keep);
    text.push_str(&note);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_with(text: usize, raw: usize) -> InboundEvent {
        InboundEvent::message(
            ChannelKind::Email,
            Visibility::Private,
            "m@x.example",
            Identity::new(ChannelKind::Email, "a@x.example"),
            "a".repeat(text),
            chrono::DateTime::UNIX_EPOCH,
        )
        .with_original_text("b".repeat(text))
        .with_raw("c".repeat(raw))
    }

    /// The bounds this crate cuts to are the ones the desk enforces.
    #[test]
    fn bounds_match_what_an_event_accepts() {
        let max_raw = crate::raw::MAX_RAW_BYTES;
        assert!(event_with(MAX_EVENT_TEXT_BYTES, max_raw).validate().is_ok());
        assert!(event_with(MAX_EVENT_TEXT_BYTES + 1, 0).validate().is_err());
        assert!(event_with(0, max_raw + 1).validate().is_err());
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_with_a_note() {
        let cut = bounded_text("é".repeat(MAX_EVENT_TEXT_BYTES));
        assert!(cut.len() <= MAX_EVENT_TEXT_BYTES);
        assert!(cut.ends_with(&format!(
            "[cut by carekit: the text is {} bytes]",
            2 * MAX_EVENT_TEXT_BYTES
        )));
        let short = "é".repeat(10);
        assert_eq!(bounded_text(short.clone()), short);
    }

    #[test]
    fn the_mailbox_and_its_plus_addresses_are_ours() {
        assert!(is_mailbox("Support@Example.com", "support@example.com"));
        assert!(is_mailbox(
            "support+ck0123456789abcdef@example.com",
            "support@example.com"
        ));
        assert!(!is_mailbox("support@example.org", "support@example.com"));
        assert!(!is_mailbox("supportx@example.com", "support@example.com"));
        assert!(!is_mailbox("not an address", "support@example.com"));
    }
}
