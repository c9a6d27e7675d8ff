//! Writing first: `Desk::message_privately` and `Desk::channel_capabilities`.

use carekit_core::desk::ReplyRequest;
use carekit_core::store::Commit;
use carekit_core::*;
use carekit_testing::{RecordingChannel, at};
use std::sync::Arc;

async fn setup() -> (Desk, Arc<RecordingChannel>, CustomerId) {
    let sms = Arc::new(RecordingChannel::new(ChannelKind::Sms));
    let desk = Desk::builder()
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:00:00Z"))))
        .channel(sms.clone())
        .build()
        .unwrap();
    let customer = Customer::new(
        Identity::new(ChannelKind::Sms, "+14155550100"),
        at("2026-03-01T09:00:00Z"),
    );
    let id = customer.id;
    let mut commit = Commit::new();
    commit.customers.push(customer);
    desk.store().apply(commit).await.unwrap();
    (desk, sms, id)
}

#[tokio::test]
async fn a_private_message_opens_a_pending_conversation_and_goes_through_the_outbox() {
    let (desk, sms, customer) = setup().await;
    assert!(
        desk.channel_capabilities(ChannelKind::Sms, "")
            .unwrap()
            .private_message
    );
    assert!(desk.channel_capabilities(ChannelKind::Email, "").is_none());
    let (conversation, message) = desk
        .message_privately(
            customer,
            ChannelKind::Sms,
            ReplyRequest::bot("Service is back."),
        )
        .await
        .unwrap();
    let record = desk.conversation(conversation).await.unwrap();
    assert_eq!(record.status, Status::Pending);
    assert!(record.awaiting_customer);
    assert_eq!(record.visibility, Visibility::Private);
    assert_eq!(
        record.message(message).unwrap().delivery,
        Some(DeliveryState::Queued)
    );
    desk.run_outbox_once().await.unwrap();
    let sent = sms.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient.as_ref().unwrap().handle, "+14155550100");
    let record = desk.conversation(conversation).await.unwrap();
    assert_eq!(
        record.message(message).unwrap().delivery,
        Some(DeliveryState::Sent)
    );
}

#[tokio::test]
async fn a_private_message_is_refused_without_identity_channel_or_consent() {
    let (desk, sms, customer) = setup().await;
    let err = desk
        .message_privately(customer, ChannelKind::Email, ReplyRequest::bot("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeskError::NoIdentity(ChannelKind::Email)),
        "{err}"
    );
    let mut commit = Commit::new();
    commit.consent.push(ConsentRecord {
        channel: ChannelKind::Sms,
        handle: "+14155550100".into(),
        opted_in: false,
        at: at("2026-03-02T08:00:00Z"),
        source: "keyword STOP".into(),
    });
    desk.store().apply(commit).await.unwrap();
    let err = desk
        .message_privately(customer, ChannelKind::Sms, ReplyRequest::bot("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeskError::OptedOut(ChannelKind::Sms)),
        "{err}"
    );
    assert!(
        desk.message_privately(customer, ChannelKind::Sms, ReplyRequest::bot("  "))
            .await
            .is_err()
    );
    desk.run_outbox_once().await.unwrap();
    assert!(sms.sent().is_empty());
}
