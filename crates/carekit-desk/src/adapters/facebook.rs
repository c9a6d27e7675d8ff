//! Facebook: page comments and Messenger through the Graph API.

use super::{AdapterContext, BuiltAdapter, Mount, Mounted, resilient};
use crate::DeskServerError;
use crate::config::FacebookConfig;
use carekit_core::Channel;
use std::sync::Arc;

pub(super) fn build(
    fb: &FacebookConfig,
    ctx: &AdapterContext<'_>,
) -> Result<BuiltAdapter, DeskServerError> {
    let (secrets, clock, store) = (ctx.secrets, ctx.clock, ctx.store);
    use carekit_facebook::{FacebookChannel, GraphClient, webhook};
    let need = "[facebook]";
    let mut builder = carekit_facebook::FacebookConfig::builder(&fb.page_id)
        .page_token(secrets.require("FB_PAGE_TOKEN", need)?)
        .app_secret(secrets.require("FB_APP_SECRET", need)?)
        .verify_token(secrets.require("FB_VERIFY_TOKEN", need)?);
    if let Some(base) = &fb.graph_base {
        builder = builder.base_url(base.clone());
    }
    if let Some(version) = &fb.graph_version {
        builder = builder.graph_version(version.clone());
    }
    let config = builder
        .build()
        .map_err(|e| DeskServerError::adapter("facebook", e))?;
    let client = GraphClient::new(config.clone(), clock.clone())
        .map_err(|e| DeskServerError::adapter("facebook", e))?;
    // The Graph client paces itself from Meta's usage headers; a
    // configured ceiling comes on top.
    let channel: Arc<dyn Channel> = match fb.sends_per_second {
        Some(n) => resilient(
            FacebookChannel::new(client, store.clone()),
            n.max(1),
            std::time::Duration::from_secs(1),
            clock,
        ),
        // The Graph client paces itself from Meta's usage headers.
        None => Arc::new(FacebookChannel::new(client, store.clone())),
    };
    let clock = clock.clone();
    let mount: Mount = Box::new(move |sink| Mounted {
        path: "/webhooks/facebook",
        router: webhook::router(config, sink, clock),
        max_body_bytes: None,
        poller: None,
    });
    Ok(BuiltAdapter::new(channel, mount))
}
