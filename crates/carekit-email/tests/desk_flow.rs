//! The adapter with the real `Desk`, without servers: replies are composed
//! by the real `EmailChannel` and captured instead of sent. Covers a reply
//! whose client rewrote `In-Reply-To`, never threading by subject, loop
//! protection and bounces.

mod common;

use async_trait::async_trait;
use carekit_core::{
    Capabilities, Channel, ChannelError, ChannelKind, Delivery, DeliveryState, Direction,
    EventKind, OutboundMessage, Store, desk::ReplyRequest,
};
use carekit_email::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailChannel, IntakeOutcome, SmtpConfig, SmtpSecurity, ThreadToken,
    parse_message,
};
use common::*;
use std::sync::{Arc, Mutex};

/// The real composer, with the wire replaced by a list.
struct Captured {
    inner: EmailChannel,
    sent: Mutex<Vec<Vec<u8>>>,
    /// `Delivery::provider_id` of each send, in order.
    provider_ids: Mutex<Vec<String>>,
}

#[async_trait]
impl Channel for Captured {
    fn kind(&self) -> ChannelKind {
        self.inner.kind()
    }
    fn account(&self) -> Option<String> {
        self.inner.account()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn send(&self, message: &OutboundMessage) -> Result<Delivery, ChannelError> {
        let composed = self.inner.compose(message)?;
        self.sent.lock().unwrap().push(composed.formatted());
        let delivery = Delivery::sent(composed.message_id).with_thread_key(composed.token.key());
        self.provider_ids
            .lock()
            .unwrap()
            .push(delivery.provider_id.clone());
        Ok(delivery)
    }
}

fn captured(clock: carekit_core::FakeClock) -> Arc<Captured> {
    let config = SmtpConfig::builder("127.0.0.1", MAILBOX)
        .security(SmtpSecurity::PlainForTests)
        .port(1)
        .from_name("Acme Support")
        .build()
        .unwrap();
    Arc::new(Captured {
        inner: EmailChannel::new(config, Arc::new(clock)).unwrap(),
        sent: Mutex::new(Vec::new()),
        provider_ids: Mutex::new(Vec::new()),
    })
}

fn mail(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = String::new();
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    out.push_str(body);
    out.into_bytes()
}

async fn conversation_of(r: &Rig, message_id: &str) -> carekit_core::ConversationId {
    r.store
        .locate_message(ChannelKind::Email, message_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{message_id} not stored"))
        .conversation_id
}

/// Customer writes, agent answers; returns the rig, the channel and the
/// answer as the customer receives it.
async fn opened_and_answered() -> (Rig, Arc<Captured>, carekit_email::ParsedEmail) {
    let clock = clock();
    let channel = captured(clock.clone());
    let r = rig_with(Some(channel.clone() as Arc<dyn Channel>));
    let first = mail(
        &[
            ("From", "Ann Lee <Ann@Example.net>"),
            ("To", "Acme Support <support@example.com>"),
            ("Subject", "Order 1234 late"),
            ("Date", "Mon, 1 Jun 2026 09:00:00 +0000"),
            ("Message-ID", "<m1@mail.example.net>"),
        ],
        "My order 1234 has not arrived.\r\n",
    );
    r.intake.ingest_raw(&first).await.unwrap();
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    r.desk
        .reply(
            conv,
            ReplyRequest::agent("agent-1", "Your parcel ships today."),
        )
        .await
        .unwrap();
    let report = r.desk.run_outbox_once().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let bytes = channel.sent.lock().unwrap()[0].clone();
    let answer = parse_message(&bytes, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    (r, channel, answer)
}

#[tokio::test]
async fn the_reply_carries_threading_headers_and_the_token() {
    let (r, _channel, answer) = opened_and_answered().await;
    let token = ThreadToken::from_root("m1@mail.example.net");
    assert_eq!(answer.in_reply_to, vec!["m1@mail.example.net".to_owned()]);
    assert_eq!(answer.references, vec!["m1@mail.example.net".to_owned()]);
    assert_eq!(answer.thread_header.as_deref(), Some(token.as_str()));
    assert_eq!(
        answer.reply_to.as_ref().map(|a| a.handle()),
        Some(format!("support+{token}@example.com"))
    );
    assert_eq!(answer.subject.as_deref(), Some("Re: Order 1234 late"));
    assert_eq!(answer.to[0].handle(), "ann@example.net");
    // The desk recorded our Message-ID as the outbound message's id.
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    assert_eq!(conversation_of(&r, &answer.message_id).await, conv);
}

#[tokio::test]
async fn a_reply_whose_client_rewrote_in_reply_to_threads_by_plus_address() {
    let (r, _c, answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let reply_to = answer.reply_to.unwrap().address;
    // Outlook-style: its own id in In-Reply-To, no References, sent to the
    // Reply-To plus-address.
    let rewritten = mail(
        &[
            ("From", "Ann Lee <ann@example.net>"),
            ("To", &format!("Acme Support <{reply_to}>")),
            ("Subject", "RE: Order 1234 late"),
            ("Message-ID", "<AM0PR01MB0001@eurprd01.prod.outlook.com>"),
            ("In-Reply-To", "<AM0PR01MB9999@eurprd01.prod.outlook.com>"),
        ],
        "Still nothing.\r\n\r\n-----Original Message-----\r\nFrom: Acme Support\r\nYour parcel ships today.\r\n",
    );
    let outcome = r.intake.ingest_raw(&rewritten).await.unwrap();
    let IntakeOutcome::Accepted { threading, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(threading.contains("plus-address"), "{threading}");
    assert_eq!(
        conversation_of(&r, "AM0PR01MB0001@eurprd01.prod.outlook.com").await,
        conv
    );
    let record = r.desk.conversation(conv).await.unwrap();
    assert_eq!(record.messages.last().unwrap().text, "Still nothing.");
    let trail = format!("{:?}", r.desk.audit_trail(conv).await.unwrap());
    assert!(trail.contains("same email thread"), "{trail}");
}

#[tokio::test]
async fn the_thread_header_alone_is_enough_and_our_message_id_is_a_parent() {
    let (r, _c, answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let token = answer.thread_header.clone().unwrap();
    let header_only = mail(
        &[
            ("From", "ann@example.net"),
            ("To", "support@example.com"),
            ("Subject", "something else entirely"),
            ("Message-ID", "<h1@mail.example.net>"),
            ("X-Carekit-Thread", &token),
        ],
        "Any news?\r\n",
    );
    r.intake.ingest_raw(&header_only).await.unwrap();
    assert_eq!(conversation_of(&r, "h1@mail.example.net").await, conv);

    let proper = mail(
        &[
            ("From", "ann@example.net"),
            ("To", "support@example.com"),
            ("Subject", "Re: Order 1234 late"),
            ("Message-ID", "<p1@mail.example.net>"),
            ("In-Reply-To", &format!("<{}>", answer.message_id)),
            (
                "References",
                &format!("<m1@mail.example.net> <{}>", answer.message_id),
            ),
        ],
        "Thanks!\r\n",
    );
    r.intake.ingest_raw(&proper).await.unwrap();
    assert_eq!(conversation_of(&r, "p1@mail.example.net").await, conv);
}

#[tokio::test]
async fn never_by_subject_and_foreign_plus_tags_are_not_tokens() {
    let (r, _c, _answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let same_subject = mail(
        &[
            ("From", "bob@example.org"),
            ("To", "support+billing@example.com"),
            ("Subject", "Re: Order 1234 late"),
            ("Message-ID", "<s1@example.org>"),
        ],
        "Me too!\r\n",
    );
    r.intake.ingest_raw(&same_subject).await.unwrap();
    assert_ne!(conversation_of(&r, "s1@example.org").await, conv);
    // A token of another domain's mailbox is not ours either.
    let token = ThreadToken::from_root("m1@mail.example.net");
    let other_domain = mail(
        &[
            ("From", "carl@example.org"),
            ("To", &format!("support+{token}@elsewhere.example")),
            ("Subject", "hello"),
            ("Message-ID", "<o1@example.org>"),
        ],
        "Hi\r\n",
    );
    r.intake.ingest_raw(&other_domain).await.unwrap();
    assert_ne!(conversation_of(&r, "o1@example.org").await, conv);
}

#[tokio::test]
async fn auto_replies_bulk_and_list_mail_are_never_auto_answered() {
    let r = rig();
    let cases: [(&str, (&str, &str)); 5] = [
        ("auto", ("Auto-Submitted", "auto-replied")),
        (
            "gen",
            ("Auto-Submitted", "auto-generated; owner-email=\"x@y\""),
        ),
        ("bulk", ("Precedence", "bulk")),
        ("list", ("List-Id", "<announce.example.org>")),
        ("unsub", ("List-Unsubscribe", "<mailto:leave@example.org>")),
    ];
    for (id, header) in cases {
        let raw = mail(
            &[
                ("From", "robot@example.org"),
                ("To", "support@example.com"),
                ("Message-ID", &format!("<{id}@example.org>")),
                header,
            ],
            "I am away until Monday.\r\n",
        );
        let (_, _, event) = r.intake.prepare(&raw).await.unwrap();
        assert!(!event.auto_reply_allowed, "{id}");
    }
    let person = mail(
        &[
            ("From", "ann@example.net"),
            ("To", "support@example.com"),
            ("Message-ID", "<person@example.net>"),
            ("Auto-Submitted", "no"),
        ],
        "Hello\r\n",
    );
    let (_, _, event) = r.intake.prepare(&person).await.unwrap();
    assert!(event.auto_reply_allowed);
}

#[tokio::test]
async fn a_bounce_marks_the_reply_it_names_as_failed() {
    let (r, _c, answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let dsn = format!(
        concat!(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n",
            "To: support@example.com\r\n",
            "Subject: Undelivered Mail Returned to Sender\r\n",
            "Message-ID: <dsn1@mx.example.com>\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n",
            "\r\n",
            "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n",
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n",
            "Reporting-MTA: dns; mx.example.com\r\n\r\n",
            "Final-Recipient: rfc822; ann@example.net\r\n",
            "Action: failed\r\nStatus: 5.1.1\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 <ann@example.net>: Recipient address rejected\r\n",
            "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n",
            "From: support@example.com\r\nTo: ann@example.net\r\nMessage-ID: <{id}>\r\nSubject: Re: Order 1234 late\r\n",
            "--B--\r\n",
        ),
        id = answer.message_id
    );
    let outcome = r.intake.ingest_raw(dsn.as_bytes()).await.unwrap();
    assert_eq!(
        outcome,
        IntakeOutcome::Bounce {
            original: answer.message_id.clone()
        }
    );
    let record = r.desk.conversation(conv).await.unwrap();
    let ours = record
        .messages
        .iter()
        .find(|m| m.external_id.as_deref() == Some(answer.message_id.as_str()))
        .unwrap();
    assert_eq!(ours.delivery, Some(DeliveryState::Failed));
    assert!(ours.delivery_error.as_deref().unwrap().contains("5.1.1"));
    // The bounce did not open a conversation with the mailer daemon.
    assert_eq!(
        r.desk
            .conversations(&carekit_core::ConversationFilter::all())
            .await
            .unwrap()
            .len(),
        1
    );
}

// ---- echoes of the desk's own mail ------------------------------------------

#[tokio::test]
async fn a_copy_of_a_sent_reply_is_an_echo_named_by_the_provider_id() {
    let (r, channel, answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let provider_id = channel.provider_ids.lock().unwrap()[0].clone();
    // The bytes the channel produced, read back as a Sent-folder or Bcc copy.
    let copy = channel.sent.lock().unwrap()[0].clone();
    let (_, _, event) = r.intake.prepare(&copy).await.unwrap();
    assert_eq!(event.kind, EventKind::Echo);
    assert_eq!(event.external_id, provider_id);
    assert_eq!(event.external_id, answer.message_id);
    assert_eq!(event.author.handle, "ann@example.net");
    assert_eq!(event.thread.parents, vec![provider_id.clone()]);
    assert_eq!(event.thread.key, None);
    assert!(!event.auto_reply_allowed);

    let outcome = r.intake.ingest_raw(&copy).await.unwrap();
    assert_eq!(
        outcome,
        IntakeOutcome::Echo {
            external_id: provider_id.clone()
        }
    );
    // A second copy (Sent folder and Bcc) is the same event again.
    r.intake.ingest_raw(&copy).await.unwrap();
    let record = r.desk.conversation(conv).await.unwrap();
    let copies = record
        .messages
        .iter()
        .filter(|m| m.external_id.as_deref() == Some(provider_id.as_str()))
        .count();
    assert_eq!(copies, 1, "the send and its echoes are one message");
    assert!(
        record
            .messages
            .iter()
            .all(|m| m.direction == Direction::Outbound
                || m.external_id.as_deref() == Some("m1@mail.example.net")),
        "the echo never becomes a customer message"
    );
    // No customer was made of the support mailbox, no conversation opened.
    assert!(
        r.store
            .customer_by_identity(ChannelKind::Email, MAILBOX)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        r.desk
            .conversations(&carekit_core::ConversationFilter::all())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_agent_reply_from_a_mail_client_is_an_echo_in_its_conversation() {
    let (r, _c, _answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let typed = mail(
        &[
            ("From", "Acme Support <Support@Example.com>"),
            ("To", "Ann Lee <ann@example.net>"),
            ("Subject", "Re: Order 1234 late"),
            ("Message-ID", "<CAF=client-typed@mail.example.com>"),
            ("In-Reply-To", "<m1@mail.example.net>"),
            ("References", "<m1@mail.example.net>"),
        ],
        "Tracking number: 1Z999.\r\n",
    );
    let outcome = r.intake.ingest_raw(&typed).await.unwrap();
    assert_eq!(
        outcome,
        IntakeOutcome::Echo {
            external_id: "CAF=client-typed@mail.example.com".into()
        }
    );
    let record = r.desk.conversation(conv).await.unwrap();
    let echoed = record
        .messages
        .iter()
        .find(|m| m.external_id.as_deref() == Some("CAF=client-typed@mail.example.com"))
        .expect("recorded in the conversation");
    assert_eq!(echoed.direction, Direction::Outbound);
    assert_eq!(record.customer.identities[0].handle, "ann@example.net");
    assert!(
        r.store
            .customer_by_identity(ChannelKind::Email, MAILBOX)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn own_mail_to_no_customer_is_skipped() {
    let r = rig();
    let to_self = mail(
        &[
            ("From", "support@example.com"),
            ("To", "support+ck0123456789abcdef@example.com"),
            ("Subject", "We received your message"),
            ("Message-ID", "<self-1@example.com>"),
        ],
        "Thanks, we will answer soon.\r\n",
    );
    let outcome = r.intake.ingest_raw(&to_self).await.unwrap();
    assert!(
        matches!(outcome, IntakeOutcome::Skipped { .. }),
        "{outcome:?}"
    );
    assert!(
        r.desk
            .conversations(&carekit_core::ConversationFilter::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_made_up_carekit_message_id_joins_no_conversation() {
    let (r, _c, _answer) = opened_and_answered().await;
    let conv = conversation_of(&r, "m1@mail.example.net").await;
    let before = r.desk.conversation(conv).await.unwrap().messages.len();
    // Our id shape, but no message the desk sent has it; the parent and the
    // token of a real conversation do not pull it in.
    let forged_id = carekit_core::MessageId::new().to_string();
    let token = ThreadToken::from_root("m1@mail.example.net");
    let forged = mail(
        &[
            ("From", "mallory@example.org"),
            ("To", "ann@example.net"),
            ("Subject", "Re: Order 1234 late"),
            ("Message-ID", &format!("<{forged_id}@example.com>")),
            ("In-Reply-To", "<m1@mail.example.net>"),
            ("X-Carekit-Thread", token.as_str()),
        ],
        "Your refund was cancelled.\r\n",
    );
    let (_, _, event) = r.intake.prepare(&forged).await.unwrap();
    assert_eq!(event.kind, EventKind::Echo);
    assert_eq!(
        event.thread.parents,
        vec![format!("{forged_id}@example.com")]
    );
    r.intake.ingest_raw(&forged).await.unwrap();
    assert_eq!(
        r.desk.conversation(conv).await.unwrap().messages.len(),
        before
    );
    assert_eq!(
        r.desk
            .conversations(&carekit_core::ConversationFilter::all())
            .await
            .unwrap()
            .len(),
        1
    );
}
