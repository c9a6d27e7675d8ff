//! The raw RFC 5322 source kept beside the extract, bounded so that it can
//! travel on an `InboundEvent` (which refuses more than 1 MiB) and be stored.
//!
//! Kept as received when the source is UTF-8 and fits. Otherwise, in this
//! order: attachment bodies are left out (their part headers stay, so the
//! MIME structure and every text part remain readable); bytes that are not
//! UTF-8 become U+FFFD; what is still too long is cut at the bound on a
//! character boundary. A first line `X-Carekit-Raw: size=<bytes of the
//! source>; …` then says what was done, readable by anyone who reads the
//! raw form (API consumers, agents); see [`RAW_NOTE_HEADER`].

use mail_parser::{MessagePart, PartType};

/// Largest raw form an `InboundEvent` accepts, in bytes.
pub use carekit_core::domain::MAX_RAW_BYTES;

/// The header carekit writes as the first line of a raw form that is not
/// the source byte for byte: `X-Carekit-Raw: size=<n>` followed by
/// `; attachments-omitted=<k>` (bodies of k attachments left out, their
/// headers kept), `; invalid-utf8-replaced` and `; cut` (cut at the bound)
/// as they apply. A raw form whose first line is not this header is the
/// source as received. When a sender's own message starts with a header of
/// this name, carekit puts its own `X-Carekit-Raw: size=<n>` above it, so
/// the first line is always carekit's.
pub const RAW_NOTE_HEADER: &str = "X-Carekit-Raw";

/// The raw form to keep.
pub(crate) struct KeptRaw {
    pub(crate) text: String,
    pub(crate) complete: bool,
}

pub(crate) fn keep_raw(raw: &[u8], message: &mail_parser::Message<'_>) -> KeptRaw {
    keep_raw_within(raw, message, MAX_RAW_BYTES)
}

fn keep_raw_within(raw: &[u8], message: &mail_parser::Message<'_>, limit: usize) -> KeptRaw {
    let forged_note = starts_with_note(raw);
    if raw.len() <= limit
        && !forged_note
        && let Ok(text) = std::str::from_utf8(raw)
    {
        return KeptRaw {
            text: text.to_owned(),
            complete: true,
        };
    }
    let (bytes, omitted) = if raw.len() > limit {
        without_attachment_bodies(raw, message)
    } else {
        (raw.to_vec(), 0)
    };
    let (body, lossy) = match String::from_utf8(bytes) {
        Ok(s) => (s, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    };
    // The note ends the way the source's first line does.
    let eol = match raw.iter().position(|b| *b == b'\n') {
        Some(k) if k == 0 || raw[k - 1] != b'\r' => "\n",
        _ => "\r\n",
    };
    let note = |cut: bool| {
        let mut note = format!("{RAW_NOTE_HEADER}: size={}", raw.len());
        if omitted > 0 {
            note.push_str(&format!("; attachments-omitted={omitted}"));
        }
        if lossy {
            note.push_str("; invalid-utf8-replaced");
        }
        if cut {
            note.push_str("; cut");
        }
        note.push_str(eol);
        note
    };
    let mut first = note(false);
    let mut body = body;
    if first.len() + body.len() > limit {
        first = note(true);
        let keep = floor_char_boundary(&body, limit.saturating_sub(first.len()));
        body.truncate(keep);
    }
    first.push_str(&body);
    KeptRaw {
        text: first,
        complete: false,
    }
}

/// Whether the first line of `raw` is an `X-Carekit-Raw` header.
fn starts_with_note(raw: &[u8]) -> bool {
    let name = RAW_NOTE_HEADER.as_bytes();
    raw.len() > name.len()
        && raw[..name.len()].eq_ignore_ascii_case(name)
        && raw[name.len()..]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t'))
            .is_some_and(|b| *b == b':')
}

/// The largest index at most `at` that is a char boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// The source with the bodies of attachment parts (leaf parts that are not
/// text bodies: files, images, attached messages) removed; part headers
/// and boundaries stay. Returns the bytes and how many bodies were left out.
fn without_attachment_bodies(raw: &[u8], message: &mail_parser::Message<'_>) -> (Vec<u8>, usize) {
    let mut ranges: Vec<(usize, usize)> = message
        .attachments
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .filter(|part| !matches!(part.body, PartType::Multipart(_)))
        .filter_map(|part| body_range(part, raw.len()))
        .collect();
    ranges.sort_unstable();
    let mut out = Vec::with_capacity(raw.len().min(MAX_RAW_BYTES * 2));
    let (mut at, mut omitted) = (0, 0);
    for (start, end) in ranges {
        // Overlapping or out-of-order ranges (hostile MIME) are skipped.
        if start < at {
            continue;
        }
        out.extend_from_slice(&raw[at..start]);
        at = end;
        omitted += 1;
    }
    out.extend_from_slice(&raw[at..]);
    (out, omitted)
}

/// The body bytes of a part, up to (not including) the line break that
/// belongs to the next boundary, when the offsets make sense.
fn body_range(part: &MessagePart<'_>, len: usize) -> Option<(usize, usize)> {
    let start = part.offset_body as usize;
    let end = (part.offset_end as usize).min(len);
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn keep(raw: &[u8], limit: usize) -> KeptRaw {
        let message = MessageParser::default().parse(raw).unwrap();
        keep_raw_within(raw, &message, limit)
    }

    #[test]
    fn fitting_utf8_is_kept_as_received() {
        let raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nhello \xc3\xa9\r\n";
        let kept = keep(raw, 1000);
        assert!(kept.complete);
        assert_eq!(kept.text.as_bytes(), raw);
    }

    #[test]
    fn a_cut_lands_on_a_char_boundary_and_says_so() {
        let raw = format!("From: a@b.example\r\n\r\n{}", "é".repeat(500));
        let kept = keep(raw.as_bytes(), 301);
        assert!(!kept.complete);
        assert!(kept.text.len() <= 301);
        assert!(
            kept.text
                .starts_with(&format!("X-Carekit-Raw: size={}; cut\r\n", raw.len())),
            "{}",
            &kept.text[..60]
        );
    }

    #[test]
    fn a_senders_own_note_is_never_first() {
        let raw = b"x-carekit-raw : size=1; cut\nFrom: a@b.example\n\nhi\n";
        let kept = keep(raw, 1000);
        assert!(!kept.complete);
        assert_eq!(
            kept.text,
            format!(
                "X-Carekit-Raw: size={}\n{}",
                raw.len(),
                String::from_utf8_lossy(raw)
            )
        );
    }
}
