//! A care desk on X: mentions and DMs come in by polling (works on every API
//! tier) and, optionally, by the Account Activity webhook; the desk
//! acknowledges them and sends replies as threaded tweets or DMs.
//!
//! ```text
//! X_CONSUMER_KEY=...          # API key
//! X_CONSUMER_SECRET=...       # API key secret (also signs webhooks and the CRC)
//! X_ACCESS_TOKEN=...          # the brand account's access token
//! X_ACCESS_TOKEN_SECRET=...
//! X_BRAND_USER_ID=2244994945  # the brand account's numeric user id
//! X_WEBHOOK_ADDR=0.0.0.0:8080 # optional: also serve the webhook at /webhooks/x
//! X_OAUTH2_CLIENT_SECRET=...  # optional: verify X-Twitter-Webhooks-Signature-OAuth2
//! X_API_BASE=https://api.x.com # optional
//! X_POLL_SECONDS=60           # optional
//! cargo run --example twitter_desk --features twitter
//! ```
//!
//! Ctrl-C stops it. Conversations live in memory here; use
//! `carekit::store_sql` for a durable store (cursors included).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use carekit::desk::AutoAcknowledge;
use carekit::policies::CareSentiment;
use carekit::twitter::webhook::{self, WebhookConfig};
use carekit::twitter::{Auth, ParentResolver, Poller, TwitterChannel, XClient};
use carekit::{Desk, EventSink, MemoryStore, RateLimited, RetryPolicy, Retrying, Store};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .with_context(|| format!("set {name} (see the top of examples/twitter_desk.rs)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,carekit=debug".into()),
        )
        .init();

    let brand = env("X_BRAND_USER_ID")?;
    let consumer_secret = env("X_CONSUMER_SECRET")?;
    let auth = Auth::oauth1(
        env("X_CONSUMER_KEY")?,
        consumer_secret.clone(),
        env("X_ACCESS_TOKEN")?,
        env("X_ACCESS_TOKEN_SECRET")?,
    );
    let mut builder = XClient::builder(auth, &brand);
    if let Ok(base) = std::env::var("X_API_BASE") {
        builder = builder.api_base(base);
    }
    let client = builder.build()?;

    // Sends wait out X's resets (computed from x-rate-limit-reset) and back
    // off on failures; limits are read from X's headers, never hard-coded.
    let channel = Retrying::new(
        RateLimited::new(
            TwitterChannel::new(client.clone()),
            100,
            Duration::from_secs(15 * 60),
        ),
        RetryPolicy::default(),
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let desk = Desk::builder()
        .store(store.clone())
        .channel(Arc::new(channel))
        // Acknowledge complaints only: praise is not answered with "sorry".
        .classifier(Arc::new(CareSentiment::default()))
        .rule(Arc::new(AutoAcknowledge::complaints(
            "Sorry to hear that. We're on it and will reply here shortly.",
            "Thanks for your message. A person will answer shortly.",
        )))
        .build()?;
    let sink: Arc<dyn EventSink> = Arc::new(desk.clone());
    let parents = ParentResolver::new(client.clone(), store.clone());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let mut tasks = tokio::task::JoinSet::new();
    if let Ok(addr) = std::env::var("X_WEBHOOK_ADDR") {
        let mut config = WebhookConfig::new(consumer_secret)
            .with_account(&brand)
            .with_parent_resolver(parents.clone());
        if let Ok(secret) = std::env::var("X_OAUTH2_CLIENT_SECRET") {
            config = config.with_oauth2_client_secret(secret);
        }
        let app = axum_router(webhook::router(config, sink.clone()));
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!(
            "webhook listening on http://{addr}/webhooks/x (register it with X's Account Activity API)"
        );
        let shutdown = stopped();
        tasks.spawn(async move {
            if let Err(e) = webhook::serve(listener, app, shutdown).await {
                eprintln!("webhook server stopped: {e}");
            }
        });
    }

    let every = std::env::var("X_POLL_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let poller = Poller::builder(client, sink, store.clone())
        .interval(Duration::from_secs(every))
        .parent_resolver(parents)
        .build();
    println!("polling mentions and DMs of user {brand} every {every}s (slower if X says so)");
    let shutdown = stopped();
    tasks.spawn(async move { poller.run(shutdown).await });
    let shutdown = stopped();
    let worker = desk.clone();
    tasks.spawn(async move { worker.run(Duration::from_secs(1), shutdown).await });

    tokio::signal::ctrl_c().await?;
    println!("stopping…");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Mounts the webhook where X was told to deliver.
fn axum_router(webhook: carekit::twitter::webhook::Router) -> carekit::twitter::webhook::Router {
    carekit::twitter::webhook::Router::new().nest("/webhooks/x", webhook)
}
