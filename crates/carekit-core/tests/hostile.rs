//! Hostile input against the engine: whatever an adapter hands over, the
//! desk answers with a typed result, never a panic, and a replay changes
//! nothing.

use carekit_core::*;
use carekit_testing::at;
use proptest::prelude::*;
use std::sync::Arc;

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        Just(EventKind::Message),
        Just(EventKind::Echo),
        Just(EventKind::Edited),
        Just(EventKind::Removed),
        any::<bool>().prop_map(|opted_in| EventKind::Consent { opted_in }),
        ("[a-z0-9]{0,6}", 0u8..7).prop_map(|(provider_id, s)| EventKind::Delivery {
            provider_id,
            state: [
                DeliveryState::Queued,
                DeliveryState::Sending,
                DeliveryState::Sent,
                DeliveryState::Delivered,
                DeliveryState::Read,
                DeliveryState::Failed,
                DeliveryState::DeadLettered
            ][s as usize],
            error: None
        }),
    ]
}

fn event() -> impl Strategy<Value = InboundEvent> {
    (
        0usize..4,
        "\\PC{0,12}",
        "[a-c]{0,2}",
        "\\PC{0,40}",
        kind(),
        proptest::option::of("[a-c0-9]{1,3}"),
        proptest::collection::vec("[0-9a-z]{0,4}", 0..3),
        any::<bool>(),
        -100_000i64..100_000,
    )
        .prop_map(|(ch, id, who, text, kind, key, parents, public, secs)| {
            let channel = [
                ChannelKind::Twitter,
                ChannelKind::Facebook,
                ChannelKind::Sms,
                ChannelKind::Email,
            ][ch];
            let visibility = if public {
                Visibility::Public
            } else {
                Visibility::Private
            };
            let mut e = InboundEvent::message(
                channel,
                visibility,
                id,
                Identity::new(channel, who),
                text,
                at("2026-03-02T09:00:00Z") + chrono::Duration::seconds(secs),
            )
            .with_kind(kind);
            if let Some(key) = key {
                e = e.with_thread_key(key);
            }
            for p in parents {
                e = e.with_parent(p);
            }
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_event_stream_is_handled_and_replays_change_nothing(events in proptest::collection::vec(event(), 1..25)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let desk = Desk::builder()
                .clock(Arc::new(FakeClock::new(at("2026-03-02T10:00:00Z"))))
                .channel(Arc::new(carekit_testing::RecordingChannel::new(ChannelKind::Twitter)))
                .rule(Arc::new(desk::AutoAcknowledge::everyone("sorry", "thanks")))
                .build()
                .unwrap();
            for e in &events {
                match desk.ingest(e.clone()).await {
                    Ok(_) | Err(DeskError::InvalidEvent(_)) => {}
                    Err(other) => panic!("unexpected error {other:?} for {e:?}"),
                }
            }
            let before = desk.conversations(&ConversationFilter::all()).await.unwrap();
            for e in &events {
                if let Ok(outcome) = desk.ingest(e.clone()).await {
                    assert!(outcome.is_duplicate(), "replay of {e:?} was not a duplicate: {outcome:?}");
                }
            }
            let after = desk.conversations(&ConversationFilter::all()).await.unwrap();
            assert_eq!(before, after, "a replay changed stored conversations");
            let _ = desk.run_outbox_once().await.unwrap();
        });
    }

    #[test]
    fn arbitrary_json_never_panics_the_event_parser(text in "\\PC{0,300}") {
        let _ = serde_json::from_str::<InboundEvent>(&text);
    }
}
