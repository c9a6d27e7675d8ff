//! `[[calendars]]`, `[[sla]]`, `[[assignment.teams]]`, `[[digest]]` and
//! `[outreach]`: each mistake stops the start with a message naming the
//! section, the key and what is wrong; good settings are built into the
//! desk (business-hours deadlines, team routing by capacity, the outreach
//! notice); and `GET /api/admin/config` shows them to an admin only, with
//! no secret in the answer.

mod support;

use carekit_core::{ChannelKind, Clock, FakeClock};
use carekit_desk::{DeskConfig, DeskServer, DeskServerError, Secrets};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use support::*;

fn with_store(dir: &tempfile::TempDir, rest: &str) -> Result<DeskConfig, DeskServerError> {
    DeskConfig::from_toml_str(&format!(
        "[store]\nurl = \"sqlite://{}?mode=rwc\"\n{rest}",
        dir.path().join("d.db").display()
    ))
}

fn token() -> Secrets {
    Secrets::new().with("CAREKIT_API_TOKEN", "t0ken-value")
}

const CALENDAR: &str = r#"
[[calendars]]
name = "berlin"
time_zone = "Europe/Berlin"
holidays = ["2026-12-25"]
[calendars.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
"#;

const TEAMS: &str = r#"
[assignment]
agents = [{ id = "ana", team = "social" }]
[[assignment.teams]]
team = "email-care"
strategy = "capacity"
channels = ["email"]
agents = [{ id = "dana", capacity = 2 }, { id = "eli", capacity = 5 }]
"#;

/// The message a configuration is refused with at start.
async fn refused(rest: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = match with_store(&dir, rest) {
        Ok(config) => config,
        Err(DeskServerError::Config(m)) => return m,
        Err(e) => panic!("{rest}: {e}"),
    };
    match DeskServer::builder(config, token()).build().await {
        Err(DeskServerError::Config(m)) => m,
        Err(e) => panic!("{rest}: {e}"),
        Ok(_) => panic!("{rest}: accepted"),
    }
}

#[tokio::test]
async fn each_mistake_is_refused_with_its_section_key_and_reason() {
    let sla = |rest: &str| format!("{CALENDAR}{TEAMS}[[sla]]\nname = \"vip\"\n{rest}");
    let digest = |rest: &str| format!("{TEAMS}[[digest]]\nteam = \"social\"\n{rest}");
    for (config, expect) in [
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"Europe/Berlín\"\nhours = { mon = [\"09:00-17:00\"] }\n".to_owned(),
            "[[calendars]] \"x\" (entry 1): time_zone \"Europe/Berlín\" is not an IANA time zone (such as \"Europe/Berlin\")",
        ),
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\nhours = { mon = [\"09:00-13:00\", \"12:00-17:00\"] }\n".to_owned(),
            "[[calendars]] \"x\" (entry 1): periods on Mon overlap: 09:00:00–13:00:00 and 12:00:00–17:00:00",
        ),
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\nhours = { tue = [\"09:00-25:00\"] }\n".to_owned(),
            "[[calendars]] \"x\" (entry 1): hours.tue \"09:00-25:00\": \"25:00\" is not a time of day (HH:MM, 00:00 to 23:59)",
        ),
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\nhours = { wed = [\"17:00-09:00\"] }\n".to_owned(),
            "[[calendars]] \"x\" (entry 1): period 17:00:00–09:00:00 on Wed ends before it starts",
        ),
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\nholidays = [\"2026-02-30\"]\nhours = { mon = [\"09:00-17:00\"] }\n".to_owned(),
            "[[calendars]] \"x\" (entry 1): holidays \"2026-02-30\" is not a date (YYYY-MM-DD)",
        ),
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\n".to_owned(),
            "[[calendars]] \"x\" (entry 1): the calendar has no working hours",
        ),
        (
            format!("{CALENDAR}{}", CALENDAR.replace("holidays = [\"2026-12-25\"]", "")),
            "[[calendars]] \"berlin\" (entry 2): name is used by another calendar",
        ),
        (
            sla("first_response_minutes = 30\ncalendar = \"paris\"\n"),
            "[[sla]] \"vip\" (entry 1): calendar \"paris\" is not a [[calendars]] entry (calendars: berlin)",
        ),
        (
            sla("first_response_minutes = 30\nteams = [\"biling\"]\n"),
            "[[sla]] \"vip\" (entry 1) teams: unknown team \"biling\" (teams: email-care, social)",
        ),
        (
            sla("channels = [\"email\"]\n"),
            "[[sla]] \"vip\" (entry 1): no target: set first_response_minutes, next_response_minutes or resolution_minutes",
        ),
        (
            sla("first_response_minutes = 0\n"),
            "[[sla]] \"vip\" (entry 1): first_response_minutes must be above 0, not 0",
        ),
        (
            sla("first_response_minutes = 30\nwarn_at = 1.5\n"),
            "[[sla]] \"vip\" (entry 1): warn_at must be between 0 and 1 (exclusive), not 1.5",
        ),
        (
            "[[sla]]\nname = \"public\"\nfirst_response_minutes = 5\n".to_owned(),
            "[[sla]] entry 1: name \"public\" is empty or taken by [desk]'s defaults (public, private)",
        ),
        (
            format!("{TEAMS}[[assignment.teams]]\nteam = \"x-care\"\nchannels = [\"email\"]\nagents = [{{ id = \"fay\" }}]\n"),
            "[[assignment.teams]] \"x-care\" (entry 2): channels: email already goes to team \"email-care\"",
        ),
        (
            format!("{TEAMS}[[assignment.teams]]\nteam = \"empty\"\n"),
            "[[assignment.teams]] \"empty\" (entry 2): the team has no agents",
        ),
        (
            format!("{TEAMS}[[assignment.teams]]\nteam = \"again\"\nagents = [{{ id = \"dana\" }}]\n"),
            "[[assignment.teams]] \"again\" (entry 2) agents: agent id \"dana\" is empty or listed twice",
        ),
        (
            "[[digest]]\nteam = \"care\"\ndaily_at = \"09:00\"\nto = [\"a@b.example\"]\n".to_owned(),
            "[[digest]] team \"care\" (entry 1): unknown team \"care\" (teams: none: define teams under [assignment] or [crisis])",
        ),
        (
            digest("time_zone = \"Mars/Olympus\"\ndaily_at = \"09:00\"\nto = [\"a@b.example\"]\n"),
            "[[digest]] team \"social\" (entry 1): time_zone \"Mars/Olympus\" is not an IANA time zone (such as \"Europe/Berlin\")",
        ),
        (
            digest("daily_at = \"25:00\"\nto = [\"a@b.example\"]\n"),
            "[[digest]] team \"social\" (entry 1): daily_at \"25:00\" is not a time of day (HH:MM, 00:00 to 23:59)",
        ),
        (
            digest("daily_at = \"09:00\"\nevery_hours = 4\nto = [\"a@b.example\"]\n"),
            "[[digest]] team \"social\" (entry 1): give exactly one schedule: daily_at = \"HH:MM\" or every_hours",
        ),
        (
            digest("every_hours = 0\nto = [\"a@b.example\"]\n"),
            "[[digest]] team \"social\" (entry 1): every_hours must be above 0, not 0",
        ),
        (
            digest("daily_at = \"09:00\"\n"),
            "[[digest]] team \"social\" (entry 1): give exactly one of `route` (a [[notify]] name) or `to` (email addresses)",
        ),
        (
            digest("daily_at = \"09:00\"\nroute = \"leads-chat\"\n"),
            "[[digest]] team \"social\" (entry 1): route \"leads-chat\" is not the name of a [[notify]] entry",
        ),
        (
            digest("daily_at = \"09:00\"\nto = [\"a@b.example\"]\n"),
            "[[digest]] team \"social\" (entry 1): `to` sends through [email], which is not configured",
        ),
        (
            "[outreach]\ntext = \"Sorry\"\n[outreach.text_on]\nsms = \" \"\n".to_owned(),
            "[outreach] text_on.sms: is empty",
        ),
        (
            "[outreach]\ntext = \"Sorry\"\n[outreach.text_on]\npager = \"Sorry\"\n".to_owned(),
            "[outreach] text_on: the desk has no pager channel",
        ),
        (
            "[outreach]\ntext = \"Sorry\"\nmax_customers = 0\n".to_owned(),
            "[outreach] max_customers: must be above 0",
        ),
        (
            "[[notify]]\nname = \"a\"\nvia = \"email\"\nto = [\"x@y.example\"]\n[[notify]]\nname = \"a\"\nvia = \"email\"\nto = [\"x@y.example\"]\n".to_owned(),
            "[[notify]] entry 2: name \"a\" is empty or used by another route",
        ),
    ] {
        let message = refused(&config).await;
        assert_eq!(message, expect, "{config}");
    }
    // Unknown keys in every new section, refused by name.
    for (config, key) in [
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\nopen = 1\n",
            "open",
        ),
        (
            "[[calendars]]\nname = \"x\"\ntime_zone = \"UTC\"\n[calendars.hours]\nmonday = []\n",
            "monday",
        ),
        (
            "[[sla]]\nname = \"x\"\nfirst_response = 5\n",
            "first_response",
        ),
        (
            "[assignment]\n[[assignment.teams]]\nteam = \"t\"\nstrategy = \"random\"\n",
            "random",
        ),
        ("[[digest]]\nteam = \"t\"\nat = \"09:00\"\n", "`at`"),
        (
            "[[digest]]\nteam = \"t\"\ncovers = \"everyone\"\n",
            "everyone",
        ),
        ("[outreach]\ntext = \"x\"\nlimit = 5\n", "limit"),
        ("[[sla]]\nname = \"x\"\npriorities = [\"asap\"]\n", "asap"),
    ] {
        let message = refused(config).await;
        assert!(message.contains(key), "{config}: {message}");
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[tokio::test]
async fn calendars_sla_teams_and_outreach_are_built_into_the_desk() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_store(
        &dir,
        &format!(
            "{CALENDAR}{TEAMS}
[[sla]]
name = \"email-business-hours\"
channels = [\"email\"]
first_response_minutes = 120
calendar = \"berlin\"

[outreach]
text = \"We know about the outage.\"
max_customers = 10
[outreach.text_on]
sms = \"Outage known.\"
"
        ),
    )
    .unwrap();
    // Friday 2026-10-23 16:30 in Berlin (14:30Z): 30 working minutes are
    // left that day, the other 90 run from Monday 09:00 (07:00Z, winter time).
    let clock = FakeClock::new(at("2026-10-23T14:30:00Z"));
    let email = carekit_testing::RecordingChannel::new(ChannelKind::Email);
    let server = DeskServer::builder(config, token())
        .clock(Arc::new(clock.clone()))
        .channel(Arc::new(email))
        .channel(Arc::new(carekit_testing::RecordingChannel::new(
            ChannelKind::Sms,
        )))
        .build()
        .await
        .unwrap();
    let desk = server.desk();
    let mut assigned = Vec::new();
    let mut deadlines = Vec::new();
    for n in 0..4 {
        let event = carekit_testing::sample_event(
            ChannelKind::Email,
            &format!("<m{n}@example.com>"),
            &format!("kim{n}@example.com"),
            "my invoice is wrong",
            clock.now(),
        );
        let id = desk.ingest(event).await.unwrap().conversation_id().unwrap();
        let record = desk.conversation(id).await.unwrap();
        assigned.push(record.assignee.clone().unwrap());
        assert_eq!(record.team.as_deref(), Some("email-care"));
        deadlines.push(record.next_deadline);
    }
    // By capacity: eli (5 free) until he has no more room than dana (2).
    assert_eq!(assigned, ["eli", "eli", "eli", "dana"]);
    // The business-hours policy: 120 working minutes from Friday 16:30
    // (summer time) end Monday 10:30 in Berlin, 09:30Z in winter time; a
    // clock that counted every hour would say Friday 16:30Z.
    assert!(
        deadlines
            .iter()
            .all(|d| *d == Some(at("2026-10-26T09:30:00Z"))),
        "{deadlines:?}"
    );

    let notice = server.insight().outreach().expect("[outreach]");
    assert_eq!(notice.text_for(ChannelKind::Sms), "Outage known.");
    assert_eq!(
        notice.text_for(ChannelKind::Email),
        "We know about the outage."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sees_the_configuration_without_secrets_and_others_get_403() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("desk.db").display());
    let chat_url = "https://hooks.chat.example/services/T000/B000/XyZsecretPathToken";
    let desk = TestDesk::start_with(
        &url,
        None,
        Limits {
            extra: format!(
                "{CALENDAR}{TEAMS}
[[notify]]
name = \"care-chat\"
via = \"chat\"
url_secret = \"CHAT_CARE_URL\"

[[sla]]
name = \"email-business-hours\"
channels = [\"email\"]
first_response_minutes = 120
calendar = \"berlin\"

[[digest]]
team = \"social\"
time_zone = \"America/New_York\"
daily_at = \"08:30\"
route = \"care-chat\"
"
            ),
            extra_secrets: vec![("CHAT_CARE_URL", chat_url.to_owned())],
            ..Limits::default()
        },
    )
    .await;
    let (status, answer) = desk.api("/api/admin/config").await;
    assert_eq!(status, 200, "{answer}");
    let config = &answer["config"];
    assert_eq!(config["calendars"][0]["time_zone"], "Europe/Berlin");
    assert_eq!(config["sla"][0]["calendar"], "berlin");
    assert_eq!(config["assignment"]["teams"][0]["strategy"], "capacity");
    assert_eq!(config["digest"][0]["daily_at"], "08:30");
    assert_eq!(config["notify"][0]["url_secret"], "CHAT_CARE_URL");
    assert_eq!(
        config["desk"]["tick_ms"], 20,
        "defaults and settings both shown"
    );
    let secrets = answer["secrets"].as_array().unwrap();
    let find = |name: &str| {
        secrets
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {answer}"))
    };
    assert_eq!(find("CHAT_CARE_URL")["set"], true);
    assert_eq!(find("CHAT_CARE_URL")["needed_by"], "[[notify]] entry 1");
    assert_eq!(find("FB_PAGE_TOKEN")["set"], true);
    assert_eq!(find("SMTP_PASSWORD")["set"], false);
    let body = answer.to_string();
    for secret in [
        API_TOKEN,
        X_CONSUMER_SECRET,
        FB_APP_SECRET,
        FB_VERIFY,
        FB_PAGE_TOKEN,
        TWILIO_TOKEN,
        EMAIL_SECRET,
        chat_url,
        "XyZsecretPathToken",
        "hooks.chat.example",
        ADMIN_PASSWORD,
        &desk.token,
    ] {
        assert!(!body.contains(secret), "{secret} leaked: {body}");
    }

    // Agents and leads may not read it; nor may anyone without a token.
    for (name, role) in [("lee", "lead"), ("abe", "agent")] {
        let password = "a long enough password";
        let (status, made) = desk
            .api_post(
                "/api/agents",
                json!({ "login": name, "name": name, "role": role, "password": password }),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        let (status, answer) = login(&desk.http, &desk.base, name, password).await;
        assert_eq!(status, 200, "{answer}");
        let token = answer["token"]["token"].as_str().unwrap().to_owned();
        let (status, answer) = desk.api_as(&token, "/api/admin/config").await;
        assert_eq!(status, 403, "{role}: {answer}");
        assert_eq!(answer["missing_scope"], "admin");
        assert!(answer.get("config").is_none());
    }
    let anonymous = desk
        .http
        .get(desk.url("/api/admin/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    desk.stop().await;
}
