//! The webhook JSON as Meta sends it. Private: platform shapes never leave
//! the crate. Everything optional is optional here too, and unknown fields
//! are ignored, so a new Meta field never breaks intake.

use serde::Deserialize;
use serde_json::Value;

/// The top of every webhook POST.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) object: String,
    #[serde(default)]
    pub(crate) entry: Vec<Entry>,
}

/// One page's batch of changes or messaging events.
#[derive(Debug, Deserialize)]
pub(crate) struct Entry {
    pub(crate) id: IdValue,
    #[serde(default)]
    pub(crate) time: Option<i64>,
    /// Parsed one by one so a single odd change skips alone.
    #[serde(default)]
    pub(crate) changes: Vec<Value>,
    #[serde(default)]
    pub(crate) messaging: Vec<Value>,
    #[serde(default)]
    pub(crate) standby: Vec<Value>,
}

/// Ids arrive as strings; tolerate numbers too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum IdValue {
    Str(String),
    Num(u64),
}

impl IdValue {
    pub(crate) fn into_string(self) -> String {
        match self {
            IdValue::Str(s) => s,
            IdValue::Num(n) => n.to_string(),
        }
    }
}

/// Feed `created_time` is Unix seconds; some objects spell it ISO 8601.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum TimeValue {
    Unix(i64),
    Text(String),
}

/// `changes[]` of a page subscription.
#[derive(Debug, Deserialize)]
pub(crate) struct Change {
    pub(crate) field: String,
    #[serde(default)]
    pub(crate) value: Value,
}

/// `value` of a `feed` change.
#[derive(Debug, Deserialize)]
pub(crate) struct FeedValue {
    pub(crate) item: String,
    pub(crate) verb: String,
    #[serde(default)]
    pub(crate) from: Option<Party>,
    #[serde(default)]
    pub(crate) post_id: Option<String>,
    #[serde(default)]
    pub(crate) comment_id: Option<String>,
    #[serde(default)]
    pub(crate) parent_id: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) created_time: Option<TimeValue>,
}

/// `from`, `sender`, `recipient`.
#[derive(Debug, Deserialize)]
pub(crate) struct Party {
    pub(crate) id: IdValue,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// One `messaging[]` event.
#[derive(Debug, Deserialize)]
pub(crate) struct Messaging {
    pub(crate) sender: Party,
    pub(crate) recipient: Party,
    #[serde(default)]
    pub(crate) timestamp: Option<i64>,
    #[serde(default)]
    pub(crate) message: Option<MessageBody>,
    #[serde(default)]
    pub(crate) delivery: Option<DeliveryBody>,
    #[serde(default)]
    pub(crate) read: Option<ReadBody>,
    #[serde(default)]
    pub(crate) postback: Option<PostbackBody>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MessageBody {
    pub(crate) mid: String,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) is_echo: bool,
    #[serde(default)]
    pub(crate) is_deleted: bool,
    #[serde(default)]
    pub(crate) attachments: Vec<AttachmentBody>,
    #[serde(default)]
    pub(crate) reply_to: Option<ReplyTo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AttachmentBody {
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) payload: Option<AttachmentPayload>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AttachmentPayload {
    #[serde(default)]
    pub(crate) url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReplyTo {
    #[serde(default)]
    pub(crate) mid: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeliveryBody {
    #[serde(default)]
    pub(crate) mids: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReadBody {
    /// Newer payloads (and Instagram's) name the message read.
    #[serde(default)]
    pub(crate) mid: Option<String>,
    #[serde(default)]
    pub(crate) watermark: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PostbackBody {
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) payload: Option<String>,
    #[serde(default)]
    pub(crate) mid: Option<String>,
}
