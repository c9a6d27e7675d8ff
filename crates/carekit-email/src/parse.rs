//! RFC 5322 / MIME parsing with mail-parser into an owned, platform-free
//! [`ParsedEmail`]: addresses, threading headers, bodies (HTML-only mail
//! turned into text), attachments as metadata, and the loop/noise signals.
//!
//! Any charset and transfer encoding mail-parser knows is decoded; unknown
//! charsets fall back to a lossy decoding rather than failing the message.

use crate::error::EmailError;
use crate::message_id::clean_id;
use crate::noise::{Bounce, Noise};
use carekit_core::Attachment;
use chrono::{DateTime, Utc};
use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// Default largest raw message accepted: 40 MiB, so a 25 MB attachment
/// (the common provider limit) still fits after base64 adds a third.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;

/// A mailbox: address plus the display name, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress {
    /// The address as written (`Ann@Example.org`).
    pub address: String,
    /// The display name (`Ann Lee`).
    pub name: Option<String>,
}

impl EmailAddress {
    /// The address lowercased: the customer's stable handle.
    pub fn handle(&self) -> String {
        self.address.trim().to_lowercase()
    }
}

/// A parsed email, owned and free of mail-parser types.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParsedEmail {
    /// `Message-ID` without angle brackets; synthesised from a hash of the
    /// raw bytes when missing (see [`ParsedEmail::message_id_synthesised`]).
    pub message_id: String,
    /// Whether [`ParsedEmail::message_id`] was synthesised.
    pub message_id_synthesised: bool,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids in header order (oldest first), without angle brackets.
    pub references: Vec<String>,
    /// The sender (`From`, else `Sender`); a message without one is refused.
    pub from: EmailAddress,
    /// `Reply-To`, when it differs from `From`.
    pub reply_to: Option<EmailAddress>,
    /// `To` recipients.
    pub to: Vec<EmailAddress>,
    /// `Cc` recipients.
    pub cc: Vec<EmailAddress>,
    /// `Delivered-To` / `X-Original-To` addresses the receiving server added.
    pub delivered_to: Vec<String>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// The `Date` header, if it parsed.
    pub date: Option<DateTime<Utc>>,
    /// The whole text body, quoted history included: every text body part
    /// in order, joined by a blank line (HTML converted when a part has no
    /// text alternative).
    pub text: String,
    /// The HTML body, if any.
    pub html: Option<String>,
    /// Attachments, metadata only.
    pub attachments: Vec<Attachment>,
    /// The `X-Carekit-Thread` header (our own outbound mail sets it).
    pub thread_header: Option<String>,
    /// Why an automatic answer would be wrong, if anything.
    pub noise: Vec<Noise>,
    /// Set when the message is a delivery-status report (a bounce).
    pub bounce: Option<Bounce>,
    /// Size of the raw message in bytes.
    pub size: usize,
    /// The RFC 5322 source as carekit keeps it, at most
    /// [`MAX_RAW_BYTES`](crate::MAX_RAW_BYTES): the bytes as received when
    /// they are UTF-8 and fit ([`ParsedEmail::raw_complete`]); otherwise a
    /// first line `X-Carekit-Raw: size=<bytes>; …` says what was left out
    /// (attachment bodies, invalid UTF-8, the end). See `docs/email.md`.
    pub raw: String,
    /// Whether [`ParsedEmail::raw`] is the source byte for byte.
    pub raw_complete: bool,
}

/// Parses raw RFC 5322 bytes, refusing messages larger than `max_bytes`.
///
/// # Errors
/// [`EmailError::TooLarge`] above the limit; [`EmailError::Malformed`] when
/// the bytes carry no header block or no sender address.
pub fn parse_message(raw: &[u8], max_bytes: usize) -> Result<ParsedEmail, EmailError> {
    if raw.len() > max_bytes {
        return Err(EmailError::TooLarge {
            size: raw.len(),
            limit: max_bytes,
        });
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(EmailError::Malformed("empty message".into()));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| EmailError::Malformed("no RFC 5322 header block".into()))?;
    if message.headers().is_empty() {
        return Err(EmailError::Malformed("no RFC 5322 header block".into()));
    }
    let from = message
        .from()
        .and_then(first_address)
        .or_else(|| message.sender().and_then(first_address))
        .ok_or_else(|| EmailError::Malformed("no sender address in From".into()))?;

    let (message_id, synthesised) = match message.message_id().map(clean_id) {
        Some(id) if !id.is_empty() => (id, false),
        _ => (synthesise_id(raw), true),
    };
    let in_reply_to = id_list(message.in_reply_to());
    let references = id_list(message.references());
    let date = message
        .date()
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0));

    let text = full_text(&message);
    let html = message.body_html(0).and_then(|h| {
        // mail-parser renders a text-only body as HTML; keep only real HTML.
        message
            .html_part(0)
            .filter(|p| matches!(p.body, PartType::Html(_)))
            .map(|_| h.into_owned())
    });
    let attachments = message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().map(str::to_owned),
            content_type: part.content_type().map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            }),
            url: None,
            size: Some(part.len() as u64),
        })
        .collect();

    let header = |name: &str| message.header_raw(name).map(unfold);
    let noise = crate::noise::detect(
        header("Auto-Submitted").as_deref(),
        header("Precedence").as_deref(),
        message.header_raw("List-Id").is_some() || message.header_raw("List-Unsubscribe").is_some(),
        is_delivery_report(&message),
    );
    let bounce = if is_delivery_report(&message) {
        Some(crate::noise::read_bounce(&message))
    } else {
        None
    };
    let mut delivered_to = Vec::new();
    for name in ["Delivered-To", "X-Original-To"] {
        for (n, v) in message.headers_raw() {
            if n.eq_ignore_ascii_case(name) {
                let v = unfold(v);
                if !v.is_empty() {
                    delivered_to.push(v);
                }
            }
        }
    }
    let kept = crate::raw::keep_raw(raw, &message);
    let reply_to = message
        .reply_to()
        .and_then(first_address)
        .filter(|r| r.handle() != from.handle());

    Ok(ParsedEmail {
        message_id,
        message_id_synthesised: synthesised,
        in_reply_to,
        references,
        reply_to,
        to: all_addresses(message.to()),
        cc: all_addresses(message.cc()),
        delivered_to,
        subject: message.subject().map(|s| s.trim().to_owned()),
        date,
        text,
        html,
        attachments,
        thread_header: header("X-Carekit-Thread").filter(|v| !v.is_empty()),
        noise,
        bounce,
        size: raw.len(),
        raw: kept.text,
        raw_complete: kept.complete,
        from,
    })
}

/// Every text body part in order (HTML parts without a text alternative
/// turned into text), joined by a blank line: a client that puts text,
/// an inline image and more text in one mail loses none of the text.
fn full_text(message: &mail_parser::Message<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for i in 0..message.text_body_count() {
        let Some(part) = message.text_part(i as u32) else {
            continue;
        };
        let text = match &part.body {
            // HTML-only mail: break lines at block elements first, so the
            // text keeps its paragraphs and quote headers start on their
            // own line.
            PartType::Html(html) => html_to_readable_text(html),
            PartType::Text(text) => text.clone().into_owned(),
            _ => continue,
        };
        if !text.trim().is_empty() {
            parts.push(text);
        }
    }
    parts.join("\n\n")
}

/// Whether the top-level type is `multipart/report; report-type=delivery-status`
/// (RFC 3464).
fn is_delivery_report(message: &mail_parser::Message<'_>) -> bool {
    message.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    })
}

fn first_address(address: &Address<'_>) -> Option<EmailAddress> {
    address.iter().find_map(to_email_address)
}

fn all_addresses(address: Option<&Address<'_>>) -> Vec<EmailAddress> {
    address
        .map(|a| a.iter().filter_map(to_email_address).collect())
        .unwrap_or_default()
}

fn to_email_address(addr: &mail_parser::Addr<'_>) -> Option<EmailAddress> {
    let address = addr.address.as_deref()?.trim();
    if !address.contains('@') {
        return None;
    }
    Some(EmailAddress {
        address: address.to_owned(),
        name: addr
            .name
            .as_deref()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
    })
}

/// Ids from a header value mail-parser already split (text or text list).
fn id_list(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<String> = match value {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for id in raw.iter().flat_map(|s| s.split_whitespace()) {
        let id = clean_id(id);
        if !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// A stable id for a message without `Message-ID`: the same bytes always
/// give the same id, so a re-delivered copy is recognised as a duplicate.
fn synthesise_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    format!("{}@synthesised.carekit", hex::encode(&digest[..16]))
}

/// HTML to plain text that keeps line structure: a line break before and
/// after every block element, then mail-parser's tag stripping and entity
/// decoding.
pub fn html_to_readable_text(html: &str) -> String {
    const BLOCKS: [&str; 16] = [
        "p",
        "div",
        "br",
        "hr",
        "li",
        "tr",
        "table",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
    ];
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut rest = html;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let tag = &rest[pos + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if BLOCKS.contains(&name.as_str()) {
            out.push_str("<br>");
        }
        out.push('<');
        rest = tag;
    }
    out.push_str(rest);
    let text = mail_parser::decoders::html::html_to_text(&out);
    // Collapse the runs of blank lines the extra breaks leave.
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() && lines.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        lines.push(line);
    }
    lines.join("\n").trim().to_owned()
}

fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}
