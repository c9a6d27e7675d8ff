//! Meta's reply windows, as pure functions of the clock and the facts the
//! desk passes in `ReplyContext`.
//!
//! - Messenger: `RESPONSE` within 24 hours of the customer's last message;
//!   `MESSAGE_TAG` + `HUMAN_AGENT` up to 7 days when a person answers;
//!   nothing after that.
//! - Private reply to a comment: within 7 days of the comment.

use crate::graph::MessagingType;
use carekit_core::ChannelError;
use chrono::{DateTime, Duration, Utc};

/// The standard Messenger window.
pub const STANDARD_WINDOW: Duration = Duration::hours(24);

/// The `HUMAN_AGENT` window, also the private-reply window.
pub const HUMAN_AGENT_WINDOW: Duration = Duration::days(7);

/// Which messaging type a Messenger send may use now, or why none may.
///
/// # Errors
/// [`ChannelError::OutsideWindow`] naming the window and when it closed.
pub fn messaging_type(
    now: DateTime<Utc>,
    customer_last_message_at: Option<DateTime<Utc>>,
    human_agent: bool,
) -> Result<MessagingType, ChannelError> {
    let Some(last) = customer_last_message_at else {
        return Err(ChannelError::OutsideWindow {
            reason: "the customer has not written on Messenger yet; the page may only answer"
                .into(),
        });
    };
    let age = now - last;
    if age <= STANDARD_WINDOW {
        return Ok(MessagingType::Response);
    }
    if human_agent && age <= HUMAN_AGENT_WINDOW {
        return Ok(MessagingType::HumanAgent);
    }
    let reason = if human_agent {
        format!(
            "the 7-day HUMAN_AGENT window closed at {} (customer last wrote {last})",
            last + HUMAN_AGENT_WINDOW
        )
    } else {
        format!(
            "the 24-hour window closed at {} (customer last wrote {last}); only a human agent may answer, up to 7 days",
            last + STANDARD_WINDOW
        )
    };
    Err(ChannelError::OutsideWindow { reason })
}

/// Whether a private reply to a comment written at `comment_at` is allowed now.
///
/// # Errors
/// [`ChannelError::OutsideWindow`] once 7 days have passed.
pub fn private_reply_allowed(
    now: DateTime<Utc>,
    comment_at: DateTime<Utc>,
) -> Result<(), ChannelError> {
    if now - comment_at <= HUMAN_AGENT_WINDOW {
        Ok(())
    } else {
        Err(ChannelError::OutsideWindow {
            reason: format!(
                "private replies are allowed within 7 days of the comment; that closed at {}",
                comment_at + HUMAN_AGENT_WINDOW
            ),
        })
    }
}
