//! `[[notify]]`: where escalations reach people. Each entry is a route
//! (from a level, for some teams) to a chat channel's incoming webhook or
//! to email addresses through `[email]`'s SMTP sender; notifications no
//! route takes go to the log.

use crate::config::{DeskConfig, NotifyConfig, NotifyVia, Secrets};
use crate::error::DeskServerError;
use async_trait::async_trait;
use carekit_core::desk::{Notification, Notifier, NotifyRoute, RoutedNotifier};
use carekit_core::{Channel, ChannelKind};
use carekit_email::EmailNotifier;
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
}

#[async_trait]
impl Notifier for ChatWebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        let response = self
            .http
            .post(self.url.expose_secret())
            .json(&self.payload(n))
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
    let mut routed = RoutedNotifier::new();
    for (i, entry) in config.notify.iter().enumerate() {
        let notifier = target(entry, i + 1, config, secrets, channels)?;
        routed = routed.route(
            NotifyRoute::to(notifier)
                .min_level(entry.min_level)
                .teams(entry.teams.iter().cloned()),
        );
    }
    Ok(Some(Arc::new(routed)))
}

fn target(
    entry: &NotifyConfig,
    n: usize,
    config: &DeskConfig,
    secrets: &Secrets,
    channels: &[Arc<dyn Channel>],
) -> Result<Arc<dyn Notifier>, DeskServerError> {
    let link = config.server.public_url.clone();
    match entry.via {
        NotifyVia::Chat => {
            let name = entry.url_secret.as_deref().ok_or_else(|| {
                DeskServerError::Config(format!(
                    "[[notify]] entry {n}: via = \"chat\" needs url_secret, the name of the secret holding the webhook URL"
                ))
            })?;
            let url = secrets.require(name, &format!("[[notify]] entry {n}"))?;
            Ok(Arc::new(ChatWebhookNotifier::new(url)?.link_base(link)))
        }
        NotifyVia::Email => {
            if entry.to.is_empty() || entry.to.iter().any(|a| !a.contains('@')) {
                return Err(DeskServerError::Config(format!(
                    "[[notify]] entry {n}: via = \"email\" needs `to`, a list of email addresses"
                )));
            }
            let email = channels
                .iter()
                .find(|c| c.kind() == ChannelKind::Email)
                .ok_or_else(|| {
                    DeskServerError::Config(format!(
                        "[[notify]] entry {n}: via = \"email\" sends through [email], which is not configured"
                    ))
                })?;
            Ok(Arc::new(
                EmailNotifier::new(email.clone(), entry.to.iter().cloned()).link_base(link),
            ))
        }
    }
}
