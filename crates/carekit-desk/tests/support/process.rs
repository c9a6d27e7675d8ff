//! `carekit-desk` as a real process: started from its binary with a config
//! file and a secrets file, killed with SIGKILL, told to reload with SIGHUP.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A desk process (or the place for one, while it is down).
pub struct DeskProcess {
    config: PathBuf,
    secrets: PathBuf,
    pub base: String,
    child: Option<Child>,
    http: reqwest::Client,
    /// The first admin's token, fetched when the desk first starts (kept
    /// in the store, so it holds across restarts).
    token: Option<String>,
}

/// A free port on 127.0.0.1 (released before the desk binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl DeskProcess {
    /// A desk that will run with `config` (which listens on `port`) and
    /// read its secrets from the `NAME=value` file `secrets`.
    pub fn new(config: &Path, secrets: &Path, port: u16) -> Self {
        Self {
            config: config.to_owned(),
            secrets: secrets.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
            child: None,
            token: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    /// Starts the binary and waits until `/healthz` answers.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(env!("CARGO_BIN_EXE_carekit-desk"))
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "error")
            .env("CAREKIT_SECRETS_FILE", &self.secrets)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start carekit-desk");
        self.child = Some(child);
        for _ in 0..1000 {
            if self
                .http
                .get(self.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                if self.token.is_none() {
                    self.token = Some(super::admin_token(&self.http, &self.base).await);
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("desk at {} did not become ready", self.base);
    }

    /// SIGKILL: no shutdown, no flush, as a crash or an OOM kill.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
            child.wait().unwrap();
        }
    }

    /// Whether the process is running (started and not killed).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGHUP: the desk reads its secrets again and replaces credentials.
    pub fn hangup(&self) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET an `/api` route (or `/healthz`) as JSON.
    pub async fn get(&self, path: &str) -> Value {
        super::json_answer(self.http.get(self.url(path)), self.token())
            .await
            .1
    }

    /// POST JSON to an `/api` route; the status and the answer.
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        super::json_answer(self.http.post(self.url(path)).json(&body), self.token()).await
    }

    /// The admin token the API helpers use.
    pub fn token(&self) -> &str {
        self.token.as_deref().expect("the desk was started")
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        super::metrics_text(&self.http, &self.url("/metrics")).await
    }
}

impl Drop for DeskProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A cheap deterministic generator (no extra dependency for randomness).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// The id of the customer tweet behind webhook `n`.
pub fn tweet_id(n: u64) -> String {
    (1_800_000_000_000_000_000u64 + n).to_string()
}

/// The X user id of the customer behind webhook `n`.
pub fn customer_id(n: u64) -> String {
    (5_000_000 + n).to_string()
}

/// Delivers webhook `n` (customer `n`'s tweet, signed as X signs it) to
/// the desk at `base`; whether it was acknowledged (2xx).
pub async fn deliver_tweet(http: &reqwest::Client, base: &str, n: u64, text: &str) -> bool {
    let body = super::tweet_at(
        &tweet_id(n),
        &customer_id(n),
        &format!("cust{n}"),
        text,
        chrono::Utc::now().timestamp_millis(),
    );
    http.post(format!("{base}/webhooks/twitter"))
        .header(
            "x-twitter-webhooks-signature",
            super::x_signature(super::X_CONSUMER_SECRET, &body),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Which webhook X sends next: one not yet acknowledged (sent again), now
/// and then one already acknowledged (X re-delivers those too), or a new
/// one.
pub struct Redelivery {
    pub rng: Lcg,
    last: u64,
    pending: Vec<u64>,
    pub acked: std::collections::BTreeSet<u64>,
    /// Re-deliveries of acknowledged webhooks.
    pub redelivered: usize,
}

impl Redelivery {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Lcg(seed),
            last: 0,
            pending: Vec::new(),
            acked: Default::default(),
            redelivered: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        if let Some(n) = self.pending.pop() {
            return n;
        }
        if !self.acked.is_empty() && self.rng.next(10) == 0 {
            self.redelivered += 1;
            let at = self.rng.next(self.acked.len() as u64) as usize;
            return *self.acked.iter().nth(at).unwrap();
        }
        self.last += 1;
        self.last
    }

    /// Records a delivery's answer: acknowledged, or to be sent again.
    pub fn settle(&mut self, n: u64, acknowledged: bool) {
        if acknowledged {
            self.acked.insert(n);
        } else if !self.acked.contains(&n) {
            self.pending.push(n);
        }
    }

    /// The webhooks still waiting to be acknowledged.
    pub fn take_pending(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.pending)
    }

    /// The highest webhook number handed out; later ones start above it.
    pub fn last(&self) -> u64 {
        self.last
    }
}
