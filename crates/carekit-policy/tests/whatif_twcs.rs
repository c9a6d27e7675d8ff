//! What-if over real Twitter customer-care threads (TWCS, CC BY-NC-SA 4.0,
//! read from ../shared/data/twcs/; skipped loudly when absent): a 1-hour
//! first-response policy, checked against a direct computation from the data.

use carekit_core::Classification;
use carekit_core::{EscalationPolicy, SlaMetric};
use carekit_policy::builtin::{CrisisTerms, NegativeSentiment};
use carekit_policy::replay::WhatIf;
use carekit_policy::{CareSentiment, LexiconSentiment, SlaPolicy, SlaSet, twcs};
use chrono::Duration;
use std::collections::HashMap;
use std::sync::Arc;

#[test]
fn one_hour_first_response_over_twcs_head5000() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/twcs/twcs-head5000.csv"
    );
    let Ok(file) = std::fs::File::open(path) else {
        eprintln!("SKIPPED: TWCS data not found at {path}");
        return;
    };
    let (tweets, errors) = twcs::read(file);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(tweets.len(), 5000);
    assert_eq!(tweets.iter().filter(|t| t.inbound).count(), 2778);
    let threads = twcs::threads(&tweets);
    let mut roots: Vec<&String> = threads.values().collect();
    roots.sort();
    roots.dedup();
    assert_eq!(roots.len(), 1312);

    let policy = SlaPolicy::builder("frt-1h")
        .target_all(SlaMetric::FirstResponse, Duration::hours(1))
        .build()
        .unwrap();
    let policies: Vec<Arc<dyn EscalationPolicy>> =
        vec![Arc::new(SlaSet::new(vec![policy]).unwrap())];
    let report = WhatIf::new(policies).run_twcs(&tweets);

    // Hand computation: a customer-started thread breaches when the brand's
    // first tweet comes more than an hour after the thread's first tweet, or
    // never comes.
    let mut by_thread: HashMap<&str, Vec<&twcs::Tweet>> = HashMap::new();
    for t in &tweets {
        by_thread
            .entry(threads[&t.id].as_str())
            .or_default()
            .push(t);
    }
    let (mut started, mut breached) = (0, 0);
    let mut per_brand: HashMap<String, usize> = HashMap::new();
    for list in by_thread.values_mut() {
        list.sort_by_key(|t| t.created_at);
        if !list[0].inbound {
            continue;
        }
        started += 1;
        let first_brand = list.iter().find(|t| !t.inbound);
        let late =
            first_brand.is_none_or(|b| b.created_at - list[0].created_at > Duration::hours(1));
        if late {
            breached += 1;
            *per_brand
                .entry(first_brand.map_or("(unanswered)".into(), |b| b.author.clone()))
                .or_default() += 1;
        }
    }
    assert_eq!(report.threads, started);
    assert_eq!(report.breached, breached);
    for (brand, n) in &per_brand {
        assert_eq!(report.accounts[brand].breached, *n, "{brand}");
    }
    let mut worst: Vec<(&String, &carekit_policy::replay::AccountFigures)> =
        report.accounts.iter().collect();
    worst.sort_by_key(|(_, f)| std::cmp::Reverse(f.breached));
    eprintln!(
        "TWCS what-if, 1-hour first response: {} customer-started threads, {} would have warned, {} breached",
        report.threads, report.warned, report.breached
    );
    for (brand, f) in worst.iter().take(10) {
        eprintln!(
            "  {brand:<16} threads {:>4}  breached {:>4}",
            f.threads, f.breached
        );
    }
}

/// The sentiment and crisis escalations the desk server's policies would
/// have raised over the same traffic, with the care analyser at its shipped
/// threshold against the old lexicon and old crisis terms at the old
/// server's settings (docs/insight.md explains the change).
#[test]
fn sentiment_and_crisis_escalations_over_twcs_head5000() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/twcs/twcs-head5000.csv"
    );
    let Ok(file) = std::fs::File::open(path) else {
        eprintln!("SKIPPED: TWCS data not found at {path}");
        return;
    };
    let (tweets, _) = twcs::read(file);
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
    let new = WhatIf::new(vec![
        Arc::new(NegativeSentiment::new(CareSentiment::STRONG_ANGER)),
        Arc::new(CrisisTerms::default_terms()),
    ])
    .run_twcs(&tweets);
    let old = WhatIf::new(vec![
        Arc::new(NegativeSentiment::new(-0.6)),
        Arc::new(old_terms),
    ])
    .classify_with(|text| Classification {
        sentiment: Some(LexiconSentiment::score(text)),
        ..Classification::default()
    })
    .run_twcs(&tweets);
    let count = |r: &carekit_policy::replay::ReplayReport, code: &str| {
        r.escalations.get(code).copied().unwrap_or(0)
    };
    eprintln!(
        "TWCS what-if escalations: negative sentiment {} (old lexicon at -0.6: {}), crisis terms {} (old terms: {})",
        count(&new, "negative_sentiment"),
        count(&old, "negative_sentiment"),
        count(&new, "crisis_term"),
        count(&old, "crisis_term"),
    );
    assert_eq!(new.threads, old.threads);
    // The care analyser hears far more angry customers; the crisis terms
    // no longer fire on refunds and Fire TV sticks.
    assert!(count(&new, "negative_sentiment") > 3 * count(&old, "negative_sentiment"));
    assert!(count(&new, "crisis_term") < count(&old, "crisis_term"));
}
