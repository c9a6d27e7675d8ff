//! A local SMTP sink and signed raw-mail webhooks, for tests and demos
//! without a mail server (feature `fake`).
//!
//! [`FakeSmtp`] accepts, on 127.0.0.1, the RFC 5321 commands a submission
//! client such as [`EmailChannel`](crate::EmailChannel) uses, in plain text,
//! and records each message's recipients and decoded text body in a
//! [`Ledger`]. The ledger's faults become SMTP's own: a transient `451`
//! (server error, rate limited), a `421` that closes the connection
//! (unavailable), a message accepted whose `250` never arrives because
//! the connection drops (lost response), and one whose `250` comes late
//! (slow response).
//!
//! [`Webhooks`] builds the `message/rfc822` posts of
//! [`raw_mail_router`](crate::raw_mail_router) with the shared secret its
//! [`RouteGuard::shared_secret`](crate::RouteGuard::shared_secret) checks.
//!
//! Tests against real servers (Dovecot, aiosmtpd) stay where they are;
//! this fake is for runs that need none.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use carekit_email::fake::{FakeSmtp, Ledger, Mail, Webhooks};
//! let smtp = FakeSmtp::start(Ledger::default()).await?;
//! // Point an EmailChannel at smtp.addr() without TLS, send, then look:
//! println!("{:?}", smtp.ledger().delivered());
//! let mail = Mail::new("m1@example.com", "dana@example.com", "Late parcel", "Where is it?");
//! let webhook = Webhooks::new("inbound-secret", "support@acme.example").mail(&mail, 1_772_442_000_000);
//! assert_eq!(webhook.path, "/webhooks/email");
//! # Ok(()) }
//! ```

pub use carekit_testing::fake_platform::{
    Delivered, FaultKind, Faults, Ledger, Platform, Received, SignedWebhook,
};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The running SMTP sink. Clones share it; it lives as long as the
/// runtime.
#[derive(Clone, Debug)]
pub struct FakeSmtp {
    addr: SocketAddr,
    ledger: Ledger,
}

impl FakeSmtp {
    /// Starts the sink on a free port of 127.0.0.1, recording in `ledger`.
    ///
    /// # Errors
    /// No port could be bound.
    pub async fn start(ledger: Ledger) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sessions = ledger.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let ledger = sessions.clone();
                tokio::spawn(async move {
                    let _ = session(stream, ledger).await;
                });
            }
        });
        Ok(Self { addr, ledger })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ledger it records in.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The messages it received (`DATA`, raw, dot-unstuffed), in order.
    pub fn received(&self) -> Vec<Received> {
        self.ledger.received_by(Platform::Smtp)
    }
}

/// The address inside `RCPT TO:<…>`.
fn recipient(line: &str) -> String {
    line.get(8..)
        .unwrap_or_default()
        .trim()
        .trim_start_matches(':')
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned()
}

async fn session(stream: TcpStream, ledger: Ledger) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sandbox ESMTP ready\r\n").await?;
    let mut rcpt = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sandbox\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM") || upper.starts_with("RSET") {
            rcpt.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO") {
            rcpt.push(recipient(&line));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut message = String::new();
            while let Some(data) = lines.next_line().await? {
                if data == "." {
                    break;
                }
                // Dot-unstuffing.
                message.push_str(data.strip_prefix('.').unwrap_or(&data));
                message.push_str("\r\n");
            }
            ledger.receive(Received {
                platform: Platform::Smtp,
                method: "DATA".into(),
                uri: format!("smtp:{}", rcpt.join(",")),
                headers: Default::default(),
                body: message.clone().into_bytes(),
            });
            // Decoded as a mail client would show it (the client may pick
            // quoted-printable or base64).
            let body = mail_parser::MessageParser::default()
                .parse(message.as_bytes())
                .and_then(|m| m.body_text(0).map(|t| t.trim().to_owned()))
                .unwrap_or_default();
            let fault = ledger.roll(Platform::Smtp);
            match fault {
                // Transient refusals (RFC 5321 4xx): the client tries again.
                Some(FaultKind::ServerError) => {
                    b"451 4.3.0 local error, try again later\r\n" as &[u8]
                }
                Some(FaultKind::RateLimited) => b"451 4.7.1 too many messages, slow down\r\n",
                // A refusal for good (RFC 5321 5xx): no retry helps.
                Some(FaultKind::Refused) => b"550 5.7.1 message refused\r\n",
                Some(FaultKind::Unavailable) => {
                    write
                        .write_all(b"421 4.3.2 service not available\r\n")
                        .await?;
                    return Ok(());
                }
                Some(FaultKind::SlowResponse) => {
                    // Accepted, and the `250` comes late.
                    ledger.record(Platform::Smtp, "email", rcpt.join(","), body);
                    tokio::time::sleep(ledger.faults().slow_by).await;
                    b"250 queued\r\n"
                }
                None | Some(_) => {
                    ledger.record(Platform::Smtp, "email", rcpt.join(","), body);
                    if fault.is_some() {
                        // Accepted, then the connection drops before the answer.
                        return Ok(());
                    }
                    b"250 queued\r\n"
                }
            }
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// A customer's email to the support mailbox.
#[derive(Clone, Debug)]
pub struct Mail {
    /// Its `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The sender's address.
    pub from: String,
    /// The sender's name.
    pub name: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// Earlier message ids of the thread, oldest first (the last becomes
    /// `In-Reply-To`).
    pub references: Vec<String>,
}

impl Mail {
    /// A first message (no references) from `from`, named "Customer".
    pub fn new(
        message_id: impl Into<String>,
        from: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            message_id: message_id.into(),
            from: from.into(),
            name: "Customer".into(),
            subject: subject.into(),
            text: text.into(),
            references: Vec::new(),
        }
    }
}

/// Builds raw-mail webhook posts to one mailbox, carrying the inbound
/// shared secret. `Debug` shows no secret.
#[derive(Clone)]
pub struct Webhooks {
    secret: SecretString,
    mailbox: String,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Posts to `mailbox` carrying `secret` in `x-carekit-secret`.
    pub fn new(secret: impl Into<String>, mailbox: impl Into<String>) -> Self {
        Self {
            secret: SecretString::from(secret.into()),
            mailbox: mailbox.into(),
        }
    }

    /// `mail` as an RFC 5322 message dated `epoch_ms`, for
    /// `POST /webhooks/email`.
    pub fn mail(&self, mail: &Mail, epoch_ms: i64) -> SignedWebhook {
        let date = chrono::DateTime::from_timestamp_millis(epoch_ms)
            .unwrap_or_default()
            .to_rfc2822();
        let mut raw = format!(
            "From: {name} <{from}>\r\nTo: {mailbox}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{message_id}>\r\n",
            name = mail.name,
            from = mail.from,
            mailbox = self.mailbox,
            subject = mail.subject,
            message_id = mail.message_id,
        );
        if let Some(last) = mail.references.last() {
            raw.push_str(&format!("In-Reply-To: <{last}>\r\n"));
            let refs: Vec<String> = mail.references.iter().map(|r| format!("<{r}>")).collect();
            raw.push_str(&format!("References: {}\r\n", refs.join(" ")));
        }
        raw.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        raw.push_str(&mail.text);
        raw.push_str("\r\n");
        self.raw(raw.into_bytes())
    }

    /// Any raw message (a forged one, a huge one) as the inbound route
    /// receives it.
    pub fn raw(&self, message: Vec<u8>) -> SignedWebhook {
        SignedWebhook {
            path: "/webhooks/email",
            headers: vec![
                ("x-carekit-secret", self.secret.expose_secret().to_owned()),
                ("content-type", "message/rfc822".into()),
            ],
            body: message,
        }
    }
}
