//! Measures the listening classifiers on labelled real customer tweets:
//! agreement of the two readings, anger (old lexicon against the care
//! analyser, several thresholds, confusion matrices), language, crisis
//! terms (old defaults against new) and the default taxonomy's topics.
//!
//! ```text
//! cargo run --release -p carekit-insight --example evaluate            # the 400-tweet evaluation set
//! cargo run --release -p carekit-insight --example evaluate -- --dev   # the 300-tweet development set (anger only)
//! cargo run --release -p carekit-insight --example evaluate -- --train # the 600-tweet training set (anger only)
//! cargo run --release -p carekit-insight --example evaluate -- --train --errors  # and every misread tweet
//! cargo run --release -p carekit-insight --example evaluate -- [--dev|--train] [--errors] [PATH to twcs-head5000.csv]
//! ```
//!
//! `--errors` (training and development sets only, never the evaluation
//! set) prints each tweet the shipped threshold gets wrong for `strong`,
//! with its gold label, score and cues.
//!
//! Data: "Customer Support on Twitter" by Thought Vector (CC BY-NC-SA 4.0),
//! read from `../shared/data/twcs/` (not shipped); labels from this crate's
//! `data/twcs-labels/`.

use carekit_core::Classifier;
use carekit_insight::TaxonomyClassifier;
use carekit_insight::evaluation::{
    ANGER_COLUMNS, Anger, FLAGGED_ROWS, LEVEL_ROWS, agreement, anger_figures, crisis_figures,
    customer_texts, default_twcs_path, development_set, evaluation_set, readings, topic_figures,
    training_readings, training_set,
};
use carekit_policy::builtin::CrisisTerms;
use carekit_policy::language::detect_language;
use carekit_policy::{CareSentiment, LexiconSentiment};
use std::collections::HashMap;

const THRESHOLDS: [f32; 6] = [-0.3, -0.4, -0.45, -0.5, -0.6, -0.7];

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn main() {
    let mut dev = false;
    let mut train = false;
    let mut errors = false;
    let mut path = default_twcs_path(env!("CARGO_MANIFEST_DIR"));
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--dev" => dev = true,
            "--train" => train = true,
            "--errors" => errors = true,
            _ => path = arg.into(),
        }
    }
    if dev && train {
        eprintln!("--dev and --train: choose one set");
        std::process::exit(2);
    }
    if errors && !(dev || train) {
        eprintln!(
            "--errors prints tweets of the training or development set only (--train or --dev), never of the evaluation set"
        );
        std::process::exit(2);
    }
    let anger_only = dev || train;
    let Ok(file) = std::fs::File::open(&path) else {
        eprintln!(
            "TWCS data not found at {}; nothing to measure",
            path.display()
        );
        std::process::exit(2);
    };
    let texts = customer_texts(file);
    let care = CareSentiment::default();

    let anger: Vec<(String, Anger)> = if dev {
        development_set()
    } else if train {
        training_set()
    } else {
        evaluation_set()
            .into_iter()
            .map(|l| (l.id.clone(), l.anger))
            .collect()
    };
    let anger: Vec<(String, Anger)> = anger
        .into_iter()
        .filter(|(id, _)| texts.contains_key(id))
        .collect();
    println!(
        "# {} set: {} customer tweets (TWCS, Thought Vector, CC BY-NC-SA 4.0)\n",
        if dev {
            "Development"
        } else if train {
            "Training"
        } else {
            "Evaluation"
        },
        anger.len()
    );

    if train {
        let (a, b) = training_readings();
        let x: Vec<Anger> = a.iter().map(|(_, l)| *l).collect();
        let y: Vec<Anger> = b.iter().map(|(_, l)| *l).collect();
        let k = agreement(&x, &y);
        println!(
            "Agreement of the two readings on anger: {}/{} ({:.1}%), Cohen's kappa {:.3}; disagreements settled by a third reading.\n",
            k.same, k.items, k.percent, k.kappa
        );
    }

    if !anger_only {
        let (a, b) = readings();
        println!("## Agreement of the two readings\n");
        println!("| label | same | percent | Cohen's kappa |\n|---|---:|---:|---:|");
        type Field = fn(&carekit_insight::evaluation::Labelled) -> String;
        let fields: [(&str, Field); 4] = [
            ("anger", |l| l.anger.as_str().to_owned()),
            ("urgency", |l| format!("{:?}", l.urgency)),
            ("topic", |l| l.topic.clone()),
            ("lang", |l| l.lang.clone()),
        ];
        for (name, get) in fields {
            let x: Vec<String> = a.iter().map(get).collect();
            let y: Vec<String> = b.iter().map(get).collect();
            let k = agreement(&x, &y);
            println!(
                "| {name} | {}/{} | {:.1}% | {:.3} |",
                k.same, k.items, k.percent, k.kappa
            );
        }
        let disputed = evaluation_set()
            .iter()
            .filter(|l| !l.disputed.is_empty())
            .count();
        println!("\n{disputed} rows had at least one disagreement, settled by a third reading.\n");
    }

    println!(
        "## Anger: flagged = sentiment <= threshold; precision = flagged tweets labelled strong\n"
    );
    println!(
        "| classifier | threshold | flagged | precision (strong) | recall (strong) | precision (mild or strong) |\n|---|---:|---:|---:|---:|---:|"
    );
    let old: Vec<(Anger, Option<f32>)> = anger
        .iter()
        .map(|(id, a)| (*a, Some(LexiconSentiment::score(&texts[id]))))
        .collect();
    let new: Vec<(Anger, Option<f32>)> = anger
        .iter()
        .map(|(id, a)| (*a, care.score(&texts[id])))
        .collect();
    for (name, scored) in [("old lexicon", &old), ("care analyser", &new)] {
        for t in THRESHOLDS {
            let f = anger_figures(scored, t);
            let shipped = if name == "care analyser" && t == CareSentiment::STRONG_ANGER {
                " (shipped)"
            } else {
                ""
            };
            println!(
                "| {name} | {t:.2}{shipped} | {} | {} | {} | {} |",
                f.strong.flagged(),
                pct(f.strong.precision()),
                pct(f.strong.recall()),
                pct(f.precision_mild_or_strong)
            );
        }
    }
    for (name, scored, t) in [
        (
            "old lexicon at -0.60 (the threshold the server shipped)",
            &old,
            -0.6,
        ),
        (
            "care analyser at the shipped threshold",
            &new,
            CareSentiment::STRONG_ANGER,
        ),
    ] {
        let f = anger_figures(scored, t);
        println!("\n### {name}\n");
        println!("{}", f.flagged.to_markdown(&FLAGGED_ROWS, &ANGER_COLUMNS));
        println!(
            "Predicted level (strong: <= {t:.2}, mild: below 0, none: 0 or more):\n\n{}",
            f.levels.to_markdown(&LEVEL_ROWS, &ANGER_COLUMNS)
        );
    }
    for t in THRESHOLDS {
        let f = anger_figures(&new, t);
        println!("### care analyser at {t:.2}\n");
        println!("{}", f.flagged.to_markdown(&FLAGGED_ROWS, &ANGER_COLUMNS));
    }
    if errors {
        print_errors(&anger, &texts, &care);
    }
    if anger_only {
        return;
    }
    let set = evaluation_set();

    println!("## Language\n");
    let mut right = 0;
    let mut rows: HashMap<(String, String), usize> = HashMap::new();
    let mut non_english = 0;
    let mut non_english_unscored = 0;
    let mut english_unscored = 0;
    for l in &set {
        let text = &texts[&l.id];
        let detected = detect_language(text).map_or("und", |d| d.tag);
        if detected == l.lang {
            right += 1;
        }
        *rows
            .entry((l.lang.clone(), detected.to_owned()))
            .or_default() += 1;
        let classification = futures_lite_block(care.classify(text));
        let unscored = classification.sentiment.is_none();
        if l.lang != "en" && l.lang != "und" {
            non_english += 1;
            non_english_unscored += usize::from(
                unscored
                    && classification
                        .labels
                        .iter()
                        .any(|x| x == carekit_policy::sentiment::UNSUPPORTED_LANGUAGE_LABEL),
            );
        } else if l.lang == "en" && unscored {
            english_unscored += 1;
        }
    }
    println!(
        "Detected = labelled for {right}/{} tweets ({}). Non-English tweets marked `language:unsupported` with no score: {non_english_unscored}/{non_english}. English tweets left unscored: {english_unscored}.\n",
        set.len(),
        pct(right as f64 / set.len() as f64)
    );
    let mut pairs: Vec<_> = rows.into_iter().collect();
    pairs.sort();
    println!("| labelled | detected | tweets |\n|---|---|---:|");
    for ((gold, detected), n) in pairs {
        println!("| {gold} | {detected} | {n} |");
    }

    println!("\n## Crisis terms\n");
    let old_terms = CrisisTerms::new(
        [
            "lawyer",
            "attorney",
            "sue",
            "lawsuit",
            "refund",
            "cancel my account",
            "data breach",
            "hacked",
            "injured",
            "injury",
            "fire",
            "police",
            "discrimination",
        ],
        "crisis",
    );
    println!(
        "| terms | crisis tweets caught | false alarms on ordinary complaints | alarms on other tweets |\n|---|---:|---:|---:|"
    );
    for (name, terms) in [
        ("old defaults", &old_terms),
        ("new defaults", &CrisisTerms::default_terms()),
    ] {
        let f = crisis_figures(&set, &texts, terms);
        let other = f.crisis.false_positives - f.false_alarms_on_complaints;
        println!(
            "| {name} | {}/{} | {}/{} ({}) | {other} |",
            f.crisis.true_positives,
            f.crisis.true_positives + f.crisis.false_negatives,
            f.false_alarms_on_complaints,
            f.ordinary_complaints,
            pct(f.false_alarm_rate()),
        );
        for (id, term, urgency) in &f.alarms {
            println!("|  | tweet {id}: \"{term}\" (labelled {urgency:?}) | | |");
        }
    }

    println!("\n## Topics (default care taxonomy, strongest topic)\n");
    let f = topic_figures(&set, &texts, &TaxonomyClassifier::care_defaults());
    println!(
        "| topic | labelled | predicted | right | coverage (recall) | precision |\n|---|---:|---:|---:|---:|---:|"
    );
    for (topic, b) in &f.per_topic {
        println!(
            "| {topic} | {} | {} | {} | {} | {} |",
            b.true_positives + b.false_negatives,
            b.flagged(),
            b.true_positives,
            pct(b.recall()),
            pct(b.precision())
        );
    }
    println!(
        "\nTweets with a topic: {}/{}. Tweets labelled with a topic other than `other` whose strongest topic is that topic: {}/{} ({}).",
        f.with_topic,
        f.total,
        f.gold_topical_right,
        f.gold_topical,
        pct(f.gold_topical_right as f64 / f.gold_topical.max(1) as f64)
    );
}

/// Every tweet the shipped threshold gets wrong for `strong` (missed or
/// falsely flagged), with its gold label, score and cues.
fn print_errors(anger: &[(String, Anger)], texts: &HashMap<String, String>, care: &CareSentiment) {
    println!(
        "## Misread at the shipped threshold ({:.2})\n",
        CareSentiment::STRONG_ANGER
    );
    for (id, gold) in anger {
        let text = &texts[id];
        let analysis = care.analyse(text);
        let Some(score) = analysis.score else {
            if *gold == Anger::Strong {
                println!(
                    "MISSED  {id} [{}] no score: {}",
                    gold.as_str(),
                    one_line(text)
                );
            }
            continue;
        };
        let flagged = score <= CareSentiment::STRONG_ANGER;
        let strong = *gold == Anger::Strong;
        if flagged != strong {
            println!(
                "{} {id} [{}] {score:+.3} {:?}: {}",
                if strong { "MISSED " } else { "FALSE  " },
                gold.as_str(),
                analysis.cues,
                one_line(text)
            );
        }
    }
    println!();
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs a future that never waits (the classifiers are synchronous).
fn futures_lite_block<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
