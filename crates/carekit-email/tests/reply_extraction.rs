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
