//! Sending replies over SMTP with lettre (pooled connections, implicit TLS,
//! STARTTLS, or plain for local tests), as a carekit [`Channel`].
//!
//! Every reply carries `In-Reply-To` and `References` (oldest first) so the
//! customer's client threads it, a `Message-ID` derived from the outbound
//! message's idempotency key (a retried send keeps the same id), and the
//! thread token twice: as a `Reply-To` plus-address
//! (`support+<token>@example.com`) and as an `X-Carekit-Thread` header, so
//! the answer threads even when the customer's client rewrites
//! `In-Reply-To`. CR and LF are stripped from every header value we write:
//! header injection through a subject or an address is impossible.

use crate::error::EmailError;
use crate::thread::ThreadToken;
use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Clock, Delivery, OutboundMessage, Visibility,
};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// `OutboundMessage::metadata` key for an optional HTML alternative.
pub const HTML_METADATA_KEY: &str = "email.html";

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain, upgraded with STARTTLS before anything is sent (port 587);
    /// refuses to continue if the upgrade fails.
    StartTls,
    /// No encryption. For local test servers only.
    PlainForTests,
}

/// SMTP settings. Build with [`SmtpConfig::builder`].
#[derive(Clone)]
pub struct SmtpConfig {
    host: String,
    port: u16,
    security: SmtpSecurity,
    username: Option<String>,
    password: Option<SecretString>,
    from: Mailbox,
    plus_addressing: bool,
    pool_size: u32,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from.to_string())
            .field("plus_addressing", &self.plus_addressing)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpConfig {
    /// Starts a configuration for the relay `host`, sending as `from`
    /// (the support mailbox, which is also the channel's account).
    pub fn builder(host: impl Into<String>, from: impl Into<String>) -> SmtpConfigBuilder {
        SmtpConfigBuilder {
            host: host.into(),
            from: from.into(),
            from_name: None,
            port: None,
            security: SmtpSecurity::StartTls,
            username: None,
            password: None,
            plus_addressing: true,
            pool_size: 4,
            timeout: Duration::from_secs(30),
        }
    }

    /// The sending mailbox address.
    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }
}

/// Builds an [`SmtpConfig`].
#[derive(Debug)]
pub struct SmtpConfigBuilder {
    host: String,
    from: String,
    from_name: Option<String>,
    port: Option<u16>,
    security: SmtpSecurity,
    username: Option<String>,
    password: Option<SecretString>,
    plus_addressing: bool,
    pool_size: u32,
    timeout: Duration,
}

impl SmtpConfigBuilder {
    /// Port (default 465 for TLS, 587 for STARTTLS, 25 for plain).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Connection security (default STARTTLS).
    pub fn security(mut self, security: SmtpSecurity) -> Self {
        self.security = security;
        self
    }
    /// Login; the password is kept as a secret and never printed.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(SecretString::from(password.into()));
        self
    }
    /// Display name on `From` ("Acme Support").
    pub fn from_name(mut self, name: impl Into<String>) -> Self {
        self.from_name = Some(name.into());
        self
    }
    /// Put the thread token in a `Reply-To` plus-address (default on; turn
    /// off when the mail server does not deliver `local+tag@` addresses).
    pub fn plus_addressing(mut self, on: bool) -> Self {
        self.plus_addressing = on;
        self
    }
    /// Pooled connections kept open (default 4).
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }
    /// Timeout per SMTP command (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks and builds.
    ///
    /// # Errors
    /// [`EmailError::Config`] for an empty host or an unusable from address.
    pub fn build(self) -> Result<SmtpConfig, EmailError> {
        if self.host.trim().is_empty() {
            return Err(EmailError::Config("SMTP host is empty".into()));
        }
        let address: Address = strip_controls(&self.from)
            .parse()
            .map_err(|e| EmailError::Config(format!("from address {:?}: {e}", self.from)))?;
        let name = self.from_name.map(|n| strip_controls(&n));
        let port = self.port.unwrap_or(match self.security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::PlainForTests => 25,
        });
        Ok(SmtpConfig {
            host: self.host,
            port,
            security: self.security,
            username: self.username,
            password: self.password,
            from: Mailbox::new(name, address),
            plus_addressing: self.plus_addressing,
            pool_size: self.pool_size,
            timeout: self.timeout,
        })
    }
}

/// A composed reply, before it goes on the wire.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ComposedEmail {
    /// The lettre message.
    pub message: Message,
    /// Its Message-ID without brackets (the delivery's provider id).
    pub message_id: String,
    /// The thread token it carries.
    pub token: ThreadToken,
}

impl ComposedEmail {
    /// The RFC 5322 bytes.
    pub fn formatted(&self) -> Vec<u8> {
        self.message.formatted()
    }
}

/// The email [`Channel`]: private messages only, no length limit,
/// attachments (listed as links: carekit attachments are metadata).
pub struct EmailChannel {
    config: SmtpConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// A channel sending through `config`, dating mail with `clock`.
    /// Create (and drop) it inside a tokio runtime: the connection pool
    /// lives on it.
    ///
    /// # Errors
    /// [`EmailError::Config`] when TLS parameters cannot be built for the host.
    pub fn new(config: SmtpConfig, clock: Arc<dyn Clock>) -> Result<Self, EmailError> {
        let builder = match config.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| EmailError::Config(format!("SMTP TLS: {e}")))?,
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| EmailError::Config(format!("SMTP STARTTLS: {e}")))?
            }
            SmtpSecurity::PlainForTests => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(config.pool_size));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            config,
            clock,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Builds the RFC 5322 message for `outbound` without sending it.
    ///
    /// # Errors
    /// [`ChannelError::Unsupported`] for public messages,
    /// [`ChannelError::Invalid`] without a usable recipient.
    pub fn compose(&self, outbound: &OutboundMessage) -> Result<ComposedEmail, ChannelError> {
        if outbound.visibility != Visibility::Private {
            return Err(ChannelError::Unsupported("public email"));
        }
        let recipient = outbound
            .recipient
            .as_ref()
            .ok_or_else(|| ChannelError::Invalid("email needs a recipient".into()))?;
        let to_address: Address = strip_controls(&recipient.handle)
            .parse()
            .map_err(|e| ChannelError::Invalid(format!("recipient address: {e}")))?;
        let to = Mailbox::new(
            recipient.display_name.as_deref().map(strip_controls),
            to_address,
        );
        let message_id = carekit_message_id(&outbound.id, self.config.from.email.domain());

        // Desk references are nearest first; the header wants oldest first.
        let in_reply_to = outbound.in_reply_to.as_deref().map(clean_header_id);
        let mut references: Vec<String> = outbound
            .references
            .iter()
            .rev()
            .map(|r| clean_header_id(r))
            .filter(|r| !r.is_empty())
            .collect();
        if let Some(parent) = &in_reply_to
            && !parent.is_empty()
        {
            references.retain(|r| r != parent);
            references.push(parent.clone());
        }
        let token = outbound
            .thread_key
            .as_ref()
            .and_then(|k| ThreadToken::parse(k.as_str()))
            .unwrap_or_else(|| {
                ThreadToken::from_root(references.first().map_or(message_id.as_str(), |r| r))
            });

        let mut builder = Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .message_id(Some(format!("<{message_id}>")))
            .date(self.clock.now().into())
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Carekit-Thread"),
                token.as_str().to_owned(),
            ));
        if self.config.plus_addressing
            && let Some(plus) = token.plus_address(&self.config.from_address())
            && let Ok(address) = plus.parse::<Address>()
        {
            builder = builder.reply_to(Mailbox::new(self.config.from.name.clone(), address));
        }
        if let Some(parent) = in_reply_to.filter(|p| !p.is_empty()) {
            builder = builder.in_reply_to(format!("<{parent}>"));
        }
        if !references.is_empty() {
            let joined = references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" ");
            builder = builder.references(joined);
        }
        if let Some(subject) = &outbound.subject {
            builder = builder.subject(strip_controls(subject));
        }

        let mut text = outbound.text.replace("\r\n", "\n");
        if !outbound.attachments.is_empty() {
            text.push_str("\n\nAttachments:\n");
            for a in &outbound.attachments {
                let name = a.name.as_deref().unwrap_or("attachment");
                match &a.url {
                    Some(url) => text.push_str(&format!("- {name}: {url}\n")),
                    None => text.push_str(&format!("- {name}\n")),
                }
            }
        }
        let message = match outbound.metadata.get(HTML_METADATA_KEY) {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.clone())),
            None => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            ),
        }
        .map_err(|e| ChannelError::Invalid(format!("could not build email: {e}")))?;
        Ok(ComposedEmail {
            message,
            message_id,
            token,
        })
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn account(&self) -> Option<String> {
        Some(self.config.from_address().to_lowercase())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .with_private_message(true)
            .with_max_length(None)
            .with_attachments(true)
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let composed = self.compose(message)?;
        self.transport
            .send(composed.message)
            .await
            .map_err(map_smtp_error)?;
        Ok(Delivery::sent(composed.message_id).with_thread_key(composed.token.key()))
    }
}

/// The Message-ID (without brackets) of the mail sent for the outbound
/// message `id` from a mailbox at `domain`: `<uuid>@<domain>`, the same on
/// every retry. It is also the [`Delivery::provider_id`].
fn carekit_message_id(id: &carekit_core::MessageId, domain: &str) -> String {
    format!("{id}@{domain}")
}

/// Whether `message_id` (without brackets) has the shape
/// [`EmailChannel`] gives the mail it sends from `mailbox`: a UUID at the
/// mailbox's domain. Anyone can write such an id; what it can do is
/// described at `EmailIntake`'s echo handling.
pub(crate) fn is_carekit_message_id(message_id: &str, mailbox: &str) -> bool {
    let Some((_, domain)) = mailbox.rsplit_once('@') else {
        return false;
    };
    message_id.rsplit_once('@').is_some_and(|(local, d)| {
        d.eq_ignore_ascii_case(domain)
            && local
                .parse::<carekit_core::MessageId>()
                .is_ok_and(|id| id.to_string() == local)
    })
}

fn map_smtp_error(e: lettre::transport::smtp::Error) -> ChannelError {
    let code = e.status().map(|c| c.to_string());
    if e.is_timeout() {
        return ChannelError::Timeout;
    }
    if e.is_permanent() {
        if matches!(code.as_deref(), Some("530" | "534" | "535" | "538")) {
            return ChannelError::Unauthorized {
                reason: format!("SMTP login refused ({})", code.unwrap_or_default()),
            };
        }
        return ChannelError::Rejected {
            code,
            reason: e.to_string(),
        };
    }
    // 4xx and everything on the wire: worth another try later.
    ChannelError::Transport(e.to_string())
}

/// Removes CR, LF and other control characters: nothing we put in a header
/// can start a new header line.
pub fn strip_controls(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn clean_header_id(id: &str) -> String {
    crate::message_id::clean_id(&strip_controls(id).replace(['<', '>', ' '], ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_message_ids_are_recognised_and_nothing_else() {
        let id = carekit_core::MessageId::new();
        let generated = carekit_message_id(&id, "example.com");
        assert!(is_carekit_message_id(&generated, "support@example.com"));
        assert!(!is_carekit_message_id(
            &generated.to_uppercase(),
            "support@example.com"
        ));
        assert!(!is_carekit_message_id(&generated, "support@example.org"));
        assert!(!is_carekit_message_id(
            &format!("{}@example.com", id.0.simple()),
            "support@example.com"
        ));
        assert!(!is_carekit_message_id(
            "CAF=abc@mail.example.com",
            "support@example.com"
        ));
        assert!(!is_carekit_message_id("no-at-sign", "support@example.com"));
    }
}
