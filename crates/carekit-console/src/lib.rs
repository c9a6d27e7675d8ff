//! # carekit-console
//!
//! The agent console for a carekit desk: server-rendered HTML (compile-time
//! checked `maud` templates, every value escaped), a small script built into
//! the binary (no build step; every page works without it), live over the
//! desk's Server-Sent Events, usable on a phone.
//!
//! An app mounts [`Console::router`] in its own axum server; `carekit-desk`
//! mounts it at `/` beside its JSON API. Sign-in, sessions and scopes come
//! from an [`Accounts`] implementation (the desk's own login, throttling
//! and tokens), and every action goes through [`carekit_core::Desk`].
//!
//! Routes: `GET /login`, `POST /login`, `POST /logout`, `GET /` (to the
//! agent's own queue), `GET /views/{view}` (see [`View`]; filters
//! `channel`, `status`, `priority`, `tag`, `team` and search `q`),
//! `GET /cases/{id}`, `POST /cases/{id}/reply|note|handoff|assign|resolve|presence`,
//! `GET /admin` (scope `admin`), `GET /events`, and the assets under
//! `/assets/`.
//!
//! Security: the session cookie is `HttpOnly`, `SameSite=Strict` and
//! `Secure` (see [`ConsoleBuilder::insecure_cookies_for_tests`]); every
//! state-changing request needs the session's CSRF token ([`CSRF_FIELD`]
//! or [`CSRF_HEADER`]), compared in constant time; every answer carries
//! [`CONTENT_SECURITY_POLICY`], which allows no inline script. See
//! `docs/console.md`.

mod accounts;
mod actions;
mod assets;
mod console;
mod csrf;
mod live;
mod pages;
mod routes;
mod security;
mod session;
mod state;
mod views;

pub use accounts::{Accounts, Credential, SignInError, SignedIn};
pub use console::{Console, ConsoleBuilder};
pub use csrf::{CSRF_FIELD, CSRF_HEADER};
pub use security::CONTENT_SECURITY_POLICY;
pub use views::{CRISIS_TAG, View};

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
