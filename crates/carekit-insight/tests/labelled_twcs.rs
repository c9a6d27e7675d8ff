//! The listening classifiers on 400 labelled real customer tweets (TWCS,
//! Thought Vector, CC BY-NC-SA 4.0, read from ../shared/data/twcs/; these
//! tests skip loudly when it is absent). Figures and the command that
//! prints them: docs/insight.md.

use carekit_insight::TaxonomyClassifier;
use carekit_insight::evaluation::{
    Anger, anger_figures, crisis_figures, customer_texts, default_twcs_path, evaluation_set,
    topic_figures,
};
use carekit_policy::builtin::CrisisTerms;
use carekit_policy::sentiment::UNSUPPORTED_LANGUAGE_LABEL;
use carekit_policy::{CareSentiment, LexiconSentiment};
use std::collections::HashMap;

/// Gold anger and a classifier's score, per labelled tweet.
type Scored = Vec<(Anger, Option<f32>)>;

fn texts() -> Option<HashMap<String, String>> {
    let path = default_twcs_path(env!("CARGO_MANIFEST_DIR"));
    match std::fs::File::open(&path) {
        Ok(file) => Some(customer_texts(file)),
        Err(_) => {
            eprintln!(
                "SKIPPED: TWCS data not found at {}; the labelled evaluation did not run",
                path.display()
            );
            None
        }
    }
}

fn scored(texts: &HashMap<String, String>) -> (Scored, Scored) {
    let care = CareSentiment::default();
    let set = evaluation_set();
    assert!(
        set.iter().all(|l| texts.contains_key(&l.id)),
        "a labelled id is missing"
    );
    let new = set
        .iter()
        .map(|l| (l.anger, care.score(&texts[&l.id])))
        .collect();
    let old = set
        .iter()
        .map(|l| (l.anger, Some(LexiconSentiment::score(&texts[&l.id]))))
        .collect();
    (new, old)
}

/// The target: at the shipped threshold, recall of strongly angry
/// tweets and precision (flagged tweets labelled strong) both at least
/// 80%. Not met today (docs/insight.md gives the figures and the gap), so
/// it is ignored in the suite; `cargo test -p carekit-insight --test
/// labelled_twcs -- --ignored` shows by how much.
#[test]
#[ignore = "target not met yet: see docs/insight.md, 'Anger'"]
fn shipped_threshold_meets_the_anger_targets() {
    let Some(texts) = texts() else { return };
    let (new, _) = scored(&texts);
    let f = anger_figures(&new, CareSentiment::STRONG_ANGER);
    assert!(
        f.strong.recall() >= 0.8 && f.strong.precision() >= 0.8,
        "recall {:.3}, precision {:.3}",
        f.strong.recall(),
        f.strong.precision()
    );
}

/// What the shipped threshold does achieve, kept from sliding back: it
/// finds far more of the strongly angry customers than the old lexicon at
/// the old server threshold (at least 60% of them), at about the same
/// precision, and what it flags is nearly always a complaint.
#[test]
fn care_analyser_finds_angry_customers_the_old_lexicon_missed() {
    let Some(texts) = texts() else { return };
    let (new, old) = scored(&texts);
    let care = anger_figures(&new, CareSentiment::STRONG_ANGER);
    let before = anger_figures(&old, -0.6);
    eprintln!(
        "strong anger: care analyser at {} recall {:.3} precision {:.3} (mild or strong {:.3}); old lexicon at -0.6 recall {:.3} precision {:.3}",
        CareSentiment::STRONG_ANGER,
        care.strong.recall(),
        care.strong.precision(),
        care.precision_mild_or_strong,
        before.strong.recall(),
        before.strong.precision()
    );
    // Measured once after the training-set revision: recall 0.631,
    // precision 0.532, mild or strong 0.870 (docs/insight.md).
    assert!(care.strong.recall() >= 0.6, "{care:?}");
    assert!(
        care.strong.recall() >= 4.0 * before.strong.recall(),
        "{care:?} {before:?}"
    );
    assert!(care.strong.precision() >= 0.5, "{care:?}");
    assert!(care.strong.precision() >= before.strong.precision() - 0.05);
    assert!(care.precision_mild_or_strong >= 0.85, "{care:?}");
}

#[test]
fn crisis_terms_rarely_fire_on_ordinary_complaints() {
    let Some(texts) = texts() else { return };
    let set = evaluation_set();
    let new = crisis_figures(&set, &texts, &CrisisTerms::default_terms());
    eprintln!(
        "crisis terms: {}/{} ordinary complaints alarmed ({:.2}%), {}/{} crisis tweets caught",
        new.false_alarms_on_complaints,
        new.ordinary_complaints,
        new.false_alarm_rate() * 100.0,
        new.crisis.true_positives,
        new.crisis.true_positives + new.crisis.false_negatives
    );
    assert!(new.ordinary_complaints >= 100);
    assert!(new.false_alarm_rate() < 0.02, "{new:?}");
    // The old defaults fired on "refund": never fewer false alarms.
    let old = crisis_figures(
        &set,
        &texts,
        &CrisisTerms::new(["refund", "fire", "cancel my account"], "crisis"),
    );
    assert!(old.false_alarms_on_complaints > new.false_alarms_on_complaints);
    assert!(new.crisis.true_positives >= 1, "{new:?}");
}

#[tokio::test]
async fn foreign_tweets_are_marked_unsupported_not_neutral() {
    use carekit_core::Classifier;
    let Some(texts) = texts() else { return };
    let care = CareSentiment::default();
    let (mut foreign, mut marked, mut english_unscored) = (0, 0, 0);
    for l in evaluation_set() {
        let c = care.classify(&texts[&l.id]).await;
        if l.lang == "en" {
            english_unscored += usize::from(c.sentiment.is_none());
        } else if l.lang != "und" {
            foreign += 1;
            if c.sentiment.is_none() && c.labels.iter().any(|x| x == UNSUPPORTED_LANGUAGE_LABEL) {
                marked += 1;
                assert_eq!(c.language.as_deref(), Some(l.lang.as_str()), "{}", l.id);
            }
        }
    }
    eprintln!(
        "non-English tweets marked unsupported: {marked}/{foreign}; English unscored: {english_unscored}"
    );
    assert!(foreign >= 10);
    assert!(marked * 4 >= foreign * 3, "{marked}/{foreign}");
    assert_eq!(english_unscored, 0);
}

#[test]
fn default_taxonomy_topics_on_real_tweets() {
    let Some(texts) = texts() else { return };
    let f = topic_figures(
        &evaluation_set(),
        &texts,
        &TaxonomyClassifier::care_defaults(),
    );
    for (topic, b) in &f.per_topic {
        eprintln!(
            "{topic}: coverage {:.3} precision {:.3} ({} predicted)",
            b.recall(),
            b.precision(),
            b.flagged()
        );
        assert!(b.flagged() >= 5, "{topic} is never predicted");
        assert!(b.precision() >= 0.5, "{topic}: {b:?}");
    }
    assert!(
        f.gold_topical_right * 10 >= f.gold_topical * 4,
        "{}/{}",
        f.gold_topical_right,
        f.gold_topical
    );
}
