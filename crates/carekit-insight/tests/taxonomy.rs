//! The taxonomy classifier: loading, matching rules, typed build errors.

use carekit_core::desk::TagTopics;
use carekit_core::*;
use carekit_insight::{TaxonomyClassifier, TaxonomyError, TopicSpec};
use carekit_testing::{RecordingChannel, at, sample_event};
use std::sync::Arc;

const TOML: &str = r#"
[[topics]]
name = "billing"
keywords = ["refund", { text = "invoice", weight = 2.0 }]
phrases = [{ text = "charged twice", weight = 3.0 }]

[[topics]]
name = "delivery"
keywords = ["parcel", "courier"]
phrases = ["not arrived", "where is my order"]

[[topics]]
name = "outage"
keywords = ["down"]
phrases = ["cant log in"]
min_score = 2.0
"#;

fn scores(t: &TaxonomyClassifier, text: &str) -> Vec<(String, f32)> {
    t.topics_of(text)
        .into_iter()
        .map(|t| (t.name, t.score))
        .collect()
}

#[test]
fn matches_whole_words_regardless_of_case_and_punctuation() {
    let t = TaxonomyClassifier::from_toml(TOML).unwrap();
    // refund (1) + invoice (2) + "charged twice" (3) = 6; the phrase across a comma.
    assert_eq!(
        scores(&t, "I was CHARGED, twice!!! Refund the invoice."),
        vec![("billing".to_owned(), 6.0)]
    );
    // Each pattern counts once, however often it appears.
    assert_eq!(
        scores(&t, "refund refund REFUND"),
        vec![("billing".to_owned(), 1.0)]
    );
    // Word boundaries: "refunded" and "parcels" are other words.
    assert!(scores(&t, "I was refunded for the parcels").is_empty());
    // Strongest first, then by name.
    assert_eq!(
        scores(&t, "Where is my order?? The courier said refund"),
        vec![("delivery".to_owned(), 2.0), ("billing".to_owned(), 1.0)]
    );
    // min_score: one outage pattern (1) is not enough, both (2) are.
    assert!(scores(&t, "site is down").is_empty());
    assert_eq!(
        scores(&t, "Site is DOWN and I can't log in"),
        vec![("outage".to_owned(), 2.0)]
    );
}

#[test]
fn json_and_toml_load_the_same_taxonomy() {
    let json = r#"{"topics": [
        {"name": "billing", "keywords": ["refund", {"text": "invoice", "weight": 2.0}],
         "phrases": [{"text": "charged twice", "weight": 3.0}]},
        {"name": "delivery", "keywords": ["parcel", "courier"],
         "phrases": ["not arrived", "where is my order"]},
        {"name": "outage", "keywords": ["down"], "phrases": ["cant log in"], "min_score": 2.0}
    ]}"#;
    let a = TaxonomyClassifier::from_json(json).unwrap();
    let b = TaxonomyClassifier::from_toml(TOML).unwrap();
    for text in [
        "charged twice, refund",
        "parcel not arrived",
        "down, can't log in",
    ] {
        assert_eq!(scores(&a, text), scores(&b, text), "{text}");
        assert!(!scores(&a, text).is_empty(), "{text}");
    }
    assert_eq!(
        a.topic_names().collect::<Vec<_>>(),
        ["billing", "delivery", "outage"]
    );
}

#[test]
fn an_empty_pattern_is_a_typed_error() {
    let err = TaxonomyClassifier::builder()
        .topic(TopicSpec::new("billing").keyword("refund", 1.0))
        .topic(TopicSpec::new("delivery").phrase("", 1.0))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, TaxonomyError::EmptyPattern { topic } if topic == "delivery"),
        "{err}"
    );
    // Punctuation only is empty too, and so from TOML.
    let err = TaxonomyClassifier::from_toml(
        "[[topics]]\nname = \"billing\"\nkeywords = [\"refund\", \" ?! \"]\n",
    )
    .unwrap_err();
    assert!(matches!(&err, TaxonomyError::EmptyPattern { topic } if topic == "billing"));
}

#[test]
fn other_bad_taxonomies_are_typed_errors() {
    let build = |topics: Vec<TopicSpec>| {
        topics
            .into_iter()
            .fold(TaxonomyClassifier::builder(), |b, t| b.topic(t))
            .build()
            .unwrap_err()
    };
    assert!(matches!(
        build(vec![TopicSpec::new("a").keyword("two words", 1.0)]),
        TaxonomyError::KeywordNotAWord { .. }
    ));
    assert!(matches!(
        build(vec![
            TopicSpec::new("a").keyword("x", 1.0),
            TopicSpec::new("a").keyword("y", 1.0)
        ]),
        TaxonomyError::DuplicateTopic { topic } if topic == "a"
    ));
    assert!(matches!(
        build(vec![TopicSpec::new("a").keyword("x", 0.0)]),
        TaxonomyError::InvalidWeight { .. }
    ));
    assert!(matches!(
        build(vec![TopicSpec::new("a").keyword("x", f32::NAN)]),
        TaxonomyError::InvalidWeight { .. }
    ));
    assert!(matches!(
        build(vec![TopicSpec::new("a")]),
        TaxonomyError::NoPatterns { .. }
    ));
    assert!(matches!(
        build(vec![TopicSpec::new(" ").keyword("x", 1.0)]),
        TaxonomyError::EmptyTopicName
    ));
    assert!(matches!(
        TaxonomyClassifier::from_toml("[[topics]\nname=").unwrap_err(),
        TaxonomyError::Toml(_)
    ));
    assert!(matches!(
        TaxonomyClassifier::from_json("{\"topics\": 3}").unwrap_err(),
        TaxonomyError::Json(_)
    ));
}

#[tokio::test]
async fn the_desk_tags_conversations_with_taxonomy_topics() {
    let taxonomy = TaxonomyClassifier::from_toml(TOML).unwrap();
    let desk = Desk::builder()
        .clock(Arc::new(FakeClock::new(at("2026-03-02T09:00:00Z"))))
        .channel(Arc::new(RecordingChannel::new(ChannelKind::Twitter)))
        .classifier(Arc::new(taxonomy))
        .rule(Arc::new(TagTopics::new(1.0)))
        .build()
        .unwrap();
    let id = desk
        .ingest(sample_event(
            ChannelKind::Twitter,
            "T1",
            "u1",
            "charged twice for my parcel",
            at("2026-03-02T09:00:00Z"),
        ))
        .await
        .unwrap()
        .conversation_id()
        .unwrap();
    let c = desk.conversation(id).await.unwrap();
    let tags: Vec<&str> = c.tags.iter().map(String::as_str).collect();
    assert_eq!(tags, ["topic:billing", "topic:delivery"]);
}

#[test]
fn care_defaults_load_and_the_desk_example_is_the_same_taxonomy() {
    let spec = carekit_insight::TaxonomySpec::care_defaults();
    let names: Vec<&str> = spec.topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "delivery",
            "billing",
            "account_access",
            "outage",
            "product_fault",
            "customer_service",
            "travel",
            "praise"
        ]
    );
    // Built without error (care_defaults falls back to no topics).
    let t = TaxonomyClassifier::care_defaults();
    assert_eq!(t.topic_names().count(), 8);
    assert_eq!(t.topics_of("where is my parcel?")[0].name, "delivery");
    assert_eq!(t.topics_of("I was charged twice")[0].name, "billing");
    assert_eq!(
        t.topics_of("is it down? no internet here")[0].name,
        "outage"
    );
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../carekit-desk/config/taxonomy.example.toml"
    ))
    .unwrap();
    assert!(TaxonomyClassifier::from_toml(&example).is_ok());
    let from_example: carekit_insight::TaxonomySpec = toml::from_str(&example).unwrap();
    assert_eq!(from_example, spec);
}
