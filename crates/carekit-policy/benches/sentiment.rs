//! Throughput of the care analyser against the old 53-word lexicon, on the
//! customer tweets of TWCS (read from ../shared/data/twcs/, not shipped;
//! a fixed set of care messages when it is absent). Prints the ratio of
//! the two in one run.
//!
//! ```text
//! cargo bench -p carekit-policy --bench sentiment
//! ```

use carekit_policy::{CareSentiment, LexiconSentiment, twcs};
use criterion::{Criterion, Throughput, black_box};
use std::time::{Duration, Instant};

fn corpus() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/twcs/twcs-head5000.csv"
    );
    match std::fs::File::open(path) {
        Ok(file) => twcs::read(file)
            .0
            .into_iter()
            .filter(|t| t.inbound)
            .map(|t| t.text)
            .collect(),
        Err(_) => {
            eprintln!("TWCS data not found at {path}; benchmarking a fixed set of messages");
            [
                "@brand my parcel is late again, 3 days and nobody answers 😡",
                "I love waiting 3 hours on hold, great service",
                "are the servers down?",
                "thanks so much, sorted!",
                "el paquete no llegó",
                "WORST. SERVICE. EVER.",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
        }
    }
}

/// Messages per second over the corpus, best of `rounds`.
fn rate(corpus: &[String], rounds: usize, f: impl Fn(&str) -> Option<f32>) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for text in corpus {
            black_box(f(black_box(text)));
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    corpus.len() as f64 / best
}

fn main() {
    let corpus = corpus();
    let care = CareSentiment::default();
    let care_no_language = CareSentiment::builder().detect_language(false).build();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let mut group = c.benchmark_group("sentiment");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function("old lexicon", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|t| LexiconSentiment::score(t))
                .sum::<f32>()
        })
    });
    group.bench_function("care analyser", |b| {
        b.iter(|| corpus.iter().filter_map(|t| care.score(t)).sum::<f32>())
    });
    group.bench_function("care analyser, no language detection", |b| {
        b.iter(|| {
            corpus
                .iter()
                .filter_map(|t| care_no_language.score(t))
                .sum::<f32>()
        })
    });
    group.finish();

    // The ratio, measured in this run on the same messages.
    let old = rate(&corpus, 5, |t| Some(LexiconSentiment::score(t)));
    let new = rate(&corpus, 5, |t| care.score(t));
    let bare = rate(&corpus, 5, |t| care_no_language.score(t));
    println!(
        "{} messages: old lexicon {:.0}/s, care analyser {:.0}/s ({:.2}x the old time), without language detection {:.0}/s ({:.2}x)",
        corpus.len(),
        old,
        new,
        old / new,
        bare,
        old / bare
    );
}
