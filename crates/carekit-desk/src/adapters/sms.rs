//! SMS through Twilio: inbound and status webhooks, messages out.

use super::{AdapterContext, BuiltAdapter, Mount, Mounted, resilient};
use crate::DeskServerError;
use crate::config::SmsConfig;
use std::sync::Arc;

pub(super) fn build(
    sms: &SmsConfig,
    ctx: &AdapterContext<'_>,
) -> Result<BuiltAdapter, DeskServerError> {
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
    Ok(BuiltAdapter::new(channel, mount))
}
