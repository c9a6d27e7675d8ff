//! People on the desk: agent accounts, per-agent tokens with scopes, login
//! with throttling, and the one-time bootstrap, on SQLite and (when
//! `CAREKIT_TEST_POSTGRES_URL` is set) Postgres. Written as an attacker
//! would try it: missing scopes, admin routes, revoked tokens, a forged
//! `agent` in the body, password guessing from one address and from many,
//! tokens of another desk, huge and non-UTF-8 bodies; and the secrets are
//! looked for where they must never be (logs, `Debug`, the database).

mod support;

use carekit_core::{AgentDirectory, Clock, FakeClock};
use carekit_store_sql::SqlStore;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use support::*;

const BOB_PASSWORD: &str = "bob's long passphrase";

/// Where a test desk keeps its data.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl Place {
    async fn start(&self, limits: Limits) -> TestDesk {
        match self {
            Place::Sqlite(dir) => TestDesk::start_with(&self.url(dir), None, limits).await,
            Place::Postgres { url, schema } => {
                TestDesk::start_with(url, Some(schema), limits).await
            }
        }
    }

    fn url(&self, dir: &tempfile::TempDir) -> String {
        let _ = self;
        format!("sqlite://{}", dir.path().join("desk.db").display())
    }

    /// The store itself, opened beside the desk.
    async fn store(&self) -> SqlStore {
        match self {
            Place::Sqlite(dir) => SqlStore::open(&self.url(dir)).await.unwrap(),
            Place::Postgres { url, schema } => SqlStore::builder(url)
                .schema(schema.clone())
                .open()
                .await
                .unwrap(),
        }
    }

    /// Every text the people tables and the cursor ledger hold, as read
    /// from the database.
    async fn raw_rows(&self) -> String {
        let query = "SELECT login || ' ' || COALESCE(password_hash, '') || ' ' || data FROM agents \
                     UNION ALL SELECT digest || ' ' || data FROM api_tokens \
                     UNION ALL SELECT name || ' ' || value FROM cursors";
        let rows: Vec<String> = match self {
            Place::Sqlite(dir) => {
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(&self.url(dir))
                    .await
                    .unwrap();
                sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
            }
            Place::Postgres { url, schema } => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .unwrap();
                sqlx::query(&format!("SET search_path TO {schema}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
            }
        };
        rows.join("\n")
    }

    /// The password hashes as stored.
    async fn password_hashes(&self) -> Vec<String> {
        self.store()
            .await
            .agents()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|a| a.password.map(|p| p.expose().to_owned()))
            .collect()
    }
}

fn sqlite() -> Place {
    Place::Sqlite(tempfile::tempdir().unwrap())
}

fn postgres(test: &str) -> Option<Place> {
    let url = postgres_url(test)?;
    Some(Place::Postgres {
        url,
        schema: format!("desk_agents_{}", uuid_like()),
    })
}

/// A name no other run uses.
fn uuid_like() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A conversation to work on: one signed mention, stored.
async fn one_conversation(desk: &TestDesk) -> String {
    let body = tweet(
        "1800000000000000901",
        "1111",
        "ann",
        "@acme my order is late",
    );
    let status = desk.post_tweet(body).await;
    assert_eq!(status, 200);
    let list = desk.conversations(1).await;
    list[0]["id"].as_str().unwrap().to_owned()
}

async fn scopes_revocation_and_audit(place: Place) {
    let desk = place.start(Limits::default()).await;
    let id = one_conversation(&desk).await;
    let bob = desk.make_agent("bob", "agent", Some(BOB_PASSWORD)).await;
    let (read_only, read_only_id) = desk.make_token(&bob, Some(&["read"])).await;
    let (bob_token, _) = desk.make_token(&bob, None).await;
    let (no_handoff, _) = desk.make_token(&bob, Some(&["read", "reply"])).await;
    let reply = |text: &str| json!({ "text": text, "agent": "mallory" });

    // Without the reply scope: reads, but cannot reply.
    let (status, _) = desk.api_as(&read_only, "/api/conversations").await;
    assert_eq!(status, 200);
    let (status, answer) = desk
        .api_post_as(
            &read_only,
            &format!("/api/conversations/{id}/reply"),
            reply("hi"),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["missing_scope"], "reply");
    assert!(answer["error"].as_str().unwrap().contains("reply"));

    // An agent cannot use the admin routes, nor manage.
    for (path, body) in [
        (
            "/api/agents",
            Some(
                json!({"login": "eve", "name": "Eve", "role": "admin", "password": "0123456789ab"}),
            ),
        ),
        ("/api/agents", None),
        ("/api/tokens", None),
        (
            &*format!("/api/agents/{bob}/tokens"),
            Some(json!({"label": "mine", "scopes": ["admin"]})),
        ),
        (&*format!("/api/agents/{bob}/disable"), Some(json!({}))),
    ] {
        let (status, answer) = match body {
            Some(body) => desk.api_post_as(&bob_token, path, body).await,
            None => desk.api_as(&bob_token, path).await,
        };
        assert_eq!(status, 403, "{path}: {answer}");
        assert_eq!(answer["missing_scope"], "admin", "{path}");
    }
    let (status, answer) = desk
        .api_post_as(&bob_token, "/api/crisis", json!({ "on": true }))
        .await;
    assert_eq!(
        (status, answer["missing_scope"].clone()),
        (403, json!("manage"))
    );
    // Nor can an admin hand an agent more than the role grants.
    let (status, _) = desk
        .api_post(
            &format!("/api/agents/{bob}/tokens"),
            json!({"label": "x", "scopes": ["admin"]}),
        )
        .await;
    assert_eq!(status, 422);

    // A handoff to a new recipient needs the handoff scope.
    let (status, answer) = desk
        .api_post_as(
            &no_handoff,
            &format!("/api/conversations/{id}/handoff"),
            json!({"to": "sms", "public_text": "We'll text you.", "recipient": "+14155550199"}),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["missing_scope"], "handoff");

    // The audit names the authenticated agent, whatever the body claims.
    let (status, answer) = desk
        .api_post_as(
            &bob_token,
            &format!("/api/conversations/{id}/reply"),
            reply("So sorry, Ann."),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = desk
        .api_post_as(
            &bob_token,
            &format!("/api/conversations/{id}/resolve"),
            json!({"agent": "mallory"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (_, detail) = desk.api(&format!("/api/conversations/{id}")).await;
    let audit = detail["audit"].to_string();
    assert!(audit.contains(&bob), "the audit names bob's id: {audit}");
    assert!(!audit.contains("mallory"), "never the body's name: {audit}");
    let authors: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert!(!authors.is_empty());
    assert!(authors.iter().all(|a| a.contains(&bob)), "{authors:?}");

    // An agent lists their own tokens (never a secret) and revokes one: it
    // is refused on the very next request.
    let (status, mine) = desk.api_as(&bob_token, "/api/me/tokens").await;
    assert_eq!(status, 200);
    assert_eq!(mine["tokens"].as_array().unwrap().len(), 3);
    for secret in [&read_only, &bob_token, &no_handoff] {
        assert!(!mine.to_string().contains(&secret[8..]), "no secret listed");
    }
    let (status, _) = desk
        .api_post_as(
            &bob_token,
            &format!("/api/tokens/{read_only_id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = desk.api_as(&read_only, "/api/conversations").await;
    assert_eq!(status, 401, "a revoked token is refused at once");
    // Someone else's token is not the agent's to revoke (nor to know of).
    let (_, admin_tokens) = desk.api("/api/me/tokens").await;
    let admin_token_id = admin_tokens["tokens"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = desk
        .api_post_as(
            &bob_token,
            &format!("/api/tokens/{admin_token_id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = desk.api("/api/conversations").await;
    assert_eq!(status, 200, "the admin's token still works");

    // The admin sees every token with its last use.
    let (_, all) = desk.api(&format!("/api/tokens?agent={bob}")).await;
    let listed = all["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|t| !t["last_used_at"].is_null()));
    assert!(listed.iter().any(|t| !t["revoked_at"].is_null()));

    // No token, a wrong one, the configured one, a non-UTF-8 one: 401.
    let anonymous = desk
        .http
        .get(desk.url("/api/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    for wrong in [
        API_TOKEN,
        "ckd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "",
        "x",
    ] {
        let (status, _) = desk.api_as(wrong, "/api/conversations").await;
        assert_eq!(status, 401, "{wrong:?}");
    }
    let binary = desk
        .http
        .get(desk.url("/api/conversations"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer ckd_\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(binary.status(), 401);
    // The configured token bootstraps once, then opens nothing.
    let again = desk
        .http
        .post(desk.url("/api/bootstrap"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"login": "root2", "password": "another long one", "name": "Root"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // A disabled agent's tokens are refused, and it cannot log in.
    let (status, _) = desk
        .api_post(&format!("/api/agents/{bob}/disable"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = desk.api_as(&bob_token, "/api/conversations").await;
    assert_eq!(status, 401);
    let (status, refused) = login(&desk.http, &desk.base, "bob", BOB_PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(refused["error"], "wrong login or password");

    // Stored only hashed: the database holds the Argon2id hash and the
    // digests, never a password or a token.
    let rows = place.raw_rows().await;
    for secret in [
        BOB_PASSWORD,
        ADMIN_PASSWORD,
        &read_only,
        &bob_token,
        &no_handoff,
        &desk.token,
    ] {
        assert!(!rows.contains(secret), "{secret:?} is stored in the clear");
    }
    let hashes = place.password_hashes().await;
    assert_eq!(hashes.len(), 2);
    assert!(
        hashes.iter().all(|h| h.starts_with("$argon2id$")),
        "{hashes:?}"
    );
    desk.stop().await;
}

#[tokio::test]
async fn scopes_revocation_and_audit_on_sqlite() {
    scopes_revocation_and_audit(sqlite()).await;
}

#[tokio::test]
async fn scopes_revocation_and_audit_on_postgres() {
    if let Some(place) = postgres("scopes_revocation_and_audit_on_postgres") {
        scopes_revocation_and_audit(place).await;
    }
}

/// A client whose connections come from `127.0.0.n`.
fn from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn login_is_throttled(place: Place) {
    let clock = FakeClock::new(carekit_testing::at("2026-03-02T09:00:00Z"));
    let desk = place
        .start(Limits {
            clock: Some(Arc::new(clock.clone()) as Arc<dyn Clock>),
            ..Limits::default()
        })
        .await;
    for login in ["carol", "dave", "gina"] {
        desk.make_agent(login, "agent", Some(BOB_PASSWORD)).await;
    }
    let (a, b, c) = (from(1), from(2), from(3));
    let base = &desk.base;

    // Guessing carol's password from one address: five tries, then 429,
    // even for the right password.
    for _ in 0..MAX_FAILURES {
        let (status, answer) = login(&a, base, "carol", "guess-guess-guess").await;
        assert_eq!(status, 401, "{answer}");
    }
    let refused = a
        .post(format!("{base}/api/login"))
        .json(&json!({"login": "carol", "password": BOB_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let retry: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=FAILURE_WINDOW_MINUTES * 60 + 1).contains(&retry),
        "{retry}"
    );
    // Per account: from a fresh address carol is still refused…
    let (status, _) = login(&b, base, "carol", BOB_PASSWORD).await;
    assert_eq!(status, 429);
    // …while another account logs in from there…
    let (status, _) = login(&b, base, "dave", BOB_PASSWORD).await;
    assert_eq!(status, 200);
    // …and per address: the guessing address is refused for dave too.
    let (status, _) = login(&a, base, "dave", BOB_PASSWORD).await;
    assert_eq!(status, 429);

    // An unknown account and a wrong password answer alike.
    let (s1, unknown) = login(&c, base, "nobody-at-all", "guess-guess-guess").await;
    let (s2, wrong) = login(&c, base, "dave", "guess-guess-guess").await;
    assert_eq!((s1, &unknown), (s2, &wrong));
    // Huge and odd bodies: refused without hashing anything.
    let (status, _) = login(&c, base, "dave", &"p".repeat(5_000)).await;
    assert_eq!(status, 401);
    let huge = c
        .post(format!("{base}/api/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 1_000_000])
        .send()
        .await;
    assert!(huge.is_err() || huge.unwrap().status() == 413);
    let binary = c
        .post(format!("{base}/api/login"))
        .header("content-type", "application/json")
        .body(b"{\"login\": \"dave\", \"password\": \"\xff\xfe\xfd\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(binary.status(), 400);

    // A success elsewhere does not reset an address's count: gina fails
    // four times from .4, logs in from .5, fails once more from .4, and .4
    // is refused.
    let (d, e) = (from(4), from(5));
    for _ in 0..MAX_FAILURES - 1 {
        assert_eq!(login(&d, base, "gina", "guess-guess-guess").await.0, 401);
    }
    assert_eq!(login(&e, base, "gina", BOB_PASSWORD).await.0, 200);
    assert_eq!(login(&d, base, "gina", "guess-guess-guess").await.0, 401);
    assert_eq!(login(&d, base, "gina", BOB_PASSWORD).await.0, 429);

    // Guessing the configured bootstrap token is throttled per address too.
    let guesser = from(6);
    let mut statuses = Vec::new();
    for n in 0..=MAX_FAILURES {
        let response = guesser
            .post(format!("{base}/api/bootstrap"))
            .bearer_auth(format!("guess-{n}"))
            .json(&json!({"login": "root", "password": "a long password", "name": "Root"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);

    // The desk's clock, not the wall's: once the window has passed, carol
    // and the guessing address may try again.
    clock.advance(chrono::Duration::minutes(FAILURE_WINDOW_MINUTES + 1));
    assert_eq!(login(&a, base, "carol", BOB_PASSWORD).await.0, 200);
    desk.stop().await;
}

const MAX_FAILURES: usize = carekit_desk::MAX_FAILURES;
const FAILURE_WINDOW_MINUTES: i64 = carekit_desk::FAILURE_WINDOW_MINUTES;

#[tokio::test]
async fn login_is_throttled_on_sqlite() {
    login_is_throttled(sqlite()).await;
}

#[tokio::test]
async fn login_is_throttled_on_postgres() {
    if let Some(place) = postgres("login_is_throttled_on_postgres") {
        login_is_throttled(place).await;
    }
}

/// Everything logged, at every level, while the test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_or_debug_and_other_desks_tokens_are_refused() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let place = sqlite();
    let desk = place.start(Limits::default()).await;
    let bob = desk.make_agent("bob", "lead", Some(BOB_PASSWORD)).await;
    let (issued, _) = desk.make_token(&bob, None).await;
    let (status, logged_in) = login(&desk.http, &desk.base, "bob", BOB_PASSWORD).await;
    assert_eq!(status, 200);
    let session = logged_in["token"]["token"].as_str().unwrap().to_owned();
    assert_eq!(logged_in["agent"]["role"], "lead");
    let (status, me) = desk.api_as(&session, "/api/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["agent"]["id"], bob.as_str());
    let (status, _) = login(&desk.http, &desk.base, "bob", "wrong wrong wrong").await;
    assert_eq!(status, 401);
    let (status, _) = desk.api_as(&issued, "/api/conversations").await;
    assert_eq!(status, 200);

    // Another desk's tokens mean nothing here, and the other way round.
    let other = sqlite().start(Limits::default()).await;
    let (status, _) = desk.api_as(&other.token, "/api/conversations").await;
    assert_eq!(status, 401);
    let (status, _) = other.api_as(&issued, "/api/conversations").await;
    assert_eq!(status, 401);
    other.stop().await;

    // Debug of what the store keeps shows neither hashes nor digests.
    let store = place.store().await;
    let agents = store.agents().await.unwrap();
    let tokens = store.tokens(None).await.unwrap();
    let debug = format!("{agents:?} {tokens:?}");
    for t in &tokens {
        assert!(!debug.contains(&t.digest));
    }
    for a in &agents {
        if let Some(p) = &a.password {
            assert!(!debug.contains(p.expose()));
        }
    }
    let admin = desk.token.clone();
    desk.stop().await;
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("logged in"), "the log was captured");
    for secret in [
        BOB_PASSWORD,
        ADMIN_PASSWORD,
        API_TOKEN,
        &issued,
        &session,
        &admin,
    ] {
        assert!(!logs.contains(secret), "{secret:?} was logged");
        assert!(!debug.contains(secret), "{secret:?} in Debug");
    }
    for t in &tokens {
        assert!(!logs.contains(&t.digest), "a digest was logged");
    }
}

/// Status changes (pending, snooze, reopen) and assignment through the API:
/// each checked against the token's scopes and audited under the
/// authenticated agent.
async fn status_and_assignment(place: Place) {
    let desk = place.start(Limits::default()).await;
    let id = one_conversation(&desk).await;
    let bob = desk.make_agent("bob", "agent", Some(BOB_PASSWORD)).await;
    let carol = desk.make_agent("carol", "agent", None).await;
    let (bob_token, _) = desk.make_token(&bob, None).await;
    let (read_only, _) = desk.make_token(&bob, Some(&["read"])).await;
    let path = |what: &str| format!("/api/conversations/{id}/{what}");
    let detail = || async { desk.api(&format!("/api/conversations/{id}")).await.1 };

    // Pending, by bob: stored and audited under bob's id.
    let (status, answer) = desk
        .api_post_as(&bob_token, &path("status"), json!({ "status": "pending" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let shown = detail().await;
    assert_eq!(shown["conversation"]["status"], "pending", "{shown:#}");
    assert!(
        shown["audit"].to_string().contains(&bob),
        "{}",
        shown["audit"]
    );

    // Snoozing into the past is refused; into the future it holds.
    let (status, _) = desk
        .api_post_as(
            &bob_token,
            &path("status"),
            json!({ "status": "snoozed", "until": "2001-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 422);
    let until = (chrono::Utc::now() + chrono::Duration::hours(4)).to_rfc3339();
    let (status, answer) = desk
        .api_post_as(
            &bob_token,
            &path("status"),
            json!({ "status": "snoozed", "until": until }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(detail().await["conversation"]["status"], "snoozed");
    // The far future is a time like any other; past chrono's range is refused.
    let (status, answer) = desk
        .api_post_as(
            &bob_token,
            &path("status"),
            json!({ "status": "snoozed", "until": "9999-12-31T23:59:59Z" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(detail().await["conversation"]["status"], "snoozed");
    let (status, _) = desk
        .api_post_as(
            &bob_token,
            &path("status"),
            json!({ "status": "snoozed", "until": "+999999-01-01T00:00:00Z" }),
        )
        .await;
    assert!((400..500).contains(&status), "{status}");
    // An unknown status is refused and changes nothing; so does a read-only token.
    let (status, _) = desk
        .api_post_as(&bob_token, &path("status"), json!({ "status": "sleeping" }))
        .await;
    assert!((400..500).contains(&status), "{status}");
    let (status, answer) = desk
        .api_post_as(&read_only, &path("status"), json!({ "status": "open" }))
        .await;
    assert_eq!(status, 403);
    assert_eq!(answer["missing_scope"], "reply");
    assert_eq!(detail().await["conversation"]["status"], "snoozed");
    // Reopened.
    let (status, _) = desk
        .api_post_as(&bob_token, &path("status"), json!({ "status": "open" }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail().await["conversation"]["status"], "open");

    // Bob takes it himself with his reply scope...
    let (status, answer) = desk
        .api_post_as(&bob_token, &path("assign"), json!({ "agent": bob }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(detail().await["conversation"]["assignee"], bob.as_str());
    // ...but giving it to carol, or to a team, needs manage.
    for body in [
        json!({ "agent": carol }),
        json!({ "agent": bob, "team": "billing" }),
    ] {
        let (status, answer) = desk.api_post_as(&bob_token, &path("assign"), body).await;
        assert_eq!(status, 403, "{answer}");
        assert_eq!(answer["missing_scope"], "manage");
    }
    assert_eq!(detail().await["conversation"]["assignee"], bob.as_str());
    // The admin (every scope) can; names with control characters are refused.
    let (status, _) = desk
        .api_post(&path("assign"), json!({ "agent": "carol\u{0}x" }))
        .await;
    assert_eq!(status, 422);
    let (status, answer) = desk
        .api_post(
            &path("assign"),
            json!({ "agent": carol, "team": "billing" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let shown = detail().await;
    assert_eq!(shown["conversation"]["assignee"], carol.as_str());
    assert_eq!(shown["conversation"]["team"], "billing");

    // Tags: added and removed by bob (reply scope), audited under him.
    let (status, answer) = desk
        .api_post_as(&bob_token, &path("tags"), json!({ "tag": "refund" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let shown = detail().await;
    assert_eq!(shown["conversation"]["tags"], json!(["refund"]));
    let tagged = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.to_string().contains("\"refund\""))
        .unwrap()
        .to_string();
    assert!(tagged.contains(&bob), "{tagged}");
    let (status, _) = desk
        .api_post_as(
            &bob_token,
            &path("tags"),
            json!({ "tag": "refund", "remove": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail().await["conversation"]["tags"], json!([]));
    for bad in ["", "   ", "a\nb"] {
        let (status, _) = desk
            .api_post_as(&bob_token, &path("tags"), json!({ "tag": bad }))
            .await;
        assert_eq!(status, 422, "{bad:?}");
    }

    // Priority changes the SLA targets: manage, and a reason.
    let (status, answer) = desk
        .api_post_as(
            &bob_token,
            &path("priority"),
            json!({ "priority": "urgent", "reason": "press" }),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(answer["missing_scope"], "manage");
    let (status, _) = desk
        .api_post(
            &path("priority"),
            json!({ "priority": "urgent", "reason": " " }),
        )
        .await;
    assert_eq!(status, 422);
    let (status, answer) = desk
        .api_post(
            &path("priority"),
            json!({ "priority": "urgent", "reason": "a journalist asked" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let shown = detail().await;
    assert_eq!(shown["conversation"]["priority"], "urgent");
    assert!(shown["audit"].to_string().contains("a journalist asked"));

    // A private note: in the trail under bob, sent nowhere.
    const NOTE: &str = "Sounds upset; order 5521 was split in two";
    let (status, answer) = desk
        .api_post_as(&bob_token, &path("notes"), json!({ "text": NOTE }))
        .await;
    assert_eq!(status, 201, "{answer}");
    let (status, _) = desk
        .api_post_as(&bob_token, &path("notes"), json!({ "text": "  " }))
        .await;
    assert_eq!(status, 422);
    let (status, _) = desk
        .api_post_as(&read_only, &path("notes"), json!({ "text": NOTE }))
        .await;
    assert_eq!(status, 403);
    // Oversized notes and tags, and bodies that are not JSON text, are refused.
    let (status, _) = desk
        .api_post_as(
            &bob_token,
            &path("notes"),
            json!({ "text": "n".repeat(10_001) }),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = desk
        .api_post_as(&bob_token, &path("tags"), json!({ "tag": "t".repeat(129) }))
        .await;
    assert_eq!(status, 422);
    let raw = desk
        .http
        .post(desk.url(&path("notes")))
        .bearer_auth(&bob_token)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!((400..500).contains(&raw), "{raw}");
    let note = detail().await["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains(NOTE))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(note.len(), 1, "{note:?}");
    assert!(note[0].to_string().contains(&bob), "{}", note[0]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for request in desk.platforms.x.received() {
        assert!(
            !String::from_utf8_lossy(&request.body).contains("order 5521"),
            "a note is never sent"
        );
    }
    desk.stop().await;
}

#[tokio::test]
async fn status_and_assignment_on_sqlite() {
    status_and_assignment(sqlite()).await;
}

#[tokio::test]
async fn status_and_assignment_on_postgres() {
    if let Some(place) = postgres("status_and_assignment_on_postgres") {
        status_and_assignment(place).await;
    }
}
