//! Composition: configuration in, a running desk out. This module is also
//! the reference for apps that compose carekit themselves: each adapter is
//! built from its own config, wrapped in rate limiting and retries, and
//! handed to one `Desk`; each adapter's webhook router is nested under
//! `/webhooks/…` and fed through the same metered sink.

use crate::adapters::{AdapterContext, Mount, ServerAdapter};
use crate::api;
use crate::config::{AcknowledgeConfig, DeskConfig, Secrets, redact_url};
use crate::inbox::Inbox;
use crate::metrics::{MeteredSink, Metrics};
use crate::server::Background;
use crate::{DeskServerError, server};
use axum::Router;
use carekit_core::desk::AutoAcknowledge;
use carekit_core::template::Template;
use carekit_core::{
    AgentDirectory, CannedResponses, Channel, Classifier, Clock, Desk, EscalationPolicy, EventSink,
    Priority, Store, SystemClock,
};
use carekit_policy::CareSentiment;
use carekit_policy::builtin::{
    AudienceReach, CrisisTerms, NegativeSentiment, PublicNegative, RepeatedContact,
    UnsupportedLanguage,
};
use chrono::Duration;
use std::sync::Arc;

/// A configured desk: the engine, its HTTP routes, and its pollers. Build
/// it with [`DeskServer::builder`], then [`DeskServer::serve`] it.
pub struct DeskServer {
    pub(crate) config: DeskConfig,
    pub(crate) desk: Desk,
    pub(crate) router: Router,
    pub(crate) metrics: Metrics,
    pub(crate) background: Vec<Background>,
    pub(crate) insight: crate::Insight,
    pub(crate) adapters: Vec<Arc<dyn ServerAdapter>>,
    /// The channels the notifier and digests send through, kept current
    /// by credential swaps.
    pub(crate) followed: Vec<crate::credentials::FollowedChannel>,
    /// The change feed's poller and its event-stream clients.
    pub(crate) live: crate::live::LiveFeed,
}

impl std::fmt::Debug for DeskServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskServer")
            .field("listen", &self.config.server.listen)
            .field("store", &redact_url(&self.config.store.url))
            .field("twitter", &self.config.twitter.is_some())
            .field("facebook", &self.config.facebook.is_some())
            .field("sms", &self.config.sms.is_some())
            .field("email", &self.config.email.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`DeskServer`]: the configuration and secrets, plus what an app
/// or a test wants to inject (a clock, a store, its own rules).
#[must_use]
pub struct DeskServerBuilder {
    config: DeskConfig,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn Store>>,
    directory: Option<Arc<dyn AgentDirectory>>,
    canned: Option<Arc<dyn CannedResponses>>,
    policies: Vec<Arc<dyn EscalationPolicy>>,
    rules: Vec<Arc<dyn carekit_core::desk::Rule>>,
    channels: Vec<Arc<dyn Channel>>,
    adapters: Vec<Arc<dyn ServerAdapter>>,
    /// The console's session cookie drops `Secure` (tests over plain HTTP).
    insecure_console_cookies: bool,
}

impl DeskServer {
    /// Starts a builder.
    pub fn builder(config: DeskConfig, secrets: Secrets) -> DeskServerBuilder {
        DeskServerBuilder {
            config,
            secrets,
            clock: Arc::new(SystemClock),
            store: None,
            directory: None,
            canned: None,
            policies: Vec::new(),
            rules: Vec::new(),
            channels: Vec::new(),
            adapters: crate::adapters::built_in(),
            insecure_console_cookies: false,
        }
    }

    /// The engine (to reply, hand off or subscribe from the app itself).
    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// The HTTP routes (webhooks, API, health, metrics), for mounting in a
    /// bigger app or driving in tests.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    /// A handle that swaps in new credentials while the desk serves (take
    /// it before [`DeskServer::serve`], which consumes the server).
    pub fn credentials(&self) -> crate::CredentialSwap {
        crate::CredentialSwap {
            config: self.config.clone(),
            desk: self.desk.clone(),
            adapters: self.adapters.clone(),
            followed: self.followed.clone(),
        }
    }

    /// The taxonomy, crisis detector and crisis mode from `[taxonomy]` and
    /// `[crisis]` (for reports, and to act on incidents).
    pub fn insight(&self) -> &crate::Insight {
        &self.insight
    }
}

impl DeskServerBuilder {
    /// The clock (a virtual one for the sandbox and replays).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses this store instead of opening `[store] url`.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Keeps agent accounts and tokens here instead of in the store opened
    /// from `[store] url`. Needed with [`DeskServerBuilder::store`]: the
    /// desk will not guess where accounts live.
    pub fn directory(mut self, directory: Arc<dyn AgentDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Keeps canned responses here instead of in the store opened from
    /// `[store] url`. Needed with [`DeskServerBuilder::store`], as the
    /// directory is.
    pub fn canned(mut self, canned: Arc<dyn CannedResponses>) -> Self {
        self.canned = Some(canned);
        self
    }

    /// Adds an escalation policy to the standard ones.
    pub fn policy(mut self, policy: Arc<dyn EscalationPolicy>) -> Self {
        self.policies.push(policy);
        self
    }

    /// Adds a rule (a CSAT survey, a router) to the standard ones.
    pub fn rule(mut self, rule: Arc<dyn carekit_core::desk::Rule>) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds a channel the configuration does not describe (an app's own).
    pub fn channel(mut self, channel: Arc<dyn Channel>) -> Self {
        self.channels.push(channel);
        self
    }

    /// Adds a platform of the app's own to the built-in ones: it is built
    /// with the same context, its routes are mounted beside theirs, and a
    /// credential swap rebuilds it too. Its settings can live in
    /// `[adapters.<name>]` ([`DeskConfig::adapters`]).
    pub fn adapter(mut self, adapter: Arc<dyn ServerAdapter>) -> Self {
        self.adapters.push(adapter);
        self
    }

    /// The console's session cookie without `Secure`, so a browser keeps it
    /// over plain `http://127.0.0.1`: for tests only (see
    /// `carekit_console::ConsoleBuilder::insecure_cookies_for_tests`).
    pub fn insecure_console_cookies_for_tests(mut self) -> Self {
        self.insecure_console_cookies = true;
        self
    }

    /// Opens the store (running migrations), builds every configured
    /// adapter, and mounts the routes.
    ///
    /// # Errors
    /// Invalid configuration, a missing secret, a store that cannot be
    /// opened or migrated.
    pub async fn build(self) -> Result<DeskServer, DeskServerError> {
        let DeskServerBuilder {
            config,
            secrets,
            clock,
            store,
            directory,
            canned,
            policies,
            rules,
            channels,
            adapters,
            insecure_console_cookies,
        } = self;
        let api_token = secrets
            .require("CAREKIT_API_TOKEN", "the JSON API")?
            .to_owned();
        let (store, directory, canned): (
            Arc<dyn Store>,
            Arc<dyn AgentDirectory>,
            Arc<dyn CannedResponses>,
        ) = match (store, directory, canned) {
            (Some(store), Some(directory), Some(canned)) => (store, directory, canned),
            (Some(_), None, _) => {
                return Err(DeskServerError::Config(
                    "a store given to the builder needs a directory for agent accounts \
                         (DeskServerBuilder::directory)"
                        .into(),
                ));
            }
            (Some(_), _, None) => {
                return Err(DeskServerError::Config(
                    "a store given to the builder needs a place for canned responses \
                         (DeskServerBuilder::canned)"
                        .into(),
                ));
            }
            (None, directory, canned) => {
                let opened = open_store(&config).await?;
                let directory = directory.unwrap_or_else(|| opened.clone());
                let canned = canned.unwrap_or_else(|| opened.clone());
                (opened, directory, canned)
            }
        };
        let mut builder = Desk::builder()
            .store(store.clone())
            .clock(clock.clone())
            .worker_name(config.desk.worker.clone())
            .allow_hide(config.desk.allow_hide)
            .keep_changes(config.desk.events_kept)
            .outbox(
                carekit_core::desk::OutboxConfig::default()
                    .with_lease(Duration::seconds(config.desk.outbox_lease_seconds.max(1))),
            )
            .classifier(Arc::new(CareSentiment::default()) as Arc<dyn Classifier>);
        // [csat], [taxonomy], [crisis]: see insight.rs.
        let (insight, survey) = crate::insight::from_config(&config)?;
        // The detector's crisis mode is the desk's: one switch, kept in
        // step with the store, so every worker holds back the same replies.
        if let Some(mode) = insight.crisis_mode() {
            builder = builder.crisis_switch(mode.switch());
        }
        if let Some(taxonomy) = insight.taxonomy() {
            builder = builder.classifier(taxonomy.clone() as Arc<dyn Classifier>);
        }
        if let Some(survey) = survey {
            builder = builder.rule(Arc::new(survey));
        }
        for policy in standard_policies(&config)? {
            builder = builder.policy(policy);
        }
        for policy in policies {
            builder = builder.policy(policy);
        }
        // [assignment]: one rotation, kept in the store for every worker.
        // [[assignment.teams]]: per-team strategy and channels.
        if let Some(assignment) = &config.assignment {
            let (assigner, assign_new) = crate::care::assignment(assignment)?;
            builder = builder.assigner(assigner);
            if let Some(rule) = assign_new {
                builder = builder.rule(Arc::new(rule));
            }
        }
        if let Some(ack) = &config.acknowledge {
            builder = builder.rule(Arc::new(acknowledge(ack)?));
        }
        for rule in rules {
            builder = builder.rule(rule);
        }
        let mut kinds: Vec<carekit_core::ChannelKind> = channels.iter().map(|c| c.kind()).collect();
        for channel in channels {
            builder = builder.channel(channel);
        }

        // Channels first: they go into the desk, which the webhook
        // routes then feed.
        let mut mounts: Vec<Mount> = Vec::new();
        let ctx = AdapterContext {
            config: &config,
            secrets: &secrets,
            clock: &clock,
            store: &store,
        };
        let mut followed = Vec::new();
        for built in crate::adapters::build_all(&adapters, &ctx)? {
            followed.push(crate::credentials::FollowedChannel::new(
                built.channel.clone(),
            ));
            builder = builder.channel(built.channel);
            mounts.push(built.mount);
        }
        // Senders outside the desk (notifier, digests) follow credential
        // swaps through these.
        let built_channels: Vec<Arc<dyn Channel>> = followed
            .iter()
            .map(|f| Arc::new(f.clone()) as Arc<dyn Channel>)
            .collect();
        // [[notify]]: escalations to people, email through [email]'s sender.
        if let Some(notifier) = crate::notify::from_config(&config, &secrets, &built_channels)? {
            builder = builder.notifier(notifier);
        }
        kinds.extend(built_channels.iter().map(|c| c.kind()));
        crate::insight::check_outreach_channels(&config, &kinds)?;
        // [[digest]]: checked now, run in the background on the desk's clock.
        let digests = crate::digest::from_config(&config, &secrets, &built_channels)?;
        let desk = builder.build()?;
        let metrics = Metrics::new();
        metrics.follow(&desk);
        let mut sink: Arc<dyn EventSink> = Arc::new(MeteredSink::new(
            crate::insight::sink(&desk, &insight),
            metrics.clone(),
        ));

        let mut webhooks = Router::new();
        let mut background: Vec<Background> = crate::insight::crisis_loop(
            &desk,
            &insight,
            config.crisis.as_ref().map_or(60, |c| c.tick_seconds),
            std::time::Duration::from_millis(config.desk.tick_ms.max(1)),
        )
        .into_iter()
        .chain(crate::digest::digest_loop(
            &desk,
            digests,
            std::time::Duration::from_millis(config.desk.tick_ms.max(1)),
        ))
        .collect();
        // [inbox]: webhooks answer once journaled; the drain feeds the desk.
        let inbox = match &config.inbox {
            Some(settings) => {
                let (inbox, drain) = Inbox::open(settings, sink).map_err(|e| {
                    DeskServerError::Config(format!("[inbox] dir {}: {e}", settings.dir.display()))
                })?;
                let drain = drain
                    .with_clock(clock.clone())
                    .with_metrics(metrics.clone());
                background.push(Box::new(move |stop: server::Shutdown| {
                    Box::pin(drain.run(stop.wait()))
                }));
                sink = Arc::new(inbox.clone());
                Some(inbox)
            }
            None => None,
        };
        // /api/events: one poller of the store's change feed per process.
        let live = crate::live::LiveFeed::new();
        {
            let live = live.clone();
            let store = store.clone();
            let every = std::time::Duration::from_millis(config.desk.events_poll_ms.max(1));
            background.push(Box::new(move |stop: server::Shutdown| {
                Box::pin(live.run(store, every, stop.wait()))
            }));
        }
        // Body limits per route: each webhook's own, or the server's.
        let limit = |bytes: usize| tower_http::limit::RequestBodyLimitLayer::new(bytes);
        for mount in mounts {
            let mounted = (mount)(sink.clone());
            let bytes = mounted
                .max_body_bytes
                .unwrap_or(config.server.max_body_bytes);
            webhooks = webhooks.nest(mounted.path, mounted.router.layer(limit(bytes)));
            background.extend(mounted.poller);
        }
        let api_state = api::ApiState {
            desk: desk.clone(),
            directory,
            canned,
            insight: insight.clone(),
            bootstrap: crate::auth::BearerToken::new(&api_token),
            metrics_token: match secrets.get("CAREKIT_METRICS_TOKEN") {
                Some(token) => Some(crate::auth::BearerToken::new(token).ok_or_else(|| {
                    DeskServerError::Config("CAREKIT_METRICS_TOKEN is empty".into())
                })?),
                None => None,
            },
            metrics: metrics.clone(),
            inbox,
            config: Arc::new(api::config_view::effective(&config, &secrets)),
            live: live.clone(),
        };
        // The agent console at `/`, over the API's own accounts and desk.
        let console = crate::console::console(&api_state, insecure_console_cookies);
        let router = server::wrap(
            webhooks
                .merge(api::router(api_state).layer(limit(config.server.max_body_bytes)))
                .merge(console.layer(limit(config.server.max_body_bytes))),
            &config.server,
            metrics.clone(),
        );
        Ok(DeskServer {
            config,
            desk,
            router,
            metrics,
            background,
            insight,
            adapters,
            followed,
            live,
        })
    }
}

async fn open_store(
    config: &DeskConfig,
) -> Result<Arc<carekit_store_sql::SqlStore>, DeskServerError> {
    let mut builder = carekit_store_sql::SqlStore::builder(&config.store.url);
    if let Some(schema) = &config.store.schema {
        builder = builder.schema(schema.clone());
    }
    if let Some(n) = config.store.max_connections {
        builder = builder.max_connections(n);
    }
    Ok(Arc::new(builder.open().await?))
}

/// SLA targets per visibility, then the built-in escalation rules.
/// `[acknowledge]` as a rule; a template naming an unknown variable is a
/// configuration error.
fn acknowledge(config: &AcknowledgeConfig) -> Result<AutoAcknowledge, DeskServerError> {
    let parse = |key: &str, text: &str| {
        Template::parse(text)
            .map_err(|e| DeskServerError::Config(format!("[acknowledge] {key}: {e}")))
    };
    let mut builder = AutoAcknowledge::builder()
        .complaint(
            parse("complaint_public", &config.complaint_public)?,
            parse("complaint_private", &config.complaint_private)?,
        )
        .praise(
            parse("praise_public", &config.praise_public)?,
            parse("praise_private", &config.praise_private)?,
        )
        .neutral(
            parse("neutral_public", &config.neutral_public)?,
            parse("neutral_private", &config.neutral_private)?,
        )
        .complaint_at(config.complaint_at)
        .praise_at(config.praise_at);
    if config.complaint_at >= config.praise_at {
        return Err(DeskServerError::Config(format!(
            "[acknowledge] complaint_at ({}) must be below praise_at ({})",
            config.complaint_at, config.praise_at
        )));
    }
    if !config.channels.is_empty() {
        builder = builder.channels(config.channels.iter().copied());
    }
    Ok(builder.build())
}

fn standard_policies(
    config: &DeskConfig,
) -> Result<Vec<Arc<dyn EscalationPolicy>>, DeskServerError> {
    let d = &config.desk;
    let set = crate::care::sla_set(config)?;
    let crisis = if d.crisis_terms.is_empty() {
        CrisisTerms::default_terms()
    } else {
        CrisisTerms::new(d.crisis_terms.clone(), "crisis")
    };
    Ok(vec![
        Arc::new(set),
        Arc::new(crisis),
        Arc::new(RepeatedContact::new(d.repeated_contact.max(2))),
        Arc::new(AudienceReach::new(d.large_audience)),
        Arc::new(NegativeSentiment::new(CareSentiment::STRONG_ANGER)),
        Arc::new(UnsupportedLanguage::new()),
        Arc::new(PublicNegative::new(-0.3, Priority::High)),
    ])
}
