//! New credentials for a running desk: after a token expired or was
//! revoked (the channel shows `degraded` in `/healthz`), the operator puts
//! the new secrets in place and the desk swaps its outbound adapters and
//! releases the sends it held, without a restart.
//!
//! The binary does this on `SIGHUP`, re-reading the environment and the
//! `CAREKIT_SECRETS_FILE`. Webhook signing secrets and pollers keep the
//! values they started with until a restart.

use crate::adapters::{AdapterContext, ServerAdapter, build_all};
use crate::{DeskConfig, DeskServerError, Secrets};
use carekit_core::{ChannelKind, Desk};
use std::sync::Arc;

/// Swaps the adapters of a running desk for ones built with new secrets.
/// Cheap to clone; get one from [`DeskServer::credentials`](crate::DeskServer::credentials)
/// before serving.
#[derive(Clone)]
pub struct CredentialSwap {
    pub(crate) config: DeskConfig,
    pub(crate) desk: Desk,
    pub(crate) adapters: Vec<Arc<dyn ServerAdapter>>,
}

impl std::fmt::Debug for CredentialSwap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSwap").finish_non_exhaustive()
    }
}

/// What one swap did for a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Swapped {
    /// The channel.
    pub channel: ChannelKind,
    /// Sends that were held for credentials and are due again now.
    pub released: usize,
}

impl CredentialSwap {
    /// Builds every configured adapter with `secrets` and puts each in
    /// place of the running one. All adapters are built before any is
    /// swapped, so a missing secret changes nothing.
    ///
    /// # Errors
    /// A missing or invalid secret ([`DeskServerError`]), or a store error
    /// while releasing held sends.
    pub async fn replace(&self, secrets: &Secrets) -> Result<Vec<Swapped>, DeskServerError> {
        let ctx = AdapterContext {
            config: &self.config,
            secrets,
            clock: self.desk.clock(),
            store: self.desk.store(),
        };
        let built = build_all(&self.adapters, &ctx)?;
        let mut swapped = Vec::with_capacity(built.len());
        for channel in built.into_iter().map(|b| b.channel) {
            let kind = channel.kind();
            let released = self.desk.replace_channel(channel).await?;
            tracing::info!(channel = %kind, released, "credentials replaced");
            swapped.push(Swapped {
                channel: kind,
                released,
            });
        }
        Ok(swapped)
    }
}
