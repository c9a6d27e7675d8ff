//! A channel that records what it sends.

use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, OutboundMessage, ReplyWindow,
    ThreadKey,
};
use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct State {
    sent: Vec<OutboundMessage>,
    hidden: Vec<(String, bool)>,
    failures: VecDeque<ChannelError>,
    attempts: usize,
    counter: u64,
    thread: Option<ThreadKey>,
}

/// Records every message it is asked to send and answers with a made-up
/// provider id; scripted failures are returned first, in order.
#[derive(Debug)]
pub struct RecordingChannel {
    kind: ChannelKind,
    capabilities: Capabilities,
    state: Mutex<State>,
}

impl RecordingChannel {
    /// A channel of `kind` with the capabilities that platform really has.
    pub fn new(kind: ChannelKind) -> Self {
        let capabilities = match kind {
            ChannelKind::Twitter => Capabilities::new()
                .with_public_reply(true)
                .with_private_message(true)
                .with_max_length(Some(280)),
            ChannelKind::Facebook => Capabilities::new()
                .with_public_reply(true)
                .with_private_message(true)
                .with_private_reply_to_public(true)
                .with_hide(true)
                .with_delete(true)
                .with_reply_window(Some(ReplyWindow {
                    standard: chrono::Duration::hours(24),
                    extended: Some(chrono::Duration::days(7)),
                })),
            ChannelKind::Sms => Capabilities::new()
                .with_private_message(true)
                .with_max_length(Some(1600)),
            _ => Capabilities::new()
                .with_private_message(true)
                .with_attachments(true),
        };
        Self::with_capabilities(kind, capabilities)
    }

    /// A channel of `kind` with exactly these capabilities.
    pub fn with_capabilities(kind: ChannelKind, capabilities: Capabilities) -> Self {
        Self {
            kind,
            capabilities,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes later sends report that they established the platform thread
    /// `key` (as an X DM or an email reply token does).
    pub fn establish_thread(&self, key: ThreadKey) {
        self.state().thread = Some(key);
    }

    /// Queue failures to return before succeeding again.
    pub fn fail_with(&self, errors: impl IntoIterator<Item = ChannelError>) {
        self.state().failures.extend(errors);
    }

    /// Messages sent successfully, in order.
    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.state().sent.clone()
    }

    /// Calls to `send`, failed ones included.
    pub fn attempts(&self) -> usize {
        self.state().attempts
    }

    /// `(external_id, hidden)` for every hide call.
    pub fn hidden(&self) -> Vec<(String, bool)> {
        self.state().hidden.clone()
    }
}

#[async_trait]
impl Channel for RecordingChannel {
    fn kind(&self) -> ChannelKind {
        self.kind
    }
    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let mut state = self.state();
        state.attempts += 1;
        if let Some(err) = state.failures.pop_front() {
            return Err(err);
        }
        state.counter += 1;
        let id = format!("{}-out-{}", self.kind, state.counter);
        state.sent.push(message.clone());
        let delivery = Delivery::sent(id);
        Ok(match state.thread.clone() {
            Some(key) => delivery.with_thread_key(key),
            None => delivery,
        })
    }
    async fn hide(&self, external_id: &str, hidden: bool) -> Result<(), ChannelError> {
        if !self.capabilities.hide {
            return Err(ChannelError::Unsupported("hide"));
        }
        self.state().hidden.push((external_id.to_owned(), hidden));
        Ok(())
    }
}
