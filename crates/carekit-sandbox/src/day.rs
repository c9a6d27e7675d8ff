//! Runs a scripted day against the real desk server and the fake platforms.

use crate::platforms::{FakePlatforms, PAGE};
use crate::script::{Action, AgentAction, Step, standard_day};
use crate::signer::{Accounts, WebhookSigner};
use carekit_core::channel::DeliveryState;
use carekit_core::{ChannelKind, Clock, FakeClock};
use carekit_desk::{DayReport, DeskConfig, DeskServer, DeskServerError, Secrets};
use carekit_insight::ReportOptions;
use carekit_testing::fake_platform::{Delivered, FaultKind, Faults, Platform, SignedWebhook};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

const BRAND: &str = "2244994945";
const SMS_NUMBER: &str = "+14155550100";
const MAILBOX: &str = "support@acme.example";
const TWILIO_ACCOUNT: &str = "AC5a0d0b0e0e0f00000000000000000000";
/// The sandbox's CSAT question (tests look for it among deliveries).
pub const CSAT_QUESTION: &str = "How did we do? Reply 1 (bad) to 5 (great).";

/// How long the virtual clock runs on after the last step, so late
/// replies go out and unanswered conversations reach their SLA breach.
const TAIL: i64 = 3 * 60;
/// Real time the day may take after its tail to send what is left.
const DRAIN_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// A sandbox day, ready to run. Build it with [`SandboxDay::builder`].
#[derive(Debug)]
pub struct SandboxDay {
    store_url: String,
    seed: u64,
    faults: Faults,
    start: DateTime<Utc>,
    steps: Option<Vec<Step>>,
    title: String,
    acknowledge: bool,
    send_rate: u32,
}

/// Options of a [`SandboxDay`].
#[derive(Debug)]
pub struct SandboxDayBuilder {
    day: SandboxDay,
}

impl SandboxDay {
    /// A day with the standard script, seed 7, no faults, an in-memory
    /// SQLite database, starting Monday 2026-03-02 09:00 UTC.
    pub fn builder() -> SandboxDayBuilder {
        SandboxDayBuilder {
            day: SandboxDay {
                store_url: "sqlite::memory:".into(),
                seed: 7,
                faults: Faults::none(),
                start: Utc
                    .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                    .single()
                    .unwrap_or_default(),
                steps: None,
                title: "carekit sandbox day".into(),
                acknowledge: true,
                send_rate: 50,
            },
        }
    }

    /// The secrets the sandbox configures the desk with (made-up values;
    /// tests scan logs for them).
    pub fn secrets() -> Secrets {
        Secrets::new()
            .with("CAREKIT_API_TOKEN", "sandbox-api-token-4f1e9a")
            .with("X_CONSUMER_KEY", "sandbox-x-consumer-key-77b2")
            .with("X_CONSUMER_SECRET", "sandbox-x-consumer-secret-c3d9")
            .with("X_ACCESS_TOKEN", "sandbox-x-access-token-18e4")
            .with("X_ACCESS_TOKEN_SECRET", "sandbox-x-access-secret-905a")
            .with("FB_PAGE_TOKEN", "sandbox-EAAB-page-token-2b6c")
            .with("FB_APP_SECRET", "sandbox-fb-app-secret-e71f")
            .with("FB_VERIFY_TOKEN", "sandbox-fb-verify-token-5d03")
            .with("TWILIO_AUTH_TOKEN", "sandbox-twilio-auth-token-a4c8")
            .with("EMAIL_INBOUND_SECRET", "sandbox-email-inbound-secret-61f7")
    }
}

impl SandboxDayBuilder {
    /// The store: `sqlite://path?mode=rwc` or `postgres://…`.
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.day.store_url = url.into();
        self
    }
    /// Seed of the scripted traffic (and of the faults, unless set there).
    pub fn seed(mut self, seed: u64) -> Self {
        self.day.seed = seed;
        self
    }
    /// Makes the fake platforms fail some calls.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.day.faults = faults;
        self
    }
    /// When the day starts (09:00 reads best).
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.day.start = start;
        self
    }
    /// Runs these steps instead of [`standard_day`].
    pub fn steps(mut self, steps: Vec<Step>) -> Self {
        self.day.steps = Some(steps);
        self
    }
    /// Whether the desk acknowledges first messages automatically (on by
    /// default; off when a test counts only the agents' replies).
    pub fn acknowledge(mut self, on: bool) -> Self {
        self.day.acknowledge = on;
        self
    }
    /// Sends per second the desk allows itself on X, the Graph API and
    /// Twilio (50 by default).
    pub fn send_rate(mut self, per_second: u32) -> Self {
        self.day.send_rate = per_second.max(1);
        self
    }
    /// The report's title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.day.title = title.into();
        self
    }
    /// The day.
    pub fn build(self) -> SandboxDay {
        self.day
    }
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepResult {
    /// The desk answered the webhook with this status.
    Webhook(u16),
    /// The desk answered the API call with this status (and the error text
    /// for a refusal).
    Api(u16, Option<String>),
    /// The agent looked for the customer's conversation and found none.
    NoConversation,
}

/// Progress, reported as the day runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Happening<'a> {
    /// The desk is up.
    Started {
        /// Steps to run.
        steps: usize,
        /// First instant of the day.
        from: DateTime<Utc>,
        /// Last instant, tail included.
        to: DateTime<Utc>,
    },
    /// A step ran.
    Step {
        /// Zero-based.
        index: usize,
        /// Out of.
        total: usize,
        /// The step.
        step: &'a Step,
        /// What the desk said.
        result: &'a StepResult,
    },
    /// The desk sent something to a platform.
    Sent {
        /// Virtual time.
        at: DateTime<Utc>,
        /// What the platform accepted.
        delivered: &'a Delivered,
    },
    /// All steps ran; the clock runs on until the outbox is empty.
    Draining {
        /// Virtual time.
        at: DateTime<Utc>,
    },
}

impl DayOutcome {
    /// How many messages were still queued or in flight at the end.
    pub fn unsent(&self) -> usize {
        self.pending.len()
    }
}

impl fmt::Display for Happening<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Happening::Started { steps, from, to } => write!(
                f,
                "desk up; {steps} steps from {} to {}",
                from.format("%H:%M"),
                to.format("%H:%M")
            ),
            Happening::Step { step, result, .. } => {
                let who = match &step.action {
                    Action::Customer(inbound) => inbound.customer(),
                    Action::Agent {
                        customer, agent, ..
                    } => format!("{agent} → {customer}"),
                };
                let outcome = match result {
                    StepResult::Webhook(s) => format!("webhook {s}"),
                    StepResult::Api(s, None) => format!("api {s}"),
                    StepResult::Api(s, Some(e)) => format!("api {s}: {e}"),
                    StepResult::NoConversation => "no conversation found".into(),
                };
                write!(
                    f,
                    "{}  {:<36} {:<28} {outcome}",
                    step.at.format("%H:%M"),
                    step.note,
                    who
                )
            }
            Happening::Sent { at, delivered } => write!(
                f,
                "{}    desk sent {} {} to {}: {}",
                at.format("%H:%M"),
                delivered.platform.label(),
                delivered.kind,
                delivered.recipient,
                short(&delivered.text, 60)
            ),
            Happening::Draining { at } => {
                write!(f, "{}  day over; sending what is left", at.format("%H:%M"))
            }
        }
    }
}

fn short(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// What a day produced.
#[derive(Debug)]
#[non_exhaustive]
pub struct DayOutcome {
    /// The end-of-day report.
    pub report: DayReport,
    /// Every step and what the desk said.
    pub steps: Vec<(Step, StepResult)>,
    /// What the fake platforms accepted, in order.
    pub delivered: Vec<Delivered>,
    /// Faults the fakes injected, by kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// What is still queued or in flight at the end: channel and state.
    pub pending: Vec<(ChannelKind, String)>,
    /// API calls the fakes received, by platform.
    pub calls: BTreeMap<Platform, u64>,
    /// Writes the desk made while a platform's limit was spent.
    pub over_limit: BTreeMap<Platform, u64>,
    /// Outbound messages that failed for good or were dead-lettered:
    /// (channel, recipient, reason).
    pub refused: Vec<(ChannelKind, String, String)>,
    /// Wall-clock time of the run.
    pub wall: std::time::Duration,
}

impl SandboxDay {
    /// Starts the fakes and the desk, runs every step, lets the outbox
    /// drain, and builds the report. `on` hears about each step and each
    /// send as it happens.
    ///
    /// # Errors
    /// The store could not be opened, a port could not be bound, or the
    /// desk could not be reached.
    pub async fn run(
        self,
        mut on: impl FnMut(Happening<'_>),
    ) -> Result<DayOutcome, DeskServerError> {
        let began = Instant::now();
        let fakes = FakePlatforms::start(self.faults).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let public_url = format!("http://{addr}");
        let config = DeskConfig::from_toml_str(&format!(
            r#"
            [server]
            listen = "{addr}"
            public_url = "{public_url}"
            [store]
            url = "{store}"
            [desk]
            tick_ms = 5
            outbox_lease_seconds = 30
            [twitter]
            brand_user_id = "{BRAND}"
            api_base = "{x}"
            posts_per_window = {rate}
            window_seconds = 1
            [facebook]
            page_id = "{PAGE}"
            graph_base = "{graph}"
            sends_per_second = {rate}
            [sms]
            account_sid = "{TWILIO_ACCOUNT}"
            from = "{SMS_NUMBER}"
            api_base = "{twilio}"
            messages_per_second = {rate}
            [email]
            mailbox = "{MAILBOX}"
            smtp_host = "127.0.0.1"
            smtp_port = {smtp_port}
            smtp_security = "plain"
            allow_plaintext = true
            [csat]
            question = "{CSAT_QUESTION}"
            channels = ["sms", "email", "facebook"]
            delay_minutes = 2
            {acks}
            [crisis]
            min_volume = 6
            holding_statement = "We know the app is down for some of you and are fixing it. Updates here."
            auto_crisis_mode = true
            [[taxonomy.topics]]
            name = "outage"
            keywords = [{{ text = "outage", weight = 2.0 }}, {{ text = "down", weight = 2.0 }}]
            phrases = ["logs me out"]
            [[taxonomy.topics]]
            name = "delivery"
            keywords = ["late", "parcel", "package", "delivery", "delivered", "courier", "waiting", "replacement"]
            [[taxonomy.topics]]
            name = "billing"
            keywords = ["refund", "invoice", "vat", "payment", "discount"]
            phrases = ["charged twice", "charged my card twice"]
            [[taxonomy.topics]]
            name = "damaged"
            keywords = ["broken", "damaged", "smashed"]
            [[taxonomy.topics]]
            name = "wrong item"
            phrases = ["wrong size", "wrong item"]
            "#,
            store = self.store_url,
            rate = self.send_rate,
            acks = if self.acknowledge {
                "[acknowledge]\n\
                 complaint_public = \"So sorry to hear that, {first_name|friend}! We're looking into it now.\"\n\
                 complaint_private = \"Thanks for getting in touch, {first_name|there}, we're on it.\"\n\
                 praise_public = \"Thank you, {first_name|friend}, that made our day!\""
            } else {
                ""
            },
            x = fakes.x_base_url(),
            graph = fakes.graph_base_url(),
            twilio = fakes.twilio_base_url(),
            smtp_port = fakes.smtp_addr().port(),
        ))?;
        let secrets = Self::secrets();
        let api_token = secrets
            .get("CAREKIT_API_TOKEN")
            .unwrap_or_default()
            .to_owned();
        let signer = WebhookSigner::new(
            &secrets,
            Accounts {
                public_url: public_url.clone(),
                brand_user_id: BRAND.into(),
                page_id: PAGE.into(),
                sms_number: SMS_NUMBER.into(),
                mailbox: MAILBOX.into(),
            },
        );
        let clock = Arc::new(FakeClock::new(self.start));
        let server = DeskServer::builder(config, secrets)
            .clock(clock.clone() as Arc<dyn Clock>)
            .build()
            .await?;
        let desk = server.desk().clone();
        let insight = server.insight().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async {
            let _ = stop_rx.await;
        }));

        let steps = self
            .steps
            .unwrap_or_else(|| standard_day(self.start, self.seed));
        let end = steps.last().map_or(self.start, |s| s.at) + Duration::minutes(TAIL);
        on(Happening::Started {
            steps: steps.len(),
            from: self.start,
            to: end,
        });
        let mut client = Client {
            http: reqwest::Client::new(),
            base: public_url,
            token: String::new(),
            agents: std::sync::Mutex::new(std::collections::HashMap::new()),
        };
        // The configured token only bootstraps the first admin; the
        // script's agents each get an account and a token of their own.
        client.token = client.bootstrap(&api_token).await?;
        let mut seen = 0;
        let mut results = Vec::with_capacity(steps.len());
        let total = steps.len();
        for (index, step) in steps.into_iter().enumerate() {
            advance_to(&clock, step.at, &fakes, &mut seen, &mut on).await;
            let result = match &step.action {
                Action::Customer(inbound) => {
                    let request = signer.request(inbound, step.at.timestamp_millis());
                    StepResult::Webhook(client.webhook(&request).await?)
                }
                Action::Agent {
                    customer,
                    agent,
                    action,
                } => client.agent(customer, agent, action).await?,
            };
            settle(&desk).await;
            report_sends(&clock, &fakes, &mut seen, &mut on);
            on(Happening::Step {
                index,
                total,
                step: &step,
                result: &result,
            });
            results.push((step, result));
        }
        on(Happening::Draining { at: clock.now() });
        advance_to(&clock, end, &fakes, &mut seen, &mut on).await;
        // Retries still waiting get more virtual time (a real-time budget
        // keeps a stuck run from hanging).
        let budget = Instant::now() + DRAIN_BUDGET;
        while Instant::now() < budget {
            match next_attempt(&desk).await {
                None => break,
                // Due now: give the worker real time, not virtual time.
                Some(at) if at <= clock.now() => {
                    tokio::time::sleep(std::time::Duration::from_millis(12)).await;
                    report_sends(&clock, &fakes, &mut seen, &mut on);
                }
                Some(at) => advance_to(&clock, at, &fakes, &mut seen, &mut on).await,
            }
        }
        settle(&desk).await;
        report_sends(&clock, &fakes, &mut seen, &mut on);

        let store = desk.store();
        let pending: Vec<(ChannelKind, String)> = store
            .outbox_in_states(&[DeliveryState::Queued, DeliveryState::Sending], 10_000)
            .await?
            .into_iter()
            .map(|item| {
                (
                    item.message.channel,
                    format!(
                        "{:?} after {} attempts, next at {}: {}",
                        item.state,
                        item.attempts,
                        item.next_attempt_at.format("%H:%M:%S"),
                        item.last_error.unwrap_or_default()
                    ),
                )
            })
            .collect();
        let refused = store
            .outbox_in_states(
                &[DeliveryState::Failed, DeliveryState::DeadLettered],
                10_000,
            )
            .await?
            .into_iter()
            .map(|item| {
                (
                    item.message.channel,
                    item.message
                        .recipient
                        .map(|r| r.handle)
                        .or(item.message.in_reply_to)
                        .unwrap_or_default(),
                    item.last_error.unwrap_or_default(),
                )
            })
            .collect();
        let report = DayReport::build(&desk, self.title, &ReportOptions::default())
            .await?
            .with_insight(&desk, &insight)
            .await?;
        let _ = stop_tx.send(());
        if let Ok(Err(e)) = serving.await {
            return Err(e);
        }
        Ok(DayOutcome {
            report,
            steps: results,
            delivered: fakes.delivered(),
            faults: fakes.injected(),
            calls: fakes.calls(),
            over_limit: fakes.over_limit(),
            refused,
            pending,
            wall: began.elapsed(),
        })
    }
}

/// Moves the virtual clock to `to` in steps of at most five minutes, so
/// the desk's worker sees SLA warnings and retries at their own moments.
async fn advance_to(
    clock: &FakeClock,
    to: DateTime<Utc>,
    fakes: &FakePlatforms,
    seen: &mut usize,
    on: &mut impl FnMut(Happening<'_>),
) {
    let step = Duration::minutes(5);
    while clock.now() < to {
        let next = (clock.now() + step).min(to);
        clock.set(next);
        // Two worker ticks: one to claim what became due, one to send it.
        tokio::time::sleep(std::time::Duration::from_millis(12)).await;
        report_sends(clock, fakes, seen, on);
    }
}

/// When the outbox next has something to do (`None`: nothing is left).
async fn next_attempt(desk: &carekit_core::Desk) -> Option<DateTime<Utc>> {
    desk.store()
        .outbox_in_states(&[DeliveryState::Queued, DeliveryState::Sending], 10_000)
        .await
        .ok()?
        .iter()
        .map(|item| item.next_attempt_at)
        .min()
}

/// Waits (briefly, in real time) until nothing is due in the outbox.
async fn settle(desk: &carekit_core::Desk) {
    let deadline = Instant::now() + std::time::Duration::from_millis(500);
    while Instant::now() < deadline {
        let due = next_attempt(desk)
            .await
            .is_some_and(|at| at <= desk.clock().now());
        if !due {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn report_sends(
    clock: &FakeClock,
    fakes: &FakePlatforms,
    seen: &mut usize,
    on: &mut impl FnMut(Happening<'_>),
) {
    let delivered = fakes.delivered();
    for d in &delivered[*seen..] {
        on(Happening::Sent {
            at: clock.now(),
            delivered: d,
        });
    }
    *seen = delivered.len();
}

/// The desk over HTTP, as a platform or an agent's browser reaches it.
struct Client {
    http: reqwest::Client,
    base: String,
    /// The sandbox admin's token.
    token: String,
    /// Each script agent's token, made on first use.
    agents: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Client {
    /// Makes the sandbox's admin with the configured token; its token.
    async fn bootstrap(&self, configured: &str) -> Result<String, DeskServerError> {
        let password = format!("sandbox-{}", hex::encode(rand::random::<[u8; 16]>()));
        let response = self
            .http
            .post(format!("{}/api/bootstrap", self.base))
            .bearer_auth(configured)
            .json(&json!({"login": "sandbox-admin", "password": password, "name": "Sandbox admin"}))
            .send()
            .await
            .map_err(unreachable_desk)?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        answer["token"]["token"]
            .as_str()
            .filter(|_| status.is_success())
            .map(str::to_owned)
            .ok_or_else(|| DeskServerError::Config(format!("sandbox bootstrap: {status} {answer}")))
    }

    /// The token `agent` (a script name) acts with, making the account on
    /// first use.
    async fn agent_token(&self, agent: &str) -> Result<String, DeskServerError> {
        if let Some(token) = self
            .agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(agent)
        {
            return Ok(token.clone());
        }
        let (status, made) = self
            .api_as(
                &self.token,
                "/api/agents",
                Some(json!({"login": agent, "name": agent, "role": "agent"})),
            )
            .await?;
        let id = made["agent"]["id"]
            .as_str()
            .filter(|_| status == 201)
            .ok_or_else(|| {
                DeskServerError::Config(format!("sandbox agent {agent}: {status} {made}"))
            })?;
        let (status, issued) = self
            .api_as(
                &self.token,
                &format!("/api/agents/{id}/tokens"),
                Some(json!({"label": "sandbox"})),
            )
            .await?;
        let token = issued["token"]["token"]
            .as_str()
            .filter(|_| status == 201)
            .ok_or_else(|| {
                DeskServerError::Config(format!("sandbox token for {agent}: {status} {issued}"))
            })?
            .to_owned();
        self.agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(agent.to_owned(), token.clone());
        Ok(token)
    }

    async fn webhook(&self, request: &SignedWebhook) -> Result<u16, DeskServerError> {
        let mut builder = self
            .http
            .post(format!("{}{}", self.base, request.path))
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let response = builder.send().await.map_err(unreachable_desk)?;
        Ok(response.status().as_u16())
    }

    async fn api(&self, path: &str, body: Option<Value>) -> Result<(u16, Value), DeskServerError> {
        self.api_as(&self.token, path, body).await
    }

    async fn api_as(
        &self,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), DeskServerError> {
        let url = format!("{}{path}", self.base);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.get(url),
        };
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(unreachable_desk)?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// The customer's most recently opened conversation that is not closed.
    async fn conversation_of(&self, customer: &str) -> Result<Option<String>, DeskServerError> {
        let query = serde_urlencoded::to_string([("customer", customer)]).unwrap_or_default();
        let (_, body) = self
            .api(&format!("/api/conversations?{query}"), None)
            .await?;
        let list = body["conversations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(list
            .iter()
            .filter(|c| c["status"] != "closed")
            .max_by_key(|c| c["opened_at"].as_str().unwrap_or_default().to_owned())
            .and_then(|c| c["id"].as_str().map(str::to_owned)))
    }

    async fn agent(
        &self,
        customer: &str,
        agent: &str,
        action: &AgentAction,
    ) -> Result<StepResult, DeskServerError> {
        let Some(id) = self.conversation_of(customer).await? else {
            return Ok(StepResult::NoConversation);
        };
        let (path, body) = match action {
            AgentAction::Reply { text } => ("reply", json!({"text": text, "agent": agent})),
            AgentAction::Handoff {
                to,
                public_text,
                private_text,
                recipient,
            } => (
                "handoff",
                json!({"to": to, "public_text": public_text, "private_text": private_text, "recipient": recipient, "agent": agent}),
            ),
            AgentAction::Resolve => ("resolve", json!({"agent": agent})),
        };
        let token = self.agent_token(agent).await?;
        let (status, answer) = self
            .api_as(
                &token,
                &format!("/api/conversations/{id}/{path}"),
                Some(body),
            )
            .await?;
        let error = (status >= 400).then(|| {
            answer["error"]
                .as_str()
                .map_or_else(|| answer.to_string(), str::to_owned)
        });
        Ok(StepResult::Api(status, error))
    }
}

fn unreachable_desk(e: reqwest::Error) -> DeskServerError {
    DeskServerError::Config(format!("the sandbox could not reach the desk: {e}"))
}
