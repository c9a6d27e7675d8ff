//! Signing in and out.

use crate::accounts::SignInError;
use crate::pages::layout::{error, page};
use crate::session;
use crate::state::ConsoleState;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

fn form(message: Option<&str>) -> maud::Markup {
    page(
        "Sign in",
        None,
        None,
        html! {
            main #main.login {
                h1 { "Sign in to carekit" }
                @if let Some(m) = message { p.error #error role="alert" { (m) } }
                form method="post" action="/login" {
                    p { label { "Login " input #login name="login" autocomplete="username" required; } }
                    p { label { "Password " input #password name="password" type="password" autocomplete="current-password" required; } }
                    p { button #sign-in type="submit" { "Sign in" } }
                }
            }
        },
    )
}

/// `GET /login`
pub(crate) async fn show() -> Html<String> {
    Html(form(None).into_string())
}

/// `POST /login` form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    login: String,
    password: String,
}

/// Whether a request's `Origin`, when it has one, is this host: a login
/// posted from another site is refused (the login form has no session to
/// tie a CSRF token to).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !host.is_empty() && origin_host == host
}

/// `POST /login`: signs in through the accounts, sets the session cookie.
pub(crate) async fn submit(State(state): State<ConsoleState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !same_origin(&parts.headers) {
        return error(
            StatusCode::FORBIDDEN,
            None,
            "sign in from the console's own page",
        );
    }
    let request = Request::from_parts(parts, body);
    let extensions = request.extensions().clone();
    let Ok(Form(f)) = Form::<LoginForm>::from_request(request, &()).await else {
        return (
            StatusCode::BAD_REQUEST,
            Html(form(Some("Fill in login and password.")).into_string()),
        )
            .into_response();
    };
    match state
        .accounts
        .sign_in(&f.login, &f.password, &extensions)
        .await
    {
        Ok(credential) => {
            let mut response = Redirect::to("/").into_response();
            if let Some(cookie) = session::set_cookie(&credential, state.secure_cookies) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(SignInError::Throttled {
            retry_after_seconds,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            Html(
                form(Some(&format!(
                    "Too many failed sign-ins; try again in {retry_after_seconds} seconds."
                )))
                .into_string(),
            ),
        )
            .into_response(),
        Err(SignInError::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(form(Some("Sign-in is unavailable; try again.")).into_string()),
        )
            .into_response(),
        Err(_) => (
            StatusCode::UNAUTHORIZED,
            Html(form(Some("Wrong login or password.")).into_string()),
        )
            .into_response(),
    }
}

use axum::extract::FromRequest as _;

/// `POST /logout` form.
#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (its credential is revoked).
pub(crate) async fn logout(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    let Some(credential) = session::credential(&headers, state.secure_cookies) else {
        return Redirect::to("/login").into_response();
    };
    if !crate::csrf::valid(&credential, Some(&f.csrf)) {
        return error(StatusCode::FORBIDDEN, None, "missing or wrong CSRF token");
    }
    state.accounts.sign_out(&credential).await;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::clear_cookie(state.secure_cookies),
    );
    response
}
