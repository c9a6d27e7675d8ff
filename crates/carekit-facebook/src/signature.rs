//! `X-Hub-Signature-256` checks: HMAC-SHA256 of the raw body with the app
//! secret, compared in constant time. Meta escapes non-ASCII as `\uXXXX` in
//! what it signs, so only the bytes as received can be verified, never JSON
//! re-serialised after parsing.

use crate::error::FacebookError;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header Meta signs webhook POSTs with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The legacy SHA-1 header, recognised only to explain a refusal.
pub const LEGACY_SIGNATURE_HEADER: &str = "x-hub-signature";

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against
/// `body`. `legacy_present` says whether a SHA-1 `X-Hub-Signature` came
/// instead, so the error can say so.
///
/// # Errors
/// [`FacebookError::MissingSignature`], [`FacebookError::Sha1OnlySignature`],
/// [`FacebookError::MalformedSignature`] or [`FacebookError::BadSignature`].
pub fn verify(
    app_secret: &[u8],
    header: Option<&[u8]>,
    legacy_present: bool,
    body: &[u8],
) -> Result<(), FacebookError> {
    let header = match header {
        Some(h) => h,
        None if legacy_present => return Err(FacebookError::Sha1OnlySignature),
        None => return Err(FacebookError::MissingSignature),
    };
    let hex_digest = header
        .strip_prefix(b"sha256=")
        .ok_or(FacebookError::MalformedSignature)?;
    let expected =
        hex::decode(hex_digest.trim_ascii()).map_err(|_| FacebookError::MalformedSignature)?;
    if expected.len() != 32 {
        return Err(FacebookError::MalformedSignature);
    }
    let mut mac = mac(app_secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| FacebookError::BadSignature)
}

/// The header value Meta would send for `body`: `sha256=<hex>`. Useful to
/// sign test payloads.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(app_secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_matching_signature_and_refuses_everything_else() {
        let body = br#"{"object":"page","entry":[]}"#;
        let header = sign(b"secret", body);
        assert!(verify(b"secret", Some(header.as_bytes()), false, body).is_ok());
        assert_eq!(
            verify(b"other", Some(header.as_bytes()), false, body),
            Err(FacebookError::BadSignature)
        );
        let mut tampered = body.to_vec();
        tampered[2] = b'O';
        assert_eq!(
            verify(b"secret", Some(header.as_bytes()), false, &tampered),
            Err(FacebookError::BadSignature)
        );
        assert_eq!(
            verify(b"secret", None, false, body),
            Err(FacebookError::MissingSignature)
        );
        assert_eq!(
            verify(b"secret", None, true, body),
            Err(FacebookError::Sha1OnlySignature)
        );
        for bad in ["sha1=abcd", "sha256=zz", "sha256=abcd", ""] {
            assert_eq!(
                verify(b"secret", Some(bad.as_bytes()), false, body),
                Err(FacebookError::MalformedSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn non_ascii_is_verified_as_the_escaped_bytes_meta_sent() {
        let raw = br#"{"text":"caf\u00e9"}"#;
        let header = sign(b"s", raw);
        assert!(verify(b"s", Some(header.as_bytes()), false, raw).is_ok());
        let reserialised = "{\"text\":\"café\"}";
        assert_eq!(
            verify(
                b"s",
                Some(header.as_bytes()),
                false,
                reserialised.as_bytes()
            ),
            Err(FacebookError::BadSignature)
        );
    }
}
