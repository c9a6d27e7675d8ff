//! Reply extraction: the new text of a reply without the quoted history and
//! the signature, so agents (and classifiers) read what the customer just
//! wrote. The full body stays available beside it (`ParsedEmail::text`, and
//! on the event as `InboundEvent::original_text`).
//!
//! Recognised:
//!
//! - attribution lines introducing the quote (`On … wrote:` and its forms in
//!   German, French, Spanish, Italian, Dutch, Portuguese, Polish, Russian,
//!   Swedish/Danish/Norwegian, Finnish, Czech, Hungarian, Turkish, Greek,
//!   Japanese, Chinese and Korean), also wrapped over two lines;
//! - Outlook's `-----Original Message-----` (and its translations) and
//!   `From: … / Sent: …` header blocks (and the `____` rule above them);
//!   forwarded-message separators;
//! - `>` quoting anywhere: answers written between quotes or below the
//!   quote (bottom-posting) are kept, the quotes are cut;
//! - trailing blocks: a mailing-list footer below a `____` rule, a
//!   standalone mobile footer ("Sent from my iPhone") as the last line, a
//!   `-- ` signature, and a one-line signature such as `-Ann` or `— Ann Lee`.

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
    /// nothing is left after cutting (a bare forward, a mail that is all
    /// quote), so it is never empty for a non-empty body.
    pub text: String,
    /// The quoted history that was cut, if any.
    pub quoted: Option<String>,
    /// The signature and footers that were cut, if any (without a bare
    /// `-- ` separator line).
    pub signature: Option<String>,
    /// How the history was recognised.
    pub style: Option<QuoteStyle>,
}

/// Longest line considered as an attribution line, in bytes.
const MAX_ATTRIBUTION_BYTES: usize = 300;
/// Most non-blank lines a mailing-list footer below its rule may have.
const MAX_FOOTER_LINES: usize = 12;

/// Splits `body` into the new reply text, the quoted history and the signature.
pub fn extract_reply(body: &str) -> ExtractedReply {
    let normalised = body.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalised.lines().collect();
    let n = lines.len();

    // Which lines are quoted history, and where an unquoted history starts.
    let mut quoted_line = vec![false; n];
    let mut cut = n;
    let (mut hard_style, mut attribution, mut angle) = (None, false, false);
    let mut i = 0;
    while i < n {
        let line = lines[i];
        if is_angle(line) {
            quoted_line[i] = true;
            angle = true;
            i += 1;
            continue;
        }
        match history_start(&lines, i) {
            Some(Start::Hard(style)) => {
                cut = i;
                hard_style = Some(style);
                break;
            }
            Some(Start::Attribution { lines: len, strong }) => {
                let next = (i + len..n).find(|&j| !lines[j].trim().is_empty());
                if next.is_some_and(|j| is_angle(lines[j])) {
                    // The attribution introduces a `>` block: cut only the
                    // introducer and the quotes; whatever follows unquoted
                    // is the customer writing below the quote.
                    for flag in &mut quoted_line[i..i + len] {
                        *flag = true;
                    }
                    attribution = true;
                    i += len;
                    continue;
                }
                if strong {
                    // Unquoted history (an HTML reply turned into text).
                    cut = i;
                    hard_style = Some(QuoteStyle::Attribution);
                    break;
                }
            }
            None => {}
        }
        i += 1;
    }
    let style = hard_style
        .or(attribution.then_some(QuoteStyle::Attribution))
        .or(angle.then_some(QuoteStyle::Angle));

    // Drop a "____" rule Outlook puts above its header block.
    let mut body_end = cut;
    while body_end > 0 && is_rule(lines[body_end - 1]) {
        body_end -= 1;
    }
    // The unquoted lines; where quotes were taken out from between blank
    // lines, one blank line is enough.
    let mut kept: Vec<&str> = Vec::with_capacity(body_end);
    let mut removed = false;
    for j in 0..body_end {
        if quoted_line[j] {
            removed = true;
            continue;
        }
        let blank = lines[j].trim().is_empty();
        if blank && removed && kept.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        if !blank {
            removed = false;
        }
        kept.push(lines[j]);
    }
    let quoted_lines: Vec<&str> = (0..body_end)
        .filter(|&j| quoted_line[j])
        .map(|j| lines[j])
        .chain(lines[cut..].iter().copied())
        .collect();

    let end = strip_trailing_blocks(&kept);
    let text = kept[..end].join("\n").trim().to_owned();
    if text.is_empty() {
        return ExtractedReply {
            text: normalised.trim().to_owned(),
            quoted: None,
            signature: None,
            style: None,
        };
    }
    let signature = kept[end..]
        .iter()
        .enumerate()
        .filter(|(k, l)| !(*k == 0 && is_sig_separator(l)))
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    ExtractedReply {
        text,
        quoted: (!quoted_lines.is_empty()).then(|| quoted_lines.join("\n")),
        signature: (!signature.is_empty()).then_some(signature),
        style,
    }
}

/// Where the text ends once trailing footers and signatures are cut:
/// a mailing-list footer below a `____` rule, a standalone mobile footer
/// as the last line, a `-- ` signature, a one-line `-Name` signature.
fn strip_trailing_blocks(kept: &[&str]) -> usize {
    let mut end = kept.len();
    if let Some(rule) = list_footer_start(&kept[..end]) {
        end = rule;
    }
    if let Some(last) = last_non_blank(&kept[..end])
        && is_mobile_footer(kept, last)
    {
        end = last;
    }
    if let Some(pos) = kept[..end].iter().rposition(|l| is_sig_separator(l)) {
        end = pos;
    }
    if let Some(last) = last_non_blank(&kept[..end])
        && is_one_line_signature(kept, last)
    {
        end = last;
    }
    end
}

fn last_non_blank(lines: &[&str]) -> Option<usize> {
    lines.iter().rposition(|l| !l.trim().is_empty())
}

fn is_angle(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_sig_separator(line: &str) -> bool {
    matches!(line, "-- " | "--" | "\u{2014} " | "\u{2014}")
}

/// How a history starts at a line.
enum Start {
    /// Everything from here on is history.
    Hard(QuoteStyle),
    /// An attribution line (`lines` long). A `strong` one (with an address
    /// or the language's usual opening) also cuts unquoted history; a weak
    /// one only introduces a `>` block.
    Attribution { lines: usize, strong: bool },
}

/// Whether the history starts at line `i`, and in which form.
fn history_start(lines: &[&str], i: usize) -> Option<Start> {
    let line = lines[i].trim();
    if line.is_empty() {
        return None;
    }
    if line.starts_with("---") {
        let title = line.trim_matches(|c: char| c == '-' || c.is_whitespace());
        let title = title.to_lowercase();
        if ORIGINAL_MESSAGE.contains(&title.as_str()) {
            return Some(Start::Hard(QuoteStyle::OriginalMessage));
        }
        if FORWARDED.contains(&title.as_str()) {
            return Some(Start::Hard(QuoteStyle::Forwarded));
        }
    }
    if line.len() <= MAX_ATTRIBUTION_BYTES
        && line.to_lowercase().starts_with("begin forwarded message")
    {
        return Some(Start::Hard(QuoteStyle::Forwarded));
    }
    if let Some(strong) = attribution(line) {
        return Some(Start::Attribution { lines: 1, strong });
    }
    // Long attribution lines are wrapped: "On …, Ann Lee <\nann@x.org> wrote:".
    // The second half alone may look like a weak attribution ("wrote:");
    // then only a strong whole counts, so "Thanks!\nAnn wrote:" stays apart.
    if let Some(next) = lines.get(i + 1).map(|l| l.trim())
        && !next.is_empty()
        && !ends_with_colon(line)
        && line.len() + next.len() < MAX_ATTRIBUTION_BYTES
        && looks_like_attribution_start(line)
    {
        let alone = attribution(next);
        let joinable = match alone {
            None => true,
            // Weak alone ("wrote:"): the whole must be strong.
            Some(false) => true,
            // Strong alone: only an unfinished first half joins it
            // ("On Mon, …, Ann Lee <" / "ann@x.org> wrote:").
            Some(true) => (has_opening(line) || line.ends_with('<')) && !has_opening(next),
        };
        if joinable
            && let Some(strong) = attribution(&format!("{line} {next}"))
            && (alone.is_none() || strong)
        {
            return Some(Start::Attribution { lines: 2, strong });
        }
    }
    // Outlook: "From: …" followed within a few lines by "Sent:"/"Date:"/….
    if header_field(line, HEADER_FROM) {
        for l in lines.iter().skip(i + 1).take(4) {
            if header_field(l.trim(), HEADER_NEXT) {
                return Some(Start::Hard(QuoteStyle::HeaderBlock));
            }
        }
    }
    None
}

/// Outlook's "-----Original Message-----" in the languages it ships in
/// (lowercased, without the dashes).
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "mensagem original",
    "ursprungligt meddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "wiadomość oryginalna",
    "исходное сообщение",
    "alkuperäinen viesti",
    "původní zpráva",
];

/// Forwarded-message separators (Gmail, Thunderbird; lowercased, without
/// the dashes).
const FORWARDED: &[&str] = &[
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "mensagem encaminhada",
    "vidarebefordrat meddelande",
    "videresendt meddelelse",
    "przekazana wiadomość",
    "пересылаемое сообщение",
];

/// Verbs of attribution lines ("wrote"), lowercased; matched as substrings,
/// so "napisał" also covers "napisała" and "napisał(a)".
const ATTRIBUTION_VERBS: &[&str] = &[
    "wrote",        // English
    "schrieb",      // German
    "a écrit",      // French
    "escribió",     // Spanish
    "ha scritto",   // Italian
    "schreef",      // Dutch
    "escreveu",     // Portuguese
    "napisał",      // Polish (Gmail)
    "pisze",        // Polish (Thunderbird)
    "написал",      // Russian (Mail.ru, Yandex)
    "пишет",        // Russian (Thunderbird)
    "skrev",        // Swedish, Danish, Norwegian
    "kirjoitti",    // Finnish
    "napsal",       // Czech
    "írta",         // Hungarian
    "yazdı",        // Turkish
    "έγραψε",       // Greek
    "書きました",   // Japanese (Thunderbird: …さんは書きました:)
    "のメール",     // Japanese (Apple Mail)
    "のメッセージ", // Japanese
    "写道",         // Chinese
    "작성",         // Korean (Gmail: …님이 작성:)
];

/// How attribution lines open in languages that put the date first
/// ("On", "Am", "Le", "El", "Il", "Op", "Em", "Den", "W dniu", "Dne").
const ATTRIBUTION_OPENINGS: &[&str] = &[
    "on ", "am ", "le ", "el ", "il ", "op ", "em ", "den ", "w dniu ", "dne ",
];

/// Whether `line` is an attribution line, and if so whether it is strong.
///
/// It must end with a colon and be shorter than 300 bytes. Strong: a verb
/// of [`ATTRIBUTION_VERBS`] and either a usual opening or an `@` (the
/// quoted sender's address). Weak: a verb without either ("Ann Lee
/// wrote:"), or Gmail's verbless form in Russian and Japanese (a date and
/// `<address>:`).
fn attribution(line: &str) -> Option<bool> {
    if line.len() > MAX_ATTRIBUTION_BYTES || !ends_with_colon(line) {
        return None;
    }
    let lower = line.to_lowercase();
    let has_address = lower.contains('@');
    if ATTRIBUTION_VERBS.iter().any(|v| lower.contains(v)) {
        return Some(has_opening(&lower) || has_address);
    }
    let verbless = has_address
        && lower.chars().any(|c| c.is_ascii_digit())
        && lower
            .trim_end()
            .trim_end_matches([':', '\u{ff1a}'])
            .trim_end()
            .ends_with('>');
    verbless.then_some(false)
}

fn has_opening(line: &str) -> bool {
    let lower = line.to_lowercase();
    ATTRIBUTION_OPENINGS.iter().any(|p| lower.starts_with(p))
}

fn ends_with_colon(line: &str) -> bool {
    line.trim_end().ends_with([':', '\u{ff1a}'])
}

/// The first half of a wrapped attribution line: it carries a date, an
/// address, a usual opening, or breaks inside `<…>`.
fn looks_like_attribution_start(line: &str) -> bool {
    if line.len() > MAX_ATTRIBUTION_BYTES {
        return false;
    }
    has_opening(line)
        || line.ends_with('<')
        || line.contains('@')
        || line.chars().any(|c| c.is_ascii_digit())
}

/// The first field of an Outlook header block, in the languages it ships in.
const HEADER_FROM: &[&str] = &[
    "from",
    "von",
    "de",
    "da",
    "van",
    "från",
    "fra",
    "od",
    "от",
    "lähettäjä",
    "差出人",
];

/// Fields that follow `From:` in an Outlook header block.
const HEADER_NEXT: &[&str] = &[
    "sent",
    "date",
    "to",
    "subject",
    "gesendet",
    "datum",
    "an",
    "betreff",
    "envoyé",
    "objet",
    "enviado",
    "fecha",
    "para",
    "asunto",
    "inviato",
    "data",
    "oggetto",
    "verzonden",
    "aan",
    "onderwerp",
    "skickat",
    "till",
    "ämne",
    "sendt",
    "til",
    "emne",
    "wysłano",
    "temat",
    "отправлено",
    "кому",
    "тема",
    "lähetetty",
    "送信日時",
    "宛先",
    "件名",
];

fn header_field(line: &str, names: &[&str]) -> bool {
    if line.len() > MAX_ATTRIBUTION_BYTES * 4 {
        return false;
    }
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

/// A mailing-list footer: the last rule of underscores, followed by a few
/// lines that name a list (an address, a link, "unsubscribe"). Returns the
/// rule's index.
fn list_footer_start(lines: &[&str]) -> Option<usize> {
    let rule = lines.iter().rposition(|l| {
        let t = l.trim();
        t.len() >= 10 && t.chars().all(|c| c == '_')
    })?;
    let footer: Vec<String> = lines[rule + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.to_lowercase())
        .collect();
    let names_a_list = footer.iter().any(|l| {
        [
            "mailing list",
            "listinfo",
            "unsubscribe",
            "http://",
            "https://",
            "mailto:",
            "@",
        ]
        .iter()
        .any(|m| l.contains(m))
    });
    let has_text_above = lines[..rule].iter().any(|l| !l.trim().is_empty());
    (names_a_list && footer.len() <= MAX_FOOTER_LINES && has_text_above).then_some(rule)
}

/// Footers mobile mail apps add, matched whole (lowercased, without a
/// final full stop).
const MOBILE_FOOTERS: &[&str] = &[
    "sent from my iphone",
    "sent from my ipad",
    "sent from my android",
    "get outlook for ios",
    "get outlook for android",
    "sent from outlook",
    "sent from mail for windows",
    "sent from yahoo mail for iphone",
    "sent from yahoo mail on android",
    "von meinem iphone gesendet",
    "envoyé de mon iphone",
    "enviado desde mi iphone",
    "inviato da iphone",
    "verzonden vanaf mijn iphone",
    "enviado do meu iphone",
    "skickat från min iphone",
    "sendt fra min iphone",
    "wysłane z iphone'a",
    "отправлено с iphone",
    "iphoneから送信",
];

/// Openings of mobile footers that name a device ("Sent from my Galaxy").
const MOBILE_OPENINGS: &[&str] = &["sent from my ", "get outlook for ", "sent from "];

/// Whether line `i` (the last non-blank line) is a standalone mobile
/// footer: a known footer, or a short "Sent from my …" on a line of its
/// own after a blank line. A sentence that starts with "Sent from my" in
/// the middle of the text is not one.
fn is_mobile_footer(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    if line.len() > 60 {
        return false;
    }
    let lower = line.to_lowercase();
    let lower = lower.trim_end_matches('.');
    if MOBILE_FOOTERS.contains(&lower) {
        return true;
    }
    let after_blank = i == 0 || lines[i - 1].trim().is_empty();
    after_blank
        && MOBILE_OPENINGS.iter().any(|p| lower.starts_with(p))
        && lower.split_whitespace().count() <= 8
        && !lower.contains([',', ';', '?', '!'])
}

/// Whether line `i` (the last non-blank line) is a one-line signature:
/// `-Ann`, `--Ann Lee`, `— Ann`, `– A. Lee`: a dash and one to four
/// capitalised words, under text that is not a dash list or a "…:" lead-in.
fn is_one_line_signature(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let Some((dash, rest)) = ["--", "-", "\u{2014}", "\u{2013}", "~"]
        .iter()
        .find_map(|d| line.strip_prefix(d).map(|r| (*d, r.trim())))
    else {
        return false;
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let name_like = !words.is_empty()
        && words.len() <= 4
        && rest.chars().count() <= 40
        && words.iter().all(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() && !c.is_lowercase())
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '.' | '\'' | '-'))
        });
    if !name_like {
        return false;
    }
    let Some(prev) = last_non_blank(&lines[..i]).map(|p| lines[p].trim()) else {
        return false;
    };
    !prev.starts_with(dash) && !ends_with_colon(prev)
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

    #[test]
    fn attribution_strength() {
        assert_eq!(
            attribution("On Mon, 1 Jun 2026, Ann <a@x.org> wrote:"),
            Some(true)
        );
        assert_eq!(attribution("On Monday Ann wrote:"), Some(true));
        assert_eq!(attribution("Ann Lee wrote:"), Some(false));
        assert_eq!(attribution("Ann Lee wrote: hello"), None);
        assert_eq!(
            attribution("2026年6月1日(月) 10:02 Acme <support@example.com>:"),
            Some(false)
        );
        assert_eq!(attribution("Call me at 0123 or <a@x.org>"), None);
    }
}
