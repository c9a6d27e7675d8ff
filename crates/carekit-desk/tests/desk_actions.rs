//! The library's remaining actions through the API, on SQLite and (when
//! `CAREKIT_TEST_POSTGRES_URL` is set) Postgres: canned responses with
//! variables, hiding (off unless enabled), manual retry under the outbox's
//! trust rules, incident outreach, and the conversation list's filters,
//! cursor pages and search. Each route is tried without its scope, with a
//! revoked token, and with a body that names someone else.

mod support;

use carekit_core::{Clock, Commit, DeliveryState, MessageId, Store};
use carekit_store_sql::SqlStore;
use carekit_testing::fake_platform::{FaultKind, Platform};
use serde_json::{Value, json};
use std::time::Duration;
use support::*;

/// Where a test desk keeps its data: a SQLite file, and Postgres in a
/// schema of its own when the variable is set.
async fn places(test: &str) -> Vec<(String, Option<String>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(
        format!("sqlite://{}", dir.path().join("desk.db").display()),
        None,
        Some(dir),
    )];
    if let Some(url) = postgres_url(test) {
        let schema = format!(
            "carekit_actions_{}",
            carekit_core::ConversationId::new().0.simple()
        );
        out.push((url, Some(schema), None));
    }
    out
}

async fn start(url: &str, schema: Option<&str>, desk_extra: &str) -> TestDesk {
    TestDesk::start_with(
        url,
        schema,
        Limits {
            desk_extra: desk_extra.to_owned(),
            ..Limits::default()
        },
    )
    .await
}

/// A new account with `role` and a token of it: its id and the token.
async fn person(
    desk: &TestDesk,
    login: &str,
    role: &str,
    scopes: Option<&[&str]>,
) -> (String, String) {
    let (status, answer) = desk
        .api_post(
            "/api/agents",
            json!({ "login": login, "name": login.to_uppercase(), "role": role }),
        )
        .await;
    let id = if status == 201 {
        answer["agent"]["id"].as_str().unwrap().to_owned()
    } else {
        // The same login on a second token.
        let (_, all) = desk.api("/api/agents").await;
        all["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login"] == login)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (token, _) = desk.make_token(&id, scopes).await;
    (id, token)
}

async fn send(
    desk: &TestDesk,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = desk.http.request(method, desk.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_answer(request, token).await
}

/// The conversation of the tweet from `user`.
async fn conversation_of(desk: &TestDesk, user: &str) -> String {
    let (status, list) = desk
        .api(&format!("/api/conversations?customer=twitter:{user}"))
        .await;
    assert_eq!(status, 200, "{list}");
    list["conversations"][0]["id"].as_str().unwrap().to_owned()
}

async fn detail(desk: &TestDesk, id: &str) -> Value {
    let (status, body) = desk.api(&format!("/api/conversations/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls until the conversation's outbound messages are all settled
/// (none queued or sending).
async fn outbound_settled(desk: &TestDesk, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = detail(desk, id).await;
        let waiting = body["messages"].as_array().unwrap().iter().any(|m| {
            m["direction"] == "outbound"
                && (m["delivery"] == "queued" || m["delivery"] == "sending")
        });
        if !waiting {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox did not settle: {body}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canned_responses_hide_retry_and_outreach_check_scopes_and_name_the_caller() {
    for (url, schema, _dir) in places("canned_responses_hide_retry_and_outreach").await {
        let desk = start(&url, schema.as_deref(), "").await;
        let (ana, ana_token) = person(&desk, "ana", "agent", None).await;
        let (_, ana_read) = person(&desk, "ana", "agent", Some(&["read"])).await;
        let (lee, lee_token) = person(&desk, "lee", "lead", None).await;
        assert_eq!(
            desk.post_tweet(tweet(
                "1800000000000000101",
                "3001",
                "dana_k",
                "@acme my order never came"
            ))
            .await,
            200
        );
        desk.conversations(1).await;
        let conversation = conversation_of(&desk, "3001").await;

        // Canned responses: leads write them, agents read them.
        let text =
            "Sorry {first_name|there}, {agent} here. Following up on {channel} for {handle}.";
        let (status, answer) = desk
            .api_post_as(
                &ana_token,
                "/api/canned",
                json!({ "name": "sorry", "text": text }),
            )
            .await;
        assert_eq!(
            (status, answer["missing_scope"].as_str()),
            (403, Some("manage")),
            "{answer}"
        );
        let (status, answer) = desk
            .api_post_as(
                &lee_token,
                "/api/canned",
                json!({ "name": "typo", "text": "Hi {frist_name}" }),
            )
            .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["unknown_variable"], "frist_name");
        assert!(answer["error"].as_str().unwrap().contains("frist_name"));
        let (status, answer) = desk
            .api_post_as(
                &lee_token,
                "/api/canned",
                json!({ "name": "sorry", "text": text, "agent": "mallory" }),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        let canned = answer["canned"]["id"].as_str().unwrap().to_owned();
        assert_eq!(answer["canned"]["updated_by"], lee.as_str());
        let (status, _) = desk
            .api_post_as(
                &lee_token,
                "/api/canned",
                json!({ "name": "sorry", "text": "again" }),
            )
            .await;
        assert_eq!(status, 409, "a name is taken once");
        let (status, list) = desk.api_as(&ana_read, "/api/canned").await;
        assert_eq!((status, list["canned"].as_array().unwrap().len()), (200, 1));
        let (status, preview) = desk
            .api_as(
                &ana_token,
                &format!("/api/conversations/{conversation}/canned/{canned}"),
            )
            .await;
        assert_eq!(status, 200, "{preview}");
        assert_eq!(
            preview["text"],
            "Sorry there, ANA here. Following up on X for @dana_k."
        );
        // Replying with it: the read-only token cannot, ana can, and the
        // trail names ana whatever the body says.
        let reply = json!({ "canned": canned, "agent": "mallory" });
        let path = format!("/api/conversations/{conversation}/reply");
        let (status, _) = desk.api_post_as(&ana_read, &path, reply.clone()).await;
        assert_eq!(status, 403);
        let (status, answer) = desk.api_post_as(&ana_token, &path, reply).await;
        assert_eq!(status, 202, "{answer}");
        let (status, _) = desk
            .api_post_as(
                &ana_token,
                &path,
                json!({ "canned": canned, "text": "both" }),
            )
            .await;
        assert_eq!(status, 422, "text and canned together are refused");
        let (status, _) = desk
            .api_post_as(&ana_token, &path, json!({ "canned": "not-an-id" }))
            .await;
        assert_eq!(status, 404);
        let body = outbound_settled(&desk, &conversation).await;
        let sent = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "outbound")
            .unwrap()
            .clone();
        assert_eq!(
            sent["text"],
            "Sorry there, ANA here. Following up on X for @dana_k."
        );
        assert_eq!(sent["delivery"], "sent");
        assert!(sent["author"].as_str().unwrap().contains(&ana), "{sent}");
        assert!(!body.to_string().contains("mallory"));
        let message = sent["id"].as_str().unwrap().to_owned();

        // Retrying what the platform accepted is refused.
        let retry = format!("/api/conversations/{conversation}/messages/{message}/retry");
        let (status, _) = desk.api_post_as(&ana_read, &retry, json!({})).await;
        assert_eq!(status, 403);
        let (status, answer) = desk.api_post_as(&ana_token, &retry, json!({})).await;
        assert_eq!(
            (status, answer["kind"].as_str()),
            (409, Some("not_retryable")),
            "{answer}"
        );

        // Hiding is off on this desk: 409 saying so, and only for `manage`.
        let inbound = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "inbound")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let hide = format!("/api/conversations/{conversation}/messages/{inbound}/hide");
        let (status, _) = desk
            .api_post_as(&ana_token, &hide, json!({ "reason": "spam" }))
            .await;
        assert_eq!(status, 403);
        let (status, answer) = desk
            .api_post_as(&lee_token, &hide, json!({ "reason": "spam" }))
            .await;
        assert_eq!(
            (status, answer["kind"].as_str()),
            (409, Some("hide_disabled")),
            "{answer}"
        );

        // Outreach: `manage` only; an unknown incident is 404.
        let outreach = "/api/incidents/inc-none/outreach";
        let notice = json!({ "text": "We are fixing it", "dry_run": true });
        let (status, _) = desk.api_post_as(&ana_token, outreach, notice.clone()).await;
        assert_eq!(status, 403);
        let (status, _) = desk.api_post_as(&lee_token, outreach, notice).await;
        assert_eq!(status, 404);

        // Changing and deleting: `manage` only.
        let one = format!("/api/canned/{canned}");
        let (status, _) = send(
            &desk,
            reqwest::Method::PUT,
            &ana_token,
            &one,
            Some(json!({ "name": "x", "text": "y" })),
        )
        .await;
        assert_eq!(status, 403);
        let (status, answer) = send(
            &desk,
            reqwest::Method::PUT,
            &lee_token,
            &one,
            Some(json!({ "name": "sorry", "text": "Hi {name|there}" })),
        )
        .await;
        assert_eq!(
            (status, answer["canned"]["text"].as_str()),
            (200, Some("Hi {name|there}"))
        );
        let (status, _) = send(
            &desk,
            reqwest::Method::PUT,
            &lee_token,
            &one,
            Some(json!({ "name": "sorry", "text": "Hi {nmae}" })),
        )
        .await;
        assert_eq!(status, 422);
        let (status, _) = send(&desk, reqwest::Method::DELETE, &ana_token, &one, None).await;
        assert_eq!(status, 403);

        // A revoked token is refused at once, on every new route.
        let (_, me) = desk.api_as(&lee_token, "/api/me").await;
        let token_id = me["token"]["id"].as_str().unwrap().to_owned();
        let (status, _) = desk
            .api_post_as(
                &lee_token,
                &format!("/api/tokens/{token_id}/revoke"),
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
        for (method, path) in [
            (reqwest::Method::GET, "/api/canned".to_owned()),
            (reqwest::Method::DELETE, one.clone()),
            (reqwest::Method::POST, hide.clone()),
            (reqwest::Method::POST, outreach.to_owned()),
        ] {
            let (status, _) = send(
                &desk,
                method,
                &lee_token,
                &path,
                Some(json!({ "reason": "x" })),
            )
            .await;
            assert_eq!(status, 401, "{path}");
        }
        let (status, _) = send(&desk, reqwest::Method::DELETE, &desk.token, &one, None).await;
        assert_eq!(status, 204, "the admin deletes it");
        let (status, _) = desk.api(&one).await;
        assert_eq!(status, 404);
        desk.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hiding_when_enabled_needs_a_reason_and_names_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = start(&url, None, "allow_hide = true").await;
    let (lee, lee_token) = person(&desk, "lee", "lead", None).await;
    let body = page_comment(
        "444444444_777",
        "7000000000000001",
        "Buy cheap followers at spam.example",
    );
    let status = desk
        .post(
            "/webhooks/facebook",
            &[
                ("x-hub-signature-256", meta_signature(FB_APP_SECRET, &body)),
                ("content-type", "application/json".into()),
            ],
            body,
        )
        .await;
    assert_eq!(status, 200);
    let list = desk.conversations(1).await;
    let conversation = list[0]["id"].as_str().unwrap().to_owned();
    let message = detail(&desk, &conversation).await["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hide = format!("/api/conversations/{conversation}/messages/{message}/hide");
    let (status, _) = desk
        .api_post_as(&lee_token, &hide, json!({ "reason": "  " }))
        .await;
    assert_eq!(status, 422, "a hide needs a reason");
    let (status, answer) = desk
        .api_post_as(
            &lee_token,
            &hide,
            json!({ "reason": "spam link", "agent": "mallory" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = desk
        .api_post_as(
            &lee_token,
            &format!("/api/conversations/{conversation}/messages/{message}/unhide"),
            json!({ "reason": "not spam after all" }),
        )
        .await;
    assert_eq!(status, 200);
    let trail = detail(&desk, &conversation).await["audit"].clone();
    let hides: Vec<&Value> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"]["type"] == "hidden")
        .collect();
    assert_eq!(hides.len(), 2, "{trail}");
    for entry in &hides {
        assert_eq!(entry["kind"]["by"]["id"], lee.as_str(), "{entry}");
    }
    assert_eq!(hides[0]["kind"]["reason"], "spam link");
    assert!(!trail.to_string().contains("mallory"));
    let hidden: Vec<String> = desk
        .platforms
        .graph
        .ledger()
        .delivered()
        .into_iter()
        .filter(|d| d.kind == "hide")
        .map(|d| d.text)
        .collect();
    assert_eq!(
        hidden,
        ["true", "false"],
        "Graph was asked to hide, then to show"
    );
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_follows_the_outbox_trust_rules() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = start(&url, None, "").await;
    let (ana, ana_token) = person(&desk, "ana", "agent", None).await;
    assert_eq!(
        desk.post_tweet(tweet(
            "1800000000000000201",
            "3101",
            "rui",
            "@acme where is my parcel"
        ))
        .await,
        200
    );
    desk.conversations(1).await;
    let conversation = conversation_of(&desk, "3101").await;
    // X refuses the reply and its first retry for good.
    let ledger = desk.platforms.x.ledger();
    ledger.fail_next(Platform::X, FaultKind::Refused);
    ledger.fail_next(Platform::X, FaultKind::Refused);
    let (status, answer) = desk
        .api_post_as(
            &ana_token,
            &format!("/api/conversations/{conversation}/reply"),
            json!({ "text": "refused text" }),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let message = answer["message_id"].as_str().unwrap().to_owned();
    let failed = |body: &Value| {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message.as_str())
            .unwrap()["delivery"]
            .clone()
    };
    let body = outbound_settled(&desk, &conversation).await;
    assert_eq!(failed(&body), "failed", "{body}");
    // Another conversation's path does not reach it.
    let retry = format!("/api/conversations/{conversation}/messages/{message}/retry");
    let (status, answer) = desk
        .api_post_as(&ana_token, &retry, json!({ "agent": "mallory" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let body = outbound_settled(&desk, &conversation).await;
    assert_eq!(failed(&body), "failed");
    assert!(
        body["audit"]
            .to_string()
            .contains(&format!("agent {ana} sent message {message} again")),
        "{}",
        body["audit"]
    );
    // An attempt whose outcome is unknown (it may be on X already) is
    // refused until ana says she checked.
    let store = SqlStore::open(&url).await.unwrap();
    let id: MessageId = message.parse().unwrap();
    let mut item = store.outbox_item(id).await.unwrap().unwrap();
    assert_eq!(item.state, DeliveryState::Failed);
    item.outcome_unknown = true;
    let mut commit = Commit::new();
    commit.outbox.push(item);
    store.apply(commit).await.unwrap();
    let (status, answer) = desk.api_post_as(&ana_token, &retry, json!({})).await;
    assert_eq!(
        (status, answer["kind"].as_str()),
        (409, Some("outcome_unknown")),
        "{answer}"
    );
    let (status, answer) = desk
        .api_post_as(&ana_token, &retry, json!({ "checked": true }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let body = outbound_settled(&desk, &conversation).await;
    assert!(
        body["audit"]
            .to_string()
            .contains(&format!("agent {ana} checked the platform"))
    );
    assert!(!body.to_string().contains("mallory"));
    let (status, _) = desk
        .api_post_as(
            &ana_token,
            &format!(
                "/api/conversations/{}/messages/{message}/retry",
                carekit_core::ConversationId::new()
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        status, 404,
        "a message is retried only through its own conversation"
    );
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_page_and_search() {
    for (url, schema, _dir) in places("lists_filter_page_and_search").await {
        let desk = start(&url, schema.as_deref(), "").await;
        let (ana, ana_token) = person(&desk, "ana", "agent", None).await;
        let texts = [
            ("4001", "ann_lee", "@acme my delivery is late"),
            ("4002", "bo", "@acme mi pedido llegó con retraso"),
            ("4003", "cy", "@acme refund for order 12345 please"),
            ("4004", "di", "@acme \"quoted\" AND NEAR(x) -minus *"),
            ("4005", "ed", "@acme great service"),
            ("4006", "fa", "@acme la livraison est en retard"),
            ("4007", "gu", "@acme where is it"),
        ];
        for (i, (user, name, text)) in texts.iter().enumerate() {
            let status = desk
                .post_tweet(tweet(&format!("18000000000000003{i:02}"), user, name, text))
                .await;
            assert_eq!(status, 200);
        }
        let all = desk.conversations(texts.len()).await;
        assert_eq!(all.len(), texts.len());
        let ids: Vec<String> = all
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        // Each customer's conversation, in the order of `texts`.
        let mut by = Vec::new();
        for (user, _, _) in &texts {
            by.push(conversation_of(&desk, user).await);
        }
        // Ana takes two; one is tagged.
        for id in &by[..2] {
            let (status, _) = desk
                .api_post_as(
                    &ana_token,
                    &format!("/api/conversations/{id}/assign"),
                    json!({ "agent": ana }),
                )
                .await;
            assert_eq!(status, 200);
        }
        let (status, _) = desk
            .api_post_as(
                &ana_token,
                &format!("/api/conversations/{}/tags", by[2]),
                json!({ "tag": "vip" }),
            )
            .await;
        assert_eq!(status, 200);
        let listed = |query: String| {
            let desk = &desk;
            async move {
                let (status, body) = desk.api(&format!("/api/conversations?{query}")).await;
                assert_eq!(status, 200, "{query}: {body}");
                body["conversations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let mut mine = listed(format!("assignee={ana}")).await;
        mine.sort();
        let mut want = by[..2].to_vec();
        want.sort();
        assert_eq!(mine, want);
        assert_eq!(listed("tag=vip".into()).await, vec![by[2].clone()]);
        assert_eq!(listed("tag=nope".into()).await, Vec::<String>::new());
        let escalated = listed("escalated=yes".into()).await;
        let calm = listed("escalated=no".into()).await;
        assert_eq!(escalated.len() + calm.len(), ids.len());
        for c in &all {
            let id = c["id"].as_str().unwrap().to_owned();
            assert_eq!(
                c["escalation_level"].as_u64().unwrap() > 0,
                escalated.contains(&id)
            );
        }
        let due = listed("due_before=2100-01-01".into()).await;
        let with_deadline = all.iter().filter(|c| !c["next_deadline"].is_null()).count();
        assert_eq!(due.len(), with_deadline);
        assert!(listed("due_before=2000-01-01".into()).await.is_empty());
        assert_eq!(
            listed(format!("assignee={ana}&tag=vip")).await,
            Vec::<String>::new()
        );

        // Pages: every conversation once, in the listing's order.
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let query = match &cursor {
                Some(c) => format!("limit=3&cursor={c}"),
                None => "limit=3".to_owned(),
            };
            let (status, body) = desk.api(&format!("/api/conversations?{query}")).await;
            assert_eq!(status, 200, "{body}");
            pages += 1;
            paged.extend(
                body["conversations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned()),
            );
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages < 10);
        }
        assert_eq!(paged, ids);
        assert_eq!(pages, 3);
        // A cursor is only good for its own listing, and unedited.
        let (_, first) = desk.api("/api/conversations?limit=3").await;
        let good = first["next_cursor"].as_str().unwrap().to_owned();
        let mut tampered = good.clone().into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        for query in [
            format!("cursor={tampered}"),
            format!("cursor={good}&tag=vip"),
            "cursor=%27%20OR%201%3D1".to_owned(),
            format!("cursor={}", "A".repeat(5000)),
            "limit=0".to_owned(),
            "limit=-1".to_owned(),
            "limit=lots".to_owned(),
            "escalated=maybe".to_owned(),
            "due_before=tomorrow".to_owned(),
            "priority=extreme".to_owned(),
            "sort=evil".to_owned(),
            format!("q={}", "x".repeat(600)),
        ] {
            let (status, body) = desk.api(&format!("/api/conversations?{query}")).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert!(body["error"].is_string());
        }
        let (status, body) = desk.api("/api/conversations?limit=100000").await;
        assert_eq!(status, 200, "a large limit is capped, not refused");
        assert_eq!(body["conversations"].as_array().unwrap().len(), ids.len());

        // Search: words in any language, part of a handle, and hostile text
        // that is never syntax.
        let q = |text: &str| format!("q={}", urlencoding(text));
        assert_eq!(listed(q("retraso")).await, vec![by[1].clone()]);
        assert_eq!(listed(q("RETARD")).await, vec![by[5].clone()]);
        assert_eq!(listed(q("order 12345")).await, vec![by[2].clone()]);
        assert_eq!(
            listed(q("4001")).await,
            vec![by[0].clone()],
            "a handle matches"
        );
        assert_eq!(listed(q("\"quoted\"")).await, vec![by[3].clone()]);
        assert_eq!(listed(q("late refund")).await, Vec::<String>::new());
        assert_eq!(
            listed(format!("{}&assignee={ana}", q("retraso"))).await,
            vec![by[1].clone()]
        );
        for hostile in [
            "\"",
            "'",
            "' OR 1=1 --",
            "'; DROP TABLE conversations; --",
            "*",
            "late*",
            "NEAR(late delivery)",
            "AND",
            "OR NOT",
            "-minus",
            "^",
            "%",
            "_",
            "\\",
            "(",
            ")",
            "{}[]",
            "🙂",
            "\u{0}",
            "late\u{0}",
            "body:late",
            "   ",
        ] {
            let (status, body) = desk
                .api(&format!("/api/conversations?{}", q(hostile)))
                .await;
            assert_eq!(status, 200, "{hostile:?}: {body}");
        }
        let (status, _) = desk.api("/api/conversations").await;
        assert_eq!(status, 200, "the desk still answers");
        desk.stop().await;
    }
}

/// Percent-encodes every byte but unreserved characters.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The new routes' bodies and paths as an attacker writes them: each gets
/// a 4xx (never a 500), and nothing refused is stored or sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_and_paths_get_typed_refusals_and_change_nothing() {
    use carekit_core::canned::{MAX_CANNED_NAME_BYTES, MAX_CANNED_TEXT_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = start(&url, None, "allow_hide = true").await;
    let (_, lee_token) = person(&desk, "lee", "lead", None).await;
    let body = page_comment(
        "444444444_778",
        "7000000000000002",
        "Ihr Service ist schrecklich",
    );
    let status = desk
        .post(
            "/webhooks/facebook",
            &[
                ("x-hub-signature-256", meta_signature(FB_APP_SECRET, &body)),
                ("content-type", "application/json".into()),
            ],
            body,
        )
        .await;
    assert_eq!(status, 200);
    let conversation = desk.conversations(1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = detail(&desk, &conversation).await["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |path: String, body: Value| {
        let (desk, token) = (&desk, lee_token.clone());
        async move { desk.api_post_as(&token, &path, body).await }
    };
    let refused = |status: u16, what: &str| {
        assert!((400..500).contains(&status), "{what}: {status}");
    };
    // Canned responses.
    for (body, what) in [
        (
            json!({ "name": "n".repeat(MAX_CANNED_NAME_BYTES + 1), "text": "Hi" }),
            "long name",
        ),
        (
            json!({ "name": "ok", "text": "t".repeat(MAX_CANNED_TEXT_BYTES + 1) }),
            "long text",
        ),
        (
            json!({ "name": "ok\r\nX-Evil: 1", "text": "Hi" }),
            "a line break in the name",
        ),
        (
            json!({ "name": "ok", "text": "Hi", "by": "mallory" }),
            "an unknown field",
        ),
        (
            json!({ "name": 7, "text": "Hi" }),
            "a name that is no string",
        ),
        (json!([]), "no object"),
    ] {
        let (status, _) = post("/api/canned".into(), body).await;
        refused(status, what);
    }
    let raw = desk
        .http
        .post(desk.url("/api/canned"))
        .bearer_auth(&lee_token)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    refused(raw, "a body that is not UTF-8");
    for path in ["/api/canned/not-an-id", "/api/canned/../../etc/passwd"] {
        let (status, _) = desk.api_as(&lee_token, path).await;
        refused(status, path);
    }
    let (_, list) = desk.api_as(&lee_token, "/api/canned").await;
    assert_eq!(
        list["canned"],
        json!([]),
        "nothing refused was stored: {list}"
    );
    // Hide: a reason too long, a message of no conversation, a garbage id.
    let hide = format!("/api/conversations/{conversation}/messages/{message}/hide");
    let (status, _) = post(hide.clone(), json!({ "reason": "r".repeat(1_001) })).await;
    assert_eq!(status, 422, "a reason of more than 1,000 bytes");
    for path in [
        format!(
            "/api/conversations/{conversation}/messages/{}/hide",
            carekit_core::MessageId::new()
        ),
        format!(
            "/api/conversations/{}/messages/{message}/hide",
            carekit_core::ConversationId::new()
        ),
        format!("/api/conversations/{conversation}/messages/%00/hide"),
    ] {
        let (status, _) = post(path.clone(), json!({ "reason": "spam" })).await;
        assert_eq!(status, 404, "{path}");
    }
    let trail = detail(&desk, &conversation).await["audit"].to_string();
    assert!(!trail.contains("\"hidden\""), "nothing was hidden: {trail}");
    assert!(
        desk.platforms
            .graph
            .ledger()
            .delivered()
            .iter()
            .all(|d| d.kind != "hide"),
        "Graph was never asked to hide"
    );
    // Retry of a message that is not there.
    let (status, _) = post(
        format!(
            "/api/conversations/{conversation}/messages/{}/retry",
            carekit_core::MessageId::new()
        ),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    // Outreach: a subject that would start another mail header, an empty
    // notice, a huge one.
    for (body, what, expected) in [
        (
            json!({ "text": "We know.", "subject": "Outage\r\nBcc: all@example.com" }),
            "a header in the subject",
            422,
        ),
        (json!({ "text": " " }), "an empty notice", 422),
        // Over the server's body limit before the route reads it.
        (
            json!({ "text": "x".repeat(carekit_core::domain::MAX_TEXT_BYTES + 1) }),
            "a huge notice",
            413,
        ),
    ] {
        let (status, answer) = post("/api/incidents/inc-x/outreach".into(), body).await;
        assert_eq!(status, expected, "{what}: {answer}");
    }
    desk.stop().await;
}

/// A spike of angry tweets opens an incident; `GET /api/crisis` lists it
/// with its conversations; outreach to it needs `manage`, counts its
/// customers on a dry run and then sends each of them one private notice,
/// as an X direct message, recorded as the caller's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outreach_reaches_every_customer_of_a_detected_incident_once() {
    for (url, schema, _dir) in places("outreach_to_an_incident").await {
        let clock = carekit_core::FakeClock::new(carekit_testing::at("2026-03-02T09:00:00Z"));
        let desk = TestDesk::start_with(
            &url,
            schema.as_deref(),
            Limits {
                extra: "[crisis]\nwindow_minutes = 1\nbaseline_windows = 2\nmin_volume = 3\n\
                        by_topic = false\ntick_seconds = 1\n"
                    .into(),
                clock: Some(std::sync::Arc::new(clock.clone())),
                ..Limits::default()
            },
        )
        .await;
        // The detector's first tick starts its history; three quiet
        // minutes make the baseline.
        tokio::time::sleep(Duration::from_millis(300)).await;
        clock.advance(chrono::Duration::minutes(3));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, before) = desk.api("/api/crisis").await;
        assert_eq!(status, 200, "{before}");
        assert_eq!(before["incidents"], json!([]), "{before}");

        let angry = ["4101", "4102", "4103", "4104"];
        for (n, user) in angry.iter().enumerate() {
            let epoch = clock.now().timestamp_millis();
            let status = desk
                .post_tweet(tweet_at(
                    &format!("18000000000000041{n:02}"),
                    user,
                    &format!("angry{n}"),
                    "@acme your app is down again, this is terrible, worst service ever",
                    epoch,
                ))
                .await;
            assert_eq!(status, 200);
        }
        desk.conversations(angry.len()).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let incident = loop {
            clock.advance(chrono::Duration::seconds(1));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (_, crisis) = desk.api("/api/crisis").await;
            if let Some(first) = crisis["incidents"].as_array().and_then(|l| l.first()) {
                break first.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no incident: {crisis}"
            );
        };
        assert_eq!(incident["open"], true, "{incident}");
        assert_eq!(incident["channel"], "twitter", "{incident}");
        let mut members: Vec<String> = incident["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        members.sort();
        let mut expected = Vec::new();
        for user in angry {
            expected.push(conversation_of(&desk, user).await);
        }
        expected.sort();
        assert_eq!(members, expected);
        let id = incident["id"].as_str().unwrap().to_owned();
        let path = format!("/api/incidents/{id}/outreach");
        let text = "We are sorry: the app was down this morning. It is back; reply here if you are still affected.";

        // An agent without `manage` may not; a lead may.
        let (_, ana) = person(&desk, "ana", "agent", None).await;
        let (status, _) = desk.api_post_as(&ana, &path, json!({ "text": text })).await;
        assert_eq!(status, 403);
        let (lena, lena_token) = person(&desk, "lena", "lead", None).await;
        let (status, dry) = desk
            .api_post_as(&lena_token, &path, json!({ "text": text, "dry_run": true }))
            .await;
        assert_eq!(status, 200, "{dry}");
        assert_eq!(dry["customers"], 4, "{dry}");
        assert_eq!(dry["conversations"], 4, "{dry}");
        let dms = |desk: &TestDesk| {
            desk.platforms
                .x
                .ledger()
                .delivered()
                .into_iter()
                .filter(|d| d.kind == "dm")
                .collect::<Vec<_>>()
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(dms(&desk).is_empty(), "a dry run sent something");

        let (status, sent) = desk
            .api_post_as(
                &lena_token,
                &path,
                json!({ "text": text, "agent": "mallory" }),
            )
            .await;
        assert_eq!(status, 200, "{sent}");
        assert_eq!(sent["customers"], 4, "{sent}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while dms(&desk).len() < angry.len() {
            assert!(std::time::Instant::now() < deadline, "{:?}", dms(&desk));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut recipients: Vec<String> = dms(&desk).into_iter().map(|d| d.recipient).collect();
        recipients.sort();
        assert_eq!(recipients, angry);
        assert!(dms(&desk).iter().all(|d| d.text == text));
        // The notice is recorded as the caller's, never the body's name.
        for user in angry {
            let (_, theirs) = desk
                .api(&format!("/api/conversations?customer=twitter:{user}"))
                .await;
            let mut notices = Vec::new();
            for c in theirs["conversations"].as_array().unwrap() {
                let body = detail(&desk, c["id"].as_str().unwrap()).await;
                notices.extend(
                    body["messages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|m| m["text"] == text)
                        .map(|m| {
                            (
                                m["author"].to_string(),
                                body["conversation"]["visibility"].clone(),
                            )
                        }),
                );
            }
            assert_eq!(notices.len(), 1, "{user}: {notices:?}");
            assert!(notices[0].0.contains(&lena), "{notices:?}");
            assert_eq!(notices[0].1, "private", "{notices:?}");
        }

        desk.stop().await;
    }
}
