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
    let csat = config.csat.as_ref().unwrap();
    assert_eq!(csat.channels.len(), 3);
    assert_eq!(csat.delay_minutes, 5);
    let crisis = config.crisis.as_ref().unwrap();
    assert_eq!((crisis.min_volume, crisis.auto_crisis_mode), (8, false));
    assert!(config.taxonomy.as_ref().unwrap().file.is_some());
    assert_eq!(config.calendars[0].time_zone, "Europe/Berlin");
    assert_eq!(config.sla[0].calendar.as_deref(), Some("berlin-office"));
    assert_eq!(
        config.assignment.as_ref().unwrap().teams[0].team,
        "email-care"
    );
    assert_eq!(config.digest[0].daily_at.as_deref(), Some("09:00"));
    assert!(config.outreach.as_ref().unwrap().max_customers.is_some());
}

fn with_store(dir: &tempfile::TempDir, rest: &str) -> DeskConfig {
    DeskConfig::from_toml_str(&format!(
        "[store]\nurl = \"sqlite://{}?mode=rwc\"\n{rest}",
        dir.path().join("d.db").display()
    ))
    .unwrap()
}

fn token() -> Secrets {
    Secrets::new().with("CAREKIT_API_TOKEN", "t0ken-value")
}

#[tokio::test]
async fn csat_taxonomy_and_crisis_are_built_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let taxonomy = concat!(env!("CARGO_MANIFEST_DIR"), "/config/taxonomy.example.toml");
    let config = with_store(
        &dir,
        &format!(
            "[csat]\nquestion = \"Rate us 1-5\"\n[taxonomy]\nfile = \"{taxonomy}\"\n[[taxonomy.topics]]\nname = \"wrong item\"\nphrases = [\"wrong size\"]\n[crisis]\nmin_volume = 5\nratio = 0\nholding_statement = \"We are on it.\"\nauto_crisis_mode = true\n"
        ),
    );
    let server = DeskServer::builder(config, token()).build().await.unwrap();
    let insight = server.insight();
    let taxonomy = insight.taxonomy().expect("taxonomy");
    let names: Vec<&str> = taxonomy.topic_names().collect();
    assert!(
        names.contains(&"delivery") && names.contains(&"wrong item"),
        "{names:?}"
    );
    let detector = insight.crisis_detector().expect("detector");
    assert_eq!(detector.config().min_volume, 5);
    assert_eq!(detector.config().ratio, None, "0 turns the ratio test off");
    assert_eq!(detector.config().z_score, Some(3.0));
    let mode = insight.crisis_mode().expect("mode");
    assert_eq!(mode.holding_statement().as_deref(), Some("We are on it."));
    assert!(!mode.is_on());

    // Without the tables, none of it.
    let bare = DeskServer::builder(with_store(&dir, ""), token())
        .build()
        .await
        .unwrap();
    assert!(bare.insight().taxonomy().is_none());
    assert!(bare.insight().crisis_detector().is_none());
}

#[tokio::test]
async fn bad_insight_settings_are_refused_by_table() {
    let dir = tempfile::tempdir().unwrap();
    for (table, expect) in [
        ("[csat]\nquestion = \"  \"\n", "[csat]"),
        ("[taxonomy]\n", "[taxonomy]"),
        (
            "[taxonomy]\nfile = \"/nonexistent/taxonomy.toml\"\n",
            "[taxonomy] file",
        ),
        (
            "[[taxonomy.topics]]\nname = \"billing\"\nkeywords = [\"charged twice\"]\n",
            "[taxonomy]",
        ),
        ("[crisis]\nz_score = 0\nratio = 0\n", "[crisis]"),
        ("[crisis]\nwindow_minutes = 0\n", "[crisis]"),
    ] {
        let err = DeskServer::builder(with_store(&dir, table), token())
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DeskServerError::Config(m) if m.starts_with(expect)),
            "{table}: {err}"
        );
    }
}

#[tokio::test]
async fn assignment_agents_are_checked_and_new_conversations_go_round() {
    let dir = tempfile::tempdir().unwrap();
    for (table, expect) in [
        (
            "[assignment]\nagents = [{ id = \"ana\" }, { id = \" ana \" }]\n",
            "listed twice",
        ),
        ("[assignment]\nagents = [{ id = \"\" }]\n", "is empty"),
        (
            "[assignment]\nagents = [{ id = \"ana\", capacity = 0 }]\n",
            "capacity 0",
        ),
        (
            "[assignment]\nteam = \"billing\"\nagents = [{ id = \"ana\", team = \"social\" }]\n",
            "has no agents",
        ),
    ] {
        let err = DeskServer::builder(with_store(&dir, table), token())
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DeskServerError::Config(m) if m.starts_with("[assignment]") && m.contains(expect)),
            "{table}: {err}"
        );
    }
    assert!(
        DeskConfig::from_toml_str("[assignment]\nagents = [{ id = \"ana\", desk = 1 }]\n").is_err(),
        "unknown agent keys are refused"
    );

    let config = with_store(
        &dir,
        "[assignment]\nagents = [{ id = \"ana\" }, { id = \"ben\", capacity = 1 }]\n",
    );
    let server = DeskServer::builder(config, token()).build().await.unwrap();
    let desk = server.desk();
    let mut assigned = Vec::new();
    for n in 0..4 {
        let event = carekit_testing::sample_event(
            carekit_core::ChannelKind::Sms,
            &format!("SM{n}"),
            &format!("+1415555010{n}"),
            "my bill is wrong",
            chrono::Utc::now(),
        );
        let id = desk.ingest(event).await.unwrap().conversation_id().unwrap();
        assigned.push(desk.conversation(id).await.unwrap().assignee.unwrap());
    }
    // ben holds one at most; the rotation skips him once he is full.
    assert_eq!(assigned, ["ana", "ben", "ana", "ana"]);
    let state = desk.assignment_state().await.unwrap();
    assert_eq!((state.load("ana"), state.load("ben")), (3, 1));
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
