//! The example configuration parses, unknown keys are refused by name, and
//! a missing secret names itself and what needs it.

use carekit_desk::{DeskConfig, DeskServer, DeskServerError, Secrets};

#[test]
fn the_example_config_parses() {
    let config = DeskConfig::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/desk.example.toml"
    ))
    .unwrap();
    assert_eq!(config.twitter.as_ref().unwrap().brand_user_id, "2244994945");
    assert_eq!(config.desk.public_first_response_minutes, 60);
    assert!(config.email.as_ref().unwrap().imap.is_none());
}

#[test]
fn a_typo_is_refused_by_name() {
    let err = DeskConfig::from_toml_str("[server]\nlisten_on = \"127.0.0.1:1\"\n").unwrap_err();
    assert!(err.to_string().contains("listen_on"), "{err}");
}

#[tokio::test]
async fn a_missing_secret_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    let config = DeskConfig::from_toml_str(&format!(
        "[store]\nurl = \"sqlite://{}\"\n[sms]\naccount_sid = \"AC0\"\nfrom = \"+14155550100\"\n",
        dir.path().join("d.db").display()
    ))
    .unwrap();
    let secrets = Secrets::new().with("CAREKIT_API_TOKEN", "t0ken-value");
    let err = DeskServer::builder(config, secrets.clone())
        .build()
        .await
        .unwrap_err();
    match err {
        DeskServerError::MissingSecret { name, needed_by } => {
            assert_eq!(name, "TWILIO_AUTH_TOKEN");
            assert_eq!(needed_by, "[sms]");
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{secrets:?}").contains("t0ken-value"));
}

#[test]
fn a_secrets_file_adds_and_overrides_and_bad_lines_are_named_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.env");
    std::fs::write(
        &path,
        "# rotated 2026-11-23\nFB_PAGE_TOKEN = EAAB-new-7777\n\nCAREKIT_API_TOKEN=api-2\n",
    )
    .unwrap();
    let secrets = carekit_desk::Secrets::new()
        .with("FB_PAGE_TOKEN", "EAAB-old-6666")
        .with("TWILIO_AUTH_TOKEN", "tw-1")
        .merge_file(&path)
        .unwrap();
    assert_eq!(secrets.get("FB_PAGE_TOKEN"), Some("EAAB-new-7777"));
    assert_eq!(secrets.get("CAREKIT_API_TOKEN"), Some("api-2"));
    assert_eq!(secrets.get("TWILIO_AUTH_TOKEN"), Some("tw-1"));

    std::fs::write(&path, "FB_PAGE_TOKEN EAAB-typo-8888\n").unwrap();
    let err = carekit_desk::Secrets::new()
        .merge_file(&path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1"), "{err}");
    assert!(!err.contains("EAAB-typo-8888"), "{err}");
    assert!(
        carekit_desk::Secrets::new()
            .merge_file(dir.path().join("none"))
            .is_err()
    );
}
