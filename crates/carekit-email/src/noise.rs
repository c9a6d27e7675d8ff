//! Loop and noise protection: mail that must never get an automatic answer
//! (RFC 3834 auto-submitted mail, bulk and list mail, RFC 3464 delivery
//! reports), and reading a bounce back to the message it refers to.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Why a message must not be answered automatically.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Noise {
    /// `Auto-Submitted` with a value other than `no` (RFC 3834): vacation
    /// replies, auto-replies, notifications.
    AutoSubmitted(String),
    /// `Precedence: bulk`, `list` or `junk`.
    Precedence(String),
    /// A mailing list (`List-Id` or `List-Unsubscribe`).
    MailingList,
    /// A delivery-status report (RFC 3464), that is a bounce.
    DeliveryReport,
}

/// A delivery-status report about a message we sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bounce {
    /// `Message-ID` of the original (bounced) message, without brackets,
    /// when the report includes its headers.
    pub original_message_id: Option<String>,
    /// The recipient that failed (`Final-Recipient`).
    pub recipient: Option<String>,
    /// The RFC 3463 status (`5.1.1`).
    pub status: Option<String>,
    /// The `Action` field (`failed`, `delayed`, `delivered`, ...).
    pub action: Option<String>,
    /// The remote server's words (`Diagnostic-Code`).
    pub diagnostic: Option<String>,
}

impl Bounce {
    /// Whether the report says delivery failed for good (as opposed to
    /// `delayed`, `relayed` or `delivered`).
    pub fn is_failure(&self) -> bool {
        match self.action.as_deref() {
            Some(a) => a.eq_ignore_ascii_case("failed"),
            None => self.status.as_deref().is_none_or(|s| s.starts_with('5')),
        }
    }

    /// A short reason for the delivery record: status and diagnostic.
    pub fn reason(&self) -> String {
        match (&self.status, &self.diagnostic) {
            (Some(s), Some(d)) => format!("{s} {d}"),
            (Some(s), None) => s.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => "delivery failed".to_owned(),
        }
    }
}

/// Classifies the header signals. `list` is true when `List-Id` or
/// `List-Unsubscribe` is present; `report` when the message is a DSN.
pub(crate) fn detect(
    auto_submitted: Option<&str>,
    precedence: Option<&str>,
    list: bool,
    report: bool,
) -> Vec<Noise> {
    let mut noise = Vec::new();
    if let Some(value) = auto_submitted {
        // The value may carry parameters: `auto-replied; owner-email=...`.
        let token = value.split(';').next().unwrap_or("").trim();
        if !token.is_empty() && !token.eq_ignore_ascii_case("no") {
            noise.push(Noise::AutoSubmitted(token.to_ascii_lowercase()));
        }
    }
    if let Some(value) = precedence {
        let token = value.trim().to_ascii_lowercase();
        if matches!(token.as_str(), "bulk" | "list" | "junk") {
            noise.push(Noise::Precedence(token));
        }
    }
    if list {
        noise.push(Noise::MailingList);
    }
    if report {
        noise.push(Noise::DeliveryReport);
    }
    noise
}

/// Reads the `message/delivery-status` part and the returned headers of a
/// multipart/report.
pub(crate) fn read_bounce(message: &mail_parser::Message<'_>) -> Bounce {
    let mut bounce = Bounce::default();
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or("").to_ascii_lowercase();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                read_status_fields(&String::from_utf8_lossy(part_bytes(part)), &mut bounce);
            }
            ("message", "rfc822") | ("message", "global")
                if bounce.original_message_id.is_none() =>
            {
                bounce.original_message_id = match &part.body {
                    PartType::Message(inner) => inner.message_id().map(crate::message_id::clean_id),
                    other => headers_message_id(body_bytes(other)),
                };
            }
            ("text", "rfc822-headers") | ("message", "rfc822-headers")
                if bounce.original_message_id.is_none() =>
            {
                bounce.original_message_id = headers_message_id(part_bytes(part));
            }
            _ => {}
        }
    }
    bounce
}

fn part_bytes<'a>(part: &'a mail_parser::MessagePart<'_>) -> &'a [u8] {
    body_bytes(&part.body)
}

fn body_bytes<'a>(body: &'a PartType<'_>) -> &'a [u8] {
    match body {
        PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b,
        PartType::Message(m) => m.raw_message(),
        PartType::Multipart(_) => &[],
    }
}

fn headers_message_id(bytes: &[u8]) -> Option<String> {
    MessageParser::default()
        .parse_headers(bytes)
        .and_then(|m| m.message_id().map(crate::message_id::clean_id))
        .filter(|id| !id.is_empty())
}

/// Reads `Field: value` lines (with folded continuations) of a DSN body;
/// the first recipient block wins.
fn read_status_fields(text: &str, bounce: &mut Bounce) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let after_type = |v: &str| {
        // `rfc822; user@example.org` → `user@example.org`
        v.split_once(';')
            .map(|(_, rest)| rest.trim().to_owned())
            .unwrap_or_else(|| v.trim().to_owned())
    };
    for (name, value) in fields {
        match name.as_str() {
            "final-recipient" if bounce.recipient.is_none() => {
                bounce.recipient = Some(after_type(&value))
            }
            "status" if bounce.status.is_none() => bounce.status = Some(value),
            "action" if bounce.action.is_none() => bounce.action = Some(value.to_ascii_lowercase()),
            "diagnostic-code" if bounce.diagnostic.is_none() => {
                bounce.diagnostic = Some(after_type(&value))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_submitted_no_is_a_person() {
        assert!(detect(Some("no"), None, false, false).is_empty());
        assert_eq!(
            detect(Some("auto-replied; owner=x"), None, false, false),
            vec![Noise::AutoSubmitted("auto-replied".into())]
        );
    }

    #[test]
    fn precedence_bulk_list_junk_only() {
        assert!(detect(None, Some("first-class"), false, false).is_empty());
        for p in ["bulk", "List", " junk "] {
            assert_eq!(detect(None, Some(p), false, false).len(), 1, "{p}");
        }
    }
}
