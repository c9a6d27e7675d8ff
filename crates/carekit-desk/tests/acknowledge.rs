//! The desk's own first answer follows what the customer said: sorry for a
//! complaint, thanks for praise, nothing for a plain question, and nothing
//! at all unless `[acknowledge]` says so.

mod support;

use carekit_desk::{DeskConfig, DeskServer};
use std::time::Duration;
use support::{Limits, TestDesk, tweet};

const PRAISE: &str = "@acme Love the new app, thanks! Best update ever 😍";
const QUESTION: &str = "@acme what time do you open on Sunday?";
const COMPLAINT: &str = "@acme my order is two weeks late and nobody answers. Awful service.";

async fn post_tweet(desk: &TestDesk, id: &str, user: &str, screen: &str, text: &str) {
    let body = tweet(id, user, screen, text);
    let status = desk.post_tweet(body).await;
    assert_eq!(status, 200);
}

/// The texts posted to X as replies, by the tweet they answer.
async fn replies(desk: &TestDesk) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in desk.platforms.x.received() {
        if r.path() != "/2/tweets" {
            continue;
        }
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        out.push((
            body["reply"]["in_reply_to_tweet_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            body["text"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    out.sort();
    out
}

/// Waits until the outbox is empty, so every acknowledgement that will be
/// sent has been.
async fn drained(desk: &TestDesk) {
    desk.conversations(3).await;
    for _ in 0..250 {
        if desk
            .metrics()
            .await
            .lines()
            .any(|l| l == "carekit_outbox_depth 0")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("outbox did not drain");
}

async fn desk_with(extra: &str) -> (TestDesk, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("desk.db").display());
    let desk = TestDesk::start_with(
        &store,
        None,
        Limits {
            extra: extra.into(),
            ..Limits::default()
        },
    )
    .await;
    (desk, dir)
}

#[tokio::test]
async fn praise_is_thanked_a_question_waits_for_a_person_and_a_complaint_gets_sorry() {
    let (desk, _dir) = desk_with(
        r#"
        [acknowledge]
        complaint_public = "So sorry, {first_name|friend}. We're looking into it now."
        praise_public = "Thank you, {handle}!"
        "#,
    )
    .await;
    post_tweet(&desk, "1770000000000000001", "101", "ann_fan", PRAISE).await;
    post_tweet(&desk, "1770000000000000002", "102", "bo_asks", QUESTION).await;
    post_tweet(&desk, "1770000000000000003", "103", "cy_cross", COMPLAINT).await;
    drained(&desk).await;
    assert_eq!(
        replies(&desk).await,
        vec![
            (
                "1770000000000000001".to_owned(),
                "Thank you, @ann_fan!".to_owned()
            ),
            (
                "1770000000000000003".to_owned(),
                "So sorry, friend. We're looking into it now.".to_owned()
            ),
        ]
    );
    desk.stop().await;
}

#[tokio::test]
async fn by_default_only_complaints_are_acknowledged() {
    // Only the complaint templates set, as desk.example.toml ships them.
    let (desk, _dir) = desk_with(
        r#"
        [acknowledge]
        complaint_public = "So sorry about this. We're looking into it now."
        "#,
    )
    .await;
    post_tweet(&desk, "1770000000000000011", "111", "ann_fan", PRAISE).await;
    post_tweet(&desk, "1770000000000000012", "112", "bo_asks", QUESTION).await;
    post_tweet(&desk, "1770000000000000013", "113", "cy_cross", COMPLAINT).await;
    drained(&desk).await;
    let sent = replies(&desk).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "1770000000000000013");
    desk.stop().await;

    // And without an [acknowledge] section nothing is answered by itself.
    let (quiet, _quiet_dir) = desk_with("").await;
    post_tweet(&quiet, "1770000000000000021", "121", "ann_fan", PRAISE).await;
    post_tweet(&quiet, "1770000000000000022", "122", "bo_asks", QUESTION).await;
    post_tweet(&quiet, "1770000000000000023", "123", "cy_cross", COMPLAINT).await;
    drained(&quiet).await;
    assert_eq!(replies(&quiet).await, Vec::new());
    quiet.stop().await;
}

#[tokio::test]
async fn a_template_with_an_unknown_variable_stops_the_server_at_start() {
    let config = DeskConfig::from_toml_str(
        r#"
        [acknowledge]
        complaint_public = "So sorry, {frist_name}."
        "#,
    )
    .unwrap();
    let err = DeskServer::builder(config, support::secrets())
        .build()
        .await
        .expect_err("an unknown variable is refused");
    let text = err.to_string();
    assert!(
        text.contains("complaint_public") && text.contains("frist_name"),
        "{text}"
    );
}
