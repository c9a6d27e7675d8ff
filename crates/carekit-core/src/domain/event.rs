//! The normalised form in which every adapter hands inbound traffic to the desk.

use crate::channel::{ChannelKind, DeliveryState, Visibility};
use crate::domain::{Attachment, AuthorProfile, Identity};
use crate::ids::ThreadKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an inbound event is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A customer wrote something.
    Message,
    /// The brand's own message, seen coming back from the platform (X and
    /// Messenger echo what the page sends; a reply typed in the platform's
    /// own app arrives this way too). Recorded as outbound, never answered.
    Echo,
    /// The customer edited an earlier message (`external_id` names the edit
    /// event; [`ThreadHints::parents`] starts with the edited message).
    Edited,
    /// The customer removed a message (`external_id` names the removal).
    Removed,
    /// A delivery update for a message the brand sent.
    Delivery {
        /// The platform id of the brand's message.
        provider_id: String,
        /// Its new state.
        state: DeliveryState,
        /// The platform's error code or reason, for failures.
        error: Option<String>,
    },
    /// The customer opted out of (`opted_in: false`) or back into a channel
    /// (SMS STOP/START). Stored, so it outlives the process.
    Consent {
        /// `true` for START/UNSTOP, `false` for STOP and its synonyms.
        opted_in: bool,
    },
}

/// Where an event belongs, as far as the platform can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadHints {
    /// The platform's thread (X conversation id, Messenger page+PSID, SMS
    /// number pair, email thread root).
    pub key: Option<ThreadKey>,
    /// Platform ids of the messages this answers, nearest first (the tweet
    /// replied to, the parent comment, `In-Reply-To` then `References`).
    pub parents: Vec<String>,
}

/// An inbound event, normalised. Adapters produce it; platform JSON never
/// travels past the adapter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InboundEvent {
    /// Which platform.
    pub channel: ChannelKind,
    /// The brand's account it arrived on (X user id, page id, business number, mailbox).
    pub account: String,
    /// The platform's stable id for this event; the dedupe key with `channel`.
    pub external_id: String,
    /// What happened.
    pub kind: EventKind,
    /// Public or private.
    pub visibility: Visibility,
    /// Who wrote it (for echoes: the customer the brand wrote to).
    pub author: Identity,
    /// What the platform said about the author.
    pub author_profile: AuthorProfile,
    /// The text, empty for events that carry none. When an adapter
    /// extracts the new part of a message (an email reply without its quote
    /// and signature), this is the extract and [`original_text`] keeps what
    /// the customer actually sent.
    ///
    /// [`original_text`]: InboundEvent::original_text
    pub text: String,
    /// The whole text as the customer sent it, when [`text`] is an extract.
    ///
    /// [`text`]: InboundEvent::text
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_text: Option<String>,
    /// The platform's raw form of the message (an email's RFC 5322 source),
    /// bounded by the adapter; kept so nothing the customer sent is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Subject line (email).
    pub subject: Option<String>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// Threading hints.
    pub thread: ThreadHints,
    /// When the platform says it happened.
    pub occurred_at: DateTime<Utc>,
    /// Whether an automatic answer is allowed (false for auto-submitted
    /// mail, bulk mail, delivery reports).
    pub auto_reply_allowed: bool,
}

/// Longest external id accepted.
const MAX_EXTERNAL_ID: usize = 512;
/// Longest text (and original text) an event may carry, in bytes: larger
/// bodies are an adapter bug or an attack, and adapters cut theirs to fit.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Longest raw form accepted (adapters cut theirs to fit).
pub const MAX_RAW_BYTES: usize = 1024 * 1024;
/// Longest author handle, account or thread key accepted.
const MAX_HANDLE: usize = 512;

impl InboundEvent {
    /// Whether the desk can use this event at all: an external id (the
    /// dedupe key) of at most 512 bytes, text of at most 256 KiB, and an
    /// author for messages and consent. Checked by [`Desk::ingest`] and by
    /// sinks that acknowledge before ingesting, so a bad event is refused
    /// while the platform can still hear about it.
    ///
    /// # Errors
    /// What is wrong; the same event fails again on retry.
    ///
    /// [`Desk::ingest`]: crate::Desk::ingest
    pub fn validate(&self) -> Result<(), String> {
        let id = self.external_id.trim();
        if id.is_empty() {
            return Err("empty external id".into());
        }
        if id.len() > MAX_EXTERNAL_ID {
            return Err(format!(
                "external id is {} bytes; at most {MAX_EXTERNAL_ID}",
                id.len()
            ));
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(format!(
                "text is {} bytes; at most {MAX_TEXT_BYTES}",
                self.text.len()
            ));
        }
        if let Some(original) = &self.original_text
            && original.len() > MAX_TEXT_BYTES
        {
            return Err(format!(
                "original text is {} bytes; at most {MAX_TEXT_BYTES}",
                original.len()
            ));
        }
        if let Some(raw) = &self.raw
            && raw.len() > MAX_RAW_BYTES
        {
            return Err(format!(
                "raw message is {} bytes; at most {MAX_RAW_BYTES}",
                raw.len()
            ));
        }
        // Identifiers go into indexed columns: no control characters (a NUL
        // cannot be stored in a Postgres text column at all) and bounded.
        let identifiers = [
            ("external id", Some(self.external_id.as_str())),
            ("author handle", Some(self.author.handle.as_str())),
            ("account", Some(self.account.as_str())),
            ("thread key", self.thread.key.as_ref().map(|k| k.as_str())),
        ];
        for (what, value) in identifiers {
            let Some(value) = value else { continue };
            if value.len() > MAX_HANDLE {
                return Err(format!(
                    "{what} is {} bytes; at most {MAX_HANDLE}",
                    value.len()
                ));
            }
            if value.chars().any(char::is_control) {
                return Err(format!("{what} contains a control character"));
            }
        }
        if let EventKind::Delivery { provider_id, .. } = &self.kind
            && (provider_id.len() > MAX_HANDLE || provider_id.chars().any(char::is_control))
        {
            return Err("provider id is too long or contains a control character".into());
        }
        for parent in &self.thread.parents {
            if parent.len() > MAX_HANDLE || parent.chars().any(char::is_control) {
                return Err("a parent id is too long or contains a control character".into());
            }
        }
        let needs_author = matches!(
            self.kind,
            EventKind::Message | EventKind::Echo | EventKind::Consent { .. }
        );
        if needs_author && self.author.handle.trim().is_empty() {
            return Err("event has no author handle".into());
        }
        Ok(())
    }

    /// A customer message with the required facts; refine with the `with_*` methods.
    pub fn message(
        channel: ChannelKind,
        visibility: Visibility,
        external_id: impl Into<String>,
        author: Identity,
        text: impl Into<String>,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            channel,
            account: String::new(),
            external_id: external_id.into(),
            kind: EventKind::Message,
            visibility,
            author,
            author_profile: AuthorProfile::default(),
            text: text.into(),
            original_text: None,
            raw: None,
            subject: None,
            attachments: Vec::new(),
            thread: ThreadHints::default(),
            occurred_at,
            auto_reply_allowed: true,
        }
    }
    /// Sets the kind.
    pub fn with_kind(mut self, kind: EventKind) -> Self {
        self.kind = kind;
        self
    }
    /// Sets the brand account.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }
    /// Sets the thread key.
    pub fn with_thread_key(mut self, key: impl Into<String>) -> Self {
        self.thread.key = Some(ThreadKey::new(key));
        self
    }
    /// Adds a parent (call nearest first).
    pub fn with_parent(mut self, external_id: impl Into<String>) -> Self {
        self.thread.parents.push(external_id.into());
        self
    }
    /// Sets the author profile.
    pub fn with_profile(mut self, profile: AuthorProfile) -> Self {
        self.author_profile = profile;
        self
    }
    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Keeps the whole text as sent beside an extracted [`text`](InboundEvent::text).
    pub fn with_original_text(mut self, original: impl Into<String>) -> Self {
        self.original_text = Some(original.into());
        self
    }
    /// Keeps the platform's raw form (bounded by the adapter).
    pub fn with_raw(mut self, raw: impl Into<String>) -> Self {
        self.raw = Some(raw.into());
        self
    }
    /// Adds an attachment.
    pub fn with_attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }
    /// Forbids automatic answers (auto-submitted or bulk mail).
    pub fn without_auto_reply(mut self) -> Self {
        self.auto_reply_allowed = false;
        self
    }
}
