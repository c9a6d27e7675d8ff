//! Platform JSON → `InboundEvent`. One function per source shape; each
//! returns `None` (after a log line) for items a care desk should not take:
//! retweets, empty tweets, non-message DM events, echoes with no customer.

use std::collections::HashMap;

use carekit_core::{
    Attachment, AuthorProfile, ChannelKind, EventKind, Identity, InboundEvent, Visibility,
};
use chrono::{DateTime, Utc};

use crate::ids::{is_valid_id, one_to_one_conversation_id};
use crate::wire::{
    AaDeleteEvent, AaDmEvent, AaDmUser, AaTweet, V2DmEvent, V2Includes, V2Media, V2Tweet, V2User,
};

/// Lookup tables over a v2 `includes` block.
pub(crate) struct Includes<'a> {
    users: HashMap<&'a str, &'a V2User>,
    media: HashMap<&'a str, &'a V2Media>,
}

impl<'a> Includes<'a> {
    pub(crate) fn new(includes: &'a V2Includes) -> Self {
        Self {
            users: includes.users.iter().map(|u| (u.id.as_str(), u)).collect(),
            media: includes
                .media
                .iter()
                .map(|m| (m.media_key.as_str(), m))
                .collect(),
        }
    }

    fn identity(&self, user_id: &str) -> (Identity, AuthorProfile) {
        let mut identity = Identity::new(ChannelKind::Twitter, user_id);
        let mut profile = AuthorProfile::default();
        if let Some(user) = self.users.get(user_id) {
            if let Some(name) = &user.username {
                identity = identity.with_display_name(format!("@{name}"));
            }
            profile.followers = user.public_metrics.as_ref().and_then(|m| m.followers_count);
            profile.verified = user.verified.unwrap_or(false);
        }
        (identity, profile)
    }

    fn attachments(&self, keys: &[String]) -> Vec<Attachment> {
        keys.iter()
            .map(|key| {
                let media = self.media.get(key.as_str());
                Attachment {
                    name: Some(key.clone()),
                    content_type: media.and_then(|m| m.kind.clone()),
                    url: media.and_then(|m| m.url.clone().or_else(|| m.preview_image_url.clone())),
                    size: None,
                }
            })
            .collect()
    }
}

fn parse_rfc3339(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?).ok().map(|d| d.to_utc())
}

fn parse_millis(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(s?.trim().parse().ok()?)
}

/// `Wed Oct 10 20:19:24 +0000 2018`, the v1.1 `created_at`.
fn parse_v1_date(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s?, "%a %b %d %H:%M:%S %z %Y")
        .ok()
        .map(|d| d.to_utc())
}

/// A v2 tweet (mentions timeline, tweet lookup, or an expanded parent).
pub(crate) fn v2_tweet(
    tweet: &V2Tweet,
    includes: &Includes<'_>,
    brand: &str,
    now: DateTime<Utc>,
) -> Option<InboundEvent> {
    if !is_valid_id(&tweet.id) {
        tracing::warn!(id = %tweet.id, "skipping tweet with a malformed id");
        return None;
    }
    if tweet
        .referenced_tweets
        .iter()
        .any(|r| r.kind == "retweeted")
    {
        tracing::debug!(id = %tweet.id, "skipping retweet");
        return None;
    }
    let Some(author_id) = tweet.author_id.as_deref().filter(|a| is_valid_id(a)) else {
        tracing::warn!(id = %tweet.id, "skipping tweet without author_id (request the expansion)");
        return None;
    };
    let text = tweet
        .note_tweet
        .as_ref()
        .and_then(|n| n.text.clone())
        .or_else(|| tweet.text.clone())
        .unwrap_or_default();
    let attachments = tweet
        .attachments
        .as_ref()
        .map(|a| includes.attachments(&a.media_keys))
        .unwrap_or_default();
    if text.trim().is_empty() && attachments.is_empty() {
        tracing::warn!(id = %tweet.id, "skipping tweet with no text and no media");
        return None;
    }
    let echo = author_id == brand;
    let (identity, profile) = if echo {
        // An echo's author is the customer the brand answered.
        match tweet.in_reply_to_user_id.as_deref() {
            Some(customer) if customer != brand => includes.identity(customer),
            _ => {
                tracing::debug!(id = %tweet.id, "skipping brand tweet that answers no customer");
                return None;
            }
        }
    } else {
        includes.identity(author_id)
    };
    let occurred_at = parse_rfc3339(tweet.created_at.as_deref()).unwrap_or(now);
    let mut event = InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Public,
        &tweet.id,
        identity,
        text,
        occurred_at,
    )
    .with_account(brand)
    .with_profile(if echo {
        AuthorProfile::default()
    } else {
        profile
    });
    if echo {
        event = event.with_kind(EventKind::Echo);
    }
    for a in attachments {
        event = event.with_attachment(a);
    }
    let parent = tweet
        .referenced_tweets
        .iter()
        .find(|r| r.kind == "replied_to")
        .map(|r| r.id.clone());
    match (&tweet.conversation_id, &parent) {
        (Some(conv), _) => event = event.with_thread_key(conv.clone()),
        (None, None) => event = event.with_thread_key(tweet.id.clone()),
        (None, Some(_)) => {}
    }
    if let Some(parent) = parent {
        event = event.with_parent(parent);
    }
    Some(event)
}

/// A v2 DM event (`GET /2/dm_events`).
pub(crate) fn v2_dm(
    dm: &V2DmEvent,
    includes: &Includes<'_>,
    brand: &str,
    now: DateTime<Utc>,
) -> Option<InboundEvent> {
    if dm.event_type.as_deref().unwrap_or("MessageCreate") != "MessageCreate" {
        tracing::debug!(id = %dm.id, kind = ?dm.event_type, "skipping non-message DM event");
        return None;
    }
    let sender = dm.sender_id.as_deref()?;
    let conversation = dm.dm_conversation_id.clone()?;
    let echo = sender == brand;
    let customer = if echo {
        // `a-b` holds both participants; the one that is not the brand.
        conversation
            .split('-')
            .find(|p| *p != brand && is_valid_id(p))?
            .to_owned()
    } else {
        sender.to_owned()
    };
    let text = dm.text.clone().unwrap_or_default();
    let attachments = dm
        .attachments
        .as_ref()
        .map(|a| includes.attachments(&a.media_keys))
        .unwrap_or_default();
    if text.trim().is_empty() && attachments.is_empty() {
        tracing::warn!(id = %dm.id, "skipping DM with no text and no media");
        return None;
    }
    let (identity, profile) = includes.identity(&customer);
    let mut event = InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Private,
        &dm.id,
        identity,
        text,
        parse_rfc3339(dm.created_at.as_deref()).unwrap_or(now),
    )
    .with_account(brand)
    .with_thread_key(conversation);
    if echo {
        event = event.with_kind(EventKind::Echo);
    } else {
        event = event.with_profile(profile);
    }
    for a in attachments {
        event = event.with_attachment(a);
    }
    Some(event)
}

/// A `tweet_create_events` item.
pub(crate) fn webhook_tweet(
    tweet: &AaTweet,
    brand: &str,
    now: DateTime<Utc>,
) -> Option<InboundEvent> {
    if !is_valid_id(&tweet.id_str) {
        tracing::warn!(id = %tweet.id_str, "skipping webhook tweet with a malformed id");
        return None;
    }
    if tweet.retweeted_status.is_some() {
        tracing::debug!(id = %tweet.id_str, "skipping retweet");
        return None;
    }
    let text = tweet
        .extended_tweet
        .as_ref()
        .filter(|_| tweet.truncated)
        .and_then(|e| e.full_text.clone())
        .or_else(|| tweet.full_text.clone())
        .or_else(|| tweet.text.clone())
        .unwrap_or_default();
    if text.trim().is_empty() {
        tracing::warn!(id = %tweet.id_str, "skipping webhook tweet with no text");
        return None;
    }
    if !is_valid_id(&tweet.user.id_str) {
        tracing::warn!(id = %tweet.id_str, "skipping webhook tweet with a malformed author id");
        return None;
    }
    let echo = tweet.user.id_str == brand;
    let identity = if echo {
        let customer = tweet
            .in_reply_to_user_id_str
            .as_deref()
            .filter(|c| *c != brand && is_valid_id(c));
        let Some(customer) = customer else {
            tracing::debug!(id = %tweet.id_str, "skipping brand tweet that answers no customer");
            return None;
        };
        let mut i = Identity::new(ChannelKind::Twitter, customer);
        if let Some(name) = &tweet.in_reply_to_screen_name {
            i = i.with_display_name(format!("@{name}"));
        }
        i
    } else {
        let mut i = Identity::new(ChannelKind::Twitter, &tweet.user.id_str);
        if let Some(name) = &tweet.user.screen_name {
            i = i.with_display_name(format!("@{name}"));
        }
        i
    };
    let occurred_at = parse_millis(tweet.timestamp_ms.as_deref())
        .or_else(|| parse_v1_date(tweet.created_at.as_deref()))
        .unwrap_or(now);
    let mut event = InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Public,
        &tweet.id_str,
        identity,
        text,
        occurred_at,
    )
    .with_account(brand);
    if echo {
        event = event.with_kind(EventKind::Echo);
    } else {
        event = event.with_profile(AuthorProfile {
            followers: tweet.user.followers_count,
            verified: tweet.user.verified.unwrap_or(false),
        });
    }
    match tweet.in_reply_to_status_id_str.as_deref() {
        // The conversation id is not in v1.1 payloads; the parent resolver
        // fills it in when the parent is unknown.
        Some(parent) if is_valid_id(parent) => event = event.with_parent(parent),
        _ => event = event.with_thread_key(tweet.id_str.clone()),
    }
    Some(event)
}

/// A `direct_message_events` item.
pub(crate) fn webhook_dm(
    dm: &AaDmEvent,
    users: &HashMap<String, AaDmUser>,
    brand: &str,
    now: DateTime<Utc>,
) -> Option<InboundEvent> {
    if dm.kind != "message_create" {
        tracing::debug!(id = %dm.id, kind = %dm.kind, "skipping non-message DM event");
        return None;
    }
    let create = dm.message_create.as_ref()?;
    let sender = create.sender_id.as_str();
    let recipient = create.target.recipient_id.as_str();
    if !is_valid_id(&dm.id) || !is_valid_id(sender) || !is_valid_id(recipient) {
        tracing::warn!(id = %dm.id, "skipping DM event with malformed ids");
        return None;
    }
    let echo = sender == brand;
    let customer = if echo { recipient } else { sender };
    let data = create.message_data.as_ref();
    let text = data.and_then(|d| d.text.clone()).unwrap_or_default();
    let has_media = data.is_some_and(|d| d.attachment.is_some());
    if text.trim().is_empty() && !has_media {
        tracing::warn!(id = %dm.id, "skipping DM with no text");
        return None;
    }
    let mut identity = Identity::new(ChannelKind::Twitter, customer);
    let user = users.get(customer);
    if let Some(name) = user.and_then(|u| u.screen_name.as_ref()) {
        identity = identity.with_display_name(format!("@{name}"));
    }
    let mut event = InboundEvent::message(
        ChannelKind::Twitter,
        Visibility::Private,
        &dm.id,
        identity,
        text,
        parse_millis(dm.created_timestamp.as_deref()).unwrap_or(now),
    )
    .with_account(brand)
    .with_thread_key(one_to_one_conversation_id(sender, recipient));
    if echo {
        event = event.with_kind(EventKind::Echo);
    } else if let Some(u) = user {
        event = event.with_profile(AuthorProfile {
            followers: u.followers_count,
            verified: u.verified.unwrap_or(false),
        });
    }
    if has_media {
        event = event.with_attachment(Attachment::default());
    }
    Some(event)
}

/// A `tweet_delete_events` item: the customer removed a tweet.
pub(crate) fn webhook_delete(
    delete: &AaDeleteEvent,
    brand: &str,
    now: DateTime<Utc>,
) -> Option<InboundEvent> {
    let status = &delete.status;
    if !is_valid_id(&status.id) || !is_valid_id(&status.user_id) {
        return None;
    }
    Some(
        InboundEvent::message(
            ChannelKind::Twitter,
            Visibility::Public,
            format!("delete:{}", status.id),
            Identity::new(ChannelKind::Twitter, &status.user_id),
            "",
            parse_millis(delete.timestamp_ms.as_deref()).unwrap_or(now),
        )
        .with_kind(EventKind::Removed)
        .with_account(brand)
        .with_parent(status.id.clone()),
    )
}
