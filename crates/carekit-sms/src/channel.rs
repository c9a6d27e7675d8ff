//! SMS as a carekit `Channel`.

use crate::provider::{SenderKind, SmsProvider, SmsRequest};
use crate::segments;
use crate::{SmsError, normalize};
use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, DeliveryState, OutboundMessage,
    ThreadKey, Visibility,
};
use std::sync::Arc;

/// Twilio's limit on one message body, in characters.
const MAX_BODY_CHARS: usize = 1600;

/// Sends carekit replies as SMS from one business number.
#[derive(Clone)]
pub struct SmsChannel {
    provider: Arc<dyn SmsProvider>,
    from: String,
    region: Option<String>,
    max_segments: usize,
    split: bool,
    status_callback: Option<String>,
    sender: SenderKind,
}

impl std::fmt::Debug for SmsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsChannel")
            .field("from", &self.from)
            .field("max_segments", &self.max_segments)
            .field("split", &self.split)
            .finish_non_exhaustive()
    }
}

/// Builds an [`SmsChannel`].
pub struct SmsChannelBuilder {
    provider: Arc<dyn SmsProvider>,
    from: String,
    region: Option<String>,
    max_segments: usize,
    split: bool,
    status_callback: Option<String>,
    sender: SenderKind,
}

impl SmsChannelBuilder {
    /// Region for numbers written without a country code (`"US"`).
    pub fn default_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Most segments one message may cost (default 3).
    pub fn max_segments(mut self, n: usize) -> Self {
        self.max_segments = n.max(1);
        self
    }
    /// Split longer replies into several messages (default) or refuse them.
    pub fn split_long_messages(mut self, split: bool) -> Self {
        self.split = split;
        self
    }
    /// Where Twilio posts delivery updates (the webhook's status route).
    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }
    /// The sender's number type, which sets its throughput.
    pub fn sender_kind(mut self, kind: SenderKind) -> Self {
        self.sender = kind;
        self
    }
    /// Finishes; the business number must be a valid number.
    pub fn build(self) -> Result<SmsChannel, SmsError> {
        let from = normalize(&self.from, self.region.as_deref())?;
        Ok(SmsChannel {
            provider: self.provider,
            from,
            region: self.region,
            max_segments: self.max_segments,
            split: self.split,
            status_callback: self.status_callback,
            sender: self.sender,
        })
    }
}

impl SmsChannel {
    /// A channel sending from `from` through `provider`.
    pub fn builder(provider: Arc<dyn SmsProvider>, from: impl Into<String>) -> SmsChannelBuilder {
        SmsChannelBuilder {
            provider,
            from: from.into(),
            region: None,
            max_segments: 3,
            split: true,
            status_callback: None,
            sender: SenderKind::LongCode,
        }
    }

    /// The business number, E.164.
    pub fn from_number(&self) -> &str {
        &self.from
    }

    /// Messages per second this sender may send: wrap the channel in
    /// `carekit_core::RateLimited::per_second(channel, channel.per_second())`.
    pub fn per_second(&self) -> u32 {
        self.sender.per_second()
    }

    fn request(&self, to: &str, body: String) -> SmsRequest {
        let mut request = SmsRequest::new(to, body).from_number(self.from.clone());
        if let Some(callback) = &self.status_callback {
            request = request.with_status_callback(callback.clone());
        }
        request
    }

    fn recipient(&self, message: &OutboundMessage) -> Result<String, ChannelError> {
        if message.visibility == Visibility::Public {
            return Err(ChannelError::Unsupported("public replies over SMS"));
        }
        let recipient = message
            .recipient
            .as_ref()
            .ok_or_else(|| ChannelError::Invalid("an SMS needs a recipient number".into()))?;
        normalize(&recipient.handle, self.region.as_deref()).map_err(|e| ChannelError::Rejected {
            code: Some("21211".into()),
            reason: e.to_string(),
        })
    }

    fn parts(&self, text: &str) -> Result<Vec<String>, ChannelError> {
        let info = segments::count(text);
        if info.segments <= self.max_segments {
            return Ok(vec![text.to_owned()]);
        }
        if !self.split {
            return Err(ChannelError::TooLong {
                length: info.segments,
                max: self.max_segments,
            });
        }
        Ok(segments::split(text, self.max_segments))
    }
}

#[async_trait]
impl Channel for SmsChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Sms
    }
    fn account(&self) -> Option<String> {
        Some(self.from.clone())
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .with_private_message(true)
            .with_max_length(Some(if self.split {
                MAX_BODY_CHARS * 4
            } else {
                MAX_BODY_CHARS
            }))
            .with_attachments(false)
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let to = self.recipient(message)?;
        if message.text.trim().is_empty() {
            return Err(ChannelError::Invalid("empty SMS".into()));
        }
        let parts = self.parts(&message.text)?;
        let mut first: Option<String> = None;
        let mut billed = 0u32;
        for part in parts {
            let request = self.request(&to, part);
            let sent = self.provider.send(&request).await?;
            billed += sent
                .segments
                .unwrap_or_else(|| segments::count(&request.body).segments as u32);
            first.get_or_insert(sent.sid);
        }
        let sid = first.ok_or_else(|| ChannelError::Invalid("nothing to send".into()))?;
        Ok(Delivery::sent(sid)
            .with_state(DeliveryState::Sent)
            .with_parts(billed)
            .with_thread_key(ThreadKey::new(format!("{}:{}", self.from, to))))
    }

    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<Delivery>, ChannelError> {
        let to = self.recipient(message)?;
        let first = self
            .parts(&message.text)?
            .into_iter()
            .next()
            .unwrap_or_default();
        self.provider.find_sent(&self.request(&to, first)).await
    }
}
