//! Splitting a customer message into words, emoji and clause boundaries.
//!
//! Mentions and links are dropped; curly apostrophes and quotes are
//! straightened; HTML entities that tweets carry (`&amp;`, `&lt;`, `&gt;`)
//! are decoded; masked profanity (`f*ck`) is restored.

use super::lexicon::{EMOJI, EMOTICONS};

/// One piece of a message.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    /// A word, lower-cased.
    Word(Word),
    /// An emoji or emoticon with its valence.
    Emoji { ch: Option<char>, valence: f32 },
    /// The end of a clause; `!` and `?` counted in its run.
    Boundary { bangs: usize, questions: usize },
}

/// A word and how it was written.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Word {
    /// Lower-cased, apostrophes straight.
    pub text: String,
    /// Written in capitals (two letters or more).
    pub caps: bool,
    /// A letter repeated three times or more ("soooo").
    pub elongated: bool,
    /// Written as a hashtag.
    pub hashtag: bool,
    /// Cased letters in the word, and how many of them are upper case.
    pub cased: usize,
    /// Upper-case letters.
    pub upper: usize,
}

fn straighten(c: char) -> char {
    match c {
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{2032}' | '\u{FF07}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => '"',
        other => other,
    }
}

fn is_skipped_mark(c: char) -> bool {
    matches!(
        c,
        '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' | '\u{20E3}' | '\u{1F3FB}'
            ..='\u{1F3FF}' | '\u{2640}' | '\u{2642}'
    )
}

fn emoji_valence(c: char) -> Option<f32> {
    EMOJI.iter().find(|(e, _)| *e == c).map(|(_, v)| *v)
}

/// Restores masked profanity: `f*ck`, `f**king`, `sh*t`.
fn unmask(word: &str) -> String {
    if !word.contains('*') {
        return word.to_owned();
    }
    let bare: String = word.chars().filter(|c| *c != '*').collect();
    if word.starts_with('f') {
        if bare.ends_with("ing") || bare.ends_with("in") {
            return "fucking".into();
        }
        if bare.ends_with("ed") {
            return "fucked".into();
        }
        if bare.ends_with('k') || bare == "f" {
            return "fuck".into();
        }
    }
    if word.starts_with('s') && bare.ends_with('t') && bare.chars().count() <= 3 {
        return "shit".into();
    }
    bare
}

fn elongated(word: &str) -> bool {
    let mut run = 1;
    let mut last = None;
    for c in word.chars() {
        if Some(c) == last && c.is_alphabetic() {
            run += 1;
            if run >= 3 {
                return true;
            }
        } else {
            run = 1;
        }
        last = Some(c);
    }
    false
}

/// Splits `text` into tokens. Never fails; any input gives some tokens (or
/// none).
pub(super) fn tokens(text: &str) -> Vec<Token> {
    let decoded = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let chars: Vec<char> = decoded.chars().map(straighten).collect();
    let mut out = Vec::new();
    let mut i = 0;
    let n = chars.len();
    let at_start = |i: usize| i == 0 || chars[i - 1].is_whitespace();
    while i < n {
        let c = chars[i];
        if c.is_whitespace() {
            if c == '\n' {
                push_boundary(&mut out, 0, 0);
            }
            i += 1;
            continue;
        }
        // Links and mentions carry no sentiment.
        if starts_with(&chars, i, "http://")
            || starts_with(&chars, i, "https://")
            || (at_start(i) && starts_with(&chars, i, "www."))
        {
            while i < n && !chars[i].is_whitespace() {
                i += 1;
            }
            continue;
        }
        if c == '@' && i + 1 < n && (chars[i + 1].is_alphanumeric() || chars[i + 1] == '_') {
            i += 1;
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            continue;
        }
        if is_skipped_mark(c) {
            i += 1;
            continue;
        }
        if let Some(v) = emoji_valence(c) {
            out.push(Token::Emoji {
                ch: Some(c),
                valence: v,
            });
            i += 1;
            continue;
        }
        if !c.is_alphanumeric()
            && let Some((len, v)) = emoticon_at(&chars, i)
        {
            out.push(Token::Emoji {
                ch: None,
                valence: v,
            });
            i += len;
            continue;
        }
        let hashtag = c == '#' && i + 1 < n && chars[i + 1].is_alphanumeric();
        if c.is_alphanumeric() || hashtag {
            let start = if hashtag { i + 1 } else { i };
            let mut j = start;
            while j < n {
                let d = chars[j];
                let next_letter = chars.get(j + 1).is_some_and(|c| c.is_alphanumeric());
                let masked = d == '*'
                    && j > start
                    && matches!(chars[start], 'f' | 'F' | 's' | 'S')
                    && (next_letter || chars.get(j + 1) == Some(&'*') || j == start + 1);
                let letter = d.is_alphanumeric() && emoji_valence(d).is_none();
                // "3.5 hours": a decimal point inside a number is no clause
                // boundary.
                let decimal = d == '.'
                    && j > start
                    && chars[j - 1].is_ascii_digit()
                    && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit());
                if letter || (d == '\'' && next_letter && j > start) || masked || decimal {
                    j += 1;
                } else {
                    break;
                }
            }
            let raw: String = chars[start..j].iter().collect();
            let cased = raw
                .chars()
                .filter(|c| c.is_lowercase() || c.is_uppercase())
                .count();
            let upper = raw.chars().filter(|c| c.is_uppercase()).count();
            let lower = raw.to_lowercase();
            out.push(Token::Word(Word {
                elongated: elongated(&lower),
                text: unmask(&lower),
                caps: cased >= 2 && upper == cased,
                hashtag,
                cased,
                upper,
            }));
            i = j.max(i + 1);
            continue;
        }
        if matches!(c, '!' | '?') {
            let (mut bangs, mut questions) = (0, 0);
            while i < n && matches!(chars[i], '!' | '?' | '\u{FE0F}') {
                match chars[i] {
                    '!' => bangs += 1,
                    '?' => questions += 1,
                    _ => {}
                }
                i += 1;
            }
            push_boundary(&mut out, bangs, questions);
            continue;
        }
        if matches!(c, '\u{203C}' | '\u{2757}' | '\u{2755}') {
            push_boundary(&mut out, 2, 0);
            i += 1;
            continue;
        }
        if matches!(c, '\u{2049}' | '\u{2753}' | '\u{2754}') {
            push_boundary(&mut out, usize::from(c == '\u{2049}'), 1);
            i += 1;
            continue;
        }
        if matches!(
            c,
            '.' | ','
                | ';'
                | ':'
                | '\u{2026}'
                | '('
                | ')'
                | '"'
                | '|'
                | '\u{2014}'
                | '\u{2013}'
                | '['
                | ']'
        ) {
            push_boundary(&mut out, 0, 0);
        }
        i += 1;
    }
    out
}

fn push_boundary(out: &mut Vec<Token>, bangs: usize, questions: usize) {
    if let Some(Token::Boundary {
        bangs: b,
        questions: q,
    }) = out.last_mut()
    {
        *b += bangs;
        *q += questions;
    } else {
        out.push(Token::Boundary { bangs, questions });
    }
}

fn starts_with(chars: &[char], i: usize, prefix: &str) -> bool {
    (i..)
        .zip(prefix.chars())
        .all(|(k, p)| chars.get(k).is_some_and(|c| c.to_ascii_lowercase() == p))
}

fn emoticon_at(chars: &[char], i: usize) -> Option<(usize, f32)> {
    // "10:30" or "re:" are not faces.
    if i > 0 && chars[i - 1].is_alphanumeric() && chars[i] == ':' {
        return None;
    }
    for (face, v) in EMOTICONS {
        let len = face.chars().count();
        if i + len > chars.len() {
            continue;
        }
        let matches = face
            .chars()
            .zip(&chars[i..i + len])
            .all(|(f, c)| f == c.to_ascii_lowercase());
        if !matches {
            continue;
        }
        // ":d" and ":p" must not start a word (":description").
        let next = chars.get(i + len);
        if next.is_some_and(|c| c.is_alphanumeric()) && face.ends_with(|c: char| c.is_alphabetic())
        {
            continue;
        }
        return Some((len, *v));
    }
    None
}
