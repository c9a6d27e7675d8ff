//! A taxonomy classifier: topics described by weighted keywords and phrases,
//! matched on whole words regardless of case and punctuation.
//!
//! ```
//! use carekit_insight::TaxonomyClassifier;
//! let taxonomy = TaxonomyClassifier::from_toml(r#"
//! [[topics]]
//! name = "billing"
//! keywords = ["refund", { text = "invoice", weight = 2.0 }]
//! phrases = ["charged twice"]
//! "#).unwrap();
//! let topics = taxonomy.topics_of("I was CHARGED, twice! Refund please.");
//! assert_eq!(topics[0].name, "billing");
//! ```

use async_trait::async_trait;
use carekit_core::{Classification, Classifier, Topic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Why a taxonomy could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaxonomyError {
    /// A keyword or phrase has no word in it (empty, or punctuation only):
    /// it would match nothing, or everything.
    #[error("topic `{topic}` has an empty keyword or phrase")]
    EmptyPattern {
        /// The topic.
        topic: String,
    },
    /// A keyword holds more than one word (use a phrase).
    #[error("topic `{topic}`: keyword `{keyword}` has several words; make it a phrase")]
    KeywordNotAWord {
        /// The topic.
        topic: String,
        /// The keyword.
        keyword: String,
    },
    /// A topic has no name.
    #[error("a topic has no name")]
    EmptyTopicName,
    /// Two topics share a name.
    #[error("topic `{topic}` is defined twice")]
    DuplicateTopic {
        /// The topic.
        topic: String,
    },
    /// A topic has neither keywords nor phrases.
    #[error("topic `{topic}` has no keyword or phrase")]
    NoPatterns {
        /// The topic.
        topic: String,
    },
    /// A weight is not a positive finite number.
    #[error("topic `{topic}`: weight {weight} is not a positive number")]
    InvalidWeight {
        /// The topic.
        topic: String,
        /// The weight.
        weight: f32,
    },
    /// The TOML document could not be read.
    #[error("taxonomy TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// The JSON document could not be read.
    #[error("taxonomy JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A keyword or phrase with its weight: a bare string (weight 1) or
/// `{ text, weight }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatternSpec {
    /// Weight 1.
    Plain(String),
    /// An explicit weight.
    Weighted {
        /// The words.
        text: String,
        /// What a match adds to the topic's score.
        weight: f32,
    },
}

impl PatternSpec {
    fn parts(&self) -> (&str, f32) {
        match self {
            PatternSpec::Plain(text) => (text, 1.0),
            PatternSpec::Weighted { text, weight } => (text, *weight),
        }
    }
}

/// One topic of the taxonomy, as written in TOML or JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicSpec {
    /// The topic's name (`"billing"`).
    pub name: String,
    /// Single words.
    #[serde(default)]
    pub keywords: Vec<PatternSpec>,
    /// Sequences of words, matched in order.
    #[serde(default)]
    pub phrases: Vec<PatternSpec>,
    /// Least score for the topic to be reported (default: any match).
    #[serde(default)]
    pub min_score: Option<f32>,
}

impl TopicSpec {
    /// A topic with no patterns yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            keywords: Vec::new(),
            phrases: Vec::new(),
            min_score: None,
        }
    }
    /// Adds a keyword.
    pub fn keyword(mut self, text: impl Into<String>, weight: f32) -> Self {
        self.keywords.push(PatternSpec::Weighted {
            text: text.into(),
            weight,
        });
        self
    }
    /// Adds a phrase.
    pub fn phrase(mut self, text: impl Into<String>, weight: f32) -> Self {
        self.phrases.push(PatternSpec::Weighted {
            text: text.into(),
            weight,
        });
        self
    }
    /// Sets the least score to report the topic.
    pub fn min_score(mut self, score: f32) -> Self {
        self.min_score = Some(score);
        self
    }
}

/// The whole taxonomy, as written in TOML (`[[topics]]`) or JSON
/// (`{"topics": [...]}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaxonomySpec {
    /// The topics.
    pub topics: Vec<TopicSpec>,
}

#[derive(Clone, Debug)]
struct Pattern {
    words: Vec<String>,
    weight: f32,
}

#[derive(Clone, Debug)]
struct CompiledTopic {
    name: String,
    patterns: Vec<Pattern>,
    min_score: f32,
}

/// Classifies text into the topics of a configured taxonomy. Each keyword
/// or phrase found adds its weight once; topics are returned strongest first.
#[derive(Clone, Debug)]
pub struct TaxonomyClassifier {
    topics: Vec<CompiledTopic>,
}

/// Lowercase words of `text`: letters and digits, apostrophes dropped
/// (`"can't"` → `"cant"`), everything else a boundary.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if c == '\'' || c == '’' {
            continue;
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn contains_sequence(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty()
        && haystack.len() >= needle.len()
        && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The default care taxonomy as TOML (`taxonomy/care.toml` in this crate).
pub const CARE_TAXONOMY_TOML: &str = include_str!("../taxonomy/care.toml");

impl TaxonomySpec {
    /// The default care taxonomy: delivery, billing, account_access,
    /// outage, product_fault, customer_service, travel and praise, written
    /// from real customer tweets and measured on a labelled sample of them
    /// (docs/insight.md). Extend it or replace it for your business.
    pub fn care_defaults() -> Self {
        // The file is part of the crate and checked by a test; an error
        // here would be a build defect, so fall back to no topics rather
        // than panic.
        toml::from_str(CARE_TAXONOMY_TOML).unwrap_or_default()
    }
}

impl TaxonomyClassifier {
    /// The default care taxonomy ([`TaxonomySpec::care_defaults`]).
    pub fn care_defaults() -> Self {
        Self::new(TaxonomySpec::care_defaults()).unwrap_or_else(|_| Self { topics: Vec::new() })
    }

    /// Builds from topic specs.
    ///
    /// # Errors
    /// [`TaxonomyError`]: an empty pattern, a keyword of several words, an
    /// unnamed or duplicate topic, a topic without patterns, a bad weight.
    pub fn new(spec: TaxonomySpec) -> Result<Self, TaxonomyError> {
        let mut names = BTreeSet::new();
        let mut topics = Vec::with_capacity(spec.topics.len());
        for t in spec.topics {
            let name = t.name.trim().to_owned();
            if name.is_empty() {
                return Err(TaxonomyError::EmptyTopicName);
            }
            if !names.insert(name.clone()) {
                return Err(TaxonomyError::DuplicateTopic { topic: name });
            }
            let mut patterns = Vec::new();
            for (spec, keyword) in t
                .keywords
                .iter()
                .map(|k| (k, true))
                .chain(t.phrases.iter().map(|p| (p, false)))
            {
                let (text, weight) = spec.parts();
                let words = words(text);
                if words.is_empty() {
                    return Err(TaxonomyError::EmptyPattern { topic: name });
                }
                if keyword && words.len() > 1 {
                    return Err(TaxonomyError::KeywordNotAWord {
                        topic: name,
                        keyword: text.to_owned(),
                    });
                }
                if !(weight.is_finite() && weight > 0.0) {
                    return Err(TaxonomyError::InvalidWeight {
                        topic: name,
                        weight,
                    });
                }
                patterns.push(Pattern { words, weight });
            }
            if patterns.is_empty() {
                return Err(TaxonomyError::NoPatterns { topic: name });
            }
            topics.push(CompiledTopic {
                name,
                patterns,
                min_score: t.min_score.unwrap_or(0.0),
            });
        }
        Ok(Self { topics })
    }

    /// Builds from a TOML document (`[[topics]]` tables).
    ///
    /// # Errors
    /// [`TaxonomyError::Toml`] for a malformed document, else as [`TaxonomyClassifier::new`].
    pub fn from_toml(text: &str) -> Result<Self, TaxonomyError> {
        Self::new(toml::from_str(text)?)
    }

    /// Builds from a JSON document (`{"topics": [...]}`).
    ///
    /// # Errors
    /// [`TaxonomyError::Json`] for a malformed document, else as [`TaxonomyClassifier::new`].
    pub fn from_json(text: &str) -> Result<Self, TaxonomyError> {
        Self::new(serde_json::from_str(text)?)
    }

    /// The topic names, in the order configured.
    pub fn topic_names(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|t| t.name.as_str())
    }

    /// The topics `text` matches, strongest first (ties by name).
    pub fn topics_of(&self, text: &str) -> Vec<Topic> {
        let words = words(text);
        let mut found: Vec<Topic> = self
            .topics
            .iter()
            .filter_map(|t| {
                let score: f32 = t
                    .patterns
                    .iter()
                    .filter(|p| contains_sequence(&words, &p.words))
                    .map(|p| p.weight)
                    .sum();
                (score > 0.0 && score >= t.min_score).then(|| Topic {
                    name: t.name.clone(),
                    score,
                })
            })
            .collect();
        found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.name.cmp(&b.name)));
        found
    }
}

#[async_trait]
impl Classifier for TaxonomyClassifier {
    async fn classify(&self, text: &str) -> Classification {
        Classification {
            topics: self.topics_of(text),
            ..Classification::default()
        }
    }
}

/// Builds a [`TaxonomyClassifier`] in code, topic by topic.
#[derive(Clone, Debug, Default)]
pub struct TaxonomyBuilder {
    spec: TaxonomySpec,
}

impl TaxonomyClassifier {
    /// An empty taxonomy to add topics to.
    pub fn builder() -> TaxonomyBuilder {
        TaxonomyBuilder::default()
    }
}

impl TaxonomyBuilder {
    /// Adds a topic.
    pub fn topic(mut self, topic: TopicSpec) -> Self {
        self.spec.topics.push(topic);
        self
    }
    /// The classifier.
    ///
    /// # Errors
    /// As [`TaxonomyClassifier::new`].
    pub fn build(self) -> Result<TaxonomyClassifier, TaxonomyError> {
        TaxonomyClassifier::new(self.spec)
    }
}
