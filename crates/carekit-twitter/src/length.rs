//! X's weighted tweet length (twitter-text v3 configuration): a tweet may
//! weigh 280. Code points in the Latin-1/General-Punctuation ranges weigh 1,
//! everything else (CJK, most symbols) weighs 2, an emoji sequence weighs 2
//! however many code points it has, and every URL weighs 23 (t.co length).
//!
//! Differences from twitter-text, kept on the safe side: URLs are
//! recognised by `http://`/`https://`/`www.` or a `name.tld` token with a
//! common TLD, not by the full TLD list; text is not NFC-normalised first
//! (decomposed accents can only make the count larger, never let a
//! too-long tweet through).

/// Longest weighted length X accepts.
pub const MAX_WEIGHTED_LENGTH: usize = 280;

/// What a URL counts for, whatever its length.
pub const URL_WEIGHT: usize = 23;

const LIGHT_RANGES: [(u32, u32); 4] = [
    (0x0000, 0x10FF),
    (0x2000, 0x200D),
    (0x2010, 0x201F),
    (0x2032, 0x2037),
];

const COMMON_TLDS: [&str; 24] = [
    "com", "net", "org", "io", "co", "uk", "de", "fr", "jp", "info", "biz", "me", "ly", "app",
    "dev", "ai", "us", "ca", "au", "in", "es", "it", "nl", "tv",
];

/// The weighted length of `text` as X counts it.
pub fn weighted_length(text: &str) -> usize {
    let mut total = 0;
    for token in tokens(text) {
        if is_url(token) {
            let (_url, trailing) = split_trailing_punctuation(token);
            total += URL_WEIGHT + weigh(trailing);
        } else {
            total += weigh(token);
        }
    }
    total
}

/// Whether `text` fits in one tweet.
pub fn fits(text: &str) -> bool {
    weighted_length(text) <= MAX_WEIGHTED_LENGTH
}

/// Maximal runs of whitespace or of non-whitespace.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        match in_space {
            Some(s) if s != space => {
                out.push(&text[start..i]);
                start = i;
            }
            _ => {}
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out.into_iter()
}

fn is_url(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        return rest.chars().next().is_some_and(|c| c.is_alphanumeric());
    }
    if lower.starts_with("www.") && lower.len() > 4 {
        return true;
    }
    // name.tld[/path]
    let host = lower.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.trim_end_matches(['.', ',', '!', '?', ')', ':', ';']);
    let mut labels = host.rsplit('.');
    let (Some(tld), Some(name)) = (labels.next(), labels.next()) else {
        return false;
    };
    !name.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && COMMON_TLDS.contains(&tld)
}

/// A URL followed by closing punctuation: the punctuation is text.
fn split_trailing_punctuation(token: &str) -> (&str, &str) {
    let trimmed = token.trim_end_matches(['.', ',', '!', '?', ')', ':', ';', '"', '\'']);
    token.split_at(trimmed.len())
}

fn is_light(c: char) -> bool {
    let cp = c as u32;
    LIGHT_RANGES
        .iter()
        .any(|(lo, hi)| (*lo..=*hi).contains(&cp))
}

fn is_emoji_base(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF)
}

fn is_emoji_modifier(c: char) -> bool {
    matches!(c as u32, 0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF | 0x20E3 | 0xE0020..=0xE007F)
}

fn weigh(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut total = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_emoji_base(c) {
            // One emoji sequence: base, modifiers, ZWJ-joined parts, and a
            // regional-indicator pair (a flag), all for weight 2.
            let regional = (0x1F1E6..=0x1F1FF).contains(&(c as u32));
            i += 1;
            if regional
                && chars
                    .get(i)
                    .is_some_and(|n| (0x1F1E6..=0x1F1FF).contains(&(*n as u32)))
            {
                i += 1;
            }
            loop {
                match chars.get(i) {
                    Some(m) if is_emoji_modifier(*m) => i += 1,
                    Some('\u{200D}') if chars.get(i + 1).is_some_and(|n| is_emoji_base(*n)) => {
                        i += 2
                    }
                    _ => break,
                }
            }
            total += 2;
            continue;
        }
        total += if is_light(c) { 1 } else { 2 };
        i += 1;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_counts_one_per_character() {
        assert_eq!(weighted_length("hello"), 5);
        assert_eq!(weighted_length(&"a".repeat(280)), 280);
        assert!(fits(&"a".repeat(280)));
        assert!(!fits(&"a".repeat(281)));
    }

    #[test]
    fn cjk_counts_two() {
        assert_eq!(weighted_length("日本語"), 6);
        assert!(fits(&"日".repeat(140)));
        assert!(!fits(&"日".repeat(141)));
    }

    #[test]
    fn urls_count_twenty_three_whatever_their_length() {
        let long = format!("see https://example.com/{}", "x".repeat(200));
        assert_eq!(weighted_length(&long), 4 + 23);
        assert_eq!(weighted_length("http://a.co"), 23);
        assert_eq!(weighted_length("visit acme.com."), 6 + 23 + 1);
        assert_eq!(weighted_length("e.g. fine"), 9, "not a URL");
    }

    #[test]
    fn emoji_sequences_count_two() {
        assert_eq!(weighted_length("😀"), 2);
        assert_eq!(weighted_length("👍🏽"), 2);
        assert_eq!(weighted_length("👨‍👩‍👧"), 2);
        assert_eq!(weighted_length("🇯🇵"), 2);
        assert_eq!(weighted_length("ok 😀"), 5);
    }

    #[test]
    fn accents_and_typographic_punctuation_are_light() {
        assert_eq!(weighted_length("café – “ok”"), 11);
    }
}
