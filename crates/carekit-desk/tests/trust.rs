//! What the outside trial of the first phase found in the server, each
//! kept fixed: mail with attachments refused by a limit meant for JSON, a
//! store password in `Debug`, plaintext mail accepted without a word,
//! `/metrics` open to anyone, and a summary that read all of history.

mod support;

use carekit_desk::{DeskConfig, DeskServer};
use support::*;

async fn sqlite_desk(limits: Limits) -> (TestDesk, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("desk.db").display());
    (TestDesk::start_with(&url, None, limits).await, dir)
}

/// A mail of about `size` bytes: a short note and a base64 PDF.
fn mail_with_attachment(size: usize) -> Vec<u8> {
    let mut attachment = String::new();
    while attachment.len() < size {
        attachment.push_str("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVy");
        attachment.push_str("\r\n");
    }
    format!(
        "From: Dana <dana@mail.example>\r\nTo: support@acme.example\r\nSubject: Damaged sofa, photos attached\r\n\
         Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <big-1@mail.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe sofa arrived with a torn arm, photos attached.\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"photos.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"photos.pdf\"\r\n\r\n{attachment}--b1--\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_with_attachments_has_its_own_limit() {
    let (desk, _dir) = sqlite_desk(Limits::default()).await;
    let mail = mail_with_attachment(1_500_000);
    assert!(mail.len() > 1_500_000);
    let status = desk
        .post(
            "/webhooks/email",
            &[
                ("x-carekit-secret", EMAIL_SECRET.into()),
                ("content-type", "message/rfc822".into()),
            ],
            mail,
        )
        .await;
    assert_eq!(status, 202, "a 1.5 MB mail is taken");
    let stored = desk.stored().await;
    assert!(stored.iter().any(|m| m.contains("torn arm")), "{stored:?}");
    // The JSON routes keep the server's limit (256 KiB here).
    let big_json = vec![b' '; 1_500_000];
    let status = desk
        .post(
            "/webhooks/twitter",
            &[
                (
                    "x-twitter-webhooks-signature",
                    x_signature(X_CONSUMER_SECRET, &big_json),
                ),
                ("content-type", "application/json".into()),
            ],
            big_json,
        )
        .await;
    assert_eq!(status, 413);
    desk.stop().await;
}

#[tokio::test]
async fn a_mail_over_the_email_limit_is_refused_with_413() {
    let (desk, _dir) = sqlite_desk(Limits {
        extra: "".into(),
        ..Limits::default()
    })
    .await;
    // 25 MiB by default: one byte over is refused before it is read whole.
    let mail = mail_with_attachment(carekit_desk::DEFAULT_EMAIL_BODY_BYTES + 1);
    let status = desk
        .post(
            "/webhooks/email",
            &[
                ("x-carekit-secret", EMAIL_SECRET.into()),
                ("content-type", "message/rfc822".into()),
            ],
            mail,
        )
        .await;
    assert_eq!(status, 413);
    assert!(desk.stored().await.is_empty());
    desk.stop().await;
}

#[test]
fn a_store_password_never_reaches_debug() {
    let config = DeskConfig::from_toml_str(
        r#"
        [store]
        url = "postgres://carekit:hunter2-s3cret@db.internal:5432/care?sslmode=require"
        "#,
    )
    .unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2-s3cret"), "{printed}");
    assert!(
        printed.contains("db.internal"),
        "the rest stays useful: {printed}"
    );
}

#[tokio::test]
async fn a_running_server_on_postgres_hides_its_store_password() {
    let Some(url) = postgres_url("a_running_server_on_postgres_hides_its_store_password") else {
        return;
    };
    // Trust authentication ignores the password, so a made-up one connects.
    let with_password = url.replacen(
        "postgres://postgres@",
        "postgres://postgres:hunter2-s3cret@",
        1,
    );
    assert_ne!(
        with_password, url,
        "CAREKIT_TEST_POSTGRES_URL names user postgres"
    );
    let config = DeskConfig::from_toml_str(&format!(
        r#"
        [store]
        url = "{with_password}"
        schema = "desk_debug_{pid}"
        "#,
        pid = std::process::id()
    ))
    .unwrap();
    let server = DeskServer::builder(config, secrets())
        .build()
        .await
        .unwrap();
    let printed = format!("{server:?}");
    assert!(!printed.contains("hunter2-s3cret"), "{printed}");
}

#[tokio::test]
async fn plaintext_mail_is_refused_unless_allowed() {
    for (setting, extra) in [
        ("smtp_security = \"plain\"", ""),
        (
            "",
            "[email.imap]\nhost = \"127.0.0.1\"\nuser = \"support\"\nplain_for_tests = true",
        ),
    ] {
        let config = DeskConfig::from_toml_str(&format!(
            "[email]\nmailbox = \"support@acme.example\"\nsmtp_host = \"127.0.0.1\"\n{setting}\n{extra}\n"
        ))
        .unwrap();
        let err = DeskServer::builder(
            config,
            secrets()
                .with("SMTP_PASSWORD", "pw")
                .with("IMAP_PASSWORD", "pw"),
        )
        .build()
        .await
        .expect_err("plaintext refused");
        assert!(
            err.to_string().contains("allow_plaintext"),
            "{setting}{extra}: {err}"
        );
    }
}

#[tokio::test]
async fn metrics_need_the_metrics_token_when_one_is_set() {
    let (desk, _dir) = sqlite_desk(Limits {
        extra_secrets: vec![("CAREKIT_METRICS_TOKEN", "metrics-token-42".into())],
        ..Limits::default()
    })
    .await;
    let get = |token: Option<&str>| {
        let mut r = desk.http.get(desk.url("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(None).await, 401);
    assert_eq!(get(Some("metrics-token-4")).await, 401);
    assert_eq!(
        get(Some(API_TOKEN)).await,
        401,
        "the API token is not the metrics token"
    );
    assert_eq!(get(Some("metrics-token-42")).await, 200);
    desk.stop().await;
}

#[tokio::test]
async fn the_summary_counts_a_date_range() {
    let (desk, _dir) = sqlite_desk(Limits::default()).await;
    for (id, user) in [
        ("1770000000000000101", "201"),
        ("1770000000000000102", "202"),
    ] {
        let body = tweet(id, user, "someone", "@acme where is my parcel?");
        let status = desk.post_tweet(body).await;
        assert_eq!(status, 200);
    }
    desk.conversations(2).await;
    let (status, all) = desk
        .api("/api/reports/summary?from=2026-01-01&to=2027-01-01")
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"]["conversations"], 2, "{all}");
    assert_eq!(all["by_channel"]["twitter"]["conversations"], 2, "{all}");
    let (status, none) = desk
        .api("/api/reports/summary?from=2020-01-01&to=2020-01-08")
        .await;
    assert_eq!(status, 200);
    assert_eq!(none["total"]["conversations"], 0, "{none}");
    let (status, _) = desk
        .api("/api/reports/summary?from=2026-03-02&to=2026-03-01")
        .await;
    assert_eq!(status, 400, "from after to");
    let (status, _) = desk.api("/api/reports/summary?from=yesterday").await;
    assert_eq!(status, 400, "a date that is not a date");
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_to_a_number_another_customer_owns_is_409_until_a_person_merges_them() {
    let (desk, _dir) = sqlite_desk(Limits::default()).await;
    // Ann complains on X; a text from her phone arrived earlier as a
    // customer the desk did not know was her.
    let body = tweet(
        "1770000000000000201",
        "301",
        "ann_lee",
        "@acme my parcel is lost",
    );
    let status = desk.post_tweet(body).await;
    assert_eq!(status, 200);
    let sms_url = desk.url("/webhooks/twilio/sms");
    let params = sms_params(
        "SM00000000000000000000000000000201",
        "+14155552671",
        "Hi, it's Ann",
    );
    let form = serde_urlencoded::to_string(&params).unwrap().into_bytes();
    let status = desk
        .post(
            "/webhooks/twilio/sms",
            &[
                (
                    "x-twilio-signature",
                    twilio_signature(TWILIO_TOKEN, &sms_url, &params),
                ),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            form,
        )
        .await;
    assert_eq!(status, 200);
    let conversations = desk.conversations(2).await;
    let id_of = |channel: &str| {
        conversations
            .iter()
            .find(|c| c["channel"] == channel)
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (tweet_conv, sms_conv) = (id_of("twitter"), id_of("sms"));
    let customer_of = |id: String| {
        let desk = &desk;
        async move {
            desk.api(&format!("/api/conversations/{id}")).await.1["conversation"]["customer"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (ann, texter) = (
        customer_of(tweet_conv.clone()).await,
        customer_of(sms_conv.clone()).await,
    );
    assert_ne!(ann, texter);

    let handoff = serde_json::json!({
        "to": "sms",
        "public_text": "Sorry Ann, we'll text you.",
        "private_text": "Hi Ann, this is Acme about your parcel.",
        "recipient": "+14155552671",
        "agent": "maya"
    });
    let (status, body) = desk
        .api_post(
            &format!("/api/conversations/{tweet_conv}/handoff"),
            handoff.clone(),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["kind"], "identity_owned", "{body}");
    assert_eq!(body["owner"], texter.as_str(), "{body}");

    // Merging needs a reason, names known customers, and is audited.
    let (status, _) = desk
        .api_post(
            &format!("/api/customers/{ann}/merge"),
            serde_json::json!({"absorb": texter, "reason": ""}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = desk
        .api_post(
            &format!("/api/customers/{ann}/merge"),
            serde_json::json!({"absorb": "00000000-0000-0000-0000-000000000000", "reason": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, merged) = desk
        .api_post(
            &format!("/api/customers/{ann}/merge"),
            serde_json::json!({"absorb": texter, "reason": "Ann confirmed the number by DM", "agent": "maya"}),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["kept"], ann.as_str());
    assert!(
        merged["moved"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == sms_conv.as_str()),
        "{merged}"
    );
    let (_, detail) = desk.api(&format!("/api/conversations/{sms_conv}")).await;
    assert_eq!(detail["conversation"]["customer"]["id"], ann.as_str());
    assert!(
        detail["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.to_string().contains("confirmed the number")),
        "{detail}"
    );

    let (status, body) = desk
        .api_post(&format!("/api/conversations/{tweet_conv}/handoff"), handoff)
        .await;
    assert_eq!(status, 202, "{body}");
    desk.stop().await;
}

#[tokio::test]
async fn with_an_oauth2_secret_the_legacy_signature_alone_is_taken_only_during_migration() {
    const OAUTH2: &str = "x-oauth2-client-secret-77";
    for (migrating, expected) in [(false, 401), (true, 200)] {
        let (desk, _dir) = sqlite_desk(Limits {
            extra_secrets: vec![("X_OAUTH2_CLIENT_SECRET", OAUTH2.into())],
            twitter_extra: if migrating {
                "accept_legacy_signature = true".into()
            } else {
                String::new()
            },
            ..Limits::default()
        })
        .await;
        let body = tweet("1770000000000000301", "401", "legacy", "@acme hello");
        let legacy_only = desk
            .post(
                "/webhooks/twitter",
                &[(
                    "x-twitter-webhooks-signature",
                    x_signature(X_CONSUMER_SECRET, &body),
                )],
                body.clone(),
            )
            .await;
        assert_eq!(legacy_only, expected, "migrating: {migrating}");
        // The OAuth2 signature is always taken.
        let body = tweet("1770000000000000302", "402", "modern", "@acme hello");
        let modern = desk
            .post(
                "/webhooks/twitter",
                &[(
                    "x-twitter-webhooks-signature-oauth2",
                    x_signature(OAUTH2, &body),
                )],
                body,
            )
            .await;
        assert_eq!(modern, 200);
        desk.stop().await;
    }
}
