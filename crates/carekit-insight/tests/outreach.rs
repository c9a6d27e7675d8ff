//! Proactive outreach through the real desk, memory store and recording channels.

use carekit_core::store::Commit;
use carekit_core::*;
use carekit_insight::outreach::Outreach;
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::Duration;
use std::sync::Arc;

struct World {
    desk: Desk,
    clock: FakeClock,
    sms: Arc<RecordingChannel>,
    email: Arc<RecordingChannel>,
    facebook: Arc<RecordingChannel>,
}

fn world() -> World {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let email = Arc::new(RecordingChannel::new(ChannelKind::Email));
    let facebook = Arc::new(RecordingChannel::new(ChannelKind::Facebook));
    // X here can only post publicly: no private route for X-only customers.
    let twitter = Arc::new(RecordingChannel::with_capabilities(
        ChannelKind::Twitter,
        Capabilities::new().with_public_reply(true),
    ));
    let desk = Desk::builder()
        .clock(Arc::new(clock.clone()))
        .channel(sms.clone())
        .channel(email.clone())
        .channel(facebook.clone())
        .channel(twitter)
        .build()
        .unwrap();
    World {
        desk,
        clock,
        sms,
        email,
        facebook,
    }
}

/// Stores a customer known under these identities.
async fn customer(
    w: &World,
    ids: &[(ChannelKind, &str)],
    preferred: Option<ChannelKind>,
) -> CustomerId {
    let mut identities = ids.iter().map(|(k, h)| Identity::new(*k, *h));
    let mut c = Customer::new(identities.next().unwrap(), w.clock.now());
    for identity in identities {
        c.link(identity);
    }
    c.preferred_private = preferred;
    let id = c.id;
    let mut commit = Commit::new();
    commit.customers.push(c);
    w.desk.store().apply(commit).await.unwrap();
    id
}

async fn tweet(w: &World, id: &str, handle: &str) -> ConversationId {
    let event = sample_event(
        ChannelKind::Twitter,
        id,
        handle,
        "billing broken",
        w.clock.now(),
    );
    w.desk
        .ingest(event)
        .await
        .unwrap()
        .conversation_id()
        .unwrap()
}

async fn messenger(w: &World, id: &str, psid: &str, when: chrono::DateTime<chrono::Utc>) {
    let event = InboundEvent::message(
        ChannelKind::Facebook,
        Visibility::Private,
        id,
        Identity::new(ChannelKind::Facebook, psid),
        "hello?",
        when,
    )
    .with_thread_key(format!("m:{psid}"));
    w.desk.ingest(event).await.unwrap();
}

async fn stop(w: &World, id: &str, phone: &str) {
    let event = InboundEvent::message(
        ChannelKind::Sms,
        Visibility::Private,
        id,
        Identity::new(ChannelKind::Sms, phone),
        "STOP",
        w.clock.now(),
    )
    .with_kind(EventKind::Consent { opted_in: false });
    w.desk.ingest(event).await.unwrap();
}

#[tokio::test]
async fn outreach_respects_opt_outs_windows_and_preferences_and_tracks_delivery() {
    let w = world();
    let start = w.clock.now();
    // A: tweeted; phone known -> a new SMS conversation.
    let a = customer(
        &w,
        &[
            (ChannelKind::Twitter, "ta"),
            (ChannelKind::Sms, "+14155550101"),
        ],
        None,
    )
    .await;
    let a_tweet = tweet(&w, "t-a", "ta").await;
    // B: tweeted; texted STOP; nothing else -> skipped, opted out.
    let b = customer(
        &w,
        &[
            (ChannelKind::Twitter, "tb"),
            (ChannelKind::Sms, "+14155550102"),
        ],
        None,
    )
    .await;
    let b_tweet = tweet(&w, "t-b", "tb").await;
    stop(&w, "SM-b", "+14155550102").await;
    // C: Messenger only, last wrote two days ago -> outside the 24 h window.
    let c = customer(&w, &[(ChannelKind::Facebook, "psid-c")], None).await;
    messenger(&w, "m-c", "psid-c", start - Duration::days(2)).await;
    // D: Messenger two hours ago -> answered in that conversation.
    let d = customer(&w, &[(ChannelKind::Facebook, "psid-d")], None).await;
    messenger(&w, "m-d", "psid-d", start - Duration::hours(2)).await;
    // E: X only -> no private channel.
    let e = customer(&w, &[(ChannelKind::Twitter, "te")], None).await;
    let e_tweet = tweet(&w, "t-e", "te").await;
    // F: prefers email over SMS.
    let f = customer(
        &w,
        &[
            (ChannelKind::Twitter, "tf"),
            (ChannelKind::Sms, "+14155550106"),
            (ChannelKind::Email, "f@example.com"),
        ],
        Some(ChannelKind::Email),
    )
    .await;
    // G: opted out of SMS, reachable by email.
    let g = customer(
        &w,
        &[
            (ChannelKind::Sms, "+14155550107"),
            (ChannelKind::Email, "g@example.com"),
        ],
        None,
    )
    .await;
    stop(&w, "SM-g", "+14155550107").await;

    let outreach = Outreach::builder("Billing is fixed; any double charge is refunded by Friday.")
        .subject("About your bill")
        .build()
        .unwrap();
    // Incident conversations (A twice via two ids is fine: each customer once).
    let from_incident = outreach
        .to_conversations(&w.desk, &[a_tweet, b_tweet, e_tweet, a_tweet])
        .await
        .unwrap();
    assert_eq!(from_incident.queued.len(), 1);
    assert_eq!(from_incident.queued[0].customer, a);
    assert_eq!(from_incident.queued[0].channel, ChannelKind::Sms);
    assert_eq!(from_incident.skipped_opted_out, vec![b]);
    assert_eq!(from_incident.no_private_channel, vec![e]);
    assert_eq!(from_incident.total(), 3);

    let report = outreach.to_customers(&w.desk, &[c, d, f, g]).await.unwrap();
    assert_eq!(report.skipped_outside_window, vec![c]);
    let channels: Vec<_> = report
        .queued
        .iter()
        .map(|q| (q.customer, q.channel))
        .collect();
    assert_eq!(
        channels,
        vec![
            (d, ChannelKind::Facebook),
            (f, ChannelKind::Email),
            (g, ChannelKind::Email)
        ]
    );
    // D's notice went into the existing Messenger conversation.
    let d_convs = w
        .desk
        .conversations(&ConversationFilter::all().with_customer(d))
        .await
        .unwrap();
    assert_eq!(d_convs.len(), 1);
    assert_eq!(report.queued[0].conversation_id, d_convs[0].id);

    // Queued, then sent through the outbox; status readable afterwards.
    let before = report.delivery(&w.desk).await.unwrap();
    assert!(
        before
            .iter()
            .all(|n| n.state == Some(DeliveryState::Queued))
    );
    w.desk.run_outbox_once().await.unwrap();
    let after = report.delivery(&w.desk).await.unwrap();
    assert!(
        after.iter().all(|n| n.state == Some(DeliveryState::Sent)),
        "{after:?}"
    );
    let first = from_incident.delivery(&w.desk).await.unwrap();
    assert_eq!(first[0].state, Some(DeliveryState::Sent));

    let texts = w.sms.sent();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].recipient.as_ref().unwrap().handle, "+14155550101");
    assert_eq!(texts[0].visibility, Visibility::Private);
    let mails = w.email.sent();
    let to: Vec<_> = mails
        .iter()
        .map(|m| m.recipient.as_ref().unwrap().handle.clone())
        .collect();
    assert_eq!(to, vec!["f@example.com", "g@example.com"]);
    assert!(
        mails
            .iter()
            .all(|m| m.subject.as_deref() == Some("About your bill"))
    );
    assert_eq!(w.facebook.sent().len(), 1);
    // The new SMS conversation waits for A's answer, which threads into it.
    let a_sms = w
        .desk
        .conversation(from_incident.queued[0].conversation_id)
        .await
        .unwrap();
    assert_eq!(a_sms.channel, ChannelKind::Sms);
    assert!(a_sms.awaiting_customer);
    let answer = sample_event(
        ChannelKind::Sms,
        "SM-a",
        "+14155550101",
        "thanks",
        w.clock.now(),
    );
    let threaded = w
        .desk
        .ingest(answer)
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    assert_eq!(threaded, a_sms.id);
}

#[tokio::test]
async fn an_empty_notice_is_refused() {
    assert!(Outreach::builder("  ").build().is_err());
}

#[tokio::test]
async fn each_channel_gets_its_own_words_and_the_limit_stops_the_rest() {
    let w = world();
    let sms_customer = customer(&w, &[(ChannelKind::Sms, "+14155550111")], None).await;
    let email_customer = customer(&w, &[(ChannelKind::Email, "kim@example.com")], None).await;
    let third = customer(&w, &[(ChannelKind::Sms, "+14155550112")], None).await;
    let notice = Outreach::builder("We know about the outage.")
        .text_on(ChannelKind::Sms, "Outage known, fix soon.")
        .max_customers(2)
        .build()
        .unwrap();
    assert_eq!(notice.text_for(ChannelKind::Sms), "Outage known, fix soon.");
    assert_eq!(
        notice.text_for(ChannelKind::Email),
        "We know about the outage."
    );
    let report = notice
        .to_customers(&w.desk, &[sms_customer, email_customer, third])
        .await
        .unwrap();
    assert_eq!(report.queued.len(), 2);
    assert_eq!(report.skipped_over_limit, [third]);
    assert_eq!(report.total(), 3);
    w.desk.run_outbox_once().await.unwrap();
    let sms: Vec<String> = w.sms.sent().iter().map(|m| m.text.clone()).collect();
    let email: Vec<String> = w.email.sent().iter().map(|m| m.text.clone()).collect();
    assert_eq!(sms, ["Outage known, fix soon."]);
    assert_eq!(email, ["We know about the outage."]);
    assert!(
        Outreach::builder("ok")
            .text_on(ChannelKind::Sms, " ")
            .build()
            .is_err(),
        "an empty channel text is refused"
    );
}

#[tokio::test]
async fn a_prepared_notice_sent_by_a_person_keeps_its_words_and_limit_and_names_them() {
    let w = world();
    let first = customer(&w, &[(ChannelKind::Sms, "+14155550121")], None).await;
    let second = customer(&w, &[(ChannelKind::Sms, "+14155550122")], None).await;
    let prepared = Outreach::builder("We know about the outage.")
        .text_on(ChannelKind::Sms, "Outage known, fix soon.")
        .max_customers(1)
        .build()
        .unwrap();
    let report = prepared
        .sent_by("ana")
        .to_customers(&w.desk, &[first, second])
        .await
        .unwrap();
    assert_eq!(report.queued.len(), 1);
    assert_eq!(report.skipped_over_limit, [second]);
    let queued = &report.queued[0];
    let record = w.desk.conversation(queued.conversation_id).await.unwrap();
    let message = record.message(queued.message_id).unwrap();
    assert_eq!(message.author, Author::Agent("ana".into()));
    assert_eq!(message.text, "Outage known, fix soon.");
    // The prepared notice itself still speaks as automation.
    let report = prepared.to_customers(&w.desk, &[second]).await.unwrap();
    let queued = &report.queued[0];
    let record = w.desk.conversation(queued.conversation_id).await.unwrap();
    assert_eq!(
        record.message(queued.message_id).unwrap().author,
        Author::Bot
    );
}

#[test]
fn a_subject_is_one_line_and_texts_are_bounded() {
    use carekit_insight::outreach::{MAX_SUBJECT_BYTES, OutreachError};
    for subject in [
        "Outage\r\nBcc: everyone@example.com".to_owned(),
        "line\nbreak".to_owned(),
        "s".repeat(MAX_SUBJECT_BYTES + 1),
    ] {
        assert!(
            matches!(
                Outreach::builder("We know.")
                    .subject(subject.clone())
                    .build(),
                Err(OutreachError::BadSubject)
            ),
            "{subject:?}"
        );
    }
    assert!(matches!(
        Outreach::builder("x".repeat(carekit_core::domain::MAX_TEXT_BYTES + 1)).build(),
        Err(OutreachError::TooLong)
    ));
    assert!(matches!(
        Outreach::builder("ok")
            .text_on(
                ChannelKind::Sms,
                "x".repeat(carekit_core::domain::MAX_TEXT_BYTES + 1)
            )
            .build(),
        Err(OutreachError::TooLong)
    ));
    let longest = "é".repeat(MAX_SUBJECT_BYTES / 2);
    assert!(
        Outreach::builder("We know.")
            .subject(longest)
            .build()
            .is_ok()
    );
    assert!(
        Outreach::builder("We know.")
            .subject("Ausfall: wir arbeiten daran 🚧")
            .build()
            .is_ok()
    );
}
