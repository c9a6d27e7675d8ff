//! The sandbox day: the real desk server, real adapters over real HTTP,
//! a SQLite file, fake platforms on loopback, a virtual clock. Checks what
//! the README's main command shows, and that no configured secret reaches
//! the logs, the report or the errors of a full run.

use carekit_sandbox::{
    Action, AgentAction, CSAT_QUESTION, Inbound, Platform, SandboxDay, StepResult,
};
use chrono::Timelike;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// Captures everything the desk logs during the run.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_day_runs_end_to_end_and_leaks_no_secret() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sandbox.db");
    let mut printed = String::new();
    let outcome = SandboxDay::builder()
        .store_url(format!("sqlite://{}?mode=rwc", db.display()))
        .seed(11)
        .build()
        .run(|h| printed.push_str(&format!("{h}\n")))
        .await
        .expect("the day ran");

    // Every webhook was accepted and every agent action taken, except the
    // reply to the customer who texted STOP: refused with 409.
    for (step, result) in &outcome.steps {
        match (&step.action, result) {
            (Action::Customer(_), StepResult::Webhook(status)) => {
                assert!((200..300).contains(status), "{}: {status}", step.note)
            }
            (Action::Agent { customer, .. }, StepResult::Api(status, error))
                if customer == "sms:+14155550111" =>
            {
                assert_eq!(*status, 409, "{error:?}");
                assert!(error.as_deref().unwrap_or_default().contains("opted out"));
            }
            (Action::Agent { .. }, StepResult::Api(status, error)) => {
                assert!(
                    (200..300).contains(status),
                    "{}: {status} {error:?}",
                    step.note
                )
            }
            (_, other) => panic!("{}: {other:?}", step.note),
        }
    }
    assert_eq!(outcome.unsent(), 0, "the outbox drained");

    // Each agent reply reached its platform exactly once.
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for (step, _) in &outcome.steps {
        if let Action::Agent {
            action: AgentAction::Reply { text },
            customer,
            ..
        } = &step.action
            && customer != "sms:+14155550111"
        {
            *expected.entry(text.as_str()).or_default() += 1;
        }
    }
    assert!(
        expected.values().sum::<usize>() > 30,
        "the script has agent replies"
    );
    for (text, times) in &expected {
        let delivered = outcome
            .delivered
            .iter()
            .filter(|d| d.text.contains(text))
            .count();
        assert_eq!(delivered, *times, "{text}");
    }

    // The opt-out is honoured: nothing reaches the number after STOP.
    assert!(
        !outcome
            .delivered
            .iter()
            .any(|d| d.platform == Platform::Twilio
                && d.recipient == "+14155550111"
                && d.text.contains("refund went out")),
        "sent to an opted-out number"
    );
    assert!(outcome.refused.is_empty(), "{:?}", outcome.refused);

    // Handoffs: Ann to SMS, Omar to Messenger; both answered privately.
    let total = &outcome.report.summary.total;
    assert_eq!(total.handoffs, 2, "{total:?}");
    assert_eq!(total.handoffs_answered_privately, 2, "{total:?}");
    assert!(
        outcome
            .delivered
            .iter()
            .any(|d| d.platform == Platform::Twilio
                && d.recipient == "+14155552671"
                && d.text.contains("last 4 digits"))
    );
    assert!(
        outcome
            .delivered
            .iter()
            .any(|d| d.platform == Platform::Graph
                && d.kind == "private_reply"
                && d.text.contains("order number"))
    );

    // The desk's own first answers follow what was said: praise on X is
    // thanked, never apologised for; complaints get "sorry".
    let tweets: BTreeMap<&str, &str> = outcome
        .steps
        .iter()
        .filter_map(|(step, _)| match &step.action {
            Action::Customer(Inbound::Tweet { id, text, .. }) => Some((id.as_str(), text.as_str())),
            _ => None,
        })
        .collect();
    let acks: Vec<(&str, &str)> = outcome
        .delivered
        .iter()
        .filter(|d| d.platform == Platform::X && d.kind == "reply")
        .filter_map(|d| Some((*tweets.get(d.recipient.as_str())?, d.text.as_str())))
        .filter(|(_, text)| text.starts_with("So sorry to hear") || text.starts_with("Thank you"))
        .collect();
    assert!(
        acks.iter().any(|(_, a)| a.starts_with("Thank you")),
        "{acks:?}"
    );
    assert!(
        acks.iter().any(|(_, a)| a.starts_with("So sorry")),
        "{acks:?}"
    );
    for (tweet, ack) in &acks {
        let praise = ["love", "great", "best", "thank"]
            .iter()
            .any(|w| tweet.to_lowercase().contains(w));
        assert_eq!(
            ack.starts_with("Thank you"),
            praise,
            "{tweet:?} was answered {ack:?}"
        );
    }

    // Escalations by reason: Dana's repeated posts, the large audience,
    // SLA breaches of late replies.
    for reason in ["repeated_contact", "audience", "sla_breach"] {
        assert!(
            total.escalations.get(reason).copied().unwrap_or(0) >= 1,
            "no {reason} escalation: {:?}",
            total.escalations
        );
    }

    // Every channel has conversations and first-response figures.
    for channel in ["twitter", "facebook", "sms", "email"] {
        let s = &outcome.report.summary.by_channel[channel];
        assert!(s.conversations > 0, "{channel}");
        assert!(s.first_response.p50_s.is_some(), "{channel}: {s:?}");
    }
    // Email: Jo's three messages and her survey answer thread into one
    // conversation.
    let jo: Vec<_> = outcome
        .steps
        .iter()
        .filter(|(s, _)| matches!(&s.action, Action::Customer(Inbound::Email { from, .. }) if from == "jo@mail.example"))
        .collect();
    assert_eq!(jo.len(), 4);
    assert!(
        outcome
            .delivered
            .iter()
            .filter(|d| d.platform == Platform::Smtp && d.recipient.contains("jo@mail.example"))
            .count()
            >= 1
    );

    // CSAT: surveys went out privately after Ann's (SMS) and Jo's (email)
    // resolutions, both answered; never a survey in public.
    let surveys: Vec<_> = outcome
        .delivered
        .iter()
        .filter(|d| d.text.contains(CSAT_QUESTION))
        .collect();
    assert!(
        surveys
            .iter()
            .any(|d| d.platform == Platform::Twilio && d.recipient == "+14155552671"),
        "{surveys:?}"
    );
    assert!(
        surveys
            .iter()
            .any(|d| d.platform == Platform::Smtp && d.recipient.contains("jo@mail.example")),
        "{surveys:?}"
    );
    assert_eq!(
        surveys
            .iter()
            .filter(|d| d.kind == "reply" || d.kind == "comment_reply")
            .count(),
        0,
        "a survey went out in public: {surveys:?}"
    );
    assert!(total.csat_answered >= 2, "{total:?}");
    assert!(total.csat_requested >= total.csat_answered, "{total:?}");
    for channel in ["sms", "email"] {
        let s = &outcome.report.summary.by_channel[channel];
        assert!(s.csat_answered >= 1, "{channel}: {s:?}");
        assert!(s.csat_mean.is_some_and(|m| m >= 4.0), "{channel}: {s:?}");
    }

    // Crisis: the afternoon's outage spike (14:00–15:00 on X) opens
    // exactly one incident, which groups its conversations and closes
    // once X is quiet again.
    assert_eq!(
        outcome.report.crisis.len(),
        1,
        "{:#?}",
        outcome.report.crisis
    );
    let incident = &outcome.report.crisis[0];
    assert_eq!(incident.key.to_string(), "twitter/outage");
    assert_eq!(incident.opened_at.hour(), 14, "{incident:?}");
    let closed = incident.closed_at.expect("the incident closed");
    assert!(
        closed > incident.opened_at + chrono::Duration::minutes(45),
        "{incident:?}"
    );
    assert!(closed.hour() <= 16, "{incident:?}");
    assert!(incident.conversations.len() >= 20, "{incident:?}");
    assert!(incident.peak_negative >= 6, "{incident:?}");
    assert!(
        total.escalations.get("spike").copied().unwrap_or(0) >= 20,
        "{:?}",
        total.escalations
    );

    // Top issues: every taxonomy topic of the day, the outage first.
    let issues = outcome.report.top_issues.as_ref().expect("top issues");
    assert_eq!(issues.topics[0].topic, "outage", "{issues:#?}");
    assert!(issues.topics[0].count >= 36, "{issues:#?}");
    for topic in ["delivery", "billing", "damaged"] {
        let t = issues.topics.iter().find(|t| t.topic == topic);
        assert!(
            t.is_some_and(|t| t.count >= 1 && !t.examples.is_empty()),
            "{topic}: {issues:#?}"
        );
    }
    assert!(
        issues.near_duplicates.first().is_some_and(|g| g.count >= 5),
        "{issues:#?}"
    );

    // What the example prints, the report it writes, and every log line
    // hold no configured secret.
    let html = outcome.report.to_html();
    let json = outcome.report.to_json();
    for id in ["crisis", "topics", "near-duplicates"] {
        assert!(html.contains(&format!("<table id=\"{id}\">")), "{id}");
    }
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["crisis"].as_array().map(Vec::len), Some(1));
    assert!(
        parsed["top_issues"]["topics"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.len() > 1_000, "the desk logged the day");
    let secrets = SandboxDay::secrets();
    for secret in secrets.values() {
        for (name, text) in [
            ("logs", &logs),
            ("progress", &printed),
            ("html", &html),
            ("json", &json),
        ] {
            assert!(!text.contains(secret), "a secret leaked into the {name}");
        }
        assert!(!format!("{outcome:?}").contains(secret));
    }
}
