//! Email: the raw-mail webhook, the optional IMAP poller, SMTP out.

use super::{AdapterContext, BuiltAdapter, Mount, Mounted};
use crate::DeskServerError;
use crate::config::EmailConfig;
use crate::server::{self, Background};
use carekit_core::Channel;
use carekit_core::KeyValues;
use std::sync::Arc;

/// A connection without TLS: refused unless `[email] allow_plaintext =
/// true`, and then started with a loud warning, so that a test setting
/// copied into production cannot go unnoticed.
fn plaintext(email: &EmailConfig, what: &str) -> Result<(), DeskServerError> {
    if !email.allow_plaintext {
        return Err(DeskServerError::Config(format!(
            "{what} would cross the network unencrypted; use TLS, or set [email] allow_plaintext = true \
             for a local test server"
        )));
    }
    tracing::warn!(
        "PLAINTEXT: {what} travel unencrypted ([email] allow_plaintext = true); \
         never use this outside a local test server"
    );
    Ok(())
}

pub(super) fn build(
    email: &EmailConfig,
    ctx: &AdapterContext<'_>,
) -> Result<BuiltAdapter, DeskServerError> {
    let (secrets, clock, store) = (ctx.secrets, ctx.clock, ctx.store);
    use carekit_email::{
        EmailChannel, EmailIntake, ImapConfig, ImapPoller, RouteGuard, SmtpConfig, SmtpSecurity,
        raw_mail_router,
    };
    let need = "[email]";
    let security = match email.smtp_security.as_str() {
        "tls" => SmtpSecurity::Tls,
        "starttls" => SmtpSecurity::StartTls,
        "plain" => {
            plaintext(
                email,
                "[email] smtp_security = \"plain\": SMTP credentials and customer mail",
            )?;
            SmtpSecurity::PlainForTests
        }
        other => {
            return Err(DeskServerError::Config(format!(
                "[email] smtp_security = {other:?}: use starttls, tls or plain"
            )));
        }
    };
    if let Some(imap) = &email.imap
        && imap.plain_for_tests
    {
        plaintext(
            email,
            "[email.imap] plain_for_tests = true: the IMAP password and customer mail",
        )?;
    }
    let mut smtp =
        SmtpConfig::builder(email.smtp_host.clone(), email.mailbox.clone()).security(security);
    if let Some(port) = email.smtp_port {
        smtp = smtp.port(port);
    }
    if let (Some(user), Some(password)) = (secrets.get("SMTP_USER"), secrets.get("SMTP_PASSWORD")) {
        smtp = smtp.credentials(user, password);
    }
    let smtp = smtp
        .build()
        .map_err(|e| DeskServerError::adapter("email", e))?;
    let channel: Arc<dyn Channel> = Arc::new(
        EmailChannel::new(smtp, clock.clone()).map_err(|e| DeskServerError::adapter("email", e))?,
    );
    let guard = RouteGuard::shared_secret(secrets.require("EMAIL_INBOUND_SECRET", need)?);
    let imap = match &email.imap {
        None => None,
        Some(settings) => {
            let mut imap = ImapConfig::builder(
                settings.host.clone(),
                settings.user.clone(),
                secrets.require("IMAP_PASSWORD", "[email.imap]")?,
            )
            .mailbox(settings.folder.clone());
            imap = if settings.plain_for_tests {
                imap.plain_for_tests()
            } else {
                imap.tls_with_ca_file("/etc/ssl/certs/ca-certificates.crt")
                    .map_err(|e| DeskServerError::adapter("email", e))?
            };
            if let Some(port) = settings.port {
                imap = imap.port(port);
            }
            Some(
                imap.build()
                    .map_err(|e| DeskServerError::adapter("email", e))?,
            )
        }
    };
    let mailbox = email.mailbox.clone();
    let max_body_bytes = email.max_body_bytes;
    let clock = clock.clone();
    let values: Arc<dyn KeyValues> = carekit_core::shared_key_values(store.clone());
    let mount: Mount = Box::new(move |sink| {
        let intake = Arc::new(
            EmailIntake::new(mailbox, sink, clock)
                .with_thread_index(values.clone())
                .with_max_message_bytes(max_body_bytes),
        );
        let poller = imap.map(|imap| {
            let poller = ImapPoller::new(imap, intake.clone(), values);
            let run: Background = Box::new(move |stop: server::Shutdown| {
                Box::pin(async move { poller.run(stop.wait()).await })
            });
            run
        });
        Mounted {
            path: "/webhooks/email",
            router: raw_mail_router(intake, guard),
            max_body_bytes: Some(max_body_bytes),
            poller,
        }
    });
    Ok(BuiltAdapter::new(channel, mount))
}
