//! `[[notify]]`: where escalations reach people. Each entry is a route
//! (from a level, for some teams) to a chat channel's incoming webhook or
//! to email addresses through `[email]`'s SMTP sender; notifications no
//! route takes go to the log.

use crate::config::{DeskConfig, NotifyConfig, NotifyVia, Secrets};
use crate::error::DeskServerError;
use async_trait::async_trait;
use carekit_core::desk::{Notification, Notifier, NotifyRoute, RoutedNotifier};
use carekit_core::{Channel, ChannelKind, Identity};
use carekit_email::EmailNotifier;
use carekit_insight::digest::{ChannelDigestSender, DigestSender};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// A [`Notifier`] posting to a chat channel's incoming webhook in the
/// Slack-compatible shape (`POST {"text": …}` as JSON; Mattermost, Rocket.Chat
/// and others accept it too). The webhook URL is a secret: it is never
/// logged, shown in `Debug` or put in an error.
#[derive(Clone)]
pub struct ChatWebhookNotifier {
    url: SecretString,
    http: reqwest::Client,
    link_base: Option<String>,
}

impl std::fmt::Debug for ChatWebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatWebhookNotifier")
            .field("url", &"[redacted]")
            .field("link_base", &self.link_base)
            .finish()
    }
}

impl ChatWebhookNotifier {
    /// Posts to `url` (a secret), waiting at most 10 s for an answer.
    ///
    /// # Errors
    /// `Config` when the URL is not http(s).
    pub fn new(url: impl Into<String>) -> Result<Self, DeskServerError> {
        let url = url.into();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(DeskServerError::Config(
                "[[notify]] via = \"chat\": the webhook URL must start with https:// or http://"
                    .into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| DeskServerError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            url: SecretString::from(url),
            http,
            link_base: None,
        })
    }

    /// Adds a link to the conversation under the desk's public URL.
    pub fn link_base(mut self, base: impl Into<String>) -> Self {
        self.link_base = Some(base.into().trim_end_matches('/').to_owned());
        self
    }

    /// The message as posted: `{"text": "…"}`.
    pub fn payload(&self, n: &Notification) -> serde_json::Value {
        let team = n.team.as_deref().unwrap_or("no team");
        let mut text = format!(
            "*[L{}] {}*\n{}\nteam: {team} · conversation {}",
            n.level, n.subject, n.body, n.conversation_id
        );
        if let Some(base) = &self.link_base {
            text.push_str(&format!("\n{base}/api/conversations/{}", n.conversation_id));
        }
        serde_json::json!({ "text": text })
    }

    /// Posts `payload` to the webhook.
    async fn post(&self, payload: &serde_json::Value) -> Result<(), String> {
        let response = self
            .http
            .post(self.url.expose_secret())
            .json(payload)
            .send()
            .await
            // reqwest's error text names the URL: keep only its kind.
            .map_err(|e| {
                if e.is_timeout() {
                    "chat webhook: timed out".to_owned()
                } else {
                    "chat webhook: could not connect".to_owned()
                }
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "chat webhook answered {}",
                response.status().as_u16()
            ))
        }
    }
}

#[async_trait]
impl Notifier for ChatWebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        self.post(&self.payload(n)).await
    }
}

/// A team digest (`[[digest]] route`) posted as one chat message: the
/// subject in bold, then the digest's text in a code block.
#[async_trait]
impl DigestSender for ChatWebhookNotifier {
    async fn send(&self, subject: &str, body: &str) -> Result<(), String> {
        let text = format!("*{subject}*\n```\n{body}```");
        self.post(&serde_json::json!({ "text": text })).await
    }
}

/// The desk's notifier from `[[notify]]`, or `None` when there is no entry
/// (the engine then logs). `channels` are the desk's channels: an email
/// route sends through the email one.
pub(crate) fn from_config(
    config: &DeskConfig,
    secrets: &Secrets,
    channels: &[Arc<dyn Channel>],
) -> Result<Option<Arc<dyn Notifier>>, DeskServerError> {
    if config.notify.is_empty() {
        return Ok(None);
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, entry) in config.notify.iter().enumerate() {
        if let Some(name) = &entry.name
            && (name.trim().is_empty() || !names.insert(name.clone()))
        {
            return Err(DeskServerError::Config(format!(
                "[[notify]] entry {}: name {name:?} is empty or used by another route",
                i + 1
            )));
        }
    }
    let mut routed = RoutedNotifier::new();
    for (i, entry) in config.notify.iter().enumerate() {
        let notifier: Arc<dyn Notifier> = match target(entry, i + 1, config, secrets, channels)? {
            Target::Chat(chat) => Arc::new(chat),
            Target::Email(email, to) => {
                Arc::new(EmailNotifier::new(email, to).link_base(config.server.public_url.clone()))
            }
        };
        routed = routed.route(
            NotifyRoute::to(notifier)
                .min_level(entry.min_level)
                .teams(entry.teams.iter().cloned()),
        );
    }
    Ok(Some(Arc::new(routed)))
}

/// The digest sender for the `[[notify]]` route named `name`: its chat
/// webhook, or its addresses through `[email]`.
pub(crate) fn digest_sender(
    name: &str,
    at: &str,
    config: &DeskConfig,
    secrets: &Secrets,
    channels: &[Arc<dyn Channel>],
) -> Result<Arc<dyn DigestSender>, DeskServerError> {
    let (i, entry) = config
        .notify
        .iter()
        .enumerate()
        .find(|(_, e)| e.name.as_deref() == Some(name))
        .ok_or_else(|| {
            DeskServerError::Config(format!(
                "{at}: route {name:?} is not the name of a [[notify]] entry"
            ))
        })?;
    Ok(match target(entry, i + 1, config, secrets, channels)? {
        Target::Chat(chat) => Arc::new(chat),
        Target::Email(email, to) => Arc::new(ChannelDigestSender::new(
            email,
            to.into_iter()
                .map(|a| Identity::new(ChannelKind::Email, a))
                .collect(),
        )),
    })
}

/// Where one `[[notify]]` entry reaches people.
enum Target {
    Chat(ChatWebhookNotifier),
    Email(Arc<dyn Channel>, Vec<String>),
}

fn target(
    entry: &NotifyConfig,
    n: usize,
    config: &DeskConfig,
    secrets: &Secrets,
    channels: &[Arc<dyn Channel>],
) -> Result<Target, DeskServerError> {
    match entry.via {
        NotifyVia::Chat => {
            let name = entry.url_secret.as_deref().ok_or_else(|| {
                DeskServerError::Config(format!(
                    "[[notify]] entry {n}: via = \"chat\" needs url_secret, the name of the secret holding the webhook URL"
                ))
            })?;
            let url = secrets.require(name, &format!("[[notify]] entry {n}"))?;
            Ok(Target::Chat(
                ChatWebhookNotifier::new(url)?.link_base(config.server.public_url.clone()),
            ))
        }
        NotifyVia::Email => {
            if entry.to.is_empty() || entry.to.iter().any(|a| !a.contains('@')) {
                return Err(DeskServerError::Config(format!(
                    "[[notify]] entry {n}: via = \"email\" needs `to`, a list of email addresses"
                )));
            }
            let email = email_channel(channels).ok_or_else(|| {
                DeskServerError::Config(format!(
                    "[[notify]] entry {n}: via = \"email\" sends through [email], which is not configured"
                ))
            })?;
            Ok(Target::Email(email, entry.to.clone()))
        }
    }
}

/// The desk's email channel, if `[email]` is configured.
pub(crate) fn email_channel(channels: &[Arc<dyn Channel>]) -> Option<Arc<dyn Channel>> {
    channels
        .iter()
        .find(|c| c.kind() == ChannelKind::Email)
        .cloned()
}
