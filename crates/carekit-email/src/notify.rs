//! Escalations to people by email, through the same SMTP sender the desk
//! answers customers with.

use async_trait::async_trait;
use carekit_core::desk::{Notification, Notifier};
use carekit_core::{Channel, ChannelKind, Identity, OutboundMessage, Visibility};
use std::sync::Arc;

/// A [`Notifier`] that mails each notification to a list of people (a
/// team's lead, a shared inbox) through an email [`Channel`], usually the
/// desk's own `EmailChannel`. The subject names the level and the
/// conversation; the body carries the explanation and, when set, a link.
#[derive(Clone)]
pub struct EmailNotifier {
    channel: Arc<dyn Channel>,
    to: Vec<String>,
    link_base: Option<String>,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("to", &self.to)
            .field("link_base", &self.link_base)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// Mails every notification to each address of `to` through `channel`.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(
        channel: Arc<dyn Channel>,
        to: I,
    ) -> Self {
        Self {
            channel,
            to: to.into_iter().map(Into::into).collect(),
            link_base: None,
        }
    }

    /// Adds a link to the conversation: `{base}/api/conversations/{id}`
    /// (the desk server's public URL).
    pub fn link_base(mut self, base: impl Into<String>) -> Self {
        self.link_base = Some(base.into().trim_end_matches('/').to_owned());
        self
    }

    fn message(&self, n: &Notification, to: &str) -> OutboundMessage {
        let team = n.team.as_deref().unwrap_or("no team");
        let mut body = format!(
            "{}\n\nLevel {} escalation for {team}.\nConversation {}.\n",
            n.body, n.level, n.conversation_id
        );
        if let Some(base) = &self.link_base {
            body.push_str(&format!("{base}/api/conversations/{}\n", n.conversation_id));
        }
        OutboundMessage::new(ChannelKind::Email, Visibility::Private, body)
            .with_recipient(Identity::new(ChannelKind::Email, to))
            .with_subject(format!("[carekit L{}] {}", n.level, n.subject))
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    /// Sends one mail per address; fails naming the addresses that could
    /// not be reached, after trying them all.
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        let mut failed = Vec::new();
        for to in &self.to {
            if let Err(e) = self.channel.send(&self.message(n, to)).await {
                failed.push(format!("{to}: {e}"));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }
}
