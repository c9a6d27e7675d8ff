//! A care desk on a Facebook page: page comments and Messenger messages
//! arrive by webhook; the desk acknowledges them (publicly under a comment,
//! privately on Messenger) and sends agents' replies, private replies to
//! comments and hides through the Graph API, inside Meta's windows.
//!
//! ```text
//! FB_PAGE_ID=1234567890           # the page's numeric id
//! FB_PAGE_TOKEN=EAAB...           # long-lived page access token (pages_messaging,
//!                                 #   pages_manage_engagement, pages_read_user_content)
//! FB_APP_SECRET=...               # the app secret (signs webhook POSTs)
//! FB_VERIFY_TOKEN=...             # any string; the same one you enter in the App Dashboard
//! FB_WEBHOOK_ADDR=0.0.0.0:8080    # optional (default shown)
//! FB_GRAPH_VERSION=v23.0          # optional: the pinned default
//! FB_GRAPH_BASE=https://graph.facebook.com  # optional
//! cargo run --example facebook_desk --features facebook
//! ```
//!
//! Point the page subscription (fields `feed`, `messages`,
//! `message_echoes`, `message_deliveries`, `messaging_postbacks`) at
//! `https://<your host>/webhooks/facebook`. Ctrl-C stops it. Conversations
//! and the private-reply ledger live in memory here; use `carekit::store_sql`
//! for a durable store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use carekit::desk::AutoAcknowledge;
use carekit::facebook::{FacebookChannel, FacebookConfig, GraphClient, webhook};
use carekit::policies::CareSentiment;
use carekit::{Clock, Desk, EventSink, MemoryStore, RetryPolicy, Retrying, SystemClock};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .with_context(|| format!("set {name} (see the top of examples/facebook_desk.rs)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,carekit=debug,carekit_facebook=debug".into()),
        )
        .init();

    let mut config = FacebookConfig::builder(env("FB_PAGE_ID")?)
        .page_token(env("FB_PAGE_TOKEN")?)
        .app_secret(env("FB_APP_SECRET")?)
        .verify_token(env("FB_VERIFY_TOKEN")?);
    if let Ok(version) = std::env::var("FB_GRAPH_VERSION") {
        config = config.graph_version(version);
    }
    if let Ok(base) = std::env::var("FB_GRAPH_BASE") {
        config = config.base_url(base);
    }
    let config = config.build()?;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(MemoryStore::new());
    let client = GraphClient::new(config.clone(), clock.clone())?;
    // Meta's own usage headers pace the client; Retrying waits out
    // RateLimited answers and transient failures.
    let channel = Retrying::new(
        FacebookChannel::new(client, store.clone()),
        RetryPolicy::default(),
    );
    let desk = Desk::builder()
        .store(store)
        .clock(clock.clone())
        .channel(Arc::new(channel))
        .allow_hide(true)
        // Acknowledge complaints only: praise is not answered with "sorry".
        .classifier(Arc::new(CareSentiment::default()))
        .rule(Arc::new(AutoAcknowledge::complaints(
            "Sorry to hear that. We've sent you a private message so we can sort it out.",
            "Thanks for your message. A person will answer shortly.",
        )))
        .build()?;
    let sink: Arc<dyn EventSink> = Arc::new(desk.clone());

    let app = axum::Router::new().nest(
        "/webhooks/facebook",
        webhook::router(config.clone(), sink, clock),
    );
    let addr = std::env::var("FB_WEBHOOK_ADDR").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "page {} webhook on http://{addr}/webhooks/facebook (Graph {})",
        config.page_id(),
        config.graph_version()
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    let shutdown = stopped();
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            eprintln!("webhook server stopped: {e}");
        }
    });
    let shutdown = stopped();
    let worker = desk.clone();
    tasks.spawn(async move { worker.run(Duration::from_secs(1), shutdown).await });

    tokio::signal::ctrl_c().await?;
    println!("stopping…");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}
