//! [`CareSentiment`]: a lexicon-and-rules analyser of the VADER kind (valence
//! lexicon, degree words, negation, capitals, punctuation emphasis, "but",
//! a normalised compound score), extended for customer care.

use super::lexicon::{
    BOOSTERS, CONTACTED, HASHTAG_ENDINGS, NEGATORS, NOBODY, NOBODY_DOES, NUMBER_WORDS, PHRASES,
    PROFANE_INTENSIFIERS, QUESTION_STARTS, REPEAT_COUNTS, RHETORICAL, SAD, SAD_EMOJI,
    SARCASM_EMOJI, SARCASM_PRAISE, SARCASM_WORDS, SARCASTIC_OPENERS, WAIT_AFTER, WAIT_BEFORE,
    WAIT_UNITS, WORDS,
};
use super::text::{Token, Word, tokens};
use crate::language::{DetectedLanguage, detect_language};
use async_trait::async_trait;
use carekit_core::{Classification, Classifier};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The label a classification carries when its language has no rules:
/// sentiment is then `None`, never a neutral 0, so a policy can send the
/// message to a person who reads it.
pub const UNSUPPORTED_LANGUAGE_LABEL: &str = "language:unsupported";

/// Negation multiplies a valence by this.
const NEGATION: f32 = -0.74;
/// What a word written in capitals adds to its valence's strength.
const CAPS: f32 = 0.733;
/// What each `!` adds (at most four count).
const BANG: f32 = 0.292;
/// What a negated complaint word is worth, times its valence: "no error"
/// is the absence of a complaint, not praise.
const NEGATED_COMPLAINT: f32 = -0.3;
/// The same emoji repeated in a row: each repeat counts this share.
const EMOJI_REPEAT: f32 = 0.25;
/// The most that sad words and faces together take away.
const SADNESS_FLOOR: f32 = -1.8;
/// What `?!` or `???` take away: exasperated asking.
const INTERROBANG: f32 = 2.0;
/// "3 times", "every time", "multiple times" in a message: repetition.
const REPEATED_TIMES: f32 = -1.6;
/// A word of plain English written in capitals, in a complaint.
const CAPS_WORD: f32 = -0.6;
/// Sarcastic praise openers ("gotta love", "nothing like") beside a
/// complaint.
const SARCASTIC_OPENER: f32 = -1.8;

struct Tables {
    words: HashMap<&'static str, f32>,
    boosters: HashMap<&'static str, f32>,
    /// First word → phrases starting with it (as words), longest first.
    phrases: HashMap<&'static str, Vec<(Vec<&'static str>, f32)>>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut phrases: HashMap<&'static str, Vec<(Vec<&'static str>, f32)>> = HashMap::new();
    for (text, v) in PHRASES {
        let words: Vec<&'static str> = text.split(' ').collect();
        phrases.entry(words[0]).or_default().push((words, *v));
    }
    for list in phrases.values_mut() {
        list.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }
    Tables {
        words: WORDS.iter().copied().collect(),
        boosters: BOOSTERS.iter().copied().collect(),
        phrases,
    }
});

/// Whether `word` (lower case) is in the English care lexicon.
pub(crate) fn is_lexicon_word(word: &str) -> bool {
    TABLES.words.contains_key(word)
}

/// What made a message score as it did, for explanations and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cue {
    /// Profanity.
    Profanity,
    /// A word or the whole message in capitals.
    Capitals,
    /// Repeated `!`, or `?!`, `??`.
    Punctuation,
    /// An emoji or emoticon with a valence.
    Emoji,
    /// A negation turned a sentiment word.
    Negation,
    /// A yes/no question: its negative words weigh less.
    Question,
    /// Praise read as sarcasm (next to a waiting time or an eye-roll), or a
    /// sarcastic opener ("gotta love", "nothing like") beside a complaint.
    Sarcasm,
    /// A waiting time ("3 hours on hold", "it's been 2 days").
    Waiting,
    /// "Again", "still", "yet again", "for the third time", "called 4
    /// times", "every time".
    Repetition,
    /// "Nobody answers", "no one will help".
    NoAnswer,
    /// A threat to leave ("switching to", "close my account", "never again").
    ThreatToLeave,
    /// Exasperation ("I'm done", "fed up", "are you kidding me").
    Exasperation,
}

/// The language verdict behind a score.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LanguageVerdict {
    /// English: the rules apply.
    English,
    /// Another language, which these rules do not read: no score.
    Unsupported(&'static str),
    /// Too few letters to tell (emoji, a handle, a number, one word):
    /// scored by the English rules, which find nothing in words they do not
    /// know.
    Undetermined,
    /// Detection is turned off ([`CareSentimentBuilder::detect_language`]):
    /// read as English.
    NotChecked,
}

/// The full result of [`CareSentiment::analyse`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Analysis {
    /// Sentiment in [-1, 1]; `None` when the language is unsupported.
    pub score: Option<f32>,
    /// The language verdict.
    pub language: LanguageVerdict,
    /// The detected language, when there is one.
    pub detected: Option<DetectedLanguage>,
    /// The sum of valences before normalisation.
    pub raw: f32,
    /// What contributed, without repeats, in order of first appearance.
    pub cues: Vec<Cue>,
}

/// Knobs of [`CareSentiment`]; build with [`CareSentiment::builder`].
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    detect_language: bool,
    question_weight: f32,
    sarcasm: bool,
    shouting_weight: f32,
    alpha: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            detect_language: true,
            question_weight: 0.35,
            sarcasm: true,
            shouting_weight: 1.25,
            alpha: 15.0,
        }
    }
}

/// Sentiment for customer care: a valence lexicon written for care
/// messages, with the rules of the VADER family (degree words, negation,
/// capitals, `!`, "but") and care's own: emoji and emoticons, profanity,
/// negation that stops at the end of its clause, curly apostrophes, yes/no
/// questions weighed apart from statements ("is it down?"), waiting times,
/// "again"/"still"/"4 times", "nobody answers", threats to leave, "I'm
/// done", plain words in capitals in a complaint, praise next to a waiting
/// time or an eye-roll and sarcastic openers ("gotta love") beside a
/// complaint read as sarcasm, profanity that no negation turns, a negated
/// complaint word read as no complaint rather than praise, and sadness
/// ("sad", 😢) weighed as upset rather than angry.
///
/// The score is in [-1, 1] (`x / sqrt(x² + 15)` of the valence sum),
/// deterministic, and never panics. Messages in a language other than
/// English get no score and the label [`UNSUPPORTED_LANGUAGE_LABEL`].
/// Escalate at [`CareSentiment::STRONG_ANGER`] to catch strongly angry
/// customers (measured on labelled real tweets: docs/insight.md).
///
/// ```
/// use carekit_policy::CareSentiment;
/// let s = CareSentiment::default();
/// assert!(s.score("I love waiting 3 hours on hold, great service").unwrap() < -0.5);
/// assert!(s.score("are the servers down?").unwrap() > -0.3);
/// assert!(s.score("this is the WORST service ever 😡").unwrap() <= CareSentiment::STRONG_ANGER);
/// assert_eq!(s.score("el paquete no llegó y nadie responde, qué vergüenza"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CareSentiment {
    settings: Settings,
}

/// Builder for [`CareSentiment`].
#[derive(Clone, Debug, Default)]
pub struct CareSentimentBuilder {
    settings: Settings,
}

impl CareSentimentBuilder {
    /// Whether to detect the language and refuse to score non-English text
    /// (default true). Off, every text is read as English.
    pub fn detect_language(mut self, on: bool) -> Self {
        self.settings.detect_language = on;
        self
    }

    /// How much a negative word counts inside a yes/no question, 0 to 1
    /// (default 0.35): "is it down?" asks, "it is down" complains.
    pub fn question_weight(mut self, weight: f32) -> Self {
        self.settings.question_weight = if weight.is_finite() {
            weight.clamp(0.0, 1.0)
        } else {
            0.35
        };
        self
    }

    /// Whether praise next to a waiting time or an eye-roll is read as
    /// sarcasm (default true).
    pub fn sarcasm(mut self, on: bool) -> Self {
        self.settings.sarcasm = on;
        self
    }

    /// How much a message written in capitals strengthens its sentiment,
    /// 1 to 2 (default 1.25).
    pub fn shouting_weight(mut self, weight: f32) -> Self {
        self.settings.shouting_weight = if weight.is_finite() {
            weight.clamp(1.0, 2.0)
        } else {
            1.25
        };
        self
    }

    /// The normalisation constant in `x / sqrt(x² + alpha)`, 1 to 100
    /// (default 15): smaller saturates sooner.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.settings.alpha = if alpha.is_finite() {
            alpha.clamp(1.0, 100.0)
        } else {
            15.0
        };
        self
    }

    /// The analyser.
    pub fn build(self) -> CareSentiment {
        CareSentiment {
            settings: self.settings,
        }
    }
}

/// One scored piece of a message.
#[derive(Clone, Debug)]
struct Item {
    valence: f32,
    /// Index of its first token in the message.
    at: usize,
    /// Clause number.
    clause: usize,
    /// A phrase (never dampened as a question, never negated).
    phrase: bool,
    /// A word of praise that sarcasm may turn.
    praise: bool,
    /// A politeness word ("thanks"), worth nothing in a complaint.
    polite: bool,
}

const POLITE: &[&str] = &[
    "thanks",
    "thank",
    "thx",
    "thanx",
    "thankx",
    "thankyou",
    "ty",
    "cheers",
    "appreciate",
    "appreciated",
];

const THREATS: &[&str] = &[
    "switch to",
    "switching to",
    "going to switch",
    "go elsewhere",
    "going elsewhere",
    "take my business",
    "taking my business",
    "lost a customer",
    "losing a customer",
    "lost my business",
    "cancel my account",
    "cancel my service",
    "cancel my subscription",
    "cancel my contract",
    "close my account",
    "closing my account",
    "never again",
    "never using",
    "never use",
    "never flying",
    "never fly",
    "never ordering",
    "never order",
    "never buying",
    "never buy",
    "never shopping",
    "never shop",
    "stopped ordering",
    "stopped using",
    "not wasting",
    "find another",
    "another provider",
    "new provider",
    "don't want to be a customer",
    "never coming back",
    "never come back",
    "not coming back",
    "won't be back",
    "wont be back",
    "cancel my membership",
    "getting rid of",
];

fn sign(v: f32) -> f32 {
    if v < 0.0 { -1.0 } else { 1.0 }
}

fn de_elongate(word: &str) -> Option<String> {
    // "soooo" -> "soo" and "so"; "whyyyy" -> "why".
    let mut two = String::new();
    let mut one = String::new();
    let mut last = None;
    let mut run = 0;
    for c in word.chars() {
        if Some(c) == last {
            run += 1;
        } else {
            run = 1;
            last = Some(c);
        }
        if run <= 2 {
            two.push(c);
        }
        if run == 1 {
            one.push(c);
        }
    }
    if TABLES.words.contains_key(two.as_str()) {
        Some(two)
    } else if TABLES.words.contains_key(one.as_str()) {
        Some(one)
    } else {
        None
    }
}

impl CareSentiment {
    /// At or below this score a customer is strongly angry: the threshold
    /// the desk server escalates at, chosen on the training and development
    /// sets (900 tweets outside the evaluation sample) and measured once on
    /// the labelled evaluation sample (docs/insight.md).
    pub const STRONG_ANGER: f32 = -0.5;

    /// The analyser with its defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for the knobs.
    pub fn builder() -> CareSentimentBuilder {
        CareSentimentBuilder::default()
    }

    /// The score of `text` in [-1, 1], or `None` when it is written in a
    /// language these rules do not read.
    pub fn score(&self, text: &str) -> Option<f32> {
        self.analyse(text).score
    }

    /// The classification the desk stores: sentiment, language, and
    /// [`UNSUPPORTED_LANGUAGE_LABEL`] when the language is unsupported.
    pub fn classification(&self, text: &str) -> Classification {
        let analysis = self.analyse(text);
        let mut labels = Vec::new();
        if matches!(analysis.language, LanguageVerdict::Unsupported(_)) {
            labels.push(UNSUPPORTED_LANGUAGE_LABEL.to_owned());
        }
        Classification {
            sentiment: analysis.score,
            language: analysis.detected.map(|d| d.tag.to_owned()),
            labels,
            ..Classification::default()
        }
    }

    /// Scores `text` and says why.
    pub fn analyse(&self, text: &str) -> Analysis {
        let (language, detected) = if self.settings.detect_language {
            match detect_language(text) {
                Some(d) if d.is_english() => (LanguageVerdict::English, Some(d)),
                Some(d) => (LanguageVerdict::Unsupported(d.tag), Some(d)),
                None => (LanguageVerdict::Undetermined, None),
            }
        } else {
            (LanguageVerdict::NotChecked, None)
        };
        if let LanguageVerdict::Unsupported(_) = language {
            return Analysis {
                score: None,
                language,
                detected,
                raw: 0.0,
                cues: Vec::new(),
            };
        }
        let tokens = tokens(text);
        let mut cues = Vec::new();
        let raw = self.raw(&tokens, &mut cues);
        let alpha = self.settings.alpha;
        let score = (raw / (raw * raw + alpha).sqrt()).clamp(-1.0, 1.0);
        let score = if score.is_finite() { score } else { 0.0 };
        let mut seen = Vec::new();
        cues.retain(|c| {
            let fresh = !seen.contains(c);
            seen.push(*c);
            fresh
        });
        Analysis {
            score: Some(score),
            language,
            detected,
            raw: if raw.is_finite() { raw } else { 0.0 },
            cues,
        }
    }

    /// The valence sum of a tokenised message.
    fn raw(&self, tokens: &[Token], cues: &mut Vec<Cue>) -> f32 {
        let t = &*TABLES;
        // Clauses: the tokens between boundaries, with the `!`/`?` that
        // closed them.
        let mut clause_of = Vec::with_capacity(tokens.len());
        let mut closings: Vec<(usize, usize)> = Vec::new();
        let mut clause = 0;
        for tok in tokens {
            clause_of.push(clause);
            if let Token::Boundary { bangs, questions } = tok {
                closings.push((*bangs, *questions));
                clause += 1;
            }
        }
        closings.push((0, 0));
        let words: Vec<Option<&Word>> = tokens
            .iter()
            .map(|tok| match tok {
                Token::Word(w) => Some(w),
                _ => None,
            })
            .collect();
        let text_of = |i: usize| words.get(i).copied().flatten().map(|w| w.text.as_str());
        // Whole-message capitals: shouting, not emphasis of one word.
        let (cased, upper) = words
            .iter()
            .flatten()
            .fold((0, 0), |(c, u), w| (c + w.cased, u + w.upper));
        let word_count = words.iter().flatten().count();
        let shouting = cased >= 12 && word_count >= 3 && upper * 10 >= cased * 6;
        // Yes/no questions: a clause closed by `?` (and no `!`) whose first
        // word is an auxiliary.
        let mut question_clause = vec![false; closings.len()];
        {
            let mut first_word: Vec<Option<&str>> = vec![None; closings.len()];
            for (i, w) in words.iter().enumerate() {
                if let Some(w) = w
                    && first_word[clause_of[i]].is_none()
                {
                    first_word[clause_of[i]] = Some(w.text.as_str());
                }
            }
            // "will you ever answer?", "do you even read these?": asked
            // for effect, not for an answer.
            let mut rhetorical = vec![false; closings.len()];
            for (i, w) in words.iter().enumerate() {
                if let Some(w) = w
                    && RHETORICAL.contains(&w.text.as_str())
                {
                    rhetorical[clause_of[i]] = true;
                }
            }
            for (k, (bangs, questions)) in closings.iter().enumerate() {
                question_clause[k] = *questions > 0
                    && *bangs == 0
                    && !rhetorical[k]
                    && first_word[k].is_some_and(|w| QUESTION_STARTS.contains(&w));
            }
        }

        let mut items: Vec<Item> = Vec::new();
        // Items of sarcastic openers ("gotta love"), turned when the
        // message complains.
        let mut openers: Vec<usize> = Vec::new();
        // Items of sadness ("sad", "heartbroken", 😔): upset, not angry.
        let mut sad: Vec<usize> = Vec::new();
        let mut consumed = vec![false; tokens.len()];
        let mut matched_phrases: Vec<String> = Vec::new();
        for (i, tok) in tokens.iter().enumerate() {
            match tok {
                Token::Emoji { valence, ch } => {
                    cues.push(Cue::Emoji);
                    // The same emoji again in a row stresses it a little
                    // (a quarter each, two repeats at most): "😭😭😭" is
                    // one sob, louder, not three.
                    let repeats = tokens[..i]
                        .iter()
                        .rev()
                        .take_while(|p| matches!(p, Token::Emoji { ch: c, .. } if c == ch))
                        .count();
                    if repeats < 3 {
                        let weight = if repeats == 0 { 1.0 } else { EMOJI_REPEAT };
                        if ch.is_some_and(|c| SAD_EMOJI.contains(&c))
                            || (ch.is_none() && *valence < 0.0 && *valence > -2.0)
                        {
                            sad.push(items.len());
                        }
                        items.push(Item {
                            valence: *valence * weight,
                            at: i,
                            clause: clause_of[i],
                            phrase: true,
                            praise: false,
                            polite: false,
                        });
                    }
                }
                Token::Word(w) if !consumed[i] => {
                    // Phrases first, longest first, inside the clause.
                    if let Some(list) = t.phrases.get(w.text.as_str()) {
                        let hit = list.iter().find(|(ws, _)| {
                            ws.iter().enumerate().all(|(k, p)| {
                                text_of(i + k) == Some(p)
                                    && clause_of.get(i + k) == Some(&clause_of[i])
                            })
                        });
                        if let Some((ws, v)) = hit {
                            for k in 0..ws.len() {
                                consumed[i + k] = true;
                            }
                            let phrase = ws.join(" ");
                            let caps = (0..ws.len()).any(|k| words[i + k].is_some_and(|w| w.caps));
                            let mut v = *v;
                            if caps && !shouting && v != 0.0 {
                                v += sign(v) * CAPS;
                                cues.push(Cue::Capitals);
                            }
                            if v != 0.0 {
                                if SARCASTIC_OPENERS.contains(&phrase.as_str()) {
                                    openers.push(items.len());
                                }
                                items.push(Item {
                                    valence: v,
                                    at: i,
                                    clause: clause_of[i],
                                    phrase: true,
                                    praise: false,
                                    polite: false,
                                });
                            }
                            matched_phrases.push(phrase);
                            continue;
                        }
                    }
                    let (word, elongated) = match t.words.get(w.text.as_str()) {
                        Some(_) => (w.text.clone(), false),
                        None => match de_elongate(&w.text) {
                            Some(d) => (d, w.elongated),
                            None => (w.text.clone(), false),
                        },
                    };
                    let mut v = match t.words.get(word.as_str()) {
                        Some(v) => *v,
                        None if w.hashtag => HASHTAG_ENDINGS
                            .iter()
                            .find(|(end, _)| word.ends_with(end) && word.len() > end.len())
                            .map_or(0.0, |(_, v)| *v),
                        None => 0.0,
                    };
                    if v == 0.0 {
                        continue;
                    }
                    // A profane intensifier before another sentiment word
                    // strengthens it instead of counting alone.
                    if PROFANE_INTENSIFIERS.contains(&word.as_str()) {
                        cues.push(Cue::Profanity);
                        let next = words
                            .iter()
                            .enumerate()
                            .skip(i + 1)
                            .take(2)
                            .find_map(|(k, w)| w.filter(|_| clause_of[k] == clause_of[i]));
                        if next.is_some_and(|n| {
                            t.words.get(n.text.as_str()).is_some_and(|v| *v != 0.0)
                                && !PROFANE_INTENSIFIERS.contains(&n.text.as_str())
                        }) {
                            continue;
                        }
                    } else if v <= -2.0 && is_profane(&word) {
                        cues.push(Cue::Profanity);
                    }
                    if w.caps && !shouting {
                        v += sign(v) * CAPS;
                        cues.push(Cue::Capitals);
                    }
                    if elongated {
                        v += sign(v) * 0.3;
                    }
                    // Degree words and negation: up to three words back,
                    // never across a clause boundary.
                    let mut negated = false;
                    let mut never = false;
                    for back in 1..=3usize {
                        let Some(k) = i.checked_sub(back) else { break };
                        if clause_of[k] != clause_of[i] {
                            break;
                        }
                        if matches!(tokens[k], Token::Emoji { .. }) {
                            break;
                        }
                        let Some(prev) = words[k] else { continue };
                        let scale = [1.0, 0.95, 0.9][back - 1];
                        if let Some(b) = t.boosters.get(prev.text.as_str()) {
                            let mut b = *b;
                            if prev.caps && !shouting {
                                b += 0.3;
                            }
                            v += sign(v) * b * scale;
                        } else if PROFANE_INTENSIFIERS.contains(&prev.text.as_str()) {
                            v += sign(v) * 0.8 * scale;
                        }
                        if !consumed[k] && NEGATORS.contains(&prev.text.as_str()) {
                            negated = true;
                            never |= prev.text == "never";
                        }
                    }
                    // "never been slower": "never" before a complaint
                    // stresses it rather than turning it.
                    if negated && never && v < 0.0 {
                        v *= 1.2;
                        negated = false;
                    }
                    // Profanity is an insult whatever turns it: "isn't
                    // complete shit" is no praise.
                    let profane =
                        is_profane(&word) || PROFANE_INTENSIFIERS.contains(&word.as_str());
                    if negated && !w.hashtag && !profane {
                        v *= if v < 0.0 { NEGATED_COMPLAINT } else { NEGATION };
                        cues.push(Cue::Negation);
                    }
                    if v < 0.0 && SAD.contains(&word.as_str()) {
                        sad.push(items.len());
                    }
                    items.push(Item {
                        valence: v,
                        at: i,
                        clause: clause_of[i],
                        phrase: false,
                        praise: (w.hashtag || !negated) && SARCASM_PRAISE.contains(&word.as_str()),
                        polite: !negated && POLITE.contains(&word.as_str()),
                    });
                }
                _ => {}
            }
        }

        for phrase in &matched_phrases {
            if THREATS.contains(&phrase.as_str()) {
                cues.push(Cue::ThreatToLeave);
            } else if phrase.starts_with("still")
                || phrase.ends_with("again")
                || phrase.ends_with("times")
                || phrase.ends_with(" time") && !phrase.starts_with("waste")
            {
                cues.push(Cue::Repetition);
            } else if phrase == "on hold" {
                cues.push(Cue::Waiting);
            } else if [
                "fed up",
                "i'm done",
                "im done",
                "i am done",
                "had enough",
                "sick of",
                "kidding me",
                "are you kidding",
                "you kidding me",
                "enough is enough",
                "so done",
                "can't stand",
                "cant stand",
                "what the heck",
                "the heck",
                "just fix it",
                "fix it already",
                "figure it out",
            ]
            .contains(&phrase.as_str())
            {
                cues.push(Cue::Exasperation);
            }
        }

        self.care_cues(tokens, &words, &clause_of, &consumed, &mut items, cues);

        // "Gotta love", "nothing like", "oh wait" beside a complaint or a
        // wait: sarcasm.
        if self.settings.sarcasm && !openers.is_empty() {
            let complaint = cues.contains(&Cue::Waiting)
                || items
                    .iter()
                    .enumerate()
                    .any(|(k, it)| !openers.contains(&k) && it.valence <= -0.8);
            if complaint {
                for &k in &openers {
                    items[k].valence = SARCASTIC_OPENER;
                }
                cues.push(Cue::Sarcasm);
            }
        }

        // Sadness is not anger: however many sad words and faces, together
        // they weigh no more than one clear complaint.
        let sadness: f32 = sad.iter().map(|&k| items[k].valence).sum();
        if sadness < SADNESS_FLOOR {
            let scale = SADNESS_FLOOR / sadness;
            for &k in &sad {
                items[k].valence *= scale;
            }
        }

        // Plain words in capitals ("that is INCORRECT", "NOTHING works")
        // in a complaint: raised voice. Acronyms (no vowel, or under five
        // letters) and words the lexicon already weighs do not count.
        if !shouting && items.iter().any(|it| it.valence <= -0.8) {
            let raised = words
                .iter()
                .flatten()
                .filter(|w| {
                    w.caps
                        && !w.hashtag
                        && w.text.chars().count() >= 5
                        && w.text.chars().all(|c| c.is_alphabetic() || c == '\'')
                        && w.text.chars().any(|c| "aeiouy".contains(c))
                        && !TABLES.words.contains_key(w.text.as_str())
                })
                .count()
                .min(2);
            if raised > 0 {
                cues.push(Cue::Capitals);
                items.push(Item {
                    valence: CAPS_WORD * raised as f32,
                    at: 0,
                    clause: 0,
                    phrase: true,
                    praise: false,
                    polite: false,
                });
            }
        }

        // Questions: negative single words in a yes/no question weigh less.
        for item in &mut items {
            if !item.phrase && item.valence < 0.0 && question_clause[item.clause] {
                item.valence *= self.settings.question_weight;
                cues.push(Cue::Question);
            }
        }

        // Sarcasm: praise beside a waiting time, "on hold" or an eye-roll.
        let eye_roll = tokens.iter().any(
            |tok| matches!(tok, Token::Emoji { ch: Some(c), .. } if SARCASM_EMOJI.contains(c)),
        );
        let sigh = words
            .iter()
            .flatten()
            .any(|w| SARCASM_WORDS.contains(&w.text.as_str()));
        let hashtag_not = words
            .iter()
            .flatten()
            .any(|w| w.hashtag && (w.text == "not" || w.text == "sarcasm"));
        if self.settings.sarcasm
            && (cues.contains(&Cue::Waiting) || eye_roll || hashtag_not || sigh)
            && items.iter().any(|it| it.praise && it.valence > 0.0)
        {
            for item in items.iter_mut().filter(|it| it.praise && it.valence > 0.0) {
                item.valence *= -0.6;
            }
            cues.push(Cue::Sarcasm);
        }

        // Beside fury, praise is sarcasm or beside the point ("nice to know
        // you bend over your customers ... absolute JOKE").
        if items.iter().any(|it| it.valence <= -2.5) {
            for item in items.iter_mut().filter(|it| it.praise && it.valence > 0.0) {
                item.valence = 0.0;
            }
        }

        // Politeness counts for nothing in a complaint.
        if items.iter().any(|it| it.valence <= -0.5) {
            for item in items.iter_mut().filter(|it| it.polite) {
                item.valence = 0.0;
            }
        }

        // "but": what comes before weighs half, what follows half again.
        if let Some(but) = words
            .iter()
            .position(|w| w.is_some_and(|w| w.text == "but"))
        {
            for item in &mut items {
                item.valence *= if item.at < but { 0.5 } else { 1.5 };
            }
        }

        let mut sum: f32 = items.iter().map(|it| it.valence).sum();
        if shouting {
            cues.push(Cue::Capitals);
            // Shouting without clear praise is anger.
            sum = if sum < 1.5 {
                sum.min(0.0) * self.settings.shouting_weight - 1.5
            } else {
                sum * (1.0 + (self.settings.shouting_weight - 1.0) / 2.0)
            };
        }
        // Punctuation: `!` strengthens whatever the message says; `??` and
        // `?!` are exasperated.
        let bangs: usize = closings.iter().map(|(b, _)| *b).sum::<usize>().min(4);
        let exasperation = closings
            .iter()
            .map(|(b, q)| match (*b, *q) {
                (_, q) if q >= 3 => INTERROBANG,
                (b, q) if b >= 1 && q >= 1 => INTERROBANG,
                (_, 2) => 0.8,
                _ => 0.0,
            })
            .fold(0.0f32, f32::max);
        // Long runs of `!` with nothing praised: shouting in punctuation.
        let longest_run = closings.iter().map(|(b, _)| *b).max().unwrap_or(0);
        let total_bangs: usize = closings.iter().map(|(b, _)| *b).sum();
        let exasperation = if (longest_run >= 4 || total_bangs >= 6) && sum <= 0.0 {
            exasperation.max(1.5)
        } else {
            exasperation
        };
        if exasperation > 0.0 && sum < 1.5 {
            cues.push(Cue::Punctuation);
            sum -= exasperation;
        }
        if sum != 0.0 && bangs > 0 {
            sum += sign(sum) * BANG * bangs as f32;
            if bangs >= 2 {
                cues.push(Cue::Punctuation);
            }
        }
        sum
    }

    /// Waiting times, "again"/"still", "nobody answers".
    fn care_cues(
        &self,
        tokens: &[Token],
        words: &[Option<&Word>],
        clause_of: &[usize],
        consumed: &[bool],
        items: &mut Vec<Item>,
        cues: &mut Vec<Cue>,
    ) {
        let text_of = |i: usize| words.get(i).copied().flatten().map(|w| w.text.as_str());
        let negative_before = items.iter().any(|it| it.valence < -0.4);
        let mut waits = 0;
        let mut counted_times = false;
        for i in 0..tokens.len() {
            let Some(w) = text_of(i) else { continue };
            let same = |k: usize| clause_of.get(k) == clause_of.get(i);
            // A waiting time: "3 hours", "two days", "over an hour", "3hrs".
            let compact = w
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .to_owned();
            let is_compact = compact.len() < w.len()
                && [
                    "h", "hr", "hrs", "hours", "days", "d", "weeks", "wks", "mins",
                ]
                .contains(&compact.as_str());
            let is_number = (w.starts_with(|c: char| c.is_ascii_digit())
                && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
                || NUMBER_WORDS.contains(&w);
            let minutes = w.parse::<u32>().is_ok_and(|m| m >= 15)
                && text_of(i + 1).is_some_and(|u| ["min", "mins", "minutes"].contains(&u));
            let unit_next =
                (text_of(i + 1).is_some_and(|u| WAIT_UNITS.contains(&u)) || minutes) && same(i + 1);
            if (is_number && unit_next) || is_compact {
                let unit_end = if is_compact { i } else { i + 1 };
                let before = (1..=3).any(|b| {
                    i.checked_sub(b).is_some_and(|k| {
                        same(k) && text_of(k).is_some_and(|p| WAIT_BEFORE.contains(&p))
                    })
                });
                let after = text_of(unit_end + 1).is_some_and(|a| WAIT_AFTER.contains(&a))
                    || matches!(text_of(unit_end + 1), Some("on"))
                        && text_of(unit_end + 2) == Some("hold");
                if (before || after) && waits < 2 {
                    waits += 1;
                    cues.push(Cue::Waiting);
                    items.push(Item {
                        valence: -1.2,
                        at: i,
                        clause: clause_of[i],
                        phrase: true,
                        praise: false,
                        polite: false,
                    });
                }
            }
            // "all day", "all weekend": a wait too.
            if w == "all"
                && text_of(i + 1).is_some_and(|d| {
                    [
                        "day",
                        "night",
                        "weekend",
                        "morning",
                        "afternoon",
                        "evening",
                        "week",
                    ]
                    .contains(&d)
                })
                && waits < 2
            {
                waits += 1;
                cues.push(Cue::Waiting);
                items.push(Item {
                    valence: -1.0,
                    at: i,
                    clause: clause_of[i],
                    phrase: true,
                    praise: false,
                    polite: false,
                });
            }
            if consumed[i] {
                continue;
            }
            // "still" before a negation or a complaint.
            if w == "still" {
                let follows = (1..=3).any(|f| {
                    same(i + f)
                        && text_of(i + f).is_some_and(|n| {
                            NEGATORS.contains(&n) || TABLES.words.get(n).is_some_and(|v| *v < 0.0)
                        })
                });
                if follows {
                    cues.push(Cue::Repetition);
                    items.push(Item {
                        valence: -0.8,
                        at: i,
                        clause: clause_of[i],
                        phrase: true,
                        praise: false,
                        polite: false,
                    });
                }
            }
            // "again" in a complaint.
            if w == "again" && negative_before {
                cues.push(Cue::Repetition);
                items.push(Item {
                    valence: -0.8,
                    at: i,
                    clause: clause_of[i],
                    phrase: true,
                    praise: false,
                    polite: false,
                });
            }
            // "3 times", "multiple times", "every time": it keeps
            // happening.
            if (w == "times" || w == "time") && i > 0 && !consumed[i] && same(i - 1) {
                let count = text_of(i - 1).is_some_and(|n| {
                    if w == "time" {
                        n == "every"
                    } else {
                        n.parse::<u32>().is_ok_and(|n| n >= 2) || REPEAT_COUNTS.contains(&n)
                    }
                });
                // In a complaint, or after asking ("called 4 times", "DM'd
                // you multiple times").
                let asked = (2..=5).any(|b| {
                    i.checked_sub(b).is_some_and(|k| {
                        same(k) && text_of(k).is_some_and(|v| CONTACTED.contains(&v))
                    })
                });
                if count && (negative_before || asked) && !counted_times {
                    counted_times = true;
                    cues.push(Cue::Repetition);
                    items.push(Item {
                        valence: REPEATED_TIMES,
                        at: i,
                        clause: clause_of[i],
                        phrase: true,
                        praise: false,
                        polite: false,
                    });
                }
            }
            // "nobody answers", "no one will help".
            let nobody = NOBODY.contains(&w) || (w == "no" && text_of(i + 1) == Some("one"));
            if nobody {
                let does = (1..=4).any(|f| {
                    same(i + f) && text_of(i + f).is_some_and(|d| NOBODY_DOES.contains(&d))
                });
                if does {
                    cues.push(Cue::NoAnswer);
                    items.push(Item {
                        valence: -1.6,
                        at: i,
                        clause: clause_of[i],
                        phrase: true,
                        praise: false,
                        polite: false,
                    });
                }
            }
        }
    }
}

fn is_profane(word: &str) -> bool {
    matches!(
        word,
        "fuck"
            | "fucked"
            | "fucks"
            | "fck"
            | "fk"
            | "shit"
            | "shitty"
            | "bullshit"
            | "bs"
            | "crap"
            | "crappy"
            | "piss"
            | "pissed"
            | "pissing"
            | "dammit"
            | "wtf"
            | "ffs"
            | "arse"
            | "ass"
            | "asshole"
            | "assholes"
            | "bastard"
            | "bastards"
            | "bitch"
    )
}

#[async_trait]
impl Classifier for CareSentiment {
    async fn classify(&self, text: &str) -> Classification {
        self.classification(text)
    }
}
