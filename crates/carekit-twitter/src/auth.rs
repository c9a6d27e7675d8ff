//! How requests are authorised: OAuth 1.0a user context (HMAC-SHA1 signed,
//! needed to post as the brand on most tiers) or an OAuth 2.0 bearer token
//! (app-only for reads, or a user token with `tweet.write`/`dm.write`).

use std::num::NonZeroU64;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

/// Credentials for X. Every part is kept in a [`SecretString`]; `Debug`
/// prints only which kind it is.
#[derive(Clone)]
#[non_exhaustive]
pub enum Auth {
    /// OAuth 1.0a user context: the app's consumer key/secret and the brand
    /// account's access token/secret.
    OAuth1 {
        /// API key (consumer key).
        consumer_key: SecretString,
        /// API key secret (consumer secret).
        consumer_secret: SecretString,
        /// The brand account's access token.
        access_token: SecretString,
        /// The brand account's access token secret.
        access_token_secret: SecretString,
    },
    /// OAuth 2.0: an app-only bearer token or a user access token.
    Bearer(SecretString),
}

impl Auth {
    /// OAuth 1.0a user context.
    pub fn oauth1(
        consumer_key: impl Into<String>,
        consumer_secret: impl Into<String>,
        access_token: impl Into<String>,
        access_token_secret: impl Into<String>,
    ) -> Self {
        Auth::OAuth1 {
            consumer_key: SecretString::from(consumer_key.into()),
            consumer_secret: SecretString::from(consumer_secret.into()),
            access_token: SecretString::from(access_token.into()),
            access_token_secret: SecretString::from(access_token_secret.into()),
        }
    }

    /// OAuth 2.0 bearer (app-only) or user access token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Auth::Bearer(SecretString::from(token.into()))
    }

    /// The `Authorization` header for a request. `url` has no query part;
    /// `query` is every query parameter (OAuth 1.0a signs them; a JSON body
    /// is not signed). The timestamp comes from the injected clock.
    pub(crate) fn header(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, String)],
        now: DateTime<Utc>,
    ) -> String {
        match self {
            Auth::Bearer(token) => format!("Bearer {}", token.expose_secret()),
            Auth::OAuth1 {
                consumer_key,
                consumer_secret,
                access_token,
                access_token_secret,
            } => {
                let client = oauth1_request::Credentials::new(
                    consumer_key.expose_secret(),
                    consumer_secret.expose_secret(),
                );
                let token = oauth1_request::Credentials::new(
                    access_token.expose_secret(),
                    access_token_secret.expose_secret(),
                );
                let mut builder =
                    oauth1_request::Builder::<_, _>::new(client, oauth1_request::HMAC_SHA1);
                builder.token(token);
                let secs = u64::try_from(now.timestamp())
                    .ok()
                    .and_then(NonZeroU64::new);
                builder.timestamp(secs);
                let params: oauth1_request::ParameterList<&str, &String> =
                    oauth1_request::ParameterList::new(
                        query.iter().map(|(k, v)| (*k, v)).collect::<Vec<_>>(),
                    );
                builder.authorize(method, url, &params)
            }
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::OAuth1 { .. } => f.write_str("Auth::OAuth1 { <redacted> }"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth1_header_has_the_protocol_fields_and_no_secrets() {
        let auth = Auth::oauth1("ckey", "csecret-xyz", "atoken", "asecret-xyz");
        let now = DateTime::from_timestamp(1_318_622_958, 0).unwrap();
        let h = auth.header(
            "GET",
            "https://api.x.com/2/users/1/mentions",
            &[("since_id", "5".into())],
            now,
        );
        assert!(h.starts_with("OAuth "));
        for field in [
            "oauth_consumer_key=\"ckey\"",
            "oauth_token=\"atoken\"",
            "oauth_signature_method=\"HMAC-SHA1\"",
            "oauth_timestamp=\"1318622958\"",
            "oauth_signature=",
            "oauth_nonce=",
        ] {
            assert!(h.contains(field), "{field} missing from {h}");
        }
        assert!(!h.contains("csecret-xyz") && !h.contains("asecret-xyz"));
        assert!(
            !h.contains("since_id"),
            "query params are signed, not sent in the header"
        );
    }

    #[test]
    fn debug_redacts() {
        let o = format!("{:?}", Auth::oauth1("ck-1", "cs-2", "at-3", "as-4"));
        let b = format!("{:?}", Auth::bearer("AAAA-bearer"));
        for s in ["ck-1", "cs-2", "at-3", "as-4"] {
            assert!(!o.contains(s));
        }
        assert!(!b.contains("AAAA-bearer"));
    }
}
