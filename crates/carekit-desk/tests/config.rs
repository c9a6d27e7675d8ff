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
