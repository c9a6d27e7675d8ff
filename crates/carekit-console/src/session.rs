//! The session cookie and the signed-in agent behind each request.
//!
//! The cookie holds the session's credential and is `HttpOnly`,
//! `SameSite=Strict`, `Path=/` and `Secure` (then named with the `__Host-`
//! prefix, which browsers only accept from a secure origin with no
//! `Domain`). [`ConsoleBuilder::insecure_cookies_for_tests`](crate::ConsoleBuilder::insecure_cookies_for_tests)
//! drops `Secure` for tests over `http://127.0.0.1`.

use crate::accounts::{Credential, SignInError, SignedIn};
use crate::state::ConsoleState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The cookie's name over HTTPS.
const SECURE_NAME: &str = "__Host-carekit_console";
/// The cookie's name when `Secure` is relaxed for tests.
const PLAIN_NAME: &str = "carekit_console";
/// A cookie longer than this is not one of ours.
const MAX_COOKIE_BYTES: usize = 200;

/// A request's signed-in agent and the credential it came with.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub credential: Credential,
    pub who: SignedIn,
}

impl Session {
    /// The session's CSRF token, for forms and scripts.
    pub fn csrf(&self) -> String {
        crate::csrf::token_for(&self.credential)
    }
}

fn name(secure: bool) -> &'static str {
    if secure { SECURE_NAME } else { PLAIN_NAME }
}

/// The `Set-Cookie` value that starts a session.
pub(crate) fn set_cookie(credential: &Credential, secure: bool) -> Option<HeaderValue> {
    let secure_attr = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/{secure_attr}",
        name(secure),
        credential.expose()
    ))
    .ok()
}

/// The `Set-Cookie` value that ends a session.
pub(crate) fn clear_cookie(secure: bool) -> HeaderValue {
    let secure_attr = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure_attr}",
        name(secure)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The credential in the request's session cookie, if any.
pub(crate) fn credential(headers: &HeaderMap, secure: bool) -> Option<Credential> {
    let wanted = name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= MAX_COOKIE_BYTES)
        .map(Credential::new)
}

/// What a request without a valid session gets.
#[derive(Debug)]
pub(crate) enum NoSession {
    /// Not signed in (or the session ended): sign in again.
    SignIn,
    /// The accounts cannot be read now.
    Unavailable,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn => Redirect::to("/login").into_response(),
            NoSession::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the accounts cannot be read now; try again",
            )
                .into_response(),
        }
    }
}

/// The request's session: the agent its cookie stands for, read now.
pub(crate) async fn current(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Session, NoSession> {
    let credential = credential(headers, state.secure_cookies).ok_or(NoSession::SignIn)?;
    match state.accounts.signed_in(&credential).await {
        Ok(Some(who)) => Ok(Session { credential, who }),
        Ok(None) => Err(NoSession::SignIn),
        Err(SignInError::Unavailable) => Err(NoSession::Unavailable),
        Err(_) => Err(NoSession::SignIn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_back_and_its_attributes_are_strict() {
        let c = Credential::new("ckd_abc");
        let set = set_cookie(&c, true).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-carekit_console=ckd_abc;"));
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
            assert!(set.contains(attr), "{set}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; __Host-carekit_console=ckd_abc"),
        );
        assert_eq!(credential(&headers, true), Some(c));
        assert_eq!(credential(&headers, false), None);
        assert!(!format!("{:?}", credential(&headers, true)).contains("abc"));
    }
}
