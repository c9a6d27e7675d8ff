//! What a channel can do, declared by its adapter so the engine never asks a
//! platform for something it cannot do (hide a tweet, message outside a window).

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// How long after the customer's last message the brand may still write
/// privately (Messenger: 24 h, or 7 days with the `HUMAN_AGENT` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyWindow {
    /// The ordinary window.
    pub standard: Duration,
    /// A longer window some platforms allow for human agents.
    pub extended: Option<Duration>,
}

/// A channel's typed capabilities. Build with [`Capabilities::new`] and the
/// `with_*` methods; every flag starts off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Can post a public reply.
    pub public_reply: bool,
    /// Can send a private message.
    pub private_message: bool,
    /// Can answer a public post privately (Facebook private replies).
    pub private_reply_to_public: bool,
    /// Can hide a public message without deleting it.
    pub hide: bool,
    /// Can delete a public message (never used automatically).
    pub delete: bool,
    /// Longest text accepted, in the platform's own unit of length.
    pub max_length: Option<usize>,
    /// Window for private messages after the customer's last message.
    pub reply_window: Option<ReplyWindow>,
    /// Can carry attachments.
    pub attachments: bool,
}

impl Capabilities {
    /// Nothing enabled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`Capabilities::public_reply`].
    pub fn with_public_reply(mut self, yes: bool) -> Self {
        self.public_reply = yes;
        self
    }
    /// Sets [`Capabilities::private_message`].
    pub fn with_private_message(mut self, yes: bool) -> Self {
        self.private_message = yes;
        self
    }
    /// Sets [`Capabilities::private_reply_to_public`].
    pub fn with_private_reply_to_public(mut self, yes: bool) -> Self {
        self.private_reply_to_public = yes;
        self
    }
    /// Sets [`Capabilities::hide`].
    pub fn with_hide(mut self, yes: bool) -> Self {
        self.hide = yes;
        self
    }
    /// Sets [`Capabilities::delete`].
    pub fn with_delete(mut self, yes: bool) -> Self {
        self.delete = yes;
        self
    }
    /// Sets [`Capabilities::max_length`].
    pub fn with_max_length(mut self, max: Option<usize>) -> Self {
        self.max_length = max;
        self
    }
    /// Sets [`Capabilities::reply_window`].
    pub fn with_reply_window(mut self, window: Option<ReplyWindow>) -> Self {
        self.reply_window = window;
        self
    }
    /// Sets [`Capabilities::attachments`].
    pub fn with_attachments(mut self, yes: bool) -> Self {
        self.attachments = yes;
        self
    }
}
