//! `carekit-desk` as a real process: started from its binary with a config
//! file and a secrets file, killed with SIGKILL, told to reload with SIGHUP.

use super::API_TOKEN;
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
        self.http
            .get(self.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST JSON to an `/api` route; the status and the answer.
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
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
