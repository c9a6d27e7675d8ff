//! How many billable segments a text costs.
//!
//! GSM-7 texts take 160 characters in one segment and 153 per part when
//! split (the rest is the concatenation header); characters of the GSM-7
//! extension table (`{ } [ ] ~ \ | ^ €` and form feed) cost two septets. Any
//! character outside GSM-7 switches the whole text to UCS-2: 70 UTF-16 code
//! units in one segment, 67 per part (an emoji is two units).

/// The encoding a text will travel in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The 7-bit GSM alphabet.
    Gsm7,
    /// UTF-16.
    Ucs2,
}

/// A text's cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The encoding.
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Billable segments (at least 1).
    pub segments: usize,
}

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "\u{000C}^{}\\[~]|€";

fn gsm_cost(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Counts the segments `text` needs.
pub fn count(text: &str) -> SegmentInfo {
    let gsm: Option<usize> = text.chars().map(gsm_cost).sum();
    let (encoding, units, single, part) = match gsm {
        Some(septets) => (Encoding::Gsm7, septets, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    SegmentInfo {
        encoding,
        units,
        segments,
    }
}

/// Splits `text` into messages of at most `max_segments` segments each,
/// at word boundaries where possible, never inside a character (or an
/// extension-table pair, or a surrogate pair).
pub fn split(text: &str, max_segments: usize) -> Vec<String> {
    let max_segments = max_segments.max(1);
    if count(text).segments <= max_segments {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        // Longest prefix that fits, by characters.
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            let candidate = &rest[..i + c.len_utf8()];
            if count(candidate).segments > max_segments {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        if end < rest.len()
            && let Some(space) = rest[..end].rfind(' ')
            && space > end / 2
        {
            end = space + 1;
        }
        parts.push(rest[..end].trim_end().to_owned());
        rest = rest[end..].trim_start();
    }
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_examples() {
        assert_eq!(
            count(&"a".repeat(160)),
            SegmentInfo {
                encoding: Encoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        assert_eq!(count(&"a".repeat(161)).segments, 2);
        assert_eq!(count(&"a".repeat(306)).segments, 2);
        assert_eq!(count(&"a".repeat(307)).segments, 3);
        // `{}` and € are in the extension table: two septets each, still GSM-7.
        let braces = count("{}");
        assert_eq!((braces.encoding, braces.units), (Encoding::Gsm7, 4));
        assert_eq!(count("€").units, 2);
        assert_eq!(count(&"€".repeat(80)).segments, 1);
        assert_eq!(count(&"€".repeat(81)).segments, 2);
        // One emoji makes the text UCS-2, and costs two UTF-16 units.
        let emoji = count("Thanks 👍");
        assert_eq!((emoji.encoding, emoji.units), (Encoding::Ucs2, 9));
        assert_eq!(count(&"👍".repeat(35)).segments, 1);
        assert_eq!(count(&"👍".repeat(36)).segments, 2);
        assert_eq!(
            count(&"ç".repeat(70)).segments,
            1,
            "ç is not GSM-7 (only Ç is)"
        );
        assert_eq!(count(&"ç".repeat(71)).segments, 2);
        assert_eq!(count("").segments, 1);
    }

    #[test]
    fn split_respects_the_cap_and_keeps_the_words() {
        let text = "We are so sorry about the delay. ".repeat(20);
        let parts = split(&text, 1);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| count(p).segments == 1));
        assert_eq!(
            parts.join(" ").split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
    }

    proptest! {
        #[test]
        fn segments_cover_the_units(text in "\\PC{0,400}") {
            let info = count(&text);
            let (single, part) = match info.encoding { Encoding::Gsm7 => (160, 153), Encoding::Ucs2 => (70, 67) };
            prop_assert!(info.segments >= 1);
            if info.units <= single {
                prop_assert_eq!(info.segments, 1);
            } else {
                prop_assert!(info.segments * part >= info.units);
                prop_assert!((info.segments - 1) * part < info.units);
            }
            if info.encoding == Encoding::Ucs2 {
                prop_assert_eq!(info.units, text.encode_utf16().count());
            }
        }

        #[test]
        fn appending_never_costs_less(a in "\\PC{0,200}", b in "\\PC{0,50}") {
            let joined = format!("{a}{b}");
            prop_assert!(count(&joined).segments >= count(&a).segments);
        }

        #[test]
        fn split_parts_fit_and_lose_no_text(text in "[a-z €{}👍]{0,600}", cap in 1usize..4) {
            let parts = split(&text, cap);
            for p in &parts {
                prop_assert!(count(p).segments <= cap);
            }
            let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            prop_assert_eq!(squash(&parts.concat()), squash(&text));
        }
    }
}
