//! SMS through Twilio: inbound and status webhooks, messages out.

use super::{AdapterContext, BuiltAdapter, Mount, Mounted, ServerAdapter, resilient};
use crate::DeskServerError;
use crate::config::SmsConfig;
use carekit_core::Channel;
use std::sync::Arc;

/// Sms as the desk server runs it (`[sms]`).
pub(super) struct Sms;

impl ServerAdapter for Sms {
    fn name(&self) -> &'static str {
        "sms"
    }

    fn build(&self, ctx: &AdapterContext<'_>) -> Result<Option<BuiltAdapter>, DeskServerError> {
        let Some(settings) = &ctx.config.sms else {
            return Ok(None);
        };
        let (channel, mount) = build(settings, ctx)?;
        Ok(Some(BuiltAdapter::new(channel, mount)))
    }
}

fn build(
    sms: &SmsConfig,
    ctx: &AdapterContext<'_>,
) -> Result<(Arc<dyn Channel>, Mount), DeskServerError> {
    let (config, secrets, clock) = (ctx.config, ctx.secrets, ctx.clock);
    use carekit_sms::{SmsChannel, TwilioConfig, TwilioProvider, WebhookConfig, webhook};
    let token = secrets.require("TWILIO_AUTH_TOKEN", "[sms]")?.to_owned();
    let public = config.server.public_url.trim_end_matches('/').to_owned();
    let twilio = TwilioConfig::builder(sms.account_sid.clone(), token.clone())
        .base_url(sms.api_base.clone())
        .build()
        .map_err(|e| DeskServerError::adapter("sms", e))?;
    let mut channel = SmsChannel::builder(Arc::new(TwilioProvider::new(twilio)), sms.from.clone())
        .default_region(sms.default_region.clone())
        .status_callback(format!("{public}/webhooks/twilio/sms/status"));
    if let Some(n) = sms.messages_per_second {
        channel = channel.sender_kind(carekit_sms::SenderKind::PerSecond(n.max(1)));
    }
    let channel = channel
        .build()
        .map_err(|e| DeskServerError::adapter("sms", e))?;
    let per_second = channel.per_second();
    let channel = resilient(
        channel,
        per_second,
        std::time::Duration::from_secs(1),
        clock,
    );
    let mut hooks = WebhookConfig::builder(token, public)
        .default_region(sms.default_region.clone())
        .clock(clock.clone());
    if let Some(help) = &sms.help_text {
        hooks = hooks.help_text(help.clone());
    }
    let hooks = hooks.build();
    let mount: Mount = Box::new(move |sink| Mounted {
        path: "/webhooks/twilio/sms",
        router: webhook::router(hooks, sink),
        max_body_bytes: None,
        poller: None,
    });
    Ok((channel, mount))
}
