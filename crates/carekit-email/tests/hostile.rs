//! Hostile mail: arbitrary bytes and mail-shaped messages with hostile
//! headers (encoded words in unknown charsets, reference loops, bracket
//! soup, plus-address lookalikes), nested and truncated MIME, bogus
//! delivery reports. Parsing answers `Ok` or a typed `Malformed`/`TooLarge`,
//! never a panic, and what it returns keeps its invariants through
//! threading, reply extraction and the normalised event.

use carekit_core::{ChannelKind, EventKind, Visibility};
use carekit_email::thread::{ThreadToken, parents, thread_email};
use carekit_email::{
    DEFAULT_MAX_MESSAGE_BYTES, EmailError, MAX_RAW_BYTES, ParsedEmail, extract_reply,
    html_to_readable_text, parse_message, to_event,
};
use carekit_testing::at;
use proptest::prelude::*;

const MAILBOX: &str = "support@acme.example";

/// 256 cases in CI; `HOSTILE_CASES=20000` for a longer local run.
fn cases() -> u32 {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

// ---- strategies ---------------------------------------------------------

fn msg_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9.]{1,12}@[a-z]{1,8}\\.example".prop_map(|s| format!("<{s}>")),
        1 => Just("<>".to_owned()),
        1 => Just("<<a@b>>".to_owned()),
        1 => Just("   ".to_owned()),
        1 => "[ -~]{0,20}",
    ]
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,8}@[a-z]{1,8}\\.example",
        2 => Just(MAILBOX.to_owned()),
        2 => "[0-9a-f]{16}".prop_map(|t| format!("support+ck{t}@acme.example")),
        1 => "[0-9a-z]{0,18}".prop_map(|t| format!("Support+{t}@ACME.example")),
        1 => "[ -~]{0,24}",
        1 => Just("\"quoted, name\" <odd@x.example>, , <@>".to_owned()),
    ]
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        address().prop_map(|a| format!("To: {a}")),
        address().prop_map(|a| format!("Cc: {a}")),
        address().prop_map(|a| format!("Reply-To: {a}")),
        address().prop_map(|a| format!("Delivered-To: {a}")),
        msg_id().prop_map(|i| format!("Message-ID: {i}")),
        msg_id().prop_map(|i| format!("In-Reply-To: {i}")),
        proptest::collection::vec(msg_id(), 0..6)
            .prop_map(|ids| format!("References: {}", ids.join(" "))),
        "[0-9a-f]{16}".prop_map(|t| format!("X-Carekit-Thread: ck{t}")),
        "[ -~]{0,30}".prop_map(|t| format!("X-Carekit-Thread: {t}")),
        prop_oneof![
            Just("auto-replied"),
            Just("no"),
            Just("auto-generated; owner=x"),
            Just("")
        ]
        .prop_map(|v| format!("Auto-Submitted: {v}")),
        prop_oneof![Just("bulk"), Just("list"), Just("first-class")]
            .prop_map(|v| format!("Precedence: {v}")),
        Just("List-Id: <list.example>".to_owned()),
        "[ -~]{0,40}".prop_map(|s| format!("Subject: {s}")),
        "[A-Za-z0-9+/=]{0,24}".prop_map(|s| format!("Subject: =?utf-8?B?{s}?=")),
        "[ -~]{0,16}".prop_map(|s| format!("Subject: =?x-klingon?Q?{s}?=")),
        prop_oneof![
            Just("Mon, 02 Mar 2026 09:00:00 +0000".to_owned()),
            Just("Fri, 31 Dec 9999 23:59:59 -2359".to_owned()),
            Just("Thu, 01 Jan 1970 00:00:00 +0000".to_owned()),
            "[ -~]{0,30}",
        ]
        .prop_map(|d| format!("Date: {d}")),
        "[A-Za-z-]{1,12}: [ -~]{0,40}",
        "[ -~]{0,40}",
        Just(" folded continuation line".to_owned()),
    ]
}

fn text_body() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "\\PC{0,50}",
            Just("> quoted line".to_owned()),
            Just("On Mon, 2 Mar 2026 at 09:00, Ann <ann@x.example> wrote:".to_owned()),
            Just("On Mon, 2 Mar 2026, Ann Lee <".to_owned()),
            Just("ann@x.example> wrote:".to_owned()),
            Just("-----Original Message-----".to_owned()),
            Just("From: Ann".to_owned()),
            Just("Sent: Monday".to_owned()),
            Just("________________________________".to_owned()),
            Just("-- ".to_owned()),
            Just("Sent from my iPhone".to_owned()),
            Just(String::new()),
            Just("Ann Lee wrote:".to_owned()),
            Just("Am 01.06.26 um 10:02 schrieb Acme Support:".to_owned()),
            Just("1 июня 2026 г., в 10:02, пользователь Ann <ann@x.example>".to_owned()),
            Just("написал:".to_owned()),
            Just("2026年6月1日(月) 10:02 Ann <ann@x.example>:".to_owned()),
            Just("-Ann".to_owned()),
            Just("\u{2014} Ann Lee".to_owned()),
            Just("users mailing list".to_owned()),
            Just("https://lists.example.org/listinfo/users".to_owned()),
            Just("-----Ursprüngliche Nachricht-----".to_owned()),
            Just("sent from my account page".to_owned()),
            Just("NUL \u{0} inside".to_owned()),
        ],
        0..12,
    )
    .prop_map(|lines| lines.join("\r\n"))
}

fn part(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        text_body().prop_map(|b| format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{b}")),
        text_body().prop_map(|b| format!("Content-Type: text/html\r\n\r\n<div>{b}</div><p>x<br/>y</p><blockquote>q</blockquote>")),
        "[A-Za-z0-9+/=\r\n]{0,80}".prop_map(|b| format!(
            "Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b}"
        )),
        "[ -~=\r\n]{0,80}".prop_map(|b| format!(
            "Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{b}"
        )),
        Just("Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\nAction: failed\r\nStatus: 5.1.1\r\n".to_owned()),
        Just("Content-Type: message/rfc822\r\n\r\nFrom: inner@x.example\r\nMessage-ID: <inner@x.example>\r\n\r\nhi".to_owned()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => (
            prop_oneof![Just("mixed"), Just("alternative"), Just("report; report-type=delivery-status")],
            "[A-Za-z0-9]{1,10}",
            proptest::collection::vec(part(depth - 1), 0..4),
            any::<bool>(),
        )
            .prop_map(|(sub, boundary, parts, close)| {
                let mut s = format!("Content-Type: multipart/{sub}; boundary=\"{boundary}\"\r\n\r\npreamble\r\n");
                for p in parts {
                    s.push_str(&format!("--{boundary}\r\n{p}\r\n"));
                }
                if close {
                    s.push_str(&format!("--{boundary}--\r\n"));
                }
                s
            }),
    ]
    .boxed()
}

fn mail() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            4 => address().prop_map(|a| format!("From: Ann <{a}>\r\n")),
            1 => address().prop_map(|a| format!("Sender: {a}\r\n")),
            1 => Just(String::new()),
        ],
        proptest::collection::vec(header(), 0..10),
        part(2),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(from, headers, body, cut, truncate)| {
            let mut raw = format!("{from}{}\r\n{body}", headers.join("\r\n")).into_bytes();
            if truncate {
                raw.truncate(cut.index(raw.len() + 1));
            }
            raw
        })
}

/// The mailbox or a plus-address of it.
fn is_mailbox(handle: &str) -> bool {
    handle.rsplit_once('@').is_some_and(|(local, domain)| {
        local.split('+').next() == Some("support") && domain.eq_ignore_ascii_case("acme.example")
    })
}

/// Whether the first line is an `X-Carekit-Raw` header (a sender's own).
fn starts_with_note(raw: &[u8]) -> bool {
    let name = b"x-carekit-raw";
    raw.len() > name.len()
        && raw[..name.len()].eq_ignore_ascii_case(name)
        && raw[name.len()..]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t'))
            == Some(&b':')
}

/// What every successful parse, and everything built from it, must satisfy.
fn check(raw: &[u8], email: &ParsedEmail) -> Result<(), TestCaseError> {
    prop_assert_eq!(email.size, raw.len());
    prop_assert!(email.from.address.contains('@'), "from {:?}", email.from);
    prop_assert!(!email.message_id.is_empty());
    for id in email.in_reply_to.iter().chain(&email.references) {
        prop_assert!(!id.is_empty());
        prop_assert!(!id.starts_with('<') && !id.ends_with('>'), "{id:?}");
    }
    if let Some(reply_to) = &email.reply_to {
        prop_assert_ne!(reply_to.handle(), email.from.handle());
    }
    // Parents: no duplicates, never the message itself (no loops).
    let ps = parents(email);
    prop_assert!(!ps.contains(&email.message_id));
    for (i, p) in ps.iter().enumerate() {
        prop_assert!(!ps[..i].contains(p), "duplicate parent {p:?}");
    }
    let threading = thread_email(email, MAILBOX);
    prop_assert_eq!(&threading.parents, &ps);
    prop_assert_eq!(
        ThreadToken::parse(threading.token.as_str()),
        Some(threading.token.clone())
    );
    prop_assert_eq!(
        threading.hints().key.map(|k| k.as_str().to_owned()),
        Some(threading.token.as_str().to_owned())
    );

    let reply = extract_reply(&email.text);
    if !email.text.trim().is_empty() {
        prop_assert!(!reply.text.is_empty());
    }
    prop_assert!(reply.text.len() <= email.text.len() + 1);

    let now = at("2026-03-02T12:00:00Z");
    let event = to_event(email, &threading, MAILBOX, now);
    prop_assert_eq!(event.channel, ChannelKind::Email);
    prop_assert_eq!(event.visibility, Visibility::Private);
    prop_assert_eq!(&event.account, MAILBOX);
    prop_assert_eq!(&event.external_id, &email.message_id);
    if event.kind == EventKind::Echo {
        // The desk's own mail: authored by the customer it was sent to,
        // never answered.
        prop_assert!(!event.auto_reply_allowed);
        prop_assert!(
            email
                .to
                .iter()
                .chain(&email.cc)
                .any(|a| a.handle() == event.author.handle)
        );
        prop_assert!(!is_mailbox(&event.author.handle), "{:?}", event.author);
    } else {
        prop_assert_eq!(&event.author.handle, &email.from.handle());
    }
    prop_assert!(event.occurred_at <= now, "a future Date skews SLAs");
    prop_assert_eq!(&event.text, &reply.text);
    // Nothing the customer sent is lost: the whole text beside the
    // extract, the source beside both, every one within the event's bounds.
    match &event.original_text {
        Some(original) => {
            prop_assert_eq!(original, &email.text);
            prop_assert_ne!(original.trim(), event.text.as_str());
        }
        None => {
            let whole = email.text.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(whole.trim(), event.text.as_str());
        }
    }
    let kept = event.raw.as_deref().unwrap_or_default();
    prop_assert!(kept.len() <= MAX_RAW_BYTES);
    prop_assert_eq!(kept, email.raw.as_str());
    if email.raw_complete {
        prop_assert_eq!(kept.as_bytes(), raw);
    } else {
        prop_assert!(
            kept.starts_with(&format!("X-Carekit-Raw: size={}", raw.len())),
            "{}",
            kept.lines().next().unwrap_or_default()
        );
    }
    prop_assert_eq!(
        email.raw_complete,
        raw.len() <= MAX_RAW_BYTES && std::str::from_utf8(raw).is_ok() && !starts_with_note(raw)
    );
    if !email.noise.is_empty() {
        prop_assert!(!event.auto_reply_allowed);
    }
    let delivery = matches!(event.kind, EventKind::Delivery { .. });
    prop_assert_eq!(
        delivery,
        email
            .bounce
            .as_ref()
            .is_some_and(|b| b.original_message_id.is_some())
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Mail-shaped hostile messages: `Ok` with every invariant, or `Malformed`.
    #[test]
    fn mail_shaped_messages_keep_their_invariants(raw in mail()) {
        match parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES) {
            Ok(email) => {
                check(&raw, &email)?;
                prop_assert_eq!(parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES).unwrap(), email);
            }
            Err(EmailError::Malformed(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    /// Arbitrary bytes, with and without a From line in front.
    #[test]
    fn arbitrary_bytes_are_ok_or_malformed(bytes in proptest::collection::vec(any::<u8>(), 0..1500), from in any::<bool>()) {
        let raw = if from {
            [b"From: a@b.example\r\n".as_slice(), &bytes].concat()
        } else {
            bytes
        };
        match parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES) {
            Ok(email) => check(&raw, &email)?,
            Err(EmailError::Malformed(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    /// The size limit holds before anything is parsed.
    #[test]
    fn the_size_limit_is_enforced(raw in mail(), limit in 0usize..400) {
        let result = parse_message(&raw, limit);
        if raw.len() > limit {
            let too_large = matches!(result, Err(EmailError::TooLarge { size, limit: l }) if size == raw.len() && l == limit);
            prop_assert!(too_large, "{result:?}");
        }
    }

    /// Bodies that are not UTF-8 (declared so or not), with NUL bytes and
    /// quotes: decoded lossily, the raw form says it replaced bytes, and
    /// every invariant holds.
    #[test]
    fn bodies_with_invalid_utf8_and_nul_bytes(
        charset in prop_oneof![Just("utf-8"), Just("iso-8859-1"), Just("x-unknown"), Just("")],
        encoding in prop_oneof![Just("8bit"), Just("quoted-printable"), Just("")],
        chunks in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            Just(b"\r\n> quoted line\r\n".to_vec()),
            Just(b"\r\nOn Mon, 2 Mar 2026 at 09:00, Ann <ann@x.example> wrote:\r\n".to_vec()),
            Just(b"\x00\x00\xff\xfe\xc3".to_vec()),
            Just(b"\r\n-- \r\n".to_vec()),
        ], 0..12),
    ) {
        let mut raw = format!(
            "From: Ann <ann@x.example>\r\nTo: {MAILBOX}\r\nMessage-ID: <bin@x.example>\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
        )
        .into_bytes();
        for chunk in &chunks {
            raw.extend_from_slice(chunk);
        }
        match parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES) {
            Ok(email) => {
                check(&raw, &email)?;
                if std::str::from_utf8(&raw).is_err() {
                    prop_assert!(email.raw.lines().next().unwrap_or_default().contains("invalid-utf8-replaced"));
                }
            }
            Err(EmailError::Malformed(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    /// Reply extraction and HTML flattening take any text.
    #[test]
    fn reply_extraction_and_html_take_any_text(body in text_body(), junk in "\\PC{0,300}", html in "[<>/a-z \"=&;#0-9\u{e9}\u{1F600}]{0,300}") {
        for text in [body.as_str(), junk.as_str(), html.as_str()] {
            let reply = extract_reply(text);
            if !text.trim().is_empty() {
                prop_assert!(!reply.text.is_empty());
            }
            let _ = html_to_readable_text(text);
        }
    }
}

/// A 3 MiB quote with the answer below it, plus a 2 MiB attachment: the
/// answer is found, and text, original text and raw form all fit the event.
#[test]
fn a_huge_quote_and_attachment_fit_the_event() {
    let mut body =
        String::from("On Mon, 2 Mar 2026 at 09:00, Acme <support@acme.example> wrote:\r\n");
    while body.len() < 3 * 1024 * 1024 {
        body.push_str("> an old line of the history, quoted again and again \u{00e9}\r\n");
    }
    body.push_str("\r\nThe answer is below the quote.\r\n");
    let mut raw = String::from(concat!(
        "From: Ann <ann@x.example>\r\nTo: support@acme.example\r\nMessage-ID: <huge@x.example>\r\n",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n",
        "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    ));
    raw.push_str(&body);
    raw.push_str("--B\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    for _ in 0..(2 * 1024 * 1024 / 78) {
        raw.push_str(&"A".repeat(76));
        raw.push_str("\r\n");
    }
    raw.push_str("--B--\r\n");
    let email = parse_message(raw.as_bytes(), DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    let threading = thread_email(&email, MAILBOX);
    let event = to_event(&email, &threading, MAILBOX, at("2026-03-02T12:00:00Z"));
    assert_eq!(event.text, "The answer is below the quote.");
    event.validate().unwrap();
    let original = event.original_text.as_deref().unwrap();
    assert!(original.starts_with("On Mon, 2 Mar 2026"));
    assert!(
        original.ends_with(&format!(
            "[cut by carekit: the text is {} bytes]",
            email.text.len()
        )),
        "{}",
        &original[original.len() - 80..]
    );
    let kept = event.raw.as_deref().unwrap();
    assert!(kept.len() <= MAX_RAW_BYTES);
    assert!(
        kept.starts_with(&format!(
            "X-Carekit-Raw: size={}; attachments-omitted=1; cut\r\n",
            raw.len()
        )),
        "{}",
        kept.lines().next().unwrap()
    );
    assert!(kept.contains("Message-ID: <huge@x.example>"));
}
