//! Turns a verified webhook body into carekit `InboundEvent`s.
//!
//! Mapping (see `docs/facebook.md`):
//! - page `feed` comments and posts: public; external id = comment id (post
//!   id for posts); thread key = post id for posts and `{post}:{author}` for
//!   comments, so each commenter on a brand's post is a conversation of
//!   their own, while replies join through their parents = `parent_id`
//!   (then the post, which joins a visitor's post and its comments); edits and
//!   removals name the comment first in their parents and get an external id
//!   of their own, unique per edit. A new comment by the page itself is an
//!   `EventKind::Echo` (external id = the comment id, author = the page,
//!   no thread key: it joins through its parents); the page's own posts,
//!   edits and removals are skipped.
//! - Messenger: private; external id = `mid`; thread key =
//!   `{page_id}:{psid}`; author = the PSID; echoes of the page's own
//!   messages become `EventKind::Echo` (author = the customer written to);
//!   deliveries become one `EventKind::Delivery` per `mid`.
//!
//! Anything else (other pages, other fields, reactions, opt-ins, ...) is
//! skipped with a `tracing` line and listed in [`WebhookBatch::skipped`].

use crate::error::FacebookError;
use crate::wire::{Change, Entry, Envelope, FeedValue, MessageBody, Messaging, Party, TimeValue};
use carekit_core::{
    Attachment, ChannelKind, DeliveryState, EventKind, Identity, InboundEvent, Visibility,
};
use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

/// What one webhook POST held, normalised.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct WebhookBatch {
    /// Events for the desk, in payload order (do not rely on it: Meta does not).
    pub events: Vec<InboundEvent>,
    /// What was skipped, and why (also logged).
    pub skipped: Vec<String>,
}

/// The thread key of a comment: one conversation per commenter and post,
/// so strangers commenting on the same brand post are never merged.
pub fn comment_thread_key(post_id: &str, author: &str) -> String {
    format!("{post_id}:{author}")
}

/// The Messenger thread key for a customer of a page: `{page_id}:{psid}`.
pub fn messenger_thread_key(page_id: &str, psid: &str) -> String {
    format!("{page_id}:{psid}")
}

/// Parses a webhook body that has already passed the signature check.
/// `now` stands in for events that carry no time of their own.
///
/// # Errors
/// [`FacebookError::Json`] when the body is not JSON of the envelope's
/// shape (truncated, not an object, `entry` not a list). Individual entries
/// or events of an unexpected shape are skipped, not fatal.
pub fn parse_webhook(
    body: &[u8],
    page_id: &str,
    now: DateTime<Utc>,
) -> Result<WebhookBatch, FacebookError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| FacebookError::Json(e.to_string()))?;
    let mut batch = WebhookBatch::default();
    if envelope.object != "page" {
        batch.skip(format!(
            "object {:?} is not a page subscription",
            envelope.object
        ));
        return Ok(batch);
    }
    for entry in envelope.entry {
        batch.entry(entry, page_id, now);
    }
    Ok(batch)
}

impl WebhookBatch {
    fn skip(&mut self, reason: String) {
        tracing::info!(%reason, "facebook webhook: skipped");
        self.skipped.push(reason);
    }

    fn entry(&mut self, entry: Entry, page_id: &str, now: DateTime<Utc>) {
        let entry_page = entry.id.into_string();
        if entry_page != page_id {
            self.skip(format!(
                "entry for page {entry_page}, this desk serves page {page_id}"
            ));
            return;
        }
        // Feed entry times are Unix seconds.
        let entry_time = entry.time.and_then(unix_seconds_or_millis).unwrap_or(now);
        for raw in entry.changes {
            match serde_json::from_value::<Change>(raw) {
                Ok(change) if change.field == "feed" => {
                    match serde_json::from_value::<FeedValue>(change.value) {
                        Ok(feed) => self.feed(feed, page_id, entry_time),
                        Err(e) => self.skip(format!("feed change of an unexpected shape: {e}")),
                    }
                }
                Ok(change) => self.skip(format!("change field {:?} is not handled", change.field)),
                Err(e) => self.skip(format!("change of an unexpected shape: {e}")),
            }
        }
        for raw in entry.messaging {
            match serde_json::from_value::<Messaging>(raw) {
                Ok(event) => self.messaging(event, page_id, now),
                Err(e) => self.skip(format!("messaging event of an unexpected shape: {e}")),
            }
        }
        if !entry.standby.is_empty() {
            self.skip(format!(
                "{} standby events (another app owns the thread)",
                entry.standby.len()
            ));
        }
    }

    fn feed(&mut self, feed: FeedValue, page_id: &str, entry_time: DateTime<Utc>) {
        let author = party_identity(feed.from.as_ref());
        let from_page = feed.from.as_ref().is_some_and(|_| author.handle == page_id);
        // The page's own new comments are echoes of its replies (sent by the
        // desk or typed on Facebook); its posts answer nobody, and its edits
        // and removals change nothing a customer wrote.
        if from_page && !(feed.item == "comment" && feed.verb == "add") {
            self.skip(format!(
                "the page's own {} ({}): not a customer's message",
                feed.item, feed.verb
            ));
            return;
        }
        let occurred_at = feed
            .created_time
            .as_ref()
            .and_then(parse_time)
            .unwrap_or(entry_time);
        let text = feed.message.clone().unwrap_or_default();
        let Some(post_id) = feed.post_id.clone() else {
            self.skip(format!("feed {} without post_id", feed.item));
            return;
        };
        let (target, parents): (String, Vec<String>) = match feed.item.as_str() {
            "comment" => {
                let Some(comment_id) = feed.comment_id.clone() else {
                    self.skip("comment change without comment_id".into());
                    return;
                };
                let mut parents = Vec::new();
                if let Some(parent) = feed.parent_id.clone().filter(|p| *p != comment_id) {
                    parents.push(parent);
                }
                if !parents.contains(&post_id) {
                    parents.push(post_id.clone());
                }
                (comment_id, parents)
            }
            "post" | "status" | "photo" | "video" | "share" | "link" => {
                (post_id.clone(), Vec::new())
            }
            other => {
                self.skip(format!(
                    "feed item {other:?} ({}) is not handled",
                    feed.verb
                ));
                return;
            }
        };
        let key = if feed.item == "comment" {
            comment_thread_key(&post_id, &author.handle)
        } else {
            post_id
        };
        let base = InboundEvent::message(
            ChannelKind::Facebook,
            Visibility::Public,
            target.clone(),
            author,
            text.clone(),
            occurred_at,
        )
        .with_account(page_id);
        if from_page {
            // The customer answered is not in the payload: the echo joins
            // the conversation of the comment it answers (its parents), and
            // opens none. Its external id is the comment id Graph returned.
            let echo = parents
                .into_iter()
                .fold(base.with_kind(EventKind::Echo), InboundEvent::with_parent);
            self.events.push(echo);
            return;
        }
        let base = base.with_thread_key(key);
        let event = match feed.verb.as_str() {
            "add" => parents.into_iter().fold(base, InboundEvent::with_parent),
            "edited" => {
                let stamp = feed
                    .created_time
                    .as_ref()
                    .and_then(parse_time)
                    .unwrap_or(entry_time)
                    .timestamp();
                let mut event = base
                    .with_kind(EventKind::Edited)
                    .with_parent(target.clone());
                event.external_id = format!("{target}:edit:{stamp}:{}", short_hash(&text));
                event.occurred_at = entry_time.max(occurred_at);
                event
            }
            "remove" => {
                let mut event = base
                    .with_kind(EventKind::Removed)
                    .with_parent(target.clone());
                event.external_id = format!("{target}:removed");
                event.occurred_at = entry_time.max(occurred_at);
                event
            }
            other => {
                self.skip(format!("feed {} verb {other:?} is not handled", feed.item));
                return;
            }
        };
        self.events.push(event);
    }

    fn messaging(&mut self, event: Messaging, page_id: &str, now: DateTime<Utc>) {
        let occurred_at = event
            .timestamp
            .and_then(unix_seconds_or_millis)
            .unwrap_or(now);
        let sender = event.sender.id.into_string();
        let recipient = event.recipient.id.into_string();
        if let Some(message) = event.message {
            let echo = message.is_echo;
            // Echoes travel page → customer; everything else customer → page.
            let psid = if echo { recipient } else { sender };
            if psid == page_id {
                self.skip(format!(
                    "message {} names the page as the customer",
                    message.mid
                ));
                return;
            }
            if message.is_deleted {
                self.skip(format!("message {} was deleted", message.mid));
                return;
            }
            self.events.push(messenger_message(
                message,
                page_id,
                &psid,
                echo,
                occurred_at,
            ));
            return;
        }
        if sender == page_id {
            // Receipts and postbacks come from the customer; one naming the
            // page would thread the page with itself.
            self.skip("messaging event from the page itself".into());
            return;
        }
        if let Some(delivery) = event.delivery {
            if delivery.mids.is_empty() {
                self.skip("delivery with a watermark only (no mids)".into());
            }
            for mid in delivery.mids {
                self.events.push(receipt(
                    page_id,
                    &sender,
                    &mid,
                    DeliveryState::Delivered,
                    occurred_at,
                ));
            }
            return;
        }
        if let Some(read) = event.read {
            match read.mid {
                Some(mid) => self.events.push(receipt(
                    page_id,
                    &sender,
                    &mid,
                    DeliveryState::Read,
                    occurred_at,
                )),
                None => self.skip(format!(
                    "read receipt with a watermark only ({:?}): Messenger names no message",
                    read.watermark
                )),
            }
            return;
        }
        if let Some(postback) = event.postback {
            let text = postback.title.or(postback.payload).unwrap_or_default();
            let external_id = postback.mid.unwrap_or_else(|| {
                format!(
                    "{sender}:postback:{}",
                    event.timestamp.unwrap_or(occurred_at.timestamp_millis())
                )
            });
            self.events.push(
                InboundEvent::message(
                    ChannelKind::Facebook,
                    Visibility::Private,
                    external_id,
                    Identity::new(ChannelKind::Facebook, sender.clone()),
                    text,
                    occurred_at,
                )
                .with_account(page_id)
                .with_thread_key(messenger_thread_key(page_id, &sender)),
            );
            return;
        }
        self.skip("messaging event of an unhandled type".into());
    }
}

fn messenger_message(
    message: MessageBody,
    page_id: &str,
    psid: &str,
    echo: bool,
    occurred_at: DateTime<Utc>,
) -> InboundEvent {
    let mut event = InboundEvent::message(
        ChannelKind::Facebook,
        Visibility::Private,
        message.mid,
        Identity::new(ChannelKind::Facebook, psid),
        message.text.unwrap_or_default(),
        occurred_at,
    )
    .with_account(page_id)
    .with_thread_key(messenger_thread_key(page_id, psid));
    if echo {
        event = event.with_kind(EventKind::Echo);
    }
    if let Some(parent) = message.reply_to.and_then(|r| r.mid) {
        event = event.with_parent(parent);
    }
    for attachment in message.attachments {
        let url = attachment.payload.and_then(|p| p.url);
        let content_type = attachment.kind.as_deref().and_then(|k| match k {
            "image" => Some("image/*"),
            "video" => Some("video/*"),
            "audio" => Some("audio/*"),
            "file" => Some("application/octet-stream"),
            _ => None,
        });
        event = event.with_attachment(Attachment {
            name: attachment.kind.clone(),
            content_type: content_type.map(str::to_owned),
            url,
            size: None,
        });
    }
    event
}

fn receipt(
    page_id: &str,
    psid: &str,
    mid: &str,
    state: DeliveryState,
    occurred_at: DateTime<Utc>,
) -> InboundEvent {
    let suffix = match state {
        DeliveryState::Read => "read",
        _ => "delivered",
    };
    InboundEvent::message(
        ChannelKind::Facebook,
        Visibility::Private,
        format!("{mid}:{suffix}"),
        Identity::new(ChannelKind::Facebook, psid),
        "",
        occurred_at,
    )
    .with_kind(EventKind::Delivery {
        provider_id: mid.to_owned(),
        state,
        error: None,
    })
    .with_account(page_id)
    .with_thread_key(messenger_thread_key(page_id, psid))
}

fn party_identity(party: Option<&Party>) -> Identity {
    match party {
        Some(p) => {
            let handle = match &p.id {
                crate::wire::IdValue::Str(s) => s.clone(),
                crate::wire::IdValue::Num(n) => n.to_string(),
            };
            let identity = Identity::new(ChannelKind::Facebook, handle);
            match &p.name {
                Some(name) if !name.is_empty() => identity.with_display_name(name.clone()),
                _ => identity,
            }
        }
        None => Identity::new(ChannelKind::Facebook, ""),
    }
}

/// Meta mixes Unix seconds (feed) and milliseconds (Messenger).
fn unix_seconds_or_millis(t: i64) -> Option<DateTime<Utc>> {
    if t > 100_000_000_000 {
        Utc.timestamp_millis_opt(t).single()
    } else {
        Utc.timestamp_opt(t, 0).single()
    }
}

pub(crate) fn parse_time(value: &TimeValue) -> Option<DateTime<Utc>> {
    match value {
        TimeValue::Unix(t) => unix_seconds_or_millis(*t),
        TimeValue::Text(s) => parse_graph_time(s),
    }
}

/// Graph spells times `2024-05-01T10:00:00+0000`.
pub(crate) fn parse_graph_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.to_utc())
        .or_else(|| s.parse::<i64>().ok().and_then(unix_seconds_or_millis))
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
}
