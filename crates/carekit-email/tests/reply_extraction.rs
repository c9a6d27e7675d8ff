//! Reply extraction on replies in the forms real mail clients write them.

use carekit_email::{DEFAULT_MAX_MESSAGE_BYTES, QuoteStyle, extract_reply, parse_message};

#[test]
fn gmail_attribution_wrapped_over_two_lines() {
    let body = "Thanks, that fixed it!\r\n\r\nOn Mon, 1 Jun 2026 at 10:02, Acme Support <\r\nsupport@example.com> wrote:\r\n> Please restart the router.\r\n>\r\n> Kind regards\r\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Thanks, that fixed it!");
    assert_eq!(r.style, Some(QuoteStyle::Attribution));
    assert!(r.quoted.unwrap().contains("Please restart the router."));
}

#[test]
fn gmail_single_line_attribution_and_dash_dash_signature() {
    let body = "Still broken.\nOrder 1234.\n\n-- \nAnn Lee\nhttps://ann.example\n\nOn Tue, Jun 2, 2026 at 9:00 AM Acme <support@example.com> wrote:\n> Did it work?\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Still broken.\nOrder 1234.");
    assert_eq!(r.signature.as_deref(), Some("Ann Lee\nhttps://ann.example"));
}

#[test]
fn outlook_original_message_separator() {
    let body = "Hi,\n\nno, the parcel never arrived.\n\nBest\nBob\n\n-----Original Message-----\nFrom: Acme Support <support@example.com>\nSent: Monday, June 1, 2026 10:02 AM\nTo: Bob <bob@example.net>\nSubject: RE: Parcel\n\nHas the parcel arrived?\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Hi,\n\nno, the parcel never arrived.\n\nBest\nBob");
    assert_eq!(r.style, Some(QuoteStyle::OriginalMessage));
}

#[test]
fn outlook_from_sent_block_below_a_rule() {
    let body = "Please cancel my subscription.\n\nGet Outlook for iOS\n________________________________\nFrom: Acme Support <support@example.com>\nSent: Monday, June 1, 2026 10:02:11 AM\nTo: carl@example.net <carl@example.net>\nSubject: Your subscription\n\nWe are sorry to see you go.\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Please cancel my subscription.");
    assert_eq!(r.style, Some(QuoteStyle::HeaderBlock));
    assert_eq!(r.signature.as_deref(), Some("Get Outlook for iOS"));
}

#[test]
fn apple_mail_attribution_with_at() {
    let body = "Yes please, send a new one.\n\nSent from my iPhone\n\n> On 1 Jun 2026, at 10:02, Acme Support <support@example.com> wrote:\n>\n> Shall we send a replacement?\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Yes please, send a new one.");
    assert_eq!(r.signature.as_deref(), Some("Sent from my iPhone"));

    let unquoted = "Yes please.\n\nOn 1 Jun 2026, at 10:02, Acme Support <support@example.com> wrote:\n\n> Shall we?\n";
    let r = extract_reply(unquoted);
    assert_eq!(r.text, "Yes please.");
    assert_eq!(r.style, Some(QuoteStyle::Attribution));
}

#[test]
fn interleaved_angle_quoting_keeps_the_answers() {
    let body = "> What is your order number?\n1234\n> And the postcode?\nAB1 2CD\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "1234\nAB1 2CD");
    assert_eq!(r.style, Some(QuoteStyle::Angle));
    assert!(r.quoted.unwrap().contains("postcode"));
}

#[test]
fn thunderbird_and_german_gmail() {
    let tb = "Works now.\n\nOn 01/06/2026 10:02, Acme Support wrote:\n> Try again?\n";
    assert_eq!(extract_reply(tb).text, "Works now.");
    let de = "Danke!\n\nAm Mo., 1. Juni 2026 um 10:02 Uhr schrieb Acme Support <support@example.com>:\n> Hallo\n";
    assert_eq!(extract_reply(de).text, "Danke!");
}

#[test]
fn html_only_outlook_reply_is_read_as_text_and_extracted() {
    let raw = concat!(
        "From: Dana <dana@example.net>\r\n",
        "To: support@example.com\r\n",
        "Subject: RE: Invoice\r\n",
        "Message-ID: <html-only@example.net>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/html; charset=\"windows-1252\"\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "\r\n",
        "<html><body><p>The invoice total is wrong =96 please check.</p>",
        "<div><hr><b>From:</b> Acme Support &lt;support@example.com&gt;<br>",
        "<b>Sent:</b> Monday, June 1, 2026<br><b>Subject:</b> Invoice</div>",
        "<p>Here is your invoice.</p></body></html>\r\n",
    );
    let parsed = parse_message(raw.as_bytes(), DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    assert!(parsed.html.is_some());
    assert!(
        !parsed.text.contains("<p>"),
        "HTML turned into text: {}",
        parsed.text
    );
    let r = extract_reply(&parsed.text);
    assert_eq!(r.text, "The invoice total is wrong \u{2013} please check.");
    // The full original stays available on the parsed email.
    assert!(parsed.text.contains("Here is your invoice."));
    assert!(
        parsed.text.contains("\nFrom: Acme Support") || parsed.text.contains("\nFrom:Acme Support"),
        "{}",
        parsed.text
    );
}

// ---- replies written below the quote -----------------------------------

#[test]
fn a_reply_written_below_the_quote_is_the_text() {
    // Thunderbird, bottom-posting, with a classic signature at the end.
    let body = "On 01/06/2026 10:02, Acme Support wrote:\r\n> Did the restart help?\r\n>\r\n> Kind regards\r\n> Acme Support\r\n\r\nNo, it still drops every hour.\r\n\r\n-- \r\nAnn Lee\r\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "No, it still drops every hour.");
    assert_eq!(r.style, Some(QuoteStyle::Attribution));
    assert_eq!(r.signature.as_deref(), Some("Ann Lee"));
    let quoted = r.quoted.unwrap();
    assert!(quoted.starts_with("On 01/06/2026 10:02, Acme Support wrote:"));
    assert!(quoted.contains("> Did the restart help?"));

    // Top-posting above a quote is unchanged: nothing follows the quote.
    let top =
        "Thanks!\n\nOn Mon, 1 Jun 2026 at 10:02, Acme <support@example.com> wrote:\n> Done.\n>\n";
    assert_eq!(extract_reply(top).text, "Thanks!");
}

#[test]
fn answers_between_and_below_quotes_after_an_attribution_are_kept() {
    let body = "Hi,\n\nAnn Lee wrote:\n> What is your order number?\n\n1234\n\n> And the postcode?\n\nAB1 2CD\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Hi,\n\n1234\n\nAB1 2CD");
    assert_eq!(r.style, Some(QuoteStyle::Attribution));
}

// ---- attribution lines in other languages --------------------------------

/// Attribution lines as the mail clients of each language write them.
const ATTRIBUTIONS: &[(&str, &str)] = &[
    (
        "en, Outlook for Mac",
        "On 6/1/26, 10:02 AM, \"Acme Support\" <support@example.com> wrote:",
    ),
    (
        "de, Gmail",
        "Am Mo., 1. Juni 2026 um 10:02 Uhr schrieb Acme Support <support@example.com>:",
    ),
    (
        "de, Thunderbird",
        "Am 01.06.26 um 10:02 schrieb Acme Support:",
    ),
    (
        "fr, Gmail (narrow no-break space before the colon)",
        "Le lun. 1 juin 2026 à 10:02, Acme Support <support@example.com> a écrit\u{202f}:",
    ),
    (
        "fr, Thunderbird",
        "Le 01/06/2026 à 10:02, Acme Support a écrit :",
    ),
    (
        "es, Gmail",
        "El lun, 1 jun 2026 a las 10:02, Acme Support (<support@example.com>) escribió:",
    ),
    (
        "it, Gmail",
        "Il giorno lun 1 giu 2026 alle ore 10:02 Acme Support <support@example.com> ha scritto:",
    ),
    (
        "nl, Gmail",
        "Op ma 1 jun 2026 om 10:02 schreef Acme Support <support@example.com>:",
    ),
    (
        "pt, Gmail",
        "Em seg., 1 de jun. de 2026 às 10:02, Acme Support <support@example.com> escreveu:",
    ),
    (
        "pl, Gmail",
        "pon., 1 cze 2026 o 10:02 Acme Support <support@example.com> napisał(a):",
    ),
    (
        "pl, Thunderbird",
        "W dniu 1.06.2026 o 10:02, Acme Support pisze:",
    ),
    (
        "ru, Mail.ru",
        "1 июня 2026 г., в 10:02, пользователь Acme Support <support@example.com> написал:",
    ),
    ("ru, Thunderbird", "01.06.2026 10:02, Acme Support пишет:"),
    (
        "ru, Gmail (no verb)",
        "пн, 1 июн. 2026 г. в 10:02, Acme Support <support@example.com>:",
    ),
    (
        "sv, Gmail",
        "Den mån 1 juni 2026 kl 10:02 skrev Acme Support <support@example.com>:",
    ),
    (
        "da, Gmail",
        "Den man. 1. jun. 2026 kl. 10.02 skrev Acme Support <support@example.com>:",
    ),
    (
        "nb, Gmail",
        "man. 1. jun. 2026 kl. 10:02 skrev Acme Support <support@example.com>:",
    ),
    (
        "fi, Gmail",
        "ma 1. kesäk. 2026 klo 10.02 Acme Support (support@example.com) kirjoitti:",
    ),
    (
        "cs, Gmail",
        "po 1. 6. 2026 v 10:02 odesílatel Acme Support <support@example.com> napsal:",
    ),
    ("ja, Thunderbird", "Acme Support さんは書きました:"),
    (
        "ja, Gmail (no verb)",
        "2026年6月1日(月) 10:02 Acme Support <support@example.com>:",
    ),
    (
        "ja, Apple Mail",
        "2026/06/01 10:02、Acme Support <support@example.com>のメール:",
    ),
    (
        "zh, Gmail",
        "Acme Support <support@example.com> 于2026年6月1日周一 10:02写道：",
    ),
    (
        "ko, Gmail",
        "2026년 6월 1일 (월) 오전 10:02, Acme Support <support@example.com>님이 작성:",
    ),
    (
        "tr, Gmail",
        "Acme Support <support@example.com>, 1 Haz 2026 Pzt, 10:02 tarihinde şunu yazdı:",
    ),
    (
        "hu, Gmail",
        "Acme Support <support@example.com> ezt írta (időpont: 2026. jún. 1., H, 10:02):",
    ),
    (
        "el, Gmail",
        "Στις Δευ 1 Ιουν 2026 στις 10:02, ο/η Acme Support <support@example.com> έγραψε:",
    ),
];

#[test]
fn attribution_lines_in_other_languages_start_the_quote() {
    let mut missed = Vec::new();
    for (lang, line) in ATTRIBUTIONS {
        // Above the quote and below it.
        let above = format!("Answer text.\n\n{line}\n> quoted question\n> more\n");
        let below = format!("{line}\n> quoted question\n\nAnswer text.\n");
        for (form, body) in [("above", above), ("below", below)] {
            let r = extract_reply(&body);
            if r.text != "Answer text." || r.style != Some(QuoteStyle::Attribution) {
                missed.push(format!("{lang} ({form}): {:?} {:?}", r.text, r.style));
            }
        }
    }
    assert!(missed.is_empty(), "not recognised:\n{}", missed.join("\n"));
}

#[test]
fn attribution_lines_wrapped_over_two_lines_in_other_languages() {
    let wrapped = [
        "Am Mo., 1. Juni 2026 um 10:02 Uhr schrieb Acme Support <\nsupport@example.com>:",
        "Le lun. 1 juin 2026 à 10:02, Acme Support <support@example.com> a\nécrit :",
        "1 июня 2026 г., в 10:02, пользователь Acme Support <support@example.com>\nнаписал:",
        "pon., 1 cze 2026 o 10:02 Acme Support <support@example.com>\nnapisał(a):",
        "On Mon, 1 Jun 2026 at 10:02, Acme Support <support@example.com>\nwrote:",
    ];
    for line in wrapped {
        let body = format!("Answer text.\n\n{line}\n> quoted question\n");
        let r = extract_reply(&body);
        assert_eq!(r.text, "Answer text.", "{line}");
        assert!(
            r.quoted
                .unwrap()
                .starts_with(line.split('\n').next().unwrap())
        );
    }
}

#[test]
fn an_html_reply_with_a_foreign_attribution_and_no_quote_marks_is_cut() {
    // HTML mail turned into text loses the `>`: a strong attribution
    // (with an address) still cuts.
    let body = "Danke, jetzt geht es.\n\nAm Mo., 1. Juni 2026 um 10:02 Uhr schrieb Acme Support <support@example.com>:\nBitte starten Sie den Router neu.\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Danke, jetzt geht es.");
    let body = "Tack!\n\nDen mån 1 juni 2026 kl 10:02 skrev Acme Support <support@example.com>:\nStarta om routern.\n";
    assert_eq!(extract_reply(body).text, "Tack!");
}

#[test]
fn a_sentence_ending_in_a_colon_is_not_an_attribution() {
    // Weak forms ("… wrote:") only count in front of a `>` block.
    let body = "Your colleague wrote:\nplease restart the router. I did, and it still fails.\n";
    assert_eq!(
        extract_reply(body).text,
        "Your colleague wrote:\nplease restart the router. I did, and it still fails."
    );
    let body = "Thanks for the help.\nAnn wrote:\n> quoted\n";
    assert_eq!(extract_reply(body).text, "Thanks for the help.");
}

#[test]
fn outlook_separators_and_header_blocks_in_other_languages() {
    let body = "Bitte stornieren.\n\n-----Ursprüngliche Nachricht-----\nVon: Acme Support <support@example.com>\nGesendet: Montag, 1. Juni 2026 10:02\n\nIhre Bestellung.\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Bitte stornieren.");
    assert_eq!(r.style, Some(QuoteStyle::OriginalMessage));
    let body = "Merci.\n\nDe : Acme Support <support@example.com>\nEnvoyé : lundi 1 juin 2026 10:02\nÀ : Claire\nObjet : Commande\n\nVotre commande.\n";
    let r = extract_reply(body);
    assert_eq!(r.text, "Merci.");
    assert_eq!(r.style, Some(QuoteStyle::HeaderBlock));
}

// ---- signatures and footers -----------------------------------------------

#[test]
fn one_line_signatures_are_cut() {
    for (body, sig) in [
        ("Thanks, the refund arrived.\n-Ann", "-Ann"),
        (
            "Thanks, the refund arrived.\n\n\u{2014} Ann Lee\n",
            "\u{2014} Ann Lee",
        ),
        ("Thanks, the refund arrived.\n--Bob", "--Bob"),
        (
            "Thanks, the refund arrived.\n\u{2013} A. Lee",
            "\u{2013} A. Lee",
        ),
    ] {
        let r = extract_reply(body);
        assert_eq!(r.text, "Thanks, the refund arrived.", "{body:?}");
        assert_eq!(r.signature.as_deref(), Some(sig), "{body:?}");
    }
    // Dash lists and dashes in sentences are not signatures.
    for body in [
        "I need:\n- Milk",
        "Missing items:\n- Apples\n- Pears",
        "Order 1234\n- shipped late",
        "It broke\n- 3 times",
    ] {
        assert_eq!(extract_reply(body).text, body, "{body:?}");
    }
}

#[test]
fn a_mailing_list_footer_below_a_rule_is_cut() {
    let footer = "_______________________________________________\nusers mailing list\nusers@lists.example.org\nhttps://lists.example.org/mailman/listinfo/users\n";
    let top = format!("The 2.1 release fixed it for me.\n\n{footer}");
    let r = extract_reply(&top);
    assert_eq!(r.text, "The 2.1 release fixed it for me.");
    assert!(r.signature.unwrap().contains("users mailing list"));
    // Bottom-posted on the list, with a sig separator as well.
    let below = format!(
        "On Mon, 1 Jun 2026 at 10:02, Acme <support@example.com> wrote:\n> Try 2.1.\n\nIt works.\n\n-- \nAnn\n\n{footer}"
    );
    let r = extract_reply(&below);
    assert_eq!(r.text, "It works.");
    // An underscore rule the customer uses inside the text is not a footer.
    let own = "Steps:\n__________\nopen the app\nit crashes\n";
    assert_eq!(extract_reply(own).text, own.trim());
}

#[test]
fn sent_from_my_inside_a_sentence_is_text() {
    let wrapped =
        "I tried the link you\nsent from my account page, but it fails.\n\nThanks,\nAnn\n";
    assert_eq!(extract_reply(wrapped).text, wrapped.trim());
    let starts = "Sent from my office PC the form fails.\nPlease help.\n";
    assert_eq!(extract_reply(starts).text, starts.trim());
    // A standalone footer at the end still is one, including device names.
    let footer = "It works now.\n\nSent from my Galaxy\n";
    let r = extract_reply(footer);
    assert_eq!(r.text, "It works now.");
    assert_eq!(r.signature.as_deref(), Some("Sent from my Galaxy"));
}
