//! Bearer tokens for the server's own routes (`/api`, and `/metrics` when
//! a metrics token is set).
//!
//! Only the SHA-256 digest of the expected token is kept, and a presented
//! token is compared by its digest, every byte of it, in constant time: the
//! time taken does not depend on how much of the token is right, nor on
//! the expected token's length.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// The digest of a bearer token a route expects.
#[derive(Clone)]
pub(crate) struct BearerToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

impl BearerToken {
    /// Expects `token`; `None` for an empty one (which nothing matches).
    pub(crate) fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `presented` is the token, compared in constant time.
    pub(crate) fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let difference = presented
            .iter()
            .zip(&self.digest)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }

    /// Whether `headers` carry `Authorization: Bearer <the token>`.
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        self.matches(presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_itself_matches() {
        let token = BearerToken::new("s3cret-token").unwrap();
        assert!(token.matches("s3cret-token"));
        for wrong in ["", "s3cret-toke", "s3cret-token ", "S3cret-token", "x"] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        assert!(
            BearerToken::new("").is_none(),
            "an empty token matches nothing"
        );
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    /// The comparison sees only two 32-byte digests: a guess of the right
    /// length and one of any other length take the same path, so timing
    /// cannot reveal the token's length (the old byte-wise compare returned
    /// at once when the lengths differed).
    #[test]
    fn the_compare_works_on_digests_of_fixed_length() {
        let token = BearerToken::new("short").unwrap();
        assert_eq!(token.digest.len(), 32);
        let long = "x".repeat(10_000);
        assert!(!token.matches(&long));
        assert!(!token.matches("shorT"));
    }
}
