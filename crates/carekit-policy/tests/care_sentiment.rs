//! The care analyser's rules, one test each, and properties over arbitrary
//! Unicode: the score is bounded, deterministic, and never panics.

use carekit_core::Classifier;
use carekit_policy::sentiment::{Cue, LanguageVerdict, UNSUPPORTED_LANGUAGE_LABEL};
use carekit_policy::{CareSentiment, LexiconSentiment};
use proptest::prelude::*;

fn score(text: &str) -> f32 {
    CareSentiment::default()
        .score(text)
        .unwrap_or_else(|| panic!("no score for {text:?}"))
}

fn cues(text: &str) -> Vec<Cue> {
    CareSentiment::default().analyse(text).cues
}

const ANGRY: f32 = CareSentiment::STRONG_ANGER;

#[test]
fn ordinary_words_of_care_are_not_negative() {
    for text in [
        "I'd like a refund for the order please",
        "I was charged for the upgrade",
        "can I put money down on the new phone",
        "zero down on the plan?",
        "please cancel the second booking",
        "it says twice on the receipt",
    ] {
        assert_eq!(score(text), 0.0, "{text}");
    }
}

#[test]
fn emoji_and_emoticons_carry_sentiment() {
    assert!(score("my parcel 😡") <= ANGRY);
    assert!(score("my parcel 🤬🤬") < score("my parcel 😡"));
    assert!(score("thanks team 😍") > 0.5);
    assert!(score("that took a while :(") < 0.0);
    assert!(score("sorted, cheers :)") > 0.3);
    // Skin tones and variation selectors do not hide an emoji.
    assert!(score("again 🤦🏽‍♀️") < 0.0);
    assert!(score("love it ❤️") > score("love it"));
    assert!(cues("parcel late 😒").contains(&Cue::Emoji));
    // A time is not a face.
    assert_eq!(score("flight at 10:30 tomorrow"), 0.0);
}

#[test]
fn capitals_strengthen_a_word_and_shouting_is_anger() {
    assert!(score("this is WORST") < score("this is worst"));
    assert!(cues("this is WORST").contains(&Cue::Capitals));
    let shouted = score("REPLY TO MY MESSAGES ALREADY");
    assert!(shouted < -0.3, "{shouted}");
    assert_eq!(score("reply to my messages already"), 0.0);
    // One acronym is not shouting.
    assert_eq!(score("is PSN working for everyone in the UK"), 0.0);
}

#[test]
fn profanity_is_anger_and_intensifies() {
    assert!(score("sort it fucking out") <= ANGRY);
    assert!(score("what the fuck is this") <= ANGRY);
    assert!(score("f*ck this app") <= ANGRY, "masked profanity");
    assert!(score("this is bullshit") <= ANGRY);
    assert!(cues("this is bullshit").contains(&Cue::Profanity));
    // Profane intensifier before praise strengthens the praise.
    assert!(score("fucking awesome service") > score("awesome service"));
    assert!(score("bloody useless") < score("useless"));
}

#[test]
fn negation_turns_the_words_of_its_clause_only() {
    assert!(score("not happy") < 0.0);
    assert!(score("the staff were not helpful") < 0.0);
    assert!(score("not bad at all") > 0.0);
    assert!(cues("not happy").contains(&Cue::Negation));
    // A negation does not cross a clause boundary: "no" belongs to its
    // own clause, and "great" after the comma stays praise.
    assert!(score("no, great job") > 0.3);
    assert!(score("I didn't expect it. Great service!") > 0.3);
    assert!(score("I didn't expect it great service") < 0.0);
}

#[test]
fn curly_apostrophes_read_as_straight_ones() {
    for (curly, straight) in [
        ("it doesn’t work", "it doesn't work"),
        ("I’m done with this", "I'm done with this"),
        ("don’t care", "don't care"),
        ("it isn’t good", "it isn't good"),
    ] {
        assert_eq!(score(curly), score(straight), "{curly}");
        assert!(score(curly) < 0.0, "{curly}");
    }
}

#[test]
fn questions_are_weighed_apart_from_statements() {
    let asked = score("are the servers down?");
    let told = score("the servers are down and broken");
    assert!(asked > told, "{asked} {told}");
    assert!(asked > -0.3, "{asked}");
    assert!(score("is the app broken?") > score("the app is broken"));
    assert!(cues("is the app broken?").contains(&Cue::Question));
    // "Why" is not asking: no damping.
    assert!(score("why is the app broken") <= score("is the app broken?"));
    // Rhetorical phrases are not damped.
    assert!(score("do you even care?") < -0.3);
    // `?!` and `???` are exasperation.
    assert!(score("hello??? anyone???") < -0.2);
    assert!(score("where is my parcel?!") < score("where is my parcel"));
}

#[test]
fn sarcasm_beside_a_wait_or_an_eye_roll_is_read_as_anger() {
    let text = "I love waiting 3 hours on hold, great service";
    assert!(score(text) <= ANGRY, "{}", score(text));
    assert!(cues(text).contains(&Cue::Sarcasm));
    assert!(
        LexiconSentiment::score(text) > 0.5,
        "the old lexicon heard praise"
    );
    assert!(score("great, another update 🙄") < 0.0);
    assert!(score("thrilled I stayed home all day for nothing *sigh*") < 0.0);
    // Praise without such a cue stays praise; sarcasm can be turned off.
    assert!(score("great service, thank you") > 0.5);
    let literal = CareSentiment::builder().sarcasm(false).build();
    assert!(literal.score(text).unwrap() > score(text));
}

#[test]
fn care_cues_waiting_repetition_no_answer_leaving_exasperation() {
    assert!(cues("been waiting for 3 days for a reply").contains(&Cue::Waiting));
    assert!(cues("it's been 2 weeks").contains(&Cue::Waiting));
    assert!(!cues("my flight is in 2 hours").contains(&Cue::Waiting));
    assert!(cues("still not fixed").contains(&Cue::Repetition));
    assert!(score("the app crashed again") < score("the app crashed"));
    assert!(cues("nobody answers the phone").contains(&Cue::NoAnswer));
    assert!(cues("no one will help me").contains(&Cue::NoAnswer));
    assert!(cues("switching to another provider").contains(&Cue::ThreatToLeave));
    assert!(score("I'm done. Ugh.") <= ANGRY);
    assert!(cues("I’m done").contains(&Cue::Exasperation));
    assert!(score("unhappy, annoyed and frustrated, the delivery is slow") <= ANGRY);
}

#[test]
fn a_repeated_emoji_is_one_face_said_louder() {
    let one = score("late 😭");
    let two = score("late 😭😭");
    let three = score("late 😭😭😭");
    assert!(two < one && three < two, "{one} {two} {three}");
    // Each repeat counts a quarter: three sobs are far from three times one.
    let sob = score("😭");
    assert!(score("😭😭😭") > sob * 2.0, "{}", score("😭😭😭"));
    // More than three in a row add nothing.
    assert_eq!(score("late 😭😭😭"), score("late 😭😭😭😭😭😭"));
}

#[test]
fn sadness_is_upset_not_angry() {
    let sad = "so sad and disappointed, my order never came 😢😔";
    let s = score(sad);
    assert!(s < 0.0 && s > ANGRY, "{s}");
    // However many sad faces and words, together they weigh as one clear
    // complaint; anger words still count in full.
    assert_eq!(score("😢😔😞"), score("😢😔😞😩💔"));
    assert!(score("furious, my order never came") <= ANGRY);
    assert!(score("sad 😢 and furious 😡") <= ANGRY);
}

#[test]
fn profanity_is_never_turned_by_a_negation() {
    let turned = score("still waiting on an update that isn't complete shit");
    let plain = score("still waiting on an update that is complete shit");
    assert_eq!(turned, plain);
    assert!(turned <= ANGRY, "{turned}");
    assert!(!cues("that isn't complete shit").contains(&Cue::Negation));
    assert!(cues("that isn't complete shit").contains(&Cue::Profanity));
}

#[test]
fn a_negated_complaint_is_no_praise() {
    // "No error" is the absence of a complaint: about neutral, not praise.
    let none = score("there was no error on my side");
    assert!((0.0..0.2).contains(&none), "{none}");
    assert!(none > score("there was an error on my side"));
    assert!(cues("there was no error on my side").contains(&Cue::Negation));
    // Negated praise is still a complaint.
    assert!(score("not happy with the service") < 0.0);
}

#[test]
fn asking_again_and_again_is_repetition() {
    let text = "I have called you 4 times about this";
    assert!(cues(text).contains(&Cue::Repetition));
    assert!(score(text) < score("I have called you about this"));
    assert!(cues("I have DM'd you multiple times").contains(&Cue::Repetition));
    assert!(score("the app crashed 3 times today") < score("the app crashed today"));
    assert!(cues("it fails every time I log in, so annoying").contains(&Cue::Repetition));
    // A count that is no complaint and no asking is just a count.
    assert!(!cues("I have flown with you 15 times this year").contains(&Cue::Repetition));
    assert!(score("I have flown with you 15 times this year") >= 0.0);
}

#[test]
fn a_plain_word_in_capitals_raises_a_complaint() {
    let raised = score("that is INCORRECT information, it is wrong");
    assert!(raised < score("that is incorrect information, it is wrong"));
    assert!(cues("that is INCORRECT information, it is wrong").contains(&Cue::Capitals));
    // Acronyms are not a raised voice, and capitals alone are no complaint.
    assert_eq!(
        score("the USPS tracking is wrong"),
        score("the usps tracking is wrong")
    );
    assert_eq!(score("order from AMAZON arrived"), 0.0);
}

#[test]
fn sarcastic_openers_beside_a_complaint_are_anger() {
    let text = "gotta love waiting all day for a technician";
    assert!(score(text) <= ANGRY, "{}", score(text));
    assert!(cues(text).contains(&Cue::Sarcasm));
    assert!(score("nothing like sitting on the tarmac for 2 hours") <= ANGRY);
    // Without a complaint they are praise.
    assert!(score("gotta love this new feature") > 0.0);
    assert!(!cues("gotta love this new feature").contains(&Cue::Sarcasm));
    // Sarcasm can be turned off.
    let literal = CareSentiment::builder().sarcasm(false).build();
    assert!(literal.score(text).unwrap() > score(text));
}

#[test]
fn rhetorical_questions_and_exasperated_asking_are_not_damped() {
    let rhetorical = score("will you ever fix this broken app?");
    let asked = score("will you fix this broken app?");
    assert!(rhetorical < asked, "{rhetorical} {asked}");
    assert!(!cues("will you ever fix this broken app?").contains(&Cue::Question));
    // `?!` and `???` alone say as much as a clear complaint.
    assert!(score("where is my refund?!") < -0.4);
    assert!(score("where is my refund???") < -0.4);
    assert!(score("where is my refund?") == 0.0);
}

#[test]
fn a_decimal_wait_is_one_number() {
    assert!(cues("waiting at the gate for 3.5 hours").contains(&Cue::Waiting));
    // The point does not end a clause: the negation still reaches.
    assert!(score("version 2.5 is not good") < 0.0);
}

#[test]
fn threats_to_leave_and_distrust_are_anger() {
    for text in [
        "you can't be trusted",
        "what the heck",
        "never coming back to this store",
        "I'll be reporting you to the better business bureau",
    ] {
        assert!(score(text) <= ANGRY, "{text}: {}", score(text));
    }
    assert!(cues("never coming back to this store").contains(&Cue::ThreatToLeave));
}

#[test]
fn an_ordinary_complaint_stays_below_the_escalation_threshold() {
    for text in [
        "my parcel is late",
        "the app is slow today",
        "I have an issue with my bill",
        "my order arrived damaged, can you help?",
    ] {
        let s = score(text);
        assert!(s < 0.0 && s > ANGRY, "{text}: {s}");
    }
    for text in [
        "worst service ever, absolutely ridiculous",
        "this is unacceptable, third time my order is missing",
        "you are useless, I'm switching to another bank",
    ] {
        assert!(score(text) <= ANGRY, "{text}: {}", score(text));
    }
}

#[tokio::test]
async fn unsupported_languages_get_no_score_and_a_label() {
    let care = CareSentiment::default();
    for text in [
        "el paquete no llegó y nadie responde, qué vergüenza",
        "Meine Bestellung war unzustellbar, was ist da passiert? Bekomme ich mein Geld wieder?",
        "amazonプライムビデオ、再生エラーが多いです",
        "mon téléphone redémarre tout seul depuis la mise à jour, une explication ?",
    ] {
        let c = care.classify(text).await;
        assert_eq!(c.sentiment, None, "{text}");
        assert!(
            c.labels.iter().any(|l| l == UNSUPPORTED_LANGUAGE_LABEL),
            "{text}"
        );
        assert!(
            c.language.as_deref().is_some_and(|l| l != "en"),
            "{text}: {:?}",
            c.language
        );
        assert!(matches!(
            care.analyse(text).language,
            LanguageVerdict::Unsupported(_)
        ));
    }
    let english = care.classify("my parcel never arrived, again").await;
    assert_eq!(english.language.as_deref(), Some("en"));
    assert!(english.sentiment.is_some());
    assert!(english.labels.is_empty());
    // Emoji only: no language, still scored.
    let emoji = care.classify("@brand 😡😡").await;
    assert_eq!(emoji.language, None);
    assert!(emoji.sentiment.is_some_and(|s| s <= ANGRY));
    // Detection off: everything is read as English.
    let off = CareSentiment::builder().detect_language(false).build();
    assert!(off.score("el paquete no llegó").is_some());
}

#[test]
fn builder_knobs_are_clamped() {
    let s = CareSentiment::builder()
        .question_weight(f32::NAN)
        .shouting_weight(9.0)
        .alpha(-1.0)
        .build();
    for text in ["is it down?", "WHY IS IT ALWAYS BROKEN", "love it"] {
        let v = s.score(text).unwrap();
        assert!((-1.0..=1.0).contains(&v), "{text}: {v}");
    }
    let no_damping = CareSentiment::builder().question_weight(1.0).build();
    assert!(no_damping.score("is it broken?").unwrap() < score("is it broken?"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn score_is_bounded_and_deterministic(text in "\\PC{0,200}") {
        let care = CareSentiment::default();
        let a = care.analyse(&text);
        let b = care.analyse(&text);
        prop_assert_eq!(&a, &b);
        if let Some(s) = a.score {
            prop_assert!(s.is_finite() && (-1.0..=1.0).contains(&s), "{}", s);
        }
        prop_assert!(a.raw.is_finite());
    }

    #[test]
    fn care_like_text_is_bounded(words in proptest::collection::vec(
        prop_oneof![
            Just("not"), Just("never"), Just("worst"), Just("love"), Just("!!!"), Just("???"),
            Just("😡"), Just("🙄"), Just(":("), Just("FUCKING"), Just("f*ck"), Just("still"),
            Just("again"), Just("3"), Just("hours"), Just("on"), Just("hold"), Just("but"),
            Just("nobody"), Just("answers"), Just("is"), Just("it"), Just("down"), Just("?"),
            Just("don’t"), Just("#brandsucks"), Just("sooooo"), Just("great"), Just(","),
            Just("@brand"), Just("https://t.co/x"), Just("&amp;"), Just("\u{FE0F}"),
            Just("times"), Just("called"), Just("every"), Just("time"), Just("3.5"),
            Just("😭😭😭"), Just("😢"), Just("sad"), Just("gotta"), Just("INCORRECT"),
            Just("shit"), Just("isn't"), Just("ever"), Just("?!"), Just("nothing"), Just("like"),
        ],
        0..60,
    )) {
        let text = words.join(" ");
        let care = CareSentiment::default();
        let s = care.analyse(&text).score;
        prop_assert_eq!(s, care.analyse(&text).score);
        if let Some(s) = s {
            prop_assert!((-1.0..=1.0).contains(&s), "{}: {}", text, s);
        }
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let care = CareSentiment::default();
        let _ = care.analyse(&text);
        let _ = carekit_policy::language::detect_language(&text);
    }
}
