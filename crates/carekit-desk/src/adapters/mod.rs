//! The platforms the desk server runs, as one list: each adapter is built
//! from the configuration with the same context (configuration, secrets,
//! store, clock) and gives the desk its outbound channel and the server its
//! webhook routes and poller. Starting the server and swapping credentials
//! walk the same list, so adding a platform is one entry here, or one
//! [`DeskServerBuilder::adapter`](crate::DeskServerBuilder::adapter) call
//! in an app.

mod email;
mod facebook;
mod sms;
mod twitter;

use crate::server::Background;
use crate::{DeskConfig, DeskServerError, Secrets};
use axum::Router;
use carekit_core::{Channel, Clock, EventSink, RateLimited, Store};
use std::sync::Arc;

/// What every adapter is built with.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct AdapterContext<'a> {
    /// The whole configuration (an app's adapter reads its own table from
    /// [`DeskConfig::adapters`]).
    pub config: &'a DeskConfig,
    /// The secrets, as read at start or at a credential swap.
    pub secrets: &'a Secrets,
    /// The desk's clock: OAuth times, rate-limit pauses and webhook
    /// timestamps follow it (a virtual clock in the sandbox).
    pub clock: &'a Arc<dyn Clock>,
    /// The desk's store (its key values, parent lookups).
    pub store: &'a Arc<dyn Store>,
}

impl std::fmt::Debug for AdapterContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterContext").finish_non_exhaustive()
    }
}

/// One platform as the desk server runs it.
pub trait ServerAdapter: Send + Sync {
    /// Its name, as in errors and logs (`"twitter"`).
    fn name(&self) -> &'static str;

    /// Builds the adapter, or `None` when the configuration leaves it off.
    /// Called at start and again, with new secrets, at every credential
    /// swap (then only the channel is used).
    ///
    /// # Errors
    /// A missing secret or invalid settings, named.
    fn build(&self, ctx: &AdapterContext<'_>) -> Result<Option<BuiltAdapter>, DeskServerError>;
}

/// A built adapter: the channel the desk sends through, and its routes.
#[non_exhaustive]
pub struct BuiltAdapter {
    /// The outbound channel (rate-limited as the platform needs).
    pub channel: Arc<dyn Channel>,
    /// Its webhook routes and poller, made once the desk's sink exists.
    pub mount: Mount,
}

impl BuiltAdapter {
    /// An adapter from its channel and routes.
    pub fn new(channel: Arc<dyn Channel>, mount: Mount) -> Self {
        Self { channel, mount }
    }
}

impl std::fmt::Debug for BuiltAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltAdapter")
            .field("channel", &self.channel.kind())
            .finish_non_exhaustive()
    }
}

/// Builds an adapter's routes (and poller) once the desk's sink exists.
pub type Mount = Box<dyn FnOnce(Arc<dyn EventSink>) -> Mounted + Send>;

/// An adapter's routes, where they are nested, their own body limit (the
/// server's `max_body_bytes` otherwise) and their poller.
#[non_exhaustive]
pub struct Mounted {
    /// Where the routes go (`/webhooks/twitter`).
    pub path: &'static str,
    /// The routes.
    pub router: Router,
    /// A body limit of their own.
    pub max_body_bytes: Option<usize>,
    /// A background loop started and stopped with the server.
    pub poller: Option<Background>,
}

impl Mounted {
    /// Routes nested under `path`, with the server's body limit and no poller.
    pub fn new(path: &'static str, router: Router) -> Self {
        Self {
            path,
            router,
            max_body_bytes: None,
            poller: None,
        }
    }

    /// A body limit of their own (mail with attachments).
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = Some(bytes);
        self
    }

    /// A loop to run beside the routes (a poller).
    pub fn with_poller(mut self, poller: Background) -> Self {
        self.poller = Some(poller);
        self
    }
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted")
            .field("path", &self.path)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("poller", &self.poller.is_some())
            .finish_non_exhaustive()
    }
}

/// The adapters carekit ships: X, Facebook, SMS (Twilio) and email.
pub fn built_in() -> Vec<Arc<dyn ServerAdapter>> {
    vec![
        Arc::new(Configured {
            name: "twitter",
            table: |c| c.twitter.as_ref(),
            build: twitter::build,
        }),
        Arc::new(Configured {
            name: "facebook",
            table: |c| c.facebook.as_ref(),
            build: facebook::build,
        }),
        Arc::new(Configured {
            name: "sms",
            table: |c| c.sms.as_ref(),
            build: sms::build,
        }),
        Arc::new(Configured {
            name: "email",
            table: |c| c.email.as_ref(),
            build: email::build,
        }),
    ]
}

/// A built-in adapter: its table of [`DeskConfig`] (absent: off) and how
/// it is built from it.
struct Configured<T: 'static> {
    name: &'static str,
    table: fn(&DeskConfig) -> Option<&T>,
    build: fn(&T, &AdapterContext<'_>) -> Result<BuiltAdapter, DeskServerError>,
}

impl<T: 'static> ServerAdapter for Configured<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn build(&self, ctx: &AdapterContext<'_>) -> Result<Option<BuiltAdapter>, DeskServerError> {
        let Some(settings) = (self.table)(ctx.config) else {
            return Ok(None);
        };
        (self.build)(settings, ctx).map(Some)
    }
}

/// Builds every configured adapter of `adapters`, in order.
pub(crate) fn build_all(
    adapters: &[Arc<dyn ServerAdapter>],
    ctx: &AdapterContext<'_>,
) -> Result<Vec<BuiltAdapter>, DeskServerError> {
    let mut built = Vec::new();
    for adapter in adapters {
        if let Some(b) = adapter.build(ctx)? {
            built.push(b);
        }
    }
    Ok(built)
}

/// `channel` behind a rate limit that waits on the desk's clock.
fn resilient<C: Channel + 'static>(
    channel: C,
    per_window: u32,
    window: std::time::Duration,
    clock: &Arc<dyn Clock>,
) -> Arc<dyn Channel> {
    Arc::new(RateLimited::new(channel, per_window, window).with_clock(clock.clone()))
}
