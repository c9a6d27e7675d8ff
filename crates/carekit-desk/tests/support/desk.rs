//! A desk server on a free port with the adapters' fake platforms, and
//! signed webhook payloads in each platform's documented shape (shared with
//! the console's tests, which include this file).
#![allow(dead_code, unused_imports)]

use carekit_desk::{DeskConfig, DeskServer, Secrets};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpListener;

/// The configured `CAREKIT_API_TOKEN`: it only bootstraps the first admin.
pub const API_TOKEN: &str = "api-token-7c1d2e";
/// The first admin every test desk bootstraps, and logs in as.
pub const ADMIN_LOGIN: &str = "desk-admin";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const X_CONSUMER_SECRET: &str = "x-consumer-secret-55aa";
pub const FB_APP_SECRET: &str = "fb-app-secret-91bc";
pub const FB_VERIFY: &str = "fb-verify-token-3344";
pub const FB_PAGE_TOKEN: &str = "EAAB-page-token-0f0f";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-8d8d";
pub const EMAIL_SECRET: &str = "email-inbound-secret-6e6e";
pub const BRAND: &str = "2244994945";
pub const PAGE: &str = "1234567890";
pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const SMS_FROM: &str = "+14155550100";

/// `CAREKIT_TEST_POSTGRES_URL`, or `None` after saying loudly that `test`
/// is skipped (a laptop without Postgres still passes; CI sets it).
pub fn postgres_url(test: &str) -> Option<String> {
    let url = std::env::var("CAREKIT_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        eprintln!("\n!!! SKIPPED {test}: set CAREKIT_TEST_POSTGRES_URL (CI does) !!!\n");
    }
    url
}

/// Every secret the test desk is configured with.
pub fn secrets() -> Secrets {
    Secrets::new()
        .with("CAREKIT_API_TOKEN", API_TOKEN)
        .with("X_CONSUMER_KEY", "x-consumer-key-1")
        .with("X_CONSUMER_SECRET", X_CONSUMER_SECRET)
        .with("X_ACCESS_TOKEN", "x-access-token-2")
        .with("X_ACCESS_TOKEN_SECRET", "x-access-secret-3")
        .with("FB_PAGE_TOKEN", FB_PAGE_TOKEN)
        .with("FB_APP_SECRET", FB_APP_SECRET)
        .with("FB_VERIFY_TOKEN", FB_VERIFY)
        .with("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        .with("EMAIL_INBOUND_SECRET", EMAIL_SECRET)
}

/// The fakes the desk's adapters call: each adapter's own (its `fake`
/// feature), sharing one ledger.
pub struct Platforms {
    pub x: carekit_twitter::fake::FakeX,
    pub graph: carekit_facebook::fake::FakeGraph,
    pub twilio: carekit_sms::fake::FakeTwilio,
}

impl Platforms {
    pub async fn start() -> Self {
        let ledger = carekit_testing::fake_platform::Ledger::default();
        Self {
            x: carekit_twitter::fake::FakeX::start(ledger.clone())
                .await
                .unwrap(),
            graph: carekit_facebook::fake::FakeGraph::start(ledger.clone(), PAGE)
                .await
                .unwrap(),
            twilio: carekit_sms::fake::FakeTwilio::start(ledger).await.unwrap(),
        }
    }
}

/// Server limits and tick for a test desk.
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: Option<u64>,
    pub tick_ms: u64,
    /// Journal webhooks here and acknowledge on receipt (`[inbox]`).
    pub inbox_dir: Option<std::path::PathBuf>,
    /// More TOML, appended (whole sections such as `[acknowledge]`).
    pub extra: String,
    /// More lines inside `[desk]` (such as `allow_hide = true`).
    pub desk_extra: String,
    /// More lines inside `[twitter]`.
    pub twitter_extra: String,
    /// `[email] max_body_bytes`; `None` keeps its 25 MiB default.
    pub email_max_body_bytes: Option<usize>,
    /// More secrets, beside [`secrets`].
    pub extra_secrets: Vec<(&'static str, String)>,
    /// Platforms of the app's own, beside the built-in adapters.
    pub adapters: Vec<std::sync::Arc<dyn carekit_desk::adapters::ServerAdapter>>,
    /// The desk's clock (the system's when `None`).
    pub clock: Option<std::sync::Arc<dyn carekit_core::Clock>>,
    /// The console's session cookie without `Secure` (a browser over
    /// plain `http://127.0.0.1`).
    pub console_insecure_cookies: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 262_144,
            request_timeout_ms: 5_000,
            header_read_timeout_ms: None,
            tick_ms: 20,
            inbox_dir: None,
            extra: String::new(),
            desk_extra: String::new(),
            extra_secrets: Vec::new(),
            email_max_body_bytes: None,
            twitter_extra: String::new(),
            adapters: Vec::new(),
            clock: None,
            console_insecure_cookies: false,
        }
    }
}

/// Sends an API request with `token`: the status and the JSON answer
/// (`Null` when there is none).
pub async fn json_answer(request: reqwest::RequestBuilder, token: &str) -> (u16, Value) {
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A token of the desk's first admin: bootstrapped with the configured
/// token when the store has no admin yet, else logged in (another worker,
/// or an earlier run on the same store, made the admin).
pub async fn admin_token(http: &reqwest::Client, base: &str) -> String {
    let response = http
        .post(format!("{base}/api/bootstrap"))
        .bearer_auth(API_TOKEN)
        .json(&json!({ "login": ADMIN_LOGIN, "password": ADMIN_PASSWORD, "name": "Desk Admin" }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status == 201 {
        return answer["token"]["token"].as_str().unwrap().to_owned();
    }
    assert_eq!(status, 409, "bootstrap: {answer}");
    let (status, answer) = login(http, base, ADMIN_LOGIN, ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "admin login: {answer}");
    answer["token"]["token"].as_str().unwrap().to_owned()
}

/// `POST /api/login`: the status and the answer.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    login: &str,
    password: &str,
) -> (u16, Value) {
    let response = http
        .post(format!("{base}/api/login"))
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `/metrics` at `url`, as text.
pub async fn metrics_text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// A running desk.
pub struct TestDesk {
    pub addr: std::net::SocketAddr,
    /// The engine behind the server (for an app's own channels).
    pub desk: carekit_core::Desk,
    /// The server's credential swap (as `SIGHUP` uses it).
    pub credentials: carekit_desk::CredentialSwap,
    pub base: String,
    pub http: reqwest::Client,
    pub platforms: Platforms,
    /// The first admin's token, which `api` and `api_post` use.
    pub token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestDesk {
    /// Starts a desk on a free port against `store_url` (and `schema` for Postgres).
    pub async fn start(store_url: &str, schema: Option<&str>) -> Self {
        Self::start_with(store_url, schema, Limits::default()).await
    }

    /// Starts a desk with these limits.
    pub async fn start_with(store_url: &str, schema: Option<&str>, limits: Limits) -> Self {
        let platforms = Platforms::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let schema_line = schema
            .map(|s| format!("schema = \"{s}\""))
            .unwrap_or_default();
        let config = DeskConfig::from_toml_str(&format!(
            r#"
            [server]
            listen = "{addr}"
            public_url = "http://{addr}"
            max_body_bytes = {max_body}
            request_timeout_ms = {request_timeout}
            {header_line}
            [store]
            url = "{store_url}"
            {schema_line}
            [desk]
            tick_ms = {tick}
            {desk_extra}
            [twitter]
            brand_user_id = "{BRAND}"
            api_base = "{x}"
            {twitter_extra}
            [facebook]
            page_id = "{PAGE}"
            graph_base = "{graph}"
            [sms]
            account_sid = "{TWILIO_SID}"
            from = "{SMS_FROM}"
            api_base = "{twilio}"
            [email]
            mailbox = "support@acme.example"
            smtp_host = "127.0.0.1"
            smtp_port = 1
            smtp_security = "plain"
            allow_plaintext = true
            {email_limit}
            {inbox_line}
            {extra}
            "#,
            extra = limits.extra,
            desk_extra = limits.desk_extra,
            twitter_extra = limits.twitter_extra,
            email_limit = limits
                .email_max_body_bytes
                .map(|n| format!("max_body_bytes = {n}"))
                .unwrap_or_default(),
            x = platforms.x.base_url(),
            graph = platforms.graph.base_url(),
            twilio = platforms.twilio.base_url(),
            max_body = limits.max_body_bytes,
            request_timeout = limits.request_timeout_ms,
            header_line = limits
                .header_read_timeout_ms
                .map(|ms| format!("header_read_timeout_ms = {ms}"))
                .unwrap_or_default(),
            tick = limits.tick_ms,
            inbox_line = limits
                .inbox_dir
                .as_ref()
                .map(|dir| format!("[inbox]\n            dir = {:?}", dir.display().to_string()))
                .unwrap_or_default(),
        ))
        .unwrap();
        let mut all_secrets = secrets();
        for (name, value) in limits.extra_secrets {
            all_secrets = all_secrets.with(name, value);
        }
        let mut builder = DeskServer::builder(config, all_secrets);
        for adapter in limits.adapters {
            builder = builder.adapter(adapter);
        }
        if let Some(clock) = limits.clock {
            builder = builder.clock(clock);
        }
        if limits.console_insecure_cookies {
            builder = builder.insecure_console_cookies_for_tests();
        }
        let server = builder.build().await.unwrap();
        let desk = server.desk().clone();
        let credentials = server.credentials();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        // No connection reuse: a 413 closes the connection before the
        // body is read, and a pooled client could race that close.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let base = format!("http://{addr}");
        let token = admin_token(&http, &base).await;
        Self {
            addr,
            desk,
            credentials,
            base,
            http,
            token,
            platforms,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("graceful shutdown finished")
                .unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> u16 {
        let mut request = self.http.post(self.url(path)).body(body);
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// Posts an X Account Activity payload signed as X signs it.
    pub async fn post_tweet(&self, body: Vec<u8>) -> u16 {
        let signature = x_signature(X_CONSUMER_SECRET, &body);
        self.post(
            "/webhooks/twitter",
            &[
                ("x-twitter-webhooks-signature", signature),
                ("content-type", "application/json".into()),
            ],
            body,
        )
        .await
    }

    pub async fn api(&self, path: &str) -> (u16, Value) {
        json_answer(self.http.get(self.url(path)), &self.token).await
    }

    /// `GET` with another token.
    pub async fn api_as(&self, token: &str, path: &str) -> (u16, Value) {
        json_answer(self.http.get(self.url(path)), token).await
    }

    /// `POST` JSON with another token.
    pub async fn api_post_as(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        json_answer(self.http.post(self.url(path)).json(&body), token).await
    }

    pub async fn api_post(&self, path: &str, body: Value) -> (u16, Value) {
        json_answer(self.http.post(self.url(path)).json(&body), &self.token).await
    }

    /// An agent the admin makes (in team `social`, with `password` when
    /// given): its id. No answer shows a password hash.
    #[allow(dead_code)]
    pub async fn make_agent(&self, login: &str, role: &str, password: Option<&str>) -> String {
        let mut body = json!({ "login": login, "name": login.to_uppercase(), "role": role, "teams": ["social"] });
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        let (status, answer) = self.api_post("/api/agents", body).await;
        assert_eq!(status, 201, "{answer}");
        assert!(!answer.to_string().contains("argon2"), "no hash in answers");
        answer["agent"]["id"].as_str().unwrap().to_owned()
    }

    /// A token the admin makes for `agent` with `scopes` (`None`: the
    /// role's): its secret and id.
    #[allow(dead_code)]
    pub async fn make_token(&self, agent: &str, scopes: Option<&[&str]>) -> (String, String) {
        let mut body = json!({ "label": "test" });
        if let Some(scopes) = scopes {
            body["scopes"] = json!(scopes);
        }
        let (status, answer) = self
            .api_post(&format!("/api/agents/{agent}/tokens"), body)
            .await;
        assert_eq!(status, 201, "{answer}");
        (
            answer["token"]["token"].as_str().unwrap().to_owned(),
            answer["token"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Every inbound message stored, as `channel: text`, sorted.
    pub async fn stored(&self) -> Vec<String> {
        let (_, list) = self.api("/api/conversations").await;
        let mut out = Vec::new();
        for c in list["conversations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = c["id"].as_str().unwrap_or_default();
            let (_, detail) = self.api(&format!("/api/conversations/{id}")).await;
            for m in detail["messages"].as_array().cloned().unwrap_or_default() {
                if m["direction"] == "inbound" {
                    out.push(format!(
                        "{}: {}",
                        c["channel"].as_str().unwrap_or_default(),
                        m["text"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
        out.sort();
        out
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        metrics_text(&self.http, &self.url("/metrics")).await
    }

    /// Waits until the inbox (if any) has handed every acknowledged event
    /// to the desk, as `/metrics` reports it.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.metrics().await;
            let backlog = text
                .lines()
                .find_map(|l| l.strip_prefix("carekit_inbox_backlog "))
                .map_or(0.0, |v| v.parse::<f64>().unwrap());
            if backlog == 0.0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "inbox backlog {backlog} did not drain"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `GET /api/conversations` until `n` exist (or fails after 5 s).
    pub async fn conversations(&self, n: usize) -> Vec<Value> {
        self.settle().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (status, body) = self.api("/api/conversations").await;
            assert_eq!(status, 200);
            let list = body["conversations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if list.len() >= n || tokio::time::Instant::now() > deadline {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestDesk {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

// The signatures each adapter checks, from each adapter's own signing code
// (the code its fake signs with, for the sandbox, the load generator and
// these tests).
pub use carekit_twitter::webhook::signature as x_signature;

/// Meta's `X-Hub-Signature-256` of `body`.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    carekit_facebook::signature::sign(app_secret.as_bytes(), body)
}

/// Twilio's `X-Twilio-Signature` of a form posted to `url`.
pub fn twilio_signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    carekit_sms::signature::compute(auth_token, url, &params)
}

/// An Account Activity `tweet_create_events` delivery.
pub fn tweet(id: &str, user_id: &str, screen_name: &str, text: &str) -> Vec<u8> {
    tweet_at(id, user_id, screen_name, text, 1_772_442_000_000)
}

/// The same, posted at `epoch_ms`.
pub fn tweet_at(id: &str, user_id: &str, screen_name: &str, text: &str, epoch_ms: i64) -> Vec<u8> {
    let created = chrono::DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .format("%a %b %d %H:%M:%S +0000 %Y")
        .to_string();
    serde_json::to_vec(&json!({
        "for_user_id": BRAND,
        "tweet_create_events": [{
            "created_at": created,
            "id_str": id,
            "text": text,
            "in_reply_to_status_id_str": null,
            "user": {
                "id_str": user_id, "name": screen_name.to_uppercase(), "screen_name": screen_name,
                "followers_count": 120
            },
            "entities": { "user_mentions": [{ "screen_name": "acme", "id_str": BRAND, "indices": [0, 5] }] },
            "timestamp_ms": epoch_ms.to_string()
        }]
    }))
    .unwrap()
}

/// A page `feed` comment.
pub fn page_comment(comment_id: &str, from: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "page",
        "entry": [{ "id": PAGE, "time": 1772442000, "changes": [{ "field": "feed", "value": {
            "from": { "id": from, "name": "Cinderella Hoover" },
            "post_id": format!("{PAGE}_444444444"),
            "comment_id": comment_id,
            "parent_id": format!("{PAGE}_444444444"),
            "created_time": 1772442000,
            "item": "comment",
            "verb": "add",
            "message": text
        }}]}]
    }))
    .unwrap()
}

/// A Messenger message.
pub fn messenger(mid: &str, psid: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "page",
        "entry": [{ "id": PAGE, "time": 1772442000000u64, "messaging": [{
            "sender": { "id": psid },
            "recipient": { "id": PAGE },
            "timestamp": 1772442000000u64,
            "message": { "mid": mid, "text": text }
        }]}]
    }))
    .unwrap()
}

/// A Twilio inbound SMS form and its parameters.
pub fn sms_params<'a>(sid: &'a str, from: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", TWILIO_SID),
        ("From", from),
        ("To", SMS_FROM),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
    ]
}

/// A plain RFC 5322 message.
pub fn email(message_id: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Dana <{from}>\r\nTo: support@acme.example\r\nSubject: {subject}\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <{message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
