//! Cursors for `GET /api/conversations`: an opaque string that says where
//! the last page ended, `(opened_at, id)` in the listing order.
//!
//! A cursor is URL-safe base64 of `1.<opened_at µs>.<id>.<filter digest>`
//! followed by 8 bytes of its SHA-256. It is no secret (it only holds a
//! place the caller could name): the checksum makes a mangled or edited
//! cursor a 400 rather than a page from somewhere else, and the filter
//! digest refuses a cursor carried over to a listing with other filters.

use super::shared::ApiError;
use axum::http::StatusCode;
use base64::Engine as _;
use carekit_core::ConversationFilter;
use carekit_core::store::ListPosition;
use chrono::DateTime;
use sha2::{Digest, Sha256};

/// The bytes of the checksum after the payload.
const CHECK_BYTES: usize = 8;
/// A cursor longer than this is not one of ours.
const MAX_CURSOR_CHARS: usize = 200;

fn engine() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// What pins a cursor to its listing: the filter without its page.
fn filter_digest(filter: &ConversationFilter) -> String {
    let mut unpaged = filter.clone();
    unpaged.after = None;
    unpaged.limit = None;
    let json = serde_json::to_string(&unpaged).unwrap_or_default();
    hex::encode(&Sha256::digest(json.as_bytes())[..8])
}

fn check(payload: &[u8]) -> [u8; CHECK_BYTES] {
    let digest = Sha256::digest(payload);
    let mut out = [0; CHECK_BYTES];
    out.copy_from_slice(&digest[..CHECK_BYTES]);
    out
}

/// The cursor of the page after `position` in the listing `filter` makes.
pub(crate) fn encode(position: ListPosition, filter: &ConversationFilter) -> String {
    let payload = format!(
        "1.{}.{}.{}",
        position.opened_at.timestamp_micros(),
        position.id,
        filter_digest(filter)
    );
    let mut bytes = payload.into_bytes();
    let sum = check(&bytes);
    bytes.extend_from_slice(&sum);
    engine().encode(bytes)
}

/// Where `cursor` says the next page starts, for the listing `filter`
/// makes; 400 for anything that is not a cursor of that listing.
pub(crate) fn decode(cursor: &str, filter: &ConversationFilter) -> Result<ListPosition, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "cursor is not valid for this listing",
        )
    };
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(bad());
    }
    let bytes = engine().decode(cursor).map_err(|_| bad())?;
    if bytes.len() <= CHECK_BYTES {
        return Err(bad());
    }
    let (payload, sum) = bytes.split_at(bytes.len() - CHECK_BYTES);
    if check(payload) != sum {
        return Err(bad());
    }
    let text = std::str::from_utf8(payload).map_err(|_| bad())?;
    let mut parts = text.split('.');
    let (Some("1"), Some(micros), Some(id), Some(digest), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    if digest != filter_digest(filter) {
        return Err(bad());
    }
    let opened_at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    let id = id.parse().map_err(|_| bad())?;
    Ok(ListPosition { opened_at, id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use carekit_core::{ChannelKind, ConversationId};

    #[test]
    fn a_cursor_round_trips_and_refuses_edits_and_other_listings() {
        let filter = ConversationFilter::all().with_channel(ChannelKind::Sms);
        let position = ListPosition {
            opened_at: DateTime::from_timestamp_micros(1_772_442_000_123_456).unwrap(),
            id: ConversationId::new(),
        };
        let cursor = encode(position, &filter);
        assert_eq!(decode(&cursor, &filter).unwrap(), position);
        // The same listing with another page size takes it.
        assert!(decode(&cursor, &filter.clone().with_limit(5)).is_ok());
        // Another listing does not.
        assert!(decode(&cursor, &ConversationFilter::all()).is_err());
        // Every single-character edit is refused.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..cursor.len() {
            for c in alphabet.chars().step_by(7) {
                let mut edited: Vec<char> = cursor.chars().collect();
                if edited[i] == c {
                    continue;
                }
                edited[i] = c;
                let edited: String = edited.into_iter().collect();
                if let Ok(p) = decode(&edited, &filter) {
                    // Only an edit of the base64 padding bits decodes the same.
                    assert_eq!(p, position, "{edited}");
                }
            }
        }
        for junk in ["", "x", "%%%", "AAAA", &"A".repeat(500), "MS4xLjIuMw"] {
            assert!(decode(junk, &filter).is_err(), "{junk:?}");
        }
    }
}
