//! Sentiment for customer care.
//!
//! - [`CareSentiment`]: the default. A lexicon-and-rules analyser of the
//!   VADER kind with a care lexicon and care's own rules (emoji, profanity,
//!   clause-scoped negation, questions, waiting times, sarcasm, threats to
//!   leave), language detection, and no score for languages it cannot read.
//! - [`LexiconSentiment`]: the first, 53-word lexicon, kept for comparison
//!   (the evaluation and the benchmark measure the two side by side).

mod care;
mod lexicon;
mod text;

pub(crate) use care::is_lexicon_word;
pub use care::{
    Analysis, CareSentiment, CareSentimentBuilder, Cue, LanguageVerdict, UNSUPPORTED_LANGUAGE_LABEL,
};

use async_trait::async_trait;
use carekit_core::{Classification, Classifier};

const POSITIVE: &[(&str, f32)] = &[
    ("love", 3.0),
    ("great", 3.0),
    ("awesome", 3.0),
    ("excellent", 3.0),
    ("amazing", 3.0),
    ("perfect", 3.0),
    ("thanks", 2.0),
    ("thank", 2.0),
    ("good", 2.0),
    ("nice", 2.0),
    ("happy", 2.5),
    ("helpful", 2.0),
    ("fast", 1.5),
    ("quick", 1.5),
    ("resolved", 1.5),
    ("fixed", 1.5),
    ("appreciate", 2.0),
    ("best", 3.0),
];
const NEGATIVE: &[(&str, f32)] = &[
    ("terrible", -3.0),
    ("awful", -3.0),
    ("horrible", -3.0),
    ("worst", -3.0),
    ("hate", -3.0),
    ("disgusting", -3.0),
    ("angry", -2.5),
    ("furious", -3.0),
    ("useless", -2.5),
    ("broken", -2.0),
    ("bad", -2.0),
    ("poor", -2.0),
    ("late", -1.5),
    ("delayed", -1.5),
    ("never", -1.0),
    ("nobody", -1.5),
    ("scam", -3.0),
    ("ridiculous", -2.5),
    ("disappointed", -2.5),
    ("unacceptable", -3.0),
    ("refund", -1.0),
    ("crash", -2.0),
    ("crashes", -2.0),
    ("charged", -1.0),
    ("twice", -1.0),
    ("wrong", -2.0),
    ("missing", -1.5),
    ("lost", -1.5),
    ("cancel", -1.5),
    ("waiting", -1.0),
    ("stuck", -1.5),
    ("error", -1.5),
    ("fail", -2.0),
    ("failed", -2.0),
    ("down", -1.0),
];
const NEGATORS: &[&str] = &[
    "not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't", "cannot",
    "won't", "hardly", "aint", "ain't",
];
const INTENSIFIERS: &[(&str, f32)] = &[
    ("very", 1.5),
    ("really", 1.5),
    ("so", 1.4),
    ("extremely", 1.8),
    ("totally", 1.6),
    ("absolutely", 1.7),
    ("completely", 1.6),
    ("super", 1.5),
    ("slightly", 0.5),
    ("somewhat", 0.6),
    ("bit", 0.6),
];

/// The first lexicon sentiment in [-1, 1], with negation (the next three
/// words) and intensifiers/diminishers (the next word). Kept for
/// comparison: it misses most angry customers (docs/insight.md); use
/// [`CareSentiment`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LexiconSentiment;

impl LexiconSentiment {
    /// The score of `text` in [-1, 1].
    pub fn score(text: &str) -> f32 {
        let lowered = text.to_lowercase();
        let words: Vec<&str> = lowered
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .collect();
        let mut total = 0.0f32;
        let mut negate_for = 0usize;
        let mut boost = 1.0f32;
        for word in words {
            if NEGATORS.contains(&word) || word.ends_with("n't") {
                negate_for = 3;
                continue;
            }
            if let Some((_, factor)) = INTENSIFIERS.iter().find(|(w, _)| *w == word) {
                boost *= factor;
                continue;
            }
            let value = POSITIVE
                .iter()
                .chain(NEGATIVE)
                .find(|(w, _)| *w == word)
                .map(|(_, v)| *v);
            if let Some(mut v) = value {
                v *= boost;
                if negate_for > 0 {
                    v *= -0.75;
                }
                total += v;
            }
            boost = 1.0;
            negate_for = negate_for.saturating_sub(1);
        }
        if text.contains('!') {
            total *= 1.1;
        }
        // Normalise like VADER: x / sqrt(x² + α).
        total / (total * total + 15.0).sqrt()
    }
}

#[async_trait]
impl Classifier for LexiconSentiment {
    async fn classify(&self, text: &str) -> Classification {
        Classification {
            sentiment: Some(Self::score(text)),
            ..Classification::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LexiconSentiment as L;

    #[test]
    fn negation_and_intensifiers() {
        assert!(L::score("love the new app, great job!") > 0.5);
        assert!(L::score("this is terrible") < -0.5);
        assert!(L::score("not good") < 0.0, "negation flips");
        assert!(L::score("not bad at all") > 0.0);
        assert!(L::score("really bad") < L::score("bad"), "intensifier");
        assert!(L::score("slightly bad") > L::score("bad"), "diminisher");
        assert_eq!(L::score("my order number is 4411"), 0.0);
        for text in ["", "!!!", "не работает", "😡😡"] {
            let s = L::score(text);
            assert!((-1.0..=1.0).contains(&s));
        }
    }
}
