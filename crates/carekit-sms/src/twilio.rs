//! Twilio's Programmable Messaging REST API.

use crate::SmsError;
use crate::provider::{SentSms, SmsProvider, SmsRequest};
use async_trait::async_trait;
use carekit_core::{ChannelError, Delivery, DeliveryState};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// Twilio credentials and defaults. Build with [`TwilioConfig::builder`].
#[derive(Clone)]
pub struct TwilioConfig {
    account_sid: String,
    auth_token: SecretString,
    messaging_service_sid: Option<String>,
    base_url: String,
    timeout: Duration,
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl TwilioConfig {
    /// Starts a config for an account.
    pub fn builder(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
    ) -> TwilioConfigBuilder {
        TwilioConfigBuilder {
            config: TwilioConfig {
                account_sid: account_sid.into(),
                auth_token: SecretString::from(auth_token.into()),
                messaging_service_sid: None,
                base_url: "https://api.twilio.com".into(),
                timeout: Duration::from_secs(15),
            },
        }
    }
    /// The account SID.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }
}

/// Builds a [`TwilioConfig`].
#[derive(Debug, Clone)]
pub struct TwilioConfigBuilder {
    config: TwilioConfig,
}

impl TwilioConfigBuilder {
    /// Send through a messaging service instead of a fixed number.
    pub fn messaging_service_sid(mut self, sid: impl Into<String>) -> Self {
        self.config.messaging_service_sid = Some(sid.into());
        self
    }
    /// API base URL (tests point it at a local server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }
    /// Request timeout (default 15 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }
    /// Finishes.
    pub fn build(self) -> Result<TwilioConfig, SmsError> {
        let c = &self.config;
        if !c.account_sid.starts_with("AC") || c.account_sid.len() != 34 {
            return Err(SmsError::Config(
                "account SID must look like AC followed by 32 hex digits".into(),
            ));
        }
        if c.auth_token.expose_secret().is_empty() {
            return Err(SmsError::Config("auth token is empty".into()));
        }
        Ok(self.config)
    }
}

/// Sends SMS through Twilio.
#[derive(Clone, Debug)]
pub struct TwilioProvider {
    config: TwilioConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
    status: Option<String>,
    num_segments: Option<String>,
    body: Option<String>,
}

#[derive(Deserialize)]
struct MessageList {
    messages: Vec<MessageResource>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

impl TwilioProvider {
    /// A provider with its own HTTP client.
    pub fn new(config: TwilioConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { config, http }
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url, self.config.account_sid
        )
    }

    fn form(&self, request: &SmsRequest) -> Result<Vec<(&'static str, String)>, ChannelError> {
        let mut form = vec![("To", request.to.clone()), ("Body", request.body.clone())];
        match (&request.from, &self.config.messaging_service_sid) {
            (_, Some(service)) => form.push(("MessagingServiceSid", service.clone())),
            (Some(from), None) => form.push(("From", from.clone())),
            (None, None) => {
                return Err(ChannelError::Invalid(
                    "no From number and no messaging service".into(),
                ));
            }
        }
        if let Some(callback) = &request.status_callback {
            form.push(("StatusCallback", callback.clone()));
        }
        Ok(form)
    }
}

/// Maps a Twilio error response to a typed channel error.
pub(crate) fn map_error(status: u16, retry_after: Option<Duration>, body: &str) -> ChannelError {
    let parsed: Option<TwilioError> = serde_json::from_str(body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let message = parsed
        .and_then(|e| e.message)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match (code, status) {
        (Some(21610), _) => ChannelError::OptedOut,
        (Some(20003), _) | (_, 401) => ChannelError::Unauthorized {
            reason: format!(
                "Twilio refused the account SID or auth token ({message}); replace the credentials"
            ),
        },
        (Some(20429), _) | (_, 429) => ChannelError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
        },
        (_, s) if s >= 500 => ChannelError::Server { status: s },
        (code, _) => ChannelError::Rejected {
            code: code.map(|c| c.to_string()),
            reason: message,
        },
    }
}

fn transport(e: reqwest::Error) -> ChannelError {
    if e.is_timeout() {
        ChannelError::Timeout
    } else {
        ChannelError::Transport(e.to_string())
    }
}

#[async_trait]
impl SmsProvider for TwilioProvider {
    async fn send(&self, request: &SmsRequest) -> Result<SentSms, ChannelError> {
        let form = self.form(request)?;
        let response = self
            .http
            .post(self.messages_url())
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.expose_secret()),
            )
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(map_error(status, retry_after, &body));
        }
        let resource: MessageResource = serde_json::from_str(&body)
            .map_err(|e| ChannelError::Transport(format!("unreadable Twilio response: {e}")))?;
        Ok(SentSms::new(
            resource.sid,
            resource.status.unwrap_or_else(|| "queued".into()),
            resource.num_segments.and_then(|s| s.parse().ok()),
        ))
    }

    async fn find_sent(&self, request: &SmsRequest) -> Result<Option<Delivery>, ChannelError> {
        let mut query = vec![("To", request.to.clone()), ("PageSize", "50".to_owned())];
        if let Some(from) = &request.from {
            query.push(("From", from.clone()));
        }
        let response = self
            .http
            .get(self.messages_url())
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.expose_secret()),
            )
            .query(&query)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(map_error(status, None, &body));
        }
        let list: MessageList = serde_json::from_str(&body)
            .map_err(|e| ChannelError::Transport(format!("unreadable Twilio message list: {e}")))?;
        Ok(list
            .messages
            .into_iter()
            .find(|m| m.body.as_deref() == Some(request.body.as_str()))
            .map(|m| Delivery::sent(m.sid).with_state(DeliveryState::Sent)))
    }
}
