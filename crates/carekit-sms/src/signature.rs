//! `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, over
//! the full public URL followed by every POST parameter's name and value,
//! names sorted (each name's distinct values sorted too).
//!
//! Behind proxies and load balancers the URL the app sees is not the URL
//! Twilio signed, so validation uses a configured public URL, and accepts
//! the documented variants with and without the scheme's default port.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::{BTreeMap, BTreeSet};

type HmacSha1 = Hmac<Sha1>;

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name.entry(name).or_default().insert(value);
    }
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(url.as_bytes());
    for (name, values) in by_name {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    mac
}

/// The signature Twilio would send for this request.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// The URL as given, and the same URL with its default port added or removed.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(scheme_end) = url.find("://") else {
        return variants;
    };
    let default = match &url[..scheme_end] {
        s if s.eq_ignore_ascii_case("https") => "443",
        s if s.eq_ignore_ascii_case("http") => "80",
        _ => return variants,
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let userinfo_len = authority.len() - host_port.len();
    let (host, port) = match host_port.rfind(':') {
        Some(i) if !host_port.ends_with(']') => (&host_port[..i], Some(&host_port[i + 1..])),
        _ => (host_port, None),
    };
    let rebuilt = match port {
        Some(p) if p == default => host.to_owned(),
        Some(_) => return variants,
        None => format!("{host}:{default}"),
    };
    variants.push(format!(
        "{}{}{}{}",
        &url[..authority_start + userinfo_len],
        rebuilt,
        "",
        &url[authority_end..]
    ));
    variants
}

/// Whether `signature` is valid for this URL (or its port variant) and
/// parameters. Constant-time in the signature bytes.
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    url_variants(url)
        .iter()
        .any(|u| mac(auth_token, u, params).verify_slice(&expected).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documented() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    // Vectors published in Twilio's helper libraries' request-validator tests.
    #[test]
    fn twilio_published_vectors() {
        assert_eq!(
            compute("12345", URL, &documented()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(validate(
            "12345",
            URL,
            &documented(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let repeated: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert!(validate(
            "12345",
            URL,
            &repeated,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
        // The URL is signed as sent: host case matters.
        let mixed = "https://MyCompany.com/myapp.php?foo=1&bar=2";
        assert!(validate(
            "12345",
            mixed,
            &documented(),
            "g9IN/x4Cft2g517EjYvEvM/W7LU="
        ));
    }

    #[test]
    fn port_variants_are_accepted_both_ways() {
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(validate(
            "12345",
            with_port,
            &documented(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let signed_with_port = compute("12345", with_port, &documented());
        assert!(validate("12345", URL, &documented(), &signed_with_port));
        assert_eq!(
            url_variants("http://a.example:8080/x"),
            vec!["http://a.example:8080/x".to_owned()]
        );
        assert_eq!(
            url_variants("http://a.example/x?y=1")[1],
            "http://a.example:80/x?y=1"
        );
    }

    #[test]
    fn tampering_is_rejected() {
        let mut tampered = documented();
        tampered[2].1 = "9999".into();
        assert!(!validate(
            "12345",
            URL,
            &tampered,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate(
            "12345",
            &format!("{URL}&extra=1"),
            &documented(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate(
            "54321",
            URL,
            &documented(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate("12345", URL, &documented(), "not base64 ✗"));
        assert!(!validate("12345", URL, &documented(), ""));
    }
}
