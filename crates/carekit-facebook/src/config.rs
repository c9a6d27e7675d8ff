//! Everything the adapter needs to know about one Facebook page, in one
//! place, with the secrets kept out of logs.

use crate::error::FacebookError;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use url::Url;

/// The Graph API version requests go to unless told otherwise. Pinned, so a
/// new Meta release never changes behaviour under a running desk.
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

/// Where the Graph API lives.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

/// Largest webhook body accepted by default. Meta batches up to 1,000
/// changes in one POST; this leaves room for that and refuses anything
/// absurd before it is buffered further.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// How one Facebook page is reached: its id, its page access token, the
/// app secret that signs webhooks, and the verify token of the subscription.
///
/// Build with [`FacebookConfig::builder`]. `Debug` never prints a secret.
#[derive(Clone)]
pub struct FacebookConfig {
    pub(crate) page_id: String,
    pub(crate) page_token: SecretString,
    pub(crate) app_secret: SecretString,
    pub(crate) verify_token: SecretString,
    pub(crate) graph_version: String,
    pub(crate) base_url: Url,
    pub(crate) body_limit: usize,
    pub(crate) timeout: Duration,
    pub(crate) usage_threshold: u8,
    pub(crate) slowdown: Duration,
}

impl std::fmt::Debug for FacebookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookConfig")
            .field("page_id", &self.page_id)
            .field("page_token", &"[redacted]")
            .field("app_secret", &"[redacted]")
            .field("verify_token", &"[redacted]")
            .field("graph_version", &self.graph_version)
            .field("base_url", &self.base_url.as_str())
            .field("body_limit", &self.body_limit)
            .field("timeout", &self.timeout)
            .field("usage_threshold", &self.usage_threshold)
            .field("slowdown", &self.slowdown)
            .finish()
    }
}

impl FacebookConfig {
    /// Starts a configuration for the page `page_id`.
    pub fn builder(page_id: impl Into<String>) -> FacebookConfigBuilder {
        FacebookConfigBuilder {
            page_id: page_id.into(),
            page_token: None,
            app_secret: None,
            verify_token: None,
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            timeout: Duration::from_secs(20),
            usage_threshold: 90,
            slowdown: Duration::from_secs(60),
        }
    }

    /// The page this configuration serves (the `account` of its events).
    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    /// The pinned Graph API version (`v23.0`).
    pub fn graph_version(&self) -> &str {
        &self.graph_version
    }

    /// The Graph API base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The webhook body limit in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    pub(crate) fn app_secret(&self) -> &[u8] {
        self.app_secret.expose_secret().as_bytes()
    }

    pub(crate) fn verify_token(&self) -> &str {
        self.verify_token.expose_secret()
    }

    pub(crate) fn page_token(&self) -> &str {
        self.page_token.expose_secret()
    }
}

/// Builds a [`FacebookConfig`]; the page token, app secret and verify token
/// are required.
pub struct FacebookConfigBuilder {
    page_id: String,
    page_token: Option<SecretString>,
    app_secret: Option<SecretString>,
    verify_token: Option<SecretString>,
    graph_version: String,
    base_url: String,
    body_limit: usize,
    timeout: Duration,
    usage_threshold: u8,
    slowdown: Duration,
}

impl std::fmt::Debug for FacebookConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookConfigBuilder")
            .field("page_id", &self.page_id)
            .field("graph_version", &self.graph_version)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FacebookConfigBuilder {
    /// The page access token (long-lived, with `pages_messaging`,
    /// `pages_manage_engagement` and `pages_read_user_content`).
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = Some(SecretString::from(token.into()));
        self
    }
    /// The app secret Meta signs webhook POSTs with.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = Some(SecretString::from(secret.into()));
        self
    }
    /// The verify token chosen when subscribing the webhook.
    pub fn verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(SecretString::from(token.into()));
        self
    }
    /// Overrides the pinned Graph API version (`v23.0` style).
    pub fn graph_version(mut self, version: impl Into<String>) -> Self {
        self.graph_version = version.into();
        self
    }
    /// Overrides the Graph API base URL (a local mock server in tests).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
    /// Largest webhook body accepted, in bytes (default 4 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
    /// Timeout for one Graph API call (default 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Percentage of Meta's usage budget (`X-App-Usage`,
    /// `X-Business-Use-Case-Usage`) at which the client stops calling for a
    /// while instead of running into the hard limit (default 90).
    pub fn usage_threshold(mut self, percent: u8) -> Self {
        self.usage_threshold = percent;
        self
    }
    /// How long the client pauses once usage passes the threshold but Meta
    /// has not yet named a wait of its own (default 60 s).
    pub fn slowdown(mut self, pause: Duration) -> Self {
        self.slowdown = pause;
        self
    }

    /// Checks and builds the configuration.
    ///
    /// # Errors
    /// [`FacebookError::Config`] when a secret is missing or empty, the page
    /// id is not numeric, the version is not `vNN.N`, or the base URL is not
    /// an absolute http(s) URL.
    pub fn build(self) -> Result<FacebookConfig, FacebookError> {
        if self.page_id.is_empty() || !self.page_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FacebookError::Config(format!(
                "page id must be the numeric page id, got {:?}",
                self.page_id
            )));
        }
        let page_token = required(self.page_token, "page access token")?;
        let app_secret = required(self.app_secret, "app secret")?;
        let verify_token = required(self.verify_token, "verify token")?;
        let version_ok = self
            .graph_version
            .strip_prefix('v')
            .and_then(|v| v.split_once('.'))
            .is_some_and(|(major, minor)| {
                !major.is_empty()
                    && !minor.is_empty()
                    && major.bytes().all(|b| b.is_ascii_digit())
                    && minor.bytes().all(|b| b.is_ascii_digit())
            });
        if !version_ok {
            return Err(FacebookError::Config(format!(
                "Graph API version must look like v23.0, got {:?}",
                self.graph_version
            )));
        }
        let base_url = Url::parse(self.base_url.trim_end_matches('/'))
            .map_err(|e| FacebookError::Config(format!("base URL {:?}: {e}", self.base_url)))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(FacebookError::Config(format!(
                "base URL must be an absolute http(s) URL, got {:?}",
                self.base_url
            )));
        }
        if self.body_limit == 0 {
            return Err(FacebookError::Config("body limit must be positive".into()));
        }
        if self.usage_threshold == 0 || self.usage_threshold > 100 {
            return Err(FacebookError::Config(
                "usage threshold must be a percentage between 1 and 100".into(),
            ));
        }
        Ok(FacebookConfig {
            page_id: self.page_id,
            page_token,
            app_secret,
            verify_token,
            graph_version: self.graph_version,
            base_url,
            body_limit: self.body_limit,
            timeout: self.timeout,
            usage_threshold: self.usage_threshold,
            slowdown: self.slowdown,
        })
    }
}

fn required(value: Option<SecretString>, what: &str) -> Result<SecretString, FacebookError> {
    match value {
        Some(v) if !v.expose_secret().trim().is_empty() => Ok(v),
        _ => Err(FacebookError::Config(format!("{what} is required"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> FacebookConfigBuilder {
        FacebookConfig::builder("1234567890")
            .page_token("EAAB-page-token-very-secret")
            .app_secret("app-secret-value-xyz")
            .verify_token("verify-me-token-abc")
    }

    #[test]
    fn debug_output_redacts_every_secret() {
        let config = full().build().unwrap();
        let shown = format!("{config:?} {:?}", full());
        for secret in [
            "EAAB-page-token-very-secret",
            "app-secret-value-xyz",
            "verify-me-token-abc",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("1234567890"));
    }

    #[test]
    fn missing_or_bad_settings_are_refused_with_a_reason() {
        let cases = [
            (
                FacebookConfig::builder("123")
                    .app_secret("s")
                    .verify_token("v"),
                "page access token",
            ),
            (full().app_secret(" "), "app secret"),
            (full().graph_version("23"), "version"),
            (full().base_url("ftp://x"), "base URL"),
            (
                FacebookConfig::builder("my-page")
                    .page_token("t")
                    .app_secret("s")
                    .verify_token("v"),
                "numeric",
            ),
            (full().usage_threshold(0), "percentage"),
        ];
        for (builder, needle) in cases {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn version_and_base_url_are_configurable() {
        let config = full()
            .graph_version("v21.0")
            .base_url("http://127.0.0.1:9/")
            .build()
            .unwrap();
        assert_eq!(config.graph_version(), "v21.0");
        assert_eq!(config.base_url().as_str(), "http://127.0.0.1:9/");
    }
}
