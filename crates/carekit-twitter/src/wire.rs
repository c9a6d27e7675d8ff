//! X's JSON, as documented. Crate-private: nothing outside this crate sees
//! platform JSON; [`crate::normalize`] turns it into `InboundEvent`s.
//! Every field is optional or defaulted so that a missing field becomes a
//! skip with a log line, not a failed batch.

use serde::Deserialize;

// ---------- API v2 ----------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2Tweet {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub author_id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub in_reply_to_user_id: Option<String>,
    #[serde(default)]
    pub referenced_tweets: Vec<V2Reference>,
    #[serde(default)]
    pub note_tweet: Option<V2NoteTweet>,
    #[serde(default)]
    pub attachments: Option<V2Attachments>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2NoteTweet {
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2Attachments {
    #[serde(default)]
    pub media_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2User {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub verified: Option<bool>,
    #[serde(default)]
    pub public_metrics: Option<V2PublicMetrics>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2PublicMetrics {
    #[serde(default)]
    pub followers_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2Media {
    pub media_key: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub preview_image_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2Includes {
    #[serde(default)]
    pub users: Vec<V2User>,
    #[serde(default)]
    pub tweets: Vec<V2Tweet>,
    #[serde(default)]
    pub media: Vec<V2Media>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2Meta {
    #[serde(default)]
    pub newest_id: Option<String>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2Problem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `GET /2/users/{id}/mentions`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2TweetList {
    #[serde(default)]
    pub data: Vec<V2Tweet>,
    #[serde(default)]
    pub includes: V2Includes,
    #[serde(default)]
    pub meta: V2Meta,
}

/// `GET /2/tweets/{id}`: X answers 200 with `errors` for a deleted tweet.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2TweetLookup {
    #[serde(default)]
    pub data: Option<V2Tweet>,
    #[serde(default)]
    pub includes: V2Includes,
    #[serde(default)]
    pub errors: Vec<V2Problem>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2DmEvent {
    pub id: String,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub dm_conversation_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub attachments: Option<V2Attachments>,
}

/// `GET /2/dm_events`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2DmList {
    #[serde(default)]
    pub data: Vec<V2DmEvent>,
    #[serde(default)]
    pub includes: V2Includes,
    #[serde(default)]
    pub meta: V2Meta,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2Created<T> {
    pub data: Option<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2CreatedTweet {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2CreatedDm {
    pub dm_conversation_id: String,
    pub dm_event_id: String,
}

/// An error body: RFC 7807 problem at the top level, or `errors: [...]`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct V2ErrorBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub errors: Vec<V2Problem>,
}

// ---------- Account Activity webhook (v1.1 object shapes) ----------

#[derive(Debug, Deserialize)]
pub(crate) struct AaUser {
    pub id_str: String,
    #[serde(default)]
    pub screen_name: Option<String>,
    #[serde(default)]
    pub followers_count: Option<u64>,
    #[serde(default)]
    pub verified: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaExtended {
    #[serde(default)]
    pub full_text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaTweet {
    pub id_str: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub full_text: Option<String>,
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub extended_tweet: Option<AaExtended>,
    pub user: AaUser,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub timestamp_ms: Option<String>,
    #[serde(default)]
    pub in_reply_to_status_id_str: Option<String>,
    #[serde(default)]
    pub in_reply_to_user_id_str: Option<String>,
    #[serde(default)]
    pub in_reply_to_screen_name: Option<String>,
    #[serde(default)]
    pub retweeted_status: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaDmTarget {
    pub recipient_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaDmData {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub attachment: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaMessageCreate {
    pub target: AaDmTarget,
    pub sender_id: String,
    #[serde(default)]
    pub message_data: Option<AaDmData>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaDmEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub created_timestamp: Option<String>,
    #[serde(default)]
    pub message_create: Option<AaMessageCreate>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaDmUser {
    #[serde(default)]
    pub screen_name: Option<String>,
    #[serde(default)]
    pub followers_count: Option<u64>,
    #[serde(default)]
    pub verified: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaDeletedStatus {
    pub id: String,
    pub user_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AaDeleteEvent {
    pub status: AaDeletedStatus,
    #[serde(default)]
    pub timestamp_ms: Option<String>,
}

/// One Account Activity POST. Unknown keys (`favorite_events`,
/// `follow_events`, ...) are collected and logged, then skipped.
#[derive(Debug, Deserialize)]
pub(crate) struct AaPayload {
    pub for_user_id: String,
    #[serde(default)]
    pub tweet_create_events: Vec<serde_json::Value>,
    #[serde(default)]
    pub direct_message_events: Vec<serde_json::Value>,
    #[serde(default)]
    pub tweet_delete_events: Vec<serde_json::Value>,
    #[serde(default)]
    pub users: std::collections::HashMap<String, AaDmUser>,
    #[serde(flatten)]
    pub other: std::collections::BTreeMap<String, serde_json::Value>,
}
