//! Escalations reach people by email: an `EmailNotifier` behind a routed
//! notifier mails a real SMTP server (aiosmtpd on 127.0.0.1) once per
//! address, only for the routes that match.

mod common;

use carekit_core::desk::{Notification, Notifier, NotifyRoute, RoutedNotifier};
use carekit_core::{Clock, ConversationId, SystemClock};
use carekit_email::{EmailChannel, EmailNotifier, SmtpConfig, SmtpSecurity};
use common::servers::SmtpSink;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_is_mailed_to_the_team_lead_through_smtp() {
    let Some(smtp) = SmtpSink::start("escalation by email (SMTP)") else {
        return;
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = SmtpConfig::builder("127.0.0.1", common::MAILBOX)
        .security(SmtpSecurity::PlainForTests)
        .port(smtp.port)
        .from_name("Acme Desk")
        .build()
        .unwrap();
    let channel = Arc::new(EmailChannel::new(config, clock).unwrap());
    let lead = EmailNotifier::new(
        channel.clone(),
        ["lead@acme.example", "billing@acme.example"],
    )
    .link_base("https://desk.acme.example/");
    let routed = RoutedNotifier::new().route(
        NotifyRoute::to(Arc::new(lead))
            .teams(["billing"])
            .min_level(2),
    );
    let conversation = ConversationId::new();
    let urgent = Notification::new(
        conversation,
        "Crisis term: lawyer",
        "The customer wrote \"my lawyer will hear about this\".",
    )
    .with_team(Some("billing".into()))
    .with_level(3);
    routed.notify(&urgent).await.unwrap();
    // Not the team's, and too low: not mailed (they go to the log).
    routed
        .notify(&urgent.clone().with_team(Some("support".into())))
        .await
        .unwrap();
    routed.notify(&urgent.clone().with_level(1)).await.unwrap();

    for _ in 0..100 {
        if smtp.received().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a wrongly routed third mail time to arrive before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = smtp.received();
    assert_eq!(
        received.len(),
        2,
        "one mail per address, nothing for the others"
    );
    let mut to = Vec::new();
    for raw in &received {
        let mail = mail_parser::MessageParser::default().parse(raw).unwrap();
        assert_eq!(mail.subject(), Some("[carekit L3] Crisis term: lawyer"));
        let body = mail.body_text(0).unwrap();
        assert!(body.contains("my lawyer will hear about this"), "{body}");
        assert!(
            body.contains(&format!(
                "https://desk.acme.example/api/conversations/{conversation}"
            )),
            "{body}"
        );
        to.push(
            mail.to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_owned(),
        );
    }
    to.sort();
    assert_eq!(to, ["billing@acme.example", "lead@acme.example"]);
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_the_address() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = SmtpConfig::builder("127.0.0.1", common::MAILBOX)
        .security(SmtpSecurity::PlainForTests)
        .port(9) // discard: nothing listens
        .build()
        .unwrap();
    let channel = Arc::new(EmailChannel::new(config, clock).unwrap());
    let notifier = EmailNotifier::new(channel, ["lead@acme.example"]);
    let err = notifier
        .notify(&Notification::new(ConversationId::new(), "s", "b"))
        .await
        .unwrap_err();
    assert!(err.starts_with("lead@acme.example: "), "{err}");
}
