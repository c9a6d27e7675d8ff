//! A care desk on SMS through Twilio, configured from environment variables.
//!
//! ```text
//! TWILIO_ACCOUNT_SID=AC…  TWILIO_AUTH_TOKEN=…  TWILIO_FROM=+14155550100 \
//! PUBLIC_URL=https://desk.example.com  \
//!   cargo run --example sms_desk --features sms
//! ```
//!
//! Point the number's messaging webhook at `PUBLIC_URL/webhooks/twilio/sms`.
//! Optional: `CAREKIT_DB` (default `sqlite://care.db`), `LISTEN` (default
//! `127.0.0.1:3000`), `TWILIO_API_BASE` (default `https://api.twilio.com`).

use carekit::desk::AutoAcknowledge;
use carekit::sms::{SmsChannel, TwilioConfig, TwilioProvider, WebhookConfig, webhook};
use carekit::store_sql::SqlStore;
use carekit::*;
use std::sync::Arc;

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .map_err(|_| anyhow::anyhow!("set {name} (see the example's header for all variables)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let token = env("TWILIO_AUTH_TOKEN")?;
    let public = env("PUBLIC_URL")?;
    let twilio = TwilioConfig::builder(env("TWILIO_ACCOUNT_SID")?, token.clone())
        .base_url(
            std::env::var("TWILIO_API_BASE").unwrap_or_else(|_| "https://api.twilio.com".into()),
        )
        .build()?;
    let sms = SmsChannel::builder(Arc::new(TwilioProvider::new(twilio)), env("TWILIO_FROM")?)
        .default_region("US")
        .status_callback(format!("{public}/webhooks/twilio/sms/status"))
        .build()?;
    let per_second = sms.per_second();
    let channel = Retrying::new(
        RateLimited::per_second(sms, per_second),
        RetryPolicy::default(),
    );
    let store =
        SqlStore::open(&std::env::var("CAREKIT_DB").unwrap_or_else(|_| "sqlite://care.db".into()))
            .await?;
    let desk = Desk::builder()
        .store(Arc::new(store))
        .channel(Arc::new(channel))
        .rule(Arc::new(AutoAcknowledge::everyone(
            "",
            "Thanks for your message. A person will answer shortly.",
        )))
        .build()?;

    let hooks = WebhookConfig::builder(token, public)
        .help_text("Acme support. Reply STOP to opt out.")
        .default_region("US")
        .build();
    let app = axum::Router::new().nest(
        "/webhooks/twilio/sms",
        webhook::router(hooks, Arc::new(desk.clone())),
    );
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(%listen, "SMS desk listening");
    let worker = tokio::spawn({
        let desk = desk.clone();
        async move {
            desk.run(
                std::time::Duration::from_millis(500),
                std::future::pending(),
            )
            .await
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    worker.abort();
    Ok(())
}
