//! X: the Account Activity webhook, the mentions poller, posts through the v2 API.

use super::{AdapterContext, BuiltAdapter, Mount, Mounted, resilient};
use crate::DeskServerError;
use crate::config::TwitterConfig;
use crate::server::{self, Background};
use carekit_core::EventSink;
use std::sync::Arc;

pub(super) fn build(
    x: &TwitterConfig,
    ctx: &AdapterContext<'_>,
) -> Result<BuiltAdapter, DeskServerError> {
    let (secrets, clock, store) = (ctx.secrets, ctx.clock, ctx.store);
    use carekit_twitter::webhook::{self, WebhookConfig};
    use carekit_twitter::{Auth, ParentResolver, Poller, TwitterChannel, XClient};
    let need = "[twitter]";
    let consumer_secret = secrets.require("X_CONSUMER_SECRET", need)?.to_owned();
    let auth = match secrets.get("X_BEARER_TOKEN") {
        Some(token) if secrets.get("X_ACCESS_TOKEN").is_none() => Auth::bearer(token),
        _ => Auth::oauth1(
            secrets.require("X_CONSUMER_KEY", need)?,
            consumer_secret.clone(),
            secrets.require("X_ACCESS_TOKEN", need)?,
            secrets.require("X_ACCESS_TOKEN_SECRET", need)?,
        ),
    };
    let client = XClient::builder(auth, &x.brand_user_id)
        .api_base(x.api_base.clone())
        .build()
        .map_err(|e| DeskServerError::adapter("twitter", e))?;
    let channel = resilient(
        TwitterChannel::new(client.clone()),
        x.posts_per_window.max(1),
        std::time::Duration::from_secs(x.window_seconds.max(1)),
        clock,
    );
    let mut hooks = WebhookConfig::new(consumer_secret)
        .with_account(&x.brand_user_id)
        .with_clock(clock.clone())
        .with_parent_resolver(ParentResolver::new(client.clone(), store.clone()));
    if let Some(secret) = secrets.get("X_OAUTH2_CLIENT_SECRET") {
        hooks = hooks.with_oauth2_client_secret(secret);
        if x.accept_legacy_signature {
            tracing::warn!(
                "[twitter] accept_legacy_signature: webhooks signed only with the consumer secret are taken; remove it once X sends the OAuth2 signature"
            );
            hooks = hooks.accept_legacy_signature_during_migration();
        }
    }
    let poll = x.poll_seconds;
    let store = store.clone();
    let mount: Mount = Box::new(move |sink: Arc<dyn EventSink>| {
        let poller = (poll > 0).then(|| {
            let poller = Poller::builder(client.clone(), sink.clone(), store.clone())
                .interval(std::time::Duration::from_secs(poll))
                .parent_resolver(ParentResolver::new(client, store))
                .build();
            let run: Background = Box::new(move |stop: server::Shutdown| {
                Box::pin(async move { poller.run(stop.wait()).await })
            });
            run
        });
        Mounted {
            path: "/webhooks/twitter",
            router: webhook::router(hooks, sink),
            max_body_bytes: None,
            poller,
        }
    });
    Ok(BuiltAdapter::new(channel, mount))
}
