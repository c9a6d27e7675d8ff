//! Top issues from stored conversations against hand-computed counts.

use async_trait::async_trait;
use carekit_core::desk::HandoffRequest;
use carekit_core::*;
use carekit_insight::{NearDuplicates, TaxonomyClassifier, TopIssues, TopIssuesOptions};
use carekit_testing::{RecordingChannel, at, sample_event};
use chrono::Duration;
use mockall::mock;
use std::sync::Arc;

const TAXONOMY: &str = r#"
[[topics]]
name = "billing"
keywords = ["refund", "invoice"]
phrases = ["charged twice"]

[[topics]]
name = "delivery"
keywords = ["parcel", "courier"]
phrases = ["not arrived"]
"#;

/// The fixture, opened one minute apart in this order:
/// 1 tweet   delivery            near-duplicate of 2 and 4
/// 2 tweet   delivery            (then handed off to SMS, where the customer says "yes please")
/// 3 SMS     billing
/// 4 email   delivery
/// 5 SMS     no topic
/// 6 tweet   billing + delivery  (shares only 3 of 12 shingles with 1)
/// 3 also gets a second message about a parcel: only the first message is the complaint.
const TEXTS: [(ChannelKind, &str, &str); 6] = [
    (
        ChannelKind::Twitter,
        "u1",
        "My parcel has not arrived yet and it is late",
    ),
    (
        ChannelKind::Twitter,
        "u2",
        "my parcel has NOT arrived yet, and it is so late!",
    ),
    (
        ChannelKind::Sms,
        "+1003",
        "I was charged twice for my order, refund please",
    ),
    (
        ChannelKind::Email,
        "d@example.com",
        "Hi, my parcel has not arrived yet and it is late",
    ),
    (ChannelKind::Sms, "+1005", "Love the new store design"),
    (
        ChannelKind::Twitter,
        "u6",
        "Invoice wrong and my parcel has not arrived",
    ),
];

async fn fixture() -> (Desk, Vec<ConversationId>) {
    let clock = FakeClock::new(at("2026-03-02T09:00:00Z"));
    let mut builder = Desk::builder().clock(Arc::new(clock.clone()));
    for kind in [ChannelKind::Twitter, ChannelKind::Sms, ChannelKind::Email] {
        builder = builder.channel(Arc::new(RecordingChannel::new(kind)));
    }
    let desk = builder.build().unwrap();
    let mut ids = Vec::new();
    for (i, (kind, handle, text)) in TEXTS.iter().enumerate() {
        clock.set(clock.now() + Duration::minutes(1));
        let event = sample_event(*kind, &format!("m{i}"), handle, text, clock.now())
            .with_thread_key(format!("{kind}:{handle}"));
        ids.push(desk.ingest(event).await.unwrap().conversation_id().unwrap());
    }
    clock.set(clock.now() + Duration::minutes(1));
    desk.ingest(
        sample_event(
            ChannelKind::Sms,
            "m3b",
            "+1003",
            "also my parcel is late",
            clock.now(),
        )
        .with_thread_key("sms:+1003"),
    )
    .await
    .unwrap();
    desk.handoff(
        ids[1],
        HandoffRequest::new(
            ChannelKind::Sms,
            "Can we text you?",
            Actor::Agent("ann".into()),
        )
        .with_recipient(Identity::new(ChannelKind::Sms, "+1002")),
    )
    .await
    .unwrap();
    clock.set(clock.now() + Duration::minutes(1));
    desk.ingest(sample_event(
        ChannelKind::Sms,
        "m2b",
        "+1002",
        "yes please",
        clock.now(),
    ))
    .await
    .unwrap();
    (desk, ids)
}

#[tokio::test]
async fn top_issues_match_hand_computed_counts() {
    let (desk, ids) = fixture().await;
    let taxonomy = TaxonomyClassifier::from_toml(TAXONOMY).unwrap();
    let issues = TopIssues::from_store(
        desk.store().as_ref(),
        &ConversationFilter::all(),
        &taxonomy,
        &TopIssuesOptions::builder().examples(2).build(),
    )
    .await
    .unwrap();
    assert_eq!(
        issues.complaints, 6,
        "7 conversations less the handoff's private side"
    );
    assert_eq!(issues.unclassified, 1);
    let topics: Vec<(&str, usize)> = issues
        .topics
        .iter()
        .map(|t| (t.topic.as_str(), t.count))
        .collect();
    assert_eq!(topics, [("delivery", 4), ("billing", 2)]);
    assert_eq!(issues.topics[0].examples, [TEXTS[0].2, TEXTS[1].2]);
    assert_eq!(issues.topics[1].examples, [TEXTS[2].2, TEXTS[5].2]);
    assert_eq!(issues.near_duplicates.len(), 1);
    let group = &issues.near_duplicates[0];
    assert_eq!(group.count, 3);
    assert_eq!(group.example, TEXTS[0].2);
    assert_eq!(group.conversations, [ids[0], ids[1], ids[3]]);

    let json: serde_json::Value = serde_json::from_str(&issues.to_json()).unwrap();
    assert_eq!(json["topics"][0]["topic"], "delivery");
    assert_eq!(json["topics"][0]["count"], 4);
    assert_eq!(json["near_duplicates"][0]["count"], 3);
    assert_eq!(json["complaints"], 6);
}

#[tokio::test]
async fn limits_cut_topics_and_groups() {
    let (desk, _) = fixture().await;
    let taxonomy = TaxonomyClassifier::from_toml(TAXONOMY).unwrap();
    let options = TopIssuesOptions::builder()
        .max_topics(1)
        .max_groups(0)
        .near_duplicates(NearDuplicates::builder().threshold(0.2).build().unwrap())
        .build();
    let issues = TopIssues::from_store(
        desk.store().as_ref(),
        &ConversationFilter::all(),
        &taxonomy,
        &options,
    )
    .await
    .unwrap();
    assert_eq!(issues.topics.len(), 1);
    assert_eq!(issues.topics[0].topic, "delivery");
    assert!(issues.near_duplicates.is_empty());
}

mock! {
    Cls {}
    #[async_trait]
    impl Classifier for Cls {
        async fn classify(&self, text: &str) -> Classification;
    }
}

#[tokio::test]
async fn each_complaint_is_classified_once_with_any_classifier() {
    let (desk, _) = fixture().await;
    let mut classifier = MockCls::new();
    classifier
        .expect_classify()
        .times(6)
        .withf(|text| text != "yes please" && text != "also my parcel is late")
        .returning(|text| Classification {
            topics: if text.contains("Love") {
                vec![Topic {
                    name: "praise".into(),
                    score: 1.0,
                }]
            } else {
                Vec::new()
            },
            ..Classification::default()
        });
    let issues = TopIssues::from_store(
        desk.store().as_ref(),
        &ConversationFilter::all(),
        &classifier,
        &TopIssuesOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(issues.unclassified, 5);
    assert_eq!(issues.topics.len(), 1);
    assert_eq!(issues.topics[0].examples, [TEXTS[4].2]);
}
