//! Builders for events in tests.

use carekit_core::{ChannelKind, Identity, InboundEvent, Visibility};
use chrono::{DateTime, Utc};

/// Parses an RFC 3339 instant; panics on a bad literal (test helper).
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad test timestamp {rfc3339}: {e}"))
        .to_utc()
}

/// A customer message on `channel` from `handle`, with the given external id
/// and text, public on X and Facebook and private elsewhere.
pub fn sample_event(
    channel: ChannelKind,
    external_id: &str,
    handle: &str,
    text: &str,
    when: DateTime<Utc>,
) -> InboundEvent {
    let visibility = match channel {
        ChannelKind::Twitter | ChannelKind::Facebook => Visibility::Public,
        _ => Visibility::Private,
    };
    InboundEvent::message(
        channel,
        visibility,
        external_id,
        Identity::new(channel, handle),
        text,
        when,
    )
}
