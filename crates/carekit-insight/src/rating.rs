//! Reading a satisfaction rating out of a customer's free-text answer.
//!
//! Customers answer a survey the way they talk: `5`, `5/5`, `4 stars`,
//! `four`, `great!`, `terrible`, `⭐⭐⭐`, `👍`. [`parse_rating`] accepts those
//! and refuses anything that reads like a new message (long text, a
//! question, a "but"), so a real complaint is never swallowed as a score.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A satisfaction rating, 1 (very unhappy) to 5 (very happy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Rating(u8);

impl Rating {
    /// A rating from 1 to 5.
    ///
    /// # Errors
    /// [`RatingError::OutOfRange`] for anything else.
    pub fn new(value: u8) -> Result<Self, RatingError> {
        if (1..=5).contains(&value) {
            Ok(Self(value))
        } else {
            Err(RatingError::OutOfRange {
                value: u32::from(value),
            })
        }
    }
    /// The value, 1 to 5.
    pub fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Rating {
    type Error = RatingError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Rating> for u8 {
    fn from(r: Rating) -> u8 {
        r.0
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/5", self.0)
    }
}

/// Why a text is not read as a rating. The text itself is never lost: the
/// desk keeps it as an ordinary customer message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RatingError {
    /// Nothing but whitespace.
    #[error("the answer is empty")]
    Empty,
    /// Too many words for a rating: more likely a new message.
    #[error("{words} words is too long for a rating (at most {max})")]
    TooLong {
        /// Words in the answer.
        words: usize,
        /// The most a rating answer may have.
        max: usize,
    },
    /// A question, or a "but": the customer has more to say.
    #[error("the answer reads as a new message ({reason})")]
    NewMessage {
        /// What gave it away.
        reason: &'static str,
    },
    /// A number or star count outside 1 to 5.
    #[error("{value} is not a rating from 1 to 5")]
    OutOfRange {
        /// The value read.
        value: u32,
    },
    /// Several different ratings in one answer (`"5 or 1"`).
    #[error("the answer holds several different ratings: {candidates:?}")]
    Ambiguous {
        /// The ratings read, in order.
        candidates: Vec<u8>,
    },
    /// Nothing in the answer reads as a rating.
    #[error("no rating found in the answer")]
    NotARating,
}

/// Longest answer, in words, still read as a rating.
pub const MAX_RATING_WORDS: usize = 8;

const CONTRAST: &[&str] = &["but", "however", "though", "although", "except", "still"];

fn word_value(word: &str) -> Option<u8> {
    Some(match word {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "excellent" | "amazing" | "perfect" | "outstanding" | "fantastic" | "awesome"
        | "superb" | "brilliant" | "wonderful" | "love" | "loved" => 5,
        "great" | "good" | "happy" | "satisfied" | "helpful" | "nice" => 4,
        "ok" | "okay" | "fine" | "average" | "meh" | "alright" | "decent" | "neutral" => 3,
        "bad" | "poor" | "unhappy" | "disappointed" | "disappointing" | "unhelpful" | "slow" => 2,
        "terrible" | "awful" | "horrible" | "worst" | "useless" | "dreadful" | "hate"
        | "appalling" => 1,
        _ => return None,
    })
}

fn emoji_value(c: char) -> Option<u8> {
    Some(match c {
        '😍' | '🤩' | '🥰' | '❤' | '💯' => 5,
        '😀' | '😃' | '😄' | '😊' | '🙂' | '👍' | '😁' => 4,
        '😐' | '😑' | '🤷' => 3,
        '🙁' | '☹' | '😕' | '😞' | '👎' => 2,
        '😡' | '😠' | '🤬' | '😤' => 1,
        _ => return None,
    })
}

fn is_star(c: char) -> bool {
    matches!(c, '⭐' | '★' | '🌟')
}

#[derive(Debug)]
enum Token {
    Word(String),
    Number(u32),
    /// `n/d`.
    Fraction(u32, u32),
    Stars(u32),
    Emoji(u8),
    Question,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n: u32 = 0;
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n = n
                    .saturating_mul(10)
                    .saturating_add(d.to_digit(10).unwrap_or(0));
                chars.next();
            }
            // Skip spaces before a possible "/".
            let mut look = chars.clone();
            while look.peek() == Some(&' ') {
                look.next();
            }
            if look.peek() == Some(&'/') {
                look.next();
                while look.peek() == Some(&' ') {
                    look.next();
                }
                if look.peek().is_some_and(|d| d.is_ascii_digit()) {
                    let mut d: u32 = 0;
                    while let Some(&x) = look.peek().filter(|x| x.is_ascii_digit()) {
                        d = d
                            .saturating_mul(10)
                            .saturating_add(x.to_digit(10).unwrap_or(0));
                        look.next();
                    }
                    chars = look;
                    tokens.push(Token::Fraction(n, d));
                    continue;
                }
            }
            tokens.push(Token::Number(n));
        } else if c.is_alphabetic() {
            let mut w = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_alphabetic() {
                    w.extend(x.to_lowercase());
                    chars.next();
                } else if x == '\'' || x == '’' {
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(w));
        } else if is_star(c) {
            let mut n = 0;
            while chars
                .peek()
                .is_some_and(|x| is_star(*x) || *x == '\u{fe0f}')
            {
                if chars.next().is_some_and(is_star) {
                    n += 1;
                }
            }
            tokens.push(Token::Stars(n));
        } else {
            chars.next();
            if c == '?' {
                tokens.push(Token::Question);
            } else if let Some(v) = emoji_value(c) {
                tokens.push(Token::Emoji(v));
            }
        }
    }
    tokens
}

fn out_of_five(value: u32) -> Result<u8, RatingError> {
    u8::try_from(value)
        .ok()
        .filter(|v| (1..=5).contains(v))
        .ok_or(RatingError::OutOfRange { value })
}

/// Reads a 1–5 rating from a customer's answer to a survey.
///
/// Accepted: a digit (`"5"`, `"5!"`), a fraction out of 5 (`"4/5"`), stars
/// (`"4 stars"`, `"⭐⭐⭐"`), `"4 out of 5"`, number words (`"four"`), and
/// words of satisfaction (`"excellent"` 5, `"great"`/`"good"` 4, `"ok"` 3,
/// `"bad"` 2, `"terrible"` 1; `"not good"` reads as 2, `"not bad"` as 3), and
/// a few faces (`"👍"` 4, `"😡"` 1). Words and faces agreeing with a number
/// are fine (`"5 excellent"`); disagreeing ones are [`RatingError::Ambiguous`].
///
/// # Errors
/// A typed [`RatingError`]: empty, too long (more than
/// [`MAX_RATING_WORDS`] words), a question or a "but", out of range, ambiguous,
/// or no rating at all.
pub fn parse_rating(text: &str) -> Result<Rating, RatingError> {
    if text.trim().is_empty() {
        return Err(RatingError::Empty);
    }
    let tokens = tokenize(text);
    let words = tokens
        .iter()
        .filter(|t| matches!(t, Token::Word(_) | Token::Number(_) | Token::Fraction(..)))
        .count();
    if words > MAX_RATING_WORDS {
        return Err(RatingError::TooLong {
            words,
            max: MAX_RATING_WORDS,
        });
    }
    if tokens.iter().any(|t| matches!(t, Token::Question)) {
        return Err(RatingError::NewMessage {
            reason: "a question",
        });
    }
    if tokens
        .iter()
        .any(|t| matches!(t, Token::Word(w) if CONTRAST.contains(&w.as_str())))
    {
        return Err(RatingError::NewMessage {
            reason: "a contrast (but, still...)",
        });
    }
    let mut candidates: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let next_word = |k: usize| match tokens.get(k) {
            Some(Token::Word(w)) => Some(w.as_str()),
            _ => None,
        };
        match &tokens[i] {
            Token::Fraction(n, d) => {
                if *d != 5 {
                    return Err(RatingError::OutOfRange { value: *n });
                }
                candidates.push(out_of_five(*n)?);
            }
            Token::Number(n) => {
                // "4 out of 5"
                if next_word(i + 1) == Some("out")
                    && next_word(i + 2) == Some("of")
                    && matches!(tokens.get(i + 3), Some(Token::Number(5)))
                {
                    candidates.push(out_of_five(*n)?);
                    i += 4;
                    continue;
                }
                if matches!(next_word(i + 1), Some("star" | "stars")) {
                    i += 1;
                }
                candidates.push(out_of_five(*n)?);
            }
            Token::Stars(n) => {
                candidates.push(out_of_five(*n)?);
            }
            Token::Emoji(v) => candidates.push(*v),
            Token::Word(w) if w == "not" || w == "never" => {
                if let Some(v) = next_word(i + 1).and_then(word_value) {
                    candidates.push(if v >= 4 { 2 } else { 3 });
                    i += 2;
                    continue;
                }
            }
            Token::Word(w) => {
                if let Some(v) = word_value(w) {
                    // "five stars"
                    if matches!(next_word(i + 1), Some("star" | "stars")) {
                        i += 1;
                    }
                    candidates.push(v);
                }
            }
            Token::Question => {}
        }
        i += 1;
    }
    let Some(&first) = candidates.first() else {
        return Err(RatingError::NotARating);
    };
    if candidates.iter().any(|&c| c != first) {
        // An explicit score wins over a word that only roughly agrees with it
        // ("5 stars, great" is 5), but not over a contradicting one.
        let explicit: Vec<u8> = explicit_scores(&tokens);
        if let Some(&e) = explicit.first()
            && explicit.iter().all(|&x| x == e)
            && candidates.iter().all(|&c| c.abs_diff(e) <= 1)
        {
            return Rating::new(e);
        }
        let mut distinct = Vec::new();
        for c in candidates {
            if !distinct.contains(&c) {
                distinct.push(c);
            }
        }
        return Err(RatingError::Ambiguous {
            candidates: distinct,
        });
    }
    Rating::new(first)
}

fn explicit_scores(tokens: &[Token]) -> Vec<u8> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Fraction(n, 5) | Token::Number(n) | Token::Stars(n) => u8::try_from(*n).ok(),
            _ => None,
        })
        .collect()
}
