//! `parse_rating` against a table of real-looking answers, ratings and not.

use carekit_insight::{Rating, RatingError, parse_rating};

#[test]
fn ratings_are_read_from_the_ways_customers_answer() {
    let table: &[(&str, u8)] = &[
        ("5", 5),
        (" 1 ", 1),
        ("5!", 5),
        ("5/5", 5),
        ("3 / 5", 3),
        ("4 stars", 4),
        ("1 star", 1),
        ("4 out of 5", 4),
        ("I'd give you a 5", 5),
        ("five", 5),
        ("Five stars!", 5),
        ("two", 2),
        ("great", 4),
        ("Great, thanks!", 4),
        ("EXCELLENT", 5),
        ("excellent service, thank you", 5),
        ("ok", 3),
        ("bad", 2),
        ("terrible", 1),
        ("Terrible.", 1),
        ("not good", 2),
        ("not bad", 3),
        ("⭐⭐⭐⭐", 4),
        ("★★", 2),
        ("👍", 4),
        ("😡", 1),
        ("5 - excellent", 5),
        ("5 stars, great", 5),
    ];
    for (text, want) in table {
        assert_eq!(
            parse_rating(text).map(Rating::value),
            Ok(*want),
            "answer {text:?}"
        );
    }
}

#[test]
fn non_ratings_are_refused_with_a_typed_reason() {
    assert_eq!(parse_rating(""), Err(RatingError::Empty));
    assert_eq!(parse_rating("   \n"), Err(RatingError::Empty));
    assert_eq!(parse_rating("thanks"), Err(RatingError::NotARating));
    assert_eq!(
        parse_rating("who is this?"),
        Err(RatingError::NewMessage {
            reason: "a question"
        })
    );
    assert!(matches!(
        parse_rating("great but my parcel is still missing"),
        Err(RatingError::NewMessage { .. })
    ));
    assert!(matches!(
        parse_rating("is 5 the best?"),
        Err(RatingError::NewMessage { .. })
    ));
    assert_eq!(parse_rating("7"), Err(RatingError::OutOfRange { value: 7 }));
    assert_eq!(parse_rating("0"), Err(RatingError::OutOfRange { value: 0 }));
    assert_eq!(
        parse_rating("6/5"),
        Err(RatingError::OutOfRange { value: 6 })
    );
    assert_eq!(
        parse_rating("8/10"),
        Err(RatingError::OutOfRange { value: 8 })
    );
    assert_eq!(
        parse_rating("⭐⭐⭐⭐⭐⭐"),
        Err(RatingError::OutOfRange { value: 6 })
    );
    assert_eq!(
        parse_rating("order 123456 never arrived"),
        Err(RatingError::OutOfRange { value: 123_456 })
    );
    assert_eq!(
        parse_rating("5 or 1"),
        Err(RatingError::Ambiguous {
            candidates: vec![5, 1]
        })
    );
    assert_eq!(
        parse_rating("terrible 5"),
        Err(RatingError::Ambiguous {
            candidates: vec![1, 5]
        })
    );
    assert!(matches!(
        parse_rating("the app crashes every time I open the billing page now"),
        Err(RatingError::TooLong { words: 11, max: 8 })
    ));
}

#[test]
fn rating_values_outside_one_to_five_cannot_be_built() {
    assert!(Rating::new(0).is_err());
    assert!(Rating::new(6).is_err());
    assert_eq!(Rating::new(3).map(|r| r.to_string()), Ok("3/5".to_owned()));
    assert!(serde_json::from_str::<Rating>("9").is_err());
    assert_eq!(
        serde_json::from_str::<Rating>("2").map(Rating::value).ok(),
        Some(2)
    );
}
