//! Measuring the listening classifiers on labelled real tweets.
//!
//! The labels ship with the crate (tweet ids and labels only, under
//! `data/twcs-labels/`); the tweets themselves are read from a copy of the
//! TWCS corpus ("Customer Support on Twitter", Thought Vector, CC BY-NC-SA
//! 4.0), which carekit does not ship. See `data/twcs-labels/README.md` for
//! how the labels were made and docs/insight.md for the figures.
//!
//! - [`evaluation_set`]: 400 customer tweets drawn at random, each read by
//!   two people independently, disagreements settled by a third reading.
//! - [`development_set`]: 300 other customer tweets labelled for anger by
//!   one reader, for choosing words and thresholds without looking at the
//!   evaluation set.
//! - [`training_set`]: 600 further customer tweets (none of the other two
//!   sets), each read for anger by two people independently, disagreements
//!   settled by a third reading; for fitting the analyser's rules, words and
//!   threshold.
//! - [`agreement`], [`Binary`], [`Confusion`]: the figures.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

/// How angry a customer is (the labelling guide's three levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Anger {
    /// Neutral, questions, thanks, praise.
    None,
    /// An ordinary complaint or disappointment.
    Mild,
    /// Clearly angry or exasperated.
    Strong,
}

impl Anger {
    /// The three levels, in order.
    pub const ALL: [Anger; 3] = [Anger::None, Anger::Mild, Anger::Strong];

    fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Anger::None),
            "mild" => Some(Anger::Mild),
            "strong" => Some(Anger::Strong),
            _ => None,
        }
    }

    /// The label as written in the files.
    pub fn as_str(self) -> &'static str {
        match self {
            Anger::None => "none",
            Anger::Mild => "mild",
            Anger::Strong => "strong",
        }
    }
}

/// How urgent a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Urgency {
    /// Ordinary.
    None,
    /// Time-critical but ordinary (stranded now, locked out now).
    Urgent,
    /// Harm, safety, legal threat, breach or fraud.
    Crisis,
}

impl Urgency {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Urgency::None),
            "urgent" => Some(Urgency::Urgent),
            "crisis" => Some(Urgency::Crisis),
            _ => None,
        }
    }
}

/// One labelled customer tweet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Labelled {
    /// The TWCS tweet id.
    pub id: String,
    /// Anger.
    pub anger: Anger,
    /// Urgency.
    pub urgency: Urgency,
    /// The one main topic (`delivery`, `billing`, `account_access`,
    /// `outage`, `product_fault`, `customer_service`, `travel`, `praise`,
    /// `other`).
    pub topic: String,
    /// ISO 639-1 language code, or `und`.
    pub lang: String,
    /// The labels the two readings disagreed on (settled by a third).
    pub disputed: Vec<String>,
}

const SETTLED: &str = include_str!("../data/twcs-labels/settled.csv");
const READING_A: &str = include_str!("../data/twcs-labels/reading_a.csv");
const READING_B: &str = include_str!("../data/twcs-labels/reading_b.csv");
const DEVELOPMENT: &str = include_str!("../data/twcs-labels/dev_anger.csv");
const TRAINING: &str = include_str!("../data/twcs-labels/train_anger.csv");
const TRAINING_A: &str = include_str!("../data/twcs-labels/train_reading_a.csv");
const TRAINING_B: &str = include_str!("../data/twcs-labels/train_reading_b.csv");

fn parse_labels(text: &str) -> Vec<Labelled> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            Some(Labelled {
                id: r.get(0)?.to_owned(),
                anger: Anger::parse(r.get(1)?)?,
                urgency: Urgency::parse(r.get(2)?)?,
                topic: r.get(3)?.to_owned(),
                lang: r.get(4)?.to_owned(),
                disputed: r
                    .get(5)
                    .unwrap_or("")
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect()
}

/// The evaluation set: the settled labels of the 400 sampled tweets.
pub fn evaluation_set() -> Vec<Labelled> {
    parse_labels(SETTLED)
}

/// The two independent readings of the evaluation set, as labelled.
pub fn readings() -> (Vec<Labelled>, Vec<Labelled>) {
    (parse_labels(READING_A), parse_labels(READING_B))
}

/// Tweet id and anger from a file whose first two columns are
/// `tweet_id,anger` (any further columns are ignored).
fn parse_anger(text: &str) -> Vec<(String, Anger)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',');
            let id = fields.next()?.trim();
            let anger = Anger::parse(fields.next()?.trim())?;
            Some((id.to_owned(), anger))
        })
        .collect()
}

/// The development set: tweet id and anger, for 300 customer tweets
/// outside the evaluation sample.
pub fn development_set() -> Vec<(String, Anger)> {
    parse_anger(DEVELOPMENT)
}

/// The training set: tweet id and settled anger, for 600 customer tweets
/// outside both the evaluation sample and the development set, each read
/// by two people independently (disagreements settled by a third reading).
pub fn training_set() -> Vec<(String, Anger)> {
    parse_anger(TRAINING)
}

/// Tweet id and anger label, one per tweet.
pub type AngerLabels = Vec<(String, Anger)>;

/// The two independent readings of the training set, as labelled (tweet
/// id and anger, in the order of [`training_set`]).
pub fn training_readings() -> (AngerLabels, AngerLabels) {
    (parse_anger(TRAINING_A), parse_anger(TRAINING_B))
}

/// Tweet id → text of every customer (inbound) tweet in a TWCS CSV.
pub fn customer_texts<R: Read>(reader: R) -> HashMap<String, String> {
    let (tweets, _) = carekit_policy::twcs::read(reader);
    tweets
        .into_iter()
        .filter(|t| t.inbound)
        .map(|t| (t.id, t.text))
        .collect()
}

/// How far two readings agree on one label.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Agreement {
    /// Items read by both.
    pub items: usize,
    /// Items given the same label.
    pub same: usize,
    /// `same / items`.
    pub percent: f64,
    /// Cohen's kappa: agreement beyond what the two label frequencies
    /// would give by chance.
    pub kappa: f64,
}

/// Percent agreement and Cohen's kappa between two readings of the same
/// items (paired by position).
pub fn agreement<T: Eq + std::hash::Hash>(a: &[T], b: &[T]) -> Agreement {
    let items = a.len().min(b.len());
    if items == 0 {
        return Agreement {
            items: 0,
            same: 0,
            percent: 0.0,
            kappa: 0.0,
        };
    }
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    let mut count_a: HashMap<&T, usize> = HashMap::new();
    let mut count_b: HashMap<&T, usize> = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        *count_a.entry(x).or_default() += 1;
        *count_b.entry(y).or_default() += 1;
    }
    let n = items as f64;
    let observed = same as f64 / n;
    let chance: f64 = count_a
        .iter()
        .map(|(k, ca)| *ca as f64 * count_b.get(k).copied().unwrap_or(0) as f64)
        .sum::<f64>()
        / (n * n);
    let kappa = if (1.0 - chance).abs() < f64::EPSILON {
        1.0
    } else {
        (observed - chance) / (1.0 - chance)
    };
    Agreement {
        items,
        same,
        percent: observed * 100.0,
        kappa,
    }
}

/// Flagged-or-not against a gold yes/no.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Binary {
    /// Flagged and gold yes.
    pub true_positives: usize,
    /// Flagged, gold no.
    pub false_positives: usize,
    /// Not flagged, gold yes.
    pub false_negatives: usize,
    /// Not flagged, gold no.
    pub true_negatives: usize,
}

impl Binary {
    /// Counts one item.
    pub fn add(&mut self, flagged: bool, gold: bool) {
        match (flagged, gold) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => self.true_negatives += 1,
        }
    }

    /// Flagged items that are gold yes (1 when nothing is flagged).
    pub fn precision(&self) -> f64 {
        let flagged = self.true_positives + self.false_positives;
        if flagged == 0 {
            1.0
        } else {
            self.true_positives as f64 / flagged as f64
        }
    }

    /// Gold-yes items that are flagged (1 when there are none).
    pub fn recall(&self) -> f64 {
        let gold = self.true_positives + self.false_negatives;
        if gold == 0 {
            1.0
        } else {
            self.true_positives as f64 / gold as f64
        }
    }

    /// Flagged items.
    pub fn flagged(&self) -> usize {
        self.true_positives + self.false_positives
    }
}

/// A confusion matrix: predicted class (rows) against gold class
/// (columns), both named by strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    cells: BTreeMap<(String, String), usize>,
}

impl Confusion {
    /// An empty matrix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one item.
    pub fn add(&mut self, predicted: &str, gold: &str) {
        *self
            .cells
            .entry((predicted.to_owned(), gold.to_owned()))
            .or_default() += 1;
    }

    /// Items predicted `predicted` whose gold class is `gold`.
    pub fn get(&self, predicted: &str, gold: &str) -> usize {
        self.cells
            .get(&(predicted.to_owned(), gold.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The matrix as a Markdown table with the given row and column order.
    pub fn to_markdown(&self, rows: &[&str], columns: &[&str]) -> String {
        let mut out = String::from("| predicted \\ gold |");
        for c in columns {
            out.push_str(&format!(" {c} |"));
        }
        out.push_str("\n|---|");
        for _ in columns {
            out.push_str("---:|");
        }
        out.push('\n');
        for r in rows {
            out.push_str(&format!("| {r} |"));
            for c in columns {
                out.push_str(&format!(" {} |", self.get(r, c)));
            }
            out.push('\n');
        }
        out
    }
}

/// Where the TWCS head file is expected beside a checkout of carekit
/// (`../shared/data/twcs/twcs-head5000.csv` from the repository root),
/// given a crate's manifest directory.
pub fn default_twcs_path(manifest_dir: &str) -> std::path::PathBuf {
    std::path::Path::new(manifest_dir).join("../../../shared/data/twcs/twcs-head5000.csv")
}

/// Anger detection at one threshold.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AngerFigures {
    /// The threshold: a message is flagged at sentiment `<= threshold`.
    pub threshold: f32,
    /// Flagged against gold `strong`: precision is the share of flagged
    /// messages labelled strong, recall the share of strong ones flagged.
    pub strong: Binary,
    /// Flagged messages labelled mild or strong, of all flagged.
    pub precision_mild_or_strong: f64,
    /// Rows `flagged`, `not flagged`, `no score` (unsupported language)
    /// against gold `none`, `mild`, `strong`.
    pub flagged: Confusion,
    /// Rows `strong` (score `<= threshold`), `mild` (below 0), `none`,
    /// `no score` against the gold levels.
    pub levels: Confusion,
}

/// The rows of [`AngerFigures::flagged`].
pub const FLAGGED_ROWS: [&str; 3] = ["flagged", "not flagged", "no score"];
/// The rows of [`AngerFigures::levels`].
pub const LEVEL_ROWS: [&str; 4] = ["strong", "mild", "none", "no score"];
/// The gold columns of both.
pub const ANGER_COLUMNS: [&str; 3] = ["none", "mild", "strong"];

/// Scores anger detection: `scored` pairs each message's gold anger with
/// the classifier's sentiment (`None`: no score).
pub fn anger_figures(scored: &[(Anger, Option<f32>)], threshold: f32) -> AngerFigures {
    let mut strong = Binary::default();
    let mut flagged = Confusion::new();
    let mut levels = Confusion::new();
    let mut angry_flagged = 0;
    for (gold, score) in scored {
        let hit = score.is_some_and(|s| s <= threshold);
        strong.add(hit, *gold == Anger::Strong);
        if hit && *gold != Anger::None {
            angry_flagged += 1;
        }
        let row = match score {
            None => "no score",
            Some(_) if hit => "flagged",
            Some(_) => "not flagged",
        };
        flagged.add(row, gold.as_str());
        let level = match score {
            None => "no score",
            Some(_) if hit => "strong",
            Some(s) if *s < 0.0 => "mild",
            Some(_) => "none",
        };
        levels.add(level, gold.as_str());
    }
    let precision_mild_or_strong = if strong.flagged() == 0 {
        1.0
    } else {
        angry_flagged as f64 / strong.flagged() as f64
    };
    AngerFigures {
        threshold,
        strong,
        precision_mild_or_strong,
        flagged,
        levels,
    }
}

/// Crisis terms on labelled messages.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct CrisisFigures {
    /// Fired against gold `crisis`.
    pub crisis: Binary,
    /// Ordinary complaints: gold anger mild or strong, urgency not crisis.
    pub ordinary_complaints: usize,
    /// Ordinary complaints the terms fired on.
    pub false_alarms_on_complaints: usize,
    /// Messages the terms fired on: (tweet id, term, gold urgency).
    pub alarms: Vec<(String, String, Urgency)>,
}

impl CrisisFigures {
    /// `false_alarms_on_complaints / ordinary_complaints`.
    pub fn false_alarm_rate(&self) -> f64 {
        if self.ordinary_complaints == 0 {
            0.0
        } else {
            self.false_alarms_on_complaints as f64 / self.ordinary_complaints as f64
        }
    }
}

/// Runs crisis terms over the labelled messages whose text is known.
pub fn crisis_figures(
    set: &[Labelled],
    texts: &HashMap<String, String>,
    terms: &carekit_policy::builtin::CrisisTerms,
) -> CrisisFigures {
    let mut out = CrisisFigures::default();
    for item in set {
        let Some(text) = texts.get(&item.id) else {
            continue;
        };
        let term = terms.find(text);
        let is_crisis = item.urgency == Urgency::Crisis;
        out.crisis.add(term.is_some(), is_crisis);
        let complaint = !is_crisis && item.anger != Anger::None;
        if complaint {
            out.ordinary_complaints += 1;
        }
        if let Some(term) = term {
            if complaint {
                out.false_alarms_on_complaints += 1;
            }
            out.alarms
                .push((item.id.clone(), term.to_owned(), item.urgency));
        }
    }
    out
}

/// A taxonomy's strongest topic against the labelled topic.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TopicFigures {
    /// Per topic: predicted (strongest topic) against gold.
    pub per_topic: BTreeMap<String, Binary>,
    /// Messages with any topic.
    pub with_topic: usize,
    /// Messages with a gold topic other than `other`.
    pub gold_topical: usize,
    /// Of those, messages whose strongest topic is the gold one.
    pub gold_topical_right: usize,
    /// Messages measured.
    pub total: usize,
}

/// Runs a taxonomy over the labelled messages whose text is known.
pub fn topic_figures(
    set: &[Labelled],
    texts: &HashMap<String, String>,
    taxonomy: &crate::TaxonomyClassifier,
) -> TopicFigures {
    let mut out = TopicFigures::default();
    let names: Vec<String> = taxonomy.topic_names().map(str::to_owned).collect();
    for item in set {
        let Some(text) = texts.get(&item.id) else {
            continue;
        };
        out.total += 1;
        let top = taxonomy.topics_of(text).into_iter().next().map(|t| t.name);
        if top.is_some() {
            out.with_topic += 1;
        }
        if item.topic != "other" {
            out.gold_topical += 1;
            if top.as_deref() == Some(item.topic.as_str()) {
                out.gold_topical_right += 1;
            }
        }
        for name in &names {
            out.per_topic
                .entry(name.clone())
                .or_default()
                .add(top.as_deref() == Some(name.as_str()), &item.topic == name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappa_of_known_tables() {
        // Perfect agreement.
        let a = ["x", "y", "x", "y"];
        assert_eq!(agreement(&a, &a).kappa, 1.0);
        // Agreement exactly at chance: kappa 0.
        let a = ["x", "x", "y", "y"];
        let b = ["x", "y", "x", "y"];
        let k = agreement(&a, &b);
        assert_eq!(k.same, 2);
        assert!(k.kappa.abs() < 1e-9, "{k:?}");
        // A textbook 2x2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no:
        // po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (x, y, n) in [(1, 1, 20), (1, 0, 5), (0, 1, 10), (0, 0, 15)] {
            for _ in 0..n {
                a.push(x);
                b.push(y);
            }
        }
        let k = agreement(&a, &b);
        assert!((k.percent - 70.0).abs() < 1e-9);
        assert!((k.kappa - 0.4).abs() < 1e-9, "{k:?}");
    }

    #[test]
    fn the_labelled_sets_load_whole() {
        let set = evaluation_set();
        assert_eq!(set.len(), 400);
        let (a, b) = readings();
        assert_eq!((a.len(), b.len()), (400, 400));
        for ((s, a), b) in set.iter().zip(&a).zip(&b) {
            assert_eq!((&s.id, &s.id), (&a.id, &b.id));
            // A settled label is one of the two readings, and a row is
            // marked disputed exactly where the readings differ.
            assert!(s.anger == a.anger || s.anger == b.anger);
            assert!(s.topic == a.topic || s.topic == b.topic);
            assert_eq!(
                s.disputed.contains(&"anger".to_owned()),
                a.anger != b.anger,
                "{}",
                s.id
            );
            assert_eq!(
                s.disputed.contains(&"topic".to_owned()),
                a.topic != b.topic,
                "{}",
                s.id
            );
        }
        let dev = development_set();
        assert_eq!(dev.len(), 300);
        assert!(dev.iter().all(|(id, _)| !set.iter().any(|s| &s.id == id)));
    }

    #[test]
    fn the_training_set_is_apart_from_the_other_two() {
        use std::collections::HashSet;
        let train = training_set();
        assert_eq!(train.len(), 600);
        let ids: HashSet<&str> = train.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids.len(), 600, "a training id is repeated");
        let eval = evaluation_set();
        assert!(eval.iter().all(|l| !ids.contains(l.id.as_str())));
        let dev = development_set();
        assert!(dev.iter().all(|(id, _)| !ids.contains(id.as_str())));
        // The labels the crate documents: none 301, mild 176, strong 123.
        let count = |a: Anger| train.iter().filter(|(_, x)| *x == a).count();
        assert_eq!(
            (count(Anger::None), count(Anger::Mild), count(Anger::Strong)),
            (301, 176, 123)
        );
        // Both readings cover the same tweets in the same order, and the
        // settled label is always one of the two.
        let (a, b) = training_readings();
        assert_eq!((a.len(), b.len()), (600, 600));
        for ((s, a), b) in train.iter().zip(&a).zip(&b) {
            assert_eq!((&s.0, &s.0), (&a.0, &b.0));
            assert!(s.1 == a.1 || s.1 == b.1, "{}", s.0);
        }
        let x: Vec<Anger> = a.iter().map(|(_, l)| *l).collect();
        let y: Vec<Anger> = b.iter().map(|(_, l)| *l).collect();
        assert_eq!(agreement(&x, &y).same, 575);
    }

    #[test]
    fn binary_scores() {
        let mut b = Binary::default();
        b.add(true, true);
        b.add(true, false);
        b.add(false, true);
        b.add(false, true);
        assert_eq!(b.precision(), 0.5);
        assert!((b.recall() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(Binary::default().precision(), 1.0);
    }
}
