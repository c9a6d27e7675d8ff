//! Cross-site request forgery: every state-changing request carries the
//! session's token (a hidden `csrf` field, or the `X-CSRF-Token` header),
//! compared with the expected one in constant time.
//!
//! The token is the SHA-256 of the session's credential under a domain
//! separator: it is tied to the session, needs no server-side storage (so
//! every worker of a desk agrees), and tells nothing about the credential.

use crate::accounts::Credential;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header a script sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field a form sends the token in.
pub const CSRF_FIELD: &str = "csrf";

/// The session's CSRF token (hex).
pub(crate) fn token_for(credential: &Credential) -> String {
    let mut hash = Sha256::new();
    hash.update(b"carekit-console/csrf/v1\0");
    hash.update(credential.expose().as_bytes());
    hex::encode(hash.finalize())
}

/// Whether `presented` is the session's token, compared in constant time.
pub(crate) fn valid(credential: &Credential, presented: Option<&str>) -> bool {
    let expected = token_for(credential);
    let presented = presented.unwrap_or("");
    // Different lengths are refused without comparing; the expected length
    // is public (64 hex digits).
    if presented.len() != expected.len() {
        return false;
    }
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sessions_token_is_valid() {
        let a = Credential::new("ckd_one");
        let b = Credential::new("ckd_two");
        let token = token_for(&a);
        assert!(valid(&a, Some(&token)));
        assert!(!valid(&b, Some(&token)));
        assert!(!valid(&a, None));
        assert!(!valid(&a, Some("")));
        assert!(!valid(&a, Some(&token[1..])));
        assert!(!token.contains("one"));
    }
}
