//! Hostile CSV for the TWCS reader: arbitrary bytes, ragged and quoted
//! rows, bad ids, flags and dates, reply cycles and self-replies. Reading
//! never panics; every record is either a tweet or a row error; threads
//! are a partition that keeps every tweet with the parent it names.

use carekit_policy::twcs::{read, threads};
use proptest::prelude::*;
use std::collections::HashSet;

const HEADER: &str =
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n";

/// 256 cases in CI; `HOSTILE_CASES=20000` for a longer local run.
fn cases() -> u32 {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}",
        "[ -~]{0,12}",
        Just("\"quoted, with \"\" and\nnewline\"".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("\u{feff}1".to_owned()),
        "\\PC{0,8}",
    ]
}

fn row() -> impl Strategy<Value = String> {
    prop_oneof![
        // Well formed, ids from a small pool so replies (and cycles) connect.
        4 => (
            1u8..20,
            prop_oneof![Just("sprintcare"), Just("115712")],
            prop_oneof![Just("True"), Just("False"), Just("maybe")],
            prop_oneof![
                Just("Tue Oct 31 22:10:47 +0000 2017"),
                Just("Tue Oct 31 22:10:47 +9999 2017"),
                Just("Sun Feb 30 99:99:99 +0000 2017"),
                Just("")
            ],
            "[ -~]{0,20}",
            proptest::option::of(1u8..20),
        )
            .prop_map(|(id, author, inbound, date, text, parent)| {
                let parent = parent.map(|p| format!("{p}.0")).unwrap_or_default();
                format!("{id},{author},{inbound},{date},\"{}\",,{parent}", text.replace('"', "\"\""))
            }),
        // Ragged rows of arbitrary fields.
        1 => proptest::collection::vec(field(), 0..10).prop_map(|f| f.join(",")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024), header in any::<bool>()) {
        let input = if header { [HEADER.as_bytes(), &bytes].concat() } else { bytes };
        let (tweets, errors) = read(input.as_slice());
        let map = threads(&tweets);
        prop_assert!(map.len() <= tweets.len());
        for e in &errors {
            prop_assert!(e.record >= 1);
        }
    }

    #[test]
    fn rows_become_tweets_or_errors_and_threads_partition(rows in proptest::collection::vec(row(), 0..30)) {
        let input = format!("{HEADER}{}\n", rows.join("\n"));
        let (tweets, errors) = read(input.as_bytes());
        // Each record is one or the other, never both, and errors are in order.
        let records: Vec<usize> = errors.iter().map(|e| e.record).collect();
        prop_assert!(records.windows(2).all(|w| w[0] < w[1]), "{records:?}");
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input.as_bytes());
        let total = reader.records().count();
        prop_assert_eq!(tweets.len() + errors.len(), total);
        for t in &tweets {
            prop_assert!(!t.id.is_empty() && t.id.bytes().all(|b| b.is_ascii_digit()), "{:?}", t.id);
            if let Some(p) = &t.in_reply_to {
                prop_assert!(!p.is_empty() && !p.ends_with(".0"));
            }
        }
        let map = threads(&tweets);
        let ids: HashSet<&str> = tweets.iter().map(|t| t.id.as_str()).collect();
        prop_assert_eq!(map.len(), ids.len());
        for t in &tweets {
            let rep = &map[&t.id];
            prop_assert!(ids.contains(rep.as_str()), "representative {rep} is not a tweet");
            // Representatives are fixed points.
            prop_assert_eq!(&map[rep], rep);
            if let Some(p) = t.in_reply_to.as_deref().filter(|p| ids.contains(p)) {
                prop_assert_eq!(&map[p], rep, "{} and its parent {} split", t.id, p);
            }
        }
    }
}
