//! What every handler shares.

use crate::accounts::Accounts;
use carekit_core::Desk;
use std::sync::Arc;

/// What the console's handlers share. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ConsoleState {
    pub desk: Desk,
    pub accounts: Arc<dyn Accounts>,
    /// Whether the session cookie is `Secure` (and `__Host-` named).
    pub secure_cookies: bool,
}
