//! IMAP intake with async-imap on tokio: TLS (rustls) or plain for local
//! tests, IDLE where the server offers it and polling otherwise, resuming
//! from the last UID (under the mailbox's UIDVALIDITY) kept in
//! [`KeyValues`], so a restart never ingests a message twice. The desk also
//! dedupes on the Message-ID, so a lost cursor costs time, not duplicates.
//!
//! Messages are fetched with `BODY.PEEK[]` (the `\Seen` flag stays as it
//! was); the cursor moves after each message the sink accepted, and past
//! messages that cannot be used (malformed, too large), which are logged.

use crate::error::EmailError;
use crate::intake::{EmailIntake, IntakeOutcome};
use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use carekit_core::KeyValues;
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How the IMAP connection is protected.
#[derive(Clone)]
#[non_exhaustive]
pub enum ImapSecurity {
    /// TLS from the first byte (port 993) with this rustls configuration
    /// (bring your root store, e.g. from `rustls-native-certs`).
    Tls(Arc<tokio_rustls::rustls::ClientConfig>),
    /// No encryption. For local test servers only.
    PlainForTests,
}

impl std::fmt::Debug for ImapSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImapSecurity::Tls(_) => f.write_str("Tls"),
            ImapSecurity::PlainForTests => f.write_str("PlainForTests"),
        }
    }
}

/// IMAP settings. Build with [`ImapConfig::builder`].
#[derive(Clone)]
pub struct ImapConfig {
    host: String,
    port: u16,
    security: ImapSecurity,
    username: String,
    password: SecretString,
    mailbox: String,
    poll_interval: Duration,
    idle_timeout: Duration,
    batch: usize,
}

impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("mailbox", &self.mailbox)
            .field("poll_interval", &self.poll_interval)
            .field("idle_timeout", &self.idle_timeout)
            .field("batch", &self.batch)
            .finish()
    }
}

impl ImapConfig {
    /// Starts a configuration for `host`, logging in as `username`.
    pub fn builder(
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> ImapConfigBuilder {
        ImapConfigBuilder {
            config: ImapConfig {
                host: host.into(),
                port: 0,
                security: ImapSecurity::PlainForTests,
                username: username.into(),
                password: SecretString::from(password.into()),
                mailbox: "INBOX".into(),
                poll_interval: Duration::from_secs(60),
                idle_timeout: Duration::from_secs(25 * 60),
                batch: 100,
            },
            security_set: false,
        }
    }

    /// The cursor name under which the position is stored.
    pub fn cursor_name(&self) -> String {
        format!(
            "email:imap:{}@{}:{}/{}",
            self.username.to_lowercase(),
            self.host.to_lowercase(),
            self.port,
            self.mailbox
        )
    }
}

/// Builds an [`ImapConfig`].
#[derive(Debug)]
pub struct ImapConfigBuilder {
    config: ImapConfig,
    security_set: bool,
}

impl ImapConfigBuilder {
    /// TLS with a rustls client configuration (default port 993).
    pub fn tls(mut self, config: Arc<tokio_rustls::rustls::ClientConfig>) -> Self {
        self.config.security = ImapSecurity::Tls(config);
        self.security_set = true;
        self
    }
    /// TLS trusting the PEM certificates in `path` (for example the system
    /// bundle `/etc/ssl/certs/ca-certificates.crt`), default port 993.
    ///
    /// # Errors
    /// [`EmailError::Config`] when the file cannot be read or holds no
    /// usable certificate.
    pub fn tls_with_ca_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, EmailError> {
        Ok(self.tls(tls_config_from_pem_file(path.as_ref())?))
    }
    /// No encryption, for local test servers (default port 143).
    pub fn plain_for_tests(mut self) -> Self {
        self.config.security = ImapSecurity::PlainForTests;
        self.security_set = true;
        self
    }
    /// Port.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }
    /// Folder to read (default `INBOX`).
    pub fn mailbox(mut self, mailbox: impl Into<String>) -> Self {
        self.config.mailbox = mailbox.into();
        self
    }
    /// How often to poll when the server has no IDLE (default 60 s).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.config.poll_interval = every;
        self
    }
    /// How long one IDLE lasts before it is renewed (default 25 min; RFC
    /// 2177 asks for less than 29).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }
    /// Messages fetched per round (default 100).
    pub fn batch(mut self, n: usize) -> Self {
        self.config.batch = n.max(1);
        self
    }

    /// Checks and builds.
    ///
    /// # Errors
    /// [`EmailError::Config`] when no security was chosen or the host is empty.
    pub fn build(mut self) -> Result<ImapConfig, EmailError> {
        if !self.security_set {
            return Err(EmailError::Config(
                "choose IMAP security: .tls(config) or .plain_for_tests()".into(),
            ));
        }
        if self.config.host.trim().is_empty() {
            return Err(EmailError::Config("IMAP host is empty".into()));
        }
        if self.config.port == 0 {
            self.config.port = match self.config.security {
                ImapSecurity::Tls(_) => 993,
                ImapSecurity::PlainForTests => 143,
            };
        }
        Ok(self.config)
    }
}

/// A rustls client configuration (aws-lc-rs, safe defaults) trusting the
/// PEM certificates in `path`.
///
/// # Errors
/// [`EmailError::Config`] when the file cannot be read or holds no usable
/// certificate.
pub fn tls_config_from_pem_file(
    path: &std::path::Path,
) -> Result<Arc<tokio_rustls::rustls::ClientConfig>, EmailError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path)
        .map_err(|e| EmailError::Config(format!("CA file {}: {e}", path.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert =
            cert.map_err(|e| EmailError::Config(format!("CA file {}: {e}", path.display())))?;
        // Bundles carry the odd certificate rustls refuses; skip those.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(EmailError::Config(format!(
            "CA file {} holds no usable certificate",
            path.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EmailError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The stream under an IMAP session: TLS or plain.
trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> ImapIo for T {}
type ImapSession = Session<Box<dyn ImapIo>>;

/// Where the poller stands in the mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImapPosition {
    /// The mailbox's UIDVALIDITY.
    pub uid_validity: u32,
    /// The highest UID handled.
    pub last_uid: u32,
}

impl ImapPosition {
    fn parse(s: &str) -> Option<Self> {
        let (v, u) = s.split_once(':')?;
        Some(Self {
            uid_validity: v.parse().ok()?,
            last_uid: u.parse().ok()?,
        })
    }
    fn render(self) -> String {
        format!("{}:{}", self.uid_validity, self.last_uid)
    }
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// Messages fetched.
    pub fetched: usize,
    /// Handed to the sink (including bounces).
    pub ingested: usize,
    /// Skipped as unusable or deliberately (logged).
    pub skipped: usize,
}

/// Reads new mail from one IMAP folder into an [`EmailIntake`].
pub struct ImapPoller {
    config: ImapConfig,
    intake: Arc<EmailIntake>,
    values: Arc<dyn KeyValues>,
}

impl std::fmt::Debug for ImapPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapPoller")
            .field("config", &self.config)
            .field("intake", &self.intake)
            .finish_non_exhaustive()
    }
}

fn imap_err(context: &str, e: impl std::fmt::Display) -> EmailError {
    EmailError::Imap(format!("{context}: {e}"))
}

impl ImapPoller {
    /// A poller for `config` handing mail to `intake`, keeping its position
    /// in `values` (pass the desk's store).
    pub fn new(config: ImapConfig, intake: Arc<EmailIntake>, values: Arc<dyn KeyValues>) -> Self {
        Self {
            config,
            intake,
            values,
        }
    }

    /// The saved position, if any.
    ///
    /// # Errors
    /// The store failed.
    pub async fn position(&self) -> Result<Option<ImapPosition>, EmailError> {
        Ok(self
            .values
            .load_value(&self.config.cursor_name())
            .await?
            .as_deref()
            .and_then(ImapPosition::parse))
    }

    async fn connect(&self) -> Result<ImapSession, EmailError> {
        let tcp = TcpStream::connect((self.config.host.as_str(), self.config.port))
            .await
            .map_err(|e| imap_err("connect", e))?;
        let stream: Box<dyn ImapIo> = match &self.config.security {
            ImapSecurity::PlainForTests => Box::new(tcp),
            ImapSecurity::Tls(tls) => {
                let name =
                    tokio_rustls::rustls::pki_types::ServerName::try_from(self.config.host.clone())
                        .map_err(|e| EmailError::Config(format!("IMAP host name: {e}")))?;
                let connector = tokio_rustls::TlsConnector::from(tls.clone());
                Box::new(
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| imap_err("TLS", e))?,
                )
            }
        };
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|e| imap_err("greeting", e))?
            .ok_or_else(|| EmailError::Imap("server closed before greeting".into()))?;
        let session = client
            .login(&self.config.username, self.config.password.expose_secret())
            .await
            .map_err(|(e, _)| imap_err("login", e))?;
        Ok(session)
    }

    /// Connects, fetches everything new once, and logs out.
    ///
    /// # Errors
    /// Network/login failures, the store, or a sink that is unavailable
    /// (the position stays before the message it could not store).
    pub async fn poll_once(&self) -> Result<PollReport, EmailError> {
        let mut session = self.connect().await?;
        let result = self.fetch_new(&mut session).await;
        let _ = session.logout().await;
        result
    }

    /// Fetches and ingests messages above the saved UID in the selected folder.
    async fn fetch_new(&self, session: &mut ImapSession) -> Result<PollReport, EmailError> {
        let mailbox = session
            .select(&self.config.mailbox)
            .await
            .map_err(|e| imap_err("select", e))?;
        let uid_validity = mailbox
            .uid_validity
            .ok_or_else(|| EmailError::Imap("server reports no UIDVALIDITY".into()))?;
        let cursor = self.config.cursor_name();
        let mut position = match self.position().await? {
            Some(p) if p.uid_validity == uid_validity => p,
            Some(p) => {
                tracing::warn!(
                    old = p.uid_validity,
                    new = uid_validity,
                    "IMAP UIDVALIDITY changed; rescanning (the desk dedupes by Message-ID)"
                );
                ImapPosition {
                    uid_validity,
                    last_uid: 0,
                }
            }
            None => ImapPosition {
                uid_validity,
                last_uid: 0,
            },
        };
        let mut report = PollReport::default();
        loop {
            let start = position.last_uid.saturating_add(1);
            let mut uids: Vec<u32> = session
                .uid_search(format!("UID {start}:*"))
                .await
                .map_err(|e| imap_err("search", e))?
                .into_iter()
                // `n:*` always matches the last message, even below n.
                .filter(|u| *u > position.last_uid)
                .collect();
            if uids.is_empty() {
                break;
            }
            uids.sort_unstable();
            uids.truncate(self.config.batch);
            let set = uids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let fetches: Vec<_> = session
                .uid_fetch(&set, "(UID RFC822.SIZE BODY.PEEK[])")
                .await
                .map_err(|e| imap_err("fetch", e))?
                .try_collect()
                .await
                .map_err(|e| imap_err("fetch", e))?;
            let mut fetched: Vec<(u32, Option<Vec<u8>>)> = fetches
                .iter()
                .filter_map(|f| f.uid.map(|u| (u, f.body().map(<[u8]>::to_vec))))
                .collect();
            fetched.sort_by_key(|(u, _)| *u);
            for (uid, body) in fetched {
                report.fetched += 1;
                let outcome = match body {
                    Some(raw) => self.intake.ingest_raw(&raw).await,
                    None => Err(EmailError::Malformed("server returned no body".into())),
                };
                match outcome {
                    Ok(IntakeOutcome::Skipped { .. }) => report.skipped += 1,
                    Ok(_) => report.ingested += 1,
                    Err(e) if e.is_retryable() => return Err(e),
                    Err(e) => {
                        tracing::warn!(uid, error = %e, "IMAP message unusable; skipped");
                        report.skipped += 1;
                    }
                }
                position.last_uid = uid;
                self.values.save_value(&cursor, &position.render()).await?;
            }
            // Whatever the server did not return in this set is passed over.
            if let Some(max) = uids.last()
                && *max > position.last_uid
            {
                position.last_uid = *max;
                self.values.save_value(&cursor, &position.render()).await?;
            }
        }
        Ok(report)
    }

    /// Runs until `shutdown` completes: fetch, then wait for new mail with
    /// IDLE (or sleep `poll_interval` without it), and again. Connection
    /// failures are logged and retried with a growing pause (up to 5 min).
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_secs(1);
        loop {
            let connected = std::sync::atomic::AtomicBool::new(false);
            let round = async {
                let mut session = self.connect().await?;
                connected.store(true, std::sync::atomic::Ordering::Relaxed);
                let idle = session
                    .capabilities()
                    .await
                    .map_err(|e| imap_err("capabilities", e))?
                    .has_str("IDLE");
                loop {
                    let report = self.fetch_new(&mut session).await?;
                    if report.fetched > 0 {
                        tracing::info!(?report, "IMAP round");
                    }
                    if idle {
                        let mut handle = session.idle();
                        handle.init().await.map_err(|e| imap_err("idle", e))?;
                        let (wait, _stop) = handle.wait_with_timeout(self.config.idle_timeout);
                        let response = wait.await.map_err(|e| imap_err("idle", e))?;
                        if let IdleResponse::NewData(_) = response {
                            tracing::debug!("IMAP IDLE: mailbox changed");
                        }
                        session = handle.done().await.map_err(|e| imap_err("idle done", e))?;
                    } else {
                        tokio::time::sleep(self.config.poll_interval).await;
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), EmailError>(())
            };
            tokio::select! {
                _ = &mut shutdown => return,
                result = round => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, retry_in = ?backoff, "IMAP intake interrupted");
                    }
                }
            }
            if connected.load(std::sync::atomic::Ordering::Relaxed) {
                // The server was reachable: start the pause over.
                backoff = Duration::from_secs(1);
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(300));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_round_trips_and_rejects_junk() {
        let p = ImapPosition {
            uid_validity: 7,
            last_uid: 42,
        };
        assert_eq!(ImapPosition::parse(&p.render()), Some(p));
        assert_eq!(ImapPosition::parse("junk"), None);
        assert_eq!(ImapPosition::parse("1:-2"), None);
    }

    #[test]
    fn ca_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        assert!(matches!(
            tls_config_from_pem_file(&empty),
            Err(EmailError::Config(_))
        ));
        assert!(tls_config_from_pem_file(&dir.path().join("missing.pem")).is_err());
        let system = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
        if system.exists() {
            assert!(tls_config_from_pem_file(system).is_ok());
        }
    }

    #[test]
    fn security_must_be_chosen() {
        assert!(matches!(
            ImapConfig::builder("imap.example.com", "u", "p").build(),
            Err(EmailError::Config(_))
        ));
        let c = ImapConfig::builder("imap.example.com", "u", "p")
            .plain_for_tests()
            .build()
            .unwrap();
        assert_eq!(c.port, 143);
    }
}
