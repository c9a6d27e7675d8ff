//! Classification of inbound text: sentiment, topics, language. Pluggable, so
//! an app can bring a model; carekit ships lexicon-based defaults.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A topic a classifier found, with its weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// The topic's name in the app's taxonomy (`"billing"`, `"outage"`).
    pub name: String,
    /// How strongly it matched (classifier-specific scale, higher is stronger).
    pub score: f32,
}

/// What classifiers said about a message. Merged field by field when several
/// classifiers run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Sentiment in [-1, 1]; negative is unhappy.
    pub sentiment: Option<f32>,
    /// Topics, strongest first.
    pub topics: Vec<Topic>,
    /// BCP 47 language tag, if detected.
    pub language: Option<String>,
    /// Other labels (`"crisis:lawyer"`, `"spam"`).
    pub labels: Vec<String>,
}

impl Classification {
    /// Folds `other` into `self`: the first sentiment and language win,
    /// topics and labels accumulate.
    pub fn merge(&mut self, other: Classification) {
        if self.sentiment.is_none() {
            self.sentiment = other.sentiment;
        }
        if self.language.is_none() {
            self.language = other.language;
        }
        for topic in other.topics {
            if !self.topics.iter().any(|t| t.name == topic.name) {
                self.topics.push(topic);
            }
        }
        self.topics.sort_by(|a, b| b.score.total_cmp(&a.score));
        for label in other.labels {
            if !self.labels.contains(&label) {
                self.labels.push(label);
            }
        }
    }
}

/// Reads a message's text and says what it is about.
#[async_trait]
pub trait Classifier: Send + Sync {
    /// Classifies one text. Must not fail: a classifier that cannot decide
    /// returns an empty [`Classification`].
    async fn classify(&self, text: &str) -> Classification;
}

#[async_trait]
impl<C: Classifier + ?Sized> Classifier for std::sync::Arc<C> {
    async fn classify(&self, text: &str) -> Classification {
        (**self).classify(text).await
    }
}

const _: fn(&dyn Classifier) = |_| {};
