//! The console in a real browser: Debian's headless Chromium, driven over
//! WebDriver (`chromedriver`) from this test. Two agents sign in; a tweet
//! arrives without a reload; Alice opens the case (Bob, on the same case,
//! sees her viewing), is refused a reply over 280 weighted characters by
//! the counter, sends a shorter one, hands off to SMS, sees the customer's
//! SMS answer arrive in the same timeline, adds a private note (no platform
//! receives it) and resolves. Then the security checks: a request without
//! the CSRF token is refused, an agent cannot open admin pages, and a
//! hostile tweet renders as text with no script run. A screenshot of each
//! step is saved under the target directory.
//!
//! Without Chromium and chromedriver the test says loudly that it skipped
//! (and fails when `CI=true`).

#[path = "../../carekit-desk/tests/support/desk.rs"]
mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::*;

/// Debian's paths; `CAREKIT_CHROMIUM` and `CAREKIT_CHROMEDRIVER` override
/// them.
fn chromium() -> String {
    std::env::var("CAREKIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("CAREKIT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}
const PASSWORD: &str = "a long enough passphrase";
const CUSTOMER_PHONE: &str = "+14155552671";

/// `chromedriver` on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A fresh headless Chromium with its own profile.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1200,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Where the screenshots go.
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Waits until `script` (a JS expression) is true in the page.
async fn until(client: &Client, script: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let value = client
            .execute(&format!("return !!({script});"), vec![])
            .await
            .unwrap_or(Value::Bool(false));
        if value == Value::Bool(true) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let url = client.current_url().await.map(|u| u.to_string());
            let text = client
                .execute(
                    "return document.body ? document.body.innerText : '';",
                    vec![],
                )
                .await;
            let _ = std::fs::write(
                shots().join("failed.png"),
                client.screenshot().await.unwrap_or_default(),
            );
            panic!("timed out waiting for {what} ({script}) at {url:?}: {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// axe-core (the npm package, which `.ci/run` installs under
/// `target/axe`), injected by the test: the console's CSP would refuse it
/// as a page script, but WebDriver's scripts are not page scripts.
/// `CAREKIT_AXE_JS` names another copy. `None`, after saying so loudly,
/// where it is not installed (and a failure under `CI=true`).
fn axe_core() -> Option<String> {
    let path = std::env::var("CAREKIT_AXE_JS").map_or_else(
        |_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/axe/node_modules/axe-core/axe.min.js")
        },
        std::path::PathBuf::from,
    );
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("axe-core must be installed in CI ({}: {e})", path.display())
        }
        Err(_) => {
            eprintln!(
                "\n!!! SKIPPED the accessibility checks: axe-core not found at {} \
                 (npm install --prefix target/axe axe-core, or set CAREKIT_AXE_JS) !!!\n",
                path.display()
            );
            None
        }
    }
}

/// Runs axe-core's WCAG 2 A and AA rules on the page: the violations, or
/// `None` where axe-core is not installed.
async fn accessibility_violations(client: &Client) -> Option<Vec<String>> {
    let axe = axe_core()?;
    let loaded = client
        .execute(&format!("{axe}\nreturn typeof window.axe;"), vec![])
        .await
        .unwrap();
    assert_eq!(loaded, json!("object"), "axe-core loaded");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             window.axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}) \
               .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' + \
                 v.nodes.map(n => n.target.join(' ')).join(', ') + ')'))) \
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    Some(serde_json::from_value(found).unwrap())
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

async fn sign_in(client: &Client, desk: &TestDesk, login: &str) {
    client.goto(&desk.url("/login")).await.unwrap();
    client
        .find(Locator::Css("#login"))
        .await
        .unwrap()
        .send_keys(login)
        .await
        .unwrap();
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        client,
        "document.body.getAttribute('data-agent')",
        "signed in",
    )
    .await;
}

/// Opens `path` and waits until its live stream is connected.
async fn open_live(client: &Client, desk: &TestDesk, path: &str) {
    client.goto(&desk.url(path)).await.unwrap();
    until(
        client,
        "document.body.getAttribute('data-live-ready') === 'true'",
        "the live stream",
    )
    .await;
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn post_sms(desk: &TestDesk, sid: &str, from: &str, body: &str) {
    let url = desk.url("/webhooks/twilio/sms");
    let params = sms_params(sid, from, body);
    let signature = twilio_signature(TWILIO_TOKEN, &url, &params);
    let status = desk
        .post(
            "/webhooks/twilio/sms",
            &[
                ("x-twilio-signature", signature),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            serde_urlencoded::to_string(&params).unwrap().into_bytes(),
        )
        .await;
    assert_eq!(status, 200);
}

fn browser_installed() -> bool {
    if Path::new(&chromium()).exists() && Path::new(&chromedriver()).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium and chromium-driver must be installed in CI");
    }
    eprintln!(
        "\n!!! SKIPPED: chromium not installed (apt-get install chromium chromium-driver) !!!\n"
    );
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_a_case_in_a_real_browser() {
    if !browser_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start_with(
        &url,
        None,
        Limits {
            console_insecure_cookies: true,
            ..Limits::default()
        },
    )
    .await;
    desk.make_agent("alice", "agent", Some(PASSWORD)).await;
    desk.make_agent("bob", "agent", Some(PASSWORD)).await;
    let driver = start_driver().await;
    let alice = browser(&driver, &dir.path().join("alice-profile")).await;
    let bob = browser(&driver, &dir.path().join("bob-profile")).await;

    // 1. Alice signs in and watches all open conversations.
    sign_in(&alice, &desk, "alice").await;
    open_live(&alice, &desk, "/views/open").await;
    js(&alice, "window.__sameDocument = true; return null;").await;
    shot(&alice, "01-signed-in").await;

    // 2. A tweet arrives; the list shows it without a reload.
    let status = desk
        .post_tweet(tweet(
            "1900000000000000101",
            "5001",
            "dana",
            "@acme my parcel is a week late",
        ))
        .await;
    assert_eq!(status, 200);
    until(
        &alice,
        "document.querySelector('#list') && document.querySelector('#list').textContent.includes('a week late')",
        "the new tweet in the list",
    )
    .await;
    assert_eq!(
        js(&alice, "return window.__sameDocument === true;").await,
        json!(true),
        "no reload"
    );
    shot(&alice, "02-tweet-arrived-live").await;
    if let Some(on_list) = accessibility_violations(&alice).await {
        assert!(on_list.is_empty(), "list page: {on_list:#?}");
        // The checker itself finds a violation when there is one.
        js(
            &alice,
            "const b = document.createElement('button'); b.id = 'axe-probe'; \
             document.body.appendChild(b); return null;",
        )
        .await;
        let probe = accessibility_violations(&alice).await.unwrap_or_default();
        assert!(
            probe.iter().any(|v| v.starts_with("button-name")),
            "axe-core finds an unnamed button: {probe:?}"
        );
        js(
            &alice,
            "document.getElementById('axe-probe').remove(); return null;",
        )
        .await;
    }
    let case = js(&alice, "return document.querySelector('#list tr[data-conversation]').getAttribute('data-conversation');")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let case_path = format!("/cases/{case}");

    // 3. Bob has the case open; Alice opens it; Bob sees her viewing.
    sign_in(&bob, &desk, "bob").await;
    open_live(&bob, &desk, &case_path).await;
    click(&alice, "#list tr[data-conversation] a").await;
    until(&alice, "document.getElementById('case')", "the case page").await;
    until(
        &alice,
        "document.body.getAttribute('data-live-ready') === 'true'",
        "the case's live stream",
    )
    .await;
    until(
        &bob,
        "document.getElementById('viewers').textContent.includes('ALICE is viewing')",
        "Alice shown as viewing to Bob",
    )
    .await;
    // …and Alice, who came second, sees Bob, who was already there.
    until(
        &alice,
        "document.getElementById('viewers').textContent.includes('BOB is viewing')",
        "Bob shown as viewing to Alice",
    )
    .await;
    shot(&bob, "03-bob-sees-alice-viewing").await;
    shot(&alice, "04-case-open").await;
    // The list and the case pass axe-core's WCAG 2 A and AA rules.
    if let Some(on_case) = accessibility_violations(&alice).await {
        assert!(on_case.is_empty(), "case page: {on_case:#?}");
    }
    if let Some(on_case) = accessibility_violations(&bob).await {
        assert!(on_case.is_empty(), "case page (Bob): {on_case:#?}");
    }

    // 4. A reply over 280 weighted characters: the counter refuses it.
    let long = "a".repeat(300);
    type_into(&alice, "#reply-text", &long).await;
    until(
        &alice,
        "document.getElementById('reply-counter').getAttribute('data-over') === 'true'",
        "the counter to refuse",
    )
    .await;
    assert_eq!(
        js(
            &alice,
            "return document.getElementById('reply-send').disabled;"
        )
        .await,
        json!(true)
    );
    assert_eq!(
        js(
            &alice,
            "return document.getElementById('reply-counter').textContent;"
        )
        .await,
        json!("300 / 280")
    );
    // The script counts as X does: a URL weighs 23, CJK 2.
    assert_eq!(
        js(&alice, "return window.carekitWeightedLength('see https://example.com/' + 'x'.repeat(200) + ' 日本');").await,
        json!(4 + 23 + 1 + 4)
    );
    shot(&alice, "05-reply-too-long").await;

    // 5. A shorter reply goes out.
    type_into(&alice, "#reply-text", "@dana so sorry, we are on it").await;
    until(
        &alice,
        "!document.getElementById('reply-send').disabled",
        "send enabled",
    )
    .await;
    click(&alice, "#reply-send").await;
    until(
        &alice,
        "document.getElementById('timeline') && document.getElementById('timeline').textContent.includes('we are on it')",
        "the reply in the timeline",
    )
    .await;
    shot(&alice, "06-replied").await;

    // 6. Hand off to SMS.
    alice
        .find(Locator::Css("#handoff-to"))
        .await
        .unwrap()
        .select_by_value("sms")
        .await
        .unwrap();
    type_into(&alice, "#handoff-recipient", CUSTOMER_PHONE).await;
    type_into(&alice, "#handoff-public", "@dana we have texted you").await;
    type_into(
        &alice,
        "#handoff-private",
        "Hi Dana, this is Acme. Your order number?",
    )
    .await;
    click(&alice, "#handoff-send").await;
    until(
        &alice,
        "document.getElementById('timeline') && document.getElementById('timeline').textContent.includes('Your order number?')",
        "the SMS in the timeline",
    )
    .await;
    shot(&alice, "07-handed-off").await;

    // 7. The customer answers by SMS: it arrives in the same timeline, live.
    open_live(&alice, &desk, &case_path).await;
    js(&alice, "window.__sameDocument = true; return null;").await;
    post_sms(
        &desk,
        "SM00000000000000000000000000000101",
        CUSTOMER_PHONE,
        "It is A-1234",
    )
    .await;
    until(
        &alice,
        "document.getElementById('timeline').textContent.includes('It is A-1234')",
        "the customer's SMS in the timeline",
    )
    .await;
    assert_eq!(
        js(&alice, "return window.__sameDocument === true;").await,
        json!(true),
        "no reload"
    );
    assert_eq!(
        js(&alice, "return document.querySelectorAll('#timeline .badge.private').length > 0 && document.querySelectorAll('#timeline .badge.public').length > 0;").await,
        json!(true),
        "public and private badges"
    );
    shot(&alice, "08-sms-answer-live").await;

    // 8. A private note: shown, and sent to no platform.
    let before = desk.platforms.x.ledger().received().len();
    type_into(&alice, "#note-text", "Refund approved by finance").await;
    click(&alice, "#note-add").await;
    until(
        &alice,
        "document.getElementById('timeline') && document.getElementById('timeline').textContent.includes('Refund approved by finance')",
        "the note in the timeline",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = desk.platforms.x.ledger().received();
    assert!(
        !received
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("Refund approved")),
        "a note reached a platform"
    );
    let _ = before;
    shot(&alice, "09-private-note").await;

    // 9. Resolve.
    click(&alice, "#resolve-send").await;
    until(
        &alice,
        "document.getElementById('case-status') && document.getElementById('case-status').textContent === 'resolved'",
        "resolved",
    )
    .await;
    shot(&alice, "10-resolved").await;

    // On a phone-sized window the case fits the width (one column).
    alice.set_window_size(390, 844).await.unwrap();
    alice.refresh().await.unwrap();
    until(
        &alice,
        "document.getElementById('case')",
        "the case on a phone",
    )
    .await;
    assert_eq!(
        js(
            &alice,
            "return document.documentElement.scrollWidth <= window.innerWidth;"
        )
        .await,
        json!(true),
        "no sideways scrolling on a phone"
    );
    shot(&alice, "10b-case-on-a-phone").await;
    alice.set_window_size(1200, 1000).await.unwrap();

    // --- security -----------------------------------------------------
    // A state-changing request without the CSRF token is refused.
    let status = alice
        .execute_async(
            &format!(
                "const done = arguments[0]; fetch('/cases/{case}/note', {{method: 'POST', \
                 headers: {{'content-type': 'application/x-www-form-urlencoded'}}, \
                 body: 'text=forged'}}).then(r => done(r.status));"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    let status = alice
        .execute_async(
            &format!(
                "const done = arguments[0]; fetch('/cases/{case}/resolve', {{method: 'POST', \
                 headers: {{'content-type': 'application/x-www-form-urlencoded'}}, \
                 body: 'csrf={}'}}).then(r => done(r.status));",
                "0".repeat(64)
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));

    // An agent cannot open admin pages.
    alice.goto(&desk.url("/admin")).await.unwrap();
    let text = js(&alice, "return document.body.textContent;").await;
    assert!(text.as_str().unwrap().contains("Forbidden"), "{text}");
    assert!(!text.as_str().unwrap().contains("bob"), "no agent list");
    shot(&alice, "11-admin-refused").await;

    // A hostile tweet renders as text; no script runs.
    let hostile =
        "@acme <script>window.__xss = 1</script> \"><img src=x onerror=\"window.__xss = 2\">";
    assert_eq!(
        desk.post_tweet(tweet("1900000000000000102", "5002", "mallory", hostile))
            .await,
        200
    );
    open_live(&alice, &desk, "/views/open").await;
    until(
        &alice,
        "document.querySelector('#list').textContent.includes('window.__xss = 1')",
        "the hostile tweet listed",
    )
    .await;
    js(
        &alice,
        "Array.from(document.querySelectorAll('#list tr[data-conversation]')) \
         .find(tr => tr.textContent.includes('__xss')).querySelector('a').click(); return null;",
    )
    .await;
    until(
        &alice,
        "document.getElementById('timeline') && document.getElementById('timeline').textContent.includes('<script>window.__xss = 1</script>')",
        "the hostile text shown as text",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        js(&alice, "return typeof window.__xss;").await,
        json!("undefined")
    );
    assert_eq!(
        js(
            &alice,
            "return document.querySelectorAll('#timeline img, #timeline script').length;"
        )
        .await,
        json!(0)
    );
    shot(&alice, "12-hostile-tweet-as-text").await;

    alice.close().await.unwrap();
    bob.close().await.unwrap();
    drop(driver);
    desk.stop().await;
    eprintln!("screenshots in {}", shots().display());
}
