//! The console mounted in the desk, over HTTP without a browser: sign-in,
//! the session cookie, CSRF, the Content-Security-Policy, escaping of
//! hostile message text, admin pages, the views and the actions.

#[path = "../../carekit-desk/tests/support/desk.rs"]
mod support;

use std::time::Duration;
use support::*;

/// A browser's part, by hand: no redirects followed, the cookie kept.
struct Agent {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

const AGENT_PASSWORD: &str = "agent's long passphrase";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn sign_in(desk: &TestDesk, login: &str, password: &str) -> reqwest::Response {
    client()
        .post(desk.url("/login"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .unwrap()
}

impl Agent {
    async fn new(desk: &TestDesk, login: &str, password: &str) -> Agent {
        let response = sign_in(desk, login, password).await;
        assert_eq!(response.status(), 303, "sign-in of {login}");
        let set = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        Agent {
            http: client(),
            base: desk.base.clone(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The CSRF token a page carries.
    async fn csrf(&self) -> String {
        let (_, page) = self.get("/views/open").await;
        let at = page.find("name=\"csrf-token\" content=\"").unwrap() + 27;
        page[at..at + 64].to_owned()
    }
}

async fn desk() -> (TestDesk, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    (TestDesk::start(&url, None).await, dir)
}

/// Posts a tweet and waits for its conversation: its id.
async fn tweet_in(desk: &TestDesk, id: &str, user: &str, text: &str) -> String {
    let before = desk.conversations(0).await.len();
    assert_eq!(desk.post_tweet(tweet(id, user, "dana", text)).await, 200);
    let list = desk.conversations(before + 1).await;
    list.iter()
        .find(|c| c["customer"]["handles"][0] == format!("twitter:{user}"))
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .expect("the tweet's conversation")
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_refuses_wrong_passwords() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;

    let page = client().get(desk.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    let wrong = sign_in(&desk, "alice", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let unknown = sign_in(&desk, "nobody", "not the password").await;
    assert_eq!(unknown.status(), 401);

    let ok = sign_in(&desk, "alice", AGENT_PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-carekit_console=ckd_"),
        "{cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }

    // Without a session every page sends the browser to sign in.
    let r = client().get(desk.url("/views/open")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");

    // A sign-in posted from another site is refused.
    let r = client()
        .post(desk.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("login", "alice"), ("password", AGENT_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Signing out ends the session: its credential is revoked.
    let alice = Agent::new(&desk, "alice", AGENT_PASSWORD).await;
    let csrf = alice.csrf().await;
    assert_eq!(alice.post("/logout", &[("csrf", &csrf)]).await.0, 303);
    let (status, _) = alice.get("/views/open").await;
    assert_eq!(status, 303, "the session is over");
    desk.stop().await;
}

#[tokio::test]
async fn state_changes_need_the_sessions_csrf_token() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    desk.make_agent("bob", "agent", Some(AGENT_PASSWORD)).await;
    let case = tweet_in(
        &desk,
        "1900000000000000001",
        "4001",
        "@acme my order is late",
    )
    .await;
    let alice = Agent::new(&desk, "alice", AGENT_PASSWORD).await;
    let bob = Agent::new(&desk, "bob", AGENT_PASSWORD).await;
    let path = format!("/cases/{case}/note");

    let (status, _) = alice.post(&path, &[("text", "no token")]).await;
    assert_eq!(status, 403);
    let (status, _) = alice
        .post(&path, &[("text", "wrong token"), ("csrf", &"0".repeat(64))])
        .await;
    assert_eq!(status, 403);
    // Bob's token is not Alice's.
    let bobs = bob.csrf().await;
    let (status, _) = alice
        .post(&path, &[("text", "bob's token"), ("csrf", &bobs)])
        .await;
    assert_eq!(status, 403);
    let (_, page) = alice.get(&format!("/cases/{case}")).await;
    assert!(!page.contains("no token") && !page.contains("bob's token"));

    let csrf = alice.csrf().await;
    let (status, _) = alice
        .post(&path, &[("text", "checked the carrier"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (_, page) = alice.get(&format!("/cases/{case}")).await;
    assert!(page.contains("checked the carrier"));
    assert!(page.contains("private note"));
    desk.stop().await;
}

#[tokio::test]
async fn hostile_message_text_is_escaped_and_no_inline_script_is_served() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    let hostile = "@acme <script>alert(1)</script> \"><img src=x onerror=alert(2)>";
    let case = tweet_in(&desk, "1900000000000000002", "4002", hostile).await;
    let alice = Agent::new(&desk, "alice", AGENT_PASSWORD).await;
    for path in [format!("/cases/{case}"), "/views/open".to_owned()] {
        let (status, page) = alice.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(!page.contains("<img src=x"), "{path}");
        // The only script is the console's own file.
        assert_eq!(page.matches("<script").count(), 1, "{path}");
        assert!(page.contains("<script src=\"/assets/console.js\" defer></script>"));
    }
    desk.stop().await;
}

#[tokio::test]
async fn an_agent_cannot_open_admin_pages() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    desk.make_agent("lena", "lead", Some(AGENT_PASSWORD)).await;
    desk.make_agent("root2", "admin", Some(AGENT_PASSWORD))
        .await;
    for login in ["alice", "lena"] {
        let who = Agent::new(&desk, login, AGENT_PASSWORD).await;
        let (status, page) = who.get("/admin").await;
        assert_eq!(status, 403, "{login}");
        assert!(!page.contains("root2"));
    }
    let admin = Agent::new(&desk, "root2", AGENT_PASSWORD).await;
    let (status, page) = admin.get("/admin").await;
    assert_eq!(status, 200);
    assert!(page.contains("alice") && page.contains("lena"));
    desk.stop().await;
}

#[tokio::test]
async fn views_list_the_right_conversations_and_actions_go_through_the_desk() {
    let (desk, _dir) = desk().await;
    let alice_id = desk
        .make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    let first = tweet_in(&desk, "1900000000000000003", "4003", "@acme first problem").await;
    let second = tweet_in(&desk, "1900000000000000004", "4004", "@acme second problem").await;
    let alice = Agent::new(&desk, "alice", AGENT_PASSWORD).await;

    let (_, open) = alice.get("/views/open").await;
    assert!(open.contains(&first) && open.contains(&second));
    assert!(open.contains("data-count=\"open\">2<"), "counts per view");
    let (_, mine) = alice.get("/views/mine").await;
    assert!(!mine.contains(&first));

    let csrf = alice.csrf().await;
    let (status, _) = alice
        .post(&format!("/cases/{first}/assign"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (_, mine) = alice.get("/views/mine").await;
    assert!(mine.contains(&first) && !mine.contains(&second));
    assert!(mine.contains("data-count=\"mine\">1<"));
    let (_, unassigned) = alice.get("/views/unassigned").await;
    assert!(!unassigned.contains(&first) && unassigned.contains(&second));
    // Search and filters.
    let (_, found) = alice.get("/views/open?q=second").await;
    assert!(found.contains(&second) && !found.contains(&first));
    let (_, none) = alice.get("/views/open?channel=sms").await;
    assert!(!none.contains(&first) && !none.contains(&second));
    // The audit trail names Alice.
    let (_, detail) = desk.api(&format!("/api/conversations/{first}")).await;
    assert!(detail["audit"].to_string().contains(&alice_id));

    // A public tweet over 280 weighted characters is refused by the server.
    let long = "x".repeat(281);
    let (status, page) = alice
        .post(
            &format!("/cases/{first}/reply"),
            &[("csrf", &csrf), ("text", &long)],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    let sent = desk.platforms.x.ledger().received().len();
    // A note is never sent to a platform.
    let (status, _) = alice
        .post(
            &format!("/cases/{first}/note"),
            &[("csrf", &csrf), ("text", "internal: refund approved")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _) = alice
        .post(
            &format!("/cases/{first}/reply"),
            &[("csrf", &csrf), ("text", "@dana sorry, looking now")],
        )
        .await;
    assert_eq!(status, 303);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while desk.platforms.x.ledger().received().len() == sent {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reply was not sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bodies: Vec<String> = desk
        .platforms
        .x
        .ledger()
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(bodies.iter().any(|b| b.contains("looking now")));
    assert!(!bodies.iter().any(|b| b.contains("refund approved")));

    let (status, _) = alice
        .post(&format!("/cases/{first}/resolve"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (_, page) = alice.get(&format!("/cases/{first}")).await;
    assert!(page.contains("id=\"case-status\">resolved<"), "resolved");
    desk.stop().await;
}

#[tokio::test]
async fn console_sign_in_is_throttled_with_the_apis_login() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    for _ in 0..MAX_FAILURES_SEEN {
        assert_eq!(sign_in(&desk, "alice", "guess").await.status(), 401);
    }
    // The next try, even with the right password, waits.
    let r = sign_in(&desk, "alice", AGENT_PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("set-cookie").is_none());
    // The API counts the same failures.
    let (status, _) = desk
        .api_post(
            "/api/login",
            serde_json::json!({ "login": "alice", "password": AGENT_PASSWORD }),
        )
        .await;
    assert_eq!(status, 429);
    desk.stop().await;
}

/// `carekit_desk::MAX_FAILURES`.
const MAX_FAILURES_SEEN: usize = carekit_desk::MAX_FAILURES;

#[tokio::test]
async fn presence_takes_the_token_in_a_header_and_every_answer_has_the_csp() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    let case = tweet_in(&desk, "1900000000000000005", "4005", "@acme hello").await;
    let alice = Agent::new(&desk, "alice", AGENT_PASSWORD).await;
    let csrf = alice.csrf().await;
    let url = format!("{}/cases/{case}/presence", desk.base);
    let without = alice
        .http
        .post(&url)
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 403);
    let with = alice
        .http
        .post(&url)
        .header("cookie", &alice.cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 202);
    for path in [
        "/login".to_owned(),
        "/views/due".to_owned(),
        format!("/cases/{case}"),
        "/admin".to_owned(),
        "/assets/console.js".to_owned(),
    ] {
        let r = alice
            .http
            .get(format!("{}{path}", desk.base))
            .header("cookie", &alice.cookie)
            .send()
            .await
            .unwrap();
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, carekit_console::CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    // The SLA view shows the deadline with the desk's time beside it.
    // (The first tweet is dated months ago: breached, no deadline left.)
    let before = desk.conversations(0).await.len();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let fresh = tweet_at("1900000000000000006", "4006", "erin", "@acme now", now_ms);
    assert_eq!(desk.post_tweet(fresh).await, 200);
    desk.conversations(before + 1).await;
    let (_, due) = alice.get("/views/due").await;
    assert!(
        due.contains("data-deadline=") && due.contains("due in"),
        "{due}"
    );
    assert!(due.contains("data-count=\"due\">1<"));
    assert!(due.contains("name=\"desk-now\""));
    desk.stop().await;
}

#[tokio::test]
async fn pending_and_snoozed_cases_leave_the_open_queue_for_the_waiting_one() {
    let (desk, _dir) = desk().await;
    desk.make_agent("alice", "agent", Some(AGENT_PASSWORD))
        .await;
    let case = tweet_in(&desk, "1900000000000000007", "4007", "@acme any news?").await;
    let alice = Agent::new(&desk, "alice", AGENT_PASSWORD).await;
    let csrf = alice.csrf().await;
    let path = format!("/cases/{case}/status");

    let (status, _) = alice
        .post(
            &path,
            &[("csrf", &csrf), ("status", "snooze"), ("hours", "5")],
        )
        .await;
    assert_eq!(status, 422, "only the offered snoozes");
    let (status, _) = alice
        .post(&path, &[("csrf", &csrf), ("status", "closed")])
        .await;
    assert_eq!(status, 422);

    for (form, shown) in [
        (vec![("status", "pending")], "pending"),
        (vec![("status", "snooze"), ("hours", "4")], "snoozed until"),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let (status, _) = alice.post(&path, &fields).await;
        assert_eq!(status, 303);
        let (_, open) = alice.get("/views/open").await;
        assert!(!open.contains(&case), "{shown}");
        let (_, waiting) = alice.get("/views/waiting").await;
        assert!(
            waiting.contains(&case) && waiting.contains(shown),
            "{shown}"
        );
    }
    let (status, _) = alice
        .post(&path, &[("csrf", &csrf), ("status", "open")])
        .await;
    assert_eq!(status, 303);
    let (_, open) = alice.get("/views/open").await;
    assert!(open.contains(&case));
    desk.stop().await;
}
