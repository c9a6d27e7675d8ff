//! A care desk on email: IMAP in, SMTP out, configured from environment
//! variables.
//!
//! ```text
//! MAILBOX=support@example.com \
//! IMAP_HOST=imap.example.com IMAP_USER=support@example.com IMAP_PASSWORD=… \
//! SMTP_HOST=smtp.example.com SMTP_USER=support@example.com SMTP_PASSWORD=… \
//!   cargo run --example email_desk --features email
//! ```
//!
//! Optional: `IMAP_PORT` (993), `IMAP_SECURITY` (`tls` or `plain` for a
//! local test server), `IMAP_CA_FILE` (default
//! `/etc/ssl/certs/ca-certificates.crt`), `IMAP_FOLDER` (`INBOX`),
//! `SMTP_PORT` (587), `SMTP_SECURITY` (`starttls`, `tls`, `plain`),
//! `CAREKIT_DB` (default `sqlite://care.db`), `INBOUND_SECRET` (also serve
//! `POST /inbound/email` for providers that forward raw mail, on `LISTEN`,
//! default `127.0.0.1:3000`).
//!
//! Against the local servers of `scripts/mail-servers.sh`:
//! `MAILBOX=support@example.com IMAP_HOST=127.0.0.1 IMAP_PORT=10143
//! IMAP_SECURITY=plain IMAP_USER=support IMAP_PASSWORD=secret
//! SMTP_HOST=127.0.0.1 SMTP_PORT=8025 SMTP_SECURITY=plain`.

use carekit::desk::AutoAcknowledge;
use carekit::email::{
    EmailChannel, EmailIntake, ImapConfig, ImapPoller, RouteGuard, SmtpConfig, SmtpSecurity,
    raw_mail_router,
};
use carekit::store_sql::SqlStore;
use carekit::*;
use std::sync::Arc;

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .map_err(|_| anyhow::anyhow!("set {name} (see the example's header for all variables)"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let mailbox = env("MAILBOX")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let security = match env_or("SMTP_SECURITY", "starttls").as_str() {
        "tls" => SmtpSecurity::Tls,
        "plain" => SmtpSecurity::PlainForTests,
        _ => SmtpSecurity::StartTls,
    };
    let mut smtp = SmtpConfig::builder(env("SMTP_HOST")?, mailbox.clone()).security(security);
    if let Ok(port) = env_or("SMTP_PORT", "").parse() {
        smtp = smtp.port(port);
    }
    if let (Ok(user), Ok(password)) = (env("SMTP_USER"), env("SMTP_PASSWORD")) {
        smtp = smtp.credentials(user, password);
    }
    let channel = Retrying::new(
        EmailChannel::new(smtp.build()?, clock.clone())?,
        RetryPolicy::default(),
    );

    let store: Arc<SqlStore> =
        Arc::new(SqlStore::open(&env_or("CAREKIT_DB", "sqlite://care.db")).await?);
    let desk = Desk::builder()
        .store(store.clone())
        .clock(clock.clone())
        .channel(Arc::new(channel))
        .rule(Arc::new(AutoAcknowledge::everyone(
            "",
            "Thanks for writing. A person will answer shortly.",
        )))
        .build()?;

    let values: Arc<dyn KeyValues> = store;
    let intake = Arc::new(
        EmailIntake::new(mailbox, Arc::new(desk.clone()), clock).with_thread_index(values.clone()),
    );
    let mut imap = ImapConfig::builder(env("IMAP_HOST")?, env("IMAP_USER")?, env("IMAP_PASSWORD")?)
        .mailbox(env_or("IMAP_FOLDER", "INBOX"));
    imap = if env_or("IMAP_SECURITY", "tls") == "plain" {
        imap.plain_for_tests()
    } else {
        imap.tls_with_ca_file(env_or("IMAP_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"))?
    };
    if let Ok(port) = env_or("IMAP_PORT", "").parse() {
        imap = imap.port(port);
    }
    let poller = ImapPoller::new(imap.build()?, intake.clone(), values);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let worker = tokio::spawn({
        let desk = desk.clone();
        let rx = stop_rx.clone();
        async move {
            desk.run(std::time::Duration::from_millis(500), stopped(rx))
                .await
        }
    });
    let imap_task = tokio::spawn({
        let rx = stop_rx.clone();
        async move { poller.run(stopped(rx)).await }
    });
    if let Ok(secret) = env("INBOUND_SECRET") {
        let app = axum::Router::new().nest(
            "/inbound/email",
            raw_mail_router(intake, RouteGuard::shared_secret(secret)),
        );
        let listen = env_or("LISTEN", "127.0.0.1:3000");
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        tracing::info!(%listen, "raw mail route listening on /inbound/email");
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    tracing::info!("email desk running; Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    let _ = stop_tx.send(true);
    let _ = tokio::join!(worker, imap_task);
    Ok(())
}
