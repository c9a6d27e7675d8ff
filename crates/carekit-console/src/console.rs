//! The console and its builder.

use crate::accounts::Accounts;
use crate::state::ConsoleState;
use axum::Router;
use carekit_core::Desk;
use std::sync::Arc;

/// The agent console: an axum [`Router`] to mount in a server.
///
/// ```
/// # fn demo(desk: carekit_core::Desk, accounts: std::sync::Arc<dyn carekit_console::Accounts>) {
/// let app: axum::Router = carekit_console::Console::builder(desk, accounts)
///     .build()
///     .router();
/// # }
/// ```
#[derive(Clone)]
pub struct Console {
    state: ConsoleState,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("secure_cookies", &self.state.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// A console over `desk` (every view and action goes through it), with
    /// sign-in, sessions and scopes from `accounts`.
    pub fn builder(desk: Desk, accounts: Arc<dyn Accounts>) -> ConsoleBuilder {
        ConsoleBuilder {
            desk,
            accounts,
            secure_cookies: true,
        }
    }

    /// The console's routes (see the crate documentation), with its
    /// security headers on every answer.
    pub fn router(&self) -> Router {
        crate::routes::router(self.state.clone())
    }
}

/// Builds a [`Console`].
pub struct ConsoleBuilder {
    desk: Desk,
    accounts: Arc<dyn Accounts>,
    secure_cookies: bool,
}

impl std::fmt::Debug for ConsoleBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleBuilder")
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl ConsoleBuilder {
    /// Drops the `Secure` attribute (and the `__Host-` prefix) from the
    /// session cookie, so a browser keeps it over plain
    /// `http://127.0.0.1`. For tests only: a console reachable over
    /// anything but HTTPS leaks its sessions.
    pub fn insecure_cookies_for_tests(mut self) -> Self {
        self.secure_cookies = false;
        self
    }

    /// The console.
    pub fn build(self) -> Console {
        Console {
            state: ConsoleState {
                desk: self.desk,
                accounts: self.accounts,
                secure_cookies: self.secure_cookies,
            },
        }
    }
}
