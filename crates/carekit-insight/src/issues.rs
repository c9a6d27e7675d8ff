//! Common issues: what customers complain about most, by taxonomy topic and
//! by near-duplicate wording, rebuilt from the stored conversations.
//!
//! A conversation's complaint is its first customer message with text. The
//! private side of a handoff is left out: it continues the public complaint
//! it was linked from, which is already counted.

use crate::minhash::NearDuplicates;
use carekit_core::{
    Classifier, ConversationFilter, ConversationId, ConversationRecord, DeskError, Direction,
    Store, Visibility,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// How to build [`TopIssues`]. Build with [`TopIssuesOptions::builder`].
#[derive(Clone, Debug)]
pub struct TopIssuesOptions {
    max_topics: usize,
    examples: usize,
    max_groups: usize,
    near_duplicates: NearDuplicates,
}

impl Default for TopIssuesOptions {
    fn default() -> Self {
        Self {
            max_topics: 10,
            examples: 3,
            max_groups: 10,
            near_duplicates: NearDuplicates::default(),
        }
    }
}

/// Builds [`TopIssuesOptions`].
#[derive(Clone, Debug, Default)]
pub struct TopIssuesOptionsBuilder {
    options: TopIssuesOptions,
}

impl TopIssuesOptions {
    /// 10 topics, 3 examples each, 10 near-duplicate groups, default MinHash.
    pub fn builder() -> TopIssuesOptionsBuilder {
        TopIssuesOptionsBuilder::default()
    }
}

impl TopIssuesOptionsBuilder {
    /// At most this many topics.
    pub fn max_topics(mut self, n: usize) -> Self {
        self.options.max_topics = n;
        self
    }
    /// At most this many example texts per topic.
    pub fn examples(mut self, n: usize) -> Self {
        self.options.examples = n;
        self
    }
    /// At most this many near-duplicate groups.
    pub fn max_groups(mut self, n: usize) -> Self {
        self.options.max_groups = n;
        self
    }
    /// The near-duplicate grouper.
    pub fn near_duplicates(mut self, grouper: NearDuplicates) -> Self {
        self.options.near_duplicates = grouper;
        self
    }
    /// The options.
    pub fn build(self) -> TopIssuesOptions {
        self.options
    }
}

/// One topic and how often customers raised it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IssueTopic {
    /// The topic's name.
    pub topic: String,
    /// Conversations whose complaint matched it.
    pub count: usize,
    /// Some of those complaints, earliest first, without repeats.
    pub examples: Vec<String>,
}

/// Complaints worded nearly the same way.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IssueGroup {
    /// How many conversations.
    pub count: usize,
    /// The earliest complaint of the group.
    pub example: String,
    /// The conversations, earliest first.
    pub conversations: Vec<ConversationId>,
}

/// The top issues of a set of conversations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TopIssues {
    /// Complaints looked at (one per conversation).
    pub complaints: usize,
    /// Complaints that matched no topic.
    pub unclassified: usize,
    /// Topics, most frequent first (ties by name).
    pub topics: Vec<IssueTopic>,
    /// Near-duplicate groups, largest first.
    pub near_duplicates: Vec<IssueGroup>,
}

/// The conversation's complaint, unless it continues another conversation.
fn complaint(c: &ConversationRecord) -> Option<&str> {
    if c.visibility == Visibility::Private && !c.linked.is_empty() {
        return None;
    }
    c.messages
        .iter()
        .find(|m| m.direction == Direction::Inbound && !m.text.trim().is_empty())
        .map(|m| m.text.as_str())
}

impl TopIssues {
    /// Builds the top issues of `conversations`, classifying each complaint
    /// with `classifier` (a [`TaxonomyClassifier`](crate::TaxonomyClassifier) or your own).
    pub async fn build(
        conversations: &[ConversationRecord],
        classifier: &dyn Classifier,
        options: &TopIssuesOptions,
    ) -> Self {
        let mut sorted: Vec<&ConversationRecord> = conversations.iter().collect();
        sorted.sort_by_key(|c| (c.opened_at, c.id));
        let complaints: Vec<(ConversationId, &str)> = sorted
            .iter()
            .filter_map(|c| complaint(c).map(|t| (c.id, t)))
            .collect();
        let mut by_topic: BTreeMap<String, IssueTopic> = BTreeMap::new();
        let mut unclassified = 0;
        for (_, text) in &complaints {
            let classification = classifier.classify(text).await;
            if classification.topics.is_empty() {
                unclassified += 1;
            }
            let mut seen = Vec::new();
            for topic in classification.topics {
                if seen.contains(&topic.name) {
                    continue;
                }
                seen.push(topic.name.clone());
                let entry = by_topic
                    .entry(topic.name.clone())
                    .or_insert_with(|| IssueTopic {
                        topic: topic.name,
                        count: 0,
                        examples: Vec::new(),
                    });
                entry.count += 1;
                if entry.examples.len() < options.examples
                    && !entry.examples.iter().any(|e| e == text)
                {
                    entry.examples.push((*text).to_owned());
                }
            }
        }
        let mut topics: Vec<IssueTopic> = by_topic.into_values().collect();
        topics.sort_by(|a, b| b.count.cmp(&a.count).then(a.topic.cmp(&b.topic)));
        topics.truncate(options.max_topics);
        let texts: Vec<&str> = complaints.iter().map(|(_, t)| *t).collect();
        let near_duplicates = options
            .near_duplicates
            .group(&texts)
            .into_iter()
            .take(options.max_groups)
            .map(|g| IssueGroup {
                count: g.len(),
                example: texts[g.representative()].to_owned(),
                conversations: g.members.iter().map(|&i| complaints[i].0).collect(),
            })
            .collect();
        TopIssues {
            complaints: complaints.len(),
            unclassified,
            topics,
            near_duplicates,
        }
    }

    /// Builds the top issues of the stored conversations matching `filter`.
    ///
    /// # Errors
    /// [`DeskError::Store`] when the store fails.
    pub async fn from_store(
        store: &dyn Store,
        filter: &ConversationFilter,
        classifier: &dyn Classifier,
        options: &TopIssuesOptions,
    ) -> Result<Self, DeskError> {
        let conversations = store.list_conversations(filter).await?;
        Ok(Self::build(&conversations, classifier, options).await)
    }

    /// The top issues as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
