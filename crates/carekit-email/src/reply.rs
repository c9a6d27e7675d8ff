//! Reply extraction: the new text of a reply without the quoted history and
//! the signature, so agents (and classifiers) read what the customer just
//! wrote. The full body stays available beside it.
//!
//! Recognised: Gmail and Apple Mail attribution lines (`On … wrote:`,
//! `On 2 Jan 2026, at 10:00, Ann <a@x> wrote:`, also wrapped over two lines
//! and in a few other languages), Outlook's `-----Original Message-----` and
//! `From: … Sent: …` header blocks (and the `____` rule above them),
//! `>` quoting, `-- ` signatures and mobile "Sent from my …" footers.

/// Why the reply was cut where it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteStyle {
    /// An `On … wrote:` attribution line (Gmail, Apple Mail, Thunderbird).
    Attribution,
    /// Outlook's `-----Original Message-----` separator.
    OriginalMessage,
    /// Outlook's `From: … / Sent: …` header block.
    HeaderBlock,
    /// `>`-quoted lines.
    Angle,
    /// A forwarded-message separator.
    Forwarded,
}

/// The result of [`extract_reply`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractedReply {
    /// What the customer wrote now. Falls back to the whole text when
    /// nothing is left after cutting (a bare forward, say).
    pub text: String,
    /// The quoted history that was cut, if any.
    pub quoted: Option<String>,
    /// The signature that was cut, if any.
    pub signature: Option<String>,
    /// How the history was recognised.
    pub style: Option<QuoteStyle>,
}

/// Splits `body` into the new reply text, the quoted history and the signature.
pub fn extract_reply(body: &str) -> ExtractedReply {
    let normalised = body.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalised.lines().collect();

    let (mut cut, mut style) = (lines.len(), None);
    for i in 0..lines.len() {
        if let Some(s) = quote_start(&lines, i) {
            cut = i;
            style = Some(s);
            break;
        }
    }
    // Drop a leading "____" rule Outlook puts above its header block.
    let mut body_end = cut;
    while body_end > 0 && is_rule(lines[body_end - 1]) {
        body_end -= 1;
    }
    let quoted_history = (cut < lines.len()).then(|| lines[cut..].join("\n"));

    // Interleaved `>` quotes above the cut: keep the unquoted lines.
    let mut kept: Vec<&str> = Vec::new();
    let mut angle = false;
    for line in &lines[..body_end] {
        if line.trim_start().starts_with('>') {
            angle = true;
        } else {
            kept.push(line);
        }
    }
    if style.is_none() && angle {
        style = Some(QuoteStyle::Angle);
    }

    // Signature: the last `-- ` line, or a mobile footer.
    let mut signature = None;
    if let Some(pos) = kept
        .iter()
        .rposition(|l| *l == "-- " || *l == "--" || *l == "\u{2014} ")
    {
        signature = Some(kept[pos + 1..].join("\n").trim().to_owned());
        kept.truncate(pos);
    } else if let Some(pos) = kept.iter().rposition(|l| is_mobile_footer(l)) {
        signature = Some(kept[pos..].join("\n").trim().to_owned());
        kept.truncate(pos);
    }

    let text = kept.join("\n").trim().to_owned();
    let quoted = if angle {
        let angle_lines: Vec<&str> = lines[..body_end]
            .iter()
            .copied()
            .filter(|l| l.trim_start().starts_with('>'))
            .collect();
        let mut q = angle_lines.join("\n");
        if let Some(h) = quoted_history {
            q.push('\n');
            q.push_str(&h);
        }
        Some(q)
    } else {
        quoted_history
    };
    if text.is_empty() {
        return ExtractedReply {
            text: normalised.trim().to_owned(),
            quoted: None,
            signature: None,
            style: None,
        };
    }
    ExtractedReply {
        text,
        quoted,
        signature: signature.filter(|s| !s.is_empty()),
        style,
    }
}

/// Whether the history starts at line `i`, and in which form.
fn quote_start(lines: &[&str], i: usize) -> Option<QuoteStyle> {
    let line = lines[i].trim();
    if line.is_empty() {
        return None;
    }
    let lower = line.to_lowercase();
    if lower.starts_with("-----original message-----")
        || lower.starts_with("----- original message -----")
    {
        return Some(QuoteStyle::OriginalMessage);
    }
    if lower.starts_with("---------- forwarded message")
        || lower.starts_with("begin forwarded message:")
    {
        return Some(QuoteStyle::Forwarded);
    }
    if is_attribution(line) {
        return Some(QuoteStyle::Attribution);
    }
    // Gmail wraps long attribution lines: "On …, Ann Lee <\nann@x.org> wrote:".
    if let Some(next) = lines.get(i + 1)
        && starts_attribution(&lower)
        && !next.trim().is_empty()
        && is_attribution(&format!("{line} {}", next.trim()))
    {
        return Some(QuoteStyle::Attribution);
    }
    // Outlook: "From: …" followed within a few lines by "Sent:"/"Date:".
    if header_field(line, &["from", "von", "de"]) {
        let window = lines.iter().skip(i + 1).take(4);
        for l in window {
            if header_field(
                l.trim(),
                &[
                    "sent", "date", "gesendet", "envoyé", "enviado", "to", "subject",
                ],
            ) {
                return Some(QuoteStyle::HeaderBlock);
            }
        }
    }
    None
}

fn starts_attribution(lower: &str) -> bool {
    ["on ", "am ", "le ", "el ", "il ", "op "]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// `On <date>, <who> wrote:` and its translations.
fn is_attribution(line: &str) -> bool {
    let lower = line.to_lowercase();
    if !starts_attribution(&lower) {
        return false;
    }
    // The verb may come before the sender ("schrieb Ann <a@x>:").
    let verbs = [
        "wrote",
        "schrieb",
        "a écrit",
        "escribió",
        "ha scritto",
        "schreef",
    ];
    lower.trim_end().ends_with(':') && verbs.iter().any(|v| lower.contains(v)) && line.len() < 300
}

fn header_field(line: &str, names: &[&str]) -> bool {
    // Outlook sometimes bolds the field (`*From:*`).
    let line = line.trim_start_matches('*');
    line.split_once(':').is_some_and(|(name, _)| {
        let name = name.trim_end_matches('*').trim().to_lowercase();
        names.contains(&name.as_str())
    })
}

fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.chars().all(|c| c == '_' || c == '-')
}

fn is_mobile_footer(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    lower.starts_with("sent from my ")
        || lower.starts_with("get outlook for ")
        || lower.starts_with("sent from outlook")
        || lower.starts_with("von meinem iphone gesendet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_whole() {
        let r = extract_reply("Hello,\n\nmy order is late.\n");
        assert_eq!(r.text, "Hello,\n\nmy order is late.");
        assert_eq!(r.quoted, None);
        assert_eq!(r.style, None);
    }

    #[test]
    fn only_quotes_falls_back_to_everything() {
        let r = extract_reply("> just a quote\n");
        assert_eq!(r.text, "> just a quote");
    }
}
