//! End to end against real servers on 127.0.0.1: Dovecot for IMAP and
//! aiosmtpd for SMTP, started here (skipped loudly when not installed).
//!
//! A customer mail appears in IMAP → the desk ingests it once, also after a
//! restart and after a lost cursor → an agent replies over SMTP → the reply
//! arrives with correct threading headers → the customer's answer, noticed
//! through IDLE, lands in the same conversation.

mod common;

use carekit_core::desk::ReplyRequest;
use carekit_core::{
    Channel, ChannelKind, Clock, Desk, EventKind, EventSink, Identity, KeyValues, MemoryStore,
    OutboundMessage, Store, SystemClock, Visibility,
};
use carekit_email::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailChannel, EmailIntake, ImapConfig, ImapPoller, SmtpConfig,
    SmtpSecurity, ThreadToken, parse_message,
};
use common::servers::{Dovecot, SmtpSink};
use std::sync::Arc;
use std::time::Duration;

const USER: &str = "support";

async fn append(port: u16, raw: &[u8]) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client
        .login(USER, "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    session.append("INBOX", None, None, raw).await.unwrap();
    session.logout().await.unwrap();
}

struct App {
    desk: Desk,
    poller: ImapPoller,
}

fn app(store: Arc<MemoryStore>, imap_port: u16, smtp_port: u16) -> App {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let smtp = SmtpConfig::builder("127.0.0.1", common::MAILBOX)
        .security(SmtpSecurity::PlainForTests)
        .port(smtp_port)
        .from_name("Acme Support")
        .build()
        .unwrap();
    let channel = Arc::new(EmailChannel::new(smtp, clock.clone()).unwrap());
    let desk = Desk::builder()
        .store(store.clone() as Arc<dyn Store>)
        .clock(clock.clone())
        .channel(channel as Arc<dyn Channel>)
        .build()
        .unwrap();
    let values = store as Arc<dyn KeyValues>;
    let intake = Arc::new(
        EmailIntake::new(
            common::MAILBOX,
            Arc::new(desk.clone()) as Arc<dyn EventSink>,
            clock,
        )
        .with_thread_index(values.clone()),
    );
    let config = ImapConfig::builder("127.0.0.1", USER, "secret")
        .plain_for_tests()
        .port(imap_port)
        .idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    App {
        desk,
        poller: ImapPoller::new(config, intake, values),
    }
}

const CUSTOMER_MAIL: &[u8] = b"From: Ann Lee <ann@example.net>\r\nTo: Acme Support <support@example.com>\r\nSubject: Order 1234 late\r\nDate: Mon, 1 Jun 2026 09:00:00 +0000\r\nMessage-ID: <e2e-first@mail.example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy order 1234 has not arrived.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_in_smtp_out_ingested_once_and_threaded() {
    let Some(imap) = Dovecot::start("email end-to-end (IMAP)") else {
        return;
    };
    let Some(smtp) = SmtpSink::start("email end-to-end (SMTP)") else {
        return;
    };
    let store = Arc::new(MemoryStore::new());

    // 1. A customer mail appears in the mailbox; the desk ingests it once.
    append(imap.port, CUSTOMER_MAIL).await;
    let first = app(store.clone(), imap.port, smtp.port);
    let report = first
        .poller
        .poll_once()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", imap.log()));
    assert_eq!((report.fetched, report.ingested), (1, 1), "{report:?}");
    let again = first.poller.poll_once().await.unwrap();
    assert_eq!(again.fetched, 0, "the cursor must move past it");
    let conv = store
        .locate_message(ChannelKind::Email, "e2e-first@mail.example.net")
        .await
        .unwrap()
        .unwrap()
        .conversation_id;

    // 2. A restart (new desk, new poller, same store) ingests nothing new.
    let restarted = app(store.clone(), imap.port, smtp.port);
    let position = restarted.poller.position().await.unwrap().unwrap();
    assert_eq!(position.last_uid, 1);
    assert_eq!(restarted.poller.poll_once().await.unwrap().fetched, 0);
    // Even a lost cursor re-reads the mail but stores it only once.
    store
        .save_value(
            &format!("email:imap:{USER}@127.0.0.1:{}/INBOX", imap.port),
            "0:0",
        )
        .await
        .unwrap();
    let rescan = restarted.poller.poll_once().await.unwrap();
    assert_eq!(rescan.fetched, 1);
    assert_eq!(
        restarted
            .desk
            .conversation(conv)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );

    // 3. An agent replies; it goes out over SMTP with threading headers.
    restarted
        .desk
        .reply(
            conv,
            ReplyRequest::agent("agent-1", "Your parcel ships today."),
        )
        .await
        .unwrap();
    let sent = restarted.desk.run_outbox_once().await.unwrap();
    assert_eq!(sent.sent, 1, "{sent:?}");
    let mut arrived = Vec::new();
    for _ in 0..100 {
        arrived = smtp.received();
        if !arrived.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(arrived.len(), 1, "the reply must arrive at the SMTP server");
    let reply = parse_message(&arrived[0], DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    let token = ThreadToken::from_root("e2e-first@mail.example.net");
    assert_eq!(
        reply.in_reply_to,
        vec!["e2e-first@mail.example.net".to_owned()]
    );
    assert_eq!(
        reply.references,
        vec!["e2e-first@mail.example.net".to_owned()]
    );
    assert_eq!(reply.thread_header.as_deref(), Some(token.as_str()));
    assert_eq!(reply.subject.as_deref(), Some("Re: Order 1234 late"));
    assert_eq!(reply.to[0].handle(), "ann@example.net");
    assert_eq!(
        reply.reply_to.as_ref().map(|a| a.handle()),
        Some(format!("support+{token}@example.com"))
    );
    assert!(reply.text.contains("Your parcel ships today."));
    let record = restarted.desk.conversation(conv).await.unwrap();
    assert_eq!(
        record.messages.last().unwrap().external_id.as_deref(),
        Some(reply.message_id.as_str())
    );

    // 4. The customer answers; IDLE notices and it joins the conversation.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let poller = restarted.poller;
    let running = tokio::spawn(async move {
        poller
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer = format!(
        "From: Ann Lee <ann@example.net>\r\nTo: support+{token}@example.com\r\nSubject: Re: Order 1234 late\r\nMessage-ID: <e2e-second@mail.example.net>\r\nIn-Reply-To: <{id}>\r\nReferences: <e2e-first@mail.example.net> <{id}>\r\n\r\nGreat, thanks!\r\n\r\nOn Mon, 1 Jun 2026 at 10:00, Acme Support <support@example.com> wrote:\r\n> Your parcel ships today.\r\n",
        id = reply.message_id
    );
    append(imap.port, answer.as_bytes()).await;
    let mut joined = None;
    for _ in 0..150 {
        joined = store
            .locate_message(ChannelKind::Email, "e2e-second@mail.example.net")
            .await
            .unwrap();
        if joined.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await.unwrap();
    let joined = joined.expect("the answer was not ingested through IDLE");
    let first_message = &restarted.desk.conversation(conv).await.unwrap().messages[0];
    assert_eq!(
        first_message.raw.as_deref().map(str::as_bytes),
        Some(CUSTOMER_MAIL),
        "the source fetched over IMAP is kept as it was appended"
    );
    assert_eq!(joined.conversation_id, conv);
    let record = restarted.desk.conversation(conv).await.unwrap();
    assert_eq!(record.messages.len(), 3);
    assert_eq!(record.messages[2].text, "Great, thanks!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_reply_read_back_over_imap_is_an_echo_with_the_provider_id() {
    let Some(imap) = Dovecot::start("email echo (IMAP)") else {
        return;
    };
    let Some(smtp) = SmtpSink::start("email echo (SMTP)") else {
        return;
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = SmtpConfig::builder("127.0.0.1", common::MAILBOX)
        .security(SmtpSecurity::PlainForTests)
        .port(smtp.port)
        .from_name("Acme Support")
        .build()
        .unwrap();
    let channel = EmailChannel::new(config, clock.clone()).unwrap();
    let outbound = OutboundMessage::new(
        ChannelKind::Email,
        Visibility::Private,
        "Your parcel ships today.",
    )
    .with_recipient(Identity::new(ChannelKind::Email, "ann@example.net"))
    .with_subject("Re: Order 1234 late")
    .with_in_reply_to("e2e-first@mail.example.net");
    let delivery = channel.send(&outbound).await.unwrap();
    let mut arrived = Vec::new();
    for _ in 0..100 {
        arrived = smtp.received();
        if !arrived.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(arrived.len(), 1, "the reply must arrive at the SMTP server");

    // The copy lands in the support mailbox (a Bcc, a Sent folder).
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", imap.port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client
        .login("echo", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    session
        .append("INBOX", None, None, &arrived[0])
        .await
        .unwrap();
    session.logout().await.unwrap();

    let sink = Arc::new(carekit_testing::CollectingSink::new());
    let intake = Arc::new(EmailIntake::new(
        common::MAILBOX,
        sink.clone() as Arc<dyn EventSink>,
        clock,
    ));
    let config = ImapConfig::builder("127.0.0.1", "echo", "secret")
        .plain_for_tests()
        .port(imap.port)
        .build()
        .unwrap();
    let poller = ImapPoller::new(
        config,
        intake,
        Arc::new(MemoryStore::new()) as Arc<dyn KeyValues>,
    );
    let report = poller.poll_once().await.unwrap();
    assert_eq!((report.fetched, report.ingested), (1, 1), "{report:?}");
    let events = sink.events();
    assert_eq!(events[0].kind, EventKind::Echo);
    assert_eq!(events[0].external_id, delivery.provider_id);
    assert_eq!(events[0].author.handle, "ann@example.net");
    // IMAP serves lines ending in CRLF (the sink's maildir stores LF).
    let served = String::from_utf8(arrived[0].clone())
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    assert_eq!(events[0].raw.as_deref(), Some(served.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_sink_keeps_the_message_for_the_next_round() {
    let Some(imap) = Dovecot::start("email IMAP retry (IMAP)") else {
        return;
    };
    let store = Arc::new(MemoryStore::new());
    let sink = Arc::new(carekit_testing::CollectingSink::new());
    let intake = Arc::new(EmailIntake::new(
        common::MAILBOX,
        sink.clone() as Arc<dyn EventSink>,
        Arc::new(SystemClock),
    ));
    let config = ImapConfig::builder("127.0.0.1", "retry", "secret")
        .plain_for_tests()
        .port(imap.port)
        .build()
        .unwrap();
    let poller = ImapPoller::new(config, intake, store.clone() as Arc<dyn KeyValues>);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", imap.port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client
        .login("retry", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    session
        .append("INBOX", None, None, CUSTOMER_MAIL)
        .await
        .unwrap();
    session
        .append("INBOX", None, None, b"not a mail at all")
        .await
        .unwrap();
    session.logout().await.unwrap();

    sink.fail_next(1);
    let err = poller.poll_once().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        poller.position().await.unwrap(),
        None,
        "nothing passed over"
    );
    let report = poller.poll_once().await.unwrap();
    // The mail is stored now; the junk is logged and passed over.
    assert_eq!((report.fetched, report.ingested, report.skipped), (2, 1, 1));
    assert_eq!(sink.events().len(), 1);
    assert_eq!(poller.position().await.unwrap().unwrap().last_uid, 2);
}

#[tokio::test]
async fn no_server_is_a_retryable_error_and_run_stops_on_shutdown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = Arc::new(carekit_testing::CollectingSink::new());
    let intake = Arc::new(EmailIntake::new(
        common::MAILBOX,
        sink as Arc<dyn EventSink>,
        Arc::new(SystemClock),
    ));
    let config = ImapConfig::builder("127.0.0.1", "u", "secret")
        .plain_for_tests()
        .port(port)
        .build()
        .unwrap();
    let poller = ImapPoller::new(
        config,
        intake,
        Arc::new(MemoryStore::new()) as Arc<dyn KeyValues>,
    );
    let err = poller.poll_once().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(!format!("{err}").contains("secret"));
    tokio::time::timeout(
        Duration::from_secs(5),
        poller.run(tokio::time::sleep(Duration::from_millis(200))),
    )
    .await
    .expect("run must return on shutdown");
}
