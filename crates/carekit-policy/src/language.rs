//! Language detection for short customer messages.
//!
//! Tweets are short and full of handles, links and emoji, where general
//! detectors guess wildly, so [`detect_language`] reads only the words
//! (mentions, links and emoji dropped), trusts the script for non-Latin
//! writing, and for Latin writing asks the `whatlang` detector (restricted to
//! the Latin-script languages customers commonly write in) and weighs its
//! answer against how many everyday English words the text holds. It says
//! "English" unless another language is clearly more likely, because
//! wrongly calling an English complaint foreign would hide it from the
//! anger rules.

use std::collections::HashSet;
use std::sync::LazyLock;
use whatlang::{Detector, Lang, Script};

static ENGLISH_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| ENGLISH.iter().copied().collect());

/// What [`detect_language`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DetectedLanguage {
    /// BCP 47 tag: the ISO 639-1 code where there is one (`"en"`, `"es"`,
    /// `"ja"`), else the ISO 639-3 code.
    pub tag: &'static str,
    /// Whether the detector is confident (long enough text, a clear margin).
    pub reliable: bool,
}

impl DetectedLanguage {
    /// Whether this is English.
    pub fn is_english(&self) -> bool {
        self.tag == "en"
    }
}

/// Everyday English words (function words and care vocabulary) that count
/// as evidence for English.
const ENGLISH: &[&str] = &[
    "the",
    "to",
    "i",
    "a",
    "and",
    "my",
    "you",
    "for",
    "is",
    "it",
    "on",
    "in",
    "of",
    "me",
    "this",
    "have",
    "not",
    "with",
    "but",
    "your",
    "just",
    "was",
    "no",
    "that",
    "are",
    "be",
    "can",
    "get",
    "at",
    "so",
    "from",
    "when",
    "do",
    "help",
    "i'm",
    "it's",
    "they",
    "thanks",
    "don't",
    "why",
    "or",
    "if",
    "still",
    "what",
    "we",
    "how",
    "now",
    "all",
    "out",
    "as",
    "will",
    "there",
    "need",
    "been",
    "had",
    "like",
    "got",
    "please",
    "time",
    "i've",
    "thank",
    "can't",
    "any",
    "hi",
    "about",
    "after",
    "did",
    "would",
    "only",
    "has",
    "know",
    "by",
    "our",
    "am",
    "going",
    "even",
    "today",
    "go",
    "order",
    "want",
    "trying",
    "guys",
    "getting",
    "over",
    "work",
    "who",
    "off",
    "yes",
    "could",
    "day",
    "email",
    "them",
    "us",
    "sent",
    "way",
    "being",
    "more",
    "call",
    "see",
    "hey",
    "never",
    "then",
    "good",
    "again",
    "people",
    "check",
    "already",
    "tried",
    "much",
    "didn't",
    "down",
    "does",
    "fix",
    "really",
    "that's",
    "because",
    "very",
    "make",
    "were",
    "same",
    "told",
    "having",
    "some",
    "great",
    "should",
    "too",
    "home",
    "other",
    "free",
    "well",
    "says",
    "money",
    "problem",
    "issue",
    "say",
    "working",
    "first",
    "since",
    "every",
    "their",
    "hours",
    "right",
    "let",
    "here",
    "where",
    "yet",
    "doesn't",
    "said",
    "than",
    "ok",
    "okay",
    "yeah",
    "lol",
    "im",
    "dont",
    "cant",
    "u",
    "ur",
    "pls",
    "plz",
    "thx",
    "dm",
    "account",
    "phone",
    "service",
    "customer",
    "flight",
    "app",
    "update",
    "internet",
    "store",
    "bag",
    "refund",
    "ago",
    "yesterday",
    "tomorrow",
    "tonight",
    "week",
    "minutes",
    "happy",
    "love",
    "best",
    "worst",
    "which",
    "these",
    "those",
    "its",
    "isn't",
    "wasn't",
    "won't",
    "i'll",
    "you're",
    "we're",
    "y'all",
    "gonna",
    "wanna",
    "sure",
    "nope",
    "yep",
    "hello",
    "cheers",
    "shit",
    "fuck",
    "wtf",
    "omg",
    "name",
    "number",
    "case",
    "new",
    "card",
    "pay",
    "paid",
    "charge",
    "bill",
    "delivery",
    "package",
    "ordered",
    "received",
    "waiting",
    "line",
    "hour",
    "year",
    "month",
    "night",
    "morning",
    "train",
    "seat",
    "ticket",
    "online",
    "website",
    "site",
    "message",
    "reply",
    "answer",
    "support",
    "team",
    "staff",
    "store",
    "food",
    "guess",
    "think",
    "thought",
    "feel",
    "look",
    "find",
    "found",
    "give",
    "gave",
    "take",
    "took",
    "keep",
    "kept",
    "come",
    "came",
    "tell",
    "asked",
    "ask",
    "use",
    "used",
    "using",
    "try",
    "wait",
    "called",
    "call",
    "sorry",
    "again",
    "back",
    "into",
    "through",
    "while",
    "before",
    "until",
    "also",
    "most",
    "every",
    "each",
    "another",
    "something",
    "anything",
    "nothing",
    "everything",
    "someone",
    "anyone",
    "nobody",
    "thing",
    "things",
    "way",
    "he",
    "she",
    "his",
    "her",
    "him",
    "an",
    "done",
    "correct",
    "via",
];

/// Latin-script languages the detector may choose between.
const LATIN: &[Lang] = &[
    Lang::Eng,
    Lang::Spa,
    Lang::Fra,
    Lang::Deu,
    Lang::Por,
    Lang::Ita,
    Lang::Nld,
    Lang::Tur,
    Lang::Pol,
    Lang::Swe,
    Lang::Dan,
    Lang::Nob,
    Lang::Fin,
    Lang::Ind,
    Lang::Ces,
    Lang::Ron,
    Lang::Hun,
    Lang::Cat,
    Lang::Tgl,
    Lang::Vie,
];

fn tag(lang: Lang) -> &'static str {
    match lang {
        Lang::Eng => "en",
        Lang::Spa => "es",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Tur => "tr",
        Lang::Pol => "pl",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "nb",
        Lang::Fin => "fi",
        Lang::Ind => "id",
        Lang::Ces => "cs",
        Lang::Ron => "ro",
        Lang::Hun => "hu",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Vie => "vi",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Cmn => "zh",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Ara => "ar",
        Lang::Heb => "he",
        Lang::Hin => "hi",
        Lang::Ben => "bn",
        Lang::Tha => "th",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Urd => "ur",
        Lang::Pes => "fa",
        other => other.code(),
    }
}

fn is_latin(c: char) -> bool {
    !c.is_alphabetic() || c <= '\u{024F}' || ('\u{1E00}'..='\u{1EFF}').contains(&c)
}

/// The words of `text` without mentions, links, hashtags, digits and
/// emoji, lower-cased, apostrophes straightened.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| {
            !w.starts_with('@')
                && !w.starts_with('#')
                && !w.contains("://")
                && !w.starts_with("www.")
        })
        .flat_map(|w| {
            w.split(|c: char| !(c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '\u{2018}')))
                .map(|p| {
                    p.trim_matches(|c: char| !c.is_alphabetic())
                        .replace(['\u{2019}', '\u{2018}'], "'")
                        .to_lowercase()
                })
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The language `text` is written in, or `None` when it holds too few
/// letters to tell (a mention, a link, emoji, a number).
///
/// ```
/// use carekit_policy::language::detect_language;
/// assert_eq!(detect_language("my parcel is late again").unwrap().tag, "en");
/// assert_eq!(detect_language("Hola, necesito ayuda con mi cuenta, por favor").unwrap().tag, "es");
/// assert_eq!(detect_language("amazonプライムビデオ、再生エラーが多いです").unwrap().tag, "ja");
/// assert_eq!(detect_language("@brand 👍 https://t.co/x"), None);
/// ```
pub fn detect_language(text: &str) -> Option<DetectedLanguage> {
    let words = words(text);
    let letters: usize = words.iter().map(|w| w.chars().count()).sum();
    if letters < 2 {
        return None;
    }
    // Letters of other scripts (kana, Han, Cyrillic, Devanagari, ...): if
    // they are a third of the letters, their language is the message's.
    let other: String = words
        .iter()
        .flat_map(|w| w.chars())
        .map(|c| if is_latin(c) { ' ' } else { c })
        .collect();
    let other_letters = other.chars().filter(|c| c.is_alphabetic()).count();
    if other_letters >= 2 && other_letters * 3 >= letters {
        let info = whatlang::detect(&other)?;
        if info.script() != Script::Latin {
            return Some(DetectedLanguage {
                tag: tag(info.lang()),
                reliable: info.is_reliable(),
            });
        }
    }
    let joined = words.join(" ");
    let english = words
        .iter()
        .filter(|w| ENGLISH_SET.contains(w.as_str()) || crate::sentiment::is_lexicon_word(w))
        .count();
    let share = english as f32 / words.len() as f32;
    let english_guess = DetectedLanguage {
        tag: "en",
        reliable: share >= 0.3 && words.len() >= 4,
    };
    // A fifth of the words everyday English: English, whatever the
    // detector would say (so it is not asked: it is the slow part).
    if share >= 0.2 {
        return Some(english_guess);
    }
    let Some(info) = Detector::with_allowlist(LATIN.to_vec()).detect(&joined) else {
        return (english > 0).then_some(english_guess);
    };
    if info.lang() == Lang::Eng {
        return Some(english_guess);
    }
    // Another language, and few English words: believe it when the
    // detector is sure, or when there are four words or more and hardly
    // any is English; otherwise English if any English word is there,
    // else undetermined.
    if info.is_reliable() || (words.len() >= 4 && share < 0.15) {
        Some(DetectedLanguage {
            tag: tag(info.lang()),
            reliable: info.is_reliable(),
        })
    } else if english > 0 {
        Some(english_guess)
    } else {
        None
    }
}
